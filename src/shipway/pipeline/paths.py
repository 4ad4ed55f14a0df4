"""Where a repository's state lives (SHIPWAY_HOME, default `.shipway/` in the repository)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.config.dotenv import ENV_FILE_PATHSPECS
from shipway.errors import ShipwayError
from shipway.source.checkouts import CheckoutPool
from shipway.source.git import tracks

STATE_FOLDER = ".shipway"


@dataclass(frozen=True)
class StatePaths:
    home: Path

    @classmethod
    def for_repo(cls, repo: Path) -> StatePaths:
        """The state directory of `repo`: a real folder (or one to be made), never a file,
        and never a symlink in the repository (a commit could point it anywhere)."""
        configured = os.environ.get("SHIPWAY_HOME")
        if configured:
            home = Path(configured).expanduser().resolve()
            # the folder, or the first of its parents that exists, must be a folder
            existing = next(p for p in (home, *home.parents) if p.exists())
            if not existing.is_dir():
                where = "is a file" if existing == home else f"is below the file {existing}"
                raise ShipwayError(
                    f"`SHIPWAY_HOME` ({configured}) {where}, expected a folder",
                    hint="point SHIPWAY_HOME at a folder (it is made if missing), or unset it",
                )
            return cls(home)
        home = repo / STATE_FOLDER
        if home.is_symlink():
            raise ShipwayError(
                f"`{home}` is a symlink: Shipway keeps its state only in a real folder",
                hint="remove the link, or set SHIPWAY_HOME to choose where the state lives",
            )
        if home.exists() and not home.is_dir():
            raise ShipwayError(
                f"`{home}` is a file, expected Shipway's state folder",
                hint="remove it, or set SHIPWAY_HOME to choose where the state lives",
            )
        if home.is_dir() and tracks(repo, STATE_FOLDER):
            # state from a commit (a planted database, links) is never trusted
            raise ShipwayError(
                f"`{home}` holds files committed to the repository: Shipway's state must not "
                "come from a commit",
                hint=f"`git rm -r --cached {STATE_FOLDER}` and add `{STATE_FOLDER}/` to "
                ".gitignore, or set SHIPWAY_HOME",
            )
        return cls(home)

    @property
    def database(self) -> Path:
        return self.home / "shipway.db"

    def run_dir(self, run_id: str) -> Path:
        return self.home / "runs" / run_id

    def workspace(self, run_id: str) -> Path:
        """Where runs before reusable checkouts kept their workspace (removed if found)."""
        return self.run_dir(run_id) / "workspace"

    def checkouts(self) -> Path:
        """Reusable checkouts of the repository's commits: the runs' workspaces."""
        return self.home / "workspaces"

    def checkout_pool(self, repo: Path) -> CheckoutPool:
        """The workspaces of `repo`'s runs and plans; an idle one keeps no `.env` file."""
        return CheckoutPool(repo, self.checkouts(), ENV_FILE_PATHSPECS)

    def scratch(self, run_id: str) -> Path:
        """The run's builds' scratch space (env dumps, temp files); one folder per service."""
        return self.run_dir(run_id) / "scratch"

    def build_log(self, run_id: str, service: str) -> Path:
        return self.run_dir(run_id) / "logs" / f"{service}.log"

    def artifact(self, service: str, sha256: str) -> Path:
        return self.home / "artifacts" / service / f"{sha256}.zip"

    def verdicts(self) -> Path:
        """Services found to hold no refused setting (pipeline/verdict_cache.py)."""
        return self.home / "cache" / "verdicts"

    def env_lock(self, env: str) -> Path:
        return self.home / "envs" / env / "deploy.lock"

    def tmp(self) -> Path:
        return self.home / "tmp"

    def inside(self, path: Path | str) -> Path | None:
        """`path` resolved, when it stays inside the state directory (links followed)."""
        resolved = Path(path).resolve()
        return resolved if resolved.is_relative_to(self.home.resolve()) else None


SERVER_FILE = "server.json"


def running_server(home: Path) -> dict[str, Any] | None:
    """The {pid, port, url} of the server serving the state directory `home`, when one
    runs (its `server.json` names a live process)."""
    try:
        info: dict[str, Any] = json.loads((home / SERVER_FILE).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info
