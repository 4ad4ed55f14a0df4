"""`Resolver`: a whole serverless.yml document resolved as the Framework v3 does it.

Lazily: a `self:` reference resolves what it points at first; a string that is exactly
one variable takes the referenced value's type; a string with text around its variables
becomes a string. A source gives "no value" with `None` (or `Absent`), which moves on to
the next fallback; an error from a source stops that variable. A string a source returns
is resolved again (a `.env` value holding `${self:…}`, a file's content). Every problem
is collected and raised as `ConfigErrors`, each naming `file:line` and the key path.

Bounded (`shipway.limits`): a resolved string's length, the depth of resolved values, the
length of a chain of references and the work of the whole resolution (characters built
and values copied), so a doubling chain or a file including itself ends in an error
naming the key, not in MemoryError. `${file()}` reads stay inside the repository.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import posixpath
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from shipway.config.files import confined, read_config_text, root_of
from shipway.config.variables.parse import Meta, Src, Var, VariableSyntaxError, parse_variables
from shipway.config.variables.sources import (
    AWS_SOURCES,
    BUILTIN_SOURCES,
    Absent,
    SourceCall,
    SourceFn,
)
from shipway.config.variables.values import (
    Lit,
    coerce_string,
    copy_value,
    depth_over,
    pending,
    plain,
)
from shipway.config.yamlsrc import key_path, line_of, parse_yaml
from shipway.errors import ConfigErrors, ShipwayError, Where
from shipway.limits import (
    MAX_DEPTH,
    MAX_REFERENCE_CHAIN,
    MAX_RESOLVE_WORK,
    MAX_VALUE_CHARS,
    megabytes,
)

__all__ = ["Resolver", "files_read"]

_MAX_NEST = 10
_NODE_WORK = 64  # a copied value weighs about as much as 64 characters


class _ResolveError(Exception):
    def __init__(self, message: str, path: tuple[str | int, ...] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.recorded = False


#: the repository paths `${file()}` read while `files_read()` records them
_FILES_READ: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "shipway_files_read", default=None
)


@contextlib.contextmanager
def files_read() -> Iterator[list[str]]:
    """Records, in the list it yields, every file `${file()}` reads in this context (as
    errors name them: repository paths), so `validate` can warn about one a run will not
    see."""
    read: list[str] = []
    token = _FILES_READ.set(read)
    try:
        yield read
    finally:
        _FILES_READ.reset(token)


class Resolver:
    """Resolves one serverless.yml document (parsed by `yamlsrc`, so errors have lines).

    `env` is the whole environment `${env:}` sees (the caller merges dotenv values and
    `os.environ` as it sees fit); `params` are `${param:}` values that win over the
    document's `params:` block; `options` are the CLI options (`stage`, `region`,
    `param` …); `sources` adds or replaces source types (e.g. `ssm`, `cf`, `s3`, `aws`).
    `root` is the repository `${file()}` may read in (default: the one `display`, a path
    relative to it, implies).
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
        root: Path | None = None,
    ) -> None:
        self.display = display
        self.service_dir = service_dir
        self.root = root or root_of(service_dir / PurePosixPath(display).name, display)
        self._work = 0
        self._over_budget: _ResolveError | None = None
        self.options: Mapping[str, Any] = dict(options or {})
        self.env: Mapping[str, str] = env if env is not None else {}
        self.params: Mapping[str, Any] = dict(params or {})
        self.instance_id = instance_id or str(int(time.time() * 1000))
        self._orig = doc
        self._root: dict[str, Any] = copy_value(doc)
        self._sources: dict[str, SourceFn] = dict(BUILTIN_SOURCES)
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
        try:
            self._resolve_tree((), self._root)
        except _ResolveError:
            pass  # recorded in self.errors
        except RecursionError:  # the limits should come first; never a traceback
            self.errors.append(ShipwayError("variables nest too deep to resolve", self.where(())))
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
            if pending(node[k]):
                self._resolve_prop(path, node, k)
            node = node[k]
        self._resolve_tree(path, node, quiet=False)
        return self._copy(node, 0)

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
        """`${file(rel)}` content (parsed YAML / JSON, else text), or Absent if missing.
        The file must be inside the repository (it may be outside the service folder)."""
        shown = self.file_display(rel)
        path = confined(self.root, self.service_dir / rel, shown)
        if path in self._files:
            return self._copy(self._files[path], 0)
        suffix = path.suffix.lower()
        if suffix in (".js", ".cjs", ".mjs", ".ts"):
            raise ShipwayError(f"`{shown}`: JavaScript variable files are not supported")
        if not path.exists():
            return Absent(f"file `{shown}` does not exist")
        text = read_config_text(path, shown)
        recording = _FILES_READ.get()
        if recording is not None:
            recording.append(shown)
        content: Any
        if suffix in (".yml", ".yaml"):
            content = parse_yaml(text, shown, core_booleans=True) if text.strip() else None
        elif suffix in (".json", ".tfstate"):
            content = _parse_json(text, shown)
        else:
            content = text
        self._files[path] = content
        return self._copy(content, 0)

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
        try:  # walking resolved values again is work too (each lookup walks its value)
            self._spend(_NODE_WORK * len(node))
        except _ResolveError as exc:
            self._record(exc, path)
            raise
        first: _ResolveError | None = None
        for key, _ in items:
            sub = (*path, key)
            value = node[key]
            try:
                if pending(value):
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
        if len(self._stack) >= MAX_REFERENCE_CHAIN:
            raise _ResolveError(
                f"references chain more than {MAX_REFERENCE_CHAIN} deep "
                f"({' -> '.join(key_path(p) for p, _ in self._stack[:3])} …)",
                path,
            )
        if path in self._active:
            cycle = self._stack[self._index(path) :]
            chain = [f"{key_path(p)} ({raw})" for p, raw in cycle]
            raise _ResolveError(
                "circular reference: " + " -> ".join([*chain, key_path(path)]), path
            )
        raw = container[key]
        if not pending(raw):  # resolved meanwhile, through a reference
            return
        self._stack.append((path, raw))
        self._active.add(path)
        try:
            value = raw
            for _ in range(_MAX_NEST):
                value = self._resolve_string(path, value)
                if not pending(value):
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
            return Lit(text)
        values = [self._resolve_var(path, var) for var in variables]
        if len(variables) == 1 and variables[0].start == 0 and variables[0].end == len(text):
            return self._copy(values[0], len(path))
        out, last, size = [], 0, 0
        for var, value in zip(variables, values, strict=True):
            piece = coerce_string(value)
            if piece is None:
                what = "null" if value is None else "an object"
                raise _ResolveError(
                    f"`{var.text}` is {what}, which cannot be part of a string ({text!r})"
                )
            size += var.start - last + len(piece)
            self._check_size(size)
            out.append(text[last : var.start])
            out.append(piece)
            last = var.end
        out.append(text[last:])
        joined = "".join(out)
        self._check_size(len(joined))
        self._spend(len(joined))
        return Lit(joined)

    def _resolve_meta(self, path: tuple[str | int, ...], meta: Meta) -> Any:
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
        joined = "".join(out)
        self._check_size(len(joined))
        self._spend(len(joined))
        return joined

    def _resolve_var(self, path: tuple[str | int, ...], var: Var) -> Any:
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

    def _call(self, path: tuple[str | int, ...], var: Var, src: Src) -> Any:
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
            hint = f" ({exc.hint})" if exc.hint else ""
            raise _ResolveError(f"`{var.text}`: {exc.message}{hint}") from None
        if isinstance(value, _ResolveError):  # pragma: no cover - defensive
            raise value
        if isinstance(value, float) and not math.isfinite(value):
            raise _ResolveError(f"`{var.text}`: source `{src.type}` gave {value}")
        return value

    # ------------------------------------------------------------------ bounds

    def _spend(self, work: int) -> None:
        self._work += work
        if self._work > MAX_RESOLVE_WORK:
            if self._over_budget is None:  # one error, reported where it first happened
                self._over_budget = _ResolveError(
                    "the variables expand past what one document may resolve to "
                    f"(about {megabytes(MAX_RESOLVE_WORK)}): a value doubled by references?"
                )
            raise self._over_budget

    def _check_size(self, size: int) -> None:
        if size > MAX_VALUE_CHARS:
            raise _ResolveError(
                f"resolves to a string longer than {megabytes(MAX_VALUE_CHARS)} "
                "(a value doubled by references?)"
            )

    def _copy(self, value: Any, at: int) -> Any:
        """`copy_value`, counted against the work budget and bounded in depth: `at` is
        the depth of the place the copy goes to."""
        self._spend(_NODE_WORK)
        if isinstance(value, dict):
            self._enter(at)
            return {k: self._copy(v, at + 1) for k, v in value.items()}
        if isinstance(value, list):
            self._enter(at)
            return [self._copy(v, at + 1) for v in value]
        return value

    def _enter(self, at: int) -> None:
        if at >= MAX_DEPTH:
            raise _ResolveError(f"the resolved value nests deeper than {MAX_DEPTH} levels")


def _parse_json(text: str, shown: str) -> Any:
    """A `${file(x.json)}` document, bounded in depth like YAML."""
    try:
        content = json.loads(text)
    except RecursionError:
        content = None
        deep = True
    except ValueError as exc:
        raise ShipwayError(f"cannot parse `{shown}`: {exc}") from None
    else:
        deep = depth_over(content, MAX_DEPTH)
    if deep:
        raise ShipwayError(f"cannot parse `{shown}`: nested deeper than {MAX_DEPTH} levels")
    return content
