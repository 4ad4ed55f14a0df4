"""`http` event authorizers: api-gateway/lib/authorizers.js, method/authorization.js and the
authorizer half of permissions.js (Serverless Framework v3.40.0)."""

from __future__ import annotations

from typing import Any

from shipway.config.authorizers import RestAuthorizer
from shipway.synth import naming
from shipway.synth.cfn import invoke_permission, join
from shipway.synth.jsutil import lodash_merge

__all__ = ["compile_rest_authorizer", "method_authorization"]


def method_authorization(auth: RestAuthorizer | None) -> dict[str, Any]:
    """What authorization.js merges into a method (`Properties`, and `DependsOn`)."""
    if auth is None:
        return {"Properties": {"AuthorizationType": "NONE"}}
    if auth.is_iam:
        return {"Properties": {"AuthorizationType": "AWS_IAM"}}
    assert auth.type is not None or not auth.authorizer_id
    if auth.type and auth.authorizer_id:
        upper = auth.type.upper()
        props: dict[str, Any] = {
            "AuthorizationType": "CUSTOM" if upper in ("TOKEN", "REQUEST") else auth.type,
            "AuthorizerId": auth.authorizer_id,
        }
        if upper == "COGNITO_USER_POOLS" and auth.scopes:
            props["AuthorizationScopes"] = list(auth.scopes)
        return {"Properties": props}
    logical_id = naming.api_gateway_authorizer(str(auth.name))
    props = {"AuthorizationType": "CUSTOM", "AuthorizerId": {"Ref": logical_id}}
    if auth.is_cognito:
        props["AuthorizationType"] = "COGNITO_USER_POOLS"
        if auth.scopes:
            props["AuthorizationScopes"] = list(auth.scopes)
    return {"Properties": props, "DependsOn": [logical_id]}


def compile_rest_authorizer(
    resources: dict[str, Any], auth: RestAuthorizer | None, rest_ref: Any
) -> None:
    """The `AWS::ApiGateway::Authorizer` of one event, and the permission to invoke it.

    Several events naming one authorizer merge into one resource (lodash `_.merge`, as the
    Framework does: the last event's settings win).
    """
    if auth is None or not auth.arn:
        return
    props: dict[str, Any] = {
        "AuthorizerResultTtlInSeconds": auth.result_ttl,
        "IdentitySource": auth.identity_source,
        "Name": auth.name,
        "RestApiId": rest_ref,
    }
    if auth.identity_validation_expression is not None:
        props["IdentityValidationExpression"] = auth.identity_validation_expression
    if auth.is_cognito:
        props["Type"] = "COGNITO_USER_POOLS"
        props["ProviderARNs"] = [auth.arn]
    else:
        props["AuthorizerUri"] = join(
            "arn:",
            {"Ref": "AWS::Partition"},
            ":apigateway:",
            {"Ref": "AWS::Region"},
            ":lambda:path/2015-03-31/functions/",
            auth.arn,
            "/invocations",
        )
        props["Type"] = auth.type.upper() if auth.type else "TOKEN"
    # JSON drops the Framework's `undefined`s
    props = {k: v for k, v in props.items() if v is not None}
    lodash_merge(
        resources,
        {
            naming.api_gateway_authorizer(str(auth.name)): {
                "Type": "AWS::ApiGateway::Authorizer",
                "Properties": props,
            }
        },
    )

    if auth.is_cognito or auth.managed_externally:
        return
    permission_id = naming.lambda_api_gateway_permission(str(auth.name))
    if permission_id not in resources:
        resources[permission_id] = invoke_permission(auth.arn, rest_ref, "/*/*")
