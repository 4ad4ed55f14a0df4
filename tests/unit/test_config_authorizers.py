"""`route_authorizer`: one description of what guards a route, for either API."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.config.authorizer_view import AuthorizerView, route_authorizer
from shipway.errors import ShipwayError
from tests.unit.test_synth_template import definition


def _view(events: list[Any], index: int = 0, **provider: Any) -> AuthorizerView | None:
    doc = {
        "service": "gate",
        "provider": {"name": "aws", **provider},
        "functions": {
            "auth": {"handler": "app.auth"},
            "api": {"handler": "app.api", "events": events},
        },
    }
    return route_authorizer(definition(doc), "api", index)


def _http(authorizer: Any) -> dict[str, Any]:
    return {"http": {"path": "a", "method": "get", "authorizer": authorizer}}


def test_rest_lambda_authorizers() -> None:
    token = _view([_http("auth")])
    assert token is not None
    assert (token.kind, token.api, token.function, token.name) == (
        "lambda-token",
        "http",
        "auth",
        "auth",
    )
    assert token.identity_sources == ("method.request.header.Authorization",)
    assert token.ttl_seconds == 300  # API Gateway's default when none is written
    request = _view(
        [
            _http(
                {
                    "name": "auth",
                    "type": "request",
                    "resultTtlInSeconds": 0,
                    "identitySource": "method.request.header.A, method.request.querystring.q",
                }
            )
        ]
    )
    assert request is not None and request.kind == "lambda-request"
    assert request.identity_sources == (
        "method.request.header.A",
        "method.request.querystring.q",
    )
    assert request.ttl_seconds == 0
    arn = "arn:aws:lambda:us-east-1:123456789012:function:auth-svc-dev-check"
    outside = _view([_http(arn)])
    assert outside is not None and outside.kind == "lambda-token"
    assert (outside.function, outside.function_arn, outside.name) == (None, arn, "check")


def test_rest_cognito_iam_and_existing() -> None:
    pool = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc"
    cognito = _view([_http({"arn": pool, "scopes": ["email"]})])
    assert cognito is not None and cognito.kind == "cognito"
    assert (cognito.provider_arns, cognito.scopes) == ((pool,), ("email",))
    iam = _view([_http("AWS_IAM")])
    assert iam is not None and iam.kind == "iam" and iam.identity_sources == ()
    existing = _view([_http({"type": "token", "authorizerId": {"Ref": "Mine"}})])
    assert existing is not None and existing.kind == "external"
    assert _view([{"http": "GET a"}]) is None
    assert _view([{"schedule": "rate(1 minute)"}]) is None


def test_http_api_authorizers() -> None:
    authorizers = {
        "jwt": {
            "identitySource": "$request.header.Authorization",
            "issuerUrl": "https://issuer.example.com",
            "audience": "client",
        },
        "lambda": {
            "type": "request",
            "functionName": "auth",
            "identitySource": "$request.header.X-Key",
            "resultTtlInSeconds": 30,
            "enableSimpleResponses": True,
        },
    }
    events = [
        {
            "httpApi": {
                "method": "GET",
                "path": "/j",
                "authorizer": {"name": "jwt", "scopes": ["r"]},
            }
        },
        {"httpApi": {"method": "GET", "path": "/l", "authorizer": "lambda"}},
        {"httpApi": {"method": "GET", "path": "/i", "authorizer": {"type": "aws_iam"}}},
        {"httpApi": "GET /open"},
    ]
    provider = {"httpApi": {"authorizers": authorizers}}
    jwt = _view(events, 0, **provider)
    assert jwt is not None
    assert (jwt.kind, jwt.api, jwt.issuer, jwt.audience, jwt.scopes) == (
        "jwt",
        "httpApi",
        "https://issuer.example.com",
        ("client",),
        ("r",),
    )
    assert jwt.identity_sources == ("$request.header.Authorization",)
    lam = _view(events, 1, **provider)
    assert lam is not None and lam.kind == "lambda-request"
    assert (lam.function, lam.ttl_seconds, lam.simple_responses, lam.payload_version) == (
        "auth",
        30,
        True,
        "2.0",
    )
    iam = _view(events, 2, **provider)
    assert iam is not None and iam.kind == "iam"
    assert _view(events, 3, **provider) is None


def test_a_bad_authorizer_is_an_error_naming_the_key() -> None:
    with pytest.raises(ShipwayError) as info:
        _view([_http({"name": "ghost"})])
    assert info.value.where is not None
    assert info.value.where.key == "functions.api.events[0].http.authorizer"
