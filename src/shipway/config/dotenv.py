"""`.env` files, layered per environment and service (SPEC §2).

Order, later overriding earlier: `.env`, `.env.<env>`, `<service>/.env`, `<service>/.env.<env>`.
Syntax is python-dotenv's (its own parser, made linear in `dotenv_syntax`), and `${VAR}`
expands against the layers read so far, then the process environment, so a service file
can build on the root file. Each layer must be a regular file inside the repository.
"""

from __future__ import annotations

import fnmatch
import os
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shipway.config.dotenv_syntax import TooLong, bindings, expand
from shipway.config.files import read_config_text
from shipway.errors import ConfigErrors, ShipwayError, Where
from shipway.limits import MAX_ENV_TOTAL_CHARS, MAX_ENV_VALUE_CHARS, megabytes

SECRET_KEY_PATTERNS = ("*SECRET*", "*PASSWORD*", "*TOKEN*", "*KEY*")


@dataclass(frozen=True)
class EnvValues:
    """The merged values for one environment (and optionally one service)."""

    values: Mapping[str, str]
    origin: Mapping[str, str] = field(default_factory=dict)  # key -> "file:line"
    secret_keys: frozenset[str] = frozenset()

    @property
    def secret_values(self) -> frozenset[str]:
        """The values to mask in logs and answers (empty values mask nothing)."""
        return frozenset(v for k, v in self.values.items() if k in self.secret_keys and v)


def is_secret_key(key: str, declared: Iterable[str] = ()) -> bool:
    upper = key.upper()
    return key in set(declared) or any(fnmatch.fnmatchcase(upper, p) for p in SECRET_KEY_PATTERNS)


#: every file that may be a layer (any folder, any environment), as git glob pathspecs:
#: their values are secrets, so a workspace no run holds does not keep them
ENV_FILE_PATHSPECS = ("**/.env", "**/.env.*")


def layer_files(root: Path, env: str, service_path: str | None) -> list[tuple[Path, str]]:
    """(path, display name) of every layer that applies, in order, present or not."""
    names = [".env", f".env.{env}"]
    out = [(root / n, n) for n in names]
    if service_path:
        out += [(root / service_path / n, f"{service_path}/{n}") for n in names]
    return out


def read_env_file(
    path: Path, display: str, base: Mapping[str, str], root: Path | None = None
) -> tuple[dict[str, str], dict[str, str], list[ShipwayError]]:
    """Values of one file, expanded against `base` then os.environ; plus parse errors.
    The file must be a regular file (inside `root`, when given)."""
    values: dict[str, str] = {}
    origin: dict[str, str] = {}
    errors: list[ShipwayError] = []
    try:
        text = read_config_text(path, display, root)
    except ShipwayError as exc:
        return values, origin, [exc]
    scope = ChainMap(values, dict(base), dict(os.environ))  # one scope, not one per line
    total = sum(len(k) + len(v) for k, v in base.items())  # may count a key twice: a bound
    for binding in bindings(text):
        line = binding.original.line
        if binding.error:
            text_lines = binding.original.string.strip().splitlines()
            first = text_lines[0] if text_lines else ""
            if "=" in first:  # never echo a value: it may be a secret that did not parse
                first = first.split("=", 1)[0] + "=…"
            errors.append(
                ShipwayError(
                    f"cannot parse `{first[:60]}` (expected KEY=value)", Where(display, line)
                )
            )
            continue
        if binding.key is None:
            continue
        raw = binding.value or ""
        if "\0" in binding.key or "\0" in raw:
            # a process environment cannot hold a NUL: refuse it here, not at `run`
            errors.append(
                ShipwayError(
                    "a NUL byte cannot be part of an environment variable",
                    Where(display, line, binding.key.replace("\0", "\\0")),
                )
            )
            continue
        try:
            values[binding.key] = expand(raw, scope, MAX_ENV_VALUE_CHARS)
        except TooLong:
            errors.append(
                ShipwayError(
                    f"the value is longer than {MAX_ENV_VALUE_CHARS // 1024} KB once expanded",
                    Where(display, line, binding.key),
                    hint="a process environment holds at most 128 KB per variable",
                )
            )
            continue
        origin[binding.key] = f"{display}:{line}"
        total += len(binding.key) + len(values[binding.key])
        if total > MAX_ENV_TOTAL_CHARS:
            errors.append(
                ShipwayError(
                    f"the .env layers hold more than {megabytes(MAX_ENV_TOTAL_CHARS)} of values",
                    Where(display, line, binding.key),
                )
            )
            break
    return values, origin, errors


def load_env(
    root: Path, env: str, service_path: str | None = None, declared_secrets: Iterable[str] = ()
) -> EnvValues:
    """Merge the layers for `env` (and `service_path`); a parse error raises ShipwayError."""
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    errors: list[ShipwayError] = []
    for path, display in layer_files(root, env, service_path):
        if not os.path.lexists(path) or path.is_dir():  # absent, or a virtualenv named .env
            continue
        values, where, problems = read_env_file(path, display, merged, root)
        merged.update(values)
        origin.update(where)
        errors += problems
    if errors:
        raise ConfigErrors(errors)
    declared = tuple(declared_secrets)
    secret = frozenset(k for k in merged if is_secret_key(k, declared))
    return EnvValues(merged, origin, secret)
