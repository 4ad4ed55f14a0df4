"""`shipway.yml` -> `model.Project`: schema, environments, build settings; the services it
names are found by config/services.py.

Every problem is collected and reported at once, each naming the file, line and key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shipway.config import schema
from shipway.config.compose import read_compose
from shipway.config.compose_services import services_from_compose, with_compose
from shipway.config.files import read_config_text
from shipway.config.globs import glob_match, glob_problem, is_glob
from shipway.config.names import (
    branch_problem,
    environment_problem,
    shown,
    stage_problem,
)
from shipway.config.services import PROJECT_FILE, discover_services, entry_error
from shipway.config.sources import source_problem
from shipway.config.webhooks import MAX_NOTIFY_URLS, webhook_problem
from shipway.config.yamlsrc import LineDict, key_path, line_of, parse_yaml
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


def load_project(root: Path) -> Project:
    """Read `root/shipway.yml` and everything it names; raise ConfigErrors listing all problems."""
    spec, doc = _read_project_file(root)
    errors: list[ShipwayError] = []
    environments = _environments(spec, doc, errors)
    services = _services(root, spec, doc, errors)
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


def _services(
    root: Path, spec: schema.ShipwayFile, doc: LineDict, errors: list[ShipwayError]
) -> tuple[Service, ...]:
    """shipway.yml's `services:`; without one, serverless-compose.yml's when the repository
    has one (config/compose_services.py), else the default glob."""
    try:
        compose = read_compose(root)
    except ConfigErrors as exc:
        errors.extend(exc.errors)
        return ()
    except ShipwayError as exc:
        errors.append(exc)
        return ()
    if compose is not None and "services" not in doc:
        return services_from_compose(root, compose, errors)
    services = discover_services(root, spec, doc, errors)
    if compose is None or errors:
        return services
    return with_compose(root, services, compose, errors)


def load_environments(root: Path) -> dict[str, Environment]:
    """The environments of `root/shipway.yml` alone: what choosing a run's commit needs,
    without reading every service (hundreds of serverless.yml in a large monorepo)."""
    spec, doc = _read_project_file(root)
    errors: list[ShipwayError] = []
    environments = _environments(spec, doc, errors)
    if errors:
        raise ConfigErrors(errors)
    return environments


def parse_environments(text: str) -> tuple[dict[str, Environment], str]:
    """The environments and `control_branch` of a shipway.yml given as text (one read from a
    commit rather than a checkout: config/governing.py); ConfigErrors as load_environments."""
    spec, doc = _parse_project_text(text)
    errors: list[ShipwayError] = []
    environments = _environments(spec, doc, errors)
    if errors:
        raise ConfigErrors(errors)
    return environments, spec.control_branch


def _read_project_file(root: Path) -> tuple[schema.ShipwayFile, LineDict]:
    path = root / PROJECT_FILE
    if not path.is_file():
        raise ShipwayError(
            f"no {PROJECT_FILE} in {root}",
            Where(PROJECT_FILE),
            hint="run `shipway init` to write one",
        )
    return _parse_project_text(read_config_text(path, PROJECT_FILE, root))


def _parse_project_text(text: str) -> tuple[schema.ShipwayFile, LineDict]:
    doc = parse_yaml(text, PROJECT_FILE)
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
        problem = branch_problem(block.branch) or glob_problem(block.branch)
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
        _check_path_globs(name, block.paths, doc, errors)
        target = _target(name, block, doc, errors)
        _check_notify(name, block.notify, doc, errors)
        _check_seed(name, block.seed, target, doc, errors)
        if block.source is not None:
            src = block.source
            wrong = source_problem(src.git, src.s3, src.poll)
            if wrong:
                key, why = wrong
                path: list[str | int] = ["environments", name, "source", key]
                errors.append(entry_error(doc, path, why, hint="source: {git: URL, poll: 30s}"))
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
            seed=tuple(block.seed),
        )
    return out


_SEED = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\.[A-Za-z0-9][A-Za-z0-9_-]*")


def _check_seed(
    name: str, seed: Sequence[str], target: Target, doc: LineDict, errors: list[ShipwayError]
) -> None:
    """`seed`: SERVICE.FUNCTION entries, on a local environment (whose emulator forgets its
    data when the server stops); that each names a deployed function is checked by a run."""
    for index, entry in enumerate(seed):
        path: list[str | int] = ["environments", name, "seed", index]
        if not isinstance(target, LocalTarget):
            errors.append(
                entry_error(
                    doc,
                    path,
                    "`seed` is for local environments: their AWS emulator forgets its data "
                    "when the server stops, an AWS account does not",
                )
            )
            return
        if not _SEED.fullmatch(entry):
            errors.append(
                entry_error(
                    doc,
                    path,
                    f"`{entry[:60]}` is not SERVICE.FUNCTION",
                    hint="e.g. `accounts.seedAccounts`",
                )
            )


def _check_path_globs(
    name: str, paths: schema.PathsBlock | None, doc: LineDict, errors: list[ShipwayError]
) -> None:
    """`paths: {include, exclude}`: each entry a glob (config/globs.py)."""
    for key in ("include", "exclude"):
        for index, pattern in enumerate(getattr(paths, key) if paths else []):
            problem = glob_problem(pattern)
            if problem:
                path: list[str | int] = ["environments", name, "paths", key, index]
                errors.append(
                    entry_error(doc, path, problem, hint='e.g. "services/**" or "**/*.md"')
                )


def _check_notify(
    name: str, urls: Sequence[str], doc: LineDict, errors: list[ShipwayError]
) -> None:
    """`notify`: http(s) URLs, at most MAX_NOTIFY_URLS, none twice; a message never
    quotes a URL (it may carry the webhook's token)."""
    path: list[str | int] = ["environments", name, "notify"]
    if len(urls) > MAX_NOTIFY_URLS:
        errors.append(
            entry_error(doc, path, f"{len(urls)} webhook URLs; the limit is {MAX_NOTIFY_URLS}")
        )
    seen: set[str] = set()
    for index, url in enumerate(urls):
        problem = webhook_problem(url)
        if problem is None and url in seen:
            problem = "the same URL as an earlier entry (each run would post twice)"
        seen.add(url)
        if problem:
            errors.append(
                entry_error(doc, [*path, index], problem, hint="notify: [https://host/path]")
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


def environment_for_branch(
    environments: Mapping[str, Environment], branch: str
) -> Environment | None:
    """The environment that follows `branch` (exact names first, then globs, read as
    CodePipeline's triggers read them: config/globs.py)."""
    for env in environments.values():
        if env.branch == branch:
            return env
    for env in environments.values():
        if is_glob(env.branch) and glob_match(env.branch, branch):
            return env
    return None
