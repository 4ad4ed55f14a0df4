"""API Gateway emulation: pure functions (routes, events, response mapping)."""

from __future__ import annotations

import base64
import json

from shipway.model import HttpRoute
from shipway.targets.local import apigw
from shipway.targets.local.apigw import RequestInfo, Route, match_route


def R(fn: str, kind: str, method: str, path: str) -> Route:
    return Route(fn, HttpRoute(kind=kind, method=method, path=path))  # type: ignore[arg-type]


ROUTES = [
    R("static", "http", "GET", "/accounts/me"),
    R("param", "http", "GET", "/accounts/{id}"),
    R("any", "http", "ANY", "/accounts/{id}"),
    R("greedy", "http", "ANY", "/files/{proxy+}"),
    R("root", "http", "GET", "/"),
    R("nested", "http", "GET", "/accounts/{id}/orders/{order}"),
]


def test_static_beats_param_beats_greedy() -> None:
    m = match_route(ROUTES, "GET", "/accounts/me")
    assert m is not None and m.function == "static" and m.path_params == {}
    m = match_route(ROUTES, "GET", "/accounts/42")
    assert m is not None and m.function == "param" and m.path_params == {"id": "42"}
    assert m.resource == "/accounts/{id}"


def test_exact_method_beats_any_and_any_matches_others() -> None:
    m = match_route(ROUTES, "DELETE", "/accounts/42")
    assert m is not None and m.function == "any"


def test_greedy_takes_the_rest_decoded() -> None:
    m = match_route(ROUTES, "PUT", "/files/a/b%20c/d.txt")
    assert m is not None and m.function == "greedy"
    assert m.path_params == {"proxy": "a/b c/d.txt"}
    assert match_route(ROUTES, "GET", "/files") is None  # {proxy+} needs one segment or more


def test_root_nested_and_misses() -> None:
    m = match_route(ROUTES, "GET", "/")
    assert m is not None and m.function == "root"
    m = match_route(ROUTES, "GET", "/accounts/7/orders/9/")
    assert m is not None and m.path_params == {"id": "7", "order": "9"}
    assert match_route(ROUTES, "GET", "/nope") is None
    assert match_route(ROUTES, "POST", "/accounts/me") is not None  # ANY /accounts/{id}
    assert match_route(ROUTES, "POST", "/") is None


def test_http_api_catch_all_is_last_resort_and_star_method() -> None:
    routes = [
        R("catch", "httpApi", "*", "*"),
        R("get", "httpApi", "GET", "/things/{id}"),
        R("star", "httpApi", "*", "/star"),
    ]
    m = match_route(routes, "GET", "/things/1")
    assert m is not None and m.function == "get" and m.route_key == "GET /things/{id}"
    m = match_route(routes, "POST", "/things/1")
    assert m is not None and m.function == "catch" and m.route_key == "$default"
    m = match_route(routes, "PATCH", "/star")
    assert m is not None and m.function == "star" and m.route_key == "ANY /star"


def info(**kw: object) -> RequestInfo:
    base: dict[str, object] = dict(
        method="POST",
        path="/accounts/42",
        query="a=1&a=2&b=x%20y&empty=",
        headers=[
            ("host", "127.0.0.1:8787"),
            ("content-type", "application/json"),
            ("x-multi", "one"),
            ("x-multi", "two"),
            ("cookie", "s=1; t=2"),
            ("user-agent", "pytest"),
        ],
        body=b'{"k": 1}',
        source_ip="127.0.0.1",
        stage="dev",
        full_path="/dev/svc/accounts/42",
    )
    base.update(kw)
    return RequestInfo(**base)  # type: ignore[arg-type]


def test_rest_event_shape() -> None:
    m = match_route(ROUTES, "POST", "/accounts/42")
    assert m is not None
    ev = apigw.rest_event(info(), m)
    assert ev["resource"] == "/accounts/{id}"
    assert ev["path"] == "/accounts/42"
    assert ev["httpMethod"] == "POST"
    assert ev["pathParameters"] == {"id": "42"}
    assert ev["queryStringParameters"] == {"a": "2", "b": "x y", "empty": ""}
    assert ev["multiValueQueryStringParameters"]["a"] == ["1", "2"]
    assert ev["headers"]["x-multi"] == "two"
    assert ev["multiValueHeaders"]["x-multi"] == ["one", "two"]
    assert ev["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert ev["stageVariables"] is None
    assert ev["body"] == '{"k": 1}' and ev["isBase64Encoded"] is False
    rc = ev["requestContext"]
    assert rc["stage"] == "dev" and rc["resourcePath"] == "/accounts/{id}"
    assert rc["httpMethod"] == "POST" and rc["identity"]["sourceIp"] == "127.0.0.1"
    assert rc["path"] == "/dev/svc/accounts/42" and rc["requestId"]
    json.dumps(ev)


def test_rest_event_empty_parts_are_null() -> None:
    m = match_route(ROUTES, "GET", "/")
    assert m is not None
    ev = apigw.rest_event(info(method="GET", path="/", query="", headers=[], body=b""), m)
    assert ev["queryStringParameters"] is None
    assert ev["multiValueQueryStringParameters"] is None
    assert ev["pathParameters"] is None
    assert ev["body"] is None and ev["isBase64Encoded"] is False


def test_binary_body_is_base64() -> None:
    data = bytes(range(256))
    m = match_route(ROUTES, "POST", "/accounts/42")
    assert m is not None
    for build in (apigw.rest_event, apigw.http_api_event):
        ev = build(info(headers=[("content-type", "application/octet-stream")], body=data), m)
        assert ev["isBase64Encoded"] is True
        assert base64.b64decode(ev["body"]) == data
    assert apigw.encode_body(b"a=1", "application/x-www-form-urlencoded") == ("a=1", False)
    assert apigw.encode_body(b"<a/>", "application/soap+xml; charset=utf-8") == ("<a/>", False)
    assert apigw.encode_body(b"\xff", "text/plain")[1] is True  # not utf-8: still base64


def test_http_api_event_shape() -> None:
    routes = [R("get", "httpApi", "POST", "/accounts/{id}")]
    m = match_route(routes, "POST", "/accounts/42")
    assert m is not None
    ev = apigw.http_api_event(info(), m)
    assert ev["version"] == "2.0"
    assert ev["routeKey"] == "POST /accounts/{id}"
    assert ev["rawPath"] == "/accounts/42"
    assert ev["rawQueryString"] == "a=1&a=2&b=x%20y&empty="
    assert ev["queryStringParameters"] == {"a": "1,2", "b": "x y", "empty": ""}
    assert ev["cookies"] == ["s=1", "t=2"]
    assert ev["headers"]["x-multi"] == "one,two"
    assert "cookie" not in ev["headers"]
    assert ev["pathParameters"] == {"id": "42"}
    http = ev["requestContext"]["http"]
    assert http == {
        "method": "POST",
        "path": "/accounts/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest",
    }
    assert ev["body"] == '{"k": 1}' and ev["isBase64Encoded"] is False
    assert "multiValueHeaders" not in ev


def test_rest_response_mapping() -> None:
    r = apigw.map_response(
        "http",
        {
            "statusCode": 201,
            "headers": {"x-a": "1"},
            "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]},
            "body": "made",
        },
    )
    assert r.status == 201 and r.body == b"made"
    assert ("x-a", "1") in r.headers
    assert [v for k, v in r.headers if k == "set-cookie"] == ["a=1", "b=2"]
    assert ("content-type", "application/json") in r.headers
    png = bytes([0x89, 0x50, 0x4E, 0x47, 0, 255])
    r = apigw.map_response(
        "http", {"statusCode": 200, "body": base64.b64encode(png).decode(), "isBase64Encoded": True}
    )
    assert r.body == png


def test_rest_malformed_responses_are_502() -> None:
    for bad in (
        None,
        "text",
        {"body": "x"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": "abc"},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
        {"statusCode": 200, "headers": "x"},
    ):
        r = apigw.map_response("http", bad)
        assert r.status == 502, bad
        assert json.loads(r.body) == {"message": "Internal server error"}


def test_http_api_response_mapping() -> None:
    r = apigw.map_response("httpApi", {"hello": "world"})
    assert r.status == 200 and json.loads(r.body) == {"hello": "world"}
    assert ("content-type", "application/json") in r.headers
    assert apigw.map_response("httpApi", "plain").body == b"plain"
    assert apigw.map_response("httpApi", [1, 2]).body == b"[1, 2]"
    r = apigw.map_response(
        "httpApi", {"statusCode": 404, "cookies": ["a=1", "b=2"], "headers": {"x": 1}, "body": "no"}
    )
    assert r.status == 404 and r.body == b"no"
    assert [v for k, v in r.headers if k == "set-cookie"] == ["a=1", "b=2"]
    assert ("x", "1") in r.headers
    r = apigw.map_response("httpApi", {"statusCode": 200, "body": 5})
    assert r.status == 500 and json.loads(r.body) == {"message": "Internal Server Error"}


def test_gateway_own_answers() -> None:
    assert apigw.not_found("http").status == 403
    assert json.loads(apigw.not_found("http").body) == {"message": "Missing Authentication Token"}
    assert apigw.not_found("httpApi").status == 404
    assert apigw.function_error("http").status == 502
    assert apigw.function_error("httpApi").status == 500
    assert apigw.gateway_timeout("http").status == 504
    assert apigw.gateway_timeout("httpApi").status == 503
