"""`eventBridge` events on the local runtime: the rules, and what `PutEvents` delivers. Pure.

A rule with a `pattern` receives every event put through the local endpoint
(`POST /<env>/_events`, see `putevents.py`) on its bus whose envelope the pattern matches
(`eventpatterns.py`); a rule with a `schedule` fires as a `schedule` event does
(`bus_schedules`, driven by `scheduler.py`). The target gets the EventBridge envelope, or its
`input` / `inputPath` / `inputTransformer` (the same code as schedules).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from shipway.config.service_events import EVENTBRIDGE_KEYS
from shipway.errors import ShipwayError
from shipway.targets.local.eventpaths import parse_path, resolve_path
from shipway.targets.local.eventpatterns import Matcher, PatternError, compile_pattern
from shipway.targets.local.schedules import (
    ACCOUNT,
    InputTransformer,
    _parse_transformer,
    iso_z,
    transform,
)

__all__ = [
    "MAX_ENTRIES",
    "BusRule",
    "bus_name",
    "bus_schedules",
    "envelope",
    "parse_bus_rules",
    "target_payload",
]

MAX_ENTRIES = 10  # PutEvents takes 1 to 10 entries


@dataclass(frozen=True)
class BusRule:
    """One `eventBridge` event with a `pattern`, of one function."""

    function: str
    position: int  # the event's position among the function's eventBridge events, from 0
    bus: str | None  # the bus name; None when given by an intrinsic function (unknown here)
    matches: Matcher
    enabled: bool
    name: str | None
    input: Any = None
    input_path: tuple[str | int, ...] | None = None
    input_transformer: InputTransformer | None = None

    def rule_name(self, service: str, stage: str) -> str:
        return self.name or f"{service}-{stage}-{self.function}-rule-{self.position + 1}"


def bus_name(value: Any) -> str | None:
    """`default`, a name, or the name of an ARN; None for an intrinsic function."""
    if value is None:
        return "default"
    if isinstance(value, str):
        return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value
    return None


def parse_bus_rules(function: str, configs: list[Any]) -> list[BusRule]:
    """The pattern rules of a function's `eventBridge` events; refuses what cannot run."""
    rules: list[BusRule] = []
    for position, config in enumerate(configs):
        where = f"function `{function}`, eventBridge event {position}"
        try:
            rule = _parse_one(function, position, config)
        except (ShipwayError, PatternError) as e:
            message = e.message if isinstance(e, ShipwayError) else str(e)
            raise ShipwayError(f"{where}: {message}") from None
        if rule is not None:
            rules.append(rule)
    return rules


def _parse_one(function: str, position: int, config: Any) -> BusRule | None:
    if not isinstance(config, dict):
        raise ShipwayError("an eventBridge event is a mapping with `pattern` or `schedule`")
    unknown = sorted(set(config) - set(EVENTBRIDGE_KEYS))
    if unknown:
        raise ShipwayError(f"`{unknown[0]}` is not supported by the local runtime")
    if "pattern" not in config and "schedule" not in config:
        raise ShipwayError("give a `pattern` or a `schedule`")
    if "pattern" not in config:
        return None
    given = [k for k in ("input", "inputPath", "inputTransformer") if config.get(k)]
    if len(given) > 1:
        raise ShipwayError(f"`{given[0]}` and `{given[1]}` cannot be used together")
    enabled = config.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ShipwayError(f"`enabled` must be true or false, not `{enabled!r}`")
    input_path = None
    if config.get("inputPath"):
        try:
            input_path = parse_path(config["inputPath"])
        except ValueError as e:
            raise ShipwayError(f"`inputPath`: {e}") from None
    transformer = None
    if config.get("inputTransformer"):
        transformer = _parse_transformer(config["inputTransformer"])
    name = config.get("name")
    return BusRule(
        function=function,
        position=position,
        bus=bus_name(config.get("eventBus")),
        matches=compile_pattern(config["pattern"]),
        enabled=enabled,
        name=None if name is None else str(name),
        input=config.get("input") or None,
        input_path=input_path,
        input_transformer=transformer,
    )


def bus_schedules(configs: list[Any]) -> list[Any]:
    """The `schedule` rules of `eventBridge` events, as `schedule` event configs."""
    out: list[Any] = []
    for config in configs:
        if not isinstance(config, dict) or "schedule" not in config:
            continue
        schedule: dict[str, Any] = {"rate": config["schedule"]}
        for key in ("enabled", "input", "inputPath", "inputTransformer", "name"):
            if config.get(key) is not None:
                schedule[key] = config[key]
        out.append(schedule)
    return out


def envelope(entry: dict[str, Any], *, region: str, now: float) -> dict[str, Any]:
    """The event EventBridge makes of one PutEvents entry (Detail parsed)."""
    when = entry.get("Time")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": ACCOUNT,
        "time": iso_z(float(when) if isinstance(when, int | float) else now),
        "region": region,
        "resources": list(entry.get("Resources") or []),
        "detail": json.loads(entry["Detail"]),
    }


def entry_problem(entry: Any) -> str | None:
    """Why EventBridge would refuse this entry (its ErrorMessage), or None."""
    if not isinstance(entry, dict):
        return "an entry must be an object"
    for key in ("Source", "DetailType", "Detail"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            return f"Parameter {key} is not valid. Reason: {key} is a required argument."
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        return "Detail is malformed."
    return None


def target_payload(rule: BusRule, event: dict[str, Any], rule_name: str) -> Any:
    if rule.input is not None:
        return rule.input
    if rule.input_path is not None:
        return resolve_path(event, rule.input_path)
    if rule.input_transformer is not None:
        return transform(rule.input_transformer, event, rule_name)
    return event
