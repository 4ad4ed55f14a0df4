"""What of a service's document its CloudFormation stack is made of, beyond functions and
routes: read by the local target (is anything there for its AWS emulator to hold? has it
changed?) and by the pipeline (is the template worth synthesizing for it?).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["is_expression", "resources_digest", "wants_stack"]


def is_expression(value: Any) -> bool:
    """A CloudFormation expression as a function's environment value: `{Ref: X}` or one
    `Fn::` function (the local release keeps it as compact JSON text)."""
    return (
        isinstance(value, Mapping)
        and len(value) == 1
        and (next(iter(value)) == "Ref" or str(next(iter(value))).startswith("Fn::"))
    )


#: events whose configuration the release records itself (its routes, schedules, rules)
_RECORDED_EVENTS = frozenset({"http", "httpApi", "schedule", "websocket", "eventBridge"})


def resources_digest(resolved: Mapping[str, Any]) -> str:
    """A digest of what of a service's document shapes its emulated stack and the release
    does not record otherwise (`resources:`, its functions' other events); "" when it
    has none (so a service without any is unchanged whatever Shipway version wrote it)."""
    functions = resolved.get("functions") or {}
    events = {
        str(name): [
            e
            for e in (spec.get("events") or [])
            if isinstance(e, Mapping) and not (set(e) <= _RECORDED_EVENTS)
        ]
        for name, spec in (functions.items() if isinstance(functions, Mapping) else ())
        if isinstance(spec, Mapping)
    }
    events = {k: v for k, v in events.items() if v}
    resources = resolved.get("resources")
    if not resources and not events:
        return ""
    text = json.dumps([resources, events], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def wants_stack(resolved: Mapping[str, Any]) -> bool:
    """Whether a service's document gives the emulator anything to hold or resolve: its
    `resources:` or events that make resources, or an environment value that is an
    expression (a service of functions alone is not synthesized for the emulator)."""
    if resources_digest(resolved):
        return True
    provider = resolved.get("provider") or {}
    functions = resolved.get("functions") or {}
    scopes = [provider.get("environment") if isinstance(provider, Mapping) else None]
    if isinstance(functions, Mapping):
        scopes += [f.get("environment") for f in functions.values() if isinstance(f, Mapping)]
    return any(
        is_expression(value)
        for scope in scopes
        if isinstance(scope, Mapping)
        for value in scope.values()
    )
