"""lodash's `_.merge`, as the Framework merges documents with it (its legacy `functions:`
and `resources:` lists, synthesis's user resources and settings over generated ones)."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["lodash_merge"]


def lodash_merge(target: dict[str, Any], source: Any) -> dict[str, Any]:
    """lodash `_.merge(target, source)`: deep, arrays merged index by index, in place."""
    if not isinstance(source, dict):
        return target
    for key, value in source.items():
        if value is None and key in target:
            # lodash keeps `null` from the source (only `undefined` is skipped)
            target[key] = None
            continue
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            lodash_merge(current, value)
        elif isinstance(value, list) and isinstance(current, list):
            _merge_list(current, value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _merge_list(target: list[Any], source: list[Any]) -> None:
    for i, value in enumerate(source):
        if i < len(target):
            current = target[i]
            if isinstance(value, dict) and isinstance(current, dict):
                lodash_merge(current, value)
            elif isinstance(value, list) and isinstance(current, list):
                _merge_list(current, value)
            else:
                target[i] = copy.deepcopy(value)
        else:
            target.append(copy.deepcopy(value))
