"""What Shipway implements of what the Framework knows: one table, checked in one walk.

Keys the Framework's schema does not know never get here (config/framework_schema.py
takes them out: they are warnings). Of the rest, Shipway implements:
- the keys of each mapping its compilers check with `check_keys` (their allowed-key sets:
  `PROVIDER_KEYS`, `FUNCTION_KEYS`, each event compiler's keys …, the one source of truth:
  a compiler that learns a key adds it to its own set);
- the event types that have a compiler (`events.COMPILERS`);
- every setting below, unless its value is refused by `REFUSED`: a key path pattern (`*`
  one mapping key, `[]` one list item) -> when its value is refused, what it is, a hint.
  A feature that makes one of these work removes its line.

`synthesize` lists every refusal (context.collecting), not only the first.

How a feature registers a key it now implements:
- a key of a mapping a compiler checks: add it to that compiler's allowed-key set (the
  set its `check_keys` call is given); nothing else;
- a new event type: add its compiler to `events.COMPILERS`;
- a setting refused here by its value: delete its line from `REFUSED`;
- a key the Framework's schema does not know (a plugin's, such as
  `functions.*.iamRoleStatements`): add its pattern to
  `config.framework_schema.KNOWN_BEYOND_SCHEMA`, else it is a warning and left out of the
  document before synthesis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from shipway.synth.context import refuse, unsupported
from shipway.synth.function_roles import PLUGIN as FUNCTION_ROLES_PLUGIN
from shipway.synth.plugin_tracing import PLUGIN as TRACING_PLUGIN

__all__ = [
    "IMPLEMENTED_PLUGINS",
    "PACKAGING_PLUGINS",
    "REFUSED",
    "Refusal",
    "check_refused",
    "values_at",
]

#: plugins that change only how code is packaged: accepted, with a warning
PACKAGING_PLUGINS = frozenset(
    {
        "serverless-python-requirements",
        "serverless-webpack",
        "serverless-esbuild",
        "serverless-plugin-typescript",
        "serverless-bundle",
        "serverless-plugin-include-dependencies",
        "serverless-plugin-common-excludes",
        "serverless-prune-plugin",
        "serverless-offline",
        "serverless-dotenv-plugin",
    }
)

#: plugins whose settings Shipway compiles itself (the plugin is not run)
IMPLEMENTED_PLUGINS = frozenset({FUNCTION_ROLES_PLUGIN, TRACING_PLUGIN})

_PLUGINS_HINT = (
    "Shipway does not run Serverless Framework plugins; only packaging plugins ("
    + ", ".join(sorted(PACKAGING_PLUGINS))
    + ") and the ones it implements ("
    + ", ".join(sorted(IMPLEMENTED_PLUGINS))
    + ") are accepted"
)


@dataclass(frozen=True)
class Refusal:
    refused: Callable[[Any], bool]  # the value (resolved) is refused
    what: Callable[[Any], str] | None = None  # what the setting is (default: "this setting")
    hint: str | None = None


def _truthy(value: Any) -> bool:
    return bool(value)


def _not_packaging(value: Any) -> bool:
    return str(value) not in PACKAGING_PLUGINS | IMPLEMENTED_PLUGINS


#: key path pattern -> when its value is refused
REFUSED: dict[str, Refusal] = {
    "plugins[]": Refusal(_not_packaging, lambda name: f"plugin `{name}`", _PLUGINS_HINT),
    "plugins.modules[]": Refusal(_not_packaging, lambda name: f"plugin `{name}`", _PLUGINS_HINT),
    "custom.pythonRequirements.layer": Refusal(
        _truthy, lambda _: "`custom.pythonRequirements.layer` (a layer built by the plugin)"
    ),
    "functions.*.image": Refusal(lambda _: True, lambda _: "container image functions (`image`)"),
}


def values_at(document: Any, pattern: str) -> Iterator[tuple[str, Any]]:
    """(key path, value) of every place in `document` that `pattern` names."""
    parts = pattern.replace("[]", ".[]").split(".")
    nodes: list[tuple[str, Any]] = [("", document)]
    for part in parts:
        found: list[tuple[str, Any]] = []
        for path, node in nodes:
            if part == "[]":
                if isinstance(node, list | tuple):
                    found += [(f"{path}[{i}]", item) for i, item in enumerate(node)]
            elif isinstance(node, Mapping):
                keys = list(node) if part == "*" else [part] if part in node else []
                found += [(f"{path}.{k}" if path else str(k), node[k]) for k in keys]
        nodes = found
    yield from nodes


def check_refused(source: str, resolved: Mapping[str, Any]) -> None:
    """Every setting of `REFUSED` whose value is refused (`refuse`: raised, or listed)."""
    for pattern, rule in REFUSED.items():
        for path, value in values_at(resolved, pattern):
            if rule.refused(value):
                what = rule.what(value) if rule.what else None
                refuse(unsupported(source, path, what, rule.hint))
