"""serverless.yml (Serverless Framework v3) -> `ServiceDefinition`.

The document is resolved once with `config.variables` (every `${...}`), then checked by
`config.service_check` (events by `config.service_events`); every problem is collected
and raised as one `ConfigErrors`, each naming `file:line: key`. `print_config` renders
the resolved document as `serverless print` does.
"""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from shipway.config.framework_schema import split_unknown, validation_mode
from shipway.config.lodash import lodash_merge
from shipway.config.printing import print_config, render_config
from shipway.config.service_check import (
    DEFAULT_MEMORY_SIZE,
    DEFAULT_REGION,
    DEFAULT_RUNTIME,
    DEFAULT_TIMEOUT,
    TOP_LEVEL_KEYS,
    ServiceChecker,
    check_service_name,
)
from shipway.config.service_events import KNOWN_EVENTS, KeyPath
from shipway.config.variables import Resolver, SourceFn
from shipway.config.yamlsrc import key_path, line_of, load_yaml
from shipway.errors import ConfigErrors, ShipwayError, Where
from shipway.model import ServiceDefinition

__all__ = [
    "CONFIG_NAMES",
    "DEFAULT_MEMORY_SIZE",
    "DEFAULT_REGION",
    "DEFAULT_RUNTIME",
    "DEFAULT_TIMEOUT",
    "KNOWN_EVENTS",
    "TOP_LEVEL_KEYS",
    "ServiceErrors",
    "find_config",
    "load_service",
    "print_config",
    "read_service_name",
    "render_config",
]

CONFIG_NAMES = ("serverless.yml", "serverless.yaml")
_UNSUPPORTED_NAMES = (
    "serverless.json",
    "serverless.ts",
    "serverless.js",
    "serverless.cjs",
    "serverless.mjs",
)


class ServiceErrors(ConfigErrors):
    """A service's problems, with its document as far as it resolved (`partial`) and the
    keys whose variables did not resolve (`failed`): what synthesis would refuse besides
    can still be found in it, so that one variable does not hide the other problems."""

    def __init__(
        self,
        errors: Iterable[ShipwayError],
        partial: dict[str, Any],
        failed: tuple[str, ...],
        unknown: tuple[str, ...] = (),
    ) -> None:
        super().__init__(errors)
        self.partial = partial
        self.failed = failed
        self.unknown = unknown  # the key paths the Framework's schema does not know


# --------------------------------------------------------------------------- finding


def find_config(service_dir: Path) -> Path | None:
    """The service's serverless.yml (or .yaml); None when there is none.

    A serverless.json / .ts / .js alone is an error: Shipway reads only YAML.
    """
    for name in CONFIG_NAMES:
        path = service_dir / name
        if path.is_file():
            return path
    for name in _UNSUPPORTED_NAMES:
        if (service_dir / name).is_file():
            raise ShipwayError(
                f"`{name}` is not supported",
                Where(str(service_dir / name)),
                hint="Shipway reads serverless.yml or serverless.yaml; convert the file to YAML",
            )
    return None


def read_service_name(
    path: Path,
    display: str,
    *,
    env: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> str:
    """The `service:` value, quickly: variables are resolved only when it has `${`.

    `env` defaults to `os.environ`; `options` (e.g. `{"stage": "dev"}`) to none.
    """
    doc = load_yaml(path, display, core_booleans=True)
    if not isinstance(doc, dict):
        raise ShipwayError("serverless.yml must be a mapping", Where(display, 1))
    value = doc.get("service")
    keys: KeyPath = ("service",)
    if isinstance(value, dict) and "name" in value:  # old form: service: {name: x}
        value, keys = value["name"], ("service", "name")
    if isinstance(value, str) and "${" in value:
        resolver = Resolver(
            doc,
            display=display,
            service_dir=path.parent,
            options=options,
            env=os.environ if env is None else env,
        )
        value = resolver.resolve_key(list(keys))
    problem = check_service_name(value)
    if problem:
        raise ShipwayError(problem, Where(display, line_of(doc, keys), key_path(keys)))
    assert isinstance(value, str)
    return value


# --------------------------------------------------------------------------- loading


def load_service(
    service_dir: Path,
    display: str,
    *,
    stage: str,
    env: Mapping[str, str],
    params: Mapping[str, str],
    options: Mapping[str, str] | None = None,
    sources: Mapping[str, SourceFn] | None = None,
    config_file: str | None = None,
) -> ServiceDefinition:
    """Read, resolve and check a service's serverless.yml for one stage.

    `display` is the config path shown in errors (e.g. `services/accounts/serverless.yml`).
    `${env:X}` sees `env` first, then `os.environ` (only `os.environ` when the file says
    `useDotenv: false`). `${param:X}` sees `params` first, then the file's `params:`.
    `${opt:stage}` and `${sls:stage}` are `stage`. `sources` adds AWS-backed sources
    (`ssm`, `cf`, `s3`, `aws`). `config_file`: the file's name in `service_dir` when it is
    not serverless.yml (Compose's `config:`). Raises ConfigErrors listing every problem.
    """
    config = find_config(service_dir) if config_file is None else service_dir / config_file
    if config is None:
        raise ShipwayError("no serverless.yml in the service folder", Where(display))
    doc = load_yaml(config, display, core_booleans=True)
    if not isinstance(doc, dict):
        raise ShipwayError("serverless.yml must be a mapping", Where(display, 1))
    # `useDotenv: false`: `${env:}` sees only the process environment (SPEC §2)
    merged_env: Mapping[str, str] = (
        os.environ if doc.get("useDotenv") is False else ChainMap(dict(env), os.environ)
    )
    opts: dict[str, Any] = dict(options or {})
    opts["stage"] = stage
    resolver = Resolver(
        doc,
        display=display,
        service_dir=service_dir,
        options=opts,
        env=merged_env,
        params=params,
        sources=sources,
    )
    errors: list[ShipwayError] = []
    try:
        resolved = resolver.resolve()
        failed: tuple[str, ...] = ()
    except ConfigErrors as exc:
        errors.extend(exc.errors)
        resolved = resolver.partial()
        failed = resolver.failed_keys
    resolved = _merge_arrays(resolved, display, errors)
    # a property the Framework's schema does not know: it goes on without it (a warning,
    # which the service's verdict gives), stops with `configValidationMode: error`
    split = split_unknown(resolved)
    unknown = tuple(key_path(path) for path in split.unknown)
    if validation_mode(resolved) == "error":
        errors.extend(
            ShipwayError(
                f"unrecognized property `{path[-1]}` (the Serverless Framework's schema does "
                "not know it, and `configValidationMode` is `error`)",
                Where(display, line_of(doc, path), key_path(path)),
            )
            for path in split.unknown
        )
    checker = ServiceChecker(doc, display, failed)
    definition = checker.build(split.known, stage, opts)
    errors.extend(checker.errors)
    if errors:
        raise ServiceErrors(errors, split.known, failed, unknown)
    assert definition is not None
    return replace(definition, unknown_keys=unknown)


def _merge_arrays(resolved: Any, display: str, errors: list[ShipwayError]) -> Any:
    """`functions:` and `resources:` written as lists of mappings, merged into one mapping
    with lodash's `_.merge` before anything reads them, as the Framework's `mergeArrays`
    does (its schema check, too, sees the merged mapping)."""
    if not isinstance(resolved, dict):
        return resolved
    out = dict(resolved)
    for key in ("resources", "functions"):
        value = out.get(key)
        if not isinstance(value, list):
            continue
        merged: dict[str, Any] = {}
        for index, part in enumerate(value):
            if not part:
                continue  # the Framework skips empty items
            if not isinstance(part, dict):
                errors.append(
                    ShipwayError(
                        f"`{key}` is a list, so each of its items must be a mapping (they are "
                        f"merged), not {type(part).__name__} `{str(part)[:40]}`",
                        Where(display, key=f"{key}[{index}]"),
                    )
                )
                continue
            lodash_merge(merged, part)
        out[key] = merged
    return out
