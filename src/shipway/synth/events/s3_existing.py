"""`s3` events on buckets outside the stack (`existing: true`): s3/index.js
`existingS3Buckets` — a `Custom::S3` per function that the Framework's custom-resource
Lambda turns into the bucket's notification configuration and the invoke permission."""

from __future__ import annotations

import itertools
import json
from typing import Any

from shipway.synth import naming
from shipway.synth.context import Context
from shipway.synth.custom_resources import add_custom_resource

__all__ = ["compile_existing_s3", "is_existing"]


def is_existing(raw: Any) -> bool:
    return isinstance(raw, dict) and bool(raw.get("existing"))


def _rules(raw: dict[str, Any]) -> list[dict[str, Any]]:
    # lodash startCase of `prefix` / `suffix`
    return [
        {str(name)[:1].upper() + str(name)[1:].lower(): value}
        for rule in raw.get("rules") or []
        if isinstance(rule, dict)
        for name, value in list(rule.items())[:1]
    ]


def compile_existing_s3(ctx: Context) -> None:
    res = ctx.resources
    statements: list[dict[str, Any]] = []
    by_bucket: dict[str, list[str]] = {}  # bucket (as JSON) -> its custom resources in order
    handler_id = naming.lambda_logical_id("custom-resource-existing-s3")
    for fn in ctx.functions:
        current: str | None = None
        for index, item in enumerate(fn.spec.get("events") or []):
            raw = item.get("s3") if isinstance(item, dict) else None
            if not is_existing(raw):
                continue
            assert isinstance(raw, dict)
            bucket = raw.get("bucket")
            text = json.dumps(bucket, sort_keys=True) if isinstance(bucket, dict) else str(bucket)
            if current is None:
                current = text
            elif text != current:
                raise ctx.invalid(
                    f"functions.{fn.key}.events[{index}].s3.bucket",
                    f"only one existing S3 bucket can be configured per function: "
                    f"`{fn.key}` names {current} and {text}",
                )
            config = {"Event": raw.get("event") or "s3:ObjectCreated:*", "Rules": _rules(raw)}
            logical_id = naming.custom_s3_resource(fn.key)
            if logical_id in res:
                res[logical_id]["Properties"]["BucketConfigs"].append(config)
                continue
            properties: dict[str, Any] = {
                "ServiceToken": {"Fn::GetAtt": [handler_id, "Arn"]},
                "FunctionName": fn.physical_name,
                "BucketName": bucket,
                "BucketConfigs": [config],
            }
            if raw.get("forceDeploy"):
                # a new value on every deploy: the handler runs again (the Framework's Date.now())
                properties["ForceDeploy"] = ctx.deploy_time_ms
            res[logical_id] = {
                "Type": "Custom::S3",
                "Version": 1.0,
                "DependsOn": [fn.logical_id, handler_id],
                "Properties": properties,
            }
            if logical_id not in by_bucket.setdefault(text, []):
                by_bucket[text].append(logical_id)
            partition = {"Ref": "AWS::Partition"}
            statements.append(
                {
                    "Effect": "Allow",
                    "Resource": {"Fn::Join": [":", ["arn", partition, "s3", "", "", bucket]]},
                    "Action": ["s3:PutBucketNotification", "s3:GetBucketNotification"],
                }
            )
    if not statements:
        return
    statements.append(
        {
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    ":",
                    [
                        "arn",
                        {"Ref": "AWS::Partition"},
                        "lambda",
                        {"Ref": "AWS::Region"},
                        {"Ref": "AWS::AccountId"},
                        "function",
                        "*",
                    ],
                ]
            },
            "Action": ["lambda:AddPermission", "lambda:RemovePermission"],
        }
    )
    # several functions on one bucket: one after the other (their updates would race)
    for ids in by_bucket.values():
        for previous, current_id in itertools.pairwise(ids):
            res[current_id]["DependsOn"].append(previous)
    add_custom_resource(ctx, "s3", statements)
