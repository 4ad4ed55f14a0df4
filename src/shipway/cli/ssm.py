"""`shipway ssm put / list / delete`: the local emulator's SSM parameters."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from shipway.app import App
from shipway.cli.common import err, handle_errors, json_option, print_json, repo_option
from shipway.targets.local.parameters import PARAMETER_TYPES
from shipway.usecases import ssm

_REGION_HELP = f"The parameter's region (default {ssm.DEFAULT_REGION}, the Framework's)."


@click.group(name="ssm")
def ssm_group() -> None:
    """SSM parameters of local environments: what their `${ssm:…}` reads."""


@ssm_group.command()
@click.argument("env")
@click.argument("name")
@click.argument("value", required=False)
@click.option("--secure", is_flag=True, help="A SecureString (its value is masked).")
@click.option(
    "--type",
    "type_",
    type=click.Choice(PARAMETER_TYPES),
    default=None,
    help="String (default), StringList or SecureString.",
)
@click.option("--region", default=ssm.DEFAULT_REGION, show_default=True, help=_REGION_HELP)
@repo_option
@handle_errors
def put(
    env: str,
    name: str,
    value: str | None,
    secure: bool,
    type_: str | None,
    region: str,
    repo: Path | None,
) -> None:
    """Put parameter NAME for local environment ENV (VALUE, or standard input: keep a
    secret out of your shell's history)."""
    if secure and type_ not in (None, "SecureString"):
        err(f"error: --secure and --type {type_} disagree")
        sys.exit(2)
    chosen = "SecureString" if secure else (type_ or "String")
    if value is None:
        value = _value_from_stdin(hide=chosen == "SecureString")
    app = App(repo)
    stored, served = ssm.put(app.repo, app.paths, app.store, env, name, value, chosen, region)
    where = "on the emulator now" if served else "on the emulator when `shipway serve` starts"
    click.echo(
        f"put {stored.type} {stored.name} ({stored.region}), version {stored.version}: {where}"
    )
    err(f"`${{ssm:{name}}}` is read when a release is planned: `shipway run {env}` deploys it")


@ssm_group.command(name="list")
@click.argument("env")
@click.option("--region", default=None, help="Only this region's.")
@repo_option
@json_option
@handle_errors
def list_(env: str, region: str | None, repo: Path | None, as_json: bool) -> None:
    """The parameters local environments read (SecureStrings shown as ***)."""
    app = App(repo)
    found = ssm.listing(app.repo, app.paths, env, region)
    if as_json:
        print_json(found)
        return
    if not found:
        err(f"no parameters: `shipway ssm put {env} NAME VALUE` puts one")
        return
    click.echo(f"{'region':<14} {'name':<40} {'type':<13} {'version':>7}  value")
    for p in found:
        click.echo(
            f"{p['region']:<14} {p['name']:<40} {p['type']:<13} {p['version']:>7}  {p['value']}"
        )


@ssm_group.command()
@click.argument("env")
@click.argument("name")
@click.option("--region", default=ssm.DEFAULT_REGION, show_default=True, help=_REGION_HELP)
@repo_option
@handle_errors
def delete(env: str, name: str, region: str, repo: Path | None) -> None:
    """Delete parameter NAME."""
    app = App(repo)
    if not ssm.delete(app.repo, app.paths, app.store, env, name, region):
        err(f"error: no parameter `{name}` in {region}")
        sys.exit(2)
    click.echo(f"deleted {name} ({region})")


def _value_from_stdin(hide: bool) -> str:
    if sys.stdin.isatty():
        entered: str = click.prompt("value", hide_input=hide)
        return entered
    # no more than SSM takes, and a little: a larger value is refused, not read whole
    text = sys.stdin.read(_MAX_READ)
    return text[:-1] if text.endswith("\n") else text  # `echo x |` adds one


_MAX_READ = 8 * 1024 + 2
