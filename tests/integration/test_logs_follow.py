"""`shipway logs RUN --follow` tails a build while it runs, then stops with the run."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.cli import SHIPWAY, shipway

SLOW_BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - echo step-one
      - sleep 2
      - echo step-two
artifacts:
  files:
    - handler.py
"""


def test_follow_prints_lines_while_the_build_runs(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        {
            "shipway.yml": "project: slow\nenvironments:\n  dev:\n    branch: dev\n",
            "services/slow/serverless.yml": (
                "service: slow\nprovider:\n  name: aws\n  runtime: python3.11\n"
                "functions:\n  f:\n    handler: handler.f\n"
            ),
            "services/slow/handler.py": "def f(e, c):\n    return 1\n",
            "services/slow/buildspec.yml": SLOW_BUILDSPEC,
        }
    )
    runner = subprocess.Popen(
        [SHIPWAY, "run", "dev", "--repo", str(repo)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not json.loads(shipway("runs", "--json", repo=repo).stdout or "[]"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    follower = subprocess.Popen(
        [SHIPWAY, "logs", "dev-1", "--follow", "--repo", str(repo)],
        stdout=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert follower.stdout is not None
    seen_while_running = False
    lines = []
    for line in follower.stdout:
        lines.append(line.rstrip("\n"))
        if line.rstrip().endswith("step-one") and runner.poll() is None:
            seen_while_running = True
    assert follower.wait(timeout=30) == 0
    assert runner.wait(timeout=30) == 0
    assert seen_while_running, lines
    assert any(line.startswith("[slow] ") and line.endswith("step-two") for line in lines)
