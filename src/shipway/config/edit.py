"""Edits of `shipway.yml` as text: an environment block added or removed where it belongs.

The file is the user's: its comments, key order, quoting and layout are kept, because the
edit is a splice of text at the places PyYAML's node marks give (the `environments:`
mapping and each environment's block), never a re-dump of the parsed document. The caller
checks the result with the project loader before anything is written (`write_atomically`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from shipway.config.services import PROJECT_FILE
from shipway.config.yamlsrc import parse_yaml
from shipway.errors import ShipwayError, Where

__all__ = [
    "EnvironmentBlock",
    "add_environment",
    "copy_environment",
    "environment_blocks",
    "remove_environment",
    "scalar",
    "write_atomically",
]

_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./*?\[\]-]*$")


def scalar(value: str) -> str:
    """`value` as a YAML scalar that reads back as exactly that string: plain when it can
    be, else double-quoted (a JSON string is valid YAML)."""
    if _PLAIN.match(value) and _reads_as(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _reads_as(text: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


@dataclass(frozen=True)
class EnvironmentBlock:
    """One environment's text in the file: `start`..`end` (character offsets) is its whole
    block, from the start of its key's line (a block mapping) or its key (a flow mapping)
    to the end of the line of its last value, trailing comment included."""

    name: str
    start: int
    end: int
    line: int  # 1-based line of its key
    key: yaml.Node
    value: yaml.Node


@dataclass(frozen=True)
class _Layout:
    text: str
    mapping: yaml.MappingNode  # the value of `environments:`
    blocks: tuple[EnvironmentBlock, ...]

    @property
    def flow(self) -> bool:
        return bool(self.mapping.flow_style)

    def block(self, name: str) -> EnvironmentBlock | None:
        return next((b for b in self.blocks if b.name == name), None)


def _layout(text: str) -> _Layout:
    parse_yaml(text, PROJECT_FILE)  # syntax, depth and size first, errors with their line
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:  # parse_yaml would have said so; never a traceback
        raise ShipwayError(f"invalid YAML: {exc}", Where(PROJECT_FILE)) from None
    if not isinstance(root, yaml.MappingNode):
        raise ShipwayError(
            "expected a mapping with `project` and `environments`", Where(PROJECT_FILE, 1)
        )
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "environments":
            if not isinstance(value, yaml.MappingNode) or not value.value:
                raise ShipwayError(
                    "`environments` is not a mapping of environments",
                    Where(PROJECT_FILE, key.start_mark.line + 1, "environments"),
                    hint="write `environments:` with one block per environment",
                )
            blocks = []
            for env_key, env_value in value.value:
                if not isinstance(env_key, yaml.ScalarNode):
                    continue
                start, end = env_key.start_mark.index, _last_index(text, env_value)
                if not value.flow_style:  # whole lines: its indentation, its trailing comment
                    start, end = _line_start(text, start), _line_end(text, end)
                blocks.append(
                    EnvironmentBlock(
                        env_key.value, start, end, env_key.start_mark.line + 1, env_key, env_value
                    )
                )
            return _Layout(text, value, tuple(blocks))
    raise ShipwayError("no `environments` mapping", Where(PROJECT_FILE, None, "environments"))


def environment_blocks(text: str) -> tuple[EnvironmentBlock, ...]:
    """Every environment's block in `text`, in the file's order."""
    return _layout(text).blocks


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """The end of the line holding `index` (its trailing comment included, not its \\n)."""
    end = text.find("\n", index)
    return len(text) if end < 0 else end


def _last_index(text: str, node: yaml.Node) -> int:
    """The offset just after the last character written for `node`'s value (a block
    mapping's end mark is where the next key starts, after comments and blank lines: its
    last leaf's end is used instead)."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return max(_last_index(text, child) for pair in node.value for child in pair)
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return max(_last_index(text, child) for child in node.value)
    end = node.end_mark.index
    while end > node.start_mark.index and text[end - 1] in " \t\r\n":
        end -= 1
    return end


def _refuse_existing(layout: _Layout, name: str) -> None:
    found = layout.block(name)
    if found is not None:
        raise ShipwayError(
            f"environment `{name}` already exists",
            Where(PROJECT_FILE, found.line, f"environments.{name}"),
            hint="choose another name, or edit its block",
        )


def _insert(layout: _Layout, block_text: str) -> str:
    """`block_text` (one `name: …` entry, already indented for a block mapping) after the
    last environment."""
    text = layout.text
    last = layout.blocks[-1]
    if layout.flow:
        return text[: last.end] + ", " + block_text.strip() + text[last.end :]
    return text[: last.end] + "\n" + block_text + text[last.end :]


def add_environment(
    text: str, name: str, branch: str, target: dict[str, dict[str, str]] | None = None
) -> str:
    """`text` with a new environment `name` following `branch` (on `target`: `None` for
    local, else `{"aws": {"region": …}}`), written in the style of the file's other blocks."""
    layout = _layout(text)
    _refuse_existing(layout, name)
    if target is None:
        target_text = "local"
    else:
        region = target["aws"]["region"]
        target_text = f"{{aws: {{region: {scalar(region)}}}}}"
    pairs = [("branch", scalar(branch)), ("target", target_text)]
    one_line = all(
        isinstance(b.value, yaml.MappingNode) and b.value.flow_style for b in layout.blocks
    )
    first = layout.blocks[0]
    indent = " " * first.key.start_mark.column
    if layout.flow or one_line:
        inner = ", ".join(f"{k}: {v}" for k, v in pairs)
        return _insert(layout, f"{indent}{scalar(name)}: {{{inner}}}")
    step = _child_indent(layout) or 2
    lines = [f"{indent}{scalar(name)}:"] + [f"{indent}{' ' * step}{k}: {v}" for k, v in pairs]
    return _insert(layout, "\n".join(lines))


def _child_indent(layout: _Layout) -> int | None:
    """How far a block environment's keys are indented below its name, as written."""
    for block in layout.blocks:
        value = block.value
        if isinstance(value, yaml.MappingNode) and not value.flow_style and value.value:
            return int(value.value[0][0].start_mark.column - block.key.start_mark.column)
    return None


def copy_environment(text: str, source: str, name: str, branch: str) -> str:
    """`text` with a copy of environment `source`'s block (its text, comments included)
    named `name`, following `branch`; a `stage:` it names becomes `name` (two environments
    never share stacks)."""
    layout = _layout(text)
    _refuse_existing(layout, name)
    block = layout.block(source)
    if block is None:
        known = ", ".join(b.name for b in layout.blocks)
        raise ShipwayError(
            f"no environment `{source}` to copy (known: {known})", hint="--from names one"
        )
    if not isinstance(block.value, yaml.MappingNode):
        raise ShipwayError(
            f"environment `{source}` is not a mapping",
            Where(PROJECT_FILE, block.line, f"environments.{source}"),
        )
    values = {k.value: v for k, v in block.value.value if isinstance(k, yaml.ScalarNode)}
    if "branch" not in values:
        raise ShipwayError(
            f"environment `{source}` has no `branch:` of its own",
            Where(PROJECT_FILE, block.line, f"environments.{source}"),
            hint=f"add `{name}` by hand",
        )
    replacements = [(block.key, scalar(name))]
    for key, new in (("branch", branch), ("stage", name)):
        node = values.get(key)
        if node is None:
            continue
        if not (block.start <= node.start_mark.index and node.end_mark.index <= block.end):
            raise ShipwayError(
                f"environment `{source}` takes its `{key}` from elsewhere in the file "
                "(an alias or merge key)",
                Where(PROJECT_FILE, block.line, f"environments.{source}"),
                hint=f"add `{name}` by hand",
            )
        replacements.append((node, scalar(new)))
    piece = text[block.start : block.end]
    for node, new in sorted(replacements, key=lambda r: -r[0].start_mark.index):
        lo, hi = node.start_mark.index - block.start, node.end_mark.index - block.start
        piece = piece[:lo] + new + piece[hi:]
    return _insert(layout, piece)


def remove_environment(text: str, name: str) -> str:
    """`text` without environment `name`'s block (the lines it takes, or its entry of a
    flow mapping)."""
    layout = _layout(text)
    block = layout.block(name)
    if block is None:
        raise ShipwayError(f"no environment `{name}` in {PROJECT_FILE}")
    if len(layout.blocks) == 1:
        raise ShipwayError(
            f"`{name}` is the only environment: at least one environment is needed",
            Where(PROJECT_FILE, block.line, f"environments.{name}"),
            hint="add another first (`shipway env add`), or leave out --forget",
        )
    if layout.flow:
        start, end = block.start, block.end
        after = re.match(r"\s*,\s*", text[end:])
        if after:
            end += after.end()
        else:
            before = re.search(r",\s*$", text[:start])
            if before:
                start = before.start()
        return text[:start] + text[end:]
    end = block.end + 1 if block.end < len(text) else block.end
    return text[: block.start] + text[end:]


def write_atomically(path: Path, text: str) -> None:
    """`text` into `path` whole or not at all: a temporary file beside it, flushed, given
    the file's mode, then renamed over it."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
