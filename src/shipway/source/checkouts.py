"""Reusable checkouts of a repository's commits: a run's workspace is a folder kept from an
earlier run, brought to the commit by writing only the files that differ.

A clean export writes every tracked file (8,000 files cost seconds where creating a file
costs a millisecond), while a run of a commit close to the last one needs a few. Each
folder (a slot) has its own index file outside the folder, so git knows what it last wrote
and compares by stat: `read-tree --reset -u` rewrites what differs from the commit (a build
may have changed tracked files) and removes what the commit does not hold, `clean -ffdx`
removes everything untracked (a build's outputs, links it planted). The folder then holds
exactly the commit's tracked files, as an export would, at the cost of what changed.

A slot belongs to one user at a time (an exclusive `flock` on its lock file, released when
the process ends, even by kill -9); overlapping runs take different slots. Nothing git
reads for this comes from the folder: the git directory and the index live outside it, and
the user's hooks, fsmonitor and sparse-checkout settings are switched off.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
from pathlib import Path

from shipway.errors import ShipwayError

__all__ = ["Checkout", "CheckoutPool", "remove_tree", "wipe_idle"]

MAX_SLOTS = 64  # overlapping runs of one repository: more waits would be a queue, not a pool
_GIT_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.sparseCheckout=false",
    "core.sparseCheckoutCone=false",
    "index.sparse=false",
    "core.untrackedCache=false",
    "advice.detachedHead=false",
)


class CheckoutPool:
    """The slots of `repo` below `root` (a private folder of the state directory)."""

    def __init__(self, repo: Path, root: Path, private: tuple[str, ...] = ()) -> None:
        """`private`: git glob pathspecs of tracked files (secrets: `**/.env`) that a slot
        no one holds does not keep; the next `update` writes them again."""
        self.repo = repo
        self.root = root
        self.private = private
        self._git_dir: str | None = None

    def take(self) -> Checkout:
        """A slot no one else holds (made if needed), locked until `release()`."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for n in range(MAX_SLOTS):
            fd = os.open(self.root / f"{n}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return Checkout(self, n, fd)
        raise ShipwayError(
            f"{MAX_SLOTS} runs of this repository are already running",
            hint="wait for one to end",
        )

    def git_dir(self) -> str:
        if self._git_dir is None:
            out = subprocess.run(
                ["git", "-C", str(self.repo), "rev-parse", "--absolute-git-dir"],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                env=_git_env(),
            )
            if out.returncode != 0:
                raise ShipwayError(f"`{self.repo}` is not a git repository: {out.stderr.strip()}")
            self._git_dir = out.stdout.strip()
        return self._git_dir


class Checkout:
    """One slot: `folder` holds a commit's files after `update(sha)`."""

    def __init__(self, pool: CheckoutPool, number: int, lock_fd: int) -> None:
        self.pool = pool
        self.folder = pool.root / str(number)
        self.index = pool.root / f"{number}.index"
        self._lock_fd: int | None = lock_fd
        self._commit: str | None = None  # what the folder holds, when known to be clean

    def update(self, sha: str) -> Path:
        """The folder with exactly the tracked files of commit `sha`; returns it."""
        try:
            self._sync(sha)
        except ShipwayError:
            # whatever a build left that git cannot undo (a folder it made unreadable, a
            # broken index): start again from an empty folder
            self._wipe()
            self._sync(sha)
        self._commit = sha
        return self.folder

    def release(self) -> None:
        """Back to the commit's files alone (removing what builds wrote), then unlocked."""
        if self._lock_fd is None:
            return
        try:
            if self.index.exists():
                try:
                    self._git("clean", "-ffdxq")
                    self._git("read-tree", "--reset", "-u", self._commit or self._tree())
                    self._git("clean", "-ffdxq")
                    self._remove_private()
                except ShipwayError:
                    self._wipe()
        finally:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ git

    def _sync(self, sha: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.index.exists():
            # first what is untracked (a planted .gitattributes would steer the checkout)
            self._git("clean", "-ffdxq")
        self._git("read-tree", "--reset", "-u", sha)
        self._git("clean", "-ffdxq")

    def _remove_private(self) -> None:
        if not self.pool.private:
            return
        specs = [f":(glob){p}" for p in self.pool.private]
        for rel in self._git("ls-files", "-z", "--", *specs).split("\0"):
            if rel:
                (self.folder / rel).unlink(missing_ok=True)

    def _tree(self) -> str:
        """The tree the index holds (what the folder was last brought to)."""
        return self._git("write-tree").strip()

    def _git(self, *args: str) -> str:
        command = ["git", f"--git-dir={self.pool.git_dir()}", f"--work-tree={self.folder}"]
        for setting in _GIT_CONFIG:
            command += ["-c", setting]
        out = subprocess.run(
            [*command, *args],
            capture_output=True,
            text=True,
            errors="replace",
            stdin=subprocess.DEVNULL,
            cwd=self.folder,
            env={**_git_env(), "GIT_INDEX_FILE": str(self.index)},
        )
        if out.returncode != 0:
            raise ShipwayError(f"could not export the commit: git {args[0]}: {out.stderr.strip()}")
        return out.stdout

    def _wipe(self) -> None:
        self.index.unlink(missing_ok=True)
        remove_tree(self.folder)
        self._commit = None


def wipe_idle(root: Path) -> None:
    """Every slot below `root` no one holds emptied (after a killed run: what its builds
    wrote does not stay until the next run, which writes the commit afresh)."""
    for n in range(MAX_SLOTS):
        lock = root / f"{n}.lock"
        if not lock.exists():
            continue
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            (root / f"{n}.index").unlink(missing_ok=True)
            remove_tree(root / str(n))
        finally:
            os.close(fd)


def remove_tree(folder: Path) -> None:
    """`folder` and everything below it, also what a build made unreadable or unwritable
    (links are removed, never followed)."""

    def writable_again(_func: object, path: str, _exc: object) -> None:
        parent = os.path.dirname(path)
        try:
            os.chmod(parent, stat.S_IRWXU)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass

    if folder.is_symlink():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder, onerror=writable_again)


def _git_env() -> dict[str, str]:
    """This process's environment without the GIT_* variables a caller may have set (they
    would point git at another repository, index or work tree)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
