"""Route selection, the `$connect` authorizer's verdict, and what the local runtime refuses."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.errors import ShipwayError
from shipway.model import Event, Function, ServiceDefinition
from shipway.targets.local import wsevents

ROUTES = ["$connect", "$default", "send", "room"]


@pytest.mark.parametrize(
    ("selection", "body", "route"),
    [
        ("$request.body.action", '{"action": "send"}', "send"),
        ("$request.body.action", '{"action": "nope"}', "$default"),
        ("$request.body.action", '{"action": "$connect"}', "$default"),
        ("$request.body.action", "plain text", "$default"),
        ("$request.body.action", b"\xff\xfe", "$default"),
        ("$request.body.meta.kind", '{"meta": {"kind": "room"}}', "room"),
        ("$request.body.action", '{"action": 3}', "$default"),
    ],
)
def test_select_route(selection: str, body: str | bytes, route: str) -> None:
    assert wsevents.select_route(selection, body, ROUTES) == route


def test_no_route_and_no_default_is_none() -> None:
    assert wsevents.select_route("$request.body.action", '{"action": "x"}', ["send"]) is None


def _policy(effect: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    return {"principalId": "u", "policyDocument": {"Statement": [statement]}, **extra}


ARN = "arn:aws:execute-api:us-east-1:000000000000:abc/dev/$connect"


def test_authorizer_verdicts() -> None:
    assert wsevents.authorizer_verdict(_policy("Allow", context={"a": 1}), ARN) == (
        200,
        {"principalId": "u", "a": 1},
    )
    assert wsevents.authorizer_verdict(_policy("Deny"), ARN) == (403, None)
    assert wsevents.authorizer_verdict(_policy("Allow", "arn:aws:other"), ARN) == (403, None)
    assert wsevents.authorizer_verdict({"policyDocument": {}}, ARN) == (403, None)
    assert wsevents.authorizer_verdict("Allow", ARN) == (403, None)


def _definition(config: Any, provider: dict[str, Any] | None = None) -> ServiceDefinition:
    fn = Function("hub", "app.hub", "python3.11", 3, 128, {}, (Event("websocket", config),))
    return ServiceDefinition(
        "chat", "dev", "us-east-1", "python3.11", (fn,), resolved={"provider": provider or {}}
    )


@pytest.mark.parametrize(
    ("config", "provider", "key"),
    [
        (
            {"route": "$connect", "authorizer": "arn:aws:lambda:us-east-1:1:function:a"},
            None,
            "functions.hub.events[0].websocket.authorizer",
        ),
        (
            "$default",
            {"websocketsApiRouteSelectionExpression": "$request.header.x"},
            "provider.websocketsApiRouteSelectionExpression",
        ),
    ],
)
def test_what_the_local_runtime_cannot_serve_is_refused(
    config: Any, provider: dict[str, Any] | None, key: str
) -> None:
    with pytest.raises(ShipwayError) as caught:
        wsevents.check_websockets(_definition(config, provider), "serverless.yml")
    assert caught.value.where is not None and caught.value.where.key == key


def test_a_served_websocket_passes_the_check() -> None:
    wsevents.check_websockets(
        _definition({"route": "$connect", "authorizer": {"name": "auth"}}), "serverless.yml"
    )
    assert wsevents.route_selection(_definition("$default")) == "$request.body.action"
