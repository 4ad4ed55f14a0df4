"""What the deploy stage hands an aws target: the REST API deployment named by the
template's content, and `${cf:}` of a stack the run deploys resolved through `prepare`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import shipway.pipeline.plan as plan_module
from shipway.model import DeployInput
from shipway.pipeline.deploy import CfPreparer, content_deployment_id, deploy_request
from shipway.pipeline.plan import pending_value, plan_run
from tests.conftest import write_files

SLS = (
    "service: {name}\nprovider:\n  name: aws\n  runtime: python3.12\n"
    "  environment:\n    {env}\n"
    "functions:\n  f:\n    handler: h.f\n    events:\n      - http: GET {path}\n"
)


def template(path: str) -> dict[str, Any]:
    resources = {
        "ApiGatewayRestApi": {"Type": "AWS::ApiGateway::RestApi"},
        "ApiGatewayMethodGet": {"Type": "AWS::ApiGateway::Method", "Properties": {"P": path}},
        "ApiGatewayDeployment0": {
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": ["ApiGatewayMethodGet"],
        },
        "ApiGatewayStage": {"Properties": {"DeploymentId": {"Ref": "ApiGatewayDeployment0"}}},
    }
    return {"Resources": resources}


def test_the_api_deployment_is_named_by_the_template_content() -> None:
    a, b = content_deployment_id(template("/a")), content_deployment_id(template("/b"))
    ids = [k for k in a["Resources"] if k.startswith("ApiGatewayDeployment")]
    assert len(ids) == 1 and ids[0] != "ApiGatewayDeployment0" and len(ids[0]) == 33
    assert a == content_deployment_id(template("/a"))  # the same template: the same id
    assert ids[0] not in b["Resources"]  # another API: a new deployment
    assert a["Resources"]["ApiGatewayStage"]["Properties"]["DeploymentId"] == {"Ref": ids[0]}
    # the order kept: CloudFormation on moto creates resources in it
    assert list(a["Resources"]) == [
        "ApiGatewayRestApi",
        "ApiGatewayMethodGet",
        ids[0],
        "ApiGatewayStage",
    ]


def test_a_cf_output_of_a_stack_the_run_deploys_is_resolved_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(
        tmp_path,
        {
            "shipway.yml": "project: x\nenvironments:\n  prod:\n    branch: main\n"
            "    stage: Prod\n    target: {aws: {region: us-east-1}}\n",
            "services/a/serverless.yml": SLS.format(name="a", env="A: '1'", path="a"),
            "services/b/serverless.yml": SLS.format(
                name="b", env="URL: ${cf:a-${sls:stage}.ServiceEndpoint}", path="b"
            ),
        },
    )

    real = plan_module.lazy_aws_sources

    def sources(*args: Any, **kw: Any) -> Any:
        out = real(*args, **kw)
        out["cf"] = lambda call: None  # what AWS answers: no stack `a-Prod` yet
        return out

    monkeypatch.setattr(plan_module, "lazy_aws_sources", sources)
    plan = plan_run(tmp_path, "prod", "0" * 40)
    assert plan.service("b").service.depends_on == ("a",)
    pending = pending_value("a-Prod", "ServiceEndpoint")
    assert plan.service("b").definition.functions[0].environment["URL"] == pending
    artifacts = {n: _artifact(tmp_path, n) for n in ("a", "b")}
    request = deploy_request(plan, artifacts)
    assert [s.stack for s in request.services] == ["a-Prod", "b-Prod"]
    prepare = CfPreparer(plan, tmp_path)
    a = prepare(request.service("a"), {})
    assert a is request.service("a")  # reads no stack of the run: handed on as it is
    b = prepare(request.service("b"), {"a-Prod": {"ServiceEndpoint": "https://a.example"}})
    assert b.definition.functions[0].environment["URL"] == "https://a.example"
    assert isinstance(b, DeployInput) and b.template is not None
    variables = b.template["Resources"]["FLambdaFunction"]["Properties"]["Environment"]
    assert variables["Variables"]["URL"] == "https://a.example"
    assert pending not in json.dumps(b.template)
    assert prepare.prepared["b"] is b


def _artifact(root: Path, name: str) -> Any:
    from shipway.model import Artifact

    path = root / f"{name}.zip"
    path.write_bytes(b"zip")
    return Artifact(name, path, "ab" * 32, 3)
