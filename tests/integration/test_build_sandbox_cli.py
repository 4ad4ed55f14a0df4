"""`shipway run` with the build sandbox: a pushed build cannot see the state directory, the
source checkout or another environment's `.env` files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from shipway.build.sandbox import unavailable
from tests.integration.cli import SHIPWAY, one_service_files, shipway, start_run

PROJECT = "project: snoop\nenvironments:\n  dev:\n    branch: dev\n  prod:\n    branch: main\n"
SERVERLESS = (
    "service: snoop\nprovider:\n  name: aws\n  runtime: python3.13\n"
    "functions:\n  f:\n    handler: handler.f\n"
)
# every probe prints what it found, so the log shows whether anything leaked
BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - cat "$CODEBUILD_SRC_DIR/.env.prod" || echo "no root prod env"
      - cat "$CODEBUILD_SRC_DIR/services/snoop/.env.prod" || echo "no service prod env"
      - cat "$CODEBUILD_SRC_DIR/.env.dev" && echo "dev env readable"
      - ls -A "$STATE" || echo "no state dir"
      - cat "$STATE/shipway.db" > /dev/null || echo "no database"
      - ls -A "$CHECKOUT" || echo "no checkout"
artifacts:
  files: [handler.py]
"""


def _files(repo: Path) -> dict[str, str]:
    return {
        "shipway.yml": PROJECT,
        ".env": f"STATE={repo / '.shipway'}\nCHECKOUT={repo}\n",
        ".env.dev": "DEV_VALUE=plain-dev\n",
        ".env.prod": "PROD_DB_PASSWORD=canary-root-prod\n",
        "services/snoop/.env.prod": "PROD_TOKEN=canary-service-prod\n",
        "services/snoop/serverless.yml": SERVERLESS,
        "services/snoop/handler.py": "def f(e, c):\n    return 1\n",
        "services/snoop/buildspec.yml": BUILDSPEC,
    }


def _output(log: str) -> list[str]:
    return [ln.split(" ", 2)[2] for ln in log.splitlines() if not ln.startswith("[Container]")]


@pytest.mark.skipif(unavailable() is not None, reason=f"no build sandbox: {unavailable()}")
def test_build_cannot_read_state_dir_checkout_or_other_environments(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo(_files(tmp_path / "repo"))
    state = repo / ".shipway"
    proc = shipway("run", "dev", "--json", repo=repo)
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)
    assert run["state"] == "succeeded"
    assert (state / "shipway.db").is_file()  # it is there: the build just cannot see it
    log = (state / "runs" / run["id"] / "logs" / "snoop.log").read_text()
    out = _output(log)
    assert "canary" not in log
    for said in ("no root prod env", "no service prod env", "dev env readable", "no database"):
        assert said in out, log
    # of the state directory and the checkout, the build sees only the folders that lead
    # to its own workspace
    assert not {"shipway.db", "shipway.yml", ".env.prod", ".git"} & set(out), log


def test_other_environments_env_files_are_gone_even_without_the_sandbox(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    files = _files(tmp_path / "repo")
    files["shipway.yml"] = PROJECT.replace("environments:", "build: {sandbox: off}\nenvironments:")
    repo = make_repo(files)
    proc = shipway("run", "dev", "--json", repo=repo)
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)
    log = (repo / ".shipway" / "runs" / run["id"] / "logs" / "snoop.log").read_text()
    assert "canary" not in log
    assert "builds are not isolated: build.sandbox is off" in log
    for said in ("no root prod env", "no service prod env", "dev env readable"):
        assert said in _output(log), log


def test_validate_warns_when_builds_cannot_be_isolated(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo(_files(tmp_path / "repo"))
    bin_dir = tmp_path / "bin"  # git, but no bwrap
    bin_dir.mkdir()
    git = shutil.which("git")
    assert git is not None
    (bin_dir / "git").symlink_to(git)
    env = {**os.environ, "PATH": str(bin_dir)}
    env.pop("SHIPWAY_HOME", None)
    proc = subprocess.run(
        [SHIPWAY, "validate", "--repo", str(repo)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "warning: services/snoop: builds are not isolated: bubblewrap (`bwrap`) is not installed"
        in proc.stderr
    )
    with_bwrap = shipway("validate", repo=repo)
    assert with_bwrap.returncode == 0, with_bwrap.stderr
    if unavailable() is None:
        assert "not isolated" not in with_bwrap.stderr


@pytest.mark.skipif(unavailable() is not None, reason=f"no build sandbox: {unavailable()}")
def test_kill_9_of_shipway_run_takes_its_sandboxed_builds_with_it(
    make_repo: Callable[..., Path],
) -> None:
    """No later command needed: the container dies with the process that started it."""
    spec = (
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - sleep 40.61 &\n      - sleep 40.62\n"
    )
    repo = make_repo(one_service_files(spec))
    proc = start_run(repo, "Running command sleep 40.62")
    assert _pgrep("sleep 40.6")
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _pgrep("sleep 40.6") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pgrep("sleep 40.6") == ""


def _pgrep(pattern: str) -> str:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
