"""`shipway token create / list / revoke` and `shipway audit`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from shipway.app import App
from shipway.auth import Role
from shipway.cli.common import err, handle_errors, json_option, print_json, repo_option
from shipway.cli.remote import remote_client
from shipway.usecases.audit import MAX_LIMIT


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group(name="token")
def token_group() -> None:
    """API tokens by role: create one (shown once), list them, revoke one."""


@token_group.command()
@click.option("--user", required=True, help="Whose token it is (approvers lists name users).")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option(
    "--env",
    "envs",
    multiple=True,
    help="Act only in this environment (repeat for several; default: every environment).",
)
@repo_option
@json_option
@handle_errors
def create(user: str, role: str, envs: tuple[str, ...], repo: Path | None, as_json: bool) -> None:
    """Make a token and print it, once: only its hash is kept."""
    created = App(repo).create_token(user, role, envs)
    record = created.record
    if as_json:
        print_json(created.as_dict())
    else:
        click.echo(created.token)
    where = ", ".join(record.envs) if record.envs else "every environment"
    err(
        f"token `{record.id}` for `{record.user}`, role {record.role.value}, in {where}: "
        "shown this once, keep it (SHIPWAY_TOKEN); `shipway token revoke "
        f"{record.id}` ends it"
    )


@token_group.command(name="list")
@repo_option
@json_option
@handle_errors
def list_(repo: Path | None, as_json: bool) -> None:
    """Every token: id, user, role, environments, created, last used, revoked."""
    found = App(repo).tokens()
    if as_json:
        print_json([t.as_dict() for t in found])
        return
    click.echo(
        f"{'id':<13} {'user':<20} {'role':<9} {'envs':<20} {'created':<19}  "
        f"{'last used':<19}  revoked"
    )
    for t in found:
        envs = ",".join(t.envs) or "*"
        click.echo(
            f"{t.id:<13} {t.user:<20} {t.role.value:<9} {envs:<20} {_when(t.created_at):<19}  "
            f"{_when(t.last_used_at):<19}  {_when(t.revoked_at)}"
        )


@token_group.command()
@click.argument("token_id", metavar="ID")
@repo_option
@handle_errors
def revoke(token_id: str, repo: Path | None) -> None:
    """Revoke token ID: it is refused from now on (its record stays, for the audit log)."""
    record, now = App(repo).revoke_token(token_id)
    if now:
        click.echo(f"revoked token `{record.id}` of `{record.user}` ({record.role.value})")
    else:
        click.echo(f"token `{record.id}` was already revoked at {_when(record.revoked_at)} UTC")


@click.command()
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, MAX_LIMIT),
    help="How many entries, newest first.",
)
@click.option("--env", default=None, help="Only this environment's entries.")
@repo_option
@json_option
@handle_errors
def audit(limit: int, env: str | None, repo: Path | None, as_json: bool) -> None:
    """Who did what, when, from where: every write and every refused attempt, newest first."""
    client = remote_client()
    if client is not None:
        found = client.call("GET", "/api/audit", query={"limit": limit, "env": env})
    else:
        found = [e.as_dict() for e in App(repo).audit(limit, env)]
    if as_json:
        print_json(found)
        return
    for e in found:
        target = e["target"] or ""
        where = " ".join(x for x in (target, f"in {e['env']}" if e["env"] else "") if x)
        click.echo(
            f"{_when(e['at'])}  {e['who']:<22} {e['action']:<13} {e['outcome']:<8} {where:<24} "
            f"{e['detail']}  ({e['origin']})"
        )
