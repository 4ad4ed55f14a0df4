"""`shipway build ENV --out DIR` and `shipway deploy ENV --from DIR`: a run's two halves."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from shipway.app import App
from shipway.cli.common import err, handle_errors, json_option, repo_option, terminate
from shipway.cli.decisions import report_run
from shipway.cli.progress import progress_for


@click.command()
@click.argument("env")
@click.option("--commit", default=None, help="Build this commit instead of the branch head.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="A new (or empty) folder for the builds.",
)
@repo_option
@json_option
@handle_errors
def build(env: str, commit: str | None, out: Path, repo: Path | None, as_json: bool) -> None:
    """Build every service of ENV as a run would (reusing what it can) into --out: the
    packages, build.json and summary.txt, for `shipway deploy ENV --from DIR`."""
    app = App(repo)
    signal.signal(signal.SIGTERM, terminate)
    with progress_for(sys.stderr) as progress:
        outcome, folder = app.build(env, commit, out, listener=progress, warn=progress.warn)
    if folder is not None and not as_json:
        err(f"builds in {folder}: {(folder / 'summary.txt').read_text().strip()}")
    report_run(app, outcome.run, as_json, [b for b in outcome.builds if b.error])


@click.command()
@click.argument("env")
@click.option(
    "--from",
    "folder",
    type=click.Path(path_type=Path),
    required=True,
    help="The folder `shipway build ENV --out` made.",
)
@repo_option
@json_option
@handle_errors
def deploy(env: str, folder: Path, repo: Path | None, as_json: bool) -> None:
    """Deploy ENV from the builds in --from (never rebuilding one), as a run's deploy: all
    services together, a release recorded."""
    app = App(repo)
    signal.signal(signal.SIGTERM, terminate)
    with progress_for(sys.stderr) as progress:
        outcome = app.deploy_from(env, folder, listener=progress, warn=progress.warn)
    report_run(app, outcome.run, as_json, [b for b in outcome.builds if b.error])
