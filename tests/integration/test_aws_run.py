"""`shipway run` to an aws environment, through the CLI, against moto's server: the
bundled ledger monorepo deployed whole, its resources as a user would look at them."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from shipway.model import code_key
from tests.conftest import commit_all, git
from tests.integration.cli import shipway, shipway_json
from tests.moto import ACCOUNT_ID, REGION

pytestmark = pytest.mark.usefixtures("aws_env")

SERVICES = ("accounts", "notifications", "payments")
#: notifications reads an output of accounts' stack: deployed after it, resolved then (the
#: fallback is for the local environments, which deploy no stack)
CF_LINE = (
    "    ACCOUNTS_BUCKET: ${cf:accounts-${sls:stage}.ServerlessDeploymentBucketName, 'none'}\n"
)


def aws_ledger(repo: Path, stage: str | None = "Prod") -> Path:
    """The ledger's `prod` environment (branch main) switched to AWS, committed."""
    yml = repo / "shipway.yml"
    block = "    branch: main\n" + (f"    stage: {stage}\n" if stage else "")
    text = yml.read_text().replace(
        "    branch: main\n    target: local\n",
        block + f"    target: {{aws: {{region: {REGION}}}}}\n",
    )
    assert "aws:" in text
    yml.write_text(text)
    sls = repo / "services/notifications/serverless.yml"
    sls.write_text(
        sls.read_text().replace("    STAGE: ${sls:stage}\n", "    STAGE: ${sls:stage}\n" + CF_LINE)
    )
    # moto's change sets drop a stack's new outputs, which notifications reads from
    # payments' (`${cf:payments-<stage>.PaymentsTableName}`): payments deploys directly
    payments = repo / "services/payments/serverless.yml"
    text = payments.read_text()
    assert "  region: eu-west-2\n" in text
    payments.write_text(
        text.replace(
            "  region: eu-west-2\n", "  region: eu-west-2\n  deploymentMethod: direct\n", 1
        )
    )
    git(repo, "checkout", "-q", "main")
    commit_all(repo, "prod deploys to AWS")
    return repo


def client(name: str) -> Any:
    return boto3.client(name, region_name=REGION)


def stack(name: str) -> dict[str, Any]:
    found: dict[str, Any] = client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return found


def outputs(name: str) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack(name).get("Outputs", [])}


def change_set_ids(name: str) -> list[str]:
    listed = client("cloudformation").list_change_sets(StackName=name)["Summaries"]
    return [c["ChangeSetId"] for c in listed]


def record(repo: Path, number: int) -> dict[str, Any]:
    path = repo / ".shipway/records/prod" / str(number) / "record.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_run_deploys_the_monorepo_to_aws_and_a_second_run_changes_nothing(
    ledger_repo: Path,
) -> None:
    repo = aws_ledger(ledger_repo)
    # accounts-Prod does not exist yet: its `${cf:}` is resolved in the run, not refused
    checked = shipway("validate", repo=repo)
    assert checked.returncode == 0, checked.stderr
    proc = shipway("run", "prod", "--json", repo=repo)
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)
    assert run["state"] == "succeeded" and run["release"] == 1
    deploys = {j["service"]: j for j in run["jobs"] if j["stage"] == "deploy"}
    assert {n: j["state"] for n, j in deploys.items()} == dict.fromkeys(SERVICES, "succeeded")
    assert all(j["stack"] == f"{n}-Prod" for n, j in deploys.items())
    # the live rows showed the stacks' events as they arrived
    assert "CREATE_COMPLETE - AWS::CloudFormation::Stack - accounts-Prod" in proc.stderr

    # stacks `<service>-<stage>`, the stage's case kept, each with its bucket output
    cfn = client("cloudformation")
    names = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]}
    assert names == {f"{n}-Prod": "UPDATE_COMPLETE" for n in SERVICES}
    buckets = {n: outputs(f"{n}-Prod")["ServerlessDeploymentBucketName"] for n in SERVICES}
    assert {"Key": "STAGE", "Value": "Prod"} in stack("accounts-Prod")["Tags"]

    # functions: handler, runtime, environment, and the code under its content-hash key
    rec = {s["name"]: s for s in record(repo, 1)["services"]}
    lam = client("lambda")
    fn = lam.get_function(FunctionName="accounts-Prod-getAccount")
    config = fn["Configuration"]
    assert (config["Handler"], config["Runtime"], config["MemorySize"], config["Timeout"]) == (
        "handler.get_account",
        "python3.13",
        256,
        5,
    )
    env = config["Environment"]["Variables"]
    assert env["LEDGER_NAME"] == "accounts-Prod" and env["CURRENCY"] == "GBP"
    key = code_key("accounts", "Prod", rec["accounts"]["artifact"]["sha256"])
    assert rec["accounts"]["code_key"] == key
    assert fn["Code"]["Location"].endswith(f"/{key}")
    payments = lam.get_function(FunctionName="payments-Prod-quote")["Configuration"]
    assert payments["Handler"] == "payments/api.quote"
    assert payments["Environment"]["Variables"]["FEE_BASIS_POINTS"] == "25"
    # `custom.bank.${sls:stage}`: there is a `prod` key, not a `Prod` one (case kept)
    assert payments["Environment"]["Variables"]["BANK_NAME"] == "Shipway Demo Bank"
    # ${cf:accounts-Prod.…}: resolved after accounts deployed in the same run
    notify = lam.get_function(FunctionName="notifications-Prod-render")["Configuration"]
    assert notify["Environment"]["Variables"]["ACCOUNTS_BUCKET"] == buckets["accounts"]
    assert notify["Environment"]["Variables"]["STAGE"] == "Prod"

    # the REST API of accounts: its resources and methods
    apigw = client("apigateway")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == "Prod-accounts"]
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api["id"])["items"]}
    assert {"/accounts", "/accounts/{id}"} <= set(resources)
    assert set(resources["/accounts"].get("resourceMethods", {})) >= {"GET", "POST"}
    assert "GET" in resources["/accounts/{id}"].get("resourceMethods", {})

    # the functions' role: logs statements, as the Framework writes them
    role = lam.get_function(FunctionName="accounts-Prod-listAccounts")["Configuration"]["Role"]
    iam = client("iam")
    role_name = role.rsplit("/", 1)[1]
    policies = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    statements = []
    for policy in policies:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
        if isinstance(document, str):  # moto keeps a CloudFormation-made policy as text
            document = ast.literal_eval(document)
        statements += document["Statement"]
    actions = {a for s in statements for a in _listed(s["Action"])}
    assert {"logs:CreateLogStream", "logs:CreateLogGroup", "logs:PutLogEvents"} <= actions
    groups = {r for s in statements for r in _listed(s["Resource"])}
    assert f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/accounts-Prod*:*" in groups

    # each deployment bucket holds its service's zip, under its content-hash key
    s3 = client("s3")
    for name in SERVICES:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=buckets[name]).get("Contents", [])]
        assert keys == [rec[name]["code_key"]]

    # a second run with nothing changed: no change set, no stack touched
    before = {n: cfn.describe_stack_events(StackName=f"{n}-Prod")["StackEvents"] for n in SERVICES}
    updated = {n: stack(f"{n}-Prod").get("LastUpdatedTime") for n in SERVICES}
    change_sets = {n: change_set_ids(f"{n}-Prod") for n in SERVICES}
    again = shipway_json("run", "prod", repo=repo)
    assert again["state"] == "succeeded" and again["release"] is None  # no change: no release
    deploys = {j["service"]: j for j in again["jobs"] if j["stage"] == "deploy"}
    assert {n: j["state"] for n, j in deploys.items()} == dict.fromkeys(SERVICES, "skipped")
    assert all(j["message"] == "no change (stack already up to date)" for j in deploys.values())
    for name in SERVICES:
        events = cfn.describe_stack_events(StackName=f"{name}-Prod")["StackEvents"]
        assert len(events) == len(before[name])
        assert stack(f"{name}-Prod").get("LastUpdatedTime") == updated[name]
        assert change_set_ids(f"{name}-Prod") == change_sets[name]  # none made, none run
    status = shipway_json("status", "prod", repo=repo)["prod"]
    assert status["target"] == "aws" and status["release"] == 1


def test_a_changed_service_redeploys_its_stack_alone(ledger_repo: Path) -> None:
    repo = aws_ledger(ledger_repo)
    assert shipway("run", "prod", repo=repo).returncode == 0
    handler = repo / "services/accounts/handler.py"
    handler.write_text(handler.read_text() + "\n# v2\n")
    commit_all(repo, "accounts v2")
    run = shipway_json("run", "prod", repo=repo)
    assert run["state"] == "succeeded"
    states = {j["service"]: j["state"] for j in run["jobs"] if j["stage"] == "deploy"}
    assert states == {"accounts": "succeeded", "notifications": "skipped", "payments": "skipped"}
    sha = record(repo, 2)["services"][0]["artifact"]["sha256"]
    fn = client("lambda").get_function(FunctionName="accounts-Prod-getAccount")
    assert fn["Code"]["Location"].endswith("/" + code_key("accounts", "Prod", sha))
    commits = {s["name"]: s["commit"] for s in record(repo, 2)["services"]}
    head = git(repo, "rev-parse", "main")
    assert commits["accounts"] == head and commits["payments"] != head


def test_the_stage_defaults_to_the_environment_name(ledger_repo: Path) -> None:
    repo = aws_ledger(ledger_repo, stage=None)
    assert shipway("run", "prod", repo=repo).returncode == 0
    names = {s["StackName"] for s in client("cloudformation").describe_stacks()["Stacks"]}
    assert names == {f"{n}-prod" for n in SERVICES}


def test_wrong_account_or_missing_credentials_stop_before_any_run(
    ledger_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = aws_ledger(ledger_repo)
    yml = repo / "shipway.yml"
    yml.write_text(
        yml.read_text().replace(
            f"region: {REGION}}}", f"region: {REGION}, account: '999999999999'}}"
        )
    )
    commit_all(repo, "another account")
    proc = shipway("run", "prod", repo=repo)
    assert proc.returncode == 2
    assert "for account 123456789012, not 999999999999" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert client("cloudformation").describe_stacks()["Stacks"] == []
    assert shipway_json("runs", "prod", repo=repo) == []

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    proc = shipway("run", "prod", repo=repo)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "credentials" in proc.stderr.lower()


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
