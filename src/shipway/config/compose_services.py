"""Shipway's services from `serverless-compose.yml` (config/compose.py).

- `shipway.yml` without `services:`: Compose's services are the repository's services;
  `dependsOn` (and each `${service.Output}` param) becomes `depends_on`.
- `shipway.yml` with `services:`: that list is the list; each Compose service must be one
  of it (the same folder): Compose adds its `dependsOn` to the service's `depends_on` (the
  union: both only order deploys) and its `params`. A Compose service shipway.yml does not
  list, or whose `config:` names another file than shipway.yml's entry, is an error.

Shipway names a service by its `service:` value, as everywhere; Compose's key is only
Compose's name for it (in `dependsOn` and `${key.Output}`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from shipway.config.compose import Compose, ComposeService, as_stack_reads, read_compose
from shipway.config.edit import scalar
from shipway.config.serverless import CONFIG_NAMES, find_config, read_service_name
from shipway.config.services import (
    PROJECT_FILE,
    buildspec_of,
    deploy_order,
    with_implied_dependencies,
)
from shipway.config.yamlsrc import line_of, load_yaml
from shipway.errors import ConfigErrors, ShipwayError, Where
from shipway.model import Service


def services_from_compose(
    root: Path, compose: Compose, errors: list[ShipwayError]
) -> tuple[Service, ...]:
    """Compose's services as Shipway's, in deploy order."""
    names: dict[str, str] = {}  # Compose key -> service name
    found: list[tuple[ComposeService, Service]] = []
    by_name: dict[str, str] = {}
    for cs in compose.services:
        config = root / cs.path / cs.config if cs.config else find_config(root / cs.path)
        if config is None:
            continue  # compose.py reported it
        display = f"{cs.path}/{config.name}"
        try:
            name = read_service_name(config, display)
        except ShipwayError as exc:
            errors.append(exc)
            continue
        if name in by_name:
            errors.append(
                ShipwayError(
                    f"service name `{name}` is used by both `{by_name[name]}` and `{cs.path}`",
                    Where(display, None, "service"),
                    hint="the `service:` value must be unique in the repository",
                )
            )
            continue
        by_name[name] = cs.path
        names[cs.key] = name
        found.append((cs, Service(name, cs.path, config.name, buildspec_of(root / cs.path))))
    stacks = _stacks(names)
    services = [
        replace(
            s,
            depends_on=tuple(names[k] for k in cs.depends_on if k in names),
            params=_params(cs, stacks),
        )
        for cs, s in found
    ]
    return _ordered(root, compose, with_implied_dependencies(root, services), errors)


def with_compose(
    root: Path, services: tuple[Service, ...], compose: Compose, errors: list[ShipwayError]
) -> tuple[Service, ...]:
    """shipway.yml's services with what Compose says of the same folders."""
    by_path = {s.path: s for s in services}
    names: dict[str, str] = {}
    for cs in compose.services:
        service = by_path.get(cs.path)
        if service is None:
            errors.append(
                _compose_error(
                    root,
                    compose,
                    cs.key,
                    f"Compose service `{cs.key}` (`{cs.path}`) is not one of {PROJECT_FILE}'s "
                    "`services`",
                    hint=f"list it in {PROJECT_FILE}, or remove `services:` there to take "
                    "Compose's services",
                )
            )
            continue
        if cs.config and cs.config != service.config_file:
            errors.append(
                _compose_error(
                    root,
                    compose,
                    cs.key,
                    f"Compose reads `{cs.path}/{cs.config}`, {PROJECT_FILE} "
                    f"`{service.config_path}`",
                    hint=f"give the entry of {PROJECT_FILE} `config: {cs.config}`",
                    field="config",
                )
            )
            continue
        names[cs.key] = service.name
    if len(names) < len(compose.services):
        return services
    stacks = _stacks(names)
    out = list(services)
    for cs in compose.services:
        index = next(i for i, s in enumerate(out) if s.path == cs.path)
        s = out[index]
        extra = tuple(names[k] for k in cs.depends_on if names[k] not in s.depends_on)
        out[index] = replace(s, depends_on=s.depends_on + extra, params=_params(cs, stacks))
    return _ordered(root, compose, out, errors)


def _stacks(names: dict[str, str]) -> dict[str, str]:
    """Compose key -> the stack name of that service (`<service>-<stage>`)."""
    return {key: name + "-${sls:stage}" for key, name in names.items()}


def _params(cs: ComposeService, stacks: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, as_stack_reads(text, stacks)) for name, text in cs.params)


def _ordered(
    root: Path, compose: Compose, services: list[Service], errors: list[ShipwayError]
) -> tuple[Service, ...]:
    if errors:
        return tuple(services)
    try:
        return tuple(deploy_order(services))
    except ShipwayError as exc:  # a cycle through shipway.yml's depends_on and Compose's
        name = exc.where.key if exc.where else None
        key = next((c.key for c in compose.services if _named(services, c, name)), None)
        errors.append(_compose_error(root, compose, key, exc.message, field="dependsOn"))
        return tuple(services)


def _named(services: list[Service], cs: ComposeService, name: str | None) -> bool:
    return any(s.path == cs.path and s.name == name for s in services)


def _compose_error(
    root: Path,
    compose: Compose,
    key: str | None,
    message: str,
    hint: str | None = None,
    field: str | None = None,
) -> ShipwayError:
    path: list[str | int] = ["services", *([key] if key else []), *([field] if field else [])]
    try:
        doc = load_yaml(root / compose.file, compose.file, root, core_booleans=True)
    except ShipwayError:
        doc = None
    dotted = ".".join(str(p) for p in path)
    return ShipwayError(message, Where(compose.file, line_of(doc, path), dotted), hint)


def compose_entries(root: Path) -> list[str] | None:
    """`shipway init`'s `services:` lines for a repository with a Compose file (None
    without one): each Compose service's folder, its `config:` when it is not
    serverless.yml, and its `depends_on` (Compose's `dependsOn` and `${service.Output}`
    params, by Shipway's names). ConfigErrors when the file or a service is wrong."""
    compose = read_compose(root)
    if compose is None:
        return None
    errors: list[ShipwayError] = []
    services = services_from_compose(root, compose, errors)
    if errors:
        raise ConfigErrors(errors)
    lines = [f"# from {compose.file}: its params are read at each run", "services:"]
    for s in services:
        lines.append(f"  - path: {scalar(s.path)}")
        if s.config_file not in CONFIG_NAMES:
            lines.append(f"    config: {scalar(s.config_file)}")
        if s.depends_on:
            lines.append(f"    depends_on: [{', '.join(scalar(d) for d in s.depends_on)}]")
    return lines
