"""Durations as people write them in shipway.yml: `30s`, `30m`, `72h`, `1d`, or seconds."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")


def parse_duration(value: object) -> int:
    """Seconds in `value`; raises ValueError with what was expected."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as `30s`, `30m`, `72h` or a number of seconds")
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match and int(match.group(1)) > 0:
            return int(match.group(1)) * _UNITS[match.group(2) or "s"]
    raise ValueError("expected a duration such as `30s`, `30m`, `72h` or a number of seconds")
