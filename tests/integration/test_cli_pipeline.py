"""The CLI end to end on the example monorepo: validate, run, status, logs, invoke."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import commit_all, git
from tests.integration.cli import shipway, shipway_json


def test_validate_clean_repository_lists_services(ledger_repo: Path) -> None:
    proc = shipway("validate", repo=ledger_repo)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # in deploy order: notifications reads payments' stack output
    assert [line.split()[0] for line in lines] == ["accounts", "payments", "notifications"]
    assert "build: buildspec.yml" in lines[1] and "depends on: accounts" in lines[1]
    assert "depends on: payments" in lines[2]


def test_validate_reports_every_problem_with_exit_2(ledger_repo: Path) -> None:
    yml = ledger_repo / "shipway.yml"
    yml.write_text(yml.read_text().replace("concurrency: 4", "concurrency: four"))
    sls = ledger_repo / "services/notifications/serverless.yml"
    sls.write_text(sls.read_text().replace("${self:custom.sender}", "${self:custom.nobody}"))
    spec = ledger_repo / "services/payments/buildspec.yml"
    spec.write_text(spec.read_text().replace("  pre_build:", "  pre-build:"))
    proc = shipway("validate", repo=ledger_repo)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert any(line.startswith("error: shipway.yml:9: `build.concurrency`") for line in lines)
    assert any(
        "services/notifications/serverless.yml:" in line and "provider.environment.SENDER" in line
        for line in lines
    )
    assert any("services/payments/buildspec.yml:" in line and "pre-build" in line for line in lines)
    assert lines[-1] == "3 problem(s) found"


def test_run_deploys_every_service_and_status_shows_the_release(ledger_repo: Path) -> None:
    dev_head = git(ledger_repo, "rev-parse", "dev")
    run = shipway_json("run", "dev", repo=ledger_repo)
    assert run["state"] == "succeeded" and run["env"] == "dev" and run["commit"] == dev_head
    assert run["id"] == "dev-1"
    status = shipway_json("status", repo=ledger_repo)
    dev = status["dev"]
    assert dev["release"] == 1
    assert set(dev["services"]) == {"accounts", "notifications", "payments"}
    assert all(
        s["state"] == "deployed" and s["commit"] == dev_head for s in dev["services"].values()
    )
    assert dev["services"]["payments"]["url"].endswith("/dev/payments")
    assert status["qa"]["release"] is None
    runs = shipway_json("runs", "dev", repo=ledger_repo)
    assert [r["id"] for r in runs] == ["dev-1"]


def test_secret_values_never_reach_the_log(ledger_repo: Path) -> None:
    assert shipway("run", "dev", repo=ledger_repo).returncode == 0
    log = shipway("logs", "dev-1", "--service", "payments", repo=ledger_repo)
    assert log.returncode == 0
    assert "packaged payments for dev (signing key ***)" in log.stdout
    assert "demo-signing-key-not-for-production" not in log.stdout


def test_failed_build_deploys_nothing_and_keeps_the_previous_release(ledger_repo: Path) -> None:
    assert shipway("run", "dev", repo=ledger_repo).returncode == 0
    git(ledger_repo, "checkout", "-q", "dev")
    test_file = ledger_repo / "services/payments/tests/test_money.py"
    test_file.write_text(test_file.read_text().replace('"GBP 12.34"', '"GBP 99.99"'))
    (ledger_repo / "services/accounts/handler.py").write_text(
        "def list_accounts(e, c):\n    return 'v2'\n"
    )
    commit_all(ledger_repo, "break payments' tests")
    proc = shipway("run", "dev", "--json", repo=ledger_repo)
    assert proc.returncode == 1
    run = json.loads(proc.stdout)
    assert run["state"] == "failed" and "`payments`" in run["error"]
    status = shipway_json("status", "dev", repo=ledger_repo)
    assert status["dev"]["release"] == 1
    # accounts built fine, but a release is all or nothing: the old handler still answers
    invoked = shipway("invoke", "accounts.listAccounts", "--env", "dev", repo=ledger_repo)
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout)["statusCode"] == 200
    log = shipway("logs", run["id"], "--service", "payments", repo=ledger_repo).stdout
    assert "FAILED" in log or "failed" in log


def test_uncommitted_changes_do_not_leak_into_a_release(ledger_repo: Path) -> None:
    handler = ledger_repo / "services/notifications/notify.py"
    handler.write_text(handler.read_text().replace('"ok": True', '"ok": "uncommitted"'))
    assert shipway("run", "dev", repo=ledger_repo).returncode == 0
    out = shipway("invoke", "notifications.health", "--env", "dev", repo=ledger_repo)
    assert json.loads(out.stdout) == {"ok": True, "stage": "dev"}


def test_invoke_errors_are_clear(ledger_repo: Path) -> None:
    proc = shipway("invoke", "accounts.listAccounts", "--env", "dev", repo=ledger_repo)
    assert proc.returncode == 2 and "has no release yet" in proc.stderr
    assert shipway("run", "dev", repo=ledger_repo).returncode == 0
    proc = shipway("invoke", "nope", "--env", "dev", repo=ledger_repo)
    assert proc.returncode == 2 and "no function `nope`" in proc.stderr
    proc = shipway("invoke", "health", "--env", "dev", "--data", "{bad", repo=ledger_repo)
    assert proc.returncode == 2 and "--data is not valid JSON" in proc.stderr


def test_an_unknown_environment_is_refused_with_exit_2(ledger_repo: Path) -> None:
    proc = shipway("run", "staging", repo=ledger_repo)
    assert proc.returncode == 2 and "no environment `staging`" in proc.stderr
    assert shipway_json("runs", repo=ledger_repo) == []


def test_packaging_plugins_warn_and_other_plugins_are_refused(ledger_repo: Path) -> None:
    sls = ledger_repo / "services/notifications/serverless.yml"
    original = sls.read_text()
    sls.write_text(original + "plugins:\n  - serverless-python-requirements\n")
    proc = shipway("validate", repo=ledger_repo)
    assert proc.returncode == 0, proc.stderr
    line = len(original.splitlines()) + 1
    assert (
        f"warning: services/notifications/serverless.yml:{line}: `plugins`: plugin "
        "`serverless-python-requirements` changes only packaging"
    ) in proc.stderr
    sls.write_text(original + "plugins:\n  - serverless-wsgi\n")
    proc = shipway("validate", repo=ledger_repo)
    assert proc.returncode == 2
    assert "serverless-wsgi" in proc.stderr and "plugins" in proc.stderr


def test_a_handler_missing_from_its_package_fails_the_deploy_before_the_switch(
    ledger_repo: Path,
) -> None:
    assert shipway("run", "dev", repo=ledger_repo).returncode == 0
    git(ledger_repo, "checkout", "-q", "dev")
    sls = ledger_repo / "services/notifications/serverless.yml"
    sls.write_text(sls.read_text().replace("handler: notify.health", "handler: notifi.health"))
    commit_all(ledger_repo, "typo in a handler path")
    proc = shipway("run", "dev", "--json", repo=ledger_repo)
    assert proc.returncode == 1, proc.stderr
    run = json.loads(proc.stdout)
    assert run["state"] == "failed"
    assert (
        "no handler for `health` (notifi.health: no notifi.py or notifi/__init__.py)"
        in (run["error"])
    )
    assert shipway_json("status", "dev", repo=ledger_repo)["dev"]["release"] == 1
    out = shipway("invoke", "notifications.health", "--env", "dev", repo=ledger_repo)
    assert json.loads(out.stdout) == {"ok": True, "stage": "dev"}
