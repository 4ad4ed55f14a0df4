"""`integration: lambda` on the local gateway, over real HTTP on 127.0.0.1 with real worker
processes: the Framework's default request template (body, path, query, headers, the
authorizer's principal), a custom template and `passThrough`, errors selected by their
message into status codes, a response template and mapped headers."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shipway.model import Event, Function, HttpRoute, ServiceDefinition
from shipway.targets.local.target import LocalTarget
from tests.integration.gatewaykit import handler_zip, running_gateway

HANDLERS = """
def echo(event, context):
    return {"seen": event}

def fail(event, context):
    code = event["query"].get("code", "")
    if code == "none":
        raise ValueError("something else went wrong")
    raise ValueError("[" + code + "] refused: " + event["path"].get("id", ""))

def made(event, context):
    return {"id": event["id"], "body": {"created": True}, "etag": "v1"}

def auth(event, context):
    return {"principalId": "user-" + event["authorizationToken"], "policyDocument": {
        "Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke",
        "Effect": "Allow", "Resource": event["methodArn"]}]}}
"""

CUSTOM = {
    "method": "post",
    "path": "items/{id}",
    "integration": "lambda",
    "request": {
        "passThrough": "WHEN_NO_TEMPLATES",
        "template": {
            "application/json": '{"id": "$input.params(\'id\')", "name": $input.json(\'$.name\')}',
            "application/x-www-form-urlencoded": None,
        },
    },
    "response": {
        "headers": {"Cache-Control": "'max-age=60'", "ETag": "integration.response.body.etag"},
        "template": "$input.json('$.body')",
        "statusCodes": {"201": {"pattern": ""}},
    },
}


def _function(name: str, *events: dict[str, Any]) -> Function:
    routes = tuple(
        HttpRoute("http", str(e["method"]).upper(), "/" + str(e["path"]).strip("/")) for e in events
    )
    return Function(
        name,
        f"app.{name}",
        "python3.12",
        5,
        128,
        {},
        tuple(Event("http", e) for e in events),
        routes,
    )


def _definition() -> ServiceDefinition:
    functions = (
        _function(
            "echo",
            {"method": "get", "path": "echo/{id}", "integration": "lambda", "authorizer": "auth"},
        ),
        _function("fail", {"method": "get", "path": "fail/{id}", "integration": "lambda"}),
        _function("made", CUSTOM),
        _function("auth"),
    )
    resolved = {
        "service": "svc",
        "provider": {"name": "aws", "runtime": "python3.12"},
        "functions": {
            f.name: {"handler": f.handler, "events": [{e.type: e.config} for e in f.events]}
            for f in functions
        },
    }
    return ServiceDefinition("svc", "dev", "us-east-1", "python3.12", functions, resolved=resolved)


Reply = tuple[int, dict[str, str], bytes]


@pytest.fixture
def call(tmp_path: Path) -> Iterator[Any]:
    state = tmp_path / "state"
    artifact = handler_zip(tmp_path / "zips", "svc", HANDLERS)
    LocalTarget(state).release("dev", 1, "c1", [(_definition(), artifact)])
    with running_gateway(state) as port:

        def request(method: str, path: str, body: bytes | None = None, **headers: str) -> Reply:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                sent = {k.replace("_", "-"): v for k, v in headers.items()}
                conn.request(method, "/dev/svc" + path, body=body, headers=sent)
                res = conn.getresponse()
                return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
            finally:
                conn.close()

        yield request


def test_the_default_template_makes_the_frameworks_event(call: Any) -> None:
    status, headers, body = call("GET", "/echo/42?color=red", Authorization="alice", X_Trace="t-1")
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    seen = json.loads(body)["seen"]
    assert seen["method"] == "GET" and seen["stage"] == "dev"
    assert seen["path"] == {"id": "42"} and seen["query"] == {"color": "red"}
    assert {k.lower(): v for k, v in seen["headers"].items()}["x-trace"] == "t-1"
    assert seen["principalId"] == "user-alice"  # the authorizer ran first
    assert seen["enhancedAuthContext"]["principalId"] == "user-alice"
    assert seen["requestPath"] == "/echo/{id}"
    assert seen["body"] == {}  # no body: `$input.json('$')` of nothing


def test_a_json_body_reaches_the_function_as_data(call: Any) -> None:
    status, _, body = call(
        "GET",
        "/echo/1",
        b'{"a": [1, 2], "b": "it\'s"}',
        Authorization="x",
        Content_Type="application/json",
    )
    assert status == 200
    assert json.loads(body)["seen"]["body"] == {"a": [1, 2], "b": "it's"}


def test_errors_are_selected_by_their_message(call: Any) -> None:
    status, _, body = call("GET", "/fail/7?code=404")
    assert status == 404
    error = json.loads(body)
    assert error["errorMessage"] == "[404] refused: 7" and error["errorType"] == "ValueError"
    assert call("GET", "/fail/7?code=422")[0] == 422
    # a message no pattern matches gets the default response: 200, as API Gateway answers
    status, _, body = call("GET", "/fail/7?code=none")
    assert status == 200 and json.loads(body)["errorMessage"] == "something else went wrong"


def test_a_custom_template_response_template_and_headers(call: Any) -> None:
    status, headers, body = call(
        "POST", "/items/9", b'{"name": "kettle"}', Content_Type="application/json"
    )
    assert status == 201, body
    assert json.loads(body) == {"created": True}  # $input.json('$.body') of the result
    assert headers["cache-control"] == "max-age=60"
    assert headers["etag"] == "v1"  # integration.response.body.etag


def test_a_content_type_without_a_template_is_refused_as_api_gateway_refuses_it(
    call: Any,
) -> None:
    status, _, body = call(
        "POST", "/items/9", b"a=1", Content_Type="application/x-www-form-urlencoded"
    )
    assert status == 415
    assert json.loads(body) == {"message": "Unsupported Media Type"}
