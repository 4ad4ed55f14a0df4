"""`stream` events: DynamoDB and Kinesis (lib/plugins/aws/package/compile/events/stream.js)."""

from __future__ import annotations

from typing import Any

from shipway.synth import naming
from shipway.synth.context import Context, check_keys
from shipway.synth.jsutil import js_stringify

__all__ = ["compile_stream"]

_KEYS = (
    "arn",
    "type",
    "batchSize",
    "parallelizationFactor",
    "startingPosition",
    "startingPositionTimestamp",
    "enabled",
    "batchWindow",
    "maximumRetryAttempts",
    "bisectBatchOnFunctionError",
    "functionResponseType",
    "maximumRecordAgeInSeconds",
    "tumblingWindowInSeconds",
    "destinations",
    "filterPatterns",
)


def _stream_name(arn: Any) -> str:
    if isinstance(arn, dict):
        if "Fn::GetAtt" in arn:
            return str(arn["Fn::GetAtt"][0])
        if "Fn::ImportValue" in arn:
            return str(arn["Fn::ImportValue"])
        if "Ref" in arn:
            return str(arn["Ref"])
        if "Fn::Join" in arn:
            return str(arn["Fn::Join"][1][-1]).split("/")[-1]
        raise ValueError("unsupported intrinsic")
    return str(arn).split("/")[1]


def compile_stream(ctx: Context) -> None:
    for fn in ctx.functions:
        dynamodb: list[Any] = []
        kinesis: list[Any] = []
        sns_failure: list[Any] = []
        sqs_failure: list[Any] = []
        for index, item in enumerate(fn.spec.get("events") or []):
            if not (isinstance(item, dict) and "stream" in item):
                continue
            key = f"functions.{fn.key}.events[{index}].stream"
            raw = item["stream"]
            config: dict[str, Any] = raw if isinstance(raw, dict) else {"arn": raw}
            if "consumer" in config:
                raise ctx.error(f"{key}.consumer", "Kinesis stream consumers (`consumer`)")
            check_keys(ctx.source, key, config, _KEYS)
            arn = config.get("arn")
            try:
                stream_type = config.get("type") or str(arn).split(":")[2]
                if isinstance(arn, dict) and not config.get("type"):
                    raise ValueError
                name = _stream_name(arn)
            except (ValueError, TypeError, IndexError, KeyError):
                raise ctx.error(
                    f"{key}.arn", f"this form of `stream.arn` without `type` ({arn!r})"
                ) from None
            props: dict[str, Any] = {
                "BatchSize": config.get("batchSize") or 10,
                "Enabled": config.get("enabled", True),
                "EventSourceArn": arn,
                "FunctionName": fn.arn,
            }
            if config.get("parallelizationFactor"):
                props["ParallelizationFactor"] = config["parallelizationFactor"]
            props["StartingPosition"] = config.get("startingPosition") or "TRIM_HORIZON"
            if stream_type == "dynamodb":
                dynamodb.append(arn)
            else:
                kinesis.append(arn)
            for src, dst in (
                ("batchWindow", "MaximumBatchingWindowInSeconds"),
                ("maximumRetryAttempts", "MaximumRetryAttempts"),
                ("bisectBatchOnFunctionError", "BisectBatchOnFunctionError"),
            ):
                if config.get(src) is not None:
                    props[dst] = config[src]
            if config.get("functionResponseType") is not None:
                props["FunctionResponseTypes"] = [config["functionResponseType"]]
            if config.get("maximumRecordAgeInSeconds"):
                props["MaximumRecordAgeInSeconds"] = config["maximumRecordAgeInSeconds"]
            if config.get("tumblingWindowInSeconds") is not None:
                props["TumblingWindowInSeconds"] = config["tumblingWindowInSeconds"]
            destinations = config.get("destinations")
            if destinations:
                on_failure = destinations.get("onFailure")
                target = on_failure.get("arn") if isinstance(on_failure, dict) else on_failure
                kind = (on_failure.get("type") if isinstance(on_failure, dict) else None) or str(
                    target
                ).split(":")[2]
                (sns_failure if kind == "sns" else sqs_failure).append(target)
                props["DestinationConfig"] = {"OnFailure": {"Destination": target}}
            if config.get("filterPatterns"):
                props["FilterCriteria"] = {
                    "Filters": [{"Pattern": js_stringify(p)} for p in config["filterPatterns"]]
                }
            if config.get("startingPositionTimestamp"):
                raise ctx.error(f"{key}.startingPositionTimestamp")
            ctx.resources[naming.stream_logical_id(fn.key, str(stream_type), name)] = {
                "Type": "AWS::Lambda::EventSourceMapping",
                "DependsOn": [fn.role_resource] if fn.role_resource else [],
                "Properties": props,
            }
        statements = ctx.role_statements()
        if statements is None:
            continue
        for resources, actions in (
            (
                dynamodb,
                [
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:DescribeStream",
                    "dynamodb:ListStreams",
                ],
            ),
            (
                kinesis,
                [
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:DescribeStream",
                    "kinesis:ListStreams",
                ],
            ),
            (sns_failure, ["sns:Publish"]),
            (sqs_failure, ["sqs:ListQueues", "sqs:SendMessage"]),
        ):
            if resources:
                statements.append({"Effect": "Allow", "Action": actions, "Resource": resources})
