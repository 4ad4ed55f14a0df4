"""YAML that remembers where each value came from.

Mappings load as `LineDict` and sequences as `LineList`; both carry the 1-based line of
themselves and of each key / item, so every config error can name `file:line`. CloudFormation
short-form tags (`!Ref`, `!GetAtt`, `!Sub` …) load as their long form, as the Serverless
Framework reads them.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from shipway.config.files import read_config_text, root_of
from shipway.config.yamlshape import check_shape
from shipway.errors import ShipwayError, Where

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict[str, Any]):
    """A mapping with `line` (where it starts) and `lines[key]` (where each key is)."""

    line: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[str, int] = {}


class LineList(list[Any]):
    """A sequence with `line` (where it starts) and `lines[i]` (where item i is)."""

    line: int | None = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lines: list[int] = []


_INTRINSICS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
}


class _Loader(_BaseLoader):  # type: ignore[misc]
    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ShipwayError, yaml.YAMLError):
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            # `!!float nope`, `!!int x`, `!!timestamp nope`, `!!bool maybe` …
            value = node.value if isinstance(node, yaml.ScalarNode) else None
            shown = f" `{value[:40]}`" if isinstance(value, str) else ""
            raise ShipwayError(
                f"invalid YAML: value{shown} is not a valid `{_short_tag(node.tag)}`",
                Where(self.name, node.start_mark.line + 1),
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        self.flatten_mapping(node)
        merged = len(node.value) - explicit  # merged pairs come first; keys written win
        out = LineDict()
        out.line = node.start_mark.line + 1
        written: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise ShipwayError(
                    "a mapping key must be a plain value",
                    Where(self.name, key_node.start_mark.line + 1),
                )
            key = str(key) if not isinstance(key, str) else key
            if index >= merged:
                if key in written:
                    raise ShipwayError(
                        f"duplicate key `{key}`",
                        Where(self.name, key_node.start_mark.line + 1, key),
                    )
                written.add(key)
            out[key] = self.construct_object(value_node, deep=True)
            out.lines[key] = key_node.start_mark.line + 1
        return out

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
        out = LineList()
        out.line = node.start_mark.line + 1
        for child in node.value:
            out.append(self.construct_object(child, deep=True))
            out.lines.append(child.start_mark.line + 1)
        return out


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


def _construct_yaml_map(loader: _Loader, node: yaml.MappingNode) -> Any:
    return loader.construct_mapping(node)


def _construct_yaml_seq(loader: _Loader, node: yaml.SequenceNode) -> Any:
    return loader.construct_sequence(node)


def _construct_intrinsic(loader: _Loader, tag_suffix: str, node: yaml.Node) -> Any:
    name = _INTRINSICS.get(tag_suffix, f"Fn::{tag_suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node)
    out = LineDict({name: value})
    out.line = node.start_mark.line + 1
    out.lines[name] = out.line
    return out


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> str:
    """A date stays the text written (`2010-09-09`, as CloudFormation reads it): a
    `datetime` has no JSON form. An invalid `!!timestamp` is still an error."""
    loader.construct_yaml_timestamp(node)
    return str(loader.construct_scalar(node))


def _refuse_tag(loader: _Loader, node: yaml.Node) -> Any:
    raise ShipwayError(
        f"invalid YAML: the `{_short_tag(node.tag)}` tag is not supported in config files",
        Where(loader.name, node.start_mark.line + 1),
    )


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_yaml_seq)
_Loader.add_multi_constructor("!", _construct_intrinsic)


class _CoreLoader(_Loader):
    """YAML 1.2's booleans, as js-yaml (the Serverless Framework's parser) and Compose's Go
    parser read them: only `true` / `false` (any case form js-yaml takes); `yes`, `no`,
    `on`, `off` stay strings (YAML 1.1, PyYAML's default, makes them booleans)."""


_BOOL = "tag:yaml.org,2002:bool"
_CoreLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    _CoreLoader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0, (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"))
    )


def parse_yaml(text: str, filename: str, *, core_booleans: bool = False) -> Any:
    """Parse YAML text; a syntax error names `filename:line`. The text's depth and size
    with aliases expanded are checked first (`yamlshape`). `core_booleans`: YAML 1.2's
    booleans (serverless.yml, Compose), not YAML 1.1's."""
    check_shape(text, filename)
    loader = (_CoreLoader if core_booleans else _Loader)(text)
    loader.name = filename
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ShipwayError(
            f"invalid YAML: {exc.problem or exc.context}", Where(filename, line)
        ) from None
    except yaml.YAMLError as exc:
        raise ShipwayError(f"invalid YAML: {exc}", Where(filename)) from None
    finally:
        loader.dispose()


def load_yaml(
    path: Path,
    display: str | None = None,
    root: Path | None = None,
    *,
    core_booleans: bool = False,
) -> Any:
    """Read and parse a YAML file; `display` is the name errors use (default: the path).
    The file must stay inside `root` (default: the root `display` implies, see `root_of`).
    `core_booleans`: see `parse_yaml`."""
    name = display or str(path)
    if root is None and display is not None:
        root = root_of(path, display)
    text = read_config_text(path, name, root)
    # the same file is read again and again (discovery, then each environment's load):
    # parsed once per text, handed out as a copy (a caller may change what it gets)
    key = (name, core_booleans, hashlib.blake2b(text.encode(), digest_size=16).digest())
    with _parsed_lock:
        found = _parsed.get(key, _MISSING)
        if found is not _MISSING:
            _parsed.move_to_end(key)
            return copy_document(found)
    doc = parse_yaml(text, name, core_booleans=core_booleans)
    with _parsed_lock:
        _parsed[key] = doc
        while len(_parsed) > _PARSED_KEPT:
            _parsed.popitem(last=False)
    return copy_document(doc)


_PARSED_KEPT = 4096  # documents (a monorepo's serverless.yml, each environment's layers)
_parsed: OrderedDict[tuple[str, bool, bytes], Any] = OrderedDict()
_parsed_lock = threading.Lock()
_MISSING = object()


def copy_document(node: Any) -> Any:
    """A parsed document copied, its line numbers too: mappings and sequences are new,
    the scalars (immutable) shared."""
    if isinstance(node, LineDict):
        out = LineDict((k, copy_document(v)) for k, v in node.items())
        out.lines = dict(node.lines)
        out.line = node.line
        return out
    if isinstance(node, LineList):
        items = LineList(copy_document(v) for v in node)
        items.lines = list(node.lines)
        items.line = node.line
        return items
    if isinstance(node, dict):
        return {k: copy_document(v) for k, v in node.items()}
    if isinstance(node, list):
        return [copy_document(v) for v in node]
    if isinstance(node, set):  # `!!set`
        return set(node)
    return node


def line_of(doc: Any, path: Sequence[str | int]) -> int | None:
    """The line of the deepest existing element of `path` inside a loaded document."""
    best: int | None = getattr(doc, "line", None)
    node = doc
    for part in path:
        if isinstance(node, LineDict) and isinstance(part, str) and part in node:
            best = node.lines.get(part, best)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            best = node.lines[part]
            node = node[part]
        else:
            break
    return best


def key_path(path: Sequence[str | int]) -> str:
    """`('functions', 'hello', 'events', 0)` -> `functions.hello.events[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def kind_of(value: Any) -> str:
    """How a value reads in an error message: `a string`, `a list`, `null` …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


_KEY_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_key_path(text: str) -> list[str | int]:
    """`functions.hello.events[0]` -> ['functions', 'hello', 'events', 0] (inverse of
    `key_path`)."""
    return [int(index) if index else name for name, index in _KEY_PART.findall(text)]


def with_line(error: ShipwayError, root: Path) -> ShipwayError:
    """`error` with the line of its key filled in from its file (under `root`), when the
    error names a key but not a line (errors raised from resolved, line-less data)."""
    where = error.where
    if where is None or where.line is not None or not where.key:
        return error
    try:
        doc = load_yaml(root / where.file, where.file)
    except ShipwayError:
        return error
    line = line_of(doc, split_key_path(where.key))
    if line is None:
        return error
    return ShipwayError(error.message, Where(where.file, line, where.key), error.hint)
