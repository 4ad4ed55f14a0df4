"""Secret values written as `***`: in build logs, and in whatever Shipway prints, stores or
answers.

Three tools, one rule (a secret never leaves in plaintext):
- `Masker` masks text (log lines, error messages);
- `Masker.data` masks plain data *before* it is encoded, so that JSON's or YAML's escaping
  or folding of a value can never hide a secret from the masker;
- `watching()` / `remember()` collect the secrets loaded while a use case runs, so that an
  error leaving it is masked with them (`masks_secrets` on a use case), wherever it was
  raised.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from shipway.errors import ConfigErrors, ShipwayError, Where, WorkFailed

MASK = "***"


class Masker:
    """Replaces every secret value (longest first) with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # very short values would mask ordinary text everywhere; CodeBuild masks any length,
        # but a one-character "secret" would make the log unreadable.
        found = {s for s in secrets if s and len(s) >= 2}
        for s in list(found):
            # multi-line secrets: mask each of their lines too (logs are line based)
            found.update(part for part in s.splitlines() if len(part) >= 4)
        # a build or a handler that prints JSON or a Python dict writes a secret escaped
        found.update(form for s in list(found) for form in _encoded_forms(s))
        found.update(form for s in list(found) for form in _identifier_forms(s))
        self.secrets = sorted(found, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, MASK)
        return text

    def data(self, value: Any) -> Any:
        """`value` (dicts, lists, tuples, strings, scalars) with every string masked, keys
        included; mappings become dicts and tuples lists. Other values are kept as they are."""
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def error(self, exc: ShipwayError) -> ShipwayError:
        """The same error (same type) with its message, place and hint masked; `exc` itself
        when it holds no secret."""
        if isinstance(exc, ConfigErrors):
            parts = [self.error(e) for e in exc.errors]
            found = getattr(exc, "warnings", None)  # what was found beside the errors
            warned = [self.error(w) for w in found] if isinstance(found, list) else None
            if all(p is e for p, e in zip(parts, exc.errors, strict=True)) and (
                warned is None or all(a is b for a, b in zip(warned, found or [], strict=True))
            ):
                return exc
            # the same type (ValidationFailed stays one), with what it carries masked
            masked_all = ConfigErrors.__new__(type(exc))
            masked_all.__dict__.update(exc.__dict__)
            ConfigErrors.__init__(masked_all, parts)
            if warned is not None:
                masked_all.warnings = warned  # type: ignore[attr-defined]
            return masked_all
        where = exc.where
        texts = [exc.message, exc.hint or "", *(_where_texts(where))]
        if not any(self(t) != t for t in texts):
            return exc
        if where is not None:
            where = Where(self(where.file), where.line, self(where.key) if where.key else None)
        masked = ShipwayError.__new__(type(exc))
        ShipwayError.__init__(
            masked, self(exc.message), where, self(exc.hint) if exc.hint else None
        )
        return masked


def _encoded_forms(secret: str) -> set[str]:
    """The secret as JSON (ASCII or not) and Python's repr write it inside quotes, when that
    differs from the secret itself."""
    forms = {
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
    }
    return {f for f in forms if f != secret}


_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
MIN_IDENTIFIER_FORM = 6  # letters and digits a secret needs for its logical-ID forms


def _identifier_forms(secret: str) -> set[str]:
    """The secret as a CloudFormation logical ID carries it once it is part of a name or a
    path (synth/naming.py): `-` as `Dash`, `_` as `Underscore`, or dropped, with the rest
    of the name's letters kept or (a path part) lowered, the first one upper-cased."""
    forms: set[str] = set()
    if len(_NON_ALNUM.sub("", secret)) < MIN_IDENTIFIER_FORM:
        return forms  # too little of the secret left: its forms would mask ordinary words
    for cased in (secret, secret.lower()):
        for spelled in (
            cased.replace("-", "Dash").replace("_", "Underscore"),
            cased.replace("-", "Dash"),
            cased,
        ):
            alnum = _NON_ALNUM.sub("", spelled)
            forms.update((alnum, alnum[:1].upper() + alnum[1:]))
    return forms - {secret}


def _where_texts(where: Where | None) -> list[str]:
    return [] if where is None else [where.file, where.key or ""]


# --------------------------------------------------------------------------- collecting

_seen: ContextVar[set[str] | None] = ContextVar("shipway_secrets_seen", default=None)


@contextlib.contextmanager
def watching() -> Iterator[set[str]]:
    """Collect the secret values `remember`ed in this context (a nested `watching` shares the
    outer one's set, so an error masked at any level sees every secret loaded so far)."""
    current = _seen.get()
    if current is not None:
        yield current
        return
    token = _seen.set(set())
    try:
        seen = _seen.get()
        assert seen is not None
        yield seen
    finally:
        _seen.reset(token)


def seen_secrets() -> frozenset[str]:
    """The secrets `remember`ed so far in this `watching` context (none outside one)."""
    return frozenset(_seen.get() or ())


def remember(values: Iterable[str]) -> None:
    """Note secret values just loaded (nothing happens outside `watching`)."""
    seen = _seen.get()
    if seen is not None:
        seen.update(v for v in values if v)


F = TypeVar("F", bound=Callable[..., Any])


def masks_secrets(fn: F) -> F:
    """A use case whose errors leave it masked with every secret loaded while it ran (a
    resolved value can carry a secret into any message, wherever it is raised)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with watching() as seen:
            try:
                return fn(*args, **kwargs)
            except ShipwayError as exc:
                masked = Masker(seen).error(exc)
                if masked is exc:
                    raise
                raise masked from None
            except WorkFailed as exc:
                text = Masker(seen)(str(exc))
                if text == str(exc):
                    raise
                raise type(exc)(text) from None

    return wrapper  # type: ignore[return-value]


class LinePieces:
    """A byte stream cut into lines, for logs that mask line by line. A line longer than
    `max_line` is given out in pieces (memory stays bounded whatever a process prints), and
    a piece never ends inside a secret, so masking each piece masks every secret whole."""

    def __init__(self, mask: Masker, max_line: int = 1 << 20) -> None:
        self.max_line = max_line
        self._secrets = [s.encode("utf-8") for s in mask.secrets]
        self._pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The complete lines (and long-line pieces) that `chunk` finishes, without `\\n`."""
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        while len(self._pending) > self.max_line:
            cut = self._cut(self._pending, self.max_line)
            lines.append(self._pending[:cut])
            self._pending = self._pending[cut:]
        return lines

    def rest(self) -> list[bytes]:
        """What is left at the end of the stream (a last line without its newline)."""
        rest, self._pending = self._pending, b""
        return [rest] if rest else []

    def _cut(self, data: bytes, cut: int) -> int:
        """`cut`, moved past every secret that starts before it and ends after it."""
        moved = True
        while moved:
            moved = False
            for secret in self._secrets:
                start = data.find(secret, max(0, cut - len(secret) + 1), cut + len(secret) - 1)
                if start != -1 and start < cut < start + len(secret):
                    cut, moved = start + len(secret), True
        return cut
