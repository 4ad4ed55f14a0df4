"""`shipway plan` and `shipway rollback`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from shipway.app import App, run_exit_code
from shipway.cli.common import err, handle_errors, json_option, print_json, repo_option
from shipway.cli.decisions import print_run
from shipway.cli.remote import remote_client
from shipway.usecases.plan import plan_environment


@click.command()
@click.argument("env")
@click.option("--commit", default=None, help="Plan this commit instead of the branch head.")
@repo_option
@json_option
@handle_errors
def plan(env: str, commit: str | None, repo: Path | None, as_json: bool) -> None:
    """What `shipway run ENV` would change, and why: nothing is built or deployed."""
    app = App(repo)
    sha = app.resolve_run_commit(env, commit)
    data = plan_environment(app.repo, app.paths, app.store, env, sha)
    if as_json:
        print_json(data)
        return
    _print_plan(data)


def _print_plan(data: dict[str, Any]) -> None:
    where = f"aws {data['region']}" if data["target"] == "aws" else data["target"]
    since = (
        f"since release {data['release']} ({data['release_commit'][:12]})"
        if data["release"]
        else "no release yet"
    )
    count = len(data["commits"]) if data["commits"] is not None else "?"
    commits = f", {count} commit(s)" if data["release"] else ""
    click.echo(f"plan for {data['env']} ({where}) at {data['commit'][:12]}: {since}{commits}")
    click.echo(f"  {'service':<20} {'action':<10} {'commits':<8} why")
    for s in data["services"]:
        touched = "-" if s["commits"] is None else str(len(s["commits"]))
        why = "; ".join(s["reasons"])
        click.echo(f"  {s['service']:<20} {s['action']:<10} {touched:<8} {why}")
        for c in s["resource_changes"]:
            note = {"True": " (replacement)", "Conditional": " (may be replaced)"}
            extra = note.get(c["replacement"], "")
            click.echo(f"      {c['action']:<7} {c['logical_id']} {c['resource_type']}{extra}")
    changed = data["changes"]
    err(f"{changed} service(s) would change; nothing was built or deployed")


@click.command()
@click.argument("env")
@click.option(
    "--to",
    "to",
    type=int,
    default=None,
    help="The release to deploy again (default: the one before the current).",
)
@repo_option
@json_option
@handle_errors
def rollback(env: str, to: int | None, repo: Path | None, as_json: bool) -> None:
    """Deploy an earlier release of ENV again, as a new release."""
    client = remote_client()
    if client is not None:
        doc = client.call("POST", f"/api/envs/{env}/rollback", {"to": to})
        print_run(doc, doc.get("jobs", []), as_json, [])
    app = App(repo)
    done = app.rollback(env, to)
    run = done.run
    if as_json:
        jobs = [j.as_dict() for j in app.store.jobs(run.id)]
        print_json({**run.as_dict(), "rolled_back_to": done.to.number, "jobs": jobs})
    else:
        line = f"run {run.id} {run.state.value}: {env} rolled back to release {done.to.number}"
        line += f" (commit {done.to.commit[:12]})"
        if run.release is not None:
            line += f", now release {run.release}"
        click.echo(line)
        for s in done.result.services:
            click.echo(f"  {s.service:<20} {s.outcome.value:<10} {s.message}")
        if run.error:
            err(run.error)
    sys.exit(run_exit_code(run.state))
