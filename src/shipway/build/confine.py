"""What a build may reach in its workspace: the rules that keep it inside the commit.

- A committed symlink is packaged as the Serverless Framework packages it (its globbing
  follows links, and the zip holds the target's content), but only when the link's target
  stays inside the service folder; a link leaving it (`etcdir -> /etc`,
  `x -> ../../secret`) fails the build, naming the link, and is never packaged.
- `artifacts.base-directory` and the files an artifact selects stay inside the service
  folder.
- Other environments' `.env.<name>` files are removed from a run's workspace before its
  builds start: a build of `dev` cannot read `.env.prod`, with or without the sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from shipway.build.errors import BuildFailed


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, every symlink on it followed, stays inside `root`."""
    try:
        real = Path(os.path.realpath(path, strict=False))
    except (OSError, RuntimeError):  # a link loop
        return False
    return real.is_relative_to(Path(os.path.realpath(root)))


def refuse_escape(path: Path, root: Path, what: str) -> None:
    """BuildFailed when `path` (or a symlink on the way to it) leaves `root`."""
    if not inside(path, root):
        raise BuildFailed(f"{what} leaves the service folder; refused")


def check_link(path: Path, root: Path, rel: str) -> None:
    """A file the package would hold: BuildFailed when it reaches outside `root`."""
    if not inside(path, root):
        raise BuildFailed(
            f"`{rel}` is a symlink that leaves the service folder (to "
            f"`{_target(path)}`): it is not packaged; remove the link or point it inside "
            "the service"
        )


def _target(path: Path) -> str:
    """The first link on the way to `path` that leaves, as the commit wrote it."""
    for candidate in [path, *path.parents]:
        if candidate.is_symlink():
            try:
                return os.readlink(candidate)
            except OSError:
                break
    return str(path)


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
