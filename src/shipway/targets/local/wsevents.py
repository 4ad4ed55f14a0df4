"""The WebSocket API's data, as API Gateway shapes it: routes, route selection, the Lambda
events of `$connect` / messages / `$disconnect`, and the REQUEST authorizer of `$connect`.

Pure: no sockets, no clock but the times passed in. The hub (wshub.py) drives it.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from shipway.errors import ShipwayError, Where
from shipway.model import ServiceDefinition

__all__ = [
    "DEFAULT_SELECTION",
    "Peer",
    "authorizer_event",
    "authorizer_verdict",
    "check_websockets",
    "connect_event",
    "disconnect_event",
    "message_event",
    "new_connection_id",
    "route_selection",
    "select_route",
    "websocket_route",
]

DEFAULT_SELECTION = "$request.body.action"
_BODY_PREFIX = "$request.body."
_DEFAULT_IDENTITY = ["route.request.header.Auth"]


# ------------------------------------------------------------------ configuration


def websocket_route(config: Any) -> dict[str, Any]:
    """A `websocket` event as the release manifest keeps it (synthesis checked its shape)."""
    if not isinstance(config, dict):
        return {"route": str(config)}
    out: dict[str, Any] = {"route": str(config.get("route"))}
    if config.get("routeResponseSelectionExpression"):
        out["response"] = True
    auth = config.get("authorizer")
    if isinstance(auth, str):
        out["authorizer" if ":" not in auth else "authorizer_arn"] = auth
        out["identity_source"] = list(_DEFAULT_IDENTITY)
    elif isinstance(auth, dict):
        if auth.get("arn"):
            out["authorizer_arn"] = json.loads(json.dumps(auth["arn"], default=str))
        elif auth.get("name"):
            out["authorizer"] = str(auth["name"])
        out["identity_source"] = [str(s) for s in auth.get("identitySource") or _DEFAULT_IDENTITY]
    return out


def route_selection(definition: ServiceDefinition) -> str:
    """The service's route selection expression ("" when it has no `websocket` event)."""
    if not any(e.type == "websocket" for f in definition.functions for e in f.events):
        return ""
    provider = definition.resolved.get("provider")
    value = provider.get("websocketsApiRouteSelectionExpression") if provider else None
    return str(value) if value else DEFAULT_SELECTION


def check_websockets(definition: ServiceDefinition, source: str) -> None:
    """What the local runtime cannot serve as written is refused before a deploy."""
    selection = route_selection(definition)
    if selection and not (selection.startswith(_BODY_PREFIX) and len(selection) > 14):
        raise ShipwayError(
            f"the local runtime selects routes by `$request.body.<path>` only, not `{selection}`",
            Where(source, key="provider.websocketsApiRouteSelectionExpression"),
        )
    for fn in definition.functions:
        for index, event in enumerate(fn.events):
            if event.type != "websocket":
                continue
            route = websocket_route(event.config)
            key = f"functions.{fn.name}.events[{index}].websocket"
            if "authorizer_arn" in route:
                raise ShipwayError(
                    "an authorizer given by ARN cannot run on the local runtime",
                    Where(source, key=f"{key}.authorizer"),
                    hint="name a function of this service as the authorizer",
                )
            if ("authorizer" in route) and route["route"] != "$connect":
                raise ShipwayError(
                    "API Gateway runs a WebSocket authorizer on `$connect` only",
                    Where(source, key=f"{key}.authorizer"),
                )


def select_route(selection: str, body: str | bytes, routes: Sequence[str]) -> str | None:
    """The route a message goes to: the expression's value when a route has that key, else
    `$default` when there is one, else None (API Gateway answers `Forbidden`)."""
    value: Any = None
    try:
        value = json.loads(body)
        for part in selection[len(_BODY_PREFIX) :].split("."):
            value = value.get(part) if isinstance(value, dict) else None
    except (ValueError, UnicodeDecodeError):
        value = None
    if isinstance(value, str) and value in routes and not value.startswith("$"):
        return value
    return "$default" if "$default" in routes else None


def new_connection_id() -> str:
    """Like API Gateway's, 16 characters (`L0SM9cOFvHcCIhw=`); URL-safe, as it goes in a
    path of the management API."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode("ascii")


# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class Peer:
    """Who is connected, as the events tell it."""

    connection_id: str
    env: str
    service: str
    domain: str  # the Host of the upgrade request, e.g. 127.0.0.1:8787
    source_ip: str
    user_agent: str
    connected_at_ms: int
    region: str = "us-east-1"

    @property
    def api_id(self) -> str:
        return hashlib.sha256(f"{self.env}/{self.service}".encode()).hexdigest()[:10]


def _clf(epoch_ms: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def _context(peer: Peer, route: str, event_type: str, now_ms: int) -> dict[str, Any]:
    return {
        "routeKey": route,
        "eventType": event_type,
        "extendedRequestId": uuid.uuid4().hex[:16],
        "requestTime": _clf(now_ms),
        "messageDirection": "IN",
        "stage": peer.env,
        "connectedAt": peer.connected_at_ms,
        "requestTimeEpoch": now_ms,
        "identity": {"sourceIp": peer.source_ip, "userAgent": peer.user_agent},
        "requestId": str(uuid.uuid4()),
        "domainName": peer.domain,
        "connectionId": peer.connection_id,
        "apiId": peer.api_id,
    }


def _headers(headers: Sequence[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _query(query: str) -> dict[str, Any]:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return {}
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return {"queryStringParameters": single, "multiValueQueryStringParameters": multi}


def connect_event(
    peer: Peer,
    headers: Sequence[tuple[str, str]],
    query: str,
    now_ms: int,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    single, multi = _headers(headers)
    context = _context(peer, "$connect", "CONNECT", now_ms)
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return {
        "headers": single,
        "multiValueHeaders": multi,
        **_query(query),
        "requestContext": context,
        "isBase64Encoded": False,
    }


def message_event(
    peer: Peer,
    route: str,
    body: str | bytes,
    now_ms: int,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    context = _context(peer, route, "MESSAGE", now_ms)
    context["messageId"] = new_connection_id()
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    binary = isinstance(body, bytes)
    text = base64.b64encode(body).decode("ascii") if isinstance(body, bytes) else body
    return {"requestContext": context, "body": text, "isBase64Encoded": binary}


def disconnect_event(
    peer: Peer,
    code: int,
    reason: str,
    now_ms: int,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    context = _context(peer, "$disconnect", "DISCONNECT", now_ms)
    context["disconnectStatusCode"] = code
    context["disconnectReason"] = reason
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    headers = {"Host": peer.domain, "x-api-key": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


# ------------------------------------------------------------------ the $connect authorizer


def method_arn(peer: Peer) -> str:
    return f"arn:aws:execute-api:{peer.region}:000000000000:{peer.api_id}/{peer.env}/$connect"


def identity_present(
    sources: Sequence[str], headers: Sequence[tuple[str, str]], query: str
) -> bool:
    """Every identity source is in the request (else API Gateway answers 401 at once)."""
    names = {k.lower() for k, _ in headers}
    params = {k for k, _ in parse_qsl(query, keep_blank_values=True)}
    header, querystring = "route.request.header.", "route.request.querystring."
    for source in sources:
        if source.startswith(header) and source[len(header) :].lower() not in names:
            return False
        if source.startswith(querystring) and source[len(querystring) :] not in params:
            return False
    return True


def authorizer_event(
    peer: Peer, headers: Sequence[tuple[str, str]], query: str, now_ms: int
) -> dict[str, Any]:
    event = connect_event(peer, headers, query, now_ms)
    event.pop("isBase64Encoded")
    return {"type": "REQUEST", "methodArn": method_arn(peer), **event, "stageVariables": {}}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def authorizer_verdict(result: Any, arn: str) -> tuple[int, dict[str, Any] | None]:
    """(200 and `requestContext.authorizer`) for a policy that allows `arn`; 403 for one that
    denies it or is malformed (API Gateway's answers)."""
    if not isinstance(result, dict) or not result.get("principalId"):
        return 403, None
    document = result.get("policyDocument")
    statements = document.get("Statement") if isinstance(document, dict) else None
    allowed = False
    for statement in _as_list(statements or []):
        if not isinstance(statement, dict):
            continue
        actions = [str(a) for a in _as_list(statement.get("Action", []))]
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        resources = [str(r) for r in _as_list(statement.get("Resource", []))]
        if not any(fnmatch.fnmatchcase(arn, r) for r in resources):
            continue
        if str(statement.get("Effect", "")).lower() == "deny":
            return 403, None
        allowed = allowed or str(statement.get("Effect", "")).lower() == "allow"
    if not allowed:
        return 403, None
    context = result.get("context") if isinstance(result.get("context"), dict) else {}
    assert isinstance(context, dict)
    return 200, {"principalId": result["principalId"], **context}
