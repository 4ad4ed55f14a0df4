"""EventBridge pattern matching of the local runtime (its content-filter semantics)."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.errors import ShipwayError
from shipway.targets.local.eventbus import bus_name, bus_schedules, parse_bus_rules
from shipway.targets.local.eventpatterns import PatternError, compile_pattern

EVENT: dict[str, Any] = {
    "source": "shop.orders",
    "detail-type": "OrderPlaced",
    "resources": [],
    "detail": {"amount": 12, "tags": ["a", "b"], "ip": "10.0.0.5", "state": "ok", "n": None},
}


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ({"source": ["shop.orders"]}, True),
        ({"source": ["other"]}, False),
        ({"source": ["shop.orders"], "detail-type": ["Nope"]}, False),
        ({"detail": {"amount": [12]}}, True),
        ({"detail": {"amount": ["12"]}}, False),  # a number is not its text
        ({"detail": {"amount": [{"numeric": [">", 10, "<=", 12]}]}}, True),
        ({"detail": {"amount": [{"numeric": ["<", 12]}]}}, False),
        ({"detail": {"tags": ["b"]}}, True),  # any element of an array
        ({"detail": {"state": [{"prefix": "o"}]}}, True),
        ({"detail": {"state": [{"suffix": "k"}]}}, True),
        ({"detail": {"state": [{"equals-ignore-case": "OK"}]}}, True),
        ({"detail": {"state": [{"prefix": {"equals-ignore-case": "O"}}]}}, True),
        ({"detail": {"state": [{"anything-but": ["ok", "bad"]}]}}, False),
        ({"detail": {"state": [{"anything-but": {"prefix": "x"}}]}}, True),
        ({"detail": {"gone": [{"anything-but": "x"}]}}, False),  # needs the field
        ({"detail": {"gone": [{"exists": False}]}}, True),
        ({"detail": {"state": [{"exists": True}]}}, True),
        ({"detail": {"state": [{"exists": False}]}}, False),
        ({"detail": {"n": [None]}}, True),
        ({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}, True),
        ({"detail": {"ip": [{"cidr": "10.1.0.0/24"}]}}, False),
        ({"source": [{"wildcard": "shop.*"}]}, True),
        ({"source": [{"wildcard": "*.users"}]}, False),
        ({"$or": [{"source": ["x"]}, {"detail": {"amount": [12]}}]}, True),
        ({"$or": [{"source": ["x"]}, {"detail": {"amount": [13]}}]}, False),
        ({"detail": {"state": {"deeper": ["x"]}}}, False),
    ],
)
def test_patterns_match_as_eventbridge_does(pattern: dict[str, Any], matches: bool) -> None:
    assert compile_pattern(pattern)(EVENT) is matches


@pytest.mark.parametrize(
    ("pattern", "said"),
    [
        ({"source": "shop.orders"}, "pattern.source` must be a list"),
        ({"source": [{"regex": "x"}]}, "pattern.source[0].regex` is not an EventBridge matcher"),
        ({"detail": {"n": [{"numeric": ["~", 1]}]}}, "is not a comparison"),
        ({"source": []}, "must not be an empty list"),
        ({}, "non-empty mapping"),
    ],
)
def test_patterns_it_cannot_match_are_refused(pattern: dict[str, Any], said: str) -> None:
    with pytest.raises(PatternError, match=said.replace("[", r"\[").replace("]", r"\]")):
        compile_pattern(pattern)


def test_rules_buses_and_schedules() -> None:
    configs: list[Any] = [
        {"pattern": {"source": ["a"]}},
        {"eventBus": "arn:aws:events:us-east-1:1:event-bus/shared", "pattern": {"source": ["a"]}},
        {"schedule": "rate(5 minutes)", "input": {"k": 1}},
    ]
    rules = parse_bus_rules("fn", configs)
    assert [r.bus for r in rules] == ["default", "shared"]
    assert bus_schedules(configs) == [{"rate": "rate(5 minutes)", "input": {"k": 1}}]
    assert bus_name({"Ref": "Bus"}) is None
    with pytest.raises(ShipwayError, match=r"eventBridge event 0: `pattern\.source` must be"):
        parse_bus_rules("fn", [{"pattern": {"source": "a"}}])
    with pytest.raises(ShipwayError, match="cannot be used together"):
        parse_bus_rules("fn", [{"pattern": {"source": ["a"]}, "input": {"a": 1}, "inputPath": "$"}])
