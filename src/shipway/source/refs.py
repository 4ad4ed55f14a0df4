"""Git for the triggers: a file at a ref, the files a push changed, a remote's branch heads
(`git ls-remote`) and fetching one of them — each bounded in time and size, and no error
ever quotes a URL's credentials.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from shipway.errors import ShipwayError, Where
from shipway.limits import MAX_CONFIG_BYTES, megabytes
from shipway.source.git import is_ref_name
from shipway.source.triggers import is_deletion, is_sha

__all__ = [
    "FETCH_TIMEOUT_S",
    "LS_REMOTE_TIMEOUT_S",
    "branch_heads",
    "changed_files",
    "default_branch",
    "fetch_ref",
    "ls_remote",
    "mask_url",
    "read_at",
]

LS_REMOTE_TIMEOUT_S = 30.0
FETCH_TIMEOUT_S = 300.0
MAX_CHANGED_FILES = 100_000
# `ext::` runs a command, `fd::` reads a descriptor: a URL in a commit may name neither
_PROTOCOLS = "file:git:http:https:ssh"
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, stdin=subprocess.DEVNULL
    )


def read_at(repo: Path, ref: str, path: str, limit: int = MAX_CONFIG_BYTES) -> bytes | None:
    """The bytes of `path` (repository-relative, `/`-separated) in the commit `ref` (a full
    ref name such as `refs/heads/main`, or a commit sha); None when the ref or the file does
    not exist. A symlink, a folder or a file over `limit` bytes is an error: it is never
    followed or read."""
    if not (is_sha(ref) or (ref.startswith("refs/") and is_ref_name(ref))):
        raise ShipwayError(f"`{ref[:100]}` is not a ref name or a commit sha")
    if path.startswith(("-", "/")) or ".." in path.split("/"):
        raise ShipwayError(f"`{path[:100]}` is not a repository path")
    listing = _git(repo, "ls-tree", "-z", f"{ref}^{{commit}}", "--", path)
    if listing.returncode != 0 or not listing.stdout:
        return None
    meta, _, _name = listing.stdout.rstrip(b"\0").partition(b"\t")
    mode, kind, blob = meta.decode().split()
    # errors name the file as governing config's do: `shipway.yml (at main)`
    where = Where(f"{path} (at {ref.removeprefix('refs/heads/')[:60]})")
    if kind != "blob" or mode == "120000":
        what = "a symlink" if mode == "120000" else "not a file"
        raise ShipwayError(f"it is {what}", where, hint="it must be a plain file")
    size = _git(repo, "cat-file", "-s", blob)
    if size.returncode != 0:
        return None
    if int(size.stdout) > limit:
        raise ShipwayError(
            f"the file is {megabytes(int(size.stdout))}; the limit is {megabytes(limit)}", where
        )
    out = _git(repo, "cat-file", "blob", blob)
    return out.stdout if out.returncode == 0 else None


def branch_heads(repo: Path) -> dict[str, str]:
    """Every branch of the repository `repo`: branch name -> head sha."""
    out = _git(repo, "for-each-ref", "--format=%(objectname)%09%(refname)", "refs/heads/")
    if out.returncode != 0:
        detail = out.stderr.decode(errors="replace").strip()
        raise ShipwayError(f"cannot list the branches of `{repo}`: {detail[:300]}")
    return _branch_lines(out.stdout)


def _branch_lines(listing: bytes) -> dict[str, str]:
    """branch -> sha of `<sha>\t<ref>` lines (ls-remote's and for-each-ref's), heads alone."""
    heads: dict[str, str] = {}
    for line in listing.decode(errors="replace").splitlines():
        sha, _, ref = line.partition("\t")
        if is_sha(sha) and ref.startswith("refs/heads/"):
            heads[ref[len("refs/heads/") :]] = sha
    return heads


def default_branch(repo: Path) -> str:
    """The branch a bare repository's HEAD names (its default branch, as a push server sees
    it); `main` for a checkout (whose HEAD is whatever branch someone has checked out)."""
    if _git(repo, "rev-parse", "--is-bare-repository").stdout.strip() == b"true":
        out = _git(repo, "symbolic-ref", "--quiet", "HEAD").stdout.decode().strip()
        if out.startswith("refs/heads/") and is_ref_name(out[len("refs/heads/") :]):
            return out[len("refs/heads/") :]
    return "main"


def changed_files(repo: Path, old: str, new: str) -> list[str]:
    """The files (repository-relative) a push from `old` to `new` changed: `git diff old new`,
    renames as the old and the new path. A new branch (`old` all zeros, or a commit this
    repository does not have) counts the changes of `new` itself (against its first parent;
    every file of a root commit). At most MAX_CHANGED_FILES paths."""
    if not is_sha(new):
        raise ShipwayError(f"`{new[:100]}` is not a commit sha")
    known = is_sha(old) and not is_deletion(old)
    if known and _git(repo, "cat-file", "-e", f"{old}^{{commit}}").returncode != 0:
        known = False
    base = old if known else ""
    if not base:
        parent = _git(repo, "rev-parse", "--verify", "--quiet", f"{new}^1")
        base = parent.stdout.decode().strip() if parent.returncode == 0 else ""
    if base:
        out = _git(repo, "diff", "--no-renames", "--name-only", "-z", base, new, "--")
    else:  # a root commit: every file is new
        out = _git(repo, "ls-tree", "-r", "-z", "--name-only", "--full-tree", new)
    if out.returncode != 0:
        detail = out.stderr.decode(errors="replace").strip()
        raise ShipwayError(f"cannot list the files {new[:12]} changed: {detail}")
    names = [p.decode("utf-8", errors="surrogateescape") for p in out.stdout.split(b"\0") if p]
    return list(dict.fromkeys(names))[:MAX_CHANGED_FILES]


def mask_url(url: str) -> str:
    """`url` with any `user:password@` replaced by `***@`."""
    return _USERINFO.sub("***@", url)


def _masked(text: str, url: str) -> str:
    text = text.replace(url, mask_url(url))
    password = urlsplit(url).password if "://" in url else None
    if password:
        text = text.replace(password, "***")
    return _USERINFO.sub("***@", text)


def _check_url(url: str) -> None:
    if not url or url.startswith("-") or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ShipwayError(f"`{mask_url(url)[:100]}` is not a git URL")


def _remote(
    repo: Path | None, args: list[str], url: str, timeout: float, what: str
) -> subprocess.CompletedProcess[bytes]:
    """A git command that talks to `url`: no prompt for credentials, only plain transports,
    its whole process group killed at `timeout`; a ShipwayError (URL masked) on failure."""
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": _PROTOCOLS,
        "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
    }
    cmd = ["git", *(["-C", str(repo)] if repo else []), *args]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ShipwayError(
            f"{what} `{mask_url(url)}` took longer than {timeout:g} s; gave up",
            hint="check that the remote answers (`git ls-remote URL`)",
        ) from None
    if proc.returncode != 0:
        detail = _masked(err.decode(errors="replace").strip(), url)
        lines = detail.splitlines()
        raise ShipwayError(
            f"{what} `{mask_url(url)}` failed: {lines[-1] if lines else 'no message'}"[:500],
            hint="check the URL and the server's access to it",
        )
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def ls_remote(url: str, timeout: float = LS_REMOTE_TIMEOUT_S) -> dict[str, str]:
    """Every branch of the remote `url`: branch name -> head sha (`git ls-remote --heads`)."""
    _check_url(url)
    out = _remote(None, ["ls-remote", "--heads", "--", url], url, timeout, "git ls-remote")
    return _branch_lines(out.stdout)


def fetch_ref(repo: Path, url: str, branch: str, timeout: float = FETCH_TIMEOUT_S) -> str:
    """Fetch `branch` of the remote `url` into the server's repository `repo` and return its
    head sha: `git fetch --no-tags URL +refs/heads/B:refs/heads/B` (the remote's history
    wins, as a mirror's). In a checkout whose checked-out branch is `B` (git refuses to move
    it under the work tree) it lands in `refs/remotes/shipway/B` instead."""
    _check_url(url)
    if not is_ref_name(branch):
        raise ShipwayError(f"`{branch[:100]}` is not a branch name")
    dest = f"refs/heads/{branch}"
    bare = _git(repo, "rev-parse", "--is-bare-repository").stdout.strip() == b"true"
    if not bare and _git(repo, "symbolic-ref", "--quiet", "HEAD").stdout.strip() == dest.encode():
        dest = f"refs/remotes/shipway/{branch}"
    _remote(
        repo,
        ["fetch", "--no-tags", "--no-write-fetch-head", "--", url, f"+refs/heads/{branch}:{dest}"],
        url,
        timeout,
        f"git fetch of `{branch}` from",
    )
    sha = _git(repo, "rev-parse", "--verify", "--quiet", f"{dest}^{{commit}}")
    head = sha.stdout.decode().strip()
    if not is_sha(head):
        raise ShipwayError(f"fetched `{branch}` from `{mask_url(url)}` but `{dest}` is missing")
    return head
