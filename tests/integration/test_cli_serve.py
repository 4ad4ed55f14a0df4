"""`shipway serve` and `shipway demo` as a user runs them: real processes, real HTTP."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from tests.conftest import commit_all, git
from tests.integration.cli import SHIPWAY, serving, shipway


def request(method: str, url: str, body: object = None) -> tuple[int, Message, str]:
    """(status, headers (case-insensitive), body text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


@pytest.fixture
def served(ledger_repo: Path) -> Iterator[tuple[Path, str]]:
    """The example deployed to dev and served by `shipway serve --port 0`."""
    assert shipway("run", "dev", repo=ledger_repo).returncode == 0
    with serving(ledger_repo) as (_, url):
        yield ledger_repo, url
    assert not (ledger_repo / ".shipway" / "server.json").exists()


def test_rest_and_http_api_routes_answer_as_api_gateway(served: tuple[Path, str]) -> None:
    _, url = served
    status, headers, body = request("GET", f"{url}/dev/accounts/accounts/acc-002")
    assert status == 200
    assert headers["X-Ledger"] == "accounts-dev"
    assert json.loads(body) == {
        "id": "acc-002",
        "owner": "Grace Hopper",
        "balance": 98050,
        "currency": "GBP",
    }
    status, _, body = request("POST", f"{url}/dev/accounts/accounts", {"owner": "Alan Turing"})
    assert status == 201 and json.loads(body)["owner"] == "Alan Turing"
    # httpApi: a bare dict result becomes a 200 JSON answer (payload v2)
    status, headers, body = request("GET", f"{url}/dev/payments/quote?amount=100.00")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["fee"] == "GBP 0.25"
    # the per-environment .env value reaches the function through serverless.yml
    status, _, body = request(
        "POST", f"{url}/dev/payments/payments", {"from": "a", "to": "b", "amount": "2000.00"}
    )
    assert status == 422 and "100000 pence" in body
    # REST: no such route; HTTP API: no such route
    assert request("GET", f"{url}/dev/accounts/nope")[0] == 403
    assert request("DELETE", f"{url}/dev/payments/quote")[0] == 404
    assert request("GET", f"{url}/qa/accounts/accounts")[0] in (403, 404)


def test_a_new_release_is_served_without_a_restart(served: tuple[Path, str]) -> None:
    repo, url = served
    assert json.loads(request("GET", f"{url}/dev/notifications/health")[2]) == {
        "ok": True,
        "stage": "dev",
    }
    git(repo, "checkout", "-q", "dev")
    notify = repo / "services/notifications/notify.py"
    notify.write_text(notify.read_text().replace('"ok": True', '"ok": "v2"'))
    commit_all(repo, "v2")
    assert shipway("run", "dev", repo=repo).returncode == 0
    assert json.loads(request("GET", f"{url}/dev/notifications/health")[2])["ok"] == "v2"
    status = json.loads(shipway("status", "dev", "--json", repo=repo).stdout)
    assert status["dev"]["release"] == 2 and status["dev"]["serving"] is True
    assert status["dev"]["services"]["notifications"]["url"] == f"{url}/dev/notifications"


def test_demo_runs_the_whole_story_offline() -> None:
    proc = subprocess.run(
        [SHIPWAY, "demo", "--no-serve"],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "run dev-1 succeeded: release 1" in out
    assert '-> 200 {"id": "acc-001", "owner": "Ada Lovelace"' in out
    assert '-> 201 {"id": "pay-' in out and '"status": "pending"' in out
    # settled through payments' queue and table on the emulator; notifications reads it
    assert '"status": "settled", "settled_at":' in out and "to acc-002: settled." in out
    assert "/dev/payments" in out


def test_unchanged_services_keep_their_warm_workers_across_releases(
    served: tuple[Path, str],
) -> None:
    repo, url = served
    opened = request("POST", f"{url}/dev/accounts/accounts", {"owner": "First"})
    assert json.loads(opened[2])["id"] == "acc-003"
    git(repo, "checkout", "-q", "dev")
    notify = repo / "services/notifications/notify.py"
    notify.write_text(notify.read_text().replace('"ok": True', '"ok": "v3"'))
    commit_all(repo, "notifications only")
    assert shipway("run", "dev", repo=repo).returncode == 0
    assert json.loads(request("GET", f"{url}/dev/notifications/health")[2])["ok"] == "v3"
    # accounts did not change: the same warm worker answers, with its in-memory state
    again = request("POST", f"{url}/dev/accounts/accounts", {"owner": "Second"})
    assert json.loads(again[2])["id"] == "acc-004"
