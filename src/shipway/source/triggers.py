"""Which environments a push starts: branch globs and paths filters, as CodePipeline V2's
push triggers decide (pure: no git, no I/O; the changed files come from a callable).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shipway.config.globs import glob_match
from shipway.model import Environment

__all__ = [
    "ZERO_SHA",
    "RefUpdate",
    "branch_matches",
    "env_source_kind",
    "environments_for_push",
    "is_deletion",
    "moved_branches",
    "paths_match",
    "remote_of",
]

ZERO_SHA = "0" * 40
HEADS = "refs/heads/"
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class RefUpdate:
    """One ref a push moved, as git's post-receive hook and GitHub's push event say it:
    `old` is all zeros for a new ref, `new` all zeros for a deleted one."""

    ref: str
    old: str
    new: str

    @property
    def branch(self) -> str | None:
        """The branch name of a `refs/heads/…` ref; None for tags and every other ref."""
        if self.ref.startswith(HEADS) and len(self.ref) > len(HEADS):
            return self.ref[len(HEADS) :]
        return None

    def as_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "old": self.old, "new": self.new}


def is_sha(value: str) -> bool:
    """A full 40-hex commit id (lower case, as git prints them)."""
    return bool(_SHA.match(value))


def is_deletion(sha: str) -> bool:
    return bool(sha) and set(sha) == {"0"}


def branch_matches(pattern: str, branch: str) -> bool:
    """Whether `branch` is one an environment's `branch:` (a name or a glob) watches.

    CodePipeline's glob rules (config/globs.py): `feature/*` matches `feature/login` and not
    `feature/a/b`; `release/**` matches any depth; `?`, `[0-9]`, `[!x]`, `{qa,staging}`."""
    return pattern == branch or glob_match(pattern, branch)


def paths_match(include: Sequence[str], exclude: Sequence[str], changed: Sequence[str]) -> bool:
    """Whether the files a push changed pass an environment's `paths: {include, exclude}`.

    A file that matches an exclude never counts. With includes, at least one changed file
    must match an include (and no exclude); with only excludes, at least one changed file
    must be left once the excluded ones are dropped; with neither, every push passes.

    No changed files (a push whose commits change nothing, such as an empty merge) with any
    filter set: no run. CodePipeline evaluates a push's file path filter against the files
    the push changed, and starts the pipeline only when one of them satisfies it; when there
    are none, no file can, so a filtered trigger does not fire. A trigger without file path
    filters starts on any push to its branches, and so does an environment without `paths`.
    """
    if not include and not exclude:
        return True
    for path in changed:
        if any(glob_match(p, path) for p in exclude):
            continue
        if not include or any(glob_match(p, path) for p in include):
            return True
    return False


def remote_of(env: Environment) -> str | None:
    """The git URL an environment watches (`source: {git: URL}`), or None when it builds
    from the repository the server runs in."""
    source = env.source or {}
    url = source.get("git")
    return url if isinstance(url, str) and url else None


def env_source_kind(env: Environment) -> str:
    """`repository` (the server's own: its hook), `git` (a remote) or `s3` (an object)."""
    source = env.source or {}
    return "git" if source.get("git") else "s3" if source.get("s3") else "repository"


def environments_for_push(
    environments: Mapping[str, Environment],
    ref: str,
    old: str,
    new: str,
    changed: Callable[[], Sequence[str]],
    *,
    remote: bool = False,
) -> list[str]:
    """The names of the environments (in shipway.yml's order) a push of `ref` from `old` to
    `new` starts.

    Only branches start runs: a tag or any other ref starts nothing, and so does a deleted
    branch (`new` all zeros). Every environment whose `branch:` matches is started, each on
    its own, as each CodePipeline pipeline's trigger decides alone. `changed()` (the files
    the push changed, `/`-separated, relative to the repository root) is called at most
    once, and only when a matching environment has a `paths` filter.

    `remote=False` (a push to the server's own repository: the post-receive hook) considers
    the environments without `source: {git: URL}`; `remote=True` (a GitHub webhook: a
    watched remote moved) those with one — the server then fetches each from its own URL.
    """
    branch = RefUpdate(ref, old, new).branch
    if branch is None or is_deletion(new):
        return []
    files: Sequence[str] | None = None
    out: list[str] = []
    for env in environments.values():
        if remote_of(env) is None if remote else env_source_kind(env) != "repository":
            continue
        if not branch_matches(env.branch, branch):
            continue
        if env.paths_include or env.paths_exclude:
            if files is None:
                files = changed()
            if not paths_match(env.paths_include, env.paths_exclude, files):
                continue
        out.append(env.name)
    return out


def moved_branches(seen: Mapping[str, str], now: Mapping[str, str]) -> list[RefUpdate]:
    """The updates that take a source from the branch heads `seen` to those it has `now`
    (branch -> sha each): a moved branch from its old head, a new one from nothing. A
    branch that is gone is no update: a deletion starts nothing."""
    return [
        RefUpdate(HEADS + branch, seen.get(branch, ZERO_SHA), sha)
        for branch, sha in sorted(now.items())
        if seen.get(branch) != sha
    ]
