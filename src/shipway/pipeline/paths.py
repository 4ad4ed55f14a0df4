"""Where a repository's state lives (SHIPWAY_HOME, default `.shipway/` in the repository)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StatePaths:
    home: Path

    @classmethod
    def for_repo(cls, repo: Path) -> StatePaths:
        configured = os.environ.get("SHIPWAY_HOME")
        return cls(Path(configured).resolve() if configured else repo / ".shipway")

    @property
    def database(self) -> Path:
        return self.home / "shipway.db"

    def run_dir(self, run_id: str) -> Path:
        return self.home / "runs" / run_id

    def workspace(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "workspace"

    def build_log(self, run_id: str, service: str) -> Path:
        return self.run_dir(run_id) / "logs" / f"{service}.log"

    def artifact(self, service: str, sha256: str) -> Path:
        return self.home / "artifacts" / service / f"{sha256}.zip"

    def env_lock(self, env: str) -> Path:
        return self.home / "envs" / env / "deploy.lock"
