"""`.env` files, layered per environment and service (SPEC §2).

Order, later overriding earlier: `.env`, `.env.<env>`, `<service>/.env`, `<service>/.env.<env>`.
Syntax is python-dotenv's (its own parser), and `${VAR}` expands against the layers read so
far, then the process environment, so a service file can build on the root file.
"""

from __future__ import annotations

import fnmatch
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv.parser import parse_stream
from dotenv.variables import parse_variables

from shipway.errors import ConfigErrors, ShipwayError, Where

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


def layer_files(root: Path, env: str, service_path: str | None) -> list[tuple[Path, str]]:
    """(path, display name) of every layer that applies, in order, present or not."""
    names = [".env", f".env.{env}"]
    out = [(root / n, n) for n in names]
    if service_path:
        out += [(root / service_path / n, f"{service_path}/{n}") for n in names]
    return out


def read_env_file(
    path: Path, display: str, base: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str], list[ShipwayError]]:
    """Values of one file, expanded against `base` then os.environ; plus parse errors."""
    values: dict[str, str] = {}
    origin: dict[str, str] = {}
    errors: list[ShipwayError] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return values, origin, [ShipwayError("not UTF-8 text", Where(display))]
    for binding in parse_stream(io.StringIO(text)):
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
        scope = {**os.environ, **base, **values}
        values[binding.key] = "".join(atom.resolve(scope) for atom in parse_variables(raw))
        origin[binding.key] = f"{display}:{line}"
    return values, origin, errors


def load_env(
    root: Path, env: str, service_path: str | None = None, declared_secrets: Iterable[str] = ()
) -> EnvValues:
    """Merge the layers for `env` (and `service_path`); a parse error raises ShipwayError."""
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    errors: list[ShipwayError] = []
    for path, display in layer_files(root, env, service_path):
        if not path.is_file():
            continue
        values, where, problems = read_env_file(path, display, merged)
        merged.update(values)
        origin.update(where)
        errors += problems
    if errors:
        raise ConfigErrors(errors)
    declared = tuple(declared_secrets)
    secret = frozenset(k for k in merged if is_secret_key(k, declared))
    return EnvValues(merged, origin, secret)
