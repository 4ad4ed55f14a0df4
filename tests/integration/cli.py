"""Running the `shipway` command as a user does: a real subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SHIPWAY = str(Path(sys.executable).with_name("shipway"))


def shipway(
    *args: str, repo: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    cmd = [SHIPWAY, *args]
    if repo is not None:
        cmd += ["--repo", str(repo)]
    env = {k: v for k, v in os.environ.items() if k != "SHIPWAY_HOME"}
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
    )


def shipway_json(*args: str, repo: Path | None = None) -> Any:
    proc = shipway(*args, "--json", repo=repo)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# a build that only echoes and packages the handler: for runs whose build is not the point
ECHO_BUILD = """version: 0.2
phases:
  build:
    commands:
      - echo building
artifacts:
  files: [handler.py]
"""


def one_service_files(buildspec: str, name: str = "slow") -> dict[str, str]:
    """A repository with one service built by `buildspec` (for runs to watch or stop)."""
    return {
        "shipway.yml": f"project: {name}\nenvironments:\n  dev:\n    branch: dev\n",
        f"services/{name}/serverless.yml": (
            f"service: {name}\nprovider:\n  name: aws\n  runtime: python3.13\n"
            "functions:\n  f:\n    handler: handler.f\n"
        ),
        f"services/{name}/handler.py": "def f(e, c):\n    return 1\n",
        f"services/{name}/buildspec.yml": buildspec,
    }


def start_run(repo: Path, wait_for: str, service: str = "slow") -> subprocess.Popen[str]:
    """`shipway run dev` in the background, returned once its build log shows `wait_for`."""
    proc = subprocess.Popen(
        [SHIPWAY, "run", "dev", "--repo", str(repo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    log = repo / ".shipway/runs/dev-1/logs" / f"{service}.log"
    deadline = time.monotonic() + 30
    while wait_for not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"the build never logged {wait_for!r}"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    return proc


@contextlib.contextmanager
def serving(
    repo: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`shipway serve --port 0` on `repo`: (the process, its URL) once server.json names it;
    Ctrl-C and a wait for the process afterwards."""
    proc = subprocess.Popen(
        [SHIPWAY, "serve", "--port", "0", "--repo", str(repo)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    server_file = repo / ".shipway" / "server.json"
    deadline = time.monotonic() + 20
    while not server_file.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield proc, json.loads(server_file.read_text())["url"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def looked_at(repo: Path, since: float, sources: int = 1) -> None:
    """Wait until the server of `repo` has looked at `sources` of its sources (its own
    repository, each polled remote or object) after `since`: a look records their heads,
    and a first look starts nothing."""
    db = repo / ".shipway" / "shipway.db"
    deadline = time.monotonic() + 60
    while True:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            marks = [row[0] for row in conn.execute("SELECT seen_at FROM sources")]
        if len(marks) >= sources and all(m > since for m in marks):
            return
        assert time.monotonic() < deadline, "the server never looked at its sources"
        time.sleep(0.05)
