"""Killing a dead run's build processes: only the groups it started, never a reused pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from shipway.pipeline.recovery import kill_group
from shipway.store.sqlite import process_identity


def _group(script: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sh", "-c", script], start_new_session=True)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not _alive(pid)


def test_the_recorded_group_is_killed() -> None:
    proc = _group("sleep 30")
    identity = process_identity(proc.pid)
    kill_group(proc.pid, identity)
    assert proc.wait(timeout=10) == -9


def test_a_pid_that_names_another_process_now_is_left_alone() -> None:
    proc = _group("sleep 30")
    try:
        pid, start = process_identity(proc.pid).split(":")
        kill_group(proc.pid, f"{pid}:{int(start) + 1}")  # recorded for an earlier process
        kill_group(proc.pid, f"{pid}:?")  # its leader had ended when it was recorded
        time.sleep(0.2)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_a_group_whose_leader_ended_is_still_killed() -> None:
    # the leader starts a background child in its own group and exits: the child lives on
    proc = subprocess.Popen(
        ["sh", "-c", "sleep 30 & echo $!"], start_new_session=True, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    identity = f"{proc.pid}:?"  # recorded too late to read the leader's start time
    proc.wait()
    assert _alive(child)
    kill_group(proc.pid, identity)
    assert _wait_gone(child)


def test_never_our_own_group() -> None:
    kill_group(os.getpgid(0), process_identity(os.getpgid(0)))
    kill_group(1, "1:?")
    assert sys.executable  # still here
