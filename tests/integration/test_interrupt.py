"""Ctrl-C during a run stops its builds at once and records the run as cancelled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.cli import SHIPWAY, shipway

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
    repo = make_repo(
        {
            "shipway.yml": "project: stop\nenvironments:\n  dev:\n    branch: dev\n",
            "services/slow/serverless.yml": (
                "service: slow\nprovider:\n  name: aws\n  runtime: python3.13\n"
                "functions:\n  f:\n    handler: handler.f\n"
            ),
            "services/slow/handler.py": "def f(e, c):\n    return 1\n",
            "services/slow/buildspec.yml": BUILDSPEC,
        }
    )
    proc = subprocess.Popen(
        [SHIPWAY, "run", "dev", "--repo", str(repo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    log = repo / ".shipway/runs/dev-1/logs/slow.log"
    deadline = time.monotonic() + 30
    while "Running command sleep 61.5" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
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
        {
            "shipway.yml": "project: stop\nenvironments:\n  dev:\n    branch: dev\n",
            "services/slow/serverless.yml": (
                "service: slow\nprovider:\n  name: aws\n  runtime: python3.13\n"
                "functions:\n  f:\n    handler: handler.f\n"
            ),
            "services/slow/handler.py": "def f(e, c):\n    return 1\n",
            "services/slow/buildspec.yml": (
                "version: 0.2\nphases:\n  build:\n    commands:\n"
                '      - test -n "$FAST" || sleep 3\n'
                "artifacts:\n  files: [handler.py]\n"
            ),
        }
    )
    proc = subprocess.Popen(
        [SHIPWAY, "run", "dev", "--repo", str(repo)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    log = repo / ".shipway/runs/dev-1/logs/slow.log"
    deadline = time.monotonic() + 30
    while "Running command" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
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
