"""Durations as people write them in shipway.yml: `30s`, `30m`, `72h`, `1d`, or seconds."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d{1,12})\s*([smhd]?)\s*$")
_EXPECTED = "expected a duration such as `30s`, `30m`, `72h` or a number of seconds"


def format_duration(seconds: int) -> str:
    """The shortest exact way to write `seconds`: `36h`, `90m`, `45s`."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_duration(value: object, maximum: int | None = None) -> int:
    """Seconds in `value`; raises ValueError with what was expected (and the maximum)."""
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        seconds = value
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if match and int(match.group(1)) > 0:
            seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds is None:
        raise ValueError(_EXPECTED)
    if maximum is not None and seconds > maximum:
        raise ValueError(f"at most {format_duration(maximum)} is allowed")
    return seconds
