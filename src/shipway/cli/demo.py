"""`shipway demo`: the whole story on this machine, offline.

Copies the example monorepo into a fresh git repository with `dev`, `qa` and `main`
branches, runs the dev pipeline, starts the local runtime, calls two endpoints and prints
what they answer, then keeps serving until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

from shipway.app import App
from shipway.cli.progress import progress_for
from shipway.errors import ShipwayError
from shipway.web.serve import GatewayServer


def example_repository() -> Path:
    """The bundled example (`examples/ledger` beside the package source)."""
    configured = os.environ.get("SHIPWAY_EXAMPLES")
    candidates = [Path(configured)] if configured else []
    here = Path(__file__).resolve()
    candidates += [parent / "examples" for parent in here.parents]
    for base in candidates:
        if (base / "ledger" / "shipway.yml").is_file():
            return base / "ledger"
    raise ShipwayError(
        "the example repository `examples/ledger` was not found", hint="set SHIPWAY_EXAMPLES"
    )


def make_repository(dest: Path) -> Path:
    """A git repository holding the example, with one commit on dev, qa and main."""
    shutil.copytree(
        example_repository(), dest, ignore=shutil.ignore_patterns(".shipway", "__pycache__")
    )
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Shipway Demo",
        "GIT_AUTHOR_EMAIL": "demo@shipway.invalid",
        "GIT_COMMITTER_NAME": "Shipway Demo",
        "GIT_COMMITTER_EMAIL": "demo@shipway.invalid",
    }
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "ledger: accounts, payments, notifications"],
        ["branch", "dev"],
        ["branch", "qa"],
    ):
        subprocess.run(["git", "-C", str(dest), *args], check=True, env=env, capture_output=True)
    return dest


def _call(method: str, url: str, body: dict[str, object] | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _show_settled(base: str, payment: str) -> None:
    """The payment after payments' queue consumer settled it in its table (on the local AWS
    emulator), and the receipt notifications renders from that table."""
    url = f"{base}/dev/payments/payments/{payment}"
    deadline = time.monotonic() + 15
    status, text = _call("GET", url)
    while status == 200 and '"settled"' not in text and time.monotonic() < deadline:
        time.sleep(0.2)
        status, text = _call("GET", url)
    click.echo(f"   GET {url}   (settled from the queue)\n   -> {status} {text}")
    receipt = f"{base}/dev/notifications/receipts/{payment}"
    status, text = _call("GET", receipt)
    click.echo(f"   GET {receipt}   (a sibling reads the table)\n   -> {status} {text}")


def run_demo(serve: bool = True, port: int = 0) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shipway-demo-"))
    repo = make_repository(workdir / "ledger")
    click.echo(f"1. A monorepo with three services, committed to dev, qa and main: {repo}")
    app = App(repo)
    services = app.validate()
    click.echo(
        f"2. `shipway validate`: {len(services)} services ok "
        f"({', '.join(s.name for s in services)})"
    )
    click.echo("3. `shipway run dev`: source -> build (in parallel) -> deploy together")
    sys.stdout.flush()
    with progress_for(sys.stdout) as progress:
        outcome = app.run("dev", listener=progress)
    if outcome.run.error:
        click.echo(f"   run {outcome.run.id} {outcome.run.state.value}: {outcome.run.error}")
        return 1
    click.echo(f"   run {outcome.run.id} {outcome.run.state.value}: release {outcome.run.release}")

    server = GatewayServer(app.paths.home, port=port)
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    base = server.url
    click.echo(f"4. The local runtime serves the release at {base}/dev/<service>/<path>")
    calls: list[tuple[str, str, dict[str, object] | None]] = [
        ("GET", f"{base}/dev/accounts/accounts/acc-001", None),
        (
            "POST",
            f"{base}/dev/payments/payments",
            {"from": "acc-001", "to": "acc-002", "amount": "12.50"},
        ),
        ("GET", f"{base}/dev/payments/quote?amount=250.00", None),
    ]
    created = None
    for method, url, body in calls:
        status, text = _call(method, url, body)
        click.echo(f"   {method} {url}\n   -> {status} {text}")
        if status == 201 and "/payments/" in url:
            created = json.loads(text)["id"]
    if created is not None:
        _show_settled(base, created)
    status_doc = app.status("dev")["dev"]
    click.echo("5. `shipway status dev`:")
    for name, s in status_doc["services"].items():
        click.echo(f"   {name:<14} {s['state']:<10} {(s['commit'] or '')[:12]}  {s.get('url', '')}")
    click.echo(f"   Try: shipway invoke accounts.listAccounts --env dev --repo {repo}")
    try:
        if serve:
            click.echo(f"Serving {base}/dev/... until Ctrl-C.")
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.stop()
        thread.join(10)
    return 0
