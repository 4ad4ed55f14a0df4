"""Nothing pushed is lost: a push made while no server ran starts its run when the server
starts, and a remote the server polls (`source: {git: URL, poll: …}`) starts the runs of
its moved branches — also of those that moved while the server was down."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import commit_all, git
from tests.integration.cli import (
    ECHO_BUILD,
    looked_at,
    one_service_files,
    serving,
    shipway,
    shipway_json,
)


def _runs(repo: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in shipway_json("runs", repo=repo)}


def _until(repo: Path, wanted: Callable[[dict[str, dict[str, Any]]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        runs = _runs(repo)
        if wanted(runs):
            return runs
        assert time.monotonic() < deadline, runs
        time.sleep(0.2)


def _settled(runs: dict[str, dict[str, Any]]) -> bool:
    return all(r["state"] not in ("queued", "running") for r in runs.values())


def _commit(clone: Path, branch: str, n: int) -> str:
    git(clone, "checkout", "-q", "-B", branch, f"origin/{branch}")
    (clone / "services/slow/handler.py").write_text(f"def f(e, c):\n    return {n}\n")
    sha = commit_all(clone, f"v{n}")
    git(clone, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    return sha


def test_pushes_made_while_no_server_ran_start_their_runs_when_it_starts(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    files = one_service_files(ECHO_BUILD)
    files["shipway.yml"] = (
        "project: slow\nenvironments:\n  dev:\n    branch: dev\n  qa:\n    branch: qa\n"
    )
    source = make_repo(files)
    git(source, "branch", "-f", "qa", "dev")
    bare = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(bare))
    assert shipway("hook", "install", repo=bare).returncode == 0
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))

    since = time.time()
    with serving(bare):
        looked_at(bare, since)  # its first look: the heads there are recorded, nothing starts
    assert _runs(bare) == {}

    pushed = _commit(clone, "dev", 2)  # no server: the hook says when it will run
    by_hand = _commit(clone, "qa", 3)
    ran = shipway("run", "qa", "--json", repo=bare)
    assert ran.returncode == 0, ran.stderr
    with serving(bare):
        runs = _until(bare, lambda r: len(r) == 2 and _settled(r))
    caught = [r for r in runs.values() if r["trigger"] == "push:catch-up"]
    assert [(r["env"], r["commit"], r["state"]) for r in caught] == [("dev", pushed, "succeeded")]
    assert [r["commit"] for r in runs.values() if r["env"] == "qa"] == [by_hand]  # once

    since = time.time()
    with serving(bare):  # seen now: a restart starts nothing again
        looked_at(bare, since)
    assert len(_runs(bare)) == 2


def test_a_polled_remote_starts_runs_of_moved_branches_even_while_the_server_was_down(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    remote = tmp_path / "upstream.git"
    files = one_service_files(ECHO_BUILD)
    files["shipway.yml"] = (
        "project: slow\nenvironments:\n  dev:\n    branch: dev\n"
        f"    source: {{git: 'file://{remote}', poll: 1s}}\n"
    )
    source = make_repo(files)
    git(tmp_path, "clone", "-q", "--bare", str(source), str(remote))
    server = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(server))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))

    since = time.time()
    with serving(server):
        looked_at(server, since, sources=2)  # the first look records the remote's heads
        assert _runs(server) == {}
        first = _commit(clone, "dev", 2)
        runs = _until(server, lambda r: len(r) == 1 and _settled(r))
    [run] = runs.values()
    assert (run["commit"], run["trigger"], run["state"]) == (first, "push:poll", "succeeded")

    second = _commit(clone, "dev", 3)  # while the server is down
    with serving(server):
        runs = _until(server, lambda r: len(r) == 2 and _settled(r))
    latest = max(runs.values(), key=lambda r: r["created_at"])
    assert (latest["commit"], latest["state"]) == (second, "succeeded")
    assert git(server, "rev-parse", "refs/heads/dev") == second
