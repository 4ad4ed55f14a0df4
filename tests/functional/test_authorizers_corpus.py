"""The authorizers of the corpus monorepos, read as the Framework reads them.

Every `http` / `httpApi` event with an `authorizer` in a corpus service that loads must
resolve to a description (no error), with the kind its repository means; a service that
uses nothing else Shipway refuses synthesizes with it, lint clean. AWS lookups (`ssm`, `cf`)
answer stubs, a user pool's ARN for a `…CognitoUserPoolArn` parameter.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import pytest

from shipway.config.authorizer_view import route_authorizer
from shipway.config.serverless import load_service
from shipway.errors import ShipwayError
from shipway.synth import synthesize
from shipway.synth.lint import lint
from tests.conftest import CORPUS

MONOREPOS = CORPUS / "monorepos"
pytestmark = pytest.mark.skipif(not MONOREPOS.is_dir(), reason="corpus absent")

POOL_ARN = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_corpus"


def _stub(call: Any) -> str:
    if "CognitoUserPoolArn" in str(call.address):
        return POOL_ARN
    return f"stub-{call.type}-{call.address}"


STUBS = {name: _stub for name in ("ssm", "cf", "s3", "aws")}

#: service folder (under monorepos/) -> the authorizer kinds its routes use
EXPECTED = {
    "AnomalyInnovations__serverless-stack-demo-mono-api/services/notes": {"iam"},
    "AnomalyInnovations__serverless-stack-demo-mono-api/services/users": {"iam"},
    "Enterprise-CMCS__macpro-quickstart-serverless/services/app-api": {"iam"},
    "ledgerW__magicml/services/data_prep": {"iam"},
    "ledgerW__magicml/services/similarity": {"iam"},
    "R4h4__shortrLink/services/api": {"jwt"},
    "k0mmsussert0d__sf-microblog/services/api": {"external"},
    "wittygirl8__sls/services/users": {"cognito"},
    "wittygirl8__sls/services/payments": {"cognito"},
}


def _kinds(service_dir: Path) -> set[str] | None:
    display = f"{service_dir.relative_to(CORPUS)}/serverless.yml"
    try:
        definition = load_service(
            service_dir, display, stage="dev", env={}, params={}, sources=STUBS
        )
    except ShipwayError:
        return None  # the resolver's own tests report these
    kinds: set[str] = set()
    for function in definition.functions:
        for index, _event in enumerate(function.events):
            view = route_authorizer(definition, function.name, index, source=display)
            if view is not None:
                kinds.add(view.kind)
    return kinds


def test_every_corpus_authorizer_resolves_to_its_kind() -> None:
    seen: dict[str, set[str]] = {}
    for raw in sorted(glob.glob(str(MONOREPOS / "**/serverless.yml"), recursive=True)):
        service_dir = Path(raw).parent
        kinds = _kinds(service_dir)
        if kinds:
            seen[str(service_dir.relative_to(MONOREPOS))] = kinds
    print(f"\ncorpus services with authorizers that load: {len(seen)}")
    for name, kinds in seen.items():
        print("  ", name, sorted(kinds))
    for name, kinds in EXPECTED.items():
        assert seen.get(name) == kinds, name
    assert len(seen) >= len(EXPECTED)


def test_an_iam_protected_corpus_service_synthesizes_clean() -> None:
    service_dir = MONOREPOS / "AnomalyInnovations__serverless-stack-demo-mono-api/services/notes"
    definition = load_service(
        service_dir, "notes/serverless.yml", stage="dev", env={}, params={}, sources=STUBS
    )
    template = synthesize(definition, source="notes/serverless.yml")
    methods = {
        logical_id: resource["Properties"]["AuthorizationType"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::ApiGateway::Method"
        and resource["Properties"]["HttpMethod"] != "OPTIONS"
    }
    assert methods and set(methods.values()) == {"AWS_IAM"}
    assert lint(template, errors_only=True, ignore=("E2533",)) == []
