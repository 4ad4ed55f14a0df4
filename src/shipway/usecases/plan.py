"""`shipway plan ENV`: what a run of the branch head would change, and why, with nothing
built, deployed or executed.

Per service: the commits since the environment's release that touch its paths, whether
its build input key is known (the run would reuse that artifact) or new (it would be
rebuilt), and the target's own plan through the protocol (`target.plan(request,
change_sets=True)`): the local target compares code and configuration with its current
release; an aws target makes a change set per changed stack, lists its resource changes
and deletes it. A service that would be rebuilt is planned with the code of its current
release (its configuration is compared; its code is known only after the build).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipway.masking import masks_secrets
from shipway.model import Artifact, AwsTarget, DeployAction, Release
from shipway.pipeline.build_support import fetch_build_secrets
from shipway.pipeline.deploy import deploy_request
from shipway.pipeline.keys import FileIndex, build_key
from shipway.pipeline.paths import StatePaths
from shipway.pipeline.plan import RunPlan, ServicePlan, build_variables, plan_run
from shipway.source.git import commits_between, tracked_files
from shipway.store.sqlite import Store
from shipway.targets import select_target

__all__ = ["plan_environment"]

NO_CODE = "0" * 64  # the code hash of a service with no artifact yet (never a real zip's)


@dataclass
class ServiceRow:
    service: str
    action: str  # deploy | unchanged | remove
    reasons: list[str] = field(default_factory=list)
    rebuild: bool = False  # its build input key is new: the run would build it
    key: str | None = None
    commits: list[dict[str, str]] | None = None
    resource_changes: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "action": self.action,
            "reasons": self.reasons,
            "rebuild": self.rebuild,
            "key": self.key,
            "commits": self.commits,
            "resource_changes": self.resource_changes,
        }


@masks_secrets
def plan_environment(
    repo: Path, paths: StatePaths, store: Store, env_name: str, commit: str
) -> dict[str, Any]:
    """The plan of a run of `commit` in `env_name`, as one JSON-able document."""
    checkout = paths.checkout_pool(repo).take()
    try:
        workspace = checkout.update(commit)
        plan = plan_run(workspace, env_name, commit, state_dir=paths.home)
        return _plan(repo, paths, store, plan, workspace)
    finally:
        checkout.release()


def _plan(
    repo: Path, paths: StatePaths, store: Store, plan: RunPlan, workspace: Path
) -> dict[str, Any]:
    env = plan.environment
    live = store.latest_release(env.name)
    released = {s.name: s for s in live.services} if live else {}
    live_keys = _release_keys(store, live)
    files = FileIndex.for_project(plan.project, tracked_files(repo, plan.commit))
    rows: dict[str, ServiceRow] = {}
    artifacts: dict[str, Artifact] = {}
    for sp in plan.services:
        name = sp.service.name
        row = rows[name] = ServiceRow(name, DeployAction.UNCHANGED.value)
        row.key = _key(plan, sp, files, workspace)
        found = store.find_build(row.key)
        if found is not None and found.artifact.path.is_file():
            artifacts[name] = found.artifact
        else:
            row.rebuild = True
            was = released.get(name)
            code = was.artifact_sha256 if was else NO_CODE
            artifacts[name] = Artifact(name, Path("/nonexistent"), code, 0)
            known = live_keys.get(name)
            row.reasons.append(
                f"input key changed ({known[:12]} -> {row.key[:12]}): would be rebuilt"
                if known
                else "would be built"
            )
        if live is not None:
            touched = commits_between(repo, live.commit, plan.commit, _paths_of(sp))
            row.commits = (
                None
                if touched is None
                else [{"sha": sha, "subject": subject} for sha, subject in touched]
            )
    target = select_target(env, paths.home, secrets=plan.secrets)
    deploy_plan = target.plan(deploy_request(plan, artifacts), change_sets=True)
    for change in deploy_plan.changes:
        row = rows[change.service]
        row.action = change.action.value
        row.resource_changes = [r.as_dict() for r in change.resource_changes]
        if change.action == DeployAction.DEPLOY:
            row.reasons.insert(0, change.reason)
        elif row.rebuild:  # same configuration; the code is known after the build
            row.action = "rebuild"
            row.reasons.append("deployed only if the new build's code differs")
        else:
            row.reasons.append(change.reason)
    maybe = {n for n, r in rows.items() if r.action == "rebuild"}
    for sp in plan.services:  # a dependent follows a dependency that may deploy
        row = rows[sp.service.name]
        later = sorted(d for d in sp.service.depends_on if d in maybe)
        if row.action in ("unchanged", "rebuild") and later:
            row.reasons.append(f"deployed too if {', '.join(f'`{d}`' for d in later)} is")
    for name in sorted(set(released) - set(rows)):
        rows[name] = ServiceRow(name, "remove", ["removed: no longer a service of the commit"])
    all_commits = commits_between(repo, live.commit, plan.commit) if live else None
    return {
        "env": env.name,
        "target": env.target.kind,
        "region": env.target.region if isinstance(env.target, AwsTarget) else None,
        "stage": env.stage,
        "commit": plan.commit,
        "release": live.number if live else None,
        "release_commit": live.commit if live else None,
        "commits": None
        if all_commits is None
        else [{"sha": sha, "subject": subject} for sha, subject in all_commits],
        "services": [r.as_dict() for r in rows.values()],
        "changes": sum(1 for r in rows.values() if r.action != DeployAction.UNCHANGED.value),
    }


def _key(plan: RunPlan, sp: ServicePlan, files: FileIndex, workspace: Path) -> str:
    """The service's build input key, as the run would compute it (its buildspec's AWS
    secrets are fetched: they are inputs)."""
    build_vars = {
        **build_variables(plan, sp.service.name, "plan", 0),
        "CODEBUILD_SRC_DIR": str(workspace),
    }
    target = plan.environment.target
    profile = target.profile if isinstance(target, AwsTarget) else None
    fetched = fetch_build_secrets(sp.buildspec, build_vars["AWS_REGION"], profile)
    return build_key(
        sp.service,
        files,
        {**sp.env_values.values, **fetched, **build_vars},
        sp.buildspec,
        sp.definition.package_patterns,
    )


def _release_keys(store: Store, release: Release | None) -> dict[str, str]:
    """The build input keys of the run that made `release` (a service it reused keeps
    the key of its build)."""
    if release is None:
        return {}
    keys: dict[str, str] = {}
    for job in store.jobs(release.run_id):
        key = job.detail.get("key") if job.stage.value == "build" else None
        if isinstance(key, str):
            keys[job.service] = key
    return keys


def _paths_of(sp: ServicePlan) -> tuple[str, ...]:
    return (sp.service.path, *sp.service.shared)
