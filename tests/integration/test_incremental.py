"""Build once, deploy only what changed — while every release still names every service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import commit_all, git
from tests.integration.cli import shipway, shipway_json


def run(repo: Path, env: str = "dev", *extra: str) -> dict[str, Any]:
    proc = shipway("run", env, "--json", *extra, repo=repo)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def jobs(doc: dict[str, Any], stage: str) -> dict[str, dict[str, Any]]:
    return {j["service"]: j for j in doc["jobs"] if j["stage"] == stage}


def edit_on(repo: Path, branch: str, path: str, old: str, new: str) -> None:
    git(repo, "checkout", "-q", branch)
    file = repo / path
    file.write_text(file.read_text().replace(old, new))
    commit_all(repo, f"edit {path}")


def test_an_unchanged_commit_rebuilds_and_redeploys_nothing(ledger_repo: Path) -> None:
    first = run(ledger_repo)
    assert {s: j["state"] for s, j in jobs(first, "deploy").items()} == {
        "accounts": "succeeded",
        "notifications": "succeeded",
        "payments": "succeeded",
    }
    second = run(ledger_repo)
    builds = jobs(second, "build")
    assert all(j.get("reused_from") == "dev-1" for j in builds.values()), builds
    deploys = jobs(second, "deploy")
    assert {s: j["state"] for s, j in deploys.items()} == dict.fromkeys(deploys, "skipped")
    assert deploys["payments"]["message"] == "no change (unchanged since release 1)"
    # no change: no new release; the live one still names every service
    assert second["release"] is None
    status = shipway_json("status", "dev", repo=ledger_repo)["dev"]
    assert status["release"] == 1 and set(status["services"]) == set(deploys)


def test_one_changed_service_is_the_only_one_built_and_deployed(ledger_repo: Path) -> None:
    run(ledger_repo)
    edit_on(ledger_repo, "dev", "services/notifications/notify.py", '"ok": True', '"ok": "new"')
    doc = run(ledger_repo)
    builds, deploys = jobs(doc, "build"), jobs(doc, "deploy")
    assert "reused_from" not in builds["notifications"]
    assert builds["accounts"]["reused_from"] == builds["payments"]["reused_from"] == "dev-1"
    assert deploys["notifications"]["state"] == "succeeded"
    assert "code changed" in deploys["notifications"]["message"]
    assert deploys["accounts"]["state"] == deploys["payments"]["state"] == "skipped"
    out = shipway("invoke", "notifications.health", "--env", "dev", repo=ledger_repo)
    assert json.loads(out.stdout)["ok"] == "new"
    status = shipway_json("status", "dev", repo=ledger_repo)["dev"]["services"]
    new_head = git(ledger_repo, "rev-parse", "dev")
    assert status["notifications"]["commit"] == new_head
    assert status["accounts"]["commit"] != new_head  # still the release that deployed it


def test_a_dependency_change_redeploys_its_dependents(ledger_repo: Path) -> None:
    run(ledger_repo)
    edit_on(ledger_repo, "dev", "services/accounts/handler.py", "Ada Lovelace", "Ada King")
    doc = run(ledger_repo)
    builds, deploys = jobs(doc, "build"), jobs(doc, "deploy")
    assert builds["payments"]["reused_from"] == "dev-1"  # not rebuilt ...
    assert deploys["payments"]["state"] == "succeeded"  # ... but redeployed after accounts
    assert "dependency `accounts` deployed" in deploys["payments"]["message"]
    # notifications reads payments' output: it follows payments (not rebuilt either)
    assert builds["notifications"]["reused_from"] == "dev-1"
    assert deploys["notifications"]["state"] == "succeeded"
    assert "dependency `payments` deployed" in deploys["notifications"]["message"]


def test_configuration_change_redeploys_without_a_rebuild(ledger_repo: Path) -> None:
    run(ledger_repo)
    edit_on(ledger_repo, "dev", ".env.dev", "LOG_LEVEL=debug", "LOG_LEVEL=warning")
    doc = run(ledger_repo)
    builds, deploys = jobs(doc, "build"), jobs(doc, "deploy")
    assert builds["accounts"]["reused_from"] == "dev-1"
    assert deploys["accounts"]["state"] == "succeeded"
    assert "configuration changed" in deploys["accounts"]["message"]
    out = shipway("invoke", "accounts.listAccounts", "--env", "dev", repo=ledger_repo)
    assert out.returncode == 0


def test_a_change_outside_every_service_rebuilds_all(ledger_repo: Path) -> None:
    run(ledger_repo)
    edit_on(ledger_repo, "dev", "libs/common/money.py", "no floats", "never floats")
    builds = jobs(run(ledger_repo), "build")
    assert not any("reused_from" in j for j in builds.values())


def test_force_rebuilds_and_redeploys_everything(ledger_repo: Path) -> None:
    run(ledger_repo)
    doc = run(ledger_repo, "dev", "--force")
    assert not any("reused_from" in j for j in jobs(doc, "build").values())
    assert {j["state"] for j in jobs(doc, "deploy").values()} == {"succeeded"}


def test_builds_are_reused_across_environments_when_their_inputs_match(
    ledger_repo: Path,
) -> None:
    run(ledger_repo, "dev")
    qa = run(ledger_repo, "qa")  # qa's branch has the same commit
    builds = jobs(qa, "build")
    # the default builds read no environment values: dev's artifacts serve qa
    assert builds["accounts"]["reused_from"] == "dev-1"
    assert builds["notifications"]["reused_from"] == "dev-1"
    # payments' buildspec reads $SHIPWAY_ENV and $SIGNING_KEY: it builds for qa
    assert "reused_from" not in builds["payments"]
    assert {j["state"] for j in jobs(qa, "deploy").values()} == {"succeeded"}


def test_artifacts_are_byte_identical_for_the_same_inputs(ledger_repo: Path) -> None:
    first = jobs(run(ledger_repo), "build")
    forced = jobs(run(ledger_repo, "dev", "--force"), "build")
    for service in ("accounts", "notifications", "payments"):
        assert first[service]["artifact_sha256"] == forced[service]["artifact_sha256"]
