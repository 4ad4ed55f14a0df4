"""What a build may reach in its workspace: the rules that keep it inside the commit.

- A committed symlink is packaged as the Serverless Framework packages it (its globbing
  follows links, and the zip holds the target's content), but only when the link's target
  stays inside the service folder; a link leaving it (`etcdir -> /etc`,
  `x -> ../../secret`) fails the build, naming the link, and is never packaged.
- `artifacts.base-directory` and the files an artifact selects stay inside the service
  folder (package.py); `cache.paths` never read or write through a link leaving the
  workspace (cache.py).
- Other environments' `.env.<name>` files are removed from a run's workspace before its
  builds start: a build of `dev` cannot read `.env.prod`, with or without the sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def drop_other_env_files(
    workspace: Path, service_paths: Iterable[str], others: Iterable[str]
) -> list[str]:
    """Remove the `.env.<name>` layers of every environment in `others` (root and service
    level) from the workspace; returns the paths removed, relative to it."""
    folders = [workspace, *(workspace / p for p in service_paths)]
    removed: list[str] = []
    for folder in folders:
        for name in others:
            path = folder / f".env.{name}"
            if os.path.lexists(path) and not path.is_dir():
                path.unlink()
                removed.append(os.path.relpath(path, workspace))
    return removed
