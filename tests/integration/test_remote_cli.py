"""The CLI as a remote client: with SHIPWAY_SERVER and SHIPWAY_TOKEN, commands run from a
folder that holds no repository ask the server (a bare repository's, as a team runs it),
act as the token's user within its role, and exit as they would locally."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import git
from tests.integration.cli import (
    ECHO_BUILD,
    SHIPWAY,
    one_service_files,
    serving,
    shipway,
    shipway_json,
)

SHIPWAY_YML = """project: slow
environments:
  dev:
    branch: dev
    approval: {before: build, approvers: [lead]}
"""


def remote(
    where: Path, url: str | None, token: str | None, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPWAY_")}
    if url is not None:
        env["SHIPWAY_SERVER"] = url
    if token is not None:
        env["SHIPWAY_TOKEN"] = token
    return subprocess.run(
        [SHIPWAY, *args],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def server(
    make_repo: Callable[..., Path], tmp_path: Path
) -> Iterator[tuple[str, dict[str, str], Path]]:
    files = {**one_service_files(ECHO_BUILD), "shipway.yml": SHIPWAY_YML}
    source = make_repo(files)
    bare = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(bare))
    tokens = {}
    for user, role in (("lead", "approver"), ("dan", "deployer"), ("vera", "viewer")):
        made = shipway_json("token", "create", "--user", user, "--role", role, repo=bare)
        tokens[user] = made["token"]
    tokens["ada"] = shipway_json("token", "create", "--user", "ada", "--role", "admin", repo=bare)[
        "token"
    ]
    elsewhere = tmp_path / "laptop"
    elsewhere.mkdir()
    with serving(bare) as (_, url):
        yield url, tokens, elsewhere


def test_a_remote_run_waits_for_approval_and_a_listed_approver_finishes_it(
    server: tuple[str, dict[str, str], Path],
) -> None:
    url, t, here = server
    started = remote(here, url, t["dan"], "run", "dev", "--json")
    assert started.returncode == 0, started.stderr  # waiting for a person is not a failure
    run = json.loads(started.stdout)
    assert run["state"] == "awaiting_approval" and run["actor"] == "dan"
    assert f"shipway approve {run['id']}" in started.stderr

    shown = remote(here, url, t["vera"], "show", run["id"])
    assert shown.returncode == 0 and "approval before build (lead): waiting" in shown.stdout

    refused = remote(here, url, t["dan"], "approve", run["id"])
    assert refused.returncode == 2 and "refused" in refused.stderr, refused.stderr
    assert "approver" in refused.stderr

    approved = remote(here, url, t["lead"], "approve", run["id"], "--comment", "looks right")
    assert approved.returncode == 0, approved.stderr
    assert f"run {run['id']} succeeded" in approved.stdout and "release 1" in approved.stdout

    listed = json.loads(remote(here, url, t["vera"], "runs", "--json").stdout)
    assert [(r["id"], r["state"]) for r in listed] == [(run["id"], "succeeded")]
    status = remote(here, url, t["vera"], "status")
    assert status.returncode == 0 and "dev (local, branch dev): release 1" in status.stdout
    logs = remote(here, url, t["vera"], "logs", run["id"])
    assert logs.returncode == 0 and "building" in logs.stdout

    audit = remote(here, url, t["ada"], "audit", "--json")
    assert audit.returncode == 0, audit.stderr
    entries = {(e["who"], e["action"], e["outcome"]) for e in json.loads(audit.stdout)}
    assert {("dan", "run.approve", "refused"), ("lead", "run.approve", "allowed")} <= entries
    assert remote(here, url, t["vera"], "audit").returncode == 2


def test_a_rejected_remote_run_exits_1_and_a_viewer_cannot_start_one(
    server: tuple[str, dict[str, str], Path],
) -> None:
    url, t, here = server
    assert remote(here, url, t["vera"], "run", "dev").returncode == 2
    run = json.loads(remote(here, url, t["dan"], "run", "dev", "--json").stdout)
    rejected = remote(here, url, t["lead"], "reject", run["id"], "--comment", "not today")
    assert rejected.returncode == 1 and "rejected" in rejected.stdout, rejected


def test_remote_settings_that_cannot_work_are_clear_errors(
    server: tuple[str, dict[str, str], Path], tmp_path: Path
) -> None:
    url, t, here = server
    cases = [
        (remote(here, url, None, "runs"), "SHIPWAY_TOKEN is not"),
        (remote(here, url, "shw_000000000000_" + "x" * 43, "runs"), "not a valid token"),
        (remote(here, "http://example.com:8787", t["vera"], "runs"), "https://"),
        (remote(here, "ftp://127.0.0.1", t["vera"], "runs"), "http:// or https://"),
        (remote(here, url, t["vera"], "logs", "dev-1", "--follow"), "--follow"),
        (remote(here, url, t["vera"], "show", "dev-42"), "dev-42"),
    ]
    for proc, says in cases:
        assert proc.returncode == 2, (says, proc.stderr)
        assert says in proc.stderr and "Traceback" not in proc.stderr, (says, proc.stderr)
    gone = remote(here, "http://127.0.0.1:9", t["vera"], "runs")
    assert gone.returncode == 2 and "no Shipway server answers at http://127.0.0.1:9" in gone.stderr
    assert shipway("runs", repo=here).returncode == 2  # without the settings: local, no repo
