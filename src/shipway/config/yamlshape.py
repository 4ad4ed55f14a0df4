"""The shape of a YAML text checked before it is composed: depth and alias-expanded size.

libyaml's composer recurses in C (100,000 nested `[` end in a segfault) and the
constructor in Python (a few hundred levels end in RecursionError); an alias bomb
("billion laughs") is small as text and huge once its aliases are expanded. The event
parser is iterative, so the stream of events is walked once, with a stack, counting
every collection's depth and its size with aliases expanded (memoised per anchor, so the
count is linear in the text).

Most files cannot be deep or hold an alias at all: a cheap look at the text proves that
and skips the walk (see `_surely_bounded`).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from shipway.errors import ShipwayError, Where
from shipway.limits import MAX_DEPTH, MAX_NODES

__all__ = ["check_shape"]

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# a line whose leading run of spaces and `-` `?` `:` indicators is this long may nest deep
_LEAD = (MAX_DEPTH // 2) // 2
_BREAKS = "\n\r\x85\u2028\u2029"  # every line break YAML 1.1 knows (libyaml too)
_LONG_LEAD = re.compile("[" + _BREAKS + "][ \t?:-]{" + str(_LEAD) + "}")


_NODE_START = " \t[{," + _BREAKS


def _may_hold_alias(text: str) -> bool:
    """Whether an anchor (`&a`) or alias (`*a`) may be in the text: one can only start
    where a node starts (str.find: globs and cron lines hold many `*`)."""
    for char in "&*":
        index = text.find(char)
        while index != -1:
            if index == 0 or text[index - 1] in _NODE_START:
                return True
            index = text.find(char, index + 1)
    return False


def _surely_bounded(text: str) -> bool:
    """True when the text cannot nest deeper than MAX_DEPTH nor expand past its size.

    A block collection nested in another starts at a greater column (or is a sequence
    written at its key's column, at most once per column), and that column lies in the
    line's leading run of spaces and indicators: with every run shorter than _LEAD,
    block depth <= 2 * _LEAD. Flow depth is at most the number of `[` and `{` in the
    text. Without anchors and aliases, the node count is bounded by the text's length.
    """
    if _may_hold_alias(text) or _LONG_LEAD.search("\n" + text):
        return False
    return 2 * _LEAD + text.count("[") + text.count("{") <= MAX_DEPTH


def check_shape(text: str, filename: str) -> None:
    """ShipwayError naming `filename:line` when the document nests deeper than MAX_DEPTH
    or holds more than MAX_NODES values with its aliases expanded. Syntax errors are
    left to the parser that follows."""
    if _surely_bounded(text):
        return
    loader = _BaseLoader(text)
    try:
        if _may_hold_alias(text):
            _walk(loader, filename)
        else:
            _walk_depth(loader, filename)
    except yaml.YAMLError:
        return  # the real parse reports it, with its line
    finally:
        loader.dispose()


def _walk_depth(loader: Any, filename: str) -> None:
    """Depth alone (no aliases: the size is bounded by the text's)."""
    depth = 0
    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    while loader.check_event():
        event = loader.get_event()
        kind = type(event)
        if kind in starts:
            depth += 1
            if depth > MAX_DEPTH:
                raise _error(filename, event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        elif kind in ends:
            depth -= 1


def _walk(loader: Any, filename: str) -> None:
    # each open collection: [values below it (aliases expanded), depth below it, anchor]
    stack: list[list[Any]] = []
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, depth)
    open_anchors: set[str] = set()

    def add(nodes: int, depth: int, mark: Any) -> None:
        if len(stack) + depth > MAX_DEPTH:
            raise _error(filename, mark, f"nested deeper than {MAX_DEPTH} levels")
        if stack:
            parent = stack[-1]
            parent[0] += nodes
            parent[1] = max(parent[1], depth + 1)
            if parent[0] > MAX_NODES:
                raise _error(
                    filename,
                    mark,
                    f"the document holds more than {MAX_NODES:,} values with its aliases "
                    "expanded (an alias bomb?)",
                )

    while loader.check_event():
        event = loader.get_event()
        kind = type(event)
        if kind is yaml.ScalarEvent:
            if event.anchor is not None:
                anchors[event.anchor] = (1, 0)
            add(1, 0, event.start_mark)
        elif kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
            if len(stack) >= MAX_DEPTH:
                raise _error(filename, event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            stack.append([1, 1, event.anchor])
            if event.anchor is not None:
                open_anchors.add(event.anchor)
        elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
            nodes, depth, anchor = stack.pop()
            if anchor is not None:
                anchors[anchor] = (nodes, depth)
                open_anchors.discard(anchor)
            add(nodes, depth, event.start_mark)
        elif kind is yaml.AliasEvent:
            if event.anchor in open_anchors:
                raise _error(
                    filename,
                    event.start_mark,
                    f"alias `*{event.anchor}` refers to a collection that contains it",
                )
            nodes, depth = anchors.get(event.anchor, (1, 0))
            add(nodes, depth, event.start_mark)
        elif kind is yaml.DocumentStartEvent:
            anchors.clear()


def _error(filename: str, mark: Any, message: str) -> ShipwayError:
    return ShipwayError(f"invalid YAML: {message}", Where(filename, mark.line + 1))
