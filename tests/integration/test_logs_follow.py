"""`shipway logs RUN --follow` tails a build while it runs, then stops with the run."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.integration.cli import SHIPWAY, one_service_files, start_run

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
    repo = make_repo(one_service_files(SLOW_BUILDSPEC))
    runner = start_run(repo, "Running command echo step-one")
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
