"""What starts runs without a person typing a command: a push to the server's own
repository (its post-receive hook), a push to a watched remote (GitHub's webhook, or a
poll of it), a new version of a watched S3 object, and, when the server starts, the pushes
made while none ran. Each started run is queued for the server's worker; a pushed commit
whose files do not load gets a `failed` run saying why, so no push is silently lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from shipway.auth import Action
from shipway.config.sources import DEFAULT_S3_POLL_S
from shipway.errors import ShipwayError
from shipway.model import AwsTarget, Environment, Run
from shipway.pipeline.engine import Engine
from shipway.source.git import branch_head, is_ancestor
from shipway.source.github import same_repository
from shipway.source.refs import branch_heads, changed_files, fetch_ref, ls_remote
from shipway.source.triggers import (
    RefUpdate,
    environments_for_push,
    is_deletion,
    moved_branches,
    remote_of,
)
from shipway.store.heads import OWN_REPOSITORY, source_key
from shipway.store.sqlite import Store
from shipway.usecases.audit import Actor

__all__ = ["CATCH_UP", "Triggers"]

CATCH_UP = "catch-up"  # the trigger of a push made while no server ran


class Triggers:
    def __init__(
        self,
        repo: Path,
        store: Store,
        governing: Callable[[], dict[str, Environment]],
        engine: Callable[[], Engine],
        on_queued: Callable[[], None],
    ) -> None:
        self.repo = repo
        self.store = store
        self.governing = governing
        self.engine = engine
        self.on_queued = on_queued

    def on_push(self, updates: Sequence[RefUpdate], trigger: str = "hook") -> list[Run]:
        """Start a run for every environment a push to the server's own repository moved a
        watched branch of. The refs' new values are not trusted: each branch's head is read
        from the repository. A commit whose files do not load still gets a run, `failed`
        with why, so the push is not silently lost."""
        started: list[Run] = []
        actor = Actor(f"push:{trigger}", trigger)
        for update in updates:
            envs = self.governing()
            names = environments_for_push(
                envs,
                update.ref,
                update.old,
                update.new,
                lambda u=update: changed_files(self.repo, u.old, u.new),  # type: ignore[misc]
            )
            for name in names:
                if trigger == CATCH_UP and self._ran(name, update.new):
                    continue  # run by hand while no server ran
                started.append(self._start_pushed(envs[name], update, trigger, actor))
            if update.branch is not None:  # seen: a restart does not start it again
                gone = is_deletion(update.new)
                self.store.saw_heads(OWN_REPOSITORY, {update.branch: None if gone else update.new})
        return started

    def catch_up(self) -> list[Run]:
        """The runs of pushes made while no server ran: every branch whose head moved since
        the server last saw it (a first look only records the heads). A branch whose
        environment already ran that commit (`shipway run` by hand) starts nothing."""
        now = branch_heads(self.repo)
        seen = self.store.seen_heads(OWN_REPOSITORY)
        runs = self.on_push(moved_branches(seen, now), CATCH_UP) if seen is not None else []
        self.store.saw_heads(OWN_REPOSITORY, now, complete=True)
        return runs

    def poll_remote(self, url: str) -> list[Run]:
        """Look at the remote `url` (`git ls-remote`) and start the runs of the branches
        that moved since the last look (the first look only records the heads). Each
        branch is recorded once its runs are started, so a failure is retried next time."""
        if url.startswith("s3://"):
            return self._poll_s3(url)
        now = ls_remote(url)
        key = source_key(url)
        seen = self.store.seen_heads(key)
        runs: list[Run] = []
        if seen is not None:
            for update in moved_branches(seen, now):
                runs += self.on_remote_push(update, [url], "poll")
                self.store.saw_heads(key, {str(update.branch): update.new})
        self.store.saw_heads(key, now, complete=True)
        return runs

    def _poll_s3(self, url: str) -> list[Run]:
        envs = [e for e in self.governing().values() if (e.source or {}).get("s3") == url]
        if not envs:
            return []
        from shipway.targets.aws.client import AwsClient  # boto3 loads only to poll S3
        from shipway.usecases.s3_source import poll_s3, s3_region

        target = envs[0].target
        profile, role = (
            (target.profile, target.role_arn) if isinstance(target, AwsTarget) else (None, None)
        )
        client = AwsClient(s3_region(envs[0]), profile, role_arn=role)
        runs = poll_s3(self.engine(), envs, url, client)
        if runs:
            self.on_queued()
        return runs

    def polled_remotes(self) -> dict[str, int]:
        """URL -> poll interval (seconds) of every `source: {git: URL, poll: …}` and
        `source: {s3: URL}` (every DEFAULT_S3_POLL_S unless `poll` says); the shortest
        where several environments poll one URL."""
        out: dict[str, int] = {}
        for env in self.governing().values():
            source = env.source or {}
            url, every = remote_of(env), source.get("poll")
            if url is None and isinstance(source.get("s3"), str):
                url, every = source["s3"], every or DEFAULT_S3_POLL_S
            if url is not None and isinstance(every, int) and every > 0:
                out[url] = min(every, out.get(url, every))
        return out

    def _pushed_commit(self, branch: str, reported: str) -> str:
        """The commit a push of `branch` runs: the one the push reported, when the
        repository has it on the branch (a later push may already have moved the branch on:
        each push runs its own commit, as queued mode promises), else the branch's head —
        a report is never trusted to name a commit the branch does not hold."""
        head = branch_head(self.repo, branch)
        if reported != head and is_ancestor(self.repo, reported, head):
            return reported
        return head

    def _ran(self, env_name: str, sha: str) -> bool:
        latest = self.store.runs(env_name, limit=1)
        return bool(latest) and latest[0].commit == sha

    def on_remote_push(self, update: RefUpdate, urls: Sequence[str], trigger: str) -> list[Run]:
        """Start a run for every environment watching one of `urls` (`source: {git: URL}`)
        whose branch `update` moved: a GitHub webhook or the poller saw the remote change.
        The branch is fetched from the environment's own URL and its fetched head runs."""
        envs = self.governing()
        watching = {
            name: env
            for name, env in envs.items()
            if (url := remote_of(env)) is not None and same_repository(url, tuple(urls))
        }
        branch = update.branch
        if not watching or branch is None:
            return []
        first = remote_of(next(iter(watching.values())))
        assert first is not None

        def changed() -> list[str]:  # the paths filter needs the pushed commits here
            fetch_ref(self.repo, first, branch)
            return changed_files(self.repo, update.old, update.new)

        names = environments_for_push(
            watching, update.ref, update.old, update.new, changed, remote=True
        )
        actor = Actor(f"push:{trigger}", trigger)
        return [self._start_pushed(envs[n], update, trigger, actor) for n in names]

    def _start_pushed(self, env: Environment, update: RefUpdate, trigger: str, actor: Actor) -> Run:
        branch = update.branch or ""
        url = remote_of(env)
        sha = update.new
        try:
            if url:
                sha = fetch_ref(self.repo, url, branch)
                # a fetched branch is no push to this repository: a catch-up skips it
                heads = branch_heads(self.repo)
                self.store.saw_heads(OWN_REPOSITORY, {branch: heads.get(branch)})
            else:
                sha = self._pushed_commit(branch, update.new)
            entry = actor.entry(Action.RUN_START.value, env=env.name, detail=f"push of {branch}")
            run = self.engine().submit(
                env.name, sha, f"push:{trigger}", actor=actor.who, owner=None, entry=entry
            )
        except ShipwayError as exc:
            run = self.store.record_refused_run(env.name, sha, f"push:{trigger}", actor.who, exc)
        self.on_queued()
        return run
