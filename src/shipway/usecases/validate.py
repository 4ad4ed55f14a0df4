"""`shipway validate`: every problem of the working tree's configuration, at once.

Each service is judged in every environment by the verdict a run gives it
(pipeline/verdict.py). A problem found in some environments only names them; one found
in all is listed once. Files it read that a run will not see (git-ignored, not committed,
changed since the last commit) are warnings: a run builds from a commit.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shipway.build.sandbox import INSTALL_HINT, unavailable
from shipway.config.buildspec import parse_buildspec
from shipway.config.dotenv import layer_files
from shipway.config.project import load_project
from shipway.config.services import PROJECT_FILE, services_seen_despite_errors
from shipway.config.variables import files_read
from shipway.errors import ConfigErrors, ShipwayError, Where
from shipway.model import AwsTarget, Environment, Service, ServiceDefinition
from shipway.pipeline.plan import own_stacks, seed_problems, service_env
from shipway.pipeline.verdict import service_verdict
from shipway.source.git import uncommitted
from shipway.targets.local.layers import release_warnings

__all__ = ["ServiceSummary", "Validation", "ValidationFailed", "validate"]

_UNSEEN = {
    "ignored": "git ignores this file: `shipway run` builds from a commit, which will not have it",
    "untracked": "this file is not committed: `shipway run` builds from a commit, which will "
    "not have it",
    "modified": "this file has changes that are not committed: `shipway run` uses the "
    "committed version",
}


@dataclass(frozen=True)
class ServiceSummary:
    name: str
    path: str
    build: str  # "buildspec.yml" or "default"
    functions: int
    depends_on: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Validation:
    services: list[ServiceSummary]
    warnings: list[ShipwayError]  # every warning, with its file, line and key


class ValidationFailed(ConfigErrors):
    """Every problem found, and the warnings found with them."""

    def __init__(self, errors: Iterable[ShipwayError], warnings: Sequence[ShipwayError]):
        super().__init__(errors)
        self.warnings = list(warnings)


class Found:
    """Problems (or warnings), each once, in the order found, with the environments it
    was found in: one found in every environment is not said to be of one."""

    def __init__(self, environments: Iterable[str]) -> None:
        self.environments = frozenset(environments)
        self._items: dict[str, tuple[ShipwayError, list[str | None]]] = {}

    def add(self, exc: ShipwayError, env: str | None = None) -> None:
        for e in exc.errors if isinstance(exc, ConfigErrors) else [exc]:
            entry = self._items.setdefault(str(e), (e, []))
            entry[1].append(env)

    def __bool__(self) -> bool:
        return bool(self._items)

    def listed(self) -> list[ShipwayError]:
        out: list[ShipwayError] = []
        for error, envs in self._items.values():
            if None in envs or set(envs) >= self.environments:
                out.append(error)
                continue
            for env in dict.fromkeys(envs):
                named = copy.copy(error)
                named.environment = env
                out.append(named)
        return out


def validate(repo: Path, state_dir: Path | None = None) -> Validation:
    """Check shipway.yml and, for every environment, every service's serverless.yml,
    buildspec.yml and .env layers; raise ValidationFailed listing every problem.
    `state_dir`: where local environments' `${ssm:}` parameters are kept."""
    with files_read() as through_file:  # what `${file()}` read: a run must see it too
        return _validate(repo, through_file, state_dir)


def _validate(repo: Path, through_file: list[str], state_dir: Path | None) -> Validation:
    try:
        project = load_project(repo)
    except ShipwayError as exc:
        # shipway.yml is wrong: still check every service it can be seen to name, so one
        # pass of `validate` shows everything that needs fixing.
        services, environments = services_seen_despite_errors(repo)
        problems = Found(e.name for e in environments)
        problems.add(exc)
        warnings = Found(e.name for e in environments)
        for service in services:
            _check_buildspec(repo, service, problems)
            for env in environments:
                # the stacks of the services seen: a sibling's `${cf:}` as in a run
                # (named by their folders here: a stack is `<folder's name>-<stage>`)
                own = {f"{s.path.rsplit('/', 1)[-1]}-{env.stage}": None for s in services}
                _check_service(repo, service, env, problems, warnings, own, state_dir=state_dir)
        raise ValidationFailed(problems.listed(), warnings.listed()) from None
    names = list(project.environments)
    problems, warnings = Found(names), Found(names)
    functions: dict[str, int] = {}
    # a local release's services, for the layers one can provide another
    local: dict[str, dict[str, Service]] = {}
    loaded: dict[str, list[ServiceDefinition]] = {}
    for service in project.services:
        _check_buildspec(repo, service, problems)
        for env in project.environments.values():
            seen = None if isinstance(env.target, AwsTarget) else loaded.setdefault(env.name, [])
            before = len(seen or ())
            count = _check_service(
                repo, service, env, problems, warnings, own_stacks(project, env), seen, state_dir
            )
            functions[service.name] = max(functions.get(service.name, 0), count or 0)
            if seen is not None and len(seen) > before:
                local.setdefault(env.name, {})[seen[-1].service] = service
    for env_name, definitions in loaded.items():
        if len(definitions) == len(project.services):  # a service that did not load: said
            for problem in seed_problems(project.environments[env_name], definitions):
                problems.add(problem, env_name)
        for name, notes in release_warnings(definitions).items():
            service = local[env_name][name]
            for note in notes:
                warnings.add(ShipwayError(note, Where(service.config_path)), env_name)
    read = [*_files_read(repo, project.services, names), *dict.fromkeys(through_file)]
    for path, unseen in uncommitted(repo, list(dict.fromkeys(read))).items():
        warnings.add(ShipwayError(_UNSEEN[unseen], Where(path)))
    listed = warnings.listed()
    if problems:
        raise ValidationFailed(problems.listed(), listed)
    why = unavailable(project.build.network) if project.build.sandbox else None
    isolation = [f"builds are not isolated: {why} ({INSTALL_HINT})"] if why else []
    summaries = [
        ServiceSummary(
            s.name,
            s.path,
            s.buildspec or "default",
            functions.get(s.name, 0),
            s.depends_on,
            tuple(dict.fromkeys([*(str(w) for w in listed if _of(w, s)), *isolation])),
        )
        for s in project.services
    ]
    return Validation(summaries, listed)


def _files_read(repo: Path, services: Sequence[Service], envs: Sequence[str]) -> list[str]:
    """shipway.yml, each service's serverless.yml and buildspec, the .env layers found
    (the files `${file()}` read are recorded as they are read)."""
    read = [PROJECT_FILE]
    for service in services:
        read.append(service.config_path)
        if service.buildspec_path:
            read.append(service.buildspec_path)
        for env in envs:
            read += [
                shown for path, shown in layer_files(repo, env, service.path) if path.is_file()
            ]
    return list(dict.fromkeys(read))


def _of(warning: ShipwayError, service: Service) -> bool:
    file = warning.where.file if warning.where else ""
    return file.startswith(service.path.rstrip("/") + "/")


def _check_buildspec(repo: Path, service: Service, problems: Found) -> None:
    if service.buildspec_path:
        try:
            parse_buildspec(repo / service.buildspec_path, service.buildspec_path)
        except ShipwayError as exc:
            problems.add(exc)


def _check_service(
    repo: Path,
    service: Service,
    env: Environment,
    problems: Found,
    warnings: Found,
    own: Mapping[str, Mapping[str, str] | None] | None = None,
    seen: list[ServiceDefinition] | None = None,
    state_dir: Path | None = None,
) -> int | None:
    """Problems of one service in one environment; its function count when it loads
    (its definition appended to `seen`)."""
    try:
        values = service_env(repo, env, service)
        # `${cf:}` of a stack of the repository not deployed yet: resolved in the run
        verdict = service_verdict(repo, env, service, values, own_stacks=own, state_dir=state_dir)
    except ShipwayError as exc:
        problems.add(exc, env.name)
        return None
    for error in verdict.errors:
        problems.add(error, env.name)
    for warning in verdict.warnings:
        warnings.add(warning, env.name)
    if verdict.definition is None:
        return None
    if seen is not None and verdict.ok:
        seen.append(verdict.definition)
    return len(verdict.definition.functions)
