"""Per-function `iamRoleStatements`: the serverless-iam-roles-per-function plugin (v3.2.0),
which Shipway implements rather than runs.

A function with `iamRoleStatements` gets its own role, `<Function>IamRoleLambdaExecution`: a
copy of IamRoleLambdaExecution whose statements are the function's log statement, the
statements its stream / sqs events need, `sns:Publish` on its `onError`, the provider's
statements when inherited (`iamRoleStatementsInherit`, or the plugin's `defaultInherit`), then
its own; its event source mappings depend on that role. Runs after the event compilers, as the
plugin does (`before:package:finalize`).
"""

from __future__ import annotations

import copy
from typing import Any

from shipway.synth import naming
from shipway.synth.context import Context
from shipway.synth.iam import coerce_actions

__all__ = ["FUNCTION_ROLE_KEYS", "PLUGIN", "compile_function_roles"]

PLUGIN = "serverless-iam-roles-per-function"
FUNCTION_ROLE_KEYS = (
    "iamRoleStatements",
    "iamRoleStatementsName",
    "iamRoleStatementsInherit",
    "iamPermissionsBoundary",
)


def compile_function_roles(ctx: Context, plugins: list[str], custom: Any) -> None:
    settings = custom.get(PLUGIN) if isinstance(custom, dict) else None
    settings = settings if isinstance(settings, dict) else {}
    default_inherit = bool(settings.get("defaultInherit", False))
    global_boundary = settings.get("iamGlobalPermissionsBoundary")
    mapped: dict[str, str] = {}
    for fn in ctx.functions:
        used = [k for k in FUNCTION_ROLE_KEYS if k in fn.spec]
        if not used:
            continue
        base = f"functions.{fn.key}"
        if PLUGIN not in plugins:
            raise ctx.invalid(
                f"{base}.{used[0]}",
                f"`{used[0]}` is the `{PLUGIN}` plugin's setting: list it under `plugins:`",
            )
        if "iamRoleStatements" not in fn.spec:
            continue
        statements = fn.spec["iamRoleStatements"]
        if fn.spec.get("role"):
            raise ctx.invalid(f"{base}.role", "a function takes `role` or `iamRoleStatements`")
        global_role = ctx.resources.get(naming.ROLE)
        if global_role is None:
            raise ctx.invalid(
                f"{base}.iamRoleStatements",
                "per-function roles are copies of IamRoleLambdaExecution, which this service "
                "does not create (`provider.role` / `provider.iam.role` is an existing role)",
            )
        _check_statements(ctx, f"{base}.iamRoleStatements", statements)
        role = copy.deepcopy(global_role)
        props = role["Properties"]
        log_group = naming.log_group_name(fn.physical_name)
        policy: list[Any] = [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:CreateLogGroup", "logs:PutLogEvents"],
                "Resource": [
                    {
                        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                        f":log-group:{log_group}:*:*"
                    }
                ],
            }
        ]
        props["Policies"][0]["PolicyDocument"]["Statement"] = policy
        props["ManagedPolicyArns"] = []
        if fn.spec.get("vpc") or ctx.provider.get("vpc"):
            props["ManagedPolicyArns"] = [
                {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
                        ],
                    ]
                }
            ]
        policy += _event_statements(ctx, fn.key, fn.spec.get("events") or [])
        if fn.spec.get("onError"):
            policy.append(
                {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": fn.spec["onError"]}
            )
        inherit = fn.spec.get("iamRoleStatementsInherit")
        if inherit or (default_inherit and inherit is not False):
            policy += coerce_actions(_provider_statements(ctx.provider))
        if isinstance(statements, list):
            policy += coerce_actions(statements)
        boundary = fn.spec.get("iamPermissionsBoundary") or global_boundary
        if boundary:
            props["PermissionsBoundary"] = boundary
        if global_boundary:
            global_role["Properties"]["PermissionsBoundary"] = global_boundary
        props["RoleName"] = fn.spec.get("iamRoleStatementsName") or _role_name(ctx, fn.key)
        role_id = naming.normalized_function_name(fn.key) + naming.ROLE
        ctx.resources[role_id] = role
        resource = ctx.resources[fn.logical_id]
        depends = resource.get("DependsOn") or []
        resource["DependsOn"] = [role_id, *(d for d in depends if d != naming.ROLE)]
        resource["Properties"]["Role"] = {"Fn::GetAtt": [role_id, "Arn"]}
        mapped[fn.logical_id] = role_id
    for resource in ctx.resources.values():
        if resource.get("Type") == "AWS::Lambda::EventSourceMapping":
            target = resource.get("Properties", {}).get("FunctionName", {})
            getatt = target.get("Fn::GetAtt") if isinstance(target, dict) else None
            if isinstance(getatt, list) and getatt and getatt[0] in mapped:
                resource["DependsOn"] = mapped[getatt[0]]


def _provider_statements(provider: dict[str, Any]) -> list[Any]:
    iam = provider.get("iam")
    if iam:
        role = iam.get("role") if isinstance(iam, dict) else None
        found = role.get("statements") if isinstance(role, dict) else None
    else:
        found = provider.get("iamRoleStatements")
    return list(found) if isinstance(found, list) else []


def _check_statements(ctx: Context, key: str, statements: Any) -> None:
    if not statements:
        return
    if not isinstance(statements, list):
        raise ctx.invalid(key, f"`{key}` must be a list of IAM statements")
    for i, statement in enumerate(statements):
        missing = [
            " / ".join(group)
            for group in (("Effect",), ("Action", "NotAction"), ("Resource", "NotResource"))
            if not isinstance(statement, dict) or all(not statement.get(p) for p in group)
        ]
        if missing:
            raise ctx.invalid(f"{key}[{i}]", f"the statement has no {', '.join(missing)}")


def _event_statements(ctx: Context, fn_key: str, events: list[Any]) -> list[Any]:
    dynamodb: list[Any] = []
    kinesis: list[Any] = []
    queues: list[Any] = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            continue
        if "stream" in event:
            raw = event["stream"]
            arn = raw.get("arn") if isinstance(raw, dict) else raw
            kind = raw.get("type") if isinstance(raw, dict) else None
            kind = kind or (
                arn.split(":")[2] if isinstance(arn, str) and arn.count(":") > 1 else ""
            )
            if kind == "dynamodb":
                dynamodb.append(arn)
            elif kind == "kinesis":
                kinesis.append(arn)
            else:
                raise ctx.invalid(
                    f"functions.{fn_key}.events[{index}].stream",
                    f"the `{PLUGIN}` plugin takes dynamodb or kinesis streams, not `{kind}`",
                )
        if "sqs" in event:
            raw = event["sqs"]
            queues.append(raw.get("arn") if isinstance(raw, dict) else raw)
    out: list[Any] = []
    for service, resources in (("dynamodb", dynamodb), ("kinesis", kinesis)):
        if resources:
            actions = ["GetRecords", "GetShardIterator", "DescribeStream", "ListStreams"]
            out.append(
                {
                    "Effect": "Allow",
                    "Action": [f"{service}:{a}" for a in actions],
                    "Resource": resources,
                }
            )
    if queues:
        out.append(
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": queues,
            }
        )
    return out


def _role_name(ctx: Context, fn_key: str) -> dict[str, Any]:
    """The provider's role name with the function's name third; `lambdaRole` dropped, then an
    error, past IAM's 64 characters."""
    name: dict[str, Any] = copy.deepcopy(naming.role_name(ctx.service, ctx.stage))
    parts: list[Any] = name["Fn::Join"][1]
    parts.insert(2, fn_key)

    def length() -> int:
        total = sum(
            len(ctx.region)
            if p == {"Ref": "AWS::Region"}
            else len(p.get("Ref", ""))
            if isinstance(p, dict)
            else len(p)
            for p in parts
        )
        return total + len(parts) - 1

    if length() > 64 and parts[-1] == "lambdaRole":
        parts.pop()
    if length() > 64:
        raise ctx.invalid(
            f"functions.{fn_key}",
            f"the role name made for `{fn_key}` is over 64 characters: set `iamRoleStatementsName`",
        )
    return name
