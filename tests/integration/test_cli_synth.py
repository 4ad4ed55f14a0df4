"""`shipway synth` on the example: CloudFormation that cfn-lint passes, with the
Serverless Framework's stack layout, and no secret in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipway.synth.lint import lint
from tests.integration.cli import shipway

SERVICES = ("accounts", "notifications", "payments")


@pytest.mark.parametrize("env", ["dev", "qa", "prod"])
def test_every_example_template_lints_clean(ledger_repo: Path, env: str) -> None:
    for service in SERVICES:
        proc = shipway("synth", service, "--env", env, repo=ledger_repo)
        assert proc.returncode == 0, proc.stderr
        template = json.loads(proc.stdout)
        assert lint(template) == [], (service, env)
        resources = template["Resources"]
        assert resources["ServerlessDeploymentBucket"]["Type"] == "AWS::S3::Bucket"
        assert resources["IamRoleLambdaExecution"]["Type"] == "AWS::IAM::Role"


def test_logical_ids_and_names_follow_the_framework(ledger_repo: Path) -> None:
    template = json.loads(shipway("synth", "accounts", "--env", "qa", repo=ledger_repo).stdout)
    resources = template["Resources"]
    function = resources["GetAccountLambdaFunction"]["Properties"]
    assert function["FunctionName"] == "accounts-qa-getAccount"
    assert function["Handler"] == "handler.get_account"
    assert function["Environment"]["Variables"]["LEDGER_NAME"] == "accounts-qa"
    assert resources["ApiGatewayRestApi"]["Properties"]["Name"] == "qa-accounts"
    assert "ApiGatewayResourceAccountsIdVar" in resources
    assert "ApiGatewayMethodAccountsIdVarGet" in resources
    assert "ServiceEndpoint" in template["Outputs"]


def test_secrets_are_masked_and_unsupported_keys_named(ledger_repo: Path) -> None:
    text = shipway("synth", "payments", "--env", "dev", repo=ledger_repo).stdout
    assert '"SIGNING_KEY": "***"' in text
    assert "demo-signing-key-not-for-production" not in text
    sls = ledger_repo / "services/notifications/serverless.yml"
    sls.write_text(
        sls.read_text().replace("      - httpApi: GET /health", "      - alexaSkill: amzn1")
    )
    proc = shipway("synth", "notifications", "--env", "dev", repo=ledger_repo)
    assert proc.returncode == 2
    assert "functions.health.events[0]" in proc.stderr and "alexaSkill" in proc.stderr


def test_unsupported_settings_are_reported_with_their_line(ledger_repo: Path) -> None:
    sls = ledger_repo / "services/accounts/serverless.yml"
    sls.write_text(
        sls.read_text().replace(
            "          path: accounts/{id}\n          method: get\n",
            "          path: accounts/{id}\n          method: get\n"
            "          authorizer: {name: getAccount, claims: [email]}\n",
        )
    )
    proc = shipway("validate", repo=ledger_repo)
    assert proc.returncode == 2
    line = next(n for n, text in enumerate(sls.read_text().splitlines(), 1) if "authorizer" in text)
    assert (
        f"services/accounts/serverless.yml:{line}: "
        "`functions.getAccount.events[0].http.authorizer.claims`" in proc.stderr
    )
    assert "not supported by Shipway's CloudFormation synthesis" in proc.stderr


def test_schedules_synthesize_and_bad_ones_are_named(ledger_repo: Path) -> None:
    sls = ledger_repo / "services/notifications/serverless.yml"
    good = sls.read_text().replace(
        "      - httpApi: GET /health\n",
        "      - httpApi: GET /health\n"
        "      - schedule:\n"
        "          rate: rate(5 minutes)\n"
        "          inputTransformer:\n"
        "            inputPathsMap: {at: $.time}\n"
        "            inputTemplate: '{\"at\": <at>}'\n",
    )
    sls.write_text(good)
    template = json.loads(
        shipway("synth", "notifications", "--env", "dev", repo=ledger_repo).stdout
    )
    rule = template["Resources"]["HealthEventsRuleSchedule1"]["Properties"]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Targets"][0]["InputTransformer"] == {
        "InputTemplate": '{"at": <at>}',
        "InputPathsMap": {"at": "$.time"},
    }
    assert lint(template) == []
    sls.write_text(good.replace("rate(5 minutes)", "rate(5 minute)"))
    proc = shipway("validate", repo=ledger_repo)
    assert proc.returncode == 2
    assert "services/notifications/serverless.yml:" in proc.stderr
    assert "`functions.health" in proc.stderr and "write `rate(5 minutes)`" in proc.stderr
