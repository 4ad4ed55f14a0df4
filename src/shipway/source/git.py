"""Git, through the `git` CLI: branch heads, commits, and clean exports of a commit.

The exported workspace holds exactly the commit's tracked files, so uncommitted or untracked
files in a checkout never reach a build.
"""

from __future__ import annotations

import re
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


# What `git check-ref-format` refuses, plus a leading `-` (it would read as an option) and
# `@{`: anything here is revision syntax (`a..b`, `a^`, `a~2`, `a@{1}`, `:path`), not a name.
_NOT_A_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^[-/.]|/\.|[/.]$|\.lock(/|$)")
_SHA = re.compile(r"^[0-9a-f]{4,40}$", re.IGNORECASE)
_MAX_REF = 255


def is_ref_name(name: str) -> bool:
    """A branch or tag name git would accept, with no revision syntax in it."""
    return 0 < len(name) <= _MAX_REF and name != "@" and not _NOT_A_REF.search(name)


def _peel(repo: Path, ref: str) -> str:
    """The commit `ref` (a full ref name or a sha, already checked) names, or ''."""
    return _run(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").stdout.strip()


def resolve_commit(repo: Path, ref: str, what: str = "--commit") -> str:
    """The full sha of `ref`: one branch, tag or (abbreviated) commit sha, never a range or
    a revision expression; a clear error naming `what` otherwise."""
    if ref != "HEAD" and not (is_ref_name(ref) or _SHA.match(ref)):
        raise ShipwayError(
            f"{what} `{ref[:100]}` is not a single commit",
            hint="give a branch, a tag or a commit sha; ranges (`a..b`) and revision "
            "expressions (`a^`, `a~1`, `a@{1}`) are not accepted",
        )
    candidates = ["HEAD"] if ref == "HEAD" else []
    if is_ref_name(ref):
        candidates += [f"refs/heads/{ref}", f"refs/tags/{ref}", f"refs/remotes/{ref}"]
        if ref.startswith("refs/"):
            candidates.append(ref)
    if _SHA.match(ref):
        candidates.append(ref)
    for candidate in candidates:
        sha = _peel(repo, candidate)
        if sha:
            return sha
    raise ShipwayError(
        f"{what} `{ref}` is not a commit, branch or tag of {repo}",
        hint="`git log --oneline` lists the commits",
    )


def branch_head(repo: Path, branch: str) -> str:
    """The commit at the tip of `branch` (local branch first, then `origin/branch`). Only a
    branch name: `dev^` or `main..dev` never resolve to some other commit."""
    if not is_ref_name(branch):
        raise ShipwayError(
            f"`{branch[:100]}` is not a branch name",
            hint="a branch name has no spaces, `..`, `^`, `~`, `:`, `?`, `*`, `[` or leading `-`",
        )
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
        sha = _peel(repo, ref)
        if sha:
            return sha
    raise ShipwayError(
        f"branch `{branch}` does not exist in {repo}",
        hint="push to it first, or pass --commit SHA",
    )


def tracks(repo: Path, path: str) -> bool:
    """Whether the checkout of `repo` has files under `path` that git tracks (that came from
    a commit). False for a bare repository."""
    out = _run(repo, "ls-files", "-z", "--", path)
    return out.returncode == 0 and bool(out.stdout)


def uncommitted(repo: Path, paths: list[str]) -> dict[str, str]:
    """Of `paths` (files of the working tree, relative to it), those a run of a commit
    will not see as they are here: path -> `ignored`, `untracked` or `modified`. Files
    that do not exist are left out; nothing when `repo` is not a work tree."""
    if not paths:
        return {}
    out = _run(
        repo, "status", "--porcelain", "--ignored", "--untracked-files=all", "-z", "--", *paths
    )
    if out.returncode != 0:
        return {}
    found: dict[str, str] = {}
    entries = out.stdout.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if "R" in code or "C" in code:
            i += 1  # a rename's second path (its origin) follows
        if code == "!!":
            found[path] = "ignored"
        elif code == "??":
            found[path] = "untracked"
        else:
            found[path] = "modified"
    wanted = set(paths)
    return {p: why for p, why in found.items() if p in wanted}


def is_ancestor(repo: Path, older: str, newer: str) -> bool:
    """Whether commit `older` is an ancestor of `newer` (False when either is unknown)."""
    if not (_SHA.match(older) and _SHA.match(newer)):
        return False
    return _run(repo, "merge-base", "--is-ancestor", older, newer).returncode == 0


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


def commits_between(
    repo: Path, older: str, newer: str, paths: tuple[str, ...] = (), limit: int = 200
) -> list[tuple[str, str]] | None:
    """(sha, subject) of the commits reachable from `newer` and not from `older`, newest
    first, touching `paths` (every path when empty); None when either is no known commit
    (a release made from history since rewritten and collected)."""
    if not (_SHA.match(older) and _SHA.match(newer)):
        return None
    spec = ["--", *paths] if paths else []
    out = _run(
        repo, "log", f"--max-count={int(limit)}", "--format=%H%x00%s", f"{older}..{newer}", *spec
    )
    if out.returncode != 0:
        return None
    rows = [line.split("\0", 1) for line in out.stdout.splitlines() if "\0" in line]
    return [(sha, subject) for sha, subject in rows]
