"""The post-receive hook's program: read git's `<old> <new> <ref>` lines and report them to
the server serving the repository. It runs on every push, so it imports only what it needs
(no click, no App: about a quarter of the start-up of `shipway`), and never fails the push:
every problem is a line on the pusher's terminal, and the exit status is 0.

Installed hooks run `python -m shipway.cli.post_receive --repo GIT_FOLDER`;
`shipway hook post-receive` (hooks installed by earlier versions) runs the same `report`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from shipway.errors import ShipwayError
from shipway.pipeline.paths import StatePaths, running_server
from shipway.source.git import repository_root
from shipway.source.hooks import hook_secret, parse_updates, post_updates

__all__ = ["checkout_of", "report"]

_HOOK_GIT_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
)


def _say(text: str) -> None:
    print(f"shipway: {text}", file=sys.stderr)


def checkout_of(repo: Path | None) -> Path | None:
    """A checkout's `.git` folder (the hook's git folder) stands for the checkout."""
    if repo is not None and repo.name == ".git" and (repo.parent / ".git").is_dir():
        return repo.parent
    return repo


def report(repo: Path | None, lines: str, server_url: str | None = None) -> None:
    """Report `lines` to `server_url` (as `hook install --server` wrote it), else to the
    server this machine runs for the repository's state directory."""
    git_dir = os.environ.get("GIT_DIR")
    for name in _HOOK_GIT_VARIABLES:  # git's, for the hook: relative to the hook's folder
        os.environ.pop(name, None)
    if repo is None and git_dir:
        repo = Path(git_dir).resolve()
    try:
        updates = parse_updates(lines)
        root = repository_root(checkout_of(repo or Path.cwd()) or Path.cwd())
        home = StatePaths.for_repo(root).home
        server = {"url": server_url} if server_url else running_server(home)
        if server is None:
            _say("no server serves this repository now: this push's runs start")
            _say("when `shipway serve` starts (or `shipway run ENV` now)")
            return
        runs = post_updates(str(server["url"]), hook_secret(home), updates)
    except ShipwayError as exc:
        _say(f"the push was not reported: {exc}")
        return
    for run in runs:
        _say(f"run {run.get('id')} {run.get('state')} for {run.get('env')}")
    if not runs:
        _say("no environment follows the pushed branches")


def main(argv: list[str]) -> int:
    def option(name: str) -> str | None:
        return argv[argv.index(name) + 1] if name in argv[:-1] else None

    repo = option("--repo")
    try:
        report(Path(repo) if repo else None, sys.stdin.read(), option("--server"))
    except Exception as exc:  # a push never fails because of Shipway
        _say(f"the push was not reported: {type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
