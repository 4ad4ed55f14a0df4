"""kill -9 of `shipway run`: the next command stops its builds and removes what it left."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import commit_all, git
from tests.integration.cli import SHIPWAY, one_service_files, shipway, shipway_json, start_run

UNSANDBOXED = "project: slow\nbuild: {sandbox: off}\nenvironments:\n  dev:\n    branch: dev\n"


def _sleepers(tag: str) -> str:
    return subprocess.run(["pgrep", "-f", tag], capture_output=True, text=True).stdout


def _kill_during_build(repo: Path) -> None:
    proc = start_run(repo, "Running command sleep")
    proc.kill()  # kill -9: the run records nothing, its builds live on
    proc.wait()


def test_the_builds_of_a_killed_run_are_killed_by_the_next_command(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    late, background = tmp_path / "late.txt", tmp_path / "background.txt"
    files = one_service_files(
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        f"      - (sleep 3.11; echo bg > {background}) &\n"
        f"      - sleep 3.12; echo late > {late}\n"
    )
    repo = make_repo({**files, "shipway.yml": UNSANDBOXED})
    _kill_during_build(repo)
    assert _sleepers("sleep 3.1[12]")  # both are still running, orphaned
    status = shipway("status", "--json", repo=repo)
    assert status.returncode == 0, status.stderr
    time.sleep(4)  # past the builds' sleeps: nothing may be written now
    assert not late.exists() and not background.exists()
    assert _sleepers("sleep 3.1[12]") == ""
    [run] = shipway_json("runs", repo=repo)
    assert run["state"] == "interrupted"


def test_a_sandboxed_build_of_a_killed_run_stops_too(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        one_service_files("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 7.31\n")
    )
    _kill_during_build(repo)
    assert shipway("status", repo=repo).returncode == 0
    deadline = time.monotonic() + 10
    while _sleepers("sleep 7.31") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _sleepers("sleep 7.31") == ""


def test_a_killed_run_leaves_no_workspace_or_scratch_behind(
    make_repo: Callable[..., Path],
) -> None:
    files = one_service_files(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 5.21\n"
    )
    repo = make_repo({**files, ".env": "API_TOKEN=canary-4f1e\n"})
    run_dir = repo / ".shipway/runs/dev-1"
    workspace = repo / ".shipway/workspaces/0"  # the run's reusable checkout
    _kill_during_build(repo)
    assert (workspace / ".env").exists()  # what the kill leaves: the secrets too
    assert shipway("runs", repo=repo).returncode == 0
    assert not workspace.exists()
    assert not (run_dir / "scratch").exists()
    assert (run_dir / "logs/slow.log").exists()  # the log stays, to see what happened
    found = subprocess.run(
        ["grep", "-rl", "canary-4f1e", str(repo / ".shipway")], capture_output=True, text=True
    )
    assert found.stdout == ""


def test_a_finished_run_removes_its_scratch_and_what_builds_wrote(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(
        one_service_files(
            "version: 0.2\nphases:\n  build:\n    commands:\n      - echo $API_TOKEN > dump.txt\n"
            "      - echo tampered >> handler.py\n"
            "artifacts:\n  files: [handler.py]\n"
        )
    )
    assert shipway_json("run", "dev", repo=repo)["state"] == "succeeded"
    assert sorted(p.name for p in (repo / ".shipway/runs/dev-1").iterdir()) == [
        "artifacts",
        "logs",
    ]
    # the reusable checkout holds the commit's tracked files again, nothing a build wrote
    workspace = repo / ".shipway/workspaces/0"
    kept = sorted(str(p.relative_to(workspace)) for p in workspace.rglob("*") if p.is_file())
    tracked = git(repo, "ls-files").split()
    assert kept == sorted(tracked)
    handler = "services/slow/handler.py"
    assert (workspace / handler).read_text() == (repo / handler).read_text()


def test_a_killed_deploy_leaves_no_staging_release(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(one_service_files("version: 0.2\nphases:\n  build:\n    commands:\n"))
    releases = repo / ".shipway/envs/dev/releases"
    staging = releases / ".staging-1-0badc0de"  # as a deploy killed while unpacking leaves it
    (staging / "slow").mkdir(parents=True)
    (staging / "slow/big.bin").write_bytes(b"\0" * 4096)
    lock = repo / ".shipway/envs/dev/deploy.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a deploy is running: its staging folder is its own
        assert shipway("status", repo=repo).returncode == 0
        assert staging.exists()
    finally:
        os.close(fd)
    assert shipway("status", repo=repo).returncode == 0
    assert not staging.exists()
    assert releases.is_dir()


def test_an_export_of_a_killed_process_is_removed(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(one_service_files("version: 0.2\nphases:\n  build:\n    commands:\n"))
    tmp = repo / ".shipway/tmp"
    dead = tmp / "source-4194305_17_abcd/workspace"  # no such pid on Linux (above pid_max)
    dead.mkdir(parents=True)
    (dead / ".env").write_text("KEY=v\n")
    alive = tmp / f"source-{os.getpid()}_{_start_time(os.getpid())}_abcd"
    alive.mkdir()
    assert shipway("status", repo=repo).returncode == 0
    assert not dead.parent.exists()
    assert alive.exists()


def _start_time(pid: int) -> str:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def test_status_after_a_kill_says_interrupted(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        one_service_files("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 5.41\n")
    )
    _kill_during_build(repo)
    status = json.loads(shipway("status", "--json", repo=repo).stdout)
    assert status["dev"]["last_run"]["state"] == "interrupted"
    assert status["dev"]["release"] is None


def _fake_killed_deploy(repo: Path, number: int, commit: str) -> Path:
    """What a deploy killed between its switch and its record leaves: run `dev-<number>`
    still `running` under a dead process, release `number` live but not in the store."""
    envdir = repo / ".shipway/envs/dev"
    folder = envdir / f"releases/{number}"
    shutil.copytree(envdir / "releases/1", folder, symlinks=True)
    manifest = json.loads((folder / "release.json").read_text())
    (folder / "release.json").write_text(
        json.dumps({**manifest, "number": number, "commit": commit})
    )
    os.symlink(f"releases/{number}", envdir / ".current-new")
    os.replace(envdir / ".current-new", envdir / "current")
    db = sqlite3.connect(repo / ".shipway/shipway.db")
    with db:
        db.execute(
            "INSERT INTO runs (id, env, seq, commit_sha, state, trigger, created_at, owner)"
            " VALUES (?, 'dev', ?, ?, 'running', 'cli', ?, '4194305:1')",
            (f"dev-{number}", number, commit, time.time()),
        )
    db.close()
    return folder


FAST_BUILD = (
    "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n"
    "artifacts:\n  files: [handler.py]\n"
)


def test_a_switch_the_killed_run_never_recorded_is_put_back(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo({**one_service_files(FAST_BUILD), ".gitignore": ".shipway/\n"})
    assert shipway_json("run", "dev", repo=repo)["release"] == 1
    git(repo, "checkout", "-q", "dev")
    (repo / "services/slow/handler.py").write_text("def f(e, c):\n    return 2\n")
    newer = commit_all(repo, "v2")
    folder = _fake_killed_deploy(repo, 2, newer)
    status = shipway_json("status", "dev", repo=repo)["dev"]
    assert status["release"] == 1 and status["last_run"]["state"] == "interrupted"
    assert os.readlink(repo / ".shipway/envs/dev/current") == "releases/1"  # what status says
    assert not folder.exists()
    run = shipway_json("run", "dev", repo=repo)  # the release number is free again
    assert run["state"] == "succeeded" and run["release"] == 2


def test_a_release_folder_the_store_does_not_know_never_blocks_a_run(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(one_service_files(FAST_BUILD))
    assert shipway_json("run", "dev", repo=repo)["release"] == 1
    envdir = repo / ".shipway/envs/dev"
    shutil.copytree(envdir / "releases/1", envdir / "releases/2", symlinks=True)
    run = shipway_json("run", "dev", "--force", repo=repo)
    assert run["state"] == "succeeded" and run["release"] == 3
    assert os.readlink(envdir / "current") == "releases/3"


def test_a_run_killed_after_its_release_was_recorded_names_it(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(one_service_files(FAST_BUILD))
    assert shipway_json("run", "dev", repo=repo)["release"] == 1
    # as a kill between recording release 1 and finishing the run leaves it
    db = sqlite3.connect(repo / ".shipway/shipway.db")
    with db:
        db.execute(
            "UPDATE runs SET state = 'running', release = NULL, finished_at = NULL,"
            " owner = '4194305:1' WHERE id = 'dev-1'"
        )
    db.close()
    [run] = shipway_json("runs", repo=repo)
    assert run["state"] == "interrupted" and run["release"] == 1
    assert run["error"] == "interrupted after release 1 went live"
    assert shipway_json("status", "dev", repo=repo)["dev"]["release"] == 1


def test_following_the_logs_of_a_run_that_is_killed_ends(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        one_service_files("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 9.17\n")
    )
    runner = start_run(repo, "Running command sleep")
    follower = subprocess.Popen(
        [SHIPWAY, "logs", "dev-1", "--follow", "--repo", str(repo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert follower.stdout is not None
    first = follower.stdout.readline()  # the follower is polling a running run
    runner.kill()
    runner.wait()
    # read through the same buffered stream as `first`: readline may already hold more
    # lines than the one it returned (communicate() would skip them). Before the fix the
    # follower waited for ever (the test's timeout then ends it).
    out = follower.stdout.read()
    assert follower.wait(timeout=30) == 0, follower.stderr.read() if follower.stderr else ""
    assert "Running command sleep 9.17" in first + out
    assert shipway_json("runs", repo=repo)[0]["state"] == "interrupted"
