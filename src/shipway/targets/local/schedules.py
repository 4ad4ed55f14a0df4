"""`schedule` events on the local runtime: parsing, the rules and the events sent.

Pure (no threads, no clock): `scheduler.py` drives it. Semantics follow EventBridge scheduled
rules as the Serverless Framework v3 creates them (one rule per `rate` expression); the
expressions themselves are `expressions.py`'s.

- The target receives EventBridge's "Scheduled Event" unless `input` (that JSON value),
  `inputPath` (a path into the event, see `eventpaths.py`) or `inputTransformer`
  (`inputPathsMap` + `inputTemplate`) says otherwise.

Problems raise `ShipwayError` naming the function and the index of the schedule event (its
position among the function's `schedule` events, from 0).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shipway.errors import ShipwayError
from shipway.targets.local.eventpaths import parse_path, resolve_path
from shipway.targets.local.expressions import Expression, parse_expression

ACCOUNT = "000000000000"  # the account the local runtime pretends to be (as workers.py)
_KEYS = ("rate", "enabled", "input", "inputPath", "inputTransformer", "name", "description")

_MISSING = object()


@dataclass(frozen=True)
class InputTransformer:
    paths: dict[str, tuple[str | int, ...]]
    template: str


@dataclass(frozen=True)
class Schedule:
    """One rule: one expression of one `schedule` event of one function."""

    function: str
    index: int  # the schedule event's position among the function's schedule events
    number: int  # 1-based across the function's expressions (as the rules' logical ids)
    expression: Expression
    enabled: bool = True
    input: Any = _MISSING
    input_path: tuple[str | int, ...] | None = None
    input_transformer: InputTransformer | None = None
    name: str | None = None
    description: str | None = None

    @property
    def has_input(self) -> bool:
        return self.input is not _MISSING

    def logical_id(self) -> str:
        normalized = self.function.replace("-", "Dash").replace("_", "Underscore")
        return f"{normalized[:1].upper()}{normalized[1:]}EventsRuleSchedule{self.number}"

    def rule_name(self, service: str, stage: str) -> str:
        """`name`, or CloudFormation's `<stack>-<logical id>` (without its random suffix)."""
        return self.name or f"{service}-{stage}-{self.logical_id()}"[:64]

    def rule_arn(self, service: str, stage: str, region: str) -> str:
        return f"arn:aws:events:{region}:{ACCOUNT}:rule/{self.rule_name(service, stage)}"


def parse_schedules(function: str, configs: list[Any]) -> list[Schedule]:
    """The rules of a function's `schedule` events (DeployedFunction.schedules), in order.
    Disabled ones are included (`enabled=False`): they never fire."""
    rules: list[Schedule] = []
    for index, config in enumerate(configs):
        where = f"function `{function}`, schedule event {index}"
        try:
            rules.extend(_parse_one(function, index, config, len(rules) + 1))
        except ShipwayError as e:
            raise ShipwayError(f"{where}: {e.message}", hint=e.hint) from None
    return rules


def _parse_one(function: str, index: int, config: Any, first: int) -> list[Schedule]:
    if isinstance(config, str):
        return [Schedule(function, index, first, parse_expression(config))]
    if not isinstance(config, dict):
        raise ShipwayError("a schedule event is an expression or a mapping with `rate`")
    unknown = sorted(set(config) - set(_KEYS) - {"method"})
    if unknown:
        raise ShipwayError(
            f"`{unknown[0]}` is not supported by the local runtime",
            hint=f"a schedule event takes {', '.join(f'`{k}`' for k in _KEYS)}",
        )
    if config.get("method", "eventBus") != "eventBus":
        raise ShipwayError(
            f"`method: {config['method']}` is not supported by the local runtime",
            hint="only EventBridge rules (`method: eventBus`, the default) fire locally",
        )
    rates = config.get("rate")
    expressions = rates if isinstance(rates, list) else [rates]
    if rates is None or not expressions:
        raise ShipwayError("`rate` is missing: give a `rate(...)` or `cron(...)` expression")
    enabled = config.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ShipwayError(f"`enabled` must be true or false, not `{enabled!r}`")
    given = [k for k in ("input", "inputPath", "inputTransformer") if k in config]
    if len(given) > 1:
        raise ShipwayError(f"`{given[0]}` and `{given[1]}` cannot be used together")
    extra: dict[str, Any] = {}
    if "input" in config:
        extra["input"] = _parse_input(config["input"])
    if "inputPath" in config:
        try:
            extra["input_path"] = parse_path(config["inputPath"])
        except ValueError as e:
            raise ShipwayError(f"`inputPath`: {e}") from None
    if "inputTransformer" in config:
        extra["input_transformer"] = _parse_transformer(config["inputTransformer"])
    name = config.get("name")
    if name is not None and len(expressions) > 1:
        raise ShipwayError("a `name` takes a single `rate`")
    description = config.get("description")
    out: list[Schedule] = []
    for i, text in enumerate(expressions):
        try:
            expression = parse_expression(text)
        except ShipwayError as e:
            at = f"`rate[{i}]`" if isinstance(rates, list) else "`rate`"
            raise ShipwayError(f"{at}: {e.message}", hint=e.hint) from None
        out.append(
            Schedule(
                function,
                index,
                first + i,
                expression,
                enabled=enabled,
                name=None if name is None else str(name),
                description=None if description is None else str(description),
                **extra,
            )
        )
    return out


def _parse_input(value: Any) -> Any:
    """The Framework's rules: a string is JSON text; a mapping's string `body` is parsed."""
    try:
        if isinstance(value, str):
            return json.loads(value)
        if isinstance(value, dict) and isinstance(value.get("body"), str):
            return {**value, "body": json.loads(value["body"])}
    except ValueError as e:
        raise ShipwayError(f"`input` is not valid JSON text: {e}") from None
    return value


def _parse_transformer(value: Any) -> InputTransformer:
    if not isinstance(value, dict) or not isinstance(value.get("inputTemplate"), str):
        raise ShipwayError("`inputTransformer` needs an `inputTemplate` string")
    unknown = sorted(set(value) - {"inputTemplate", "inputPathsMap"})
    if unknown:
        raise ShipwayError(f"`inputTransformer.{unknown[0]}` is not supported")
    paths_map = value.get("inputPathsMap") or {}
    if not isinstance(paths_map, dict):
        raise ShipwayError("`inputTransformer.inputPathsMap` must be a mapping")
    paths: dict[str, tuple[str | int, ...]] = {}
    for key, path in paths_map.items():
        try:
            paths[str(key)] = parse_path(path)
        except ValueError as e:
            raise ShipwayError(f"`inputTransformer.inputPathsMap.{key}`: {e}") from None
    return InputTransformer(paths, value["inputTemplate"])


def scheduled_event(
    schedule: Schedule,
    *,
    service: str,
    stage: str,
    region: str,
    time: float,
    event_id: str,
) -> dict[str, Any]:
    """EventBridge's "Scheduled Event" for a fire at `time` (epoch seconds)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": iso_z(time),
        "region": region,
        "resources": [schedule.rule_arn(service, stage, region)],
        "detail": {},
    }


def target_input(schedule: Schedule, event: dict[str, Any], rule_name: str) -> Any:
    """What the function receives for `event`: `input`, `inputPath`, `inputTransformer`
    applied, or the event itself."""
    if schedule.has_input:
        return schedule.input
    if schedule.input_path is not None:
        return resolve_path(event, schedule.input_path)
    if schedule.input_transformer is not None:
        return transform(schedule.input_transformer, event, rule_name)
    return event


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def transform(transformer: InputTransformer, event: dict[str, Any], rule_name: str) -> Any:
    """`inputTemplate` with its `<name>`s replaced: inside a JSON string a value goes in as
    text, elsewhere as JSON. The result is parsed as JSON when it is JSON, else it is text."""
    values: dict[str, Any] = {
        name: resolve_path(event, parts) for name, parts in transformer.paths.items()
    }
    resources = event.get("resources") or [""]
    values.setdefault("aws.events.rule-arn", resources[0])
    values.setdefault("aws.events.rule-name", rule_name)
    values.setdefault("aws.events.event.ingestion-time", event.get("time"))
    values.setdefault("aws.events.event", event)
    values.setdefault("aws.events.event.json", event)
    template = transformer.template
    out: list[str] = []
    in_string = False
    pos = 0
    while pos < len(template):
        ch = template[pos]
        if ch == "<":
            m = _PLACEHOLDER.match(template, pos)
            if m and m.group(1) in values:
                value = values[m.group(1)]
                if in_string:
                    text = value if isinstance(value, str) else json.dumps(value)
                    out.append(json.dumps(text)[1:-1])
                else:
                    out.append(json.dumps(value))
                pos = m.end()
                continue
        if ch == "\\" and in_string:
            out.append(template[pos : pos + 2])
            pos += 2
            continue
        if ch == '"':
            in_string = not in_string
        out.append(ch)
        pos += 1
    text = "".join(out)
    try:
        return json.loads(text)
    except ValueError:
        return text


def iso_z(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "ACCOUNT",
    "InputTransformer",
    "Schedule",
    "iso_z",
    "parse_schedules",
    "scheduled_event",
    "target_input",
    "transform",
]
