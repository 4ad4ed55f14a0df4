"""The services of `shipway.yml`: the folders its globs match (each with a serverless.yml),
their settings, the dependencies their `${cf:…}` references imply, and the deploy order.

Every problem is collected, each naming the file, line and key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from shipway.config import schema
from shipway.config.files import is_inside, read_config_text
from shipway.config.names import service_path_problem
from shipway.config.serverless import find_config, read_service_name
from shipway.config.yamlsrc import LineDict, key_path, line_of, load_yaml
from shipway.errors import ShipwayError, Where
from shipway.model import Environment, LocalTarget, Service

PROJECT_FILE = "shipway.yml"
BUILDSPEC_NAMES = ("buildspec.yml", "buildspec.yaml")
_CF_REFERENCE = re.compile(r"\$\{cf(?:\([^)]*\))?:")


def service_folders(root: Path, pattern: str) -> list[str]:
    """The folders (posix, relative to `root`) that `pattern` matches and that hold a
    serverless.yml; `.` is the root itself (a one-service repository)."""
    return _matches(root, pattern)[0]


def _matches(root: Path, pattern: str) -> tuple[list[str], list[str]]:
    """(service folders `pattern` matches, folders it matches that lead outside `root`
    through a symlink: those are never read)."""
    pattern = pattern.strip("/") or "."
    if service_path_problem(pattern):
        return [], []
    try:
        candidates = [root] if pattern == "." else list(root.glob(pattern))
    except (OSError, ValueError):
        return [], []
    inside, outside = [], []
    for p in candidates:
        rel = p.relative_to(root).as_posix() or "."
        if not is_inside(root, p):
            outside.append(rel)
        elif p.is_dir() and find_config(p) is not None:
            inside.append(rel)
    return sorted(inside), sorted(outside)


def service_config(root: Path, folder: str, entry: schema.ServiceEntry | None) -> Path | None:
    """The service file of a folder: the entry's `config:` name, else serverless.yml."""
    if entry is not None and entry.config is not None:
        path = root / folder / entry.config
        return path if path.is_file() else None
    return find_config(root / folder)


def config_name_problem(name: str) -> str | None:
    """Why `config:` cannot name a service file (a YAML file in the service's folder)."""
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        return f"`config` must be a file name in the service's folder, got {name!r}"
    if not name.endswith((".yml", ".yaml")):
        return f"`{name[:60]}` is not YAML; Shipway reads service files in YAML only"
    return None


def buildspec_of(folder: Path) -> str | None:
    """The buildspec file name in a service folder, if it has one."""
    return next((b for b in BUILDSPEC_NAMES if (folder / b).is_file()), None)


def services_seen_despite_errors(root: Path) -> tuple[list[Service], list[Environment]]:
    """Services and environment names read leniently from a shipway.yml that did not pass
    its schema (default glob when `services` is unusable; `dev` when no environment is), so
    `validate` can still check them in the same pass. Services are named by their folder."""
    try:
        doc = load_yaml(root / PROJECT_FILE, PROJECT_FILE, root)
    except ShipwayError:
        doc = None
    doc = doc if isinstance(doc, dict) else {}
    entries = doc.get("services")
    patterns = [
        e if isinstance(e, str) else e["path"]
        for e in (entries if isinstance(entries, list) else ["services/*"])
        if isinstance(e, str) or (isinstance(e, dict) and isinstance(e.get("path"), str))
    ]
    envs = doc.get("environments")
    names = [n for n in envs if isinstance(n, str)] if isinstance(envs, dict) else []
    environments = [Environment(n, n, LocalTarget()) for n in names or ["dev"]]
    if entries is None:  # Compose's services, when the repository keeps them there
        from shipway.config.compose import read_compose  # it reads this module's helpers

        try:
            compose = read_compose(root)
        except ShipwayError:
            compose = None
        if compose is not None:
            found = []
            for c in compose.services:
                config = root / c.path / c.config if c.config else find_config(root / c.path)
                if config is not None:
                    found.append(Service(c.path, c.path, config.name, buildspec_of(root / c.path)))
            return found, environments
    folders = sorted(
        {f for p in patterns if not p.startswith("..") for f in service_folders(root, p)}
    )
    services = []
    for folder in folders:
        config = find_config(root / folder)
        assert config is not None
        services.append(Service(folder, folder, config.name, buildspec_of(root / folder)))
    return services, environments


def discover_services(
    root: Path, spec: schema.ShipwayFile, doc: LineDict, errors: list[ShipwayError]
) -> tuple[Service, ...]:
    """Folders matched by the `services` globs (with a serverless.yml), settings merged in."""
    settings: dict[str, tuple[schema.ServiceEntry, int]] = {}
    folders: dict[str, int] = {}  # folder -> index of the entry that found it
    for index, entry in enumerate(spec.services):
        where_path: list[str | int] = ["services", index]
        pattern = entry if isinstance(entry, str) else entry.path
        pattern = pattern.strip("/") or "."
        if pattern.startswith("..") or Path(pattern).is_absolute():
            errors.append(
                entry_error(doc, where_path, "a service path must stay inside the repository")
            )
            continue
        problem = service_path_problem(pattern)
        if problem:
            errors.append(entry_error(doc, where_path, problem))
            continue
        matched, escaping = _matches(root, pattern)
        for folder in escaping:
            errors.append(
                entry_error(
                    doc,
                    where_path,
                    f"`{folder}` is a symlink that leads outside the repository",
                    hint="a service folder must be a folder of the commit",
                )
            )
        if escaping and not matched:
            continue
        if isinstance(entry, schema.ServiceEntry):
            if entry.config is not None and config_name_problem(entry.config):
                problem = config_name_problem(entry.config) or ""
                errors.append(entry_error(doc, [*where_path, "config"], problem))
                continue
            if not (root / pattern).is_dir() or service_config(root, pattern, entry) is None:
                wanted = entry.config or "serverless.yml"
                errors.append(
                    entry_error(doc, [*where_path, "path"], f"`{pattern}` has no {wanted}")
                )
                continue
            settings[pattern] = (entry, index)
        elif not matched and not any(ch in pattern for ch in "*?["):
            errors.append(entry_error(doc, where_path, f"`{pattern}` has no serverless.yml"))
        for found in matched:
            folders.setdefault(found, index)
        if isinstance(entry, schema.ServiceEntry):
            folders.setdefault(pattern, index)

    services: list[Service] = []
    by_name: dict[str, Service] = {}
    name_lines: dict[str, list[str | int]] = {}
    for folder in sorted(folders):
        config = service_config(root, folder, settings[folder][0] if folder in settings else None)
        assert config is not None
        display = f"{folder}/{config.name}"
        try:
            name = read_service_name(config, display)
        except ShipwayError as exc:
            errors.append(exc)
            continue
        entry_index = settings[folder][1] if folder in settings else folders[folder]
        if name in by_name:
            errors.append(
                ShipwayError(
                    f"service name `{name}` is used by both `{by_name[name].path}` and `{folder}`",
                    Where(display, None, "service"),
                    hint="the `service:` value must be unique in the repository",
                )
            )
            continue
        chosen = settings[folder][0] if folder in settings else None
        buildspec = buildspec_of(root / folder)
        service = Service(
            name=name,
            path=folder,
            config_file=config.name,
            buildspec=buildspec,
            depends_on=tuple(chosen.depends_on) if chosen else (),
            shared=tuple(chosen.shared) if chosen else (),
        )
        by_name[name] = service
        name_lines[name] = ["services", entry_index]
        services.append(service)

    if not services and not errors:
        patterns = ", ".join(f"`{e if isinstance(e, str) else e.path}`" for e in spec.services)
        errors.append(
            entry_error(
                doc,
                ["services"],
                f"no service found: {patterns} match no folder with a serverless.yml",
            )
        )
    services = with_implied_dependencies(root, services)
    for s in services:
        for dep in s.depends_on:
            if dep not in by_name:
                errors.append(
                    entry_error(
                        doc,
                        [*name_lines[s.name], "depends_on"],
                        f"service `{s.name}` depends on `{dep}`, which is not a service "
                        f"(known: {', '.join(sorted(by_name)) or 'none'})",
                    )
                )
    if errors:
        return tuple(services)
    try:
        return tuple(deploy_order(services))
    except ShipwayError as exc:
        cycle_service = exc.where.key if exc.where else None
        path = name_lines.get(cycle_service or "", ["services"])
        errors.append(entry_error(doc, [*path, "depends_on"], exc.message))
        return tuple(services)


def with_implied_dependencies(root: Path, services: list[Service]) -> list[Service]:
    """`${cf:accounts-<stage>.X}` in a serverless.yml means: deploy after `accounts`."""
    names = {s.name for s in services}
    out: list[Service] = []
    for s in services:
        path = root / s.path / s.config_file
        try:
            text = read_config_text(path, f"{s.path}/{s.config_file}", root)
        except ShipwayError:
            text = ""  # reading the service reports it
        implied = set()
        for match in _CF_REFERENCE.finditer(text):
            stack = text[match.end() : match.end() + 200]
            owners = [n for n in names if stack.startswith(f"{n}-") and n != s.name]
            if owners:
                implied.add(max(owners, key=len))
        extra = tuple(sorted(implied - set(s.depends_on)))
        out.append(replace(s, depends_on=s.depends_on + extra) if extra else s)
    return out


def deploy_order(services: Sequence[Service]) -> list[Service]:
    """Dependencies first, then by name; a cycle is a ShipwayError naming it."""
    by_name = {s.name: s for s in services}
    order: list[Service] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*trail[trail.index(name) :], name])
            raise ShipwayError(
                f"`depends_on` makes a cycle: {cycle}", Where(PROJECT_FILE, None, name)
            )
        state[name] = 1
        for dep in sorted(by_name[name].depends_on):
            if dep in by_name:
                visit(dep, [*trail, name])
        state[name] = 2
        order.append(by_name[name])

    for name in sorted(by_name):
        visit(name, [])
    return order


def deploy_waves(services: Sequence[Service]) -> list[list[Service]]:
    """Services grouped so that each wave depends only on earlier waves (run each concurrently)."""
    level: dict[str, int] = {}
    for s in deploy_order(services):
        level[s.name] = 1 + max((level[d] for d in s.depends_on if d in level), default=-1)
    waves: list[list[Service]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for s in deploy_order(services):
        waves[level[s.name]].append(s)
    return waves


def entry_error(
    doc: LineDict, path: list[str | int], message: str, hint: str | None = None
) -> ShipwayError:
    return ShipwayError(message, Where(PROJECT_FILE, line_of(doc, path), key_path(path)), hint)
