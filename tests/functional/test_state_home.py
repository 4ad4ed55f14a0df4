"""The state directory: where it may be, and nothing read through it from elsewhere."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.conftest import commit_all
from tests.integration.cli import SHIPWAY, one_service_files, shipway, shipway_json

BUILD = (
    "version: 0.2\nphases:\n  build:\n    commands:\n      - echo building\n"
    "artifacts:\n  files: [handler.py]\n"
)


def _with_home(home: Path, *args: str, repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SHIPWAY, *args, "--repo", str(repo)],
        capture_output=True,
        text=True,
        env={**os.environ, "SHIPWAY_HOME": str(home)},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_shipway_home_that_is_a_file_is_a_clear_error(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo(one_service_files(BUILD))
    home = tmp_path / "home-file"
    home.write_text("not a folder\n")
    for args in (("status",), ("run", "dev"), ("runs",)):
        proc = _with_home(home, *args, repo=repo)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert f"error: `SHIPWAY_HOME` ({home}) is a file, expected a folder" in proc.stderr
    assert home.read_text() == "not a folder\n"


def test_shipway_home_that_cannot_be_a_state_folder_is_a_clear_error(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo(one_service_files(BUILD))
    afile = tmp_path / "a-file"
    afile.write_text("x")
    for home, message in (
        (afile / "sub", f"is below the file {afile}, expected a folder"),
        (Path("/proc/self"), "cannot open the state database /proc/"),
    ):
        for args in (("runs",), ("run", "dev")):
            proc = _with_home(home, *args, repo=repo)
            assert proc.returncode == 2, proc.stderr
            assert "Traceback" not in proc.stderr
            assert proc.stderr.startswith("error: ") and message in proc.stderr


def test_shipway_home_is_used_and_made_when_missing(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo(one_service_files(BUILD))
    home = tmp_path / "state" / "nested"
    assert _with_home(home, "run", "dev", repo=repo).returncode == 0
    assert (home / "shipway.db").is_file()
    assert not (repo / ".shipway").exists()


def test_a_committed_state_symlink_is_refused(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    repo = make_repo(one_service_files(BUILD))
    os.symlink(elsewhere, repo / ".shipway")
    commit_all(repo, "relocate the state")
    for args in (("run", "dev"), ("status",), ("logs", "dev-1")):
        proc = shipway(*args, repo=repo)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert f"`{repo / '.shipway'}` is a symlink" in proc.stderr
        assert "SHIPWAY_HOME" in proc.stderr
    assert list(elsewhere.iterdir()) == []
    # the user can still say where the state goes
    assert _with_home(tmp_path / "home", "run", "dev", repo=repo).returncode == 0


def test_state_from_a_commit_is_refused(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    repo = make_repo(one_service_files(BUILD))
    assert shipway_json("run", "dev", repo=repo)["state"] == "succeeded"
    commit_all(repo, "state committed by accident, or planted")  # no .gitignore here
    proc = shipway("runs", repo=repo)
    assert proc.returncode == 2, proc.stderr
    assert "holds files committed to the repository" in proc.stderr
    assert "git rm -r --cached .shipway" in proc.stderr
    assert _with_home(tmp_path / "home", "run", "dev", repo=repo).returncode == 0


def _tamper(repo: Path, sql: str, *params: str) -> None:
    db = sqlite3.connect(repo / ".shipway/shipway.db")
    with db:
        db.execute(sql, params)
    db.close()


def test_logs_read_only_files_in_the_state_directory(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo(one_service_files(BUILD))
    assert shipway_json("run", "dev", repo=repo)["state"] == "succeeded"
    outside = tmp_path / "outside.txt"
    outside.write_text("root:x:0:0:outside the state directory\n")
    escaping = f"{repo}/.shipway/runs/dev-1/logs/../../../../outside.txt"
    for stored in (str(outside), escaping):
        _tamper(repo, "UPDATE jobs SET log_path = ? WHERE stage = 'build'", stored)
        for args in (("logs", "dev-1"), ("logs", "dev-1", "--follow")):
            proc = shipway(*args, repo=repo)
            assert proc.returncode == 0, proc.stderr
            assert "outside the state directory" not in proc.stdout
        assert "(log missing)" in shipway("logs", "dev-1", repo=repo).stdout
    # a link inside the state directory that leads out is no better
    link = repo / ".shipway/runs/dev-1/logs/link.log"
    link.symlink_to(outside)
    _tamper(repo, "UPDATE jobs SET log_path = ? WHERE stage = 'build'", str(link))
    assert "outside the state directory" not in shipway("logs", "dev-1", repo=repo).stdout


def test_a_stored_build_is_reused_only_from_the_artifact_store(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo(one_service_files(BUILD))
    assert shipway_json("run", "dev", repo=repo)["state"] == "succeeded"
    [artifact] = (repo / ".shipway/artifacts/slow").iterdir()
    planted = tmp_path / "planted.zip"
    shutil.copy(artifact, planted)
    _tamper(repo, "UPDATE builds SET artifact_path = ?", str(planted))
    run = shipway_json("run", "dev", repo=repo)
    assert run["state"] == "succeeded"
    [build] = [j for j in run["jobs"] if j["stage"] == "build"]
    assert "reused_from" not in build, build
    assert "building" in shipway("logs", "dev-2", repo=repo).stdout
