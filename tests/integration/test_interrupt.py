"""Ctrl-C during a run stops its builds at once and records the run as cancelled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.cli import SHIPWAY, one_service_files, shipway, start_run

BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - sleep 61.25 &
      - sleep 61.5
"""


def sleepers() -> str:
    return subprocess.run(["pgrep", "-f", "sleep 61."], capture_output=True, text=True).stdout


def test_ctrl_c_cancels_the_run_and_kills_its_builds(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(one_service_files(BUILDSPEC))
    proc = start_run(repo, "Running command sleep 61.5")
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert time.monotonic() - started < 10
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    [run] = json.loads(shipway("runs", "--json", repo=repo).stdout)
    assert run["state"] == "cancelled" and run["release"] is None
    assert sleepers() == ""


def test_a_killed_run_is_marked_interrupted_and_the_next_run_goes_ahead(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(
        one_service_files(
            "version: 0.2\nphases:\n  build:\n    commands:\n"
            '      - test -n "$FAST" || sleep 3\n'
            "artifacts:\n  files: [handler.py]\n"
        )
    )
    proc = start_run(repo, "Running command")
    proc.kill()  # kill -9: no chance to record anything
    proc.wait()
    [run] = json.loads(shipway("runs", "--json", repo=repo).stdout)
    assert run["state"] == "interrupted"
    again = subprocess.run(
        [SHIPWAY, "run", "dev", "--json", "--repo", str(repo)],
        capture_output=True,
        text=True,
        env={**os.environ, "FAST": "1"},  # the process environment reaches the build
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["state"] == "succeeded"


def test_sigterm_cancels_the_run_and_kills_its_builds(make_repo: Callable[..., Path]) -> None:
    # what a CI job's timeout or `kill` sends: the run is recorded, its builds stopped
    repo = make_repo(one_service_files(BUILDSPEC.replace("61.", "62.")))
    proc = start_run(repo, "Running command sleep 62.5")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    [run] = json.loads(shipway("runs", "--json", repo=repo).stdout)
    assert run["state"] == "cancelled" and run["release"] is None
    found = subprocess.run(["pgrep", "-f", "sleep 62."], capture_output=True, text=True)
    assert found.stdout == ""
