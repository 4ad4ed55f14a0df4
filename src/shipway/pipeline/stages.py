"""The work of a run's Build and Deploy stages, recording every job in the store.

The same code serves `shipway run` in-process and the server's worker (engine.py drives the
stages; this module does them). A release is all services or none: the deploy stage runs
only when every build succeeded, and the local target switches the whole release at once.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

from shipway.build.cleanup import LaterRemover
from shipway.build.confine import drop_other_env_files
from shipway.build.runner import BuildRequest, run_build
from shipway.build.shell import cancel_running_builds
from shipway.config.stack_inputs import wants_stack
from shipway.errors import DeployFailed, ShipwayError
from shipway.masking import Masker
from shipway.model import (
    Artifact,
    AwsTarget,
    BuildResult,
    DeployAction,
    JobState,
    Release,
    Run,
    RunState,
    StackEvent,
    Stage,
)
from shipway.notify import NOTIFIED_STATES, Notifier, default_notifier, run_message
from shipway.pipeline.build_support import fetch_build_secrets, store_artifact
from shipway.pipeline.deploy import (
    CfPreparer,
    DeployHooks,
    DeployJob,
    deploy_jobs,
    deploy_request,
    failure_summary,
    released_services,
    with_templates,
)
from shipway.pipeline.events import JobEvent, Listener
from shipway.pipeline.keys import FileIndex, build_key
from shipway.pipeline.locks import environment_lock
from shipway.pipeline.paths import StatePaths
from shipway.pipeline.plan import RunPlan, build_variables
from shipway.pipeline.records import write_record
from shipway.pipeline.recovery import kill_group
from shipway.source.git import is_ancestor, tracked_files
from shipway.store.sqlite import Store
from shipway.synth.layers import layer_sources
from shipway.targets.protocol import Target

__all__ = ["NOT_PACKAGED", "RunCancelled", "StageWork", "Superseded"]

# Configuration that must never ship inside a function package.
NOT_PACKAGED = ("serverless.yml", "serverless.yaml", "buildspec.yml", "buildspec.yaml", ".env*")


_WAKE_S = 0.2  # how often a thread waiting on builds looks for a signal


@dataclass(frozen=True)
class _BuildStage:
    """What every service build of one run shares."""

    run: Run
    plan: RunPlan
    workspace: Path
    force: bool
    files: FileIndex  # the commit's tracked files, indexed once for every key
    remover: LaterRemover  # removes each build's scratch folder while the next builds run
    reuse_only: bool = False  # `deploy --from`: only builds the store holds

    @property
    def seq(self) -> int:
        return int(self.run.id.rsplit("-", 1)[1])


class RunCancelled(Exception):
    """Someone cancelled the run while it built (`shipway cancel`); says by whom."""


class Superseded(Exception):
    """The environment already runs a release of a newer commit than this run's."""

    def __init__(self, live: Release) -> None:
        super().__init__(
            f"superseded by run {live.run_id} (release {live.number}, commit {live.commit[:12]}),"
            " which deployed a newer commit"
        )
        self.live = live


class StageWork:
    """Build and deploy for a run; engine.Engine is the one subclass (it drives them)."""

    repo: Path
    paths: StatePaths
    store: Store
    listener: Listener
    notifier: Notifier | None
    _masks: dict[str, Masker]
    _artifacts: Path | None

    def _cancelled(self, run_id: str) -> str | None:
        raise NotImplementedError

    # ------------------------------------------------------------------ stages

    def _build(
        self, run: Run, plan: RunPlan, workspace: Path, force: bool, reuse_only: bool = False
    ) -> list[BuildResult]:
        """Every service's build, in parallel up to `build.concurrency`. `reuse_only`: a
        service whose build the store does not hold fails (`shipway deploy --from`)."""
        files = FileIndex.for_project(plan.project, tracked_files(self.repo, plan.commit))
        stage = _BuildStage(run, plan, workspace, force, files, LaterRemover(), reuse_only)
        others = [e for e in plan.project.environments if e != plan.environment.name]
        drop_other_env_files(workspace, [s.service.path for s in plan.services], others)
        names = [s.service.name for s in plan.services]
        workers = max(1, min(plan.project.build.concurrency, len(names)))
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="build") as pool:
                futures = [pool.submit(self._build_service, stage, name) for name in names]
                try:
                    # woken now and then: a Ctrl-C that the kernel hands to a build thread
                    # is only seen when this thread runs again (an endless wait hung)
                    while wait(futures, timeout=_WAKE_S)[1]:
                        why = self._cancelled(run.id)
                        if why:
                            raise RunCancelled(why)
                    return [f.result() for f in futures]
                except RunCancelled:  # this run's builds alone: a server builds other runs
                    for f in futures:
                        f.cancel()
                    while not all(f.done() for f in futures):
                        for pgid, identity in self.store.build_groups(run.id):
                            kill_group(pgid, identity)
                        time.sleep(0.05)
                    raise
                except BaseException:  # Ctrl-C: stop every build now, do not wait for them
                    for f in futures:
                        f.cancel()
                    while not all(f.done() for f in futures):
                        cancel_running_builds()
                        time.sleep(0.05)
                    raise
        finally:
            stage.remover.close()  # every build's scratch folder is gone before the deploy

    def _build_service(self, stage: _BuildStage, name: str) -> BuildResult:
        """One service: fetch its build secrets, compute its input key, then reuse the build
        with the same key or run a new one."""
        run, plan, workspace = stage.run, stage.plan, stage.workspace
        sp = plan.service(name)
        log = self.paths.build_log(run.id, name)
        log.parent.mkdir(parents=True, exist_ok=True)
        build_vars = {
            **build_variables(plan, name, run.id, stage.seq),
            "CODEBUILD_SRC_DIR": str(workspace),
        }
        target = plan.environment.target
        profile = target.profile if isinstance(target, AwsTarget) else None
        try:
            fetched = fetch_build_secrets(sp.buildspec, build_vars["AWS_REGION"], profile)
        except ShipwayError as exc:
            self._job(run, Stage.BUILD, name, JobState.FAILED, 0.0, str(exc), log)
            return BuildResult(name, JobState.FAILED, 0.0, error=str(exc))
        key = build_key(
            sp.service,
            stage.files,
            {**sp.env_values.values, **fetched, **build_vars},
            sp.buildspec,
            sp.definition.package_patterns,
        )
        secret = plan.secrets | frozenset(v for v in fetched.values() if v)
        # exported values are stored and shown: masked, as one may hold or contain a secret
        mask = Masker(secret)
        earlier = None if stage.force else self.store.find_build(key)
        if earlier is not None and self._artifact_kept(earlier.artifact):
            message = f"reused the build of {earlier.run_id}"
            log.write_text(f"{message} (same inputs, key {key[:12]})\n", encoding="utf-8")
            exported = mask.data(dict(earlier.exported))
            reused: dict[str, object] = {
                "key": key,
                "reused_from": earlier.run_id,
                "artifact_sha256": earlier.artifact.sha256,
                "exported": exported,
            }
            self._job(run, Stage.BUILD, name, JobState.SUCCEEDED, 0.0, message, log, reused)
            return BuildResult(name, JobState.SUCCEEDED, 0.0, earlier.artifact, exported=exported)
        if stage.reuse_only:
            why = (
                f"the build folder holds no build of `{name}` with these inputs (key "
                f"{key[:12]}): it was built from another commit, environment or .env values"
            )
            log.write_text(why + "\n", encoding="utf-8")
            self._job(run, Stage.BUILD, name, JobState.FAILED, 0.0, why, log, {"key": key})
            return BuildResult(name, JobState.FAILED, 0.0, error=why)
        self._job(run, Stage.BUILD, name, JobState.RUNNING, 0.0, None, log)
        out_zip = self.paths.run_dir(run.id) / "artifacts" / f"{name}.zip"
        out_zip.parent.mkdir(parents=True, exist_ok=True)
        request = BuildRequest(
            service=name,
            service_dir=workspace / sp.service.path,
            workspace=workspace,
            buildspec=sp.buildspec,
            env=dict(sp.env_values.values),
            build_vars=build_vars,
            package_patterns=sp.definition.package_patterns,
            exclude_files=NOT_PACKAGED,
            out_zip=out_zip,
            log_path=log,
            timeout_s=plan.project.build.timeout_s,
            secrets=secret,
            cache_dir=self.paths.home / "cache" / name,
            resolved_secrets=fetched,
            scratch_dir=self.paths.scratch(run.id) / name,
            remove_scratch=stage.remover.remove,
            on_spawn=lambda pgid: self.store.add_build_group(run.id, name, pgid),
            sandbox=plan.project.build.sandbox,
            network=plan.project.build.network,
            definition=sp.definition,
            # invisible in the sandbox; the workspace and scratch below the state directory
            # are bound back in
            hidden=(self.paths.home, self.repo, Path.home() / ".shipway"),
            layers=layer_sources(sp.service.config_path, sp.definition.resolved),
            has_functions=bool(sp.definition.functions),
        )
        result = run_build(request)
        self.store.forget_build_groups(run.id, name)  # every process it started has ended
        result = replace(result, exported=mask.data(dict(result.exported)))
        detail: dict[str, object] = {
            "key": key,
            "seconds": round(result.seconds, 3),
            "exported": dict(result.exported),
        }
        if result.artifact is not None:
            result = store_artifact(self.paths, result)
            assert result.artifact is not None
            self.store.record_build(key, result.artifact, result.exported, run.id)
            detail["artifact_sha256"] = result.artifact.sha256
        self._job(run, Stage.BUILD, name, result.state, result.seconds, result.error, log, detail)
        return result

    def _deploy(
        self,
        run: Run,
        plan: RunPlan,
        workspace: Path,
        builds: Sequence[BuildResult],
        chosen: tuple[Target, DeployHooks],
        force: bool,
        allow_older: bool = False,
    ) -> int | None:
        """Plan against the live release, then deploy every service through the
        environment's target, all or none (see pipeline/deploy.py, targets/protocol.py).
        The release's number; None when nothing changed (no release is made then)."""
        env = plan.environment.name
        artifacts: dict[str, Artifact] = {b.service: b.artifact for b in builds if b.artifact}
        request = deploy_request(plan, artifacts, force)
        started = time.monotonic()
        preparer = CfPreparer(plan, workspace)

        def on_event(service: str, event: StackEvent) -> None:
            elapsed = time.monotonic() - started
            self._job(run, Stage.DEPLOY, service, JobState.RUNNING, elapsed, event.line())

        target, hooks = chosen  # made, and its credentials checked, before the run began
        hooks.on_event, hooks.prepare = on_event, preparer
        with environment_lock(self.paths.env_lock(env), env):
            # under the lock, so no other run can switch between this check and ours
            live = self.store.latest_release(env)
            if not allow_older and live is not None and self._newer(live, plan.commit):
                raise Superseded(live)
            deploy_plan = target.plan(request)
            if not isinstance(plan.environment.target, AwsTarget):
                # the local target's AWS emulator holds what the deployed services' stacks
                # do (a service of functions alone has nothing there: not synthesized)
                wanted = [
                    s
                    for s in deploy_plan.deployed
                    if wants_stack(plan.service(s).definition.resolved)
                ]
                request = with_templates(plan, request, wanted)
            if live is not None and not deploy_plan.deployed:
                # nothing to deploy: the live release stays, and no number is used up
                for change in deploy_plan.changes:
                    why = f"no change ({change.reason})"
                    self._job(run, Stage.DEPLOY, change.service, JobState.SKIPPED, 0.0, why)
                return None
            for change in deploy_plan.changes:
                if change.action == DeployAction.DEPLOY:
                    self._job(
                        run, Stage.DEPLOY, change.service, JobState.RUNNING, 0.0, change.reason
                    )
            # a number the target never used: a killed deploy may have left one unrecorded
            number = target.reserve(env, self.store.next_release_number(env))
            try:
                result = target.apply(deploy_plan, request, number)
            except Exception as exc:
                # on the service that failed when the error names one, not on every one
                culprit = getattr(exc, "service", None)
                for service in deploy_plan.deployed:
                    if culprit in (None, service):
                        self._job(run, Stage.DEPLOY, service, JobState.FAILED, 0.0, str(exc))
                    else:
                        why = f"not started: `{culprit}` failed"
                        self._job(run, Stage.DEPLOY, service, JobState.SKIPPED, 0.0, why)
                raise
            elapsed = time.monotonic() - started
            if not result.ok:
                self._report(run, deploy_jobs(deploy_plan, result, None, elapsed))
                raise DeployFailed(failure_summary(result, deploy_plan.deployed))
            # the release names every service, each with the commit that deployed its content
            released, kept = released_services(request, result, live, preparer.prepared)
            kind = plan.environment.target.kind
            write_record(self.paths, env, number, plan.commit, kind, kept, Masker(plan.secrets))
            self.store.add_release(
                Release(env, number, run.id, plan.commit, time.time(), tuple(released))
            )
        self._report(run, deploy_jobs(deploy_plan, result, number, elapsed))
        return number

    def _report(self, run: Run, jobs: Sequence[DeployJob]) -> None:
        for j in jobs:
            self._job(run, Stage.DEPLOY, j.service, j.state, j.elapsed, j.message, detail=j.detail)

    # ------------------------------------------------------------------ helpers

    def _supersede(
        self, run: Run, plan: RunPlan, newer: Superseded, builds: Sequence[BuildResult]
    ) -> Run:
        """End the run `superseded`: every job not done is skipped, saying by what."""
        stages = (Stage.DEPLOY,) if builds else (Stage.BUILD, Stage.DEPLOY)
        for stage in stages:
            for sp in plan.services:
                self._job(run, stage, sp.service.name, JobState.SKIPPED, 0.0, str(newer))
        return self._finish(run, RunState.SUPERSEDED, str(newer))

    def _newer(self, live: Release, commit: str) -> bool:
        """Whether the live release was made from a later commit of the same history
        (`commit` is its ancestor). A diverged commit (a force-push) is not older."""
        return live.commit != commit and is_ancestor(self.repo, commit, live.commit)

    def _job(
        self,
        run: Run,
        stage: Stage,
        service: str,
        state: JobState,
        elapsed: float,
        message: str | None = None,
        log: Path | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        mask = self._masks.get(run.id)
        if mask and message:
            message = mask(message)
        if mask and detail:
            detail = mask.data(detail)
        self.store.set_job(
            run.id,
            stage,
            service,
            state,
            error=message if state in (JobState.FAILED, JobState.TIMED_OUT) else None,
            log_path=str(log) if log else None,
            detail={**(detail or {}), **({"message": message} if message else {})} or None,
        )
        self.listener(JobEvent(run.id, stage, service, state, elapsed, message))

    def _finish(
        self, run: Run, state: RunState, error: str | None, release: int | None = None
    ) -> Run:
        mask = self._masks.get(run.id)
        if mask and error:
            error = mask(error)
        return self.store.finish_run(run.id, state, error, release)

    def _notify(self, run_id: str, plan: RunPlan) -> None:
        """The run ended: its webhooks hear of it, in the background (shipway.notify)."""
        env, mask = plan.environment, Masker(plan.secrets)
        try:
            run = self.store.run(run_id) if env.notify else None
            if run is not None and run.state in NOTIFIED_STATES:
                message = run_message(plan.project.name, run, self.store.jobs(run_id), mask)
                log = self.paths.run_dir(run_id) / "notify.log"
                (self.notifier or default_notifier()).send(run_id, env.notify, message, log)
        except Exception as exc:  # nothing here may change the run or its exit
            print(f"shipway: warning: {run_id} not notified: {mask(str(exc))}", file=sys.stderr)

    def _artifact_kept(self, artifact: Artifact) -> bool:
        """The artifact and its layers' zips are all still in the artifact store."""
        return all(
            self._in_artifact_store(p) for p in (artifact.path, *(a.path for a in artifact.layers))
        )

    def _in_artifact_store(self, path: Path) -> bool:
        """A stored build is reused only from the artifact store (never a path elsewhere)."""
        if self._artifacts is None:  # resolved once: every service of a run asks
            self._artifacts = (self.paths.home / "artifacts").resolve()
        real = path.resolve()  # links followed: the artifact store is below the state folder
        return real.is_relative_to(self._artifacts) and real.is_file()
