"""`eventBridge` events (lib/plugins/aws/package/compile/events/event-bridge/), native
CloudFormation: an `AWS::Events::Rule` per event (on the default bus, a bus named or given by
ARN, or a bus the stack creates), its Lambda permission, and `AWS::Events::EventBus` for a
bus named here.

v3.40.0 uses native CloudFormation unless `provider.eventBridge` is set without
`useCloudFormation: true` (then the Framework's custom resource provisions the rules; that
legacy path is refused).
"""

from __future__ import annotations

import hashlib
from typing import Any

from shipway.config.service_events import EVENTBRIDGE_KEYS
from shipway.synth import naming
from shipway.synth.context import Context, check_keys
from shipway.synth.jsutil import js_stringify

__all__ = ["compile_eventbridge"]

PATTERN_KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
    "$or",
)


def _hash_name(name: str, suffix: str) -> str:
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
    return f"{name[: 31 - len(suffix)]}{digest}-{suffix}"


def rule_name(physical_name: str, index: int) -> str:
    """utils.js makeAndHashRuleName: `<function name>-rule-<n>`, hashed past 64 characters."""
    name = f"{physical_name}-rule-{index}"
    return _hash_name(name, f"rule-{index}") if len(name) > 64 else name


def target_id(rule: str) -> str:
    target = f"{rule}-target"
    return _hash_name(target, "target") if len(target) > 64 else target


def uses_cloudformation(provider: dict[str, Any]) -> bool:
    options = provider.get("eventBridge")
    return not options or options.get("useCloudFormation") is True


def compile_eventbridge(ctx: Context) -> None:
    for fn in ctx.functions:
        for position, item in enumerate(fn.spec.get("events") or []):
            if isinstance(item, dict) and "eventBridge" in item:
                _compile_one(ctx, fn, position, item["eventBridge"])


def _compile_one(ctx: Context, fn: Any, position: int, raw: Any) -> None:
    key = f"functions.{fn.key}.events[{position}].eventBridge"
    if not isinstance(raw, dict):
        raise ctx.invalid(key, "an `eventBridge` event must be a mapping")
    check_keys(ctx.source, key, raw, EVENTBRIDGE_KEYS)
    if not uses_cloudformation(ctx.provider):
        raise ctx.error(
            "provider.eventBridge",
            "EventBridge rules provisioned by the Framework's custom resource "
            "(`provider.eventBridge` without `useCloudFormation: true`)",
            hint="remove `provider.eventBridge` (native CloudFormation is the default)",
        )
    if "pattern" not in raw and "schedule" not in raw:
        raise ctx.invalid(key, f"`{key}` needs a `pattern` or a `schedule`")
    pattern = raw.get("pattern")
    if pattern is not None:
        check_keys(ctx.source, f"{key}.pattern", pattern, PATTERN_KEYS)
    inputs = [k for k in ("input", "inputPath", "inputTransformer") if raw.get(k)]
    if len(inputs) > 1:
        raise ctx.invalid(key, "only one of `input`, `inputPath` or `inputTransformer` is allowed")
    index = position + 1
    name = raw.get("name") or rule_name(fn.physical_name, index)
    bus = raw.get("eventBus")
    bus_name = bus
    exists = isinstance(bus, dict)
    if isinstance(bus, str) and bus.startswith("arn"):
        exists = True
        bus_name = bus[bus.index("/") + 1 :] if "/" in bus else ""
    create_bus = not exists and bool(bus_name) and bus_name != "default"
    if create_bus:
        ctx.resources[naming.eventbridge_bus(str(bus_name))] = {
            "Type": "AWS::Events::EventBus",
            "Properties": {"Name": bus_name},
        }
    target: dict[str, Any] = {"Arn": fn.arn, "Id": target_id(str(name))}
    retry = raw.get("retryPolicy")
    if retry:
        check_keys(
            ctx.source, f"{key}.retryPolicy", retry, ("maximumEventAge", "maximumRetryAttempts")
        )
        target["RetryPolicy"] = {
            "MaximumEventAgeInSeconds": retry.get("maximumEventAge"),
            "MaximumRetryAttempts": retry.get("maximumRetryAttempts"),
        }
    if raw.get("deadLetterQueueArn"):
        target["DeadLetterConfig"] = {"Arn": raw["deadLetterQueueArn"]}
    if raw.get("input"):
        target["Input"] = js_stringify(raw["input"])
    elif raw.get("inputPath"):
        target["InputPath"] = raw["inputPath"]
    elif raw.get("inputTransformer"):
        transformer = raw["inputTransformer"]
        check_keys(
            ctx.source, f"{key}.inputTransformer", transformer, ("inputPathsMap", "inputTemplate")
        )
        if "inputTemplate" not in transformer:
            raise ctx.invalid(f"{key}.inputTransformer", "`inputTemplate` is required")
        target["InputTransformer"] = {k[:1].upper() + k[1:]: v for k, v in transformer.items()}
    props: dict[str, Any] = {
        "Description": raw.get("description"),
        "EventBusName": None if bus_name == "default" else bus_name,
        "EventPattern": pattern,
        "Name": name,
        "ScheduleExpression": raw.get("schedule"),
        "State": "DISABLED" if raw.get("enabled") is False else "ENABLED",
        "Targets": [target],
    }
    rule: dict[str, Any] = {"Type": "AWS::Events::Rule"}
    if create_bus:
        rule["DependsOn"] = naming.eventbridge_bus(str(bus_name))
    rule["Properties"] = {k: v for k, v in props.items() if v is not None}
    stub = f"{fn.physical_name}-rule-{index}"
    ctx.resources[naming.eventbridge_rule(stub)] = rule
    path = [bus_name, name] if bus_name else [name]
    ctx.resources[naming.eventbridge_permission(fn.key, index)] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": fn.arn,
            "Principal": "events.amazonaws.com",
            "SourceArn": {
                "Fn::Join": [
                    ":",
                    [
                        "arn",
                        {"Ref": "AWS::Partition"},
                        "events",
                        {"Ref": "AWS::Region"},
                        {"Ref": "AWS::AccountId"},
                        {"Fn::Join": ["/", ["rule", *path]]},
                    ],
                ]
            },
        },
    }
