"""The Lambda execution role (IamRoleLambdaExecution) and the functions' log groups.

Follows lib/plugins/aws/package/lib/merge-iam-templates.js of the Serverless Framework
v3.40.0, and the provider's role helpers (getCustomExecutionRole,
resolveFunctionIamRoleResourceName, isExistingRoleProvided).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from shipway.synth import naming
from shipway.synth.cfn import join, lambda_assume_role_policy
from shipway.synth.context import Context, check_keys

__all__ = [
    "coerce_actions",
    "compile_iam",
    "custom_execution_role",
    "is_existing_role",
    "role_resource_name",
]


def is_existing_role(role: Any) -> bool:
    """provider.isExistingRoleProvided: an ARN/name string or an intrinsic function."""
    if isinstance(role, str):
        return True
    if isinstance(role, dict):
        return any(k == "Ref" or k.startswith("Fn::") for k in role)
    return False


def _provider_role(provider: Mapping[str, Any]) -> dict[str, Any]:
    iam = provider.get("iam")
    if isinstance(iam, dict) and isinstance(iam.get("role"), dict):
        role: dict[str, Any] = iam["role"]
        return role
    return {}


def custom_execution_role(provider: Mapping[str, Any], spec: Mapping[str, Any]) -> Any:
    """provider.getCustomExecutionRole."""
    if spec.get("role"):
        return spec["role"]
    iam = provider.get("iam")
    role = iam.get("role") if isinstance(iam, dict) else None
    if is_existing_role(role):
        return role
    return provider.get("role")


def role_resource_name(role: Any) -> str | None:
    """provider.resolveFunctionIamRoleResourceName (role=None means the default role)."""
    if role is None:
        return naming.ROLE
    if isinstance(role, str):
        return None if ":" in role else role
    if isinstance(role, dict):
        getatt = role.get("Fn::GetAtt")
        if (
            isinstance(getatt, list)
            and len(getatt) == 2
            and isinstance(getatt[0], str)
            and getatt[1] == "Arn"
        ):
            return getatt[0]
    return None


def compile_iam(ctx: Context) -> None:
    """merge-iam-templates.js: log groups, then IamRoleLambdaExecution."""
    if not ctx.functions:
        return
    retention_default = ctx.provider.get("logRetentionInDays")
    protection_default = ctx.provider.get("logDataProtectionPolicy")
    for fn in ctx.functions:
        if fn.spec.get("disableLogs"):
            continue
        props: dict[str, Any] = {"LogGroupName": naming.log_group_name(fn.physical_name)}
        retention = fn.spec.get("logRetentionInDays") or retention_default
        if retention:
            props["RetentionInDays"] = retention
        protection = fn.spec.get("logDataProtectionPolicy") or protection_default
        if protection:
            props["DataProtectionPolicy"] = protection
        ctx.resources[naming.log_group(fn.key)] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": props,
        }

    iam = ctx.provider.get("iam")
    if isinstance(iam, dict):
        check_keys(ctx.source, "provider.iam", iam, ("role", "deploymentRole"))
        if is_existing_role(iam.get("role")):
            return
    if "role" in ctx.provider:
        return
    if all("role" in fn.spec for fn in ctx.functions):
        return
    role = _provider_role(ctx.provider)
    check_keys(
        ctx.source,
        "provider.iam.role",
        role,
        (
            "name",
            "path",
            "statements",
            "managedPolicies",
            "tags",
            "permissionsBoundary",
            "permissionBoundary",
        ),
    )
    props = {
        "AssumeRolePolicyDocument": lambda_assume_role_policy(),
        "Policies": [
            {
                "PolicyName": naming.policy_name(ctx.service, ctx.stage),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "logs:CreateLogStream",
                                "logs:CreateLogGroup",
                                "logs:TagResource",
                            ],
                            "Resource": [],
                        },
                        {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": []},
                    ],
                },
            }
        ],
        "Path": role.get("path") or "/",
        "RoleName": role.get("name") or naming.role_name(ctx.service, ctx.stage),
    }
    tags = role.get("tags")
    if isinstance(tags, dict):
        props["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    boundary = (
        role.get("permissionsBoundary")
        or role.get("permissionBoundary")
        or ctx.provider.get("rolePermissionsBoundary")
    )
    if boundary:
        props["PermissionsBoundary"] = boundary
    ctx.resources[naming.ROLE] = {"Type": "AWS::IAM::Role", "Properties": props}

    statements: list[Any] = props["Policies"][0]["PolicyDocument"]["Statement"]
    prefix = f"{ctx.service}-{ctx.stage}"
    log_prefix = naming.log_group_name(prefix)
    arn = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    canonical = False
    disabled: list[str] = []
    for fn in ctx.functions:
        if fn.physical_name.startswith(prefix):
            if fn.spec.get("disableLogs"):
                disabled.append(fn.physical_name)
            else:
                canonical = True
            continue
        if not fn.spec.get("disableLogs"):
            own = naming.log_group_name(fn.physical_name)
            statements[0]["Resource"].append({"Fn::Sub": f"{arn}{own}:*"})
            statements[1]["Resource"].append({"Fn::Sub": f"{arn}{own}:*:*"})
    if canonical:
        statements[0]["Resource"].append({"Fn::Sub": f"{arn}{log_prefix}*:*"})
        statements[1]["Resource"].append({"Fn::Sub": f"{arn}{log_prefix}*:*:*"})
        if disabled:
            statements.append(
                {
                    "Effect": "Deny",
                    "Action": "logs:PutLogEvents",
                    "Resource": [
                        {"Fn::Sub": f"{arn}{naming.log_group_name(name)}:*"} for name in disabled
                    ],
                }
            )
    if role.get("statements"):
        statements.extend(
            coerce_actions(_listed(ctx, "provider.iam.role.statements", role["statements"], dict))
        )
    elif ctx.provider.get("iamRoleStatements"):
        given = ctx.provider["iamRoleStatements"]
        statements.extend(coerce_actions(_listed(ctx, "provider.iamRoleStatements", given, dict)))
    if role.get("managedPolicies"):
        managed = _listed(ctx, "provider.iam.role.managedPolicies", role["managedPolicies"])
    else:
        given = ctx.provider.get("iamManagedPolicies")
        managed = _listed(ctx, "provider.iamManagedPolicies", given) if given else []
    if managed:
        props["ManagedPolicyArns"] = managed
    if any("vpc" in fn.spec for fn in ctx.functions) or ctx.provider.get("vpc"):
        props.setdefault("ManagedPolicyArns", []).append(
            join(
                "arn:",
                {"Ref": "AWS::Partition"},
                ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
            )
        )


def _listed(ctx: Context, key: str, value: Any, item: type | None = None) -> list[Any]:
    """A copy of `value`, which must be a list (of `item`s when given), else a ShipwayError
    naming `key`."""
    if not isinstance(value, list):
        raise ctx.invalid(key, f"`{key}` must be a list, not {type(value).__name__}")
    if item is not None:
        for i, entry in enumerate(value):
            if not isinstance(entry, item):
                raise ctx.invalid(
                    f"{key}[{i}]", f"`{key}[{i}]` must be a mapping (an IAM statement)"
                )
    return copy.deepcopy(value)


def coerce_actions(statements: list[Any]) -> list[Any]:
    """Copies, with a string `Action` / `NotAction` made a list: the Framework's schema
    validation coerces them so (ajv `coerceTypes: "array"`)."""
    out = copy.deepcopy(statements)
    for statement in out:
        for key in ("Action", "NotAction"):
            if isinstance(statement, dict) and isinstance(statement.get(key), str):
                statement[key] = [statement[key]]
    return out
