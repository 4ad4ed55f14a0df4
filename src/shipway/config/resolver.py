"""The Serverless Framework v3 variable resolver: `${source:address, fallback}`.

`parse_variables` follows the Framework's parser (lib/configuration/variables/parse.js):
a variable starts with a lower-case source type (`self`, `opt`, `env`, `file(path)` …);
anything else after `${` (CloudFormation's `${AWS::Region}`, `${Foo}`) is left alone.
Fallback sources follow a comma; a quoted string, a number, `true`, `false` or `null`
may close the list. Variables nest in addresses and params
(`${self:custom.${sls:stage}.x}`).

`Resolver` resolves a whole document lazily, as the Framework does: a `self:` reference
resolves what it points at first; a string that is exactly one variable takes the
referenced value's type; a string with text around its variables becomes a string. A
source gives "no value" with `None` (or `Absent`), which moves on to the next fallback;
an error from a source stops that variable. Every problem is collected and raised as
`ConfigErrors`, each naming `file:line` and the key path.

Sources that need AWS (`ssm`, `cf`, `s3`, `aws:accountId`) are not built in: pass them
in `sources` (a mapping of source type to `SourceFn`).
"""

from __future__ import annotations

import contextlib
import json
import math
import posixpath
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipway.config.yamlsrc import key_path, line_of, parse_yaml
from shipway.errors import ConfigErrors, ShipwayError, Where

__all__ = [
    "AWS_SOURCES",
    "Absent",
    "Resolver",
    "SourceCall",
    "SourceFn",
    "VariableSyntaxError",
    "coerce_string",
    "parse_variables",
    "plain",
]

#: Source types that only an AWS-aware module can answer.
AWS_SOURCES = frozenset({"ssm", "cf", "s3", "aws"})
_MAX_NEST = 10

# --------------------------------------------------------------------------- parsing

_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyz")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.")
_TYPE_RE = re.compile(r"[a-z][a-zA-Z0-9]*\Z")
_NUMBER_RE = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*\Z")


class VariableSyntaxError(Exception):
    """A `${...}` that the Framework's parser rejects."""


class _Foreign(Exception):
    pass


@dataclass
class _Meta:
    """A param or address: raw text, or a literal, possibly with variables inside."""

    value: Any
    variables: list[_Var] | None = None


@dataclass
class _Src:
    type: str | None  # None: a literal fallback (`value`)
    params: list[_Meta] | None = None
    address: _Meta | None = None
    value: Any = None


@dataclass
class _Var:
    start: int
    end: int
    text: str
    sources: list[_Src] = field(default_factory=list)


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

    def top(self) -> list[_Var]:
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

    def variable(self, i: int, nested: bool) -> tuple[_Var, int] | None:
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
        src = _Src(s[j:k])
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
                    src = _Src(s[k:m])
                    k = self.after_type(src, m, foreign_ok=False)
                    sources.append(src)
                elif s[m] in "},":  # a literal; the Framework allows it only last
                    sources.append(_Src(None, value=_literal(s[k:m].strip())))
                    k = m
                else:
                    raise self.fail("invalid variable source", k)
            elif c in "\"'":
                end, value = self.string(k)
                m = self.spaces(end)
                if s[m] not in "},":
                    raise self.fail("invalid variable source", k)
                sources.append(_Src(None, value=value))
                k = m
            else:
                raise self.fail("invalid variable source", k)
        return _Var(i, k + 1, s[i : k + 1], sources), k + 1

    def nested(self, k: int, start: int, into: list[_Var]) -> int:
        found = self.variable(k, nested=True)
        assert found is not None
        var, end = found
        into.append(_Var(var.start - start, var.end - start, var.text, var.sources))
        return end

    def after_type(self, src: _Src, k: int, foreign_ok: bool) -> int:
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
            src.address = _Meta(value)
            return m
        start, variables = k, list[_Var]()
        while k < n:
            c = s[k]
            if c == "$" and s.startswith("${", k):
                k = self.nested(k, start, variables)
                continue
            if c in ",}":
                src.address = _Meta(s[start:k].rstrip(), variables or None)
                return k
            if c == ":":
                raise self.fail("invalid variable address", k)
            k += 1
        raise self.unterminated()

    def params(self, out: list[_Meta], k: int) -> int:
        s, n = self.s, self.n
        while True:
            k = self.spaces(k)
            c = s[k]
            if c == ")":
                return k + 1
            if c == ",":
                out.append(_Meta(None))
                k += 1
                continue
            if c == "}":
                raise self.fail("invalid variable param", k)
            if c in "\"'":
                end, value = self.string(k)
                m = self.spaces(end)
                if s[m] not in "),":
                    raise self.fail("invalid variable param", k)
                out.append(_Meta(value))
                if s[m] == ")":
                    return m + 1
                k = m + 1
                continue
            start, variables = k, list[_Var]()
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
                        out.append(_Meta(value, variables or None))
                    k += 1
                    if c == ")":
                        return k
                    break
                if c == "}":
                    raise self.fail("invalid variable param", start)
                k += 1


_parse_cache: dict[str, list[_Var] | None] = {}


def parse_variables(text: str) -> list[_Var] | None:
    """The variables of a string, or None when it has none. Raises VariableSyntaxError."""
    if "${" not in text:
        return None
    try:
        return _parse_cache[text]
    except KeyError:
        pass
    found = _Parser(text).top() or None
    if len(_parse_cache) < 20000:
        _parse_cache[text] = found
    return found


# --------------------------------------------------------------------------- values


class _Lit(str):
    """A string built from interpolation: final, never parsed for variables again."""

    __slots__ = ()


def _js_number(value: float) -> str:
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def coerce_string(value: Any) -> str | None:
    """A value as the Framework writes it into a string; None when it cannot be."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, list):
        parts = []
        for item in value:
            if item is None:
                parts.append("")
            elif isinstance(item, dict):
                parts.append("[object Object]")
            else:
                parts.append(coerce_string(item) or "")
        return ",".join(parts)
    return None


def plain(value: Any) -> Any:
    """A deep copy as plain dicts, lists and str (no line info, no markers)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _copy(value: Any) -> Any:
    """A deep copy into plain containers, keeping `_Lit` markers."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _pending(value: Any) -> bool:
    return isinstance(value, str) and not isinstance(value, _Lit) and "${" in value


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Absent:
    """A source's "no value" with the reason, shown when no fallback applies."""

    reason: str


@dataclass(frozen=True)
class SourceCall:
    """What a source is asked: `${type(params):address}` while resolving `key`."""

    type: str
    address: str | None
    params: tuple[Any, ...]
    variable: str  # the whole `${...}` text, for messages
    key: str  # the key path being resolved, e.g. `provider.environment.DB_URL`
    resolver: Resolver


#: A source: returns the value, or None / `Absent` for "no value" (the next fallback is
#: tried); raises ShipwayError for an error (which stops the variable).
SourceFn = Callable[[SourceCall], Any]


class _ResolveError(Exception):
    def __init__(self, message: str, path: tuple[str | int, ...] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.recorded = False


def _split_address(address: str) -> list[str]:
    return address.split(".")


def _walk(node: Any, keys: Sequence[str | int]) -> Any:
    for key in keys:
        if isinstance(node, dict):
            node = node.get(str(key))
        elif isinstance(node, list):
            try:
                node = node[int(key)]
            except (ValueError, IndexError):
                return None
        else:
            return None
        if node is None:
            return None
    return node


# --------------------------------------------------------------------------- resolver


class Resolver:
    """Resolves one serverless.yml document (parsed by `yamlsrc`, so errors have lines).

    `env` is the whole environment `${env:}` sees (the caller merges dotenv values and
    `os.environ` as it sees fit); `params` are `${param:}` values that win over the
    document's `params:` block; `options` are the CLI options (`stage`, `region`,
    `param` …); `sources` adds or replaces source types (e.g. `ssm`, `cf`, `s3`, `aws`).
    """

    def __init__(
        self,
        doc: Mapping[str, Any],
        *,
        display: str,
        service_dir: Path,
        options: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        sources: Mapping[str, SourceFn] | None = None,
        instance_id: str | None = None,
    ) -> None:
        self.display = display
        self.service_dir = service_dir
        self.options: Mapping[str, Any] = dict(options or {})
        self.env: Mapping[str, str] = env if env is not None else {}
        self.params: Mapping[str, Any] = dict(params or {})
        self.instance_id = instance_id or str(int(time.time() * 1000))
        self._orig = doc
        self._root: dict[str, Any] = _copy(doc)
        self._sources: dict[str, SourceFn] = {
            "self": _self_source,
            "opt": _opt_source,
            "sls": _sls_source,
            "env": _env_source,
            "file": _file_source,
            "param": _param_source,
            "strToBool": _str_to_bool_source,
            "aws": _aws_source,
        }
        self._external: dict[str, SourceFn] = dict(sources or {})
        for name, fn in self._external.items():
            if name != "aws":
                self._sources[name] = fn
        self._stack: list[tuple[tuple[str | int, ...], str]] = []
        self._active: set[tuple[str | int, ...]] = set()
        self._failed: dict[tuple[str | int, ...], _ResolveError] = {}
        self._files: dict[Path, Any] = {}
        self.errors: list[ShipwayError] = []

    # ------------------------------------------------------------------ public

    def resolve(self) -> dict[str, Any]:
        """The whole document resolved, as plain data; raises ConfigErrors on problems."""
        self._resolve_tree((), self._root)
        if self.errors:
            raise ConfigErrors(self.errors)
        out: dict[str, Any] = plain(self._root)
        return out

    def partial(self) -> dict[str, Any]:
        """After a failed `resolve()`: the document as far as it resolved (plain data)."""
        out: dict[str, Any] = plain(self._root)
        return out

    @property
    def failed_keys(self) -> tuple[str, ...]:
        """Key paths (`provider.environment.X`) whose variables could not be resolved."""
        return tuple(sorted(key_path(p) for p in self._failed))

    def resolve_key(self, keys: Sequence[str | int]) -> Any:
        """One property resolved (and whatever it depends on); raises ConfigErrors."""
        value: Any = None
        with contextlib.suppress(_ResolveError):
            value = self.lookup(keys)
        if self.errors:
            raise ConfigErrors(self.errors)
        return plain(value)

    def lookup(self, keys: Sequence[str | int]) -> Any:
        """A resolved property of the document (a copy), or None. For sources."""
        node: Any = self._root
        path: tuple[str | int, ...] = ()
        for key in keys:
            if isinstance(node, dict):
                k: str | int = str(key)
                if k not in node:
                    return None
            elif isinstance(node, list):
                try:
                    k = int(key)
                except ValueError:
                    return None
                if not 0 <= k < len(node):
                    return None
            else:
                return None
            path += (k,)
            if _pending(node[k]):
                self._resolve_prop(path, node, k)
            node = node[k]
        self._resolve_tree(path, node, quiet=False)
        return _copy(node)

    @property
    def stage(self) -> str:
        """`${sls:stage}`: the `stage` option, else provider.stage, else "dev"."""
        stage = self.options.get("stage") or self.lookup(["provider", "stage"]) or "dev"
        return str(stage)

    @property
    def region(self) -> str:
        """`${aws:region}`: the `region` option, else provider.region, else us-east-1."""
        region = self.options.get("region") or self.lookup(["provider", "region"])
        return str(region or "us-east-1")

    def where(self, path: Sequence[str | int]) -> Where:
        return Where(self.display, line_of(self._orig, path), key_path(path) or None)

    def file_display(self, rel: str) -> str:
        """A path given to `${file()}` as errors show it (next to `display`)."""
        return posixpath.normpath(posixpath.join(posixpath.dirname(self.display), rel))

    def read_file(self, rel: str) -> Any:
        """`${file(rel)}` content (parsed YAML / JSON, else text), or Absent if missing."""
        path = (self.service_dir / rel).resolve()
        if path in self._files:
            return _copy(self._files[path])
        shown = self.file_display(rel)
        suffix = path.suffix.lower()
        if suffix in (".js", ".cjs", ".mjs", ".ts"):
            raise ShipwayError(f"`{shown}`: JavaScript variable files are not supported")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Absent(f"file `{shown}` does not exist")
        except (OSError, UnicodeDecodeError) as exc:
            raise ShipwayError(f"cannot read `{shown}`: {exc}") from None
        content: Any
        if suffix in (".yml", ".yaml"):
            content = parse_yaml(text, shown) if text.strip() else None
        elif suffix in (".json", ".tfstate"):
            try:
                content = json.loads(text)
            except ValueError as exc:
                raise ShipwayError(f"cannot parse `{shown}`: {exc}") from None
        else:
            content = text
        self._files[path] = content
        return _copy(content)

    # ------------------------------------------------------------------ internals

    def _record(self, exc: _ResolveError, path: tuple[str | int, ...]) -> None:
        if not exc.recorded:
            exc.recorded = True
            self.errors.append(ShipwayError(exc.message, self.where(exc.path or path)))

    def _resolve_tree(self, path: tuple[str | int, ...], node: Any, quiet: bool = True) -> None:
        """Resolve every pending string below `node` (at `path`)."""
        items: Iterator[tuple[str | int, Any]]
        if isinstance(node, dict):
            items = iter(list(node.items()))
        elif isinstance(node, list):
            items = iter(list(enumerate(node)))
        else:
            return
        first: _ResolveError | None = None
        for key, _ in items:
            sub = (*path, key)
            value = node[key]
            try:
                if _pending(value):
                    self._resolve_prop(sub, node, key)
                    value = node[key]
                if isinstance(value, dict | list):
                    self._resolve_tree(sub, value, quiet)
            except _ResolveError as exc:
                if not quiet and first is None:
                    first = exc
        if first is not None:
            raise first

    def _resolve_prop(self, path: tuple[str | int, ...], container: Any, key: str | int) -> None:
        """Resolve the pending string `container[key]` (at `path`) in place."""
        if path in self._failed:
            raise self._failed[path]
        if path in self._active:
            cycle = self._stack[self._index(path) :]
            chain = [f"{key_path(p)} ({raw})" for p, raw in cycle]
            raise _ResolveError(
                "circular reference: " + " -> ".join([*chain, key_path(path)]), path
            )
        raw = container[key]
        if not _pending(raw):  # resolved meanwhile, through a reference
            return
        self._stack.append((path, raw))
        self._active.add(path)
        try:
            value = raw
            for _ in range(_MAX_NEST):
                value = self._resolve_string(path, value)
                if not _pending(value):
                    break
            else:
                raise _ResolveError(f"`{raw}`: variables nested too deep (a circular value?)")
            container[key] = value
        except _ResolveError as exc:
            self._record(exc, path)
            self._failed[path] = exc
            raise
        finally:
            self._active.discard(path)
            self._stack.pop()

    def _index(self, path: tuple[str | int, ...]) -> int:
        for i, (p, _) in enumerate(self._stack):
            if p == path:
                return i
        return 0

    def _resolve_string(self, path: tuple[str | int, ...], text: str) -> Any:
        try:
            variables = parse_variables(text)
        except VariableSyntaxError as exc:
            raise _ResolveError(f"variable syntax error: {exc}") from None
        if not variables:
            return _Lit(text)
        values = [self._resolve_var(path, var) for var in variables]
        if len(variables) == 1 and variables[0].start == 0 and variables[0].end == len(text):
            value = values[0]
            return _copy(value)
        out, last = [], 0
        for var, value in zip(variables, values, strict=True):
            piece = coerce_string(value)
            if piece is None:
                what = "null" if value is None else "an object"
                raise _ResolveError(
                    f"`{var.text}` is {what}, which cannot be part of a string ({text!r})"
                )
            out.append(text[last : var.start])
            out.append(piece)
            last = var.end
        out.append(text[last:])
        return _Lit("".join(out))

    def _resolve_meta(self, path: tuple[str | int, ...], meta: _Meta) -> Any:
        if not meta.variables:
            return meta.value
        text = str(meta.value)
        values = [self._resolve_var(path, var) for var in meta.variables]
        first = meta.variables[0]
        if len(values) == 1 and first.start == 0 and first.end == len(text):
            return values[0]
        out, last = [], 0
        for var, value in zip(meta.variables, values, strict=True):
            piece = coerce_string(value)
            if piece is None:
                raise _ResolveError(f"`{var.text}` cannot be part of a string ({text!r})")
            out.append(text[last : var.start])
            out.append(piece)
            last = var.end
        out.append(text[last:])
        return "".join(out)

    def _resolve_var(self, path: tuple[str | int, ...], var: _Var) -> Any:
        reasons: list[str] = []
        for src in var.sources:
            if src.type is None:
                return src.value
            value = self._call(path, var, src)
            if isinstance(value, Absent):
                reasons.append(value.reason)
                continue
            if value is not None:
                return value
            reasons.append(f"no value at `{src.type}` source")
        detail = "; ".join(reasons)
        raise _ResolveError(f"`{var.text}` has no value ({detail}) and no fallback applies")

    def _call(self, path: tuple[str | int, ...], var: _Var, src: _Src) -> Any:
        assert src.type is not None
        params = tuple(self._resolve_meta(path, p) for p in src.params or ())
        address: str | None = None
        if src.address is not None:
            raw = self._resolve_meta(path, src.address)
            address = raw if raw is None or isinstance(raw, str) else coerce_string(raw)
        call = SourceCall(src.type, address, params, var.text, key_path(path), self)
        fn = self._sources.get(src.type)
        if src.type == "aws" and address != "region" and "aws" in self._external:
            fn = self._external["aws"]
        if fn is None:
            if src.type in AWS_SOURCES:
                raise _ResolveError(
                    f"`{var.text}` needs AWS access (source `{src.type}`), "
                    "which this target does not have"
                )
            raise _ResolveError(f"`{var.text}`: unknown variable source `{src.type}`")
        try:
            value = fn(call)
        except ShipwayError as exc:
            raise _ResolveError(f"`{var.text}`: {exc.message}") from None
        if isinstance(value, _ResolveError):  # pragma: no cover - defensive
            raise value
        if isinstance(value, float) and not math.isfinite(value):
            raise _ResolveError(f"`{var.text}`: source `{src.type}` gave {value}")
        return value


# --------------------------------------------------------------------------- built-in sources


def _need_address(call: SourceCall, what: str) -> str:
    if not call.address:
        raise ShipwayError(f"`{call.type}` needs {what}")
    return call.address


def _self_source(call: SourceCall) -> Any:
    keys = _split_address(call.address) if call.address else []
    value = call.resolver.lookup(keys)
    if value is None and keys == ["provider", "stage"]:
        value = call.resolver.options.get("stage") or "dev"  # the Framework's defaults
    elif value is None and keys == ["provider", "region"]:
        value = call.resolver.options.get("region") or "us-east-1"
    if value is None:
        return Absent(f"`{call.address}` is not set in the document")
    return value


def _opt_source(call: SourceCall) -> Any:
    options = call.resolver.options
    if not call.address:
        return dict(options)
    value = options.get(call.address)
    if value is None:
        return Absent(f"option `--{call.address}` is not given")
    return value


def _sls_source(call: SourceCall) -> Any:
    address = _need_address(call, "an address (`stage` or `instanceId`)")
    if address == "stage":
        return call.resolver.stage
    if address == "instanceId":
        return call.resolver.instance_id
    raise ShipwayError(f"unsupported `sls` address `{address}` (use `stage` or `instanceId`)")


def _env_source(call: SourceCall) -> Any:
    name = _need_address(call, "a variable name")
    value = call.resolver.env.get(name)
    if value is None:
        return Absent(f"environment variable `{name}` is not set")
    return value


def _param_source(call: SourceCall) -> Any:
    name = _need_address(call, "a parameter name")
    resolver = call.resolver
    if name in resolver.params and resolver.params[name] is not None:
        return resolver.params[name]
    cli = resolver.options.get("param")
    if cli:
        for item in [cli] if isinstance(cli, str) else list(cli):
            key, sep, value = str(item).partition("=")
            if sep and key.strip() == name:
                return value
    for stage in (resolver.stage, "default"):
        value = resolver.lookup(["params", stage, name])
        if value is not None:
            return value
    return Absent(f"parameter `{name}` is not set")


def _str_to_bool_source(call: SourceCall) -> Any:
    if not call.params or call.params[0] is None:
        raise ShipwayError("`strToBool` needs a value")
    value = call.params[0]
    if isinstance(value, bool):
        return value
    text = coerce_string(value)
    text = (text or "").strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ShipwayError(f"`strToBool` expects true, false, 1 or 0, not {value!r}")


def _file_source(call: SourceCall) -> Any:
    if not call.params or not call.params[0]:
        raise ShipwayError("`file` needs a path: `${file(path.yml):key}`")
    rel = call.params[0]
    if not isinstance(rel, str):
        raise ShipwayError(f"`file` path must be a string, not {rel!r}")
    content = call.resolver.read_file(rel)
    if isinstance(content, Absent) or not call.address:
        return content
    if content is None:
        return Absent(f"file `{call.resolver.file_display(rel)}` is empty")
    value = _walk(content, _split_address(call.address))
    if value is None:
        shown = call.resolver.file_display(rel)
        return Absent(f"`{call.address}` is not set in `{shown}`")
    return value


def _aws_source(call: SourceCall) -> Any:
    address = _need_address(call, "an address (`region` or `accountId`)")
    if address == "region":
        return call.resolver.region
    if address == "accountId":
        raise ShipwayError("needs AWS access (source `aws`), which this target does not have")
    raise ShipwayError(f"unsupported `aws` address `{address}` (use `region` or `accountId`)")
