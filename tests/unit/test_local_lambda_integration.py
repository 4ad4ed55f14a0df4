"""The local runtime's `integration: lambda` mapping, as pure functions: pass-through
behaviours, JSONPath, `$util`, and what a template that makes no JSON gets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shipway.errors import ShipwayError
from shipway.targets.local.apigw import Reply
from shipway.targets.local.lambda_integration import (
    integration_of,
    lambda_request,
    lambda_response,
)


def _event(body: str | None = None, content_type: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    return {
        "headers": headers,
        "body": body,
        "pathParameters": {"id": "7"},
        "queryStringParameters": None,
        "requestContext": {"httpMethod": "POST", "stage": "dev", "resourcePath": "/x/{id}"},
    }


def _integration(**request: Any) -> dict[str, Any]:
    config = {"method": "post", "path": "x", "integration": "lambda", "request": request}
    found = integration_of(config)
    assert found is not None
    return found


def test_only_lambda_integrations_are_kept() -> None:
    assert integration_of({"method": "get", "path": "x"}) is None
    assert integration_of({"method": "get", "path": "x", "integration": "lambda-proxy"}) is None
    assert integration_of({"method": "get", "path": "x", "integration": "LAMBDA"}) is not None


@pytest.mark.parametrize(
    ("behaviour", "templates", "passes"),
    [
        ("NEVER", {}, False),
        ("WHEN_NO_MATCH", {}, True),
        ("WHEN_NO_TEMPLATES", {}, False),  # the defaults are templates
        (
            "WHEN_NO_TEMPLATES",
            {"application/json": None, "application/x-www-form-urlencoded": None},
            True,
        ),
    ],
)
def test_pass_through_behaviours(behaviour: str, templates: dict[str, Any], passes: bool) -> None:
    integration = _integration(passThrough=behaviour, template=templates)
    out = lambda_request(integration, _event('{"raw": true}', "text/plain"))
    if passes:
        assert out == {"raw": True}
    else:
        assert isinstance(out, Reply) and out.status == 415


def test_a_form_body_is_decoded_by_the_default_form_template() -> None:
    event = _event("name=J%C3%BCrgen+M&empty=", "application/x-www-form-urlencoded")
    out = lambda_request(_integration(), event)
    assert out["body"] == {"name": "Jürgen M", "empty": ""}
    assert out["path"] == {"id": "7"} and out["method"] == "POST"


def test_a_template_that_makes_no_json_is_a_clear_error() -> None:
    integration = _integration(template={"application/json": "not $input.body"})
    with pytest.raises(ShipwayError, match="made no JSON"):
        lambda_request(integration, _event("{}", "application/json"))


def test_jsonpath_and_util_in_a_custom_template() -> None:
    template = (
        '{"first": $input.json(\'$.items[0].name\'), "q": "$util.escapeJavaScript($input.path'
        '(\'$.quote\'))", "b64": "$util.base64Encode(\'hi\')"}'
    )
    integration = _integration(template={"application/json": template})
    body = json.dumps({"items": [{"name": "a"}], "quote": 'say "hi"'})
    out = lambda_request(integration, _event(body, "application/json"))
    assert out == {"first": "a", "q": 'say "hi"', "b64": "aGk="}


def test_the_default_response_passes_the_result_through() -> None:
    integration = _integration()
    reply = lambda_response(integration, True, ["a", 1])
    assert (reply.status, json.loads(reply.body)) == (200, ["a", 1])
    timed_out = {"errorMessage": "Task timed out after 6.00 seconds"}
    assert lambda_response(integration, False, timed_out).status == 504
    crashed = {"errorMessage": "Process exited before completing request"}
    assert lambda_response(integration, False, crashed).status == 500
