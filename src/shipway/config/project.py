"""`shipway.yml` -> `model.Project`: schema, service discovery, environments.

Every problem is collected and reported at once, each naming the file, line and key.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shipway.config import schema
from shipway.config.files import is_inside, read_config_text
from shipway.config.names import (
    branch_problem,
    environment_problem,
    service_path_problem,
    shown,
    stage_problem,
)
from shipway.config.serverless import find_config, read_service_name
from shipway.config.webhooks import MAX_NOTIFY_URLS, webhook_problem
from shipway.config.yamlsrc import LineDict, key_path, line_of, load_yaml
from shipway.errors import ConfigErrors, ShipwayError, Where
from shipway.model import (
    ApprovalPolicy,
    AwsTarget,
    BuildSettings,
    Environment,
    LocalTarget,
    Project,
    Service,
    Target,
)

PROJECT_FILE = "shipway.yml"
BUILDSPEC_NAMES = ("buildspec.yml", "buildspec.yaml")
_CF_REFERENCE = re.compile(r"\$\{cf(?:\([^)]*\))?:")


def load_project(root: Path) -> Project:
    """Read `root/shipway.yml` and everything it names; raise ConfigErrors listing all problems."""
    spec, doc = _read_project_file(root)
    errors: list[ShipwayError] = []
    environments = _environments(spec, doc, errors)
    services = _discover_services(root, spec, doc, errors)
    if errors:
        raise ConfigErrors(errors)
    concurrency = spec.build.concurrency or os.cpu_count() or 2
    return Project(
        name=spec.project,
        root=root,
        services=services,
        environments=environments,
        build=BuildSettings(
            concurrency=concurrency,
            timeout_s=spec.build.timeout,
            sandbox=spec.build.sandbox,
            network=spec.build.network,
        ),
        releases_keep=spec.releases.keep,
    )


def load_environments(root: Path) -> dict[str, Environment]:
    """The environments of `root/shipway.yml` alone: what choosing a run's commit needs,
    without reading every service (hundreds of serverless.yml in a large monorepo)."""
    spec, doc = _read_project_file(root)
    errors: list[ShipwayError] = []
    environments = _environments(spec, doc, errors)
    if errors:
        raise ConfigErrors(errors)
    return environments


def _read_project_file(root: Path) -> tuple[schema.ShipwayFile, LineDict]:
    path = root / PROJECT_FILE
    if not path.is_file():
        raise ShipwayError(
            f"no {PROJECT_FILE} in {root}",
            Where(PROJECT_FILE),
            hint="run `shipway init` to write one",
        )
    doc = load_yaml(path, PROJECT_FILE, root)
    if not isinstance(doc, LineDict):
        raise ShipwayError(
            "expected a mapping with `project` and `environments`", Where(PROJECT_FILE, 1)
        )
    try:
        spec = schema.ShipwayFile.model_validate(doc)
    except ValidationError as exc:
        raise ConfigErrors(_schema_errors(exc, doc)) from None
    return spec, doc


def _schema_errors(exc: ValidationError, doc: LineDict) -> list[ShipwayError]:
    out: list[ShipwayError] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors():
        path = _doc_path(doc, err["loc"], keep_last=err["type"] == "missing")
        key = key_path(path)
        kind = err["type"]
        if kind == "extra_forbidden":
            message = f"unknown key `{path[-1]}`"
        elif kind == "missing":
            message = f"`{path[-1]}` is required"
        elif kind == "literal_error":
            message = f"expected {err['ctx']['expected']}, got {shown(repr(err['input']))}"
        elif kind == "too_short" and key == "environments":
            message = "at least one environment is needed (`dev: {branch: dev}`)"
        elif kind == "string_pattern_mismatch":
            message = f"{shown(repr(err['input']))} does not match {err['ctx']['pattern']}"
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
        if (key, message) in seen:
            continue
        seen.add((key, message))
        out.append(ShipwayError(message, Where(PROJECT_FILE, line_of(doc, path), key or None)))
    return _drop_union_noise(out)


def _doc_path(doc: Any, loc: Sequence[str | int], keep_last: bool) -> list[str | int]:
    """Pydantic's error location mapped onto the document (union member tags dropped)."""
    path: list[str | int] = []
    node = doc
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            path.append(part)
        elif keep_last and i == len(loc) - 1 and isinstance(part, str):
            path.append(part)
    return path


def _drop_union_noise(errors: list[ShipwayError]) -> list[ShipwayError]:
    """A value that fails every member of a union yields one error per member: an error
    whose key is a prefix of another's is dropped, and errors on one key become one."""
    keys = [(e.where.key or "") if e.where else "" for e in errors]
    merged: dict[str, ShipwayError] = {}
    for error, key in zip(errors, keys, strict=True):
        if any(k.startswith(key + ".") for k in keys):
            continue
        if key in merged:
            first = merged[key]
            merged[key] = ShipwayError(f"{first.message}, or {error.message}", first.where)
        else:
            merged[key] = error
    return list(merged.values())


def _environments(
    spec: schema.ShipwayFile, doc: LineDict, errors: list[ShipwayError]
) -> dict[str, Environment]:
    out: dict[str, Environment] = {}
    branches: dict[str, str] = {}
    for name, block in spec.environments.items():
        problem = environment_problem(name)
        if problem:
            errors.append(
                ShipwayError(
                    problem,
                    Where(
                        PROJECT_FILE,
                        line_of(doc, ["environments", name]),
                        f"environments.{shown(name)}",
                    ),
                    hint="it becomes the stage: `${sls:stage}`, stack names, URLs",
                )
            )
        where = Where(
            PROJECT_FILE,
            line_of(doc, ["environments", name, "branch"]),
            f"environments.{shown(name)}.branch",
        )
        problem = branch_problem(block.branch)
        if problem:
            errors.append(ShipwayError(problem, where, hint="name the branch itself, as pushed"))
        if block.branch in branches:
            errors.append(
                ShipwayError(
                    f"branch `{block.branch}` is already bound to environment "
                    f"`{branches[block.branch]}`",
                    where,
                    hint="each branch feeds one environment",
                )
            )
        branches.setdefault(block.branch, name)
        stage = name if block.stage is None else block.stage
        problem = stage_problem(stage)
        if problem and block.stage is not None:
            errors.append(
                ShipwayError(
                    problem,
                    Where(
                        PROJECT_FILE,
                        line_of(doc, ["environments", name, "stage"]),
                        f"environments.{shown(name)}.stage",
                    ),
                    hint="the Serverless Framework's stage name: `${sls:stage}`, stack names",
                )
            )
        target = _target(name, block, doc, errors)
        _check_notify(name, block.notify, doc, errors)
        approval = (
            ApprovalPolicy(
                before=block.approval.before,
                approvers=tuple(block.approval.approvers),
                timeout_s=block.approval.timeout,
            )
            if block.approval
            else None
        )
        out[name] = Environment(
            name=name,
            branch=block.branch,
            target=target,
            stage=stage,
            approval=approval,
            mode=block.mode,
            notify=tuple(block.notify),
            params={k: _param_text(v) for k, v in block.params.items()},
            secrets=tuple(block.secrets),
            source=block.source.model_dump(exclude_none=True) if block.source else None,
            paths_include=tuple(block.paths.include) if block.paths else (),
            paths_exclude=tuple(block.paths.exclude) if block.paths else (),
        )
    return out


def _check_notify(
    name: str, urls: Sequence[str], doc: LineDict, errors: list[ShipwayError]
) -> None:
    """`notify`: http(s) URLs, at most MAX_NOTIFY_URLS, none twice; a message never
    quotes a URL (it may carry the webhook's token)."""
    path: list[str | int] = ["environments", name, "notify"]
    if len(urls) > MAX_NOTIFY_URLS:
        errors.append(
            _entry_error(doc, path, f"{len(urls)} webhook URLs; the limit is {MAX_NOTIFY_URLS}")
        )
    seen: set[str] = set()
    for index, url in enumerate(urls):
        problem = webhook_problem(url)
        if problem is None and url in seen:
            problem = "the same URL as an earlier entry (each run would post twice)"
        seen.add(url)
        if problem:
            errors.append(
                _entry_error(doc, [*path, index], problem, hint="notify: [https://host/path]")
            )


def _param_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _target(
    name: str, block: schema.EnvironmentBlock, doc: LineDict, errors: list[ShipwayError]
) -> Target:
    if block.target == "local":
        return LocalTarget()
    if not isinstance(block.target, schema.TargetBlock):
        return LocalTarget()
    chosen = [k for k in ("aws", "local") if getattr(block.target, k) is not None]
    if len(chosen) != 1:
        errors.append(
            ShipwayError(
                "expected exactly one of `local` or `aws: {region: …}`",
                Where(
                    PROJECT_FILE,
                    line_of(doc, ["environments", name, "target"]),
                    f"environments.{name}.target",
                ),
            )
        )
        return LocalTarget()
    aws = block.target.aws
    if aws is None:
        return LocalTarget()
    return AwsTarget(
        region=aws.region, profile=aws.profile, role_arn=aws.role_arn, account=aws.account
    )


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
    folders = sorted(
        {f for p in patterns if not p.startswith("..") for f in service_folders(root, p)}
    )
    services = []
    for folder in folders:
        config = find_config(root / folder)
        assert config is not None
        services.append(Service(folder, folder, config.name, buildspec_of(root / folder)))
    return services, environments


def _discover_services(
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
                _entry_error(doc, where_path, "a service path must stay inside the repository")
            )
            continue
        problem = service_path_problem(pattern)
        if problem:
            errors.append(_entry_error(doc, where_path, problem))
            continue
        matched, escaping = _matches(root, pattern)
        for folder in escaping:
            errors.append(
                _entry_error(
                    doc,
                    where_path,
                    f"`{folder}` is a symlink that leads outside the repository",
                    hint="a service folder must be a folder of the commit",
                )
            )
        if escaping and not matched:
            continue
        if isinstance(entry, schema.ServiceEntry):
            if not (root / pattern).is_dir() or find_config(root / pattern) is None:
                errors.append(
                    _entry_error(doc, [*where_path, "path"], f"`{pattern}` has no serverless.yml")
                )
                continue
            settings[pattern] = (entry, index)
        elif not matched and not any(ch in pattern for ch in "*?["):
            errors.append(_entry_error(doc, where_path, f"`{pattern}` has no serverless.yml"))
        for found in matched:
            folders.setdefault(found, index)
        if isinstance(entry, schema.ServiceEntry):
            folders.setdefault(pattern, index)

    services: list[Service] = []
    by_name: dict[str, Service] = {}
    name_lines: dict[str, list[str | int]] = {}
    for folder in sorted(folders):
        config = find_config(root / folder)
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
            _entry_error(
                doc,
                ["services"],
                f"no service found: {patterns} match no folder with a serverless.yml",
            )
        )
    services = _with_implied_dependencies(root, services)
    for s in services:
        for dep in s.depends_on:
            if dep not in by_name:
                errors.append(
                    _entry_error(
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
        errors.append(_entry_error(doc, [*path, "depends_on"], exc.message))
        return tuple(services)


def _with_implied_dependencies(root: Path, services: list[Service]) -> list[Service]:
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


def _entry_error(
    doc: LineDict, path: list[str | int], message: str, hint: str | None = None
) -> ShipwayError:
    return ShipwayError(message, Where(PROJECT_FILE, line_of(doc, path), key_path(path)), hint)


def environment_for_branch(
    environments: Mapping[str, Environment], branch: str
) -> Environment | None:
    """The environment that follows `branch` (exact names first, then globs)."""
    for env in environments.values():
        if env.branch == branch:
            return env
    for env in environments.values():
        if any(ch in env.branch for ch in "*?[") and fnmatch.fnmatchcase(branch, env.branch):
            return env
    return None
