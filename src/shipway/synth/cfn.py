"""CloudFormation building blocks the compilers share."""

from __future__ import annotations

from typing import Any

__all__ = ["execute_api_url", "invoke_permission", "join"]


def join(*parts: Any) -> dict[str, Any]:
    """`Fn::Join` of `parts` with no delimiter."""
    return {"Fn::Join": ["", list(parts)]}


def execute_api_url(api_ref: Any, *tail: str) -> dict[str, Any]:
    """`https://<api>.execute-api.<region>.<url suffix>` followed by `tail`."""
    return join(
        "https://",
        api_ref,
        ".execute-api.",
        {"Ref": "AWS::Region"},
        ".",
        {"Ref": "AWS::URLSuffix"},
        *tail,
    )


def invoke_permission(function_arn: Any, api_ref: Any, source_suffix: str) -> dict[str, Any]:
    """The `AWS::Lambda::Permission` that lets API Gateway (`api_ref`) invoke a function."""
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "FunctionName": function_arn,
            "Action": "lambda:InvokeFunction",
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": join(
                "arn:",
                {"Ref": "AWS::Partition"},
                ":execute-api:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":",
                api_ref,
                source_suffix,
            ),
        },
    }


#: the headers the Framework allows in CORS preflights when a service does not list its own
DEFAULT_CORS_HEADERS = [
    "Content-Type",
    "X-Amz-Date",
    "Authorization",
    "X-Api-Key",
    "X-Amz-Security-Token",
    "X-Amz-User-Agent",
    "X-Amzn-Trace-Id",
]


def lambda_assume_role_policy() -> dict[str, Any]:
    """The trust policy of a role only Lambda assumes (a fresh copy: templates are edited)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com"]},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }
