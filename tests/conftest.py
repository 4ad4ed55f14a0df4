"""Shared fixtures: real git repositories built from a dict of files."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

pytest_plugins = ["tests.moto"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "ledger"
CORPUS = ROOT.parent / "shared" / "corpus"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    return proc.stdout.strip()


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def commit_all(repo: Path, message: str = "change") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(autouse=True)
def _isolated_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test keeps its state in its own repository, whatever the caller's environment."""
    monkeypatch.delenv("SHIPWAY_HOME", raising=False)


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """A git repository with `files` committed on main, plus the given extra branches."""

    def make(
        files: Mapping[str, str], branches: tuple[str, ...] = ("dev",), name: str = "repo"
    ) -> Path:
        repo = tmp_path / name
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        write_files(repo, files)
        commit_all(repo, "initial")
        for b in branches:
            git(repo, "branch", b)
        return repo

    return make


@pytest.fixture
def ledger_repo(tmp_path: Path) -> Path:
    """The bundled example, as a git repository with dev, qa and main branches."""
    repo = tmp_path / "ledger"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".shipway", "__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "ledger")
    git(repo, "branch", "dev")
    git(repo, "branch", "qa")
    return repo
