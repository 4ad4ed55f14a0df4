"""python-dotenv's `.env` syntax, read in linear time.

python-dotenv's own parser is used for everything (its `Reader` and regular expressions)
but two steps that are quadratic on hostile input: stripping a ` # comment` from an
unquoted value (`re.sub(r"\\s+#.*", …)` restarts at every space of a long run) and
`${VAR}` expansion (its regex rescans the rest of the value at every `${`). Both are
re-done here with the same results, in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from dotenv.parser import (
    Binding,
    Error,
    Reader,
    _comment,
    _end_of_line,
    _equal_sign,
    _export,
    _multiline_whitespace,
    _rest_of_line,
    _whitespace,
    parse_key,
)
from dotenv.parser import parse_value as _dotenv_parse_value

__all__ = ["TooLong", "bindings", "expand"]

_UNQUOTED_VALUE = re.compile(r"([^\r\n]*)")
_SPACE_HASH = re.compile(r"\s#")
_NAME_END = re.compile(r"[}:]")


def _strip_comment(part: str) -> str:
    """`re.sub(r"\\s+#.*", "", part)`: cut at the start of the first run of whitespace
    that a `#` follows."""
    match = _SPACE_HASH.search(part)
    if match is not None:
        start = match.start()
        while start > 0 and part[start - 1].isspace():
            start -= 1
        part = part[:start]
    return part.rstrip()


def _parse_value(reader: Reader) -> str:
    if reader.peek(1) in ("'", '"', "", "\n", "\r"):
        return _dotenv_parse_value(reader)
    (part,) = reader.read_regex(_UNQUOTED_VALUE)
    return _strip_comment(part)


def _parse_binding(reader: Reader) -> Binding:
    """python-dotenv's `parse_binding`, with the linear `_parse_value`."""
    reader.set_mark()
    try:
        reader.read_regex(_multiline_whitespace)
        if not reader.has_next():
            return Binding(key=None, value=None, original=reader.get_marked(), error=False)
        reader.read_regex(_export)
        key = parse_key(reader)
        reader.read_regex(_whitespace)
        value: str | None = None
        if reader.peek(1) == "=":
            reader.read_regex(_equal_sign)
            value = _parse_value(reader)
        reader.read_regex(_comment)
        reader.read_regex(_end_of_line)
        return Binding(key=key, value=value, original=reader.get_marked(), error=False)
    except Error:
        reader.read_regex(_rest_of_line)
        return Binding(key=None, value=None, original=reader.get_marked(), error=True)


class _Text:
    """What `Reader` reads from (it calls `.read()` once)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read(self) -> str:
        return self.text


def bindings(text: str) -> Iterator[Binding]:
    """The bindings of a `.env` text, as python-dotenv's `parse_stream` gives them."""
    reader = Reader(_Text(text))  # type: ignore[arg-type]
    while reader.has_next():
        yield _parse_binding(reader)


class TooLong(Exception):
    """An expanded value would pass the limit it was given."""


def expand(value: str, scope: Mapping[str, str], limit: int) -> str:
    """`${NAME}` and `${NAME:-default}` expanded as python-dotenv expands them (an unset
    name without a default is empty), scanning `value` once; TooLong past `limit`."""
    out: list[str] = []
    size = 0
    cursor = 0
    start = value.find("${")
    while start != -1:
        stop = _NAME_END.search(value, start + 2)
        if stop is None:
            break  # no `}` or `:` ahead: nothing further can match
        end = stop.start()
        if value[end] == "}":
            name, default, after = value[start + 2 : end], None, end + 1
        elif value.startswith(":-", end):
            close = value.find("}", end + 2)
            if close == -1:
                break
            name, default, after = value[start + 2 : end], value[end + 2 : close], close + 1
        else:  # `${name:x`: every `${` before this `:` fails the same way
            start = value.find("${", end)
            continue
        found = scope.get(name)
        piece = found if found is not None else (default or "")
        size += (start - cursor) + len(piece)
        if size > limit:
            raise TooLong
        out += (value[cursor:start], piece)
        cursor = after
        start = value.find("${", after)
    if size + len(value) - cursor > limit:
        raise TooLong
    out.append(value[cursor:])
    return "".join(out)
