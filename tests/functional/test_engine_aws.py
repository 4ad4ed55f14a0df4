"""The engine's aws deploy when a stack fails: moto never fails one, so the client is the
real one on moto's server except that executing the chosen stack's change set does what
CloudFormation does when a resource fails (tests/integration/test_aws_release.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from shipway.app import App
from shipway.model import RunState, ServiceOutcome, code_key
from shipway.pipeline.records import release_request
from shipway.targets import select_target
from shipway.targets.aws import client as client_module
from tests.conftest import commit_all
from tests.integration.test_aws_release import REASON, FailingClient
from tests.integration.test_aws_run import aws_ledger, record
from tests.moto import REGION

pytestmark = pytest.mark.usefixtures("aws_env")


def code_location(function: str) -> str:
    fn = boto3.client("lambda", region_name=REGION).get_function(FunctionName=function)
    return str(fn["Code"]["Location"])


def test_a_failed_service_rolls_back_the_others_and_the_release_stays(
    ledger_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = aws_ledger(ledger_repo)
    first = App(repo).run("prod")
    assert first.run.state == RunState.SUCCEEDED and first.run.release == 1
    v1 = {s["name"]: s for s in record(repo, 1)["services"]}

    for path in ("services/accounts/handler.py", "services/notifications/notify.py"):
        (repo / path).write_text((repo / path).read_text() + "\n# v2\n")
    api = repo / "services/payments/src/payments/api.py"
    api.write_text(api.read_text() + "\n# v2\n")
    commit_all(repo, "v2 of every service")
    failing: list[FailingClient] = []

    def make(region: str, profile: str | None = None, **kw: Any) -> FailingClient:
        # notifications deploys last (it reads payments' output): the others roll back
        failing.append(FailingClient("notifications-Prod"))
        return failing[-1]

    monkeypatch.setattr(client_module, "AwsClient", make)
    app = App(repo)
    second = app.run("prod")

    run = second.run
    assert run.state == RunState.FAILED and run.release is None
    assert run.error is not None
    assert "service `notifications` failed" in run.error and REASON in run.error
    assert "rolled back: `accounts`, `payments`" in run.error
    jobs = {j.service: j for j in app.store.jobs(run.id) if j.stage.value == "deploy"}
    assert jobs["notifications"].state.value == "failed"
    assert "HelloLambdaFunction (AWS::Lambda::Function) UPDATE_FAILED" in str(
        jobs["notifications"].error
    )
    for name in ("accounts", "payments"):
        assert jobs[name].state.value == "failed"
        assert jobs[name].detail["outcome"] == "rolled_back"
        assert jobs[name].detail["message"] == (
            f"rolled back: stack `{name}-Prod` returned on its previous template"
        )
    # the environment is on release 1: its code again, no release 2 nor its record
    key = code_key("accounts", "Prod", v1["accounts"]["artifact"]["sha256"])
    assert code_location("accounts-Prod-getAccount").endswith("/" + key)
    status = app.status("prod")["prod"]
    assert status["release"] == 1
    assert not (repo / ".shipway/records/prod/2").exists()
    assert [r.number for r in app.store.releases("prod")] == [1]


def test_a_release_record_deploys_that_release_again_through_the_protocol(
    ledger_repo: Path,
) -> None:
    repo = aws_ledger(ledger_repo)
    app = App(repo)
    assert app.run("prod").run.release == 1
    handler = repo / "services/accounts/handler.py"
    handler.write_text(handler.read_text() + "\n# v2\n")
    commit_all(repo, "accounts v2")
    assert app.run("prod").run.release == 2
    v1 = {s["name"]: s for s in record(repo, 1)["services"]}
    v1_key = code_key("accounts", "Prod", v1["accounts"]["artifact"]["sha256"])
    assert not code_location("accounts-Prod-getAccount").endswith("/" + v1_key)

    request = release_request(app.paths, "prod", 1)
    assert [s.stack for s in request.services] == [  # in deploy order
        "accounts-Prod",
        "payments-Prod",
        "notifications-Prod",
    ]
    target = select_target(app.project().environments["prod"], app.paths.home)
    result = target.rollback(request, 3)
    assert result.ok
    assert result.having(ServiceOutcome.DEPLOYED) == ("accounts",)
    assert code_location("accounts-Prod-getAccount").endswith("/" + v1_key)
