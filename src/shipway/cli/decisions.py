"""`shipway approve|reject|cancel|retry|show RUN`: what a person does to a run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from shipway.app import App, run_exit_code
from shipway.cli.common import err, handle_errors, json_option, print_json, repo_option
from shipway.cli.progress import progress_for
from shipway.cli.remote import Client, remote_client
from shipway.model import BuildResult, Run, RunState

__all__ = ["approve", "cancel", "print_run", "reject", "report_run", "retry", "show"]

comment_option = click.option("--comment", default=None, help="Why, for the audit log.")


def _report(app: App, run_id: str, as_json: bool) -> None:
    report_run(app, app.store.run(run_id), as_json, [])


def report_run(app: App, result: Run, as_json: bool, failed: list[BuildResult]) -> None:
    """The run's one-line result (or its JSON), then exit with its status."""
    jobs = [j.as_dict() for j in app.store.jobs(result.id)] if as_json else []
    lines = [f"  {build.service}: {build.error}" for build in failed]
    print_run(result.as_dict(), jobs, as_json, lines)


def print_run(doc: dict[str, Any], jobs: list[Any], as_json: bool, lines: list[str]) -> None:
    """A run (as its JSON document) reported: one line, or the document with its jobs; then
    the exit status of its state."""
    state = RunState(doc["state"])
    if as_json:
        print_json({**doc, "jobs": jobs})
    else:
        line = f"run {doc['id']} {state.value}: {doc['env']} at {doc['commit'][:12]}"
        if doc.get("release") is not None:
            line += f", release {doc['release']}"
        elif state == RunState.SUCCEEDED and doc.get("trigger") == "build":
            line += ", built (`shipway build` deploys nothing)"
        elif state == RunState.SUCCEEDED:
            line += ", no change (no new release)"
        if doc.get("error"):
            line += f" ({doc['error']})"
        click.echo(line)
        for text in lines:
            err(text)
    if state == RunState.AWAITING_APPROVAL:
        err(
            f"waiting for approval: `shipway approve {doc['id']}` or "
            f"`shipway reject {doc['id']}` (`shipway show {doc['id']}` says what it would do)"
        )
    elif doc.get("error") and not as_json:
        err(f"see `shipway logs {doc['id']}`")
    sys.exit(run_exit_code(state))


def _remote_run(client: Client, path: str, body: dict[str, Any] | None, as_json: bool) -> None:
    """POST to a run's route on the server, then report the run once it settles."""
    doc = client.call("POST", path, body if body is not None else {})
    shown = client.wait(doc["id"], for_end=False)
    print_run(shown, shown["jobs"], as_json, [])


@click.command()
@click.argument("run_id", metavar="RUN")
@comment_option
@repo_option
@json_option
@handle_errors
def approve(run_id: str, comment: str | None, repo: Path | None, as_json: bool) -> None:
    """Approve RUN, waiting for approval; without a server the run goes on here."""
    client = remote_client()
    if client is not None:
        return _remote_run(client, f"/api/runs/{run_id}/approve", {"comment": comment}, as_json)
    app = App(repo)
    with progress_for(sys.stderr) as progress:
        run = app.decide(run_id, True, comment, listener=progress)
    _report(app, run.id, as_json)


@click.command()
@click.argument("run_id", metavar="RUN")
@comment_option
@repo_option
@json_option
@handle_errors
def reject(run_id: str, comment: str | None, repo: Path | None, as_json: bool) -> None:
    """Reject RUN, waiting for approval: it ends `rejected` (exit 1)."""
    client = remote_client()
    if client is not None:
        return _remote_run(client, f"/api/runs/{run_id}/reject", {"comment": comment}, as_json)
    app = App(repo)
    run = app.decide(run_id, False, comment)
    _report(app, run.id, as_json)


@click.command()
@click.argument("run_id", metavar="RUN")
@repo_option
@json_option
@handle_errors
def cancel(run_id: str, repo: Path | None, as_json: bool) -> None:
    """Cancel RUN: a waiting one at once, a building one at its builds (a deploy in
    progress is never stopped halfway)."""
    client = remote_client()
    if client is not None:
        doc = client.call("POST", f"/api/runs/{run_id}/cancel")
    else:
        doc = App(repo).cancel(run_id).as_dict()
    if as_json:
        print_json(doc)
        return
    if RunState(doc["state"]).finished:
        click.echo(f"run {doc['id']} {doc['state']} ({doc['error']})")
    else:
        click.echo(f"run {doc['id']}: cancel asked; its builds stop now")


@click.command()
@click.argument("run_id", metavar="RUN")
@repo_option
@json_option
@handle_errors
def retry(run_id: str, repo: Path | None, as_json: bool) -> None:
    """Run a failed or interrupted RUN again from its failed stage."""
    client = remote_client()
    if client is not None:
        return _remote_run(client, f"/api/runs/{run_id}/retry", None, as_json)
    app = App(repo)
    with progress_for(sys.stderr) as progress:
        run = app.retry(run_id, listener=progress)
    _report(app, run.id, as_json)


@click.command()
@click.argument("run_id", metavar="RUN")
@repo_option
@json_option
@handle_errors
def show(run_id: str, repo: Path | None, as_json: bool) -> None:
    """A run: its stages, its approval (and what the run would do), its jobs."""
    client = remote_client()
    doc = client.call("GET", f"/api/runs/{run_id}") if client else App(repo).run_detail(run_id)
    if as_json:
        print_json(doc)
        return
    click.echo(f"run {doc['id']} {doc['state']}: {doc['env']} at {doc['commit'][:12]}")
    if doc.get("error"):
        click.echo(f"  {doc['error']}")
    if doc.get("waiting_for"):
        click.echo(f"  queued behind run {doc['waiting_for']}")
    for stage in doc["stages"]:
        why = f"  {stage['error']}" if stage.get("error") else ""
        click.echo(f"  {stage['stage']:<10} {stage['state']}{why}")
    approval = doc.get("approval")
    if approval:
        who = ", ".join(approval["approvers"]) or "any approver"
        state = approval["decision"] or "waiting"
        click.echo(f"approval before {approval['before']} ({who}): {state}")
        if approval.get("decided_by"):
            click.echo(f"  by {approval['decided_by']}: {approval.get('comment') or ''}")
        for row in approval.get("summary", {}).get("services", []):
            reasons = "; ".join(row.get("reasons", []))
            click.echo(f"  {row.get('service')}: {row.get('action')} {reasons}")
    for job in doc["jobs"]:
        if job["service"] != "*":
            click.echo(f"  {job['stage']:<8} {job['service']:<20} {job['state']}")
    if approval and not approval["decision"]:
        err(f"`shipway approve {doc['id']}` or `shipway reject {doc['id']}`")
