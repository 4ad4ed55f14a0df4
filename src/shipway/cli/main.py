"""`shipway`: thin commands over `App`. Exit status: 0 done, 1 the work failed, 2 bad input."""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

import click

from shipway import __version__
from shipway.app import DEFAULT_PORT, App
from shipway.cli.common import err as _err
from shipway.cli.common import handle_errors, json_option, repo_option, terminate
from shipway.cli.common import print_json as _print_json
from shipway.cli.decisions import approve, cancel, print_run, reject, report_run, retry, show
from shipway.cli.envs import env_group
from shipway.cli.export import export_group
from shipway.cli.handoff import build, deploy
from shipway.cli.hooks import hook_group
from shipway.cli.progress import progress_for
from shipway.cli.releases import plan, rollback
from shipway.cli.remote import SERVER_ENV, remote_client
from shipway.cli.ssm import ssm_group
from shipway.cli.tokens import audit, token_group
from shipway.errors import ShipwayError
from shipway.limits import MAX_DEPTH
from shipway.usecases.validate import ValidationFailed


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shipway")
def cli() -> None:
    """Build and launch serverless monorepos: every push to an environment's branch
    becomes a release."""


@cli.command()
@repo_option
@handle_errors
def init(repo: Path | None) -> None:
    """Write a shipway.yml for the services found, with dev/qa/prod environments."""
    path, found = App(repo).init()
    if found:
        _err(f"found {len(found)} service(s): " + ", ".join(found))
    else:
        _err(
            "found no serverless.yml in the repository (node_modules, .serverless and "
            "virtual environments are not searched): shipway.yml lists `services/*`"
        )
    click.echo(f"wrote {path}")


@cli.command()
@repo_option
@json_option
@handle_errors
def validate(repo: Path | None, as_json: bool) -> None:
    """Check shipway.yml, every serverless.yml, buildspec.yml and .env; list every problem."""
    try:
        done = App(repo).validation()
    except ValidationFailed as failed:
        if not as_json:
            for warning in failed.warnings:
                _err(f"warning: {warning}")
            raise
        _print_json(
            {
                "ok": False,
                "problems": [problem_dict(e) for e in failed.errors],
                "warnings": [problem_dict(w) for w in failed.warnings],
            }
        )
        sys.exit(2)
    if as_json:
        _print_json([s.__dict__ for s in done.services])
        return
    for s in done.services:
        deps = ", ".join(s.depends_on) or "-"
        click.echo(
            f"{s.name:<20} {s.path:<32} build: {s.build:<14} "
            f"functions: {s.functions:<3} depends on: {deps}"
        )
        for text in s.warnings:
            _err(f"warning: {text}" if text.startswith(s.path) else f"warning: {s.path}: {text}")
    for warning in done.warnings:  # not a service's: shipway.yml, the root .env
        if not any(str(warning) in s.warnings for s in done.services):
            _err(f"warning: {warning}")
    click.echo(f"ok: {len(done.services)} service(s)", err=True)


def problem_dict(error: ShipwayError) -> dict[str, Any]:
    """A problem as `validate --json` prints it: always the same keys."""
    where = error.where
    return {
        "file": where.file if where else None,
        "line": where.line if where else None,
        "key": where.key if where else None,
        "environment": error.environment,
        "message": error.message,
        "hint": error.hint,
    }


@cli.command()
@click.argument("env")
@click.option("--commit", default=None, help="Run this commit instead of the branch head.")
@click.option(
    "--wait", is_flag=True, help="Keep waiting while the run waits for an approval, to its end."
)
@click.option("--force", is_flag=True, help="Rebuild and redeploy every service.")
@repo_option
@json_option
@handle_errors
def run(
    env: str, commit: str | None, wait: bool, force: bool, repo: Path | None, as_json: bool
) -> None:
    """Run the pipeline for ENV: source, approval where asked, build every service, deploy
    them together. Without --wait it returns once the run waits for a person."""
    client = remote_client()
    if client is not None:  # the server drives it; this waits as a local run would
        body = {"env": env, "commit": commit, "force": force}
        queued = client.call("POST", "/api/runs", body)
        done = client.wait(queued["id"], for_end=wait)
        print_run(done, done["jobs"], as_json, [])
    app = App(repo)
    # SIGTERM (a CI job's timeout, `kill`) cancels like Ctrl-C: builds are stopped and the
    # run is recorded, instead of the process vanishing with its builds still running.
    signal.signal(signal.SIGTERM, terminate)
    with progress_for(sys.stderr) as progress:
        outcome = app.run(
            env, commit, listener=progress, force=force, wait=wait, warn=progress.warn
        )
    report_run(app, outcome.run, as_json, [b for b in outcome.builds if b.error])


@cli.command(name="print")
@click.argument("service")
@click.option("--env", "env", required=True, help="The environment (its name is the stage).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@repo_option
@handle_errors
def print_(service: str, env: str, fmt: str, repo: Path | None) -> None:
    """Print SERVICE's serverless.yml with every variable resolved for ENV."""
    click.echo(App(repo).print_service(service, env, fmt), nl=False)


@cli.command()
@click.argument("service")
@click.option("--env", "env", required=True, help="The environment (its name is the stage).")
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default="json")
@repo_option
@handle_errors
def synth(service: str, env: str, fmt: str, repo: Path | None) -> None:
    """Print the CloudFormation template for SERVICE in ENV (as `serverless package`)."""
    click.echo(App(repo).synth(service, env, fmt), nl=False)


@cli.command()
@click.argument("env", required=False)
@repo_option
@json_option
@handle_errors
def status(env: str | None, repo: Path | None, as_json: bool) -> None:
    """Environments x services: release, commit, state, URL."""
    client = remote_client()
    if client is None:
        data = App(repo).status(env)
    else:
        data = client.call("GET", "/api/status")
        if env is not None:
            if env not in data:
                raise ShipwayError(f"the server has no environment `{env}` this token sees")
            data = {env: data[env]}
    if as_json:
        _print_json(data)
        return
    for name, e in data.items():
        release = f"release {e['release']}" if e["release"] else "no release"
        commit = (e["commit"] or "")[:12]
        last = e["last_run"]
        last_text = f", last run {last['id']} {last['state']}" if last else ""
        click.echo(f"{name} ({e['target']}, branch {e['branch']}): {release} {commit}{last_text}")
        for sname, s in e["services"].items():
            url = s.get("url") or ""
            click.echo(f"  {sname:<20} {s['state']:<13} {(s['commit'] or '')[:12]:<12} {url}")
            if s.get("websocket"):
                click.echo(f"  {'':<20} {'':<13} {'':<12} {s['websocket']}")
    served = any(e["serving"] for e in data.values())
    has_urls = any(s.get("url") for e in data.values() for s in e["services"].values())
    if has_urls and not served:
        _err("(nothing is serving these URLs now: `shipway serve` starts the local runtime)")


@cli.command()
@click.argument("env", required=False)
@click.option("--limit", default=20, show_default=True)
@repo_option
@json_option
@handle_errors
def runs(env: str | None, limit: int, repo: Path | None, as_json: bool) -> None:
    """Run history, newest first."""
    client = remote_client()
    if client is not None:
        found = client.call("GET", "/api/runs", query={"env": env, "limit": limit})
    else:
        found = [r.as_dict() for r in App(repo).runs(env, limit)]
    if as_json:
        _print_json(found)
        return
    for r in found:
        release = f"release {r['release']}" if r["release"] is not None else ""
        why = f"({r['trigger']})" if r["trigger"].startswith("rollback") else ""
        note = "  ".join(t for t in (why, r["error"] or "") if t)
        click.echo(f"{r['id']:<12} {r['state']:<18} {r['commit'][:12]}  {release}  {note}")


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("--service", default=None, help="Only this service's log.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing as the run writes its logs.")
@repo_option
@handle_errors
def logs(run_id: str, service: str | None, follow: bool, repo: Path | None) -> None:
    """Print a run's log (every service, in order); --follow tails a running one."""
    client = remote_client()
    if client is not None:
        if follow:
            raise ShipwayError(
                "--follow reads the logs as they are written, on the server's machine",
                hint=f"without {SERVER_ENV}, there; or `shipway logs {run_id}` again",
            )
        query = {"service": service}
        click.echo(client.call("GET", f"/api/runs/{run_id}/logs", query=query), nl=False)
        return
    app = App(repo)
    if not follow:
        click.echo(app.logs(run_id, service), nl=False)
        return
    for line in app.follow_logs(run_id, service):
        click.echo(line)


@cli.command()
@click.argument("function")
@click.option("--env", "env", required=True, help="The environment whose release to call.")
@click.option("--data", default=None, help="The event, as JSON (default: {}).")
@repo_option
@handle_errors
def invoke(function: str, env: str, data: str | None, repo: Path | None) -> None:
    """Call a function deployed on the local target and print its result (SERVICE.FUNCTION
    or FUNCTION)."""
    payload = parse_event(data) if data is not None else {}
    ok, result = App(repo).invoke(function, env, payload)
    _print_json(result)
    if not ok:
        sys.exit(1)


# Lambda's limit for a synchronous invocation's payload, and a nesting no real event reaches
MAX_EVENT_BYTES = 6 * 1024 * 1024
MAX_EVENT_DEPTH = MAX_DEPTH
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def parse_event(data: str) -> Any:
    """`--data` as JSON, bounded in size and nesting (checked before it is parsed)."""
    size = len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_EVENT_BYTES:
        raise ShipwayError(
            f"--data is {size} bytes; an event is at most {MAX_EVENT_BYTES} bytes (as on Lambda)"
        )
    depth = deepest = 0
    for token in _JSON_TOKEN.finditer(data):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif bracket in "]}":
            depth -= 1
    if deepest > MAX_EVENT_DEPTH:
        raise ShipwayError(
            f"--data nests {deepest} levels deep; an event may nest at most {MAX_EVENT_DEPTH}"
        )
    try:
        event = json.loads(data, parse_constant=_not_json, parse_float=_finite)
        json.dumps(event, ensure_ascii=False).encode("utf-8")  # no lone surrogate (`\ud800`)
    except ValueError as exc:  # a number too long to convert, a bad escape …
        raise ShipwayError(f"--data is not valid JSON: {exc}") from None
    return event


def _not_json(name: str) -> Any:
    raise ValueError(f"`{name}` is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


@cli.command()
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, help="Port on 127.0.0.1 (0: any free port)."
)
@repo_option
@handle_errors
def serve(port: int, repo: Path | None) -> None:
    """Serve the latest release of every local environment at
    http://127.0.0.1:PORT/<env>/<service>/<path>."""
    from shipway.targets.local.emulator import Emulator

    emulator = Emulator(own_process=True)
    emulator.launch()  # moto loads in its own process while the web stack does here
    from shipway.web.serve import GatewayServer  # the web stack loads only to serve

    app = App(repo)
    server = GatewayServer(app.paths.home, port=port, repo=app.repo, emulator=emulator)
    _err(f"serving local environments at {server.url}/<env>/<service>/<path> (Ctrl-C stops)")
    server.run()


@cli.command()
@click.option("--no-serve", is_flag=True, help="Exit after the calls instead of serving.")
@click.option("--port", default=0, help="Port on 127.0.0.1 (default: any free port).")
@handle_errors
def demo(no_serve: bool, port: int) -> None:
    """The whole story on this machine: a sample monorepo, a dev run, live endpoints."""
    from shipway.cli.demo import run_demo

    sys.exit(run_demo(serve=not no_serve, port=port))


cli.add_command(env_group)
cli.add_command(ssm_group)
cli.add_command(export_group)
cli.add_command(build)
cli.add_command(deploy)
for command in (approve, reject, cancel, retry, show):
    cli.add_command(command)
cli.add_command(plan)
cli.add_command(rollback)
cli.add_command(token_group)
cli.add_command(hook_group)
cli.add_command(audit)


def main() -> None:
    from shipway.cli.entry import main as entry

    entry()  # the `shipway` command's entry (it sets the umask first)


if __name__ == "__main__":
    main()
