"""Approvals, queues, cancel and retry through the CLI, as a team meets them without a server:
a run waits for a person, shows what it would do, and goes on (or ends) when they decide."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import commit_all, git
from tests.integration.cli import ECHO_BUILD, SHIPWAY, one_service_files, shipway, shipway_json


def _repo(make_repo: Callable[..., Path], approval: str, mode: str = "superseded") -> Path:
    files = one_service_files(ECHO_BUILD)
    files["shipway.yml"] = (
        "project: slow\nenvironments:\n  dev:\n    branch: dev\n"
        f"    mode: {mode}\n    approval: {approval}\n"
    )
    files[".gitignore"] = ".shipway/\n"
    return make_repo(files)


def _push(repo: Path, n: int) -> str:
    git(repo, "checkout", "-q", "dev")
    (repo / "services/slow/handler.py").write_text(f"def f(e, c):\n    return {n}\n")
    return commit_all(repo, f"v{n}")


def test_a_run_waits_for_approval_shows_its_plan_and_deploys_once_approved(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo, "{before: build}")
    proc = shipway("run", "dev", "--json", repo=repo)
    assert proc.returncode == 0, proc.stderr  # waiting is not a failure
    run = json.loads(proc.stdout)
    assert run["state"] == "awaiting_approval" and run["id"] == "dev-1"
    assert "shipway approve dev-1" in proc.stderr
    assert all(j["stage"] == "source" for j in run["jobs"])  # nothing built yet
    shown = shipway_json("show", "dev-1", repo=repo)
    assert [(s["stage"], s["state"]) for s in shown["stages"]] == [
        ("source", "succeeded"),
        ("approval", "waiting"),
        ("build", "pending"),
        ("deploy", "pending"),
    ]
    assert shown["approval"]["decision"] is None
    assert [r["service"] for r in shown["approval"]["summary"]["services"]] == ["slow"]
    assert shipway_json("status", "dev", repo=repo)["dev"]["release"] is None

    approved = shipway("approve", "dev-1", "--comment", "looks right", "--json", repo=repo)
    assert approved.returncode == 0, approved.stderr
    done = json.loads(approved.stdout)
    assert done["state"] == "succeeded" and done["release"] == 1
    shown = shipway_json("show", "dev-1", repo=repo)
    assert shown["approval"]["decision"] == "approved"
    assert shown["approval"]["comment"] == "looks right"
    assert shown["approval"]["decided_by"].startswith("local:")
    actions = [e["action"] for e in shipway_json("audit", repo=repo)]
    assert "run.approve" in actions
    # deciding twice is refused, with exit 2 and no change
    again = shipway("approve", "dev-1", repo=repo)
    assert again.returncode == 2 and "not awaiting approval" in again.stderr


def test_a_rejected_run_ends_rejected_with_exit_1(make_repo: Callable[..., Path]) -> None:
    repo = _repo(make_repo, "{before: deploy}")
    run = shipway_json("run", "dev", repo=repo)
    assert run["state"] == "awaiting_approval"
    # before deploy: it built first, and waits with its artifacts
    assert {j["stage"]: j["state"] for j in run["jobs"]}["build"] == "succeeded"
    proc = shipway("reject", "dev-1", "--comment", "not today", repo=repo)
    assert proc.returncode == 1
    shown = shipway_json("show", "dev-1", repo=repo)
    assert shown["state"] == "rejected" and "not today" in shown["error"]
    assert shipway_json("status", "dev", repo=repo)["dev"]["release"] is None


def test_a_newer_push_replaces_a_run_waiting_for_approval_before_build(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo, "{before: build}")
    _push(repo, 1)
    assert shipway_json("run", "dev", repo=repo)["state"] == "awaiting_approval"
    newer = _push(repo, 2)
    assert shipway_json("run", "dev", repo=repo)["state"] == "awaiting_approval"
    first = shipway_json("show", "dev-1", repo=repo)
    assert first["state"] == "superseded" and "superseded by run dev-2" in first["error"]
    assert first["approval"]["decision"] == "superseded"
    assert shipway("approve", "dev-1", repo=repo).returncode == 2
    done = shipway_json("approve", "dev-2", repo=repo)
    assert done["state"] == "succeeded" and done["commit"] == newer


def test_queued_mode_keeps_every_run_in_order(make_repo: Callable[..., Path]) -> None:
    repo = _repo(make_repo, "{before: build}", mode="queued")
    _push(repo, 1)
    shipway_json("run", "dev", repo=repo)
    second = _push(repo, 2)
    # dev-2 cannot start while dev-1 waits: its CLI waits for its turn, in the background
    waiting = subprocess.Popen(
        [SHIPWAY, "run", "dev", "--json", "--repo", str(repo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 60
    while "dev-2" not in {r["id"] for r in shipway_json("runs", "dev", repo=repo)}:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert shipway_json("show", "dev-2", repo=repo)["waiting_for"] == "dev-1"
    assert shipway_json("show", "dev-1", repo=repo)["state"] == "awaiting_approval"
    assert shipway_json("approve", "dev-1", repo=repo)["state"] == "succeeded"
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert json.loads(out)["state"] == "awaiting_approval"  # its own approval, in its turn
    assert shipway_json("approve", "dev-2", repo=repo)["commit"] == second
    states = [r["state"] for r in shipway_json("runs", "dev", repo=repo)]
    assert states == ["succeeded", "succeeded"]


def test_only_a_listed_approver_decides_and_the_refusal_is_audited(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo, "{before: build, approvers: [lead]}")
    assert shipway_json("run", "dev", repo=repo)["state"] == "awaiting_approval"
    proc = shipway("approve", "dev-1", repo=repo)
    assert proc.returncode == 2 and "only `lead` may decide" in proc.stderr
    assert shipway_json("show", "dev-1", repo=repo)["state"] == "awaiting_approval"
    refused = [e for e in shipway_json("audit", repo=repo) if e["outcome"] == "refused"]
    assert refused and refused[0]["action"] == "run.approve" and refused[0]["target"] == "dev-1"


def test_an_approval_past_its_timeout_fails_the_run_as_expired(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo, "{before: build, timeout: 1h}")
    assert shipway_json("run", "dev", repo=repo)["state"] == "awaiting_approval"
    # an hour passes: the approval's expiry is moved back rather than waited for
    db = sqlite3.connect(repo / ".shipway/shipway.db")
    with db:
        db.execute("UPDATE approvals SET expires_at = expires_at - 3601")
    db.close()
    shown = shipway_json("show", "dev-1", repo=repo)
    assert shown["state"] == "expired" and shown["approval"]["decision"] == "expired"
    assert shipway("approve", "dev-1", repo=repo).returncode == 2


def test_a_waiting_run_is_cancelled_at_once_and_says_by_whom(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo, "{before: build}")
    shipway_json("run", "dev", repo=repo)
    cancelled = shipway_json("cancel", "dev-1", repo=repo)
    assert cancelled["state"] == "cancelled" and "cancelled by local:" in cancelled["error"]
    assert shipway("cancel", "dev-1", repo=repo).returncode == 2  # it has ended


def test_a_failed_run_is_retried_from_its_failed_stage(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    flag = tmp_path / "dependency-up"  # outside the commit: a flaky dependency, say
    files = one_service_files(ECHO_BUILD.replace("echo building", f"test -e {flag}"))
    files["shipway.yml"] += "build:\n  sandbox: false\n"
    repo = make_repo({**files, ".gitignore": ".shipway/\n"})
    run = shipway("run", "dev", "--json", repo=repo)
    assert run.returncode == 1 and json.loads(run.stdout)["state"] == "failed"
    shown = shipway_json("show", "dev-1", repo=repo)
    assert [(s["stage"], s["state"]) for s in shown["stages"]] == [
        ("source", "succeeded"),
        ("build", "failed"),
        ("deploy", "skipped"),
    ]
    flag.write_text("")
    retried = shipway("retry", "dev-1", "--json", repo=repo)
    assert retried.returncode == 0, retried.stderr
    doc = json.loads(retried.stdout)
    assert doc["id"] == "dev-1" and doc["state"] == "succeeded" and doc["release"] == 1
    assert "run.retry" in [e["action"] for e in shipway_json("audit", repo=repo)]
    again = shipway("retry", "dev-1", repo=repo)  # it succeeded: nothing to retry
    assert again.returncode == 2 and "only a failed or interrupted run" in again.stderr
