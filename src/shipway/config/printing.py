"""`shipway print`: the resolved serverless.yml, rendered as `serverless print` (v3) does.

v3's print plugin dumps `configurationInput` after variable resolution: YAML through
js-yaml (`noRefs`: keys in the order written, block style, sequences indented under
their key, multi-line strings as `|` blocks), or JSON with an indent of two spaces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import yaml

from shipway.config.variables.values import json_ready
from shipway.errors import ShipwayError
from shipway.model import ServiceDefinition

__all__ = ["PrintFormat", "print_config", "render_config"]

PrintFormat = Literal["yaml", "json"]


def print_config(definition: ServiceDefinition, fmt: PrintFormat = "yaml") -> str:
    """The service's whole resolved document as `serverless print --format FMT` shows it."""
    return render_config(definition.resolved, fmt)


def render_config(document: Mapping[str, Any], fmt: PrintFormat = "yaml") -> str:
    """A resolved document (plain data) as YAML or JSON text, ending with one newline."""
    data = _plain(document)
    if fmt == "json":
        return json.dumps(json_ready(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if fmt == "yaml":
        text: str = yaml.dump(
            data,
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            indent=2,
            width=10**9,
        )
        return text
    raise ShipwayError(f"unknown print format `{fmt}`", hint="use `yaml` or `json`")


def _plain(value: Any) -> Any:
    """Plain dicts, lists, str, numbers, booleans and None (tuples become lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)  # drops str subclasses (line-aware strings, markers)
    return value


class _Dumper(yaml.SafeDumper):
    """js-yaml's layout: `key:\\n  - item` rather than PyYAML's `key:\\n- item`."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)
