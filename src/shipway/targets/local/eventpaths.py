"""JSONPath-lite for EventBridge's `inputPath` and `inputPathsMap`: `$`, `$.detail.x`,
`$.resources[0]`, `$['detail-type']`."""

from __future__ import annotations

import re
from typing import Any

_SEGMENT = re.compile(r"\.([A-Za-z0-9_\-$@]+)|\[(\d+)\]|\[(?:'([^']*)'|\"([^\"]*)\")\]")


def parse_path(path: Any) -> tuple[str | int, ...]:
    """A JSONPath of EventBridge's plain kind: `$`, `$.detail.x`, `$.resources[0]`,
    `$['detail-type']`. ValueError when it is anything else."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise ValueError(f"`{path}` is not a JSON path (it starts with `$`)")
    parts: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if not m:
            raise ValueError(f"`{path}`: cannot read the path from `{path[pos:]}`")
        name, index, quoted1, quoted2 = m.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(next(p for p in (name, quoted1, quoted2) if p is not None))
        pos = m.end()
    return tuple(parts)


def resolve_path(value: Any, parts: tuple[str | int, ...]) -> Any:
    """The value at `parts`, or None where the event has nothing there."""
    for part in parts:
        if isinstance(part, int) and isinstance(value, list) and part < len(value):
            value = value[part]
        elif isinstance(part, str) and isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


__all__ = [
    "parse_path",
    "resolve_path",
]
