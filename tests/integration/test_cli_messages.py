"""Messages a user reads: a failed deploy named on its service only, a run that changes
nothing, and `init` telling what it found."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import commit_all, git
from tests.integration.cli import shipway

PROJECT = "project: msgs\nenvironments:\n  dev:\n    branch: dev\n    target: local\n"
SLS = (
    "service: {name}\nprovider:\n  name: aws\n  runtime: python3.11\n"
    "functions:\n  f:\n    handler: {handler}\n"
)
HANDLER = "def f(event, context):\n    return {'ok': True}\n"


def _jobs(doc: dict[str, object], stage: str) -> dict[str, dict[str, object]]:
    jobs = doc["jobs"]
    assert isinstance(jobs, list)
    return {j["service"]: j for j in jobs if j["stage"] == stage}


def test_a_failed_deploy_is_reported_on_its_service_only(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(
        {
            "shipway.yml": PROJECT,
            "services/alpha/serverless.yml": SLS.format(name="alpha", handler="h.f"),
            "services/alpha/h.py": HANDLER,
            "services/beta/serverless.yml": SLS.format(name="beta", handler="missing.f"),
            "services/beta/h.py": HANDLER,
        }
    )
    proc = shipway("run", "dev", "--json", repo=repo)
    assert proc.returncode == 1, proc.stderr
    deploys = _jobs(json.loads(proc.stdout), "deploy")
    assert deploys["beta"]["state"] == "failed"
    assert "no handler for `f` (missing.f" in str(deploys["beta"]["error"])
    assert deploys["alpha"]["state"] == "skipped"
    assert "missing.f" not in json.dumps(deploys["alpha"])  # not beta's failure repeated
    assert "`beta` failed" in json.dumps(deploys["alpha"])


def test_a_run_that_changes_nothing_says_so_and_makes_no_release(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(
        {
            "shipway.yml": PROJECT,
            "services/alpha/serverless.yml": SLS.format(name="alpha", handler="h.f"),
            "services/alpha/h.py": HANDLER,
        }
    )
    first = json.loads(shipway("run", "dev", "--json", repo=repo).stdout)
    assert first["state"] == "succeeded" and first["release"] == 1
    again = shipway("run", "dev", "--json", repo=repo)
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert doc["state"] == "succeeded" and doc["release"] is None
    assert "no change" in str(_jobs(doc, "deploy")["alpha"]["message"])
    text = shipway("run", "dev", repo=repo)
    assert text.returncode == 0 and "no change" in text.stdout + text.stderr
    status = json.loads(shipway("status", "dev", "--json", repo=repo).stdout)
    assert status["dev"]["release"] == 1


def test_init_searches_every_depth_and_prints_what_it_found(
    make_repo: Callable[..., Path],
) -> None:
    sls = SLS.format(name="{name}", handler="h.f")
    repo = make_repo(
        {
            "apps/api/users/serverless.yml": sls.format(name="users"),
            "apps/api/orders/serverless.yml": sls.format(name="orders"),
            "deep/a/b/c/serverless.yml": sls.format(name="deep"),
            "node_modules/pkg/serverless.yml": sls.format(name="vendored"),
            "apps/api/users/.serverless/serverless.yml": sls.format(name="built"),
            "tools/env/serverless.yml": sls.format(name="venvsvc"),
            "tools/env/pyvenv.cfg": "home = /usr/bin\n",
        }
    )
    proc = shipway("init", repo=repo)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    for found in ("apps/api/users", "apps/api/orders", "deep/a/b/c"):
        assert found in out
    for skipped in ("node_modules", ".serverless", "tools/env"):
        assert skipped not in out
    text = (repo / "shipway.yml").read_text()
    assert "apps/api/*" in text and "deep/a/b/c" in text
    commit_all(repo, "init")
    git(repo, "branch", "-f", "dev")
    listed = shipway("validate", repo=repo)
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split()[0] for line in listed.stdout.splitlines()) == [
        "deep",
        "orders",
        "users",
    ]


def test_init_says_when_it_found_no_service(make_repo: Callable[..., Path]) -> None:
    repo = make_repo({"README.md": "nothing here\n"})
    proc = shipway("init", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert "found no serverless.yml" in proc.stderr


def test_init_refuses_a_root_service_over_nested_ones(make_repo: Callable[..., Path]) -> None:
    sls = SLS.format(name="{name}", handler="h.f")
    repo = make_repo(
        {
            "serverless.yml": sls.format(name="root"),
            "services/inner/serverless.yml": sls.format(name="inner"),
        }
    )
    proc = shipway("init", repo=repo)
    assert proc.returncode == 2
    assert "serverless.yml" in proc.stderr and "services/inner" in proc.stderr
    assert not (repo / "shipway.yml").exists()
