"""`shipway env list / add`: the environments of shipway.yml, and a new one written into
the file as a text edit (the user's comments and layout kept), checked by the project
loader before it is written, and written whole or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.config.dotenv import layer_files
from shipway.config.edit import (
    add_environment,
    copy_environment,
    remove_environment,
    write_atomically,
)
from shipway.config.project import load_environments, load_project
from shipway.config.services import PROJECT_FILE
from shipway.errors import ConfigErrors, ShipwayError
from shipway.model import ApplyResult, AwsTarget, Environment
from shipway.pipeline.locks import environment_lock
from shipway.pipeline.paths import StatePaths
from shipway.pipeline.plan import environment
from shipway.pipeline.records import read_record
from shipway.store.sqlite import Store
from shipway.targets import select_target
from shipway.targets.local.releases import check_name

__all__ = ["Added", "Removal", "add", "describe", "env_files", "listing", "removal", "remove"]


def describe(env: Environment) -> dict[str, Any]:
    """One environment as `env list --json` shows it."""
    target = env.target
    return {
        "name": env.name,
        "branch": env.branch,
        "target": target.kind,
        "region": target.region if isinstance(target, AwsTarget) else None,
        "stage": env.stage,
        "approval": env.approval.before if env.approval else None,
    }


def listing(repo: Path) -> list[dict[str, Any]]:
    """Every environment of shipway.yml, in the file's order."""
    return [describe(e) for e in load_environments(repo).values()]


@dataclass(frozen=True)
class Added:
    environment: Environment
    env_files: tuple[tuple[str, bool], ...]  # (file, exists) in the order they are read
    copied_from: str | None = None


def env_files(repo: Path, name: str, service_paths: list[str]) -> list[tuple[str, bool]]:
    """The `.env` layers an environment reads, root first, then each service's (only
    those present for services: absent ones are many and say nothing)."""
    out: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for path in [None, *service_paths]:
        for file, display in layer_files(repo, name, path):
            if display in seen or (path is not None and not file.is_file()):
                continue
            seen.add(display)
            out.append((display, file.is_file()))
    return out


def add(
    repo: Path,
    name: str,
    branch: str,
    *,
    copy_from: str | None = None,
    target: str | None = None,
    region: str | None = None,
) -> Added:
    """Add environment `name` to shipway.yml. The file must load before (it is the user's
    to fix otherwise) and after the edit; nothing is written unless the result loads."""
    if target == "aws" and not region:
        raise ShipwayError("`--target aws` needs `--region REGION`")
    if region and target != "aws":
        raise ShipwayError("`--region` is for `--target aws`")
    if copy_from and target:
        raise ShipwayError(
            f"`--from {copy_from}` copies that environment's target",
            hint="leave out --target, or edit the copied block afterwards",
        )
    project = load_project(repo)  # the file as it is must be sound before it is edited
    path = repo / PROJECT_FILE
    text = path.read_text(encoding="utf-8")
    if copy_from:
        if copy_from not in project.environments:
            known = ", ".join(project.environments)
            raise ShipwayError(f"no environment `{copy_from}` to copy (known: {known})")
        new_text = copy_environment(text, copy_from, name, branch)
    else:
        aws = {"aws": {"region": region}} if target == "aws" and region else None
        new_text = add_environment(text, name, branch, aws)
    environment = _checked(new_text, name)
    write_atomically(path, new_text)
    files = env_files(repo, name, [s.path for s in project.services])
    return Added(environment, tuple(files), copy_from)


def _checked(text: str, name: str) -> Environment:
    """The environment `name` as the loader reads it from `text`, or the loader's errors
    (lines as in the edited file): the environments are all that changed."""
    return _loads(text)[name]


def _refused(exc: ShipwayError) -> ShipwayError:
    return ShipwayError(f"{exc.message} (nothing was written)", exc.where, exc.hint)


# --------------------------------------------------------------------------- remove


@dataclass(frozen=True)
class Removal:
    """What `env remove` deletes: the environment's stacks (dependents first, aws), its
    releases and state; its block of shipway.yml when `forget`."""

    environment: Environment
    stacks: tuple[str, ...]
    releases: tuple[int, ...]


def removal(repo: Path, store: Store, paths: StatePaths, name: str) -> Removal:
    """What removing `name` would delete (nothing is changed)."""
    env = environment(load_environments(repo), name)
    check_name("environment", name)
    releases = tuple(r.number for r in store.releases(name, limit=1_000_000))
    stacks: tuple[str, ...] = ()
    if isinstance(env.target, AwsTarget):
        stacks = _stacks(repo, paths, env, releases[0] if releases else None)
    return Removal(env, stacks, releases)


def _stacks(repo: Path, paths: StatePaths, env: Environment, latest: int | None) -> tuple[str, ...]:
    """The environment's stacks, dependents first: those its latest release's record names
    (in deploy order), and those of the repository's services (`<service>-<stage>`)."""
    named: list[str] = []
    if latest is not None:
        try:
            record = read_record(paths, env.name, latest)
            named = [str(s["stack"]) for s in record["services"] if s.get("stack")]
        except ShipwayError:
            named = []
    try:
        services = load_project(repo).services  # dependencies first
        named += [f"{s.name}-{env.stage}" for s in services]
    except ShipwayError:
        pass
    return tuple(reversed(list(dict.fromkeys(named))))


def remove(
    repo: Path, store: Store, paths: StatePaths, name: str, *, forget: bool = False
) -> tuple[Removal, ApplyResult]:
    """Delete environment `name`'s stacks (through its target) and state: its local
    releases, records and lock; its releases' rows are marked removed (the run history
    stays). With `forget`, its block leaves shipway.yml (checked before anything is
    deleted, written after)."""
    plan = removal(repo, store, paths, name)
    project_file = repo / PROJECT_FILE
    new_text = None
    if forget:
        new_text = remove_environment(project_file.read_text(encoding="utf-8"), name)
        _loads(new_text)
    target = select_target(plan.environment, paths.home)
    with environment_lock(paths.env_lock(name), name):
        result = target.remove(name, plan.stacks)
        if not result.ok:
            return plan, result
        shutil.rmtree(paths.home / "records" / name, ignore_errors=True)
        store.mark_releases_gone(name, plan.releases, "removed")
        shutil.rmtree(paths.home / "envs" / name, ignore_errors=True)
    if new_text is not None:
        write_atomically(project_file, new_text)
    return plan, result


def _loads(text: str) -> dict[str, Environment]:
    """The environments the loader reads from `text` as shipway.yml, or its errors (each
    saying nothing was written)."""
    with tempfile.TemporaryDirectory(prefix="shipway-edit-") as folder:
        candidate = Path(folder) / PROJECT_FILE
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            return load_environments(Path(folder))
        except ConfigErrors as exc:
            raise ConfigErrors(
                [_refused(e) for e in exc.errors] or [ShipwayError("the edit was refused")]
            ) from None
        except ShipwayError as exc:
            raise _refused(exc) from None
