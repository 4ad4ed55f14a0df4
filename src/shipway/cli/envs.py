"""`shipway env list / add / remove`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from shipway.app import App
from shipway.cli.common import err, handle_errors, json_option, print_json, repo_option
from shipway.errors import ShipwayError, WorkFailed
from shipway.model import AwsTarget
from shipway.usecases import envs


@click.group(name="env")
def env_group() -> None:
    """Environments: list them, add one to shipway.yml, remove one."""


@env_group.command(name="list")
@repo_option
@json_option
@handle_errors
def list_(repo: Path | None, as_json: bool) -> None:
    """Every environment: branch, target, stage, approval."""
    found = envs.listing(App(repo).repo)
    if as_json:
        print_json(found)
        return
    click.echo(f"{'name':<16} {'branch':<20} {'target':<18} {'stage':<16} approval")
    for e in found:
        target = f"aws {e['region']}" if e["target"] == "aws" else e["target"]
        approval = f"before {e['approval']}" if e["approval"] else "-"
        click.echo(f"{e['name']:<16} {e['branch']:<20} {target:<18} {e['stage']:<16} {approval}")


@env_group.command()
@click.argument("name")
@click.option("--branch", required=True, help="The branch whose pushes it deploys.")
@click.option("--from", "copy_from", default=None, help="Copy this environment's block.")
@click.option("--target", type=click.Choice(["local", "aws"]), default=None)
@click.option("--region", default=None, help="The AWS region (with --target aws).")
@repo_option
@handle_errors
def add(
    name: str,
    branch: str,
    copy_from: str | None,
    target: str | None,
    region: str | None,
    repo: Path | None,
) -> None:
    """Add environment NAME, following --branch, to shipway.yml (comments kept)."""
    app = App(repo)
    added = envs.add(app.repo, name, branch, copy_from=copy_from, target=target, region=region)
    env = added.environment
    where = f"aws {env.target.region}" if isinstance(env.target, AwsTarget) else "local"
    source = f", copied from `{added.copied_from}`" if added.copied_from else ""
    click.echo(f"added environment `{name}` (branch {env.branch}, {where}{source}) to shipway.yml")
    files = ", ".join(f + ("" if exists else " (absent)") for f, exists in added.env_files)
    click.echo(f"it reads: {files}")
    if added.copied_from:
        err(
            f"note: `.env.{added.copied_from}` files are not read by `{name}`: "
            f"copy them to `.env.{name}` where it needs the same values"
        )
    err(f"commit shipway.yml, then `shipway run {name}`")


@env_group.command(name="remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--forget", is_flag=True, help="Also remove its block from shipway.yml.")
@repo_option
@handle_errors
def remove(name: str, yes: bool, forget: bool, repo: Path | None) -> None:
    """Delete environment NAME's stacks and state (its run history stays)."""
    app = App(repo)
    plan = envs.removal(app.repo, app.store, app.paths, name)
    what = [f"stacks {', '.join(plan.stacks)}"] if plan.stacks else []
    what.append(f"{len(plan.releases)} release(s) and its state on this machine")
    if forget:
        what.append("its block in shipway.yml")
    summary = f"remove environment `{name}`: {'; '.join(what)}"
    if not yes:
        if not sys.stdin.isatty():
            raise ShipwayError(f"{summary}: not asked at a terminal", hint="pass --yes")
        if not click.confirm(f"{summary}?", default=False, err=True):
            err("nothing removed")
            sys.exit(1)
    _, result = envs.remove(app.repo, app.store, app.paths, name, forget=forget)
    if not result.ok:
        for s in result.services:
            if s.outcome.value == "failed":
                err(f"  {s.service}: {s.message}")
        raise WorkFailed(f"environment `{name}` was not removed: {result.error}")
    deleted = f"deleted {', '.join(plan.stacks)}; " if plan.stacks else ""
    forgot = "; its block left shipway.yml" if forget else ""
    click.echo(f"removed environment `{name}`: {deleted}its releases and state{forgot}")
    err("its runs and logs stay in the history (`shipway runs`)")
