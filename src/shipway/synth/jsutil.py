"""The few JavaScript behaviours the Framework's output depends on, in Python.

`JSON.stringify` (compact, no ASCII escaping), `String.prototype.localeCompare` ordering
(ICU root collation, approximated for ASCII keys), lodash `_.merge` and `_.upperFirst`.
"""

from __future__ import annotations

import json
from typing import Any

from shipway.config.lodash import lodash_merge

__all__ = ["deep_sort", "js_stringify", "locale_key", "lodash_merge", "upper_first"]

# ICU root collation order of the ASCII punctuation and symbols (they sort before digits,
# digits before letters; letters compare case-insensitively first, lower case first on ties).
_PUNCT = "\t\n\x0b\x0c\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"
_PUNCT_RANK = {c: i for i, c in enumerate(_PUNCT)}


def _primary(ch: str) -> tuple[int, int]:
    if ch in _PUNCT_RANK:
        return (0, _PUNCT_RANK[ch])
    if ch.isdigit():
        return (1, ord(ch))
    if ch.isalpha():
        return (2, ord(ch.lower()))
    return (3, ord(ch))


def locale_key(text: str) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """A sort key that orders ASCII strings as Node's `a.localeCompare(b)` does."""
    primary = tuple(_primary(c) for c in text)
    tertiary = tuple(0 if c.islower() or not c.isalpha() else 1 for c in text)
    return primary, tertiary


def deep_sort(value: Any) -> Any:
    """lib/utils/deep-sort-object-by-key.js: keys sorted with localeCompare, recursively."""
    if isinstance(value, list):
        return [deep_sort(v) for v in value]
    if isinstance(value, dict):
        # one key per string, not two per comparison: keys are compared as tuples
        return {k: deep_sort(value[k]) for k in sorted(value, key=locale_key)}
    return value


def _js_number(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return "null"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def js_stringify(value: Any) -> str:
    """`JSON.stringify(value)`: compact, keys in insertion order, non-ASCII kept."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(js_stringify(v) for v in value) + "]"
    if isinstance(value, dict):
        parts = [
            json.dumps(str(k), ensure_ascii=False) + ":" + js_stringify(v) for k, v in value.items()
        ]
        return "{" + ",".join(parts) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]
