"""Drives a run, a state machine persisted in the store: Source -> Approval (where asked)
-> Build -> Deploy.

`submit` checks the commit's configuration and queues the run with its stages; `drive`
claims the run when it is its turn (store/queue.py says when), carries out its stages in
order through the stage code (stages.py) and records each, until the run ends or waits for
a person. The same code serves `shipway run` in-process and the server's worker; only the
caller differs. A process keeps what it made for a run (the checkout, the plan, the builds)
from one stage to the next; a run taken on by another process, after a restart or an
approval, makes them again from the commit and the store.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipway.auth import AuditEntry
from shipway.config.governing import governing_environments
from shipway.errors import DeployFailed, ShipwayError
from shipway.masking import Masker
from shipway.model import (
    Artifact,
    BuildResult,
    Environment,
    JobState,
    Run,
    RunState,
    Stage,
    StageState,
)
from shipway.notify import Notifier
from shipway.pipeline.deploy import DeployHooks
from shipway.pipeline.events import Listener, Warn, ignore
from shipway.pipeline.paths import StatePaths
from shipway.pipeline.plan import RunPlan, plan_run
from shipway.pipeline.recovery import remove_run_files
from shipway.pipeline.stages import NOT_PACKAGED, RunCancelled, StageWork, Superseded
from shipway.pipeline.verdict_cache import SupportCache
from shipway.source.checkouts import Checkout
from shipway.source.git import resolve_commit
from shipway.source.refs import default_branch, read_at
from shipway.source.triggers import is_sha
from shipway.store.sqlite import Store, process_identity
from shipway.targets import select_target
from shipway.targets.protocol import Target

__all__ = ["NOT_PACKAGED", "Engine", "Outcome", "Superseded", "run_stages"]

Describe = Callable[[Run], Mapping[str, Any]]
STOPPED = "interrupted: the server stopped (`shipway retry` takes it on)"


@dataclass(frozen=True)
class Outcome:
    run: Run
    builds: tuple[BuildResult, ...]


@dataclass
class _Context:
    """What this process made for a run and keeps between its stages."""

    checkout: Checkout
    workspace: Path
    plan: RunPlan
    target: Target
    hooks: DeployHooks
    builds: list[BuildResult] | None = None
    released: bool = field(default=False)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.checkout.release()  # what the builds wrote in it goes


def run_stages(plan: RunPlan) -> tuple[Stage, ...]:
    """A run's stages, in order: the approval where the environment asks for one."""
    before = plan.environment.approval.before if plan.environment.approval else None
    return (
        Stage.SOURCE,
        *((Stage.APPROVAL,) if before == "build" else ()),
        Stage.BUILD,
        *((Stage.APPROVAL,) if before == "deploy" else ()),
        Stage.DEPLOY,
    )


class Engine(StageWork):
    def __init__(
        self,
        repo: Path,
        paths: StatePaths,
        store: Store,
        listener: Listener = ignore,
        notifier: Notifier | None = None,  # default: the process's, waited for at exit
        describe: Describe | None = None,  # what a run waiting for approval would do
        warn: Warn | None = None,  # hears the plan's warnings
    ):
        self.repo = repo
        self.warn = warn or (lambda warning: None)
        self.support = SupportCache(paths.verdicts())  # clean services, not judged twice
        self.notifier = notifier
        # run id -> its environment's secrets: whatever is stored for a run is masked
        self._masks: dict[str, Masker] = {}
        self.paths = paths
        self.store = store
        self.listener = listener
        self.describe = describe
        self.owner = process_identity()
        self._artifacts: Path | None = None
        self._contexts: dict[str, _Context] = {}
        self.stopping = False  # the server stops: runs end `interrupted` at their next step

    # ------------------------------------------------------------------ entry points

    def run(
        self,
        env_name: str,
        commit: str,
        trigger: str = "cli",
        force: bool = False,
        allow_older: bool = False,
        actor: str = "local",
        poll_s: float = 0.2,
        stages: tuple[Stage, ...] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """`shipway run` in-process: submit, then drive the run until it ends or waits for
        an approval (waiting first for its turn behind the environment's active run).
        `stages`, `options`: see `submit`."""
        run = self.submit(
            env_name, commit, trigger, actor=actor, force=force, stages=stages, options=options
        )
        run = self.drive_until_settled(run.id, poll_s)
        return Outcome(run, tuple(self._builds_of(run.id)))

    def submit(
        self,
        env_name: str,
        commit: str,
        trigger: str = "cli",
        *,
        actor: str = "local",
        force: bool = False,
        owner: str | None = "self",
        entry: AuditEntry | None = None,
        stages: tuple[Stage, ...] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Run:
        """Check the commit's configuration and queue a run of it. Bad configuration
        raises ShipwayError before any run is recorded. `owner`: "self" when this process
        drives the run, None when it is left to the server. `stages`: the run's, when not
        the environment's own (`shipway build` stops after its build); `options` beside
        `force` (`reuse_only`: every build must be one the store holds)."""
        checkout = self.paths.checkout_pool(self.repo).take()
        try:
            workspace = checkout.update(commit)
            plan = plan_run(
                workspace,
                env_name,
                commit,
                governing=self.governing(commit),
                support=self.support,
                state_dir=self.paths.home,
            )
            for warning in plan.warnings:  # what `validate` warns about, said at the run too
                self.warn(warning)
            target, hooks = self._target(plan)
        except BaseException:
            checkout.release()
            raise
        run, _ = self.store.queue_run(
            env_name,
            commit,
            trigger,
            stages or run_stages(plan),
            actor=actor,
            owner=self.owner if owner == "self" else None,
            options={**(options or {}), "force": force},
            # a run that does not deploy neither supersedes queued runs nor is superseded
            supersede=plan.environment.mode == "superseded"
            and Stage.DEPLOY in (stages or (Stage.DEPLOY,)),
            entry=entry,
        )
        if owner == "self":
            self._contexts[run.id] = _Context(checkout, workspace, plan, target, hooks)
        else:
            checkout.release()
        return run

    def drive_until_settled(self, run_id: str, poll_s: float = 0.2) -> Run:
        """Drive `run_id` until it ends or waits for a person; while another run of its
        environment is active, wait for its turn."""
        while True:
            run = self.drive(run_id)
            if run.state != RunState.QUEUED:
                return run
            time.sleep(poll_s)

    def drive(self, run_id: str, adopt: bool = False) -> Run:
        """Claim `run_id` if it is its turn and carry its stages out until it ends or waits
        for an approval. Returns the run as it then is (still `queued` when not its turn)."""
        run = self.store.claim_run(run_id, self.owner, adopt=adopt)
        if run is None:
            self._drop_if_ended(run_id)
            return self.store.run(run_id)
        ctx = self._contexts.pop(run_id, None)
        try:
            if ctx is None:
                ctx = self._context(run)
            self._masks[run.id] = Masker(ctx.plan.secrets)
            run = self._stages(run, ctx)
        except ShipwayError as exc:  # its configuration no longer loads: the run says why
            run = self._finish(run, RunState.FAILED, str(exc))
        except KeyboardInterrupt:
            self._finish(run, RunState.CANCELLED, "cancelled (interrupted by the user)")
            raise
        except BaseException as exc:  # recorded, then re-raised: never a run left "running"
            self._finish(run, RunState.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self._settle(run_id, ctx)
        return run

    # ------------------------------------------------------------------ the stages

    def _stages(self, run: Run, ctx: _Context) -> Run:
        plan = ctx.plan
        for stage in self.store.stages(run.id):
            if stage.state.done:
                continue
            if self.stopping:
                return self._finish(run, RunState.INTERRUPTED, STOPPED)
            why = self.store.cancel_requested(run.id)
            if why:
                return self._finish(run, RunState.CANCELLED, why)
            if stage.stage == Stage.APPROVAL:
                return self._ask_approval(run, plan)
            self.store.set_stage(run.id, stage.stage, StageState.RUNNING)
            if stage.stage == Stage.SOURCE:
                self._job(run, Stage.SOURCE, "*", JobState.SUCCEEDED, 0.0, run.commit[:12])
                live = self.store.latest_release(run.env)
                deploys = any(s.stage == Stage.DEPLOY for s in self.store.stages(run.id))
                if deploys and live is not None and self._newer(live, run.commit):
                    # already older than what is live: building it would be wasted (the
                    # deploy checks again, under the lock, for a release made meanwhile)
                    return self._supersede(run, plan, Superseded(live), ())
            elif stage.stage == Stage.BUILD:
                ended = self._build_stage(run, ctx)
                if ended is not None:
                    return ended
            elif stage.stage == Stage.DEPLOY:
                return self._deploy_stage(run, ctx)
            self.store.set_stage(run.id, stage.stage, StageState.SUCCEEDED)
        return self._finish(run, RunState.SUCCEEDED, None)

    def _build_stage(self, run: Run, ctx: _Context) -> Run | None:
        """Every service's build; the run when it ended here (a build failed, cancelled)."""
        options = self.store.run_options(run.id)
        force = bool(options.get("force"))
        try:
            builds = self._build(
                run, ctx.plan, ctx.workspace, force, bool(options.get("reuse_only"))
            )
        except RunCancelled as cancelled:
            state = RunState.INTERRUPTED if self.stopping else RunState.CANCELLED
            return self._finish(run, state, str(cancelled))
        ctx.builds = builds
        failed = [b for b in builds if b.state != JobState.SUCCEEDED]
        if not failed:
            return None
        for s in ctx.plan.services:
            self._job(run, Stage.DEPLOY, s.service.name, JobState.SKIPPED, 0.0, "a build failed")
        names = ", ".join(f"`{b.service}`" for b in failed)
        return self._finish(run, RunState.FAILED, f"build failed: {names}")

    def _deploy_stage(self, run: Run, ctx: _Context) -> Run:
        builds = ctx.builds if ctx.builds is not None else self._builds_of(run.id)
        force = bool(self.store.run_options(run.id).get("force"))
        self.store.set_stage(run.id, Stage.DEPLOY, StageState.RUNNING)
        try:
            number = self._deploy(
                run, ctx.plan, ctx.workspace, builds, (ctx.target, ctx.hooks), force
            )
        except Superseded as newer:  # a newer commit went live while this run built
            return self._supersede(run, ctx.plan, newer, builds)
        except DeployFailed as exc:  # the user's work said no: nothing was switched
            return self._finish(run, RunState.FAILED, f"deploy failed: {exc}")
        return self._finish(run, RunState.SUCCEEDED, None, release=number)

    def _ask_approval(self, run: Run, plan: RunPlan) -> Run:
        """The run waits for a person's decision, showing what it would do."""
        policy = plan.environment.approval
        assert policy is not None  # the stage exists only where the environment asks
        summary: Mapping[str, Any] = {}
        if self.describe is not None:
            try:
                summary = self.describe(run)
            except ShipwayError as exc:  # the plan is information: the approval still waits
                summary = {"error": str(exc)}
        mask = self._masks.get(run.id) or Masker(plan.secrets)
        self.store.await_approval(
            run.id, policy.before, policy.approvers, policy.timeout_s, mask.data(dict(summary))
        )
        return self.store.run(run.id)

    # ------------------------------------------------------------------ helpers

    def governing(self, commit: str) -> dict[str, Environment]:
        """The environments that govern a run of `commit`: shipway.yml on the control
        branch, not the commit's own (config/governing.py). `commit`: a sha or a ref."""
        sha = commit if is_sha(commit) else resolve_commit(self.repo, commit)
        return governing_environments(
            lambda ref, path: read_at(self.repo, ref, path), sha, default_branch(self.repo)
        )

    def _cancelled(self, run_id: str) -> str | None:
        return STOPPED if self.stopping else self.store.cancel_requested(run_id)

    def _context(self, run: Run) -> _Context:
        """The checkout and plan of a run this process did not submit (or let go of)."""
        checkout = self.paths.checkout_pool(self.repo).take()
        try:
            workspace = checkout.update(run.commit)
            plan = plan_run(
                workspace,
                run.env,
                run.commit,
                governing=self.governing(run.commit),
                support=self.support,
                state_dir=self.paths.home,
            )
            target, hooks = self._target(plan)
        except BaseException:
            checkout.release()
            raise
        return _Context(checkout, workspace, plan, target, hooks)

    def _target(self, plan: RunPlan) -> tuple[Target, DeployHooks]:
        """The environment's target, its credentials checked (missing or wrong ones, or
        another `account`, are ShipwayErrors); the deploy uses it, its hooks bound then."""
        hooks = DeployHooks()
        target = select_target(
            plan.environment,
            self.paths.home,
            secrets=plan.secrets,
            on_event=hooks.event,
            prepare=hooks.prepared,
        )
        target.check()
        return target, hooks

    def _builds_of(self, run_id: str) -> list[BuildResult]:
        """The run's builds as recorded: each artifact found again by its input key."""
        out = []
        for job in self.store.jobs(run_id):
            if job.stage != Stage.BUILD:
                continue
            artifact: Artifact | None = None
            key = job.detail.get("key")
            found = self.store.find_build(key) if isinstance(key, str) else None
            if found is not None and self._artifact_kept(found.artifact):
                artifact = found.artifact
            exported = job.detail.get("exported")
            out.append(
                BuildResult(
                    job.service,
                    job.state,
                    float(job.detail.get("seconds") or 0.0),
                    artifact,
                    job.error,
                    exported=dict(exported) if isinstance(exported, dict) else {},
                )
            )
        return out

    def _settle(self, run_id: str, ctx: _Context | None) -> None:
        """After a drive: a run that waits or ended lets go of its checkout; one that ended
        is cleaned up and its webhooks hear of it (so does one now awaiting approval)."""
        run = self.store.run(run_id)
        if run.state == RunState.RUNNING:  # cannot be: a drive ends or waits
            return
        if ctx is not None:
            ctx.release()
        if run.state.finished:
            self.store.forget_build_groups(run_id)
            remove_run_files(self.paths, run_id)
        plan = ctx.plan if ctx is not None else None
        if plan is not None:
            self._notify(run_id, plan)
        self._masks.pop(run_id, None)

    def _drop_if_ended(self, run_id: str) -> None:
        """A run this process submitted but did not drive to its end (superseded or
        cancelled while it waited its turn): its checkout goes."""
        run = self.store.run(run_id)
        if run.state.finished:
            ctx = self._contexts.pop(run_id, None)
            if ctx is not None:
                with contextlib.suppress(Exception):
                    ctx.release()
