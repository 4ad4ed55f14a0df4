"""The Framework's custom resources in synthesis: what a user deploying an existing-bucket
event or API logs finds in the template (the oracle tests check the exact shapes)."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.errors import ShipwayError
from shipway.model import Event, Function, ServiceDefinition
from shipway.synth import synthesize
from shipway.synth.custom_resources import RUNTIME


def _definition(doc: dict[str, Any]) -> ServiceDefinition:
    functions = tuple(
        Function(
            name,
            "app.handler",
            "python3.12",
            6,
            1024,
            {},
            tuple(Event(next(iter(e)), next(iter(e.values()))) for e in spec.get("events", [])),
        )
        for name, spec in (doc.get("functions") or {}).items()
    )
    return ServiceDefinition("svc", "dev", "us-east-1", "python3.12", functions, resolved=doc)


def _doc(provider: dict[str, Any], functions: dict[str, Any]) -> dict[str, Any]:
    return {
        "service": "svc",
        "provider": {"name": "aws", "runtime": "python3.12", **provider},
        "functions": functions,
    }


EXISTING = {"s3": {"bucket": "uploads", "existing": True, "rules": [{"prefix": "in/"}]}}


def test_an_existing_bucket_is_subscribed_by_a_custom_resource_on_a_current_runtime() -> None:
    template = synthesize(
        _definition(_doc({}, {"thumbs": {"handler": "app.handler", "events": [EXISTING]}})),
        custom_resources_key="serverless/svc/dev/code-artifacts/abc.zip",
    )
    res = template["Resources"]
    custom = res["ThumbsCustomS31"]
    assert custom["Type"] == "Custom::S3"
    assert custom["Properties"]["BucketName"] == "uploads"
    assert custom["Properties"]["FunctionName"] == "svc-dev-thumbs"
    assert custom["Properties"]["BucketConfigs"] == [
        {"Event": "s3:ObjectCreated:*", "Rules": [{"Prefix": "in/"}]}
    ]
    handler = res["CustomDashresourceDashexistingDashs3LambdaFunction"]["Properties"]
    assert handler["Runtime"] == RUNTIME == "nodejs24.x"  # nodejs18.x can no longer be created
    assert handler["Code"] == {
        "S3Bucket": {"Ref": "ServerlessDeploymentBucket"},
        "S3Key": "serverless/svc/dev/code-artifacts/abc.zip",
    }
    assert "IamRoleCustomResourcesLambdaExecution" in res
    assert not [k for k in res if k.startswith("S3Bucket")]  # the stack makes no bucket


def test_a_deployment_role_replaces_the_custom_resources_role() -> None:
    provider = {"iam": {"deploymentRole": "arn:aws:iam::123456789012:role/deployer"}}
    template = synthesize(
        _definition(_doc(provider, {"thumbs": {"handler": "app.handler", "events": [EXISTING]}}))
    )
    res = template["Resources"]
    handler = res["CustomDashresourceDashexistingDashs3LambdaFunction"]
    assert handler["Properties"]["Role"] == "arn:aws:iam::123456789012:role/deployer"
    assert "IamRoleCustomResourcesLambdaExecution" not in res


def test_force_deploy_writes_the_deploy_time() -> None:
    event = {"s3": {**EXISTING["s3"], "forceDeploy": True}}
    doc = _doc({}, {"thumbs": {"handler": "app.handler", "events": [event]}})
    first = synthesize(_definition(doc), deploy_time_ms=1)
    second = synthesize(_definition(doc), deploy_time_ms=2)
    assert first["Resources"]["ThumbsCustomS31"]["Properties"]["ForceDeploy"] == 1
    assert second["Resources"]["ThumbsCustomS31"]["Properties"]["ForceDeploy"] == 2


def test_two_existing_buckets_on_one_function_are_an_error_naming_the_event() -> None:
    other = {"s3": {"bucket": "other", "existing": True}}
    doc = _doc({}, {"thumbs": {"handler": "app.handler", "events": [EXISTING, other]}})
    with pytest.raises(ShipwayError) as caught:
        synthesize(_definition(doc))
    assert caught.value.where is not None
    assert caught.value.where.key == "functions.thumbs.events[1].s3.bucket"
    assert "one existing S3 bucket" in caught.value.message


@pytest.mark.parametrize(
    ("logs", "event", "role"),
    [
        ({"restApi": True}, {"http": "GET /x"}, True),
        ({"restApi": {"roleManagedExternally": True}}, {"http": "GET /x"}, False),
        ({"restApi": {"accessLogging": False}}, {"http": "GET /x"}, False),
        ({"websocket": True}, {"websocket": "$connect"}, True),
        ({"websocket": {"accessLogging": False}}, {"websocket": "$connect"}, True),
        (
            {"websocket": True, "restApi": {"roleManagedExternally": True}},
            {"websocket": "$connect"},
            False,
        ),
    ],
)
def test_api_logs_ensure_the_accounts_cloudwatch_role_unless_managed_elsewhere(
    logs: dict[str, Any], event: dict[str, Any], role: bool
) -> None:
    doc = _doc({"logs": logs}, {"api": {"handler": "app.handler", "events": [event]}})
    res = synthesize(_definition(doc))["Resources"]
    assert ("CustomApiGatewayAccountCloudWatchRole" in res) is role
    assert ("CustomDashresourceDashapigwDashcwDashroleLambdaFunction" in res) is role


def test_websocket_logs_configure_the_stage() -> None:
    logs = {"websocket": {"level": "ERROR", "format": "$context.requestId"}}
    doc = _doc(
        {"logs": logs}, {"api": {"handler": "app.handler", "events": [{"websocket": "$connect"}]}}
    )
    res = synthesize(_definition(doc))["Resources"]
    stage = res["WebsocketsDeploymentStage"]["Properties"]
    assert stage["DefaultRouteSettings"] == {"DataTraceEnabled": True, "LoggingLevel": "ERROR"}
    assert stage["AccessLogSettings"]["Format"] == "$context.requestId"
    assert res["WebsocketsLogGroup"]["Properties"]["LogGroupName"] == "/aws/websocket/svc-dev"


def test_a_websocket_log_level_other_than_info_or_error_is_an_error() -> None:
    logs = {"websocket": {"level": "DEBUG"}}
    doc = _doc(
        {"logs": logs}, {"api": {"handler": "app.handler", "events": [{"websocket": "$connect"}]}}
    )
    with pytest.raises(ShipwayError) as caught:
        synthesize(_definition(doc))
    assert caught.value.where is not None
    assert caught.value.where.key == "provider.logs.websocket.level"
