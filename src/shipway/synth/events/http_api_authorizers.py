"""`httpApi` authorizers: http-api.js compileAuthorizers, compileAuthorizerLambdaPermission
and the authorization half of compileEndpoints (Serverless Framework v3.40.0)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shipway.config.http_api_authorizers import HttpApiAuthorizer, HttpApiRouteAuthorizer
from shipway.synth import naming
from shipway.synth.cfn import invoke_permission, join

__all__ = ["compile_http_api_authorizers", "route_auth"]


def compile_http_api_authorizers(
    resources: dict[str, Any], authorizers: Iterable[HttpApiAuthorizer], api_ref: Any
) -> None:
    """One `AWS::ApiGatewayV2::Authorizer` per configured authorizer, used or not."""
    for auth in authorizers:
        props: dict[str, Any] = {
            "ApiId": api_ref,
            "Name": auth.name,
            "IdentitySource": list(auth.identity_source),
        }
        if auth.is_request:
            function_arn = auth.function_arn or naming_arn(auth.function)
            props["AuthorizerType"] = "REQUEST"
            if auth.simple_responses is not None:
                props["EnableSimpleResponses"] = auth.simple_responses
            if auth.result_ttl is not None:
                props["AuthorizerResultTtlInSeconds"] = auth.result_ttl
            props["AuthorizerPayloadFormatVersion"] = auth.payload_version
            props["AuthorizerUri"] = join(
                "arn:",
                {"Ref": "AWS::Partition"},
                ":apigateway:",
                {"Ref": "AWS::Region"},
                ":lambda:path/2015-03-31/functions/",
                function_arn,
                "/invocations",
            )
            if not auth.managed_externally:
                resources[naming.http_api_authorizer_permission(auth.name)] = invoke_permission(
                    function_arn, api_ref, "/*"
                )
        else:
            props["AuthorizerType"] = "JWT"
            props["JwtConfiguration"] = {"Audience": list(auth.audience), "Issuer": auth.issuer_url}
        resources[naming.http_api_authorizer(auth.name)] = {
            "Type": "AWS::ApiGatewayV2::Authorizer",
            "Properties": props,
        }


def naming_arn(function: str | None) -> dict[str, Any]:
    return {"Fn::GetAtt": [naming.lambda_logical_id(str(function)), "Arn"]}


def route_auth(route: HttpApiRouteAuthorizer) -> dict[str, Any]:
    """The route's AuthorizationType, AuthorizerId and AuthorizationScopes."""
    if route.type == "aws_iam":
        return {"AuthorizationType": "AWS_IAM"}
    props: dict[str, Any] = {
        "AuthorizationType": "CUSTOM" if route.type == "request" else "JWT",
        "AuthorizerId": route.external_id
        or {"Ref": naming.http_api_authorizer(route.authorizer.name if route.authorizer else "")},
    }
    if route.scopes:
        props["AuthorizationScopes"] = list(route.scopes)
    return props
