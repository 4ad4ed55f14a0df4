"""Git, through the `git` CLI: branch heads, commits, and clean exports of a commit.

The exported workspace holds exactly the commit's tracked files, so uncommitted or untracked
files in a checkout never reach a build.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from shipway.errors import ShipwayError


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`git -C repo ARGS` with its output captured (text; paths kept byte-exact)."""
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        stdin=subprocess.DEVNULL,
    )


def repository_root(path: Path) -> Path:
    """The top folder of the git repository holding `path` (or the bare repository itself)."""
    if not path.exists():
        raise ShipwayError(f"`{path}` does not exist")
    top = _run(path, "rev-parse", "--show-toplevel").stdout.strip()
    if top:
        return Path(top)
    if _run(path, "rev-parse", "--is-bare-repository").stdout.strip() == "true":
        return path.resolve()
    raise ShipwayError(f"`{path}` is not inside a git repository", hint="use --repo PATH")


def resolve_commit(repo: Path, ref: str) -> str:
    """The full sha of `ref` (a branch, tag or sha); a clear error when it does not exist."""
    sha = _run(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").stdout.strip()
    if not sha:
        raise ShipwayError(f"`{ref}` is not a commit or branch of {repo}")
    return sha


def branch_head(repo: Path, branch: str) -> str:
    """The commit at the tip of `branch` (local branch first, then `origin/branch`)."""
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
        sha = _run(repo, "rev-parse", "--verify", "--quiet", ref).stdout.strip()
        if sha:
            return sha
    raise ShipwayError(
        f"branch `{branch}` does not exist in {repo}",
        hint="push to it first, or pass --commit SHA",
    )


def export_commit(repo: Path, sha: str, dest: Path) -> None:
    """Write the commit's tree into `dest` (which must be empty or absent)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.Popen(
        ["git", "-C", str(repo), "archive", "--format=tar", sha],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    untar = subprocess.run(
        ["tar", "-x", "-C", str(dest)],
        stdin=archive.stdout,
        capture_output=True,
    )
    assert archive.stdout is not None
    archive.stdout.close()
    _, err = archive.communicate()
    if archive.returncode != 0 or untar.returncode != 0:
        detail = (err or untar.stderr).decode(errors="replace").strip()
        raise ShipwayError(f"could not export commit {sha[:12]}: {detail}")


def tracked_files(repo: Path, sha: str) -> dict[str, str]:
    """Every tracked file of a commit: path -> blob id (which changes when its content or
    mode does). One `git ls-tree -r`, no file is read."""
    out = _run(repo, "ls-tree", "-r", "-z", "--full-tree", sha)
    if out.returncode != 0:
        raise ShipwayError(f"cannot list the files of {sha[:12]}: {out.stderr.strip()}")
    files: dict[str, str] = {}
    for record in out.stdout.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, _kind, blob = meta.split()
        files[path] = f"{mode}:{blob}"
    return files
