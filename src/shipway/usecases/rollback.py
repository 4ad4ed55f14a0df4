"""`shipway rollback ENV [--to N]`: an earlier release's services (their templates and
artifacts) deployed again, through the Target protocol, as a new release.

The new release is made by a run of its own (trigger `rollback to N`, the earlier
release's commit), recorded as any run is, so `status` and `runs` show it. What to deploy
comes from the earlier release's record (`pipeline.records`: definitions, templates,
artifacts); a local release made before records existed is read back from its manifest.
The new release gets a record too, so a rollback can itself be rolled back to.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shipway.auth import Action
from shipway.errors import NotFound, ShipwayError
from shipway.masking import Masker, masks_secrets
from shipway.model import (
    ApplyResult,
    Artifact,
    DeployAction,
    DeployInput,
    DeployRequest,
    Environment,
    Event,
    Function,
    HttpRoute,
    JobState,
    Release,
    Run,
    RunState,
    ServiceDefinition,
    ServiceOutcome,
    Stage,
)
from shipway.pipeline.locks import environment_lock
from shipway.pipeline.paths import StatePaths
from shipway.pipeline.records import RECORD_FILE, record_dir, release_request, write_record
from shipway.store.sqlite import Store
from shipway.targets import select_target
from shipway.targets.local.release_stacks import load_stacks
from shipway.targets.local.releases import MANIFEST_FILE, DeployedService, ReleaseStore
from shipway.usecases.audit import Actor

__all__ = ["RolledBack", "choose_release", "rollback"]


@dataclass(frozen=True)
class RolledBack:
    run: Run
    to: Release  # the release deployed again
    result: ApplyResult


def choose_release(store: Store, env: str, to: int | None) -> tuple[Release, Release]:
    """(the current release, the one to deploy again): `to`, or the kept release before
    the current one. Unknown, pruned or current releases are ShipwayErrors."""
    live = store.latest_release(env)
    if live is None:
        raise NotFound(f"environment `{env}` has no release to roll back from")
    if to is None:
        earlier = [r for r in store.releases(env, limit=1_000_000) if r.number < live.number]
        if not earlier:
            raise NotFound(
                f"release {live.number} is the only release of `{env}`: nothing to roll back to"
            )
        return live, earlier[0]
    found = store.release(env, to)
    if found is None:
        known = ", ".join(str(r.number) for r in store.releases(env, limit=20))
        raise NotFound(f"`{env}` has no release {to} (kept: {known})")
    release, gone = found
    if gone is not None:
        raise ShipwayError(
            f"release {to} of `{env}` was {gone}: its services can no longer be deployed",
            hint="`releases: {keep: N}` in shipway.yml keeps more releases",
        )
    if release.number == live.number:
        raise ShipwayError(f"release {to} is already the current release of `{env}`")
    return live, release


@masks_secrets
def rollback(
    paths: StatePaths, store: Store, env: Environment, to: int | None, actor: Actor
) -> RolledBack:
    """Deploy release `to` (default: the one before the current) of `env` again; the
    rollback is in the audit log as `actor`'s."""
    env_name = env.name
    _, release = choose_release(store, env_name, to)
    request, secrets = _request(paths, env, release)
    target = select_target(env, paths.home, secrets=secrets)
    run = store.create_run(
        env_name, release.commit, f"rollback to {release.number}", RunState.RUNNING
    )
    run = store.update_run(run.id, started_at=time.time())
    detail = f"to release {release.number} (commit {release.commit[:12]})"
    store.audit(actor.entry(Action.ROLLBACK.value, target=run.id, env=env_name, detail=detail))
    store.set_job(
        run.id, Stage.SOURCE, "*", JobState.SKIPPED, detail={"message": f"release {release.number}"}
    )
    try:
        with environment_lock(paths.env_lock(env_name), env_name):
            plan = target.plan(request)
            for change in plan.changes:
                state = (
                    JobState.RUNNING if change.action == DeployAction.DEPLOY else JobState.PENDING
                )
                store.set_job(run.id, Stage.DEPLOY, change.service, state)
            number = target.reserve(env_name, store.next_release_number(env_name))
            result = target.rollback(request, number)
            if result.ok:
                _record(paths, env, number, release, request, secrets)
                store.add_release(
                    Release(env_name, number, run.id, release.commit, time.time(), release.services)
                )
        _record_jobs(store, run, result, number, Masker(secrets))
        if not result.ok:
            why = Masker(secrets)(result.error or "see the jobs")
            error = f"rollback to release {release.number} failed: {why}"
            run = store.update_run(
                run.id, state=RunState.FAILED, finished_at=time.time(), error=error
            )
        else:
            run = store.update_run(
                run.id, state=RunState.SUCCEEDED, finished_at=time.time(), release=number
            )
    except KeyboardInterrupt:
        store.update_run(
            run.id, state=RunState.CANCELLED, finished_at=time.time(), error="cancelled"
        )
        raise
    except BaseException as exc:  # recorded, then re-raised: never a run left "running"
        store.update_run(
            run.id,
            state=RunState.FAILED,
            finished_at=time.time(),
            error=Masker(secrets)(f"{type(exc).__name__}: {exc}"),
        )
        raise
    return RolledBack(run, release, result)


def _record(
    paths: StatePaths,
    env: Environment,
    number: int,
    release: Release,
    request: DeployRequest,
    secrets: Collection[str],
) -> None:
    """The new release's record: the earlier release's services, each with the commit
    that built it, so that this release can be rolled back to as well."""
    commits = {s.name: s.commit for s in release.services}
    kept = [(i, commits.get(i.definition.service, release.commit)) for i in request.services]
    write_record(paths, env.name, number, release.commit, env.target.kind, kept, Masker(secrets))


def _record_jobs(store: Store, run: Run, result: ApplyResult, number: int, mask: Masker) -> None:
    for s in result.services:
        if s.outcome == ServiceOutcome.DEPLOYED:
            state, message = JobState.SUCCEEDED, f"release {number} ({s.message or 'deployed'})"
        elif s.outcome == ServiceOutcome.UNCHANGED:
            state, message = JobState.SKIPPED, s.message or "unchanged"
        else:
            state, message = JobState.FAILED, s.message or s.outcome.value
        message = mask(message)
        store.set_job(
            run.id,
            Stage.DEPLOY,
            s.service,
            state,
            error=message if state == JobState.FAILED else None,
            detail={"message": message},
        )


# --------------------------------------------------------------------------- what to deploy


def _request(
    paths: StatePaths, env: Environment, release: Release
) -> tuple[DeployRequest, Collection[str]]:
    """Release `release` as a request to the target (from its record, else from its local
    manifest), and the secret values it holds (local releases)."""
    local = ReleaseStore(paths.home, env.name)
    on_machine = (local.path(release.number) / MANIFEST_FILE).is_file()
    if env.target.kind == "local" and not on_machine:
        raise NotFound(
            f"release {release.number} of `{env.name}` is no longer on this machine",
            hint="it was pruned, or its environment removed",
        )
    manifest = local.manifest(release.number) if on_machine else None
    secrets = {
        fn.environment[k]
        for service in (manifest.services.values() if manifest else ())
        for fn in service.functions.values()
        for k in fn.secret_keys
        if fn.environment.get(k)
    }
    if (record_dir(paths, env.name, release.number) / RECORD_FILE).is_file():
        request = release_request(paths, env.name, release.number)
        if on_machine:  # a local release's stacks, as it kept them, for the emulator
            request = _with_kept_templates(request, local.path(release.number))
        return request, secrets
    if manifest is None:
        raise NotFound(
            f"release {release.number} of `{env.name}` has no record to deploy again",
            hint="releases made before this version cannot be rolled back to",
        )
    items = []
    for service in manifest.services.values():
        zip_path = paths.artifact(service.name, service.artifact_sha256)
        if not zip_path.is_file():
            raise NotFound(
                f"the artifact of `{service.name}` in release {release.number} is no longer "
                f"in the artifact store ({zip_path})"
            )
        size = zip_path.stat().st_size
        artifact = Artifact(service.name, zip_path, service.artifact_sha256, size)
        items.append(DeployInput(_definition(service), artifact))
    request = _with_kept_templates(
        DeployRequest(env.name, manifest.commit, tuple(items)), local.path(release.number)
    )
    return request, secrets


def _with_kept_templates(request: DeployRequest, folder: Path) -> DeployRequest:
    names = [s.definition.service for s in request.services]
    kept = {s.service: s for s in load_stacks(folder, names)}
    return replace(
        request,
        services=tuple(
            replace(s, template=kept[n].template, stack=kept[n].stack)
            if (n := s.definition.service) in kept and s.template is None
            else s
            for s in request.services
        ),
    )


def _definition(service: DeployedService) -> ServiceDefinition:
    """The definition a local release's service was deployed from, as far as the local
    target uses it (functions, their environment, routes, schedules, reserved workers)."""
    functions = []
    reserved: dict[str, Any] = {}
    for fn in service.functions.values():
        functions.append(
            Function(
                name=fn.name,
                handler=fn.handler,
                runtime=fn.runtime,
                timeout=fn.timeout,
                memory_size=fn.memory_size,
                environment=dict(fn.environment),
                events=tuple(Event("schedule", s) for s in fn.schedules),
                routes=tuple(
                    HttpRoute("httpApi" if r.kind == "httpApi" else "http", r.method, r.path)
                    for r in fn.http_routes
                ),
            )
        )
        if fn.reserved_concurrency is not None:
            reserved[fn.name] = {"reservedConcurrency": fn.reserved_concurrency}
    runtime = functions[0].runtime if functions else "python3.12"
    return ServiceDefinition(
        service=service.name,
        stage=service.stage,
        region=service.region,
        runtime=runtime,
        functions=tuple(functions),
        resolved={"functions": reserved},
    )
