"""Carries a run out: Source -> Build -> Deploy, recording every step in the store.

The same code serves `shipway run` in-process and (later) the server's worker; only the
caller differs. A release is all services or none: the deploy stage runs only when every
build succeeded, and the local target switches the whole release at once.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from shipway.build.runner import BuildRequest, run_build
from shipway.config.dotenv import layer_files
from shipway.errors import ShipwayError
from shipway.model import (
    Artifact,
    AwsTarget,
    BuildResult,
    JobState,
    Release,
    ReleasedService,
    Run,
    RunState,
    Stage,
)
from shipway.pipeline.events import JobEvent, Listener, ignore
from shipway.pipeline.locks import environment_lock
from shipway.pipeline.paths import StatePaths
from shipway.pipeline.plan import RunPlan, build_variables, plan_run
from shipway.source.git import export_commit
from shipway.store.sqlite import Store
from shipway.targets.local.target import LocalTarget


@dataclass(frozen=True)
class Outcome:
    run: Run
    builds: tuple[BuildResult, ...]


class Engine:
    def __init__(self, repo: Path, paths: StatePaths, store: Store, listener: Listener = ignore):
        self.repo = repo
        self.paths = paths
        self.store = store
        self.listener = listener

    # ------------------------------------------------------------------ entry point

    def run(self, env_name: str, commit: str, trigger: str = "cli") -> Outcome:
        """Export `commit`, plan, build and deploy. Bad configuration raises ShipwayError
        before any run is recorded; a failed build or deploy gives a run in state `failed`."""
        scratch = Path(tempfile.mkdtemp(prefix="source-", dir=self._tmp()))
        try:
            export_commit(self.repo, commit, scratch / "workspace")
            plan = plan_run(scratch / "workspace", env_name, commit)
            self._check_supported(plan)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        run = self.store.create_run(env_name, commit, trigger, RunState.RUNNING)
        run = self.store.update_run(run.id, started_at=time.time())
        workspace = self.paths.workspace(run.id)
        workspace.parent.mkdir(parents=True, exist_ok=True)
        (scratch / "workspace").rename(workspace)
        shutil.rmtree(scratch, ignore_errors=True)
        self._job(run, Stage.SOURCE, "*", JobState.SUCCEEDED, 0.0, commit[:12])
        try:
            builds = self._build(run, plan, workspace)
            failed = [b for b in builds if b.state != JobState.SUCCEEDED]
            if failed:
                for s in plan.services:
                    self._job(
                        run, Stage.DEPLOY, s.service.name, JobState.SKIPPED, 0.0, "a build failed"
                    )
                names = ", ".join(f"`{b.service}`" for b in failed)
                run = self._finish(run, RunState.FAILED, f"build failed: {names}")
                return Outcome(run, tuple(builds))
            number = self._deploy(run, plan, builds)
            run = self._finish(run, RunState.SUCCEEDED, None, release=number)
            return Outcome(run, tuple(builds))
        except BaseException as exc:  # recorded, then re-raised: never a run left "running"
            self._finish(run, RunState.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            shutil.rmtree(workspace, ignore_errors=True)

    # ------------------------------------------------------------------ stages

    def _build(self, run: Run, plan: RunPlan, workspace: Path) -> list[BuildResult]:
        seq = int(run.id.rsplit("-", 1)[1])
        secrets = plan.secrets

        def one(name: str) -> BuildResult:
            sp = plan.service(name)
            log = self.paths.build_log(run.id, name)
            log.parent.mkdir(parents=True, exist_ok=True)
            self._job(run, Stage.BUILD, name, JobState.RUNNING, 0.0, None, log)
            out_zip = self.paths.run_dir(run.id) / "artifacts" / f"{name}.zip"
            out_zip.parent.mkdir(parents=True, exist_ok=True)
            request = BuildRequest(
                service=name,
                service_dir=workspace / sp.service.path,
                workspace=workspace,
                buildspec=sp.buildspec,
                env=dict(sp.env_values.values),
                build_vars={
                    **build_variables(plan, name, run.id, seq),
                    "CODEBUILD_SRC_DIR": str(workspace),
                },
                package_patterns=sp.definition.package_patterns,
                exclude_files=_service_files_not_packaged(
                    sp.service.path, sp.service.config_file, plan.environment.name
                ),
                out_zip=out_zip,
                log_path=log,
                timeout_s=plan.project.build.timeout_s,
                secrets=secrets,
            )
            started = time.monotonic()
            try:
                result = run_build(request)
            except ShipwayError as exc:
                result = BuildResult(
                    name, JobState.FAILED, time.monotonic() - started, error=str(exc)
                )
            if result.artifact is not None:
                result = _store_artifact(self.paths, result)
            detail = {"seconds": round(result.seconds, 3), "exported": dict(result.exported)}
            if result.artifact:
                detail["artifact_sha256"] = result.artifact.sha256
            self._job(
                run, Stage.BUILD, name, result.state, result.seconds, result.error, log, detail
            )
            return result

        names = [s.service.name for s in plan.services]
        workers = max(1, min(plan.project.build.concurrency, len(names)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="build") as pool:
            return list(pool.map(one, names))

    def _deploy(self, run: Run, plan: RunPlan, builds: Sequence[BuildResult]) -> int:
        env = plan.environment.name
        artifacts: dict[str, Artifact] = {b.service: b.artifact for b in builds if b.artifact}
        started = time.monotonic()
        with environment_lock(self.paths.env_lock(env), env):
            number = self.store.next_release_number(env)
            ordered = [plan.service(n) for wave in plan.waves for n in wave]
            for sp in ordered:
                self._job(run, Stage.DEPLOY, sp.service.name, JobState.RUNNING, 0.0)
            target = LocalTarget(self.paths.home)
            try:
                target.apply(
                    env,
                    number,
                    plan.commit,
                    [(sp.definition, artifacts[sp.service.name]) for sp in ordered],
                )
            except Exception as exc:
                for sp in ordered:
                    self._job(run, Stage.DEPLOY, sp.service.name, JobState.FAILED, 0.0, str(exc))
                raise
            release = Release(
                env=env,
                number=number,
                run_id=run.id,
                commit=plan.commit,
                created_at=time.time(),
                services=tuple(
                    ReleasedService(sp.service.name, plan.commit, artifacts[sp.service.name].sha256)
                    for sp in ordered
                ),
            )
            self.store.add_release(release)
        elapsed = time.monotonic() - started
        for sp in ordered:
            self._job(
                run, Stage.DEPLOY, sp.service.name, JobState.SUCCEEDED, elapsed, f"release {number}"
            )
        return number

    # ------------------------------------------------------------------ helpers

    def _check_supported(self, plan: RunPlan) -> None:
        env = plan.environment
        if isinstance(env.target, AwsTarget):
            raise ShipwayError(
                f"environment `{env.name}` deploys to AWS, which this version cannot do yet",
                hint="use `target: local` until the AWS target is available",
            )
        if env.approval is not None:
            raise ShipwayError(
                f"environment `{env.name}` asks for approval before {env.approval.before}; "
                "approvals need the Shipway server, which this version does not have yet",
            )

    def _job(
        self,
        run: Run,
        stage: Stage,
        service: str,
        state: JobState,
        elapsed: float,
        message: str | None = None,
        log: Path | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        self.store.set_job(
            run.id,
            stage,
            service,
            state,
            error=message if state in (JobState.FAILED, JobState.TIMED_OUT) else None,
            log_path=str(log) if log else None,
            detail=detail,
        )
        self.listener(JobEvent(run.id, stage, service, state, elapsed, message))

    def _finish(
        self, run: Run, state: RunState, error: str | None, release: int | None = None
    ) -> Run:
        return self.store.update_run(
            run.id, state=state, finished_at=time.time(), error=error, release=release
        )

    def _tmp(self) -> Path:
        path = self.paths.home / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path


def _service_files_not_packaged(service_path: str, config_file: str, env: str) -> tuple[str, ...]:
    """Configuration that must never ship inside a function package."""
    names = [config_file, "buildspec.yml", "buildspec.yaml"]
    names += [p.name for p, _ in layer_files(Path("."), env, None)]
    return tuple(dict.fromkeys([*names, ".env*"]))


def _store_artifact(paths: StatePaths, result: BuildResult) -> BuildResult:
    """Move a fresh artifact into the content-addressed store (same bytes, same key)."""
    assert result.artifact is not None
    art = result.artifact
    dest = paths.artifact(art.service, art.sha256)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        art.path.unlink(missing_ok=True)
    else:
        art.path.replace(dest)
    return BuildResult(
        service=result.service,
        state=result.state,
        seconds=result.seconds,
        artifact=Artifact(art.service, dest, art.sha256, art.size),
        error=result.error,
        exported=result.exported,
    )
