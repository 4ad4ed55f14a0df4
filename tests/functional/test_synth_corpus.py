"""Every AWS service of the corpus through `synthesize` and cfn-lint; a floor on the count.

Each one that does not synthesize must fail with a ShipwayError that names a key (an
unsupported feature), never a crash. Run with `-s` to see the per-service reasons.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import pytest

from shipway.config.serverless import load_service
from shipway.errors import ShipwayError
from shipway.synth import naming, synthesize
from shipway.synth.lint import lint
from tests.conftest import CORPUS


def _stub(call: Any) -> str:
    return f"stub-{call.type}-{call.address}"


STUBS = {name: _stub for name in ("ssm", "cf", "s3", "aws")}


@pytest.mark.skipif(not (CORPUS / "serverless-examples").is_dir(), reason="corpus absent")
def test_corpus_synthesizes_and_lints() -> None:
    paths = sorted(glob.glob(str(CORPUS / "serverless-examples/aws-*/serverless.yml")))
    paths += sorted(glob.glob(str(CORPUS / "monorepos/**/serverless.yml"), recursive=True))
    loaded = clean = 0
    failures: list[str] = []
    for raw in paths:
        path = Path(raw)
        display = str(path.relative_to(CORPUS))
        try:
            definition = load_service(
                path.parent, display, stage="dev", env={}, params={}, sources=STUBS
            )
        except ShipwayError:
            continue  # the resolver's own test reports these
        loaded += 1
        try:
            template = synthesize(definition, source=display)
        except ShipwayError as exc:
            assert exc.where is not None and exc.where.key, f"{display}: {exc}"
            failures.append(f"unsupported {exc}")
            continue
        # E2533 (deprecated runtime) depends on today's date and the user's runtime choice
        problems = lint(template, errors_only=True, ignore=("E2533",))
        if problems:
            failures.append(f"lint {display}: {problems[0]}")
        else:
            clean += 1
    print(f"\ncorpus: {len(paths)} serverless.yml, {loaded} load, {clean} synthesize + lint clean")
    for line in failures:
        print("  ", line)
    assert clean >= 18


@pytest.mark.skipif(not (CORPUS / "monorepos").is_dir(), reason="corpus absent")
def test_corpus_services_with_layers_are_not_refused_for_them() -> None:
    """Every monorepo service that defines or uses layers: layers are never the refusal
    (another setting may be, named by its key), and each one that synthesizes has the
    Framework's layer resources and outputs."""
    paths = sorted(glob.glob(str(CORPUS / "monorepos/**/serverless.yml"), recursive=True))
    with_layers = [Path(p) for p in paths if "layers:" in Path(p).read_text(errors="replace")]
    assert with_layers
    synthesized = []
    for path in with_layers:
        display = str(path.relative_to(CORPUS))
        try:
            definition = load_service(
                path.parent, display, stage="dev", env={}, params={}, sources=STUBS
            )
        except ShipwayError:
            continue
        try:
            template = synthesize(definition, source=display)
        except ShipwayError as exc:
            key = exc.where.key if exc.where else ""
            assert key and not key.startswith("layers"), f"{display}: {exc}"
            continue
        synthesized.append(display)
        layers = definition.resolved.get("layers")
        for name in layers if isinstance(layers, dict) else {}:
            logical = naming.lambda_layer_logical_id(name)
            assert template["Resources"][logical]["Type"] == "AWS::Lambda::LayerVersion"
            assert f"{logical}QualifiedArn" in template["Outputs"]
    print(f"\ncorpus: {len(with_layers)} services with layers, {len(synthesized)} synthesize")
    assert synthesized
