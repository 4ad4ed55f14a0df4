"""`schedule` events (lib/plugins/aws/package/compile/events/schedule.js), EventBridge rules."""

from __future__ import annotations

import json
from typing import Any

from shipway.synth import naming
from shipway.synth.context import Context, check_keys
from shipway.synth.jsutil import js_stringify

__all__ = ["compile_schedule"]

_KEYS = (
    "rate",
    "enabled",
    "input",
    "inputPath",
    "inputTransformer",
    "name",
    "description",
    "method",
)


def compile_schedule(ctx: Context) -> None:
    for fn in ctx.functions:
        number = 0
        for index, item in enumerate(fn.spec.get("events") or []):
            if not (isinstance(item, dict) and "schedule" in item):
                continue
            key = f"functions.{fn.key}.events[{index}].schedule"
            raw = item["schedule"]
            state = "ENABLED"
            payload: Any = None
            input_path = name = description = None
            transformer: dict[str, Any] | None = None
            if isinstance(raw, dict):
                check_keys(ctx.source, key, raw, _KEYS)
                if raw.get("method", "eventBus") != "eventBus":
                    raise ctx.error(f"{key}.method", f"`method: {raw['method']}`")
                rates = raw.get("rate")
                expressions = rates if isinstance(rates, list) else [rates]
                if raw.get("enabled") is False:
                    state = "DISABLED"
                payload = raw.get("input")
                input_path = raw.get("inputPath")
                given = raw.get("inputTransformer")
                if given is not None:
                    if not isinstance(given, dict) or "inputTemplate" not in given:
                        raise ctx.invalid(
                            f"{key}.inputTransformer",
                            "expected `inputTemplate` (and `inputPathsMap`)",
                        )
                    transformer = {"InputTemplate": given["inputTemplate"]}
                    if given.get("inputPathsMap"):
                        transformer["InputPathsMap"] = given["inputPathsMap"]
                name = raw.get("name")
                description = raw.get("description")
                if len(expressions) > 1 and name:
                    raise ctx.invalid(f"{key}.name", "a `name` takes a single `rate`")
                if isinstance(payload, dict):
                    payload = dict(payload)
                    if isinstance(payload.get("body"), str):
                        payload["body"] = json.loads(payload["body"])
                    payload = js_stringify(payload)
            else:
                expressions = [raw]
            for expression in expressions:
                number += 1
                rule_id = naming.schedule_logical_id(fn.key, number)
                target: dict[str, Any] = {}
                if payload:
                    # the Framework escapes quotes then parses its JSON text: net effect, unchanged
                    target["Input"] = payload
                if input_path:
                    target["InputPath"] = input_path
                if transformer:
                    target["InputTransformer"] = transformer
                target["Arn"] = fn.arn
                target["Id"] = naming.schedule_id(fn.key)
                props: dict[str, Any] = {"ScheduleExpression": expression, "State": state}
                if name:
                    props["Name"] = name
                if description:
                    props["Description"] = description
                props["Targets"] = [target]
                ctx.resources[rule_id] = {"Type": "AWS::Events::Rule", "Properties": props}
                ctx.resources[naming.schedule_permission(fn.key, number)] = {
                    "Type": "AWS::Lambda::Permission",
                    "Properties": {
                        "FunctionName": fn.arn,
                        "Action": "lambda:InvokeFunction",
                        "Principal": "events.amazonaws.com",
                        "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
                    },
                }
