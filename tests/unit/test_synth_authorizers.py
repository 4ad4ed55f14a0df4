"""`http` and `httpApi` authorizers in the template: the expectations below are what
`serverless package` v3.40.0 wrote for the same configurations (bench/oracle_services)."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.errors import ShipwayError
from shipway.synth import synthesize
from shipway.synth.lint import lint
from tests.unit.test_synth_template import definition

REST = {"Ref": "ApiGatewayRestApi"}


def _uri(arn: Any) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":apigateway:",
                {"Ref": "AWS::Region"},
                ":lambda:path/2015-03-31/functions/",
                arn,
                "/invocations",
            ],
        ]
    }


def _source_arn(api: Any, suffix: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":execute-api:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":",
                api,
                suffix,
            ],
        ]
    }


def _service(events: list[Any], resources: dict[str, Any] | None = None, **provider: Any) -> Any:
    doc: dict[str, Any] = {
        "service": "gate",
        "provider": {"name": "aws", "runtime": "python3.11", **provider},
        "functions": {
            "auth": {"handler": "app.auth"},
            "auth-req": {"handler": "app.auth_req"},
            "api": {"handler": "app.api", "events": events},
        },
    }
    if resources:
        doc["resources"] = {"Resources": resources}
    template = synthesize(definition(doc))
    assert lint(template, errors_only=True, ignore=("E2533",)) == []
    resources: dict[str, Any] = template["Resources"]
    return resources


def _http(path: str, authorizer: Any, method: str = "get") -> dict[str, Any]:
    return {"http": {"path": path, "method": method, "authorizer": authorizer}}


def test_a_function_authorizer_by_name_is_a_token_authorizer_with_its_permission() -> None:
    res = _service([_http("items", "auth")])
    assert res["AuthApiGatewayAuthorizer"] == {
        "Type": "AWS::ApiGateway::Authorizer",
        "Properties": {
            # the string form leaves the TTL to API Gateway (no property), as the Framework does
            "IdentitySource": "method.request.header.Authorization",
            "Name": "auth",
            "RestApiId": REST,
            "AuthorizerUri": _uri({"Fn::GetAtt": ["AuthLambdaFunction", "Arn"]}),
            "Type": "TOKEN",
        },
    }
    method = res["ApiGatewayMethodItemsGet"]
    assert method["Properties"]["AuthorizationType"] == "CUSTOM"
    assert method["Properties"]["AuthorizerId"] == {"Ref": "AuthApiGatewayAuthorizer"}
    # lodash merges the authorizer's DependsOn over the permission's, index by index
    assert method["DependsOn"] == ["AuthApiGatewayAuthorizer"]
    assert res["AuthLambdaPermissionApiGateway"]["Properties"] == {
        "FunctionName": {"Fn::GetAtt": ["AuthLambdaFunction", "Arn"]},
        "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": _source_arn(REST, "/*/*"),
    }


def test_request_authorizer_settings_and_events_sharing_one_authorizer() -> None:
    res = _service(
        [
            _http(
                "a",
                {
                    "name": "auth-req",
                    "type": "request",
                    "identitySource": "method.request.header.Auth, method.request.querystring.t",
                    "resultTtlInSeconds": 60,
                },
            ),
            _http("b", {"name": "auth-req", "type": "REQUEST", "resultTtlInSeconds": 0}),
            _http(
                "c",
                {"name": "auth", "identityValidationExpression": "^Bearer .+$"},
            ),
            _http("d", {"name": "auth", "type": "token"}),
        ]
    )
    req = res["AuthDashreqApiGatewayAuthorizer"]["Properties"]
    # the second event (TTL 0, no identity source) merges over the first: TTL 0, and the
    # first event's identity source stays (a REQUEST authorizer with TTL 0 needs none)
    assert req["Type"] == "REQUEST"
    assert req["AuthorizerResultTtlInSeconds"] == 0
    assert req["IdentitySource"] == "method.request.header.Auth, method.request.querystring.t"
    token = res["AuthApiGatewayAuthorizer"]["Properties"]
    assert token["IdentityValidationExpression"] == "^Bearer .+$"
    assert token["AuthorizerResultTtlInSeconds"] == 300
    assert token["Type"] == "TOKEN"
    assert res["AuthDashreqLambdaPermissionApiGateway"]["Type"] == "AWS::Lambda::Permission"


def test_lambda_arn_authorizers_and_managed_externally() -> None:
    external = "arn:aws:lambda:us-east-1:123456789012:function:auth-service-dev-external"
    res = _service(
        [
            _http("x", external),
            _http(
                "y",
                {
                    "arn": "arn:aws:lambda:us-east-1:123456789012:function:other",
                    "name": "otherAuth",
                    "managedExternally": True,
                },
            ),
        ]
    )
    # the name is the last `-` part of the function name (naming.js extractAuthorizerNameFromArn)
    assert res["ExternalApiGatewayAuthorizer"]["Properties"]["Name"] == "external"
    assert res["ExternalApiGatewayAuthorizer"]["Properties"]["AuthorizerUri"] == _uri(external)
    assert res["ExternalLambdaPermissionApiGateway"]["Properties"]["FunctionName"] == external
    assert "OtherAuthApiGatewayAuthorizer" in res
    assert "OtherAuthLambdaPermissionApiGateway" not in res


def test_cognito_user_pool_authorizers() -> None:
    pool_arn = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc"
    res = _service(
        [
            _http("a", {"arn": pool_arn, "scopes": ["email"]}),
            _http(
                "b",
                {
                    "type": "COGNITO_USER_POOLS",
                    "name": "pool",
                    "arn": {"Fn::GetAtt": ["UserPool", "Arn"]},
                },
            ),
        ],
        resources={"UserPool": {"Type": "AWS::Cognito::UserPool"}},
    )
    assert res["1UnderscoreabcApiGatewayAuthorizer"]["Properties"] == {
        "AuthorizerResultTtlInSeconds": 300,
        "IdentitySource": "method.request.header.Authorization",
        "Name": "1_abc",
        "RestApiId": REST,
        "Type": "COGNITO_USER_POOLS",
        "ProviderARNs": [pool_arn],
    }
    a = res["ApiGatewayMethodAGet"]["Properties"]
    assert a["AuthorizationType"] == "COGNITO_USER_POOLS"
    assert a["AuthorizationScopes"] == ["email"]
    assert res["PoolApiGatewayAuthorizer"]["Properties"]["ProviderARNs"] == [
        {"Fn::GetAtt": ["UserPool", "Arn"]}
    ]
    assert not [k for k in res if k.startswith(("Pool", "1Underscore")) and "Permission" in k]


def test_aws_iam_and_existing_authorizers() -> None:
    res = _service(
        [
            _http("iam", "aws_iam"),
            _http("iam2", {"type": "aws_iam"}),
            _http("ext", {"type": "token", "authorizerId": "abc123"}),
            _http("pool", {"type": "COGNITO_USER_POOLS", "authorizerId": "p1", "scopes": ["s"]}),
        ]
    )
    for path in ("Iam", "Iam2"):
        method = res[f"ApiGatewayMethod{path}Get"]
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM"
        assert "AuthorizerId" not in method["Properties"]
        assert method["DependsOn"] == ["ApiLambdaPermissionApiGateway"]
    ext = res["ApiGatewayMethodExtGet"]["Properties"]
    assert (ext["AuthorizationType"], ext["AuthorizerId"]) == ("CUSTOM", "abc123")
    pool = res["ApiGatewayMethodPoolGet"]["Properties"]
    assert pool["AuthorizationType"] == "COGNITO_USER_POOLS"
    assert pool["AuthorizationScopes"] == ["s"]
    assert not [r for r in res.values() if r["Type"] == "AWS::ApiGateway::Authorizer"]


HTTP_API_AUTHORIZERS = {
    "jwtAuth": {
        "identitySource": "$request.header.Authorization",
        "issuerUrl": "https://issuer.example.com",
        "audience": ["c1", "c1", "c2"],
    },
    "custom": {
        "type": "request",
        "functionName": "auth",
        "resultTtlInSeconds": 300,
        "identitySource": ["$request.header.Authorization"],
        "enableSimpleResponses": True,
        "payloadVersion": "1.0",
    },
    "outside": {
        "type": "request",
        "name": "Outside-Auth",
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:shared",
        "managedExternally": True,
    },
}


def _route(path: str, authorizer: Any) -> dict[str, Any]:
    return {"httpApi": {"method": "GET", "path": path, "authorizer": authorizer}}


def test_http_api_jwt_and_request_authorizers() -> None:
    api = {"Ref": "HttpApi"}
    res = _service(
        [
            {"httpApi": "GET /open"},
            _route("/jwt", "jwtAuth"),
            _route("/scoped", {"name": "jwtAuth", "scopes": ["read", "read", "write"]}),
            _route("/custom", {"name": "custom"}),
            _route("/iam", {"type": "aws_iam"}),
        ],
        httpApi={"authorizers": HTTP_API_AUTHORIZERS},
    )
    assert res["HttpApiAuthorizerJwtAuth"] == {
        "Type": "AWS::ApiGatewayV2::Authorizer",
        "Properties": {
            "ApiId": api,
            "Name": "jwtAuth",
            "IdentitySource": ["$request.header.Authorization"],
            "AuthorizerType": "JWT",
            "JwtConfiguration": {"Audience": ["c1", "c2"], "Issuer": "https://issuer.example.com"},
        },
    }
    assert res["HttpApiAuthorizerCustom"]["Properties"] == {
        "ApiId": api,
        "Name": "custom",
        "IdentitySource": ["$request.header.Authorization"],
        "AuthorizerType": "REQUEST",
        "EnableSimpleResponses": True,
        "AuthorizerResultTtlInSeconds": 300,
        "AuthorizerPayloadFormatVersion": "1.0",
        "AuthorizerUri": _uri({"Fn::GetAtt": ["AuthLambdaFunction", "Arn"]}),
    }
    assert res["CustomLambdaAuthorizerPermissionHttpApi"]["Properties"]["SourceArn"] == (
        _source_arn(api, "/*")
    )
    # configured but unused authorizers are compiled too; managed externally: no permission
    assert res["HttpApiAuthorizerOutsideDashAuth"]["Properties"]["IdentitySource"] == []
    assert "OutsideDashAuthLambdaAuthorizerPermissionHttpApi" not in res

    def route(key: str) -> dict[str, Any]:
        props: dict[str, Any] = res[key]["Properties"]
        return props

    assert "AuthorizationType" not in route("HttpApiRouteGetOpen")
    assert route("HttpApiRouteGetJwt")["AuthorizationType"] == "JWT"
    assert route("HttpApiRouteGetJwt")["AuthorizerId"] == {"Ref": "HttpApiAuthorizerJwtAuth"}
    assert "AuthorizationScopes" not in route("HttpApiRouteGetJwt")
    assert route("HttpApiRouteGetScoped")["AuthorizationScopes"] == ["read", "write"]
    assert route("HttpApiRouteGetCustom")["AuthorizationType"] == "CUSTOM"
    assert route("HttpApiRouteGetIam")["AuthorizationType"] == "AWS_IAM"
    assert "AuthorizerId" not in route("HttpApiRouteGetIam")


@pytest.mark.parametrize(
    ("events", "provider", "key", "says"),
    [
        ([_http("a", "missing")], {}, "functions.api.events[0].http.authorizer", "not in this"),
        (
            [_http("a", {"name": "auth", "claims": ["email"]})],
            {},
            "functions.api.events[0].http.authorizer.claims",
            "not supported",
        ),
        (
            [_http("a", {"identitySource": "x"})],
            {},
            "functions.api.events[0].http.authorizer",
            "`name` or an `arn`",
        ),
        (
            [_http("a", {"name": "auth", "type": "magic"})],
            {},
            "functions.api.events[0].http.authorizer.type",
            "unknown authorizer type",
        ),
        (
            [_http("a", {"name": "auth", "resultTtlInSeconds": 7200})],
            {},
            "functions.api.events[0].http.authorizer.resultTtlInSeconds",
            "between 0 and 3600",
        ),
        (
            [_http("a", {"type": "COGNITO_USER_POOLS", "arn": {"Ref": "Pool"}})],
            {},
            "functions.api.events[0].http.authorizer.name",
            "needs a `name`",
        ),
        (
            [_route("/a", "nope")],
            {"httpApi": {"authorizers": HTTP_API_AUTHORIZERS}},
            "functions.api.events[0].httpApi.authorizer",
            "not configured",
        ),
        (
            [_route("/a", {"type": "aws_iam", "name": "jwtAuth"})],
            {"httpApi": {"authorizers": HTTP_API_AUTHORIZERS}},
            "functions.api.events[0].httpApi.authorizer",
            "no other setting",
        ),
        (
            [_route("/a", {"type": "jwt", "id": "abc"})],
            {},
            "functions.api.events[0].httpApi.authorizer.id",
            "external HTTP API",
        ),
        (
            [_route("/a", {"name": "x", "extra": 1})],
            {},
            "functions.api.events[0].httpApi.authorizer.extra",
            "not supported",
        ),
        (
            [_route("/a", "r")],
            {"httpApi": {"authorizers": {"r": {"type": "request"}}}},
            "provider.httpApi.authorizers.r",
            "`functionName` or `functionArn`",
        ),
        (
            [_route("/a", "r")],
            {"httpApi": {"authorizers": {"r": {"type": "request", "functionName": "ghost"}}}},
            "provider.httpApi.authorizers.r.functionName",
            "not in this service",
        ),
        (
            [_route("/a", "r")],
            {
                "httpApi": {
                    "authorizers": {
                        "r": {"type": "request", "functionName": "auth", "resultTtlInSeconds": 5}
                    }
                }
            },
            "provider.httpApi.authorizers.r.identitySource",
            "`identitySource` is required",
        ),
        (
            [_route("/a", "j")],
            {"httpApi": {"authorizers": {"j": {"type": "jwt", "issuerUrl": "https://i"}}}},
            "provider.httpApi.authorizers.j.identitySource",
            "needs `identitySource`",
        ),
        (
            [_route("/a", "j")],
            {"httpApi": {"authorizers": {"j": {"type": "oidc"}}}},
            "provider.httpApi.authorizers.j.type",
            "unknown authorizer type",
        ),
    ],
)
def test_bad_authorizers_are_errors_naming_the_key(
    events: list[Any], provider: dict[str, Any], key: str, says: str
) -> None:
    with pytest.raises(ShipwayError) as info:
        _service(events, **provider)
    assert info.value.where is not None and info.value.where.key == key
    assert says in info.value.message
