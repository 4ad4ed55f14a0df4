"""`shipway plan` and `shipway rollback`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from shipway.app import App
from shipway.cli.common import err, handle_errors, json_option, print_json, repo_option
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
