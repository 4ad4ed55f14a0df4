"""Git, through the `git` CLI: branch heads, commits, and clean exports of a commit.

The exported workspace holds exactly the commit's tracked files, so uncommitted or untracked
files in a checkout never reach a build.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from shipway.errors import ShipwayError


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    subject: str
    author: str
    timestamp: int


def _git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise ShipwayError(
            f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc.stdout.strip()


def repository_root(path: Path) -> Path:
    """The top folder of the git repository holding `path` (or the bare repository itself)."""
    if not path.exists():
        raise ShipwayError(f"`{path}` does not exist")
    proc = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode == 0 and proc.stdout.strip():
        return Path(proc.stdout.strip())
    bare = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--is-bare-repository"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if bare.stdout.strip() == "true":
        return path.resolve()
    raise ShipwayError(f"`{path}` is not inside a git repository", hint="use --repo PATH")


def resolve_commit(repo: Path, ref: str) -> str:
    """The full sha of `ref` (a branch, tag or sha); a clear error when it does not exist."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ShipwayError(f"`{ref}` is not a commit or branch of {repo}")
    return proc.stdout.strip()


def branch_head(repo: Path, branch: str) -> str:
    """The commit at the tip of `branch` (local branch first, then `origin/branch`)."""
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
        sha = _git(repo, "rev-parse", "--verify", "--quiet", ref, check=False)
        if sha:
            return sha
    raise ShipwayError(
        f"branch `{branch}` does not exist in {repo}",
        hint="push to it first, or pass --commit SHA",
    )


def commit_info(repo: Path, sha: str) -> CommitInfo:
    out = _git(repo, "show", "-s", "--format=%H%x00%s%x00%an%x00%ct", sha)
    full, subject, author, ts = out.split("\x00")
    return CommitInfo(full, subject, author, int(ts))


def read_file_at(repo: Path, sha: str, path: str) -> bytes | None:
    """A file's bytes at a commit, or None if the commit has no such file."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "show", f"{sha}:{path}"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return proc.stdout if proc.returncode == 0 else None


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
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "-z", "--full-tree", sha],
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    if out.returncode != 0:
        raise ShipwayError(f"cannot list the files of {sha[:12]}: {out.stderr.decode().strip()}")
    files: dict[str, str] = {}
    for record in out.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, _kind, blob = meta.split()
        files[path] = f"{mode}:{blob}"
    return files
