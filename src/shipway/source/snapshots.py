"""A source that is not git (an S3 object's zip) made into a commit of the server's
repository, so that every run, whatever its source, runs a commit: the engine, the reuse of
builds and the records need nothing else.

The zip is unpacked with the checks every archive gets (no absolute, `..` or symlink
entries), bounded in entries and unpacked size before anything is written; its tree is
committed with a private index (the repository's own index and work tree are untouched),
`-f` so a `.gitignore` in the zip drops nothing, on top of the source's previous commit,
and kept under `refs/shipway/sources/…` — not a branch, so no push or catch-up takes it
for one.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

from shipway.archive import unpack_zip
from shipway.errors import ShipwayError, Where

__all__ = ["MAX_SNAPSHOT_BYTES", "MAX_SNAPSHOT_ENTRIES", "commit_zip", "snapshot_ref"]

MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024  # unpacked: a source tree, not a data set
MAX_SNAPSHOT_ENTRIES = 100_000
_IDENTITY = {
    "GIT_AUTHOR_NAME": "shipway",
    "GIT_AUTHOR_EMAIL": "shipway@localhost",
    "GIT_COMMITTER_NAME": "shipway",
    "GIT_COMMITTER_EMAIL": "shipway@localhost",
}


def snapshot_ref(env: str) -> str:
    return f"refs/shipway/sources/{env}"


def _git(repo: Path, args: list[str], env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    if out.returncode != 0:
        raise ShipwayError(f"cannot commit the source snapshot: git {args[0]}: {out.stderr[:300]}")
    return out.stdout.strip()


def _check_bounds(zip_path: Path, shown: str) -> None:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ShipwayError(f"not a readable zip: {exc}", Where(shown)) from None
    if len(infos) > MAX_SNAPSHOT_ENTRIES:
        raise ShipwayError(
            f"{len(infos)} entries; the limit is {MAX_SNAPSHOT_ENTRIES}", Where(shown)
        )
    size = sum(i.file_size for i in infos)
    if size > MAX_SNAPSHOT_BYTES:
        raise ShipwayError(
            f"unpacks to {size // 2**20} MB; the limit is {MAX_SNAPSHOT_BYTES // 2**20} MB",
            Where(shown),
        )


def commit_zip(repo: Path, zip_path: Path, ref: str, message: str, scratch: Path) -> str:
    """Commit the files of `zip_path` (`shown` in errors as the message's first line) as
    the next commit of `ref` in `repo`; returns its sha. `scratch` is a private folder for
    the unpacked files, removed afterwards."""
    shown = message.splitlines()[0]
    _check_bounds(zip_path, shown)
    scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        tree_dir = Path(tmp) / "tree"
        try:
            unpack_zip(zip_path, tree_dir)
        except ShipwayError as exc:
            raise ShipwayError(exc.message, Where(shown), exc.hint) from None
        index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git_dir = _git(repo, ["rev-parse", "--absolute-git-dir"])
        work = ["--git-dir", git_dir, "--work-tree", str(tree_dir)]
        _git(repo, [*work, "add", "-A", "-f", "."], index)
        tree = _git(repo, [*work, "write-tree"], index)
    parent = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    ).stdout.strip()
    parents = ["-p", parent] if parent else []
    sha = _git(repo, ["commit-tree", tree, *parents, "-m", message], _IDENTITY)
    _git(repo, ["update-ref", ref, sha])
    return sha
