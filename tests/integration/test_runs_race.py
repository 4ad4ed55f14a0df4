"""Runs of one environment that overlap: the environment never goes back to an older commit."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import commit_all, git
from tests.integration.cli import SHIPWAY, one_service_files, shipway, shipway_json

# The older commit's build waits until the test says go (a file in its own workspace).
SLOW = """version: 0.2
phases:
  build:
    commands:
      - for i in $(seq 600); do test -e go && break; sleep 0.1; done
artifacts:
  files: [handler.py]
"""
FAST = SLOW.replace("for i in $(seq 600); do test -e go && break; sleep 0.1; done", "echo fast")


def _older_and_newer(make_repo: Callable[..., Path]) -> tuple[Path, str, str]:
    """dev at `newer`, whose parent `older` has the slow build."""
    repo = make_repo(one_service_files(SLOW))
    older = git(repo, "rev-parse", "dev")
    git(repo, "checkout", "-q", "dev")
    (repo / "services/slow/buildspec.yml").write_text(FAST)
    newer = commit_all(repo, "a faster build")
    return repo, older, newer


def _wait_for_log(repo: Path, run_id: str, text: str, proc: subprocess.Popen[str]) -> None:
    log = repo / ".shipway/runs" / run_id / "logs/slow.log"
    deadline = time.monotonic() + 60
    while text not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"the build never logged {text!r}"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)


def _start(repo: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SHIPWAY, "run", "dev", *args, "--json", "--repo", str(repo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _wait_for_state(repo: Path, run_id: str, state: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        runs = {r["id"]: r["state"] for r in shipway_json("runs", "dev", repo=repo)}
        if runs.get(run_id) == state:
            return
        assert time.monotonic() < deadline, f"{run_id} never became {state}: {runs}"
        time.sleep(0.1)


def test_runs_of_one_environment_take_turns_and_a_newer_one_replaces_a_waiting_one(
    make_repo: Callable[..., Path],
) -> None:
    repo, older, newer = _older_and_newer(make_repo)
    first = _start(repo, "--commit", older)
    _wait_for_log(repo, "dev-1", "Running command for i", first)
    # dev-1 builds: dev-2 waits its turn; dev-3 (superseded mode) replaces it before its build
    second = _start(repo)
    _wait_for_state(repo, "dev-2", "queued")
    detail = shipway_json("show", "dev-2", repo=repo)
    assert detail["waiting_for"] == "dev-1"
    third = _start(repo)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err  # not a failure: the run that replaced it holds it
    replaced = json.loads(out)
    assert replaced["state"] == "superseded" and "superseded by run dev-3" in replaced["error"]
    assert all(j["state"] == "skipped" for j in replaced["jobs"] if j["stage"] != "source")
    (repo / ".shipway/workspaces/0/services/slow/go").write_text("")  # dev-1's checkout
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0 and json.loads(out)["release"] == 1, err
    out, err = third.communicate(timeout=120)
    assert third.returncode == 0, err
    last = json.loads(out)
    # the newer commit builds the same artifact: no change, so no new release
    assert last["state"] == "succeeded" and last["release"] is None and last["commit"] == newer
    status = shipway_json("status", "dev", repo=repo)["dev"]
    assert status["release"] == 1 and status["commit"] == older
    assert [r["state"] for r in shipway_json("runs", "dev", repo=repo)] == [
        "succeeded",
        "superseded",
        "succeeded",
    ]


def test_an_older_commit_is_superseded_and_a_diverged_one_deploys(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo({**one_service_files(FAST), ".gitignore": ".shipway/\n"})
    older = git(repo, "rev-parse", "dev")
    git(repo, "checkout", "-q", "dev")
    (repo / "services/slow/handler.py").write_text("def f(e, c):\n    return 2\n")
    newer = commit_all(repo, "v2")
    assert shipway_json("run", "dev", repo=repo)["state"] == "succeeded"
    again = shipway("run", "dev", "--commit", older, "--json", repo=repo)
    assert again.returncode == 0, again.stderr
    stale = json.loads(again.stdout)
    assert stale["state"] == "superseded" and "superseded by run dev-1" in stale["error"]
    # already older than the live release: not even built
    assert {j["stage"]: j["state"] for j in stale["jobs"] if j["stage"] != "source"} == {
        "build": "skipped",
        "deploy": "skipped",
    }
    assert shipway_json("status", "dev", repo=repo)["dev"]["commit"] == newer
    # a commit that is not an ancestor of the live one (the branch was force-pushed) deploys
    git(repo, "checkout", "-q", "-b", "rewritten", older)
    (repo / "services/slow/handler.py").write_text("def f(e, c):\n    return 3\n")
    diverged = commit_all(repo, "rewritten history")
    moved = shipway_json("run", "dev", "--commit", diverged, repo=repo)
    assert moved["state"] == "succeeded" and moved["release"] == 2
    # the same commit again (a re-run) is not older than itself
    assert shipway_json("run", "dev", "--commit", diverged, repo=repo)["state"] == "succeeded"
