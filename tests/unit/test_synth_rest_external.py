"""A REST API made elsewhere (`provider.apiGateway.restApiId`): the stack adds resources and
methods to it, and resources given by path (`restApiResources`) are not made again. The
templates are compared with `serverless package` in tests/functional/test_synth_oracle_events.py
(rest-external, rest-resources, rest-resources-all); here, what the Framework refuses."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.errors import ShipwayError
from shipway.model import Function, ServiceDefinition
from shipway.synth import synthesize
from shipway.targets.local.notes import local_notes


def _template(apigw: dict[str, Any], paths: list[str], **provider: Any) -> dict[str, Any]:
    events = [{"http": f"GET {p}"} for p in paths]
    doc: dict[str, Any] = {
        "service": "svc",
        "provider": {"name": "aws", "runtime": "python3.12", "apiGateway": apigw, **provider},
        "functions": {"api": {"handler": "app.handler", "events": events}},
    }
    fn = Function("api", "app.handler", "python3.12", 6, 1024, {}, ())
    definition = ServiceDefinition("svc", "dev", "us-east-1", "python3.12", (fn,), resolved=doc)
    return synthesize(definition)


EXTERNAL = {"restApiId": "a1b2c3d4e5", "restApiRootResourceId": "r00tid0000"}


def test_no_rest_api_is_made_and_everything_points_at_the_given_one() -> None:
    resources = _template(EXTERNAL, ["users/{id}"])["Resources"]
    assert "ApiGatewayRestApi" not in resources
    users = resources["ApiGatewayResourceUsers"]["Properties"]
    assert users == {"ParentId": "r00tid0000", "PathPart": "users", "RestApiId": "a1b2c3d4e5"}
    method = resources["ApiGatewayMethodUsersIdVarGet"]["Properties"]
    assert method["RestApiId"] == "a1b2c3d4e5"
    assert method["ResourceId"] == {"Ref": "ApiGatewayResourceUsersIdVar"}


def test_given_resources_are_used_not_made() -> None:
    apigw = {**EXTERNAL, "restApiResources": {"users": "us3rsid000"}}
    resources = _template(apigw, ["users", "users/{id}", "health"])["Resources"]
    assert "ApiGatewayResourceUsers" not in resources
    child = resources["ApiGatewayResourceUsersIdVar"]["Properties"]
    assert child["ParentId"] == "us3rsid000"
    assert resources["ApiGatewayMethodUsersGet"]["Properties"]["ResourceId"] == "us3rsid000"
    assert resources["ApiGatewayResourceHealth"]["Properties"]["ParentId"] == "r00tid0000"


def test_restapiid_needs_the_root_resource() -> None:
    with pytest.raises(ShipwayError, match=r"restApiRootResourceId.*is required"):
        _template({"restApiId": "a1b2c3d4e5"}, ["x"])


def test_a_method_above_a_given_resource_needs_its_own_id() -> None:
    apigw = {**EXTERNAL, "restApiResources": {"posts/{id}": "p0stid0000"}}
    with pytest.raises(ShipwayError, match="Resource ID for path posts is required"):
        _template(apigw, ["posts", "posts/{id}/comments"])


def test_a_path_given_with_a_slash_is_named_in_the_error() -> None:
    apigw = {**EXTERNAL, "restApiResources": {"/posts": "p0stsid000"}}
    with pytest.raises(ShipwayError, match="`/posts` is given"):
        _template(apigw, ["posts"])


@pytest.mark.parametrize(
    "provider",
    [{"tracing": {"apiGateway": True}}, {"logs": {"restApi": True}}],
)
def test_stage_settings_of_an_external_api_are_refused(provider: dict[str, Any]) -> None:
    with pytest.raises(ShipwayError, match="ineffective"):
        _template(EXTERNAL, ["x"], **provider)


def test_the_local_runtime_says_where_it_serves_the_routes() -> None:
    doc = {"service": "svc", "provider": {"name": "aws", "apiGateway": EXTERNAL}}
    definition = ServiceDefinition("svc", "dev", "us-east-1", "python3.12", (), resolved=doc)
    (note,) = local_notes(definition)
    assert note.startswith("`provider.apiGateway.restApiId`: on AWS these routes join an API")
