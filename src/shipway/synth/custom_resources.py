"""The Framework's custom resources (lib/plugins/aws/custom-resources/index.js): a Lambda
per kind, one role for them all, code from `custom-resources.zip` next to the artifacts.

Shipway ships the same handlers (targets/aws/custom_resources/, uploaded by the deploy)
and writes the same resources, with one deliberate difference: the functions run on
`nodejs24.x` — the Framework's `nodejs18.x` can no longer be created on Lambda (blocked
since 2026-06-01), so a template that copied it would fail on AWS today.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from shipway.synth import naming
from shipway.synth.cfn import lambda_assume_role_policy
from shipway.synth.context import Context

__all__ = [
    "RUNTIME",
    "CustomResource",
    "add_custom_resource",
    "ensure_api_gateway_cloudwatch_role",
    "handler_function_ids",
]

#: the custom resources' runtime (see the module's docstring)
RUNTIME = "nodejs24.x"

CustomResource = Literal["s3", "apiGatewayCloudWatchRole"]

# kind -> (function name, handler in the zip)
_KINDS: dict[str, tuple[str, str]] = {
    "s3": ("custom-resource-existing-s3", "s3/handler.handler"),
    "apiGatewayCloudWatchRole": (
        "custom-resource-apigw-cw-role",
        "api-gateway-cloud-watch-role/handler.handler",
    ),
}


def handler_function_ids() -> frozenset[str]:
    """The logical IDs of every custom-resource function Shipway can write."""
    return frozenset(naming.lambda_logical_id(name) for name, _ in _KINDS.values())


def _arn_sub(tail: str) -> dict[str, Any]:
    return {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}" + tail}


def add_custom_resource(
    ctx: Context, kind: CustomResource, statements: list[dict[str, Any]]
) -> None:
    """addCustomResourceToService: the kind's function, and `statements` added to the
    shared role."""
    name, handler = _KINDS[kind]
    prefix = f"{ctx.service}-{ctx.stage}"
    physical = f"{prefix}-{name}"
    if len(physical) > 64:  # Lambda's limit: the Framework's shortening, kept for its names
        physical = physical[:32] + hashlib.md5(physical.encode()).hexdigest()
    logs = ctx.provider.get("logs")
    write_logs = isinstance(logs, dict) and bool(logs.get("frameworkLambda"))
    res = ctx.resources
    iam = ctx.provider.get("iam")
    deployment_role = (iam.get("deploymentRole") if isinstance(iam, dict) else None) or (
        ctx.provider.get("cfnRole")
    )

    if not deployment_role:
        role = res.get(naming.CUSTOM_RESOURCES_ROLE)
        if role is None:
            role = {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": lambda_assume_role_policy(),
                    "Policies": [
                        {
                            "PolicyName": {
                                "Fn::Join": [
                                    "-",
                                    [ctx.stage, ctx.service, "custom-resources-lambda"],
                                ]
                            },
                            "PolicyDocument": {"Version": "2012-10-17", "Statement": []},
                        }
                    ],
                },
            }
            res[naming.CUSTOM_RESOURCES_ROLE] = role
            if write_logs:
                group = naming.log_group_name(prefix)
                role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"] += [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "logs:CreateLogStream",
                            "logs:CreateLogGroup",
                            "logs:TagResource",
                        ],
                        "Resource": [_arn_sub(f":log-group:{group}*:*")],
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["logs:PutLogEvents"],
                        "Resource": [_arn_sub(f":log-group:{group}*:*:*")],
                    },
                ]
        existing: list[Any] = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        for statement in statements:
            # the Framework compares with `===`: only a string Resource is ever a duplicate
            resource = statement["Resource"]
            if not (
                isinstance(resource, str) and any(s.get("Resource") == resource for s in existing)
            ):
                existing.append(statement)

    function_id = naming.lambda_logical_id(name)
    function: dict[str, Any] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Code": dict(ctx.custom_resources_code),
            "FunctionName": physical,
            "Handler": handler,
            "MemorySize": 1024,
            "Runtime": RUNTIME,
            "Timeout": 180,
        },
        "DependsOn": [],
    }
    res[function_id] = function
    if deployment_role:
        function["Properties"]["Role"] = deployment_role
    else:
        function["Properties"]["Role"] = {"Fn::GetAtt": [naming.CUSTOM_RESOURCES_ROLE, "Arn"]}
        function["DependsOn"].append(naming.CUSTOM_RESOURCES_ROLE)
    if write_logs:
        log_group_id = naming.log_group(name)
        function["DependsOn"].append(log_group_id)
        props: dict[str, Any] = {"LogGroupName": naming.log_group_name(physical)}
        # the Framework writes both keys, undefined ones included (dropped as nulls)
        props["RetentionInDays"] = ctx.provider.get("logRetentionInDays")
        props["DataProtectionPolicy"] = ctx.provider.get("logDataProtectionPolicy")
        res[log_group_id] = {"Type": "AWS::Logs::LogGroup", "Properties": props}


def ensure_api_gateway_cloudwatch_role(ctx: Context) -> None:
    """ensure-api-gateway-cloud-watch-role.js: the account's API Gateway CloudWatch role,
    set by a custom resource (once per stack), unless `provider.logs.restApi` says the role
    is managed outside it."""
    logs = ctx.provider.get("logs")
    rest = logs.get("restApi") if isinstance(logs, dict) else None
    rest = rest if isinstance(rest, dict) else {}
    if rest.get("roleManagedExternally") or naming.APIGW_CLOUDWATCH_ROLE_RESOURCE in ctx.resources:
        return
    function_id = naming.lambda_logical_id(_KINDS["apiGatewayCloudWatchRole"][0])
    ctx.resources[naming.APIGW_CLOUDWATCH_ROLE_RESOURCE] = {
        "Type": "Custom::ApiGatewayAccountRole",
        "Version": 1.0,
        "Properties": {
            "ServiceToken": {"Fn::GetAtt": [function_id, "Arn"]},
            "RoleArn": rest.get("role"),
        },
    }
    partition = {"Ref": "AWS::Partition"}
    add_custom_resource(
        ctx,
        "apiGatewayCloudWatchRole",
        [
            {
                "Effect": "Allow",
                "Resource": {
                    "Fn::Join": [
                        ":",
                        ["arn", partition, "iam:", {"Ref": "AWS::AccountId"}, "role/*"],
                    ]
                },
                "Action": [
                    "iam:AttachRolePolicy",
                    "iam:CreateRole",
                    "iam:ListAttachedRolePolicies",
                    "iam:PassRole",
                ],
            },
            {
                "Effect": "Allow",
                "Resource": {"Fn::Join": [":", ["arn", partition, "apigateway:*::/account"]]},
                "Action": ["apigateway:GET", "apigateway:PATCH"],
            },
        ],
    )
