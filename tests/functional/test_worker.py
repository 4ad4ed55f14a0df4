"""The server's worker drives the runs queued for it: one at a time per environment, side by
side across environments, and nothing is lost in queued mode."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

from shipway.app import App
from shipway.model import RunState
from shipway.pipeline.worker import Worker
from tests.conftest import commit_all, git
from tests.integration.cli import ECHO_BUILD, one_service_files


def _settled(app: App, ids: list[str], timeout: float = 120) -> list[RunState]:
    deadline = time.monotonic() + timeout
    while True:
        states = [app.store.run(i).state for i in ids]
        if all(s.finished for s in states):
            return states
        assert time.monotonic() < deadline, states
        time.sleep(0.1)


def _repo(make_repo: Callable[..., Path], mode: str) -> Path:
    files = one_service_files(ECHO_BUILD)
    files["shipway.yml"] = (
        "project: slow\nenvironments:\n"
        f"  dev:\n    branch: dev\n    mode: {mode}\n"
        "  qa:\n    branch: qa\n"
    )
    files[".gitignore"] = ".shipway/\n"
    return make_repo(files, branches=("dev", "qa"))


def test_queued_mode_runs_every_submitted_commit_in_order_and_never_two_at_once(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo, "queued")
    app = App(repo)
    git(repo, "checkout", "-q", "dev")
    commits = []
    ids = []
    for n in range(4):
        (repo / "services/slow/handler.py").write_text(f"def f(e, c):\n    return {n}\n")
        commits.append(commit_all(repo, f"v{n}"))
        ids.append(app.submit("dev", commits[-1]).id)
    ids.append(app.submit("qa").id)
    worker = Worker(app.engine())
    app.on_queued = worker.wake
    worker.start()
    try:
        states = _settled(app, ids)
    finally:
        worker.stop()
    assert states == [RunState.SUCCEEDED] * 5
    runs = sorted((app.store.run(i) for i in ids[:4]), key=lambda r: r.started_at or 0)
    assert [r.commit for r in runs] == commits  # in the order they were pushed
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished_at is not None and later.started_at is not None
        assert earlier.finished_at <= later.started_at  # one at a time
    assert [r.number for r in app.store.releases("dev")] == [4, 3, 2, 1]
    assert app.store.latest_release("dev").commit == commits[-1]  # type: ignore[union-attr]


def test_superseded_mode_keeps_only_the_newest_waiting_run(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo, "superseded")
    app = App(repo)
    git(repo, "checkout", "-q", "dev")
    ids = []
    for n in range(4):
        (repo / "services/slow/handler.py").write_text(f"def f(e, c):\n    return {n}\n")
        commit_all(repo, f"v{n}")
        ids.append(app.submit("dev").id)
    # nothing drove them yet: each newer one replaced the one waiting before it
    assert [app.store.run(i).state for i in ids] == [RunState.SUPERSEDED] * 3 + [RunState.QUEUED]
    assert "superseded by run dev-2" in (app.store.run(ids[0]).error or "")
    worker = Worker(app.engine())
    worker.start()
    try:
        assert _settled(app, ids)[-1] == RunState.SUCCEEDED
    finally:
        worker.stop()
    assert app.store.latest_release("dev").run_id == ids[-1]  # type: ignore[union-attr]


def test_stopping_the_worker_interrupts_its_runs_and_stops_their_builds(
    make_repo: Callable[..., Path],
) -> None:
    slow = ECHO_BUILD.replace("echo building", "echo started; sleep 60")
    files = one_service_files(slow)
    files[".gitignore"] = ".shipway/\n"
    repo = make_repo(files)
    app = App(repo)
    run_id = app.submit("dev").id
    worker = Worker(app.engine())
    worker.start()
    log = repo / ".shipway/runs" / run_id / "logs/slow.log"
    deadline = time.monotonic() + 60
    while "started" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, app.store.run(run_id)
        time.sleep(0.05)
    began = time.monotonic()
    worker.stop()
    assert time.monotonic() - began < 30  # the build's sleep 60 was stopped, not waited for
    run = app.store.run(run_id)
    assert run.state == RunState.INTERRUPTED and "server stopped" in (run.error or "")
    assert app.store.latest_release("dev") is None  # nothing half-deployed
