"""API Gateway, as pure functions: route matching, proxy events, and response mapping.

`http` events get the REST API (payload 1.0) event; `httpApi` events get the HTTP API
(payload 2.0) event. What the gateway answers on its own follows AWS:

* no route: REST answers 403 `{"message":"Missing Authentication Token"}` (also when the
  path exists with another method); HTTP API answers 404 `{"message":"Not Found"}` (it has no
  405 either: an unmatched method is simply no matching route).
* the function failed (exception, crash, its own `timeout`, malformed response): REST 502
  `{"message": "Internal server error"}`; HTTP API 500 `{"message":"Internal Server Error"}`.
  A function that exceeds its own timeout is a Lambda error, not a gateway timeout.
* the gateway's integration timeout (29 s REST, 30 s HTTP API) hit first (a function with a
  longer `timeout`): REST 504 `{"message": "Endpoint request timed out"}`; HTTP API 503
  `{"message":"Service Unavailable"}`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from shipway.model import HttpRoute

Kind = Literal["http", "httpApi"]
REST_INTEGRATION_TIMEOUT_S = 29.0
HTTP_API_INTEGRATION_TIMEOUT_S = 30.0
ACCOUNT_ID = "000000000000"

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Headers
    body: bytes


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Route:
    function: str
    route: HttpRoute
    authorizer: Any = None  # its authorizer's spec (authorizer_config.py); None: open
    integration: Any = None  # `integration: lambda` (lambda_integration.py); None: proxy


@dataclass(frozen=True)
class RouteMatch:
    function: str
    route: HttpRoute
    path_params: dict[str, str]
    authorizer: Any = None
    integration: Any = None

    @functools.cached_property
    def resource(self) -> str:
        return normalise_path(self.route.path)

    @functools.cached_property
    def route_key(self) -> str:
        if is_catch_all(self.route):
            return "$default"
        return f"{normalise_method(self.route.method)} {self.resource}"


def normalise_method(method: str) -> str:
    m = method.upper()
    return "ANY" if m == "*" else m


def normalise_path(path: str) -> str:
    if path in ("*", "$default"):
        return path
    p = "/" + path.strip("/")
    return p


def is_catch_all(route: HttpRoute) -> bool:
    return route.path in ("*", "$default")


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s != ""]


def _match_one(
    route: HttpRoute, raw_segments: list[str]
) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """(specificity, params) when `route`'s path matches; specificity sorts better-first higher."""
    if is_catch_all(route):
        return (), {}
    pattern = _segments(normalise_path(route.path))
    params: dict[str, str] = {}
    score: list[int] = []
    for i, seg in enumerate(pattern):
        if seg.startswith("{") and seg.endswith("+}"):
            if i != len(pattern) - 1 or len(raw_segments) <= i:
                return None
            params[seg[1:-2]] = unquote("/".join(raw_segments[i:]))
            score.append(1)
            return tuple(score), params
        if i >= len(raw_segments):
            return None
        if seg.startswith("{") and seg.endswith("}"):
            params[seg[1:-1]] = unquote(raw_segments[i])
            score.append(2)
        elif seg == raw_segments[i]:
            score.append(3)
        else:
            return None
    if len(pattern) != len(raw_segments):
        return None
    return tuple(score), params


def match_route(routes: Iterable[Route], method: str, raw_path: str) -> RouteMatch | None:
    """The most specific route for `method` and `raw_path` (still percent-encoded).

    Static segments beat `{param}`, which beats `{greedy+}`; an exact method beats `ANY`;
    the HTTP API catch-all (`*` / `$default`) comes last.
    """
    raw = _segments(raw_path)
    method = method.upper()
    best: tuple[tuple[int, int, tuple[int, ...]], RouteMatch] | None = None
    for r in routes:
        m = normalise_method(r.route.method)
        if m not in ("ANY", method):
            continue
        found = _match_one(r.route, raw)
        if found is None:
            continue
        score, params = found
        rank = (0 if is_catch_all(r.route) else 1, 1 if m == method else 0, score)
        if best is None or rank > best[0]:
            best = (rank, RouteMatch(r.function, r.route, params, r.authorizer, r.integration))
    return best[1] if best else None


# --------------------------------------------------------------------------- requests

_TEXT_TYPES = (
    "application/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/javascript",
    "application/graphql",
)


def is_text_content_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    ct = content_type.split(";")[0].strip().lower()
    return (
        ct.startswith("text/") or ct in _TEXT_TYPES or ct.endswith("+json") or ct.endswith("+xml")
    )


def encode_body(body: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """(body, isBase64Encoded): text for textual content types, else base64."""
    if not body:
        return None, False
    if is_text_content_type(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _header(headers: Headers, name: str) -> str | None:
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def _with_forwarding(headers: Headers, source_ip: str, port: int | None) -> Headers:
    out = list(headers)
    present = {k.lower() for k, _ in out}
    if "x-forwarded-for" not in present:
        out.append(("X-Forwarded-For", source_ip))
    if "x-forwarded-proto" not in present:
        out.append(("X-Forwarded-Proto", "http"))
    if "x-forwarded-port" not in present and port:
        out.append(("X-Forwarded-Port", str(port)))
    return out


def _request_time(epoch: float) -> str:
    return _second_stamp(int(epoch))


@functools.lru_cache(maxsize=4)
def _second_stamp(second: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))


def new_request_id() -> str:
    """A random (version 4) UUID in its usual text form, without building a UUID object."""
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


@dataclass(frozen=True)
class RequestInfo:
    """A request as the gateway sees it, with the path relative to the service."""

    method: str
    path: str  # raw (percent-encoded) path relative to the service, starting with "/"
    query: str  # raw query string, without "?"
    headers: Headers
    body: bytes
    source_ip: str
    stage: str
    full_path: str = ""  # the whole request path, for requestContext.path
    port: int | None = None
    protocol: str = "HTTP/1.1"


def rest_event(
    req: RequestInfo, match: RouteMatch, request_id: str | None = None
) -> dict[str, Any]:
    """The REST API (payload 1.0) proxy event."""
    now = time.time()
    request_id = request_id or new_request_id()
    headers = _with_forwarding(req.headers, req.source_ip, req.port)
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for k, v in headers:
        single[k] = v
        multi.setdefault(k, []).append(v)
    qs = parse_qsl(req.query, keep_blank_values=True)
    q_single: dict[str, str] = {}
    q_multi: dict[str, list[str]] = {}
    for k, v in qs:
        q_single[k] = v
        q_multi.setdefault(k, []).append(v)
    body, b64 = encode_body(req.body, _header(req.headers, "content-type"))
    path = unquote(req.path)
    return {
        "resource": match.resource,
        "path": path,
        "httpMethod": req.method.upper(),
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": q_single or None,
        "multiValueQueryStringParameters": q_multi or None,
        "pathParameters": match.path_params or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": _header(req.headers, "host") or "localhost",
            "domainPrefix": "local",
            "extendedRequestId": request_id,
            "httpMethod": req.method.upper(),
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": req.source_ip,
                "user": None,
                "userAgent": _header(req.headers, "user-agent"),
                "userArn": None,
            },
            "path": unquote(req.full_path) if req.full_path else f"/{req.stage}{path}",
            "protocol": req.protocol,
            "requestId": request_id,
            "requestTime": _request_time(now),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": "local",
            "resourcePath": match.resource,
            "stage": req.stage,
        },
        "body": body,
        "isBase64Encoded": b64,
    }


def http_api_event(
    req: RequestInfo, match: RouteMatch, request_id: str | None = None
) -> dict[str, Any]:
    """The HTTP API (payload 2.0) event. Serverless deploys HTTP APIs on the `$default` stage."""
    now = time.time()
    request_id = request_id or new_request_id()
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for k, v in _with_forwarding(req.headers, req.source_ip, req.port):
        key = k.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in v.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{v}" if key in headers else v
    query: dict[str, str] = {}
    for k, v in parse_qsl(req.query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    body, b64 = encode_body(req.body, _header(req.headers, "content-type"))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route_key,
        "rawPath": req.path,
        "rawQueryString": req.query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": "local",
        "domainName": headers.get("host", "localhost"),
        "domainPrefix": "local",
        "http": {
            "method": req.method.upper(),
            "path": unquote(req.path),
            "protocol": req.protocol,
            "sourceIp": req.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": match.route_key,
        "stage": "$default",
        "time": _request_time(now),
        "timeEpoch": int(now * 1000),
    }
    if match.path_params:
        event["pathParameters"] = match.path_params
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = b64
    return event


def build_event(req: RequestInfo, match: RouteMatch) -> dict[str, Any]:
    if match.route.kind == "httpApi":
        return http_api_event(req, match)
    return rest_event(req, match)


# --------------------------------------------------------------------------- responses


def json_reply(status: int, doc: dict[str, Any], extra: Sequence[tuple[str, str]] = ()) -> Reply:
    body = json.dumps(doc).encode("utf-8")
    return Reply(status, [("content-type", "application/json"), *extra], body)


def not_found(kind: Kind) -> Reply:
    if kind == "http":
        return json_reply(
            403,
            {"message": "Missing Authentication Token"},
            [("x-amzn-ErrorType", "MissingAuthenticationTokenException")],
        )
    return json_reply(404, {"message": "Not Found"})


def function_error(kind: Kind) -> Reply:
    if kind == "http":
        return json_reply(
            502,
            {"message": "Internal server error"},
            [("x-amzn-ErrorType", "InternalServerErrorException")],
        )
    return json_reply(500, {"message": "Internal Server Error"})


def gateway_timeout(kind: Kind) -> Reply:
    if kind == "http":
        return json_reply(504, {"message": "Endpoint request timed out"})
    return json_reply(503, {"message": "Service Unavailable"})


class MalformedResponse(ValueError):
    pass


def _status(value: Any) -> int:
    if isinstance(value, bool):
        raise MalformedResponse("statusCode must be a number")
    if isinstance(value, int):
        status = value
    elif isinstance(value, str) and value.isdigit():
        status = int(value)
    else:
        raise MalformedResponse("statusCode must be a number")
    if not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status} is not an HTTP status")
    return status


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float | str):
        return str(value)
    raise MalformedResponse("header values must be strings")


def _body(result: dict[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse("body must be a string")
    if result.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("body is not valid base64") from None
    return body.encode("utf-8")


def rest_response(result: Any) -> Reply:
    """Map a REST (payload 1.0) proxy result; raises MalformedResponse as API Gateway would."""
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedResponse("the result must be an object with a statusCode")
    status = _status(result["statusCode"])
    headers: Headers = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers must be objects")
    for k, v in single.items():
        headers.append((str(k), _scalar(v)))
    for k, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse("multiValueHeaders values must be lists")
        for v in values:
            headers.append((str(k), _scalar(v)))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("content-type", "application/json"))  # REST's default
    return Reply(status, headers, _body(result))


def http_api_response(result: Any) -> Reply:
    """Map an HTTP API (payload 2.0) result, including the inferred form (no statusCode)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # "If your function returns valid JSON and doesn't return a statusCode", API Gateway
        # assumes 200, application/json, and the returned value as the body.
        body = result if isinstance(result, str) else json.dumps(result)
        return Reply(200, [("content-type", "application/json")], body.encode("utf-8"))
    status = _status(result["statusCode"])
    headers: Headers = []
    raw_headers = result.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise MalformedResponse("headers must be an object")
    for k, v in raw_headers.items():
        headers.append((str(k), _scalar(v)))
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise MalformedResponse("cookies must be a list")
    for c in cookies:
        headers.append(("set-cookie", _scalar(c)))
    return Reply(status, headers, _body(result))


def map_response(kind: Kind, result: Any) -> Reply:
    """The function's result as the client sees it; a malformed one is the gateway's error."""
    try:
        return rest_response(result) if kind == "http" else http_api_response(result)
    except MalformedResponse:
        return function_error(kind)
