"""`shipway hook install|github|post-receive`: how pushes reach the server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from shipway.app import App
from shipway.cli.common import err, handle_errors, repo_option
from shipway.errors import ShipwayError
from shipway.source.github import GITHUB_SECRET_FILE
from shipway.source.hooks import hook_secret, install_hook, parse_updates, post_updates

__all__ = ["hook_group"]

_HOOK_GIT_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
)


def _repository(repo: Path | None) -> Path | None:
    """A checkout's `.git` folder (the hook's git folder) stands for the checkout."""
    if repo is not None and repo.name == ".git" and (repo.parent / ".git").is_dir():
        return repo.parent
    return repo


@click.group(name="hook")
def hook_group() -> None:
    """The git hook that turns a push into a run."""


@hook_group.command(name="install")
@click.option("--force", is_flag=True, help="Replace a post-receive hook of another tool.")
@repo_option
@handle_errors
def install(force: bool, repo: Path | None) -> None:
    """Install the post-receive hook in the repository (bare or not) people push to: each
    push is reported to the `shipway serve` serving that repository."""
    app = App(_repository(repo))
    shipway = str(Path(sys.executable).with_name("shipway"))
    path = install_hook(app.repo, shipway, force=force)
    hook_secret(app.paths.home)  # made now, so the hook and the server read the same one
    click.echo(f"installed {path}: pushes start runs while `shipway serve --repo {app.repo}` runs")


@hook_group.command(name="github")
@repo_option
@handle_errors
def github(repo: Path | None) -> None:
    """What to enter in a GitHub repository's webhook settings (push events): the payload
    path on the server and the secret GitHub signs each delivery with (made on first use,
    kept in the state folder, 0600). Environments whose `source: {git: URL}` is that
    repository then run on its pushes."""
    app = App(_repository(repo))
    secret = hook_secret(app.paths.home, GITHUB_SECRET_FILE)
    server = app.server()
    base = str(server["url"]) if server else "https://<this server>"
    click.echo(f"Payload URL:  {base}/hooks/github")
    click.echo("Content type: application/json")
    click.echo(f"Secret:       {secret}")
    click.echo("Events:       just the push event")
    err("(the server must be reachable from GitHub: put an https:// proxy in front of it)")


@hook_group.command(name="post-receive", hidden=True)
@repo_option
@handle_errors
def post_receive(repo: Path | None) -> None:
    """Read git's `<old> <new> <ref>` lines and report them to the server. Never fails the
    push: every problem is a line on the pusher's terminal, and the exit status 0."""
    git_dir = os.environ.get("GIT_DIR")
    for name in _HOOK_GIT_VARIABLES:  # git's, for the hook: relative to the hook's folder
        os.environ.pop(name, None)
    if repo is None and git_dir:
        repo = Path(git_dir).resolve()
    try:
        updates = parse_updates(sys.stdin.read())
        app = App(_repository(repo))
        server = app.server()
        if server is None:
            err("shipway: no server serves this repository now: this push's runs start")
            err("shipway: when `shipway serve` starts (or `shipway run ENV` now)")
            return
        runs = post_updates(str(server["url"]), hook_secret(app.paths.home), updates)
    except ShipwayError as exc:
        err(f"shipway: the push was not reported: {exc}")
        return
    for run in runs:
        err(f"shipway: run {run.get('id')} {run.get('state')} for {run.get('env')}")
    if not runs:
        err("shipway: no environment follows the pushed branches")
