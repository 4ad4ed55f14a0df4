"""`s3` events on buckets the stack creates (lib/plugins/aws/package/compile/events/s3/).

Buckets outside the stack (`existing: true`) are s3_existing.py's.
"""

from __future__ import annotations

import re
from typing import Any

from shipway.synth import naming
from shipway.synth.context import Context, check_keys
from shipway.synth.events.s3_existing import compile_existing_s3, is_existing

__all__ = ["compile_s3"]

_KEYS = ("bucket", "event", "rules", "existing", "forceDeploy")
_BUCKET_NAME = re.compile(r"^(?!^(\d{1,3}\.){3}\d{1,3}$)[a-z0-9](([a-z0-9-]+\.?)*[a-z0-9])?$")


def compile_s3(ctx: Context) -> None:
    provider_s3 = ctx.provider.get("s3") or {}
    configurations: dict[str, list[dict[str, Any]]] = {}
    meta: dict[str, tuple[str, str]] = {}  # bucket name -> (logical id, provider.s3 key)
    enabled: list[tuple[str, str, Any]] = []  # (function key, bucket name, function arn)
    for fn in ctx.functions:
        for index, item in enumerate(fn.spec.get("events") or []):
            if not (isinstance(item, dict) and "s3" in item):
                continue
            key = f"functions.{fn.key}.events[{index}].s3"
            raw = item["s3"]
            notification = "s3:ObjectCreated:*"
            rule_filter: dict[str, Any] = {}
            if isinstance(raw, dict):
                check_keys(ctx.source, key, raw, _KEYS)
                if is_existing(raw):
                    continue  # s3_existing.py
                if isinstance(raw.get("bucket"), dict):
                    raise ctx.invalid(
                        f"{key}.bucket", "an intrinsic `bucket` needs `existing: true`"
                    )
                bucket_ref = str(raw.get("bucket"))
                if raw.get("event"):
                    notification = raw["event"]
                if raw.get("rules"):
                    rules = []
                    for rule in raw["rules"]:
                        ((name, value),) = list(rule.items())[:1]
                        rules.append({"Name": name, "Value": value})
                    rule_filter = {"Filter": {"S3Key": {"Rules": rules}}}
            else:
                bucket_ref = str(raw)
            if bucket_ref in provider_s3:
                bucket_name = str(provider_s3[bucket_ref].get("name") or bucket_ref)
                meta[bucket_name] = (naming.bucket_logical_id(bucket_ref), bucket_ref)
            else:
                bucket_name = bucket_ref
            if not _BUCKET_NAME.match(bucket_name):
                raise ctx.invalid(key, f"`{bucket_name}` is not a valid S3 bucket name")
            configurations.setdefault(bucket_name, []).append(
                {"Event": notification, "Function": fn.arn, **rule_filter}
            )
            enabled.append((fn.key, bucket_name, fn.arn))

    def permission_id(fn_key: str, bucket_name: str) -> str:
        ref = meta[bucket_name][1] if bucket_name in meta else bucket_name
        return naming.s3_permission(fn_key, ref)

    for bucket_name, lambda_configs in configurations.items():
        bucket_conf: dict[str, Any] = {}
        if bucket_name in meta:
            for k, v in provider_s3[meta[bucket_name][1]].items():
                if k != "name":
                    bucket_conf[k[:1].upper() + k[1:]] = v
        provided_notification = bucket_conf.pop("NotificationConfiguration", {}) or {}
        props = {
            "BucketName": bucket_name,
            "NotificationConfiguration": {
                "LambdaConfigurations": lambda_configs,
                **provided_notification,
            },
            **bucket_conf,
        }
        depends_on = [permission_id(f, b) for f, b, _ in enabled if b == bucket_name]
        logical_id = (
            meta[bucket_name][0] if bucket_name in meta else naming.bucket_logical_id(bucket_name)
        )
        ctx.resources[logical_id] = {
            "Type": "AWS::S3::Bucket",
            "Properties": props,
            "DependsOn": depends_on,
        }
    for fn_key, bucket_name, arn in enabled:
        ctx.resources[permission_id(fn_key, bucket_name)] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": arn,
                "Action": "lambda:InvokeFunction",
                "Principal": "s3.amazonaws.com",
                "SourceArn": {
                    "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{bucket_name}"]]
                },
                "SourceAccount": {"Ref": "AWS::AccountId"},
            },
        }
    compile_existing_s3(ctx)
