"""State is private: every file Shipway writes under its state directory is readable by its
owner only (0600, 0700 for executables) and every folder is 0700, however it was made."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.cli import SHIPWAY, shipway

FILES = {
    "shipway.yml": "project: perms\nenvironments:\n  dev:\n    branch: dev\n",
    ".env.dev": "API_KEY=canary-perms-0123456789\n",
    "services/api/serverless.yml": (
        "service: api\nprovider:\n  name: aws\n  runtime: python3.11\n"
        "  environment:\n    API_KEY: ${env:API_KEY}\n"
        "functions:\n  f:\n    handler: handler.f\n"
        "    events:\n      - httpApi: {method: GET, path: /f}\n"
    ),
    "services/api/handler.py": "def f(e, c):\n    print('called')\n    return 1\n",
    "services/api/buildspec.yml": (
        "version: 0.2\ncache:\n  paths: ['.cache/**/*']\nphases:\n  build:\n    commands:\n"
        "      - mkdir -p dist .cache && cp handler.py dist/ && echo x > .cache/x\n"
        "artifacts:\n  base-directory: dist\n  files: ['**/*']\n"
    ),
}


def _open_to_others(home: Path) -> list[str]:
    """Paths under `home` (itself included) that anyone but the owner may read or enter."""
    found = []
    for path in [home, *home.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        if mode & 0o077 or (stat.S_ISDIR(mode) and stat.S_IMODE(mode) != 0o700):
            found.append(f"{path.relative_to(home.parent)} {stat.S_IMODE(mode):o}")
    return found


def test_every_state_file_and_folder_is_private(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(FILES)
    assert shipway("run", "dev", repo=repo).returncode == 0
    assert shipway("invoke", "f", "--env", "dev", repo=repo).returncode == 0
    server = subprocess.Popen(
        [SHIPWAY, "serve", "--port", "0", "--repo", str(repo)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (repo / ".shipway/server.json").exists():
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert shipway("run", "dev", "--force", repo=repo).returncode == 0
    assert (repo / ".shipway/envs/dev/logs/api.log").exists()
    assert list((repo / ".shipway").rglob("secrets.json"))
    assert _open_to_others(repo / ".shipway") == []


def test_state_left_open_by_an_older_version_is_made_private(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(FILES)
    assert shipway("run", "dev", repo=repo).returncode == 0
    home = repo / ".shipway"
    os.chmod(home, 0o755)
    os.chmod(home / "shipway.db", 0o644)
    assert shipway("status", repo=repo).returncode == 0
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "shipway.db").stat().st_mode) == 0o600


def test_files_written_into_the_repository_keep_ordinary_modes(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo({"services/api/serverless.yml": FILES["services/api/serverless.yml"]})
    assert shipway("init", repo=repo).returncode == 0
    assert stat.S_IMODE((repo / "shipway.yml").stat().st_mode) == 0o644
    assert stat.S_IMODE((repo / ".gitignore").stat().st_mode) == 0o644
