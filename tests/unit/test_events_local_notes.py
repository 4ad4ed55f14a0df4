"""Settings with no local meaning are warned about, never dropped without a word; what the
local runtime serves (`integration: lambda`: tests/integration/test_gateway_lambda_integration.py)
is not refused."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.errors import ShipwayError
from shipway.model import Event, Function, ServiceDefinition
from shipway.synth import synthesize
from shipway.targets.local.notes import local_notes
from shipway.targets.local.target import check_schedules


def _definition(doc: dict[str, Any], events: tuple[Event, ...] = ()) -> ServiceDefinition:
    fn = Function("api", "app.handler", "python3.12", 6, 1024, {}, events)
    return ServiceDefinition("svc", "dev", "us-east-1", "python3.12", (fn,), resolved=doc)


BASE: dict[str, Any] = {
    "service": "svc",
    "provider": {
        "name": "aws",
        "runtime": "python3.12",
        "logs": {"httpApi": True},
        "tracing": {"lambda": True},
    },
    "functions": {"api": {"handler": "app.handler", "events": [{"httpApi": "GET /x"}]}},
}


def test_logs_and_tracing_get_one_line_each() -> None:
    notes = local_notes(_definition(BASE))
    assert len(notes) == 2
    assert notes[0].startswith("`provider.logs.httpApi`") and "no local meaning" in notes[0]
    assert notes[1].startswith("`provider.tracing.lambda`")


def test_integration_lambda_is_served_locally_not_refused() -> None:
    event = Event("http", {"method": "get", "path": "x", "integration": "lambda"})
    check_schedules(_definition(BASE, (event,)), "serverless.yml")


def test_an_existing_bucket_says_the_local_runtime_gets_no_events_from_it() -> None:
    doc = {
        **BASE,
        "functions": {
            "api": {"handler": "app.handler", "events": [{"s3": {"bucket": "b", "existing": True}}]}
        },
    }
    notes = local_notes(_definition(doc))
    assert any(
        n.startswith("`functions.api.events[0].s3.existing`") and "bucket outside" in n
        for n in notes
    ), notes


def _rest_logs(config: object) -> dict[str, object]:
    return {
        **BASE,
        "provider": {**BASE["provider"], "logs": {"restApi": config}},
        "functions": {"api": {"handler": "app.handler", "events": [{"http": "GET /y"}]}},
    }


def test_rest_api_logs_with_an_external_role_get_their_log_group() -> None:
    template = synthesize(_definition(_rest_logs({"roleManagedExternally": True})))
    group = template["Resources"]["ApiGatewayLogGroup"]
    assert group["Properties"]["LogGroupName"] == "/aws/api-gateway/svc-dev"
    # access logs off: no role to ensure, no log group
    template = synthesize(_definition(_rest_logs({"accessLogging": False})))
    assert "ApiGatewayLogGroup" not in template["Resources"]


def test_a_rest_api_logs_key_the_framework_does_not_know_is_named() -> None:
    with pytest.raises(ShipwayError) as caught:
        synthesize(_definition(_rest_logs({"roleManagedExternally": True, "levl": "INFO"})))
    assert caught.value.where is not None and "levl" in str(caught.value.where.key)


def test_plugin_keys_without_the_plugin_are_an_error() -> None:
    doc = {
        **BASE,
        "functions": {
            "api": {
                "handler": "app.handler",
                "iamRoleStatements": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        },
    }
    with pytest.raises(ShipwayError, match="serverless-iam-roles-per-function"):
        synthesize(_definition(doc))
    with_plugin = {**doc, "plugins": ["serverless-iam-roles-per-function"]}
    resources = synthesize(_definition(with_plugin))["Resources"]
    assert resources["ApiLambdaFunction"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["ApiIamRoleLambdaExecution", "Arn"]
    }
    statements = resources["ApiIamRoleLambdaExecution"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    assert statements[-1]["Action"] == ["s3:*"]


def test_queue_settings_the_local_poller_does_not_apply_are_said() -> None:
    doc = {
        **BASE,
        "functions": {
            "api": {
                "handler": "app.handler",
                "events": [{"sqs": {"arn": "arn:aws:sqs:us-east-1:1:q", "filterPatterns": [{}]}}],
            }
        },
    }
    notes = local_notes(_definition(doc))
    assert any(n.startswith("`functions.api.events[0].sqs.filterPatterns`") for n in notes)
