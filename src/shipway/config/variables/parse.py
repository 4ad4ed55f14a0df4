"""The `${...}` grammar of the Serverless Framework v3 (lib/configuration/variables/parse.js).

A variable starts with a lower-case source type (`self`, `opt`, `env`, `file(path)` …);
anything else after `${` (CloudFormation's `${AWS::Region}`, `${Foo}`) is left alone.
Fallback sources follow a comma; a quoted string, a number, `true`, `false` or `null`
may close the list. Variables nest in addresses and params
(`${self:custom.${sls:stage}.x}`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from shipway.limits import MAX_VARIABLE_NESTING

__all__ = ["Meta", "Src", "Var", "VariableSyntaxError", "parse_variables"]

_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyz")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.")
_TYPE_RE = re.compile(r"[a-z][a-zA-Z0-9]*\Z")
_NUMBER_RE = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*\Z")


class VariableSyntaxError(Exception):
    """A `${...}` that the Framework's parser rejects."""


class _Foreign(Exception):
    pass


@dataclass
class Meta:
    """A param or address: raw text, or a literal, possibly with variables inside."""

    value: Any
    variables: list[Var] | None = None


@dataclass
class Src:
    type: str | None  # None: a literal fallback (`value`)
    params: list[Meta] | None = None
    address: Meta | None = None
    value: Any = None


@dataclass
class Var:
    start: int
    end: int
    text: str
    sources: list[Src] = field(default_factory=list)


def _number(text: str) -> int | float | None:
    if not _NUMBER_RE.match(text):
        return None
    number = float(text)
    if number.is_integer() and abs(number) < 2**53:
        return int(number)
    return number


def _literal(text: str, fallback_to_text: bool = False) -> Any:
    if text == "true":
        return True
    if text == "false":
        return False
    if text == "null":
        return None
    number = _number(text)
    if number is not None:
        return number
    if fallback_to_text:
        return text
    raise VariableSyntaxError(f"invalid literal source `{text}`")


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.depth = 0  # of nested `${...}` (bounded: the parser recurses)

    def fail(self, what: str, index: int) -> VariableSyntaxError:
        return VariableSyntaxError(f"{what} at index {index} in `{self.s}`")

    def unterminated(self) -> VariableSyntaxError:
        return VariableSyntaxError(f"missing variable closing bracket in `{self.s}`")

    def spaces(self, k: int) -> int:
        while k < self.n and self.s[k] == " ":
            k += 1
        if k >= self.n:
            raise self.unterminated()
        return k

    def top(self) -> list[Var]:
        s, n, out, i = self.s, self.n, [], 0
        while i < n:
            c = s[i]
            if c == "\\":
                i += 2
            elif c == "$" and s.startswith("${", i):
                found = self.variable(i, nested=False)
                if found is None:
                    i += 2
                else:
                    var, i = found
                    out.append(var)
            else:
                i += 1
        return out

    def string(self, k: int) -> tuple[int, str]:
        """A quoted literal starting at `k`: (index after it, value)."""
        s, quote = self.s, self.s[k]
        j = k + 1
        while j < self.n:
            if s[j] == "\\" and quote == '"':
                j += 2
                continue
            if s[j] == quote:
                raw = s[k : j + 1]
                if quote == "'":
                    return j + 1, raw[1:-1]
                try:
                    return j + 1, str(json.loads(raw))
                except ValueError as exc:
                    raise self.fail(f"invalid string literal ({exc})", k) from None
            j += 1
        raise self.unterminated()

    def variable(self, i: int, nested: bool) -> tuple[Var, int] | None:
        s, n = self.s, self.n
        j = i + 2
        if j >= n:
            if nested:
                raise self.unterminated()
            return None
        if s[j] not in _ALPHA:
            if nested:
                raise self.fail("invalid variable type", j)
            return None
        k = j
        while k < n and s[k] in _ALNUM:
            k += 1
        if k >= n or s[k] not in ":(":
            if nested:
                raise self.fail("invalid variable type", j)
            return None
        src = Src(s[j:k])
        try:
            k = self.after_type(src, k, foreign_ok=not nested)
        except _Foreign:
            return None
        sources = [src]
        while s[k] != "}":  # s[k] == ","
            k = self.spaces(k + 1)
            c = s[k]
            if c in _ALNUM:
                m = k
                while m < n and (s[m] in _ALNUM or s[m] == " "):
                    m += 1
                if m >= n:
                    raise self.unterminated()
                if s[m] in ":(":
                    if not _TYPE_RE.match(s[k:m]):
                        raise self.fail("invalid variable source", k)
                    src = Src(s[k:m])
                    k = self.after_type(src, m, foreign_ok=False)
                    sources.append(src)
                elif s[m] in "},":  # a literal; the Framework allows it only last
                    sources.append(Src(None, value=_literal(s[k:m].strip())))
                    k = m
                else:
                    raise self.fail("invalid variable source", k)
            elif c in "\"'":
                end, value = self.string(k)
                m = self.spaces(end)
                if s[m] not in "},":
                    raise self.fail("invalid variable source", k)
                sources.append(Src(None, value=value))
                k = m
            else:
                raise self.fail("invalid variable source", k)
        return Var(i, k + 1, s[i : k + 1], sources), k + 1

    def nested(self, k: int, start: int, into: list[Var]) -> int:
        if self.depth >= MAX_VARIABLE_NESTING:
            raise self.fail(f"variables nested more than {MAX_VARIABLE_NESTING} deep", k)
        self.depth += 1
        try:
            found = self.variable(k, nested=True)
        finally:
            self.depth -= 1
        assert found is not None
        var, end = found
        into.append(Var(var.start - start, var.end - start, var.text, var.sources))
        return end

    def after_type(self, src: Src, k: int, foreign_ok: bool) -> int:
        """From the `:` or `(` after a type to the `,` or `}` ending the source."""
        s, n = self.s, self.n
        if s[k] == "(":
            src.params = []
            k = self.params(src.params, k + 1)
            k = self.spaces(k)
            if s[k] in ",}":
                return k
            if s[k] != ":":
                raise self.fail("invalid variable address", k)
        k = self.spaces(k + 1)
        c = s[k]
        if c in ",}":
            return k
        if c == ":":
            if src.params is None and foreign_ok:
                raise _Foreign
            raise self.fail("invalid variable address", k)
        if c in "\"'":
            end, value = self.string(k)
            m = self.spaces(end)
            if s[m] not in ",}":
                raise self.fail("invalid variable address", k)
            src.address = Meta(value)
            return m
        start, variables = k, list[Var]()
        while k < n:
            c = s[k]
            if c == "$" and s.startswith("${", k):
                k = self.nested(k, start, variables)
                continue
            if c in ",}":
                src.address = Meta(s[start:k].rstrip(), variables or None)
                return k
            if c == ":":
                raise self.fail("invalid variable address", k)
            k += 1
        raise self.unterminated()

    def params(self, out: list[Meta], k: int) -> int:
        s, n = self.s, self.n
        while True:
            k = self.spaces(k)
            c = s[k]
            if c == ")":
                return k + 1
            if c == ",":
                out.append(Meta(None))
                k += 1
                continue
            if c == "}":
                raise self.fail("invalid variable param", k)
            if c in "\"'":
                end, value = self.string(k)
                m = self.spaces(end)
                if s[m] not in "),":
                    raise self.fail("invalid variable param", k)
                out.append(Meta(value))
                if s[m] == ")":
                    return m + 1
                k = m + 1
                continue
            start, variables = k, list[Var]()
            while True:
                if k >= n:
                    raise self.unterminated()
                c = s[k]
                if c == "$" and s.startswith("${", k):
                    k = self.nested(k, start, variables)
                    continue
                if c in "),":
                    text = s[start:k].strip()
                    if text or c == ",":
                        value = text if variables else _literal(text, fallback_to_text=True)
                        out.append(Meta(value, variables or None))
                    k += 1
                    if c == ")":
                        return k
                    break
                if c == "}":
                    raise self.fail("invalid variable param", start)
                k += 1


_PARSE_CACHE: dict[str, list[Var] | None] = {}


def parse_variables(text: str) -> list[Var] | None:
    """The variables of a string, or None when it has none. Raises VariableSyntaxError."""
    if "${" not in text:
        return None
    try:
        return _PARSE_CACHE[text]
    except KeyError:
        pass
    found = _Parser(text).top() or None
    if len(_PARSE_CACHE) < 20000:
        _PARSE_CACHE[text] = found
    return found
