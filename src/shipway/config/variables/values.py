"""Values as the Framework handles them: JavaScript string coercion, plain copies."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "Lit",
    "coerce_string",
    "copy_value",
    "depth_over",
    "json_ready",
    "pending",
    "plain",
    "split_address",
    "walk",
]


class Lit(str):
    """A string built from interpolation: final, never parsed for variables again."""

    __slots__ = ()


def _js_number(value: float) -> str:
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def coerce_string(value: Any) -> str | None:
    """A value as the Framework writes it into a string; None when it cannot be."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, list):
        parts = []
        for item in value:
            if item is None:
                parts.append("")
            elif isinstance(item, dict):
                parts.append("[object Object]")
            else:
                parts.append(coerce_string(item) or "")
        return ",".join(parts)
    return None


def plain(value: Any) -> Any:
    """A deep copy as plain dicts, lists and str (no line info, no markers)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def json_ready(value: Any) -> Any:
    """Plain data as `JSON.stringify` writes it: NaN and ±Infinity (YAML's `.nan`,
    `.inf`) become null; everything else is kept (containers copied)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def copy_value(value: Any) -> Any:
    """A deep copy into plain containers, keeping `Lit` markers."""
    if isinstance(value, dict):
        return {k: copy_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_value(v) for v in value]
    return value


def depth_over(value: Any, limit: int) -> bool:
    """Whether lists and dicts nest deeper than `limit` in `value` (without recursion)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


def pending(value: Any) -> bool:
    return isinstance(value, str) and not isinstance(value, Lit) and "${" in value


def split_address(address: str) -> list[str]:
    return address.split(".")


def walk(node: Any, keys: Sequence[str | int]) -> Any:
    for key in keys:
        if isinstance(node, dict):
            node = node.get(str(key))
        elif isinstance(node, list):
            try:
                node = node[int(key)]
            except (ValueError, IndexError):
                return None
        else:
            return None
        if node is None:
            return None
    return node
