"""`sqs` events (lib/plugins/aws/package/compile/events/sqs.js)."""

from __future__ import annotations

from typing import Any

from shipway.synth import naming
from shipway.synth.context import Context, check_keys
from shipway.synth.jsutil import js_stringify

__all__ = ["compile_sqs", "source_name"]

_KEYS = (
    "arn",
    "batchSize",
    "enabled",
    "maximumBatchingWindow",
    "functionResponseType",
    "filterPatterns",
    "maximumConcurrency",
)


def source_name(arn: Any, *, split: str = ":") -> str:
    if isinstance(arn, dict):
        if "Fn::GetAtt" in arn:
            return str(arn["Fn::GetAtt"][0])
        if "Fn::ImportValue" in arn:
            return str(arn["Fn::ImportValue"])
        if "Fn::Join" in arn:
            return str(arn["Fn::Join"][1][-1])
        raise ValueError("unsupported intrinsic")
    return str(arn).split(split)[-1]


def compile_sqs(ctx: Context) -> None:
    resources: list[Any] = []
    for fn in ctx.functions:
        for index, item in enumerate(fn.spec.get("events") or []):
            if not (isinstance(item, dict) and "sqs" in item):
                continue
            key = f"functions.{fn.key}.events[{index}].sqs"
            raw = item["sqs"]
            config: dict[str, Any] = raw if isinstance(raw, dict) else {"arn": raw}
            check_keys(ctx.source, key, config, _KEYS)
            arn = config.get("arn")
            try:
                queue = source_name(arn)
            except (ValueError, TypeError, IndexError, KeyError):
                raise ctx.error(f"{key}.arn", f"this form of `sqs.arn` ({arn!r})") from None
            depends_on = [fn.role_resource] if fn.role_resource else []
            props: dict[str, Any] = {"BatchSize": config.get("batchSize") or 10}
            if config.get("maximumBatchingWindow") is not None:
                props["MaximumBatchingWindowInSeconds"] = config["maximumBatchingWindow"]
            props["EventSourceArn"] = arn
            props["FunctionName"] = fn.arn
            props["Enabled"] = config.get("enabled", True)
            if config.get("functionResponseType") is not None:
                props["FunctionResponseTypes"] = [config["functionResponseType"]]
            if config.get("filterPatterns"):
                props["FilterCriteria"] = {
                    "Filters": [{"Pattern": js_stringify(p)} for p in config["filterPatterns"]]
                }
            if config.get("maximumConcurrency"):
                props["ScalingConfig"] = {"MaximumConcurrency": config["maximumConcurrency"]}
            resources.append(arn)
            ctx.resources[naming.queue_logical_id(fn.key, queue)] = {
                "Type": "AWS::Lambda::EventSourceMapping",
                "DependsOn": depends_on,
                "Properties": props,
            }
    statements = ctx.role_statements()
    if statements is not None and resources:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": resources,
            }
        )
