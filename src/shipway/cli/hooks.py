"""`shipway hook install|github|post-receive`: how pushes reach the server."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from shipway.app import App
from shipway.cli.common import err, handle_errors, repo_option
from shipway.cli.post_receive import checkout_of, report
from shipway.cli.remote import checked_server_url
from shipway.errors import ShipwayError
from shipway.source.github import GITHUB_SECRET_FILE
from shipway.source.hooks import hook_secret, install_hook

__all__ = ["hook_group"]


@click.group(name="hook")
def hook_group() -> None:
    """The git hook that turns a push into a run."""


@hook_group.command(name="install")
@click.option("--force", is_flag=True, help="Replace a post-receive hook of another tool.")
@click.option(
    "--server",
    "server_url",
    default=None,
    help="Report pushes to this server's URL (default: the `shipway serve` this machine runs"
    " for the repository).",
)
@click.option(
    "--bare",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The bare repository people push to (the same as --repo).",
)
@repo_option
@handle_errors
def install(force: bool, server_url: str | None, bare: Path | None, repo: Path | None) -> None:
    """Install the post-receive hook in the repository (bare or not) people push to: each
    push is reported to the `shipway serve` serving that repository."""
    if bare is not None and repo is not None and bare != repo:
        raise ShipwayError("--bare and --repo name different repositories: give one")
    app = App(checkout_of(repo or bare))
    command = f"{shlex.quote(sys.executable)} -m shipway.cli.post_receive"
    if server_url is not None:
        command += f" --server {shlex.quote(checked_server_url(server_url, '--server'))}"
    path = install_hook(app.repo, command, force=force)
    hook_secret(app.paths.home)  # made now, so the hook and the server read the same one
    if server_url is not None:
        click.echo(f"installed {path}: pushes are reported to {server_url.rstrip('/')}")
    else:
        click.echo(
            f"installed {path}: pushes start runs while `shipway serve --repo {app.repo}` runs"
        )


@hook_group.command(name="github")
@repo_option
@handle_errors
def github(repo: Path | None) -> None:
    """What to enter in a GitHub repository's webhook settings (push events): the payload
    path on the server and the secret GitHub signs each delivery with (made on first use,
    kept in the state folder, 0600). Environments whose `source: {git: URL}` is that
    repository then run on its pushes."""
    app = App(checkout_of(repo))
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
def post_receive(repo: Path | None) -> None:
    """Report git's `<old> <new> <ref>` lines to the server (hooks installed by earlier
    versions call this; new ones run shipway.cli.post_receive directly). Never fails."""
    report(repo, sys.stdin.read())
