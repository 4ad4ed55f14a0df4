"""Release records on the local target: a run's release read back as the request that
deploys it again, with the secret values from the local release's own secrets file."""

from __future__ import annotations

import json
from pathlib import Path

from shipway.app import App
from shipway.model import ServiceOutcome
from shipway.pipeline.records import release_request
from shipway.targets import select_target
from tests.conftest import commit_all, git


def test_a_local_release_is_deployed_again_from_its_record(ledger_repo: Path) -> None:
    git(ledger_repo, "checkout", "-q", "dev")
    app = App(ledger_repo)
    assert app.run("dev").run.release == 1
    handler = ledger_repo / "services/accounts/handler.py"
    v1 = handler.read_text()
    handler.write_text(v1 + "\n# v2\n")
    commit_all(ledger_repo, "accounts v2")
    assert app.run("dev").run.release == 2

    folder = ledger_repo / ".shipway/records/dev/1"
    record = json.loads((folder / "record.json").read_text())
    assert record["format"] == 1 and record["target"] == "local" and record["stage"] == "dev"
    assert [s["name"] for s in record["services"]] == ["accounts", "payments", "notifications"]
    # a local service's stack is recorded where it holds resources (the emulator's)
    templates = {s["name"]: (s["template"], s["stack"]) for s in record["services"]}
    assert templates == {
        "accounts": (None, ""),
        "payments": ("payments.template.json", "payments-dev"),
        "notifications": (None, ""),
    }
    # the signing key is a secret: masked in the record, real in the request read back
    assert "demo-signing-key" not in (folder / "payments.definition.json").read_text()
    request = release_request(app.paths, "dev", 1)
    payments = request.service("payments").definition.functions[0].environment
    assert payments["SIGNING_KEY"].startswith("demo-signing-key")

    target = select_target(app.project().environments["dev"], app.paths.home)
    result = target.rollback(request, 3)
    assert result.ok
    # payments depends on accounts, notifications on payments: redeployed with it
    assert result.having(ServiceOutcome.DEPLOYED) == ("accounts", "payments", "notifications")
    live = ledger_repo / ".shipway/envs/dev/current/accounts/handler.py"
    assert live.read_text() == v1
