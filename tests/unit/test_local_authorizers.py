"""Authorizer specs read from the events, the local notes and refusals, and IAM policies."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.errors import ShipwayError
from shipway.model import Event, Function, HttpRoute, ServiceDefinition
from shipway.targets.local.authorizer_config import check_authorizers, route_authorizers
from shipway.targets.local.authorizers import evaluate
from shipway.targets.local.releases import DeployedService

ARN = "arn:aws:execute-api:us-east-1:000000000000:local/dev/GET/users/42"


def service(*events: tuple[str, Any], **resolved: Any) -> ServiceDefinition:
    routes = tuple(
        HttpRoute("http" if kind == "http" else "httpApi", "GET", "/x") for kind, _ in events
    )
    fns = (
        Function("auth", "h.auth", "python3.11", 3, 128, {}),
        Function(
            "api",
            "h.api",
            "python3.11",
            3,
            128,
            {},
            tuple(Event(kind, cfg) for kind, cfg in events),
            routes,
        ),
    )
    # the resolved document, as loading keeps it: the authorizers are read from it
    resolved.setdefault(
        "functions",
        {
            "auth": {"handler": "h.auth"},
            "api": {"handler": "h.api", "events": [{kind: cfg} for kind, cfg in events]},
        },
    )
    return ServiceDefinition("svc", "dev", "us-east-1", "python3.11", fns, resolved=resolved)


def specs(definition: ServiceDefinition) -> list[Any]:
    return route_authorizers(definition, definition.functions[1])


def test_rest_defaults_follow_the_framework() -> None:
    (spec,) = specs(service(("http", {"method": "get", "path": "x", "authorizer": "auth"})))
    assert spec["kind"] == "lambda" and spec["type"] == "TOKEN" and spec["function"] == "auth"
    assert spec["identity"] == [["header", "Authorization"]] and spec["ttl"] == 300
    request = {"name": "auth", "type": "request", "resultTtlInSeconds": 0}
    (spec,) = specs(service(("http", {"method": "get", "path": "x", "authorizer": request})))
    assert spec["type"] == "REQUEST" and spec["identity"] == [] and spec["ttl"] == 0


def test_open_routes_have_no_spec_and_the_manifest_keeps_specs() -> None:
    definition = service(
        ("http", {"method": "get", "path": "x"}),
        ("http", {"method": "get", "path": "x", "authorizer": "aws_iam"}),
    )
    assert specs(definition) == [None, {"kind": "iam", "api": "rest"}]
    deployed = DeployedService.from_definition(definition, "svc", "sha")
    again = DeployedService.from_dict(deployed.to_dict())
    assert again.functions["api"].route_authorizers == [None, {"kind": "iam", "api": "rest"}]


def test_cognito_is_a_jwt_authorizer_of_the_pool_issuer() -> None:
    pool = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC"
    event = {"method": "get", "path": "x", "authorizer": {"name": "pool", "arn": pool}}
    definition = service(("http", event))
    (spec,) = specs(definition)
    assert spec["kind"] == "jwt"
    assert spec["issuer"] == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
    (note,) = check_authorizers(definition, "svc/serverless.yml")
    assert "no JWKS" in note and "custom.shipway.jwks" in note


JWT_A = {"name": "jwt", "scopes": ["a"]}
ID = "$request.header.Authorization"  # the Framework requires it of a JWT authorizer


def test_http_api_jwt_and_request_authorizers() -> None:
    authorizers = {
        "jwt": {"issuerUrl": "https://i/", "audience": "aud1", "identitySource": ID},
        "lam": {"type": "request", "functionName": "auth", "enableSimpleResponses": True},
    }
    definition = service(
        ("httpApi", {"method": "GET", "path": "/x", "authorizer": JWT_A}),
        ("httpApi", {"method": "GET", "path": "/x", "authorizer": {"name": "lam"}}),
        provider={"httpApi": {"authorizers": authorizers}},
        custom={"shipway": {"jwks": {"jwt": {"keys": []}}}},
    )
    jwt_spec, lam = specs(definition)
    assert jwt_spec["audience"] == ["aud1"] and jwt_spec["scopes"] == ["a"]
    assert jwt_spec["jwks"] == {"keys": []}
    assert (lam["payload"], lam["simple"], lam["ttl"], lam["identity"]) == ("2.0", True, 0, [])
    assert check_authorizers(definition, "svc/serverless.yml") == []


@pytest.mark.parametrize(
    ("events", "resolved", "message"),
    [
        ([("http", {"method": "get", "path": "x", "authorizer": "nope"})], {}, "`nope`"),
        (
            [("httpApi", {"method": "GET", "path": "/x", "authorizer": {"name": "missing"}})],
            {},
            "provider.httpApi.authorizers",
        ),
        (
            [
                (
                    "http",
                    {
                        "method": "get",
                        "path": "x",
                        "authorizer": {"name": "auth", "identitySource": "context.foo"},
                    },
                )
            ],
            {},
            "headers and query strings",
        ),
        (
            [("http", {"method": "get", "path": "x", "authorizer": "auth"})],
            {"custom": {"shipway": {"jwks": {"auth": "./jwks.json"}}}},
            None,  # a JWKS of a Lambda authorizer's name is never read
        ),
    ],
)
def test_refusals_name_the_file_and_key(
    events: list[tuple[str, Any]], resolved: dict[str, Any], message: str | None
) -> None:
    definition = service(*events, **resolved)
    if message is None:
        assert check_authorizers(definition, "svc/serverless.yml") == []
        return
    with pytest.raises(ShipwayError) as err:
        check_authorizers(definition, "svc/serverless.yml")
    assert message in err.value.message
    assert err.value.where is not None and err.value.where.file == "svc/serverless.yml"
    assert err.value.where.key and err.value.where.key.startswith(("functions.api", "provider"))


def test_malformed_jwks_is_refused() -> None:
    definition = service(
        ("httpApi", {"method": "GET", "path": "/x", "authorizer": {"name": "jwt"}}),
        provider={
            "httpApi": {
                "authorizers": {
                    "jwt": {"issuerUrl": "https://i/", "audience": "a", "identitySource": ID}
                }
            }
        },
        custom={"shipway": {"jwks": {"https://i/": "./jwks.json"}}},
    )
    with pytest.raises(ShipwayError, match="JWKS document"):
        check_authorizers(definition, "svc/serverless.yml")


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def test_policy_wildcards_and_explicit_deny() -> None:
    assert evaluate(policy(allow(ARN)), ARN) == "allow"
    assert evaluate(policy(allow("arn:aws:execute-api:*:*:*/dev/GET/users/*")), ARN) == "allow"
    one_char = "arn:aws:execute-api:us-east-1:*:local/dev/GET/users/4?"
    assert evaluate(policy(allow(one_char)), ARN) == "allow"
    assert evaluate(policy(allow("*", action="execute-api:*")), ARN) == "allow"
    assert evaluate(policy(allow("arn:aws:execute-api:*:*:*/dev/POST/*")), ARN) == "none"
    assert evaluate(policy(allow("*", action="s3:GetObject")), ARN) == "none"
    deny = {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": [ARN]}
    assert evaluate(policy(allow("*"), deny), ARN) == "deny"
    assert evaluate(None, ARN) == "none"
