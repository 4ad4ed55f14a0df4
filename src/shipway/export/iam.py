"""The exported pipeline's roles, least privilege: what each principal does, on the ARNs of
this environment's own stacks, buckets, functions and roles (`<service>-<stage>…`).

- the pipeline: the artifact bucket, its two CodeBuild projects, the source, the
  approval topic;
- the Build project: its logs, the artifact bucket, reading what planning reads (stack
  outputs, SSM parameters);
- the Deploy project: the same, and CloudFormation on the environment's stacks with what
  the Serverless Framework's stacks hold (deployment buckets, functions, their roles, log
  groups, API Gateway, schedules). What a service's `resources:` make (tables, queues …)
  comes from the `ExtraDeployPolicyArns` parameter: the team's own policy.

IAM bounds a managed policy at 6,144 characters: the per-service ARNs are split into as
many managed policies as they need (`managed_policies`), at most ten to a role.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = [
    "MAX_MANAGED_POLICIES",
    "MAX_POLICY_CHARS",
    "deploy_statements",
    "managed_policies",
    "read_statements",
]

MAX_POLICY_CHARS = 6144  # IAM: a managed policy document, without whitespace
MAX_MANAGED_POLICIES = 10  # IAM's default quota of managed policies attached to a role

#: what CloudFormation is asked on the environment's stacks (the AWS target's calls)
_STACK_ACTIONS = [
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "cloudformation:DeleteStack",
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:ListChangeSets",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResource",
    "cloudformation:DescribeStackResources",
    "cloudformation:ListStackResources",
    "cloudformation:GetTemplate",
    "cloudformation:TagResource",
]


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def read_statements(region: str) -> list[dict[str, Any]]:
    """What planning reads: stack outputs (`${cf:}`, of the repository's stacks or any
    other in the region) and SSM parameters (`${ssm:}`); read-only."""
    return [
        {
            "Effect": "Allow",
            "Action": ["cloudformation:DescribeStacks"],
            "Resource": _sub(
                f"arn:${{AWS::Partition}}:cloudformation:{region}:${{AWS::AccountId}}:stack/*"
            ),
        },
        {
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters"],
            "Resource": _sub(
                f"arn:${{AWS::Partition}}:ssm:{region}:${{AWS::AccountId}}:parameter/*"
            ),
        },
    ]


def deploy_statements(stacks: Sequence[str], region: str) -> list[dict[str, Any]]:
    """What deploying the stacks takes: one statement per kind of resource, each listing
    every stack's own ARN pattern."""
    account = "${AWS::AccountId}"
    part = "${AWS::Partition}"

    def each(pattern: str) -> list[dict[str, str]]:
        """`pattern` for every stack: `<stack>` its name, `<bucket>` in lower case."""
        return [_sub(pattern.replace("<stack>", s).replace("<bucket>", s.lower())) for s in stacks]

    return [
        {
            "Sid": "Stacks",
            "Effect": "Allow",
            "Action": _STACK_ACTIONS,
            "Resource": each(f"arn:{part}:cloudformation:{region}:{account}:stack/<stack>/*"),
        },
        {
            "Sid": "DeploymentBuckets",
            "Effect": "Allow",
            "Action": ["s3:*"],
            "Resource": each(f"arn:{part}:s3:::<bucket>-serverlessdeploymentbucket-*")
            + each(f"arn:{part}:s3:::<bucket>-serverlessdeploymentbucket-*/*"),
        },
        {
            "Sid": "Functions",
            "Effect": "Allow",
            "Action": ["lambda:*"],
            "Resource": each(f"arn:{part}:lambda:{region}:{account}:function:<stack>-*")
            + each(f"arn:{part}:lambda:{region}:{account}:layer:<stack>-*"),
        },
        {
            "Sid": "FunctionRoles",
            "Effect": "Allow",
            "Action": [
                "iam:GetRole",
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PassRole",
            ],
            "Resource": each(f"arn:{part}:iam::{account}:role/<stack>-*"),
        },
        {
            "Sid": "LogGroups",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:DescribeLogGroups",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:TagLogGroup",
            ],
            "Resource": each(f"arn:{part}:logs:{region}:{account}:log-group:/aws/lambda/<stack>-*"),
        },
        {
            "Sid": "Schedules",
            "Effect": "Allow",
            "Action": [
                "events:PutRule",
                "events:DeleteRule",
                "events:DescribeRule",
                "events:PutTargets",
                "events:RemoveTargets",
            ],
            "Resource": each(f"arn:{part}:events:{region}:{account}:rule/<stack>-*"),
        },
        {
            # API Gateway names its APIs by generated ids: no per-stack ARN to scope to
            "Sid": "Apis",
            "Effect": "Allow",
            "Action": [
                "apigateway:GET",
                "apigateway:POST",
                "apigateway:PUT",
                "apigateway:PATCH",
                "apigateway:DELETE",
            ],
            "Resource": [
                _sub(f"arn:{part}:apigateway:{region}::/restapis*"),
                _sub(f"arn:{part}:apigateway:{region}::/apis*"),
                _sub(f"arn:{part}:apigateway:{region}::/tags*"),
            ],
        },
        {
            "Sid": "Templates",
            "Effect": "Allow",
            "Action": ["cloudformation:ValidateTemplate"],  # no resource-level permission
            "Resource": "*",
        },
    ]


def managed_policies(statements: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """`statements` in documents of at most MAX_POLICY_CHARS each: a statement whose
    resources do not fit is split into several with the same actions."""
    pieces: list[dict[str, Any]] = []
    for statement in statements:
        pieces += _split(statement)
    documents: list[list[dict[str, Any]]] = [[]]
    for piece in pieces:
        if documents[-1] and _size(documents[-1] + [piece]) > MAX_POLICY_CHARS:
            documents.append([])
        documents[-1].append(piece)
    return documents


def _split(statement: dict[str, Any]) -> list[dict[str, Any]]:
    resources = statement.get("Resource")
    if _size([statement]) <= MAX_POLICY_CHARS or not isinstance(resources, list):
        return [statement]
    half = len(resources) // 2
    first = {**statement, "Resource": resources[:half]}
    second = {**statement, "Resource": resources[half:]}
    if "Sid" in statement:
        first["Sid"], second["Sid"] = f"{statement['Sid']}A", f"{statement['Sid']}B"
    return _split(first) + _split(second)


def _size(statements: Sequence[dict[str, Any]]) -> int:
    """The document's length as IAM counts it (no whitespace), its `Fn::Sub`s put in at
    the longest a partition, region and account make them."""
    text = json.dumps(
        {"Version": "2012-10-17", "Statement": list(statements)}, separators=(",", ":")
    )
    for short, longest in (
        ('{"Fn::Sub":', ""),
        ("${AWS::Partition}", "aws-iso-b"),
        ("${AWS::AccountId}", "123456789012"),
    ):
        text = text.replace(short, longest)
    return len(text)
