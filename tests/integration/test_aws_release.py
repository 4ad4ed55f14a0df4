"""All or none across stacks, on moto's server. moto never fails a stack, so the failure
is injected at the client boundary: `FailingClient` is the real client except that
executing a change set of a chosen stack does what CloudFormation does when a resource
fails — nothing stays changed, the stack ends UPDATE_ROLLBACK_COMPLETE (or
ROLLBACK_COMPLETE) and its events name the resource that failed."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from shipway.model import AwsTarget as AwsConfig
from shipway.model import ServiceOutcome, StackEvent, code_key
from shipway.targets.aws.client import AwsClient
from shipway.targets.aws.deployer import Deployer
from shipway.targets.aws.release import deploy_release
from shipway.targets.aws.target import AwsTarget
from shipway.targets.aws.types import StackInfo
from tests.integration.awskit import HANDLER, REASON, FailingClient, make_service, request
from tests.moto import REGION

pytestmark = pytest.mark.usefixtures("aws_env")


def function_location(name: str) -> str:
    fn = boto3.client("lambda", region_name=REGION).get_function(FunctionName=name)
    return str(fn["Code"]["Location"])


def test_one_failure_returns_every_service_of_the_run_to_its_previous_release(
    tmp_path: Path,
) -> None:
    v1 = [make_service(tmp_path / "v1", n) for n in ("accounts", "payments", "reports")]
    v1[1] = replace(v1[1], depends_on=("accounts",))
    v1[2] = replace(v1[2], depends_on=("payments",))
    ok = deploy_release(Deployer(AwsClient(REGION)), request(*v1))
    assert ok.ok and ok.having(ServiceOutcome.DEPLOYED) == ("accounts", "payments", "reports")

    changed = {"handler.py": HANDLER + "# v2\n"}
    v2 = [make_service(tmp_path / "v2", n, files=changed) for n in ("accounts", "payments")]
    v2 = [replace(v2[0]), replace(v2[1], depends_on=("accounts",)), v1[2]]
    client = FailingClient("payments-dev")
    events: list[tuple[str, StackEvent]] = []
    result = deploy_release(Deployer(client, lambda s, e: events.append((s, e))), request(*v2))

    assert not result.ok
    assert result.result("accounts").outcome == ServiceOutcome.ROLLED_BACK
    failed = result.result("payments")
    assert failed.outcome == ServiceOutcome.FAILED
    assert failed.failed_event is not None
    assert (failed.failed_event.logical_id, failed.failed_event.reason) == (
        "HelloLambdaFunction",
        REASON,
    )
    assert "HelloLambdaFunction (AWS::Lambda::Function) UPDATE_FAILED" in failed.message
    # reports depends on payments: never started
    assert result.result("reports").outcome == ServiceOutcome.NOT_STARTED
    assert result.error is not None
    assert "`payments` failed" in result.error and "rolled back: `accounts`" in result.error
    # accounts runs v1's code and template again, as before the run
    cfn = boto3.client("cloudformation", region_name=REGION)
    live = cfn.get_template(StackName="accounts-dev")["TemplateBody"]
    assert live == v1[0].template
    v1_key = code_key("accounts", "dev", v1[0].artifact.sha256)
    assert function_location("accounts-dev-hello").endswith("/" + v1_key)
    assert client.executed == ["accounts-dev", "accounts-dev"]  # deployed, then restored
    # the failed resource reached the live rows, under its service
    assert ("payments", "HelloLambdaFunction") in {(s, e.logical_id) for s, e in events}


def test_a_failed_first_release_deletes_the_stacks_it_created(tmp_path: Path) -> None:
    services = [make_service(tmp_path, n) for n in ("accounts", "payments")]
    services[1] = replace(services[1], depends_on=("accounts",))
    client = FailingClient("payments-dev")
    result = deploy_release(Deployer(client), request(*services))
    assert not result.ok
    assert result.result("accounts").outcome == ServiceOutcome.ROLLED_BACK
    assert "created by this run deleted" in result.result("accounts").message
    assert result.result("payments").outcome == ServiceOutcome.FAILED
    real = AwsClient(REGION)
    assert real.describe_stack("accounts-dev") is None
    assert real.describe_stack("payments-dev") is None
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []


def test_independent_services_deploy_in_parallel_within_the_bound(tmp_path: Path) -> None:
    services = [make_service(tmp_path, f"svc{i}") for i in range(6)]
    last = replace(services[-1], depends_on=tuple(s.definition.service for s in services[:-1]))
    services[-1] = last
    active: list[str] = []
    most = [0]
    order: list[tuple[str, str]] = []
    lock = threading.Lock()

    class Watching(AwsClient):
        def create_stack(self, stack: str, *a: Any, **kw: Any) -> str:
            with lock:
                active.append(stack)
                most[0] = max(most[0], len(active))
                order.append(("start", stack))
            try:
                return super().create_stack(stack, *a, **kw)
            finally:
                with lock:
                    active.remove(stack)

        def execute_change_set(self, stack: str, name: str) -> None:
            super().execute_change_set(stack, name)
            with lock:
                order.append(("done", stack))

    target = AwsTarget(AwsConfig(region=REGION), client=Watching(REGION), bound=2)
    result = target.apply(target.plan(request(*services)), request(*services), 1)
    assert result.ok and len(result.having(ServiceOutcome.DEPLOYED)) == 6
    assert most[0] <= 2
    # the dependent started only after every dependency finished
    start_last = order.index(("start", "svc5-dev"))
    assert all(order.index(("done", f"svc{i}-dev")) < start_last for i in range(5))


def test_only_the_changed_service_is_redeployed(tmp_path: Path) -> None:
    v1 = [make_service(tmp_path / "v1", f"svc{i}") for i in range(3)]
    target = AwsTarget(AwsConfig(region=REGION), client=AwsClient(REGION))
    assert target.apply(target.plan(request(*v1)), request(*v1), 1).ok
    v2 = [*v1[:2], make_service(tmp_path / "v2", "svc2", files={"handler.py": HANDLER + "#\n"})]
    client = FailingClient()  # fails nothing: counts executions
    target = AwsTarget(AwsConfig(region=REGION), client=client)
    plan = target.plan(request(*v2))
    assert plan.deployed == ("svc2",)
    result = target.apply(plan, request(*v2), 2)
    assert result.ok and client.executed == ["svc2-dev"]
    assert result.having(ServiceOutcome.UNCHANGED) == ("svc0", "svc1")


def test_a_stack_left_by_a_failed_first_create_is_deleted_and_created_again(
    tmp_path: Path,
) -> None:
    cfn = boto3.client("cloudformation", region_name=REGION)
    template = '{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}'
    broken = cfn.create_stack(StackName="hello-dev", TemplateBody=template)["StackId"]

    class LeftRolledBack(AwsClient):
        def describe_stack(self, stack: str) -> StackInfo | None:
            info = super().describe_stack(stack)
            if info is not None and info.stack_id == broken:  # as CloudFormation left it
                return replace(info, status="ROLLBACK_COMPLETE")
            return info

    done = Deployer(LeftRolledBack(REGION)).deploy(make_service(tmp_path, "hello"))
    assert done.outcome == ServiceOutcome.DEPLOYED and done.created
    (stack,) = cfn.describe_stacks(StackName="hello-dev")["Stacks"]
    assert stack["StackId"] != broken and stack["StackStatus"] == "UPDATE_COMPLETE"
    assert "Q" not in cfn.get_template(StackName="hello-dev")["TemplateBody"]["Resources"]


def test_a_dependent_is_prepared_with_the_outputs_its_dependency_just_deployed(
    tmp_path: Path,
) -> None:
    from tests.integration.awskit import serverless_yml

    # direct: moto leaves a stack's outputs stale after a change set (AWS does not)
    yml = serverless_yml("accounts", provider="deploymentMethod: direct\n")
    accounts = make_service(tmp_path, "accounts", yml=yml)
    payments = make_service(tmp_path, "payments", depends_on=("accounts",))
    seen: dict[str, dict[str, Any]] = {}

    def prepare(item: Any, outputs: Any) -> Any:
        seen[item.definition.service] = {k: dict(v) for k, v in outputs.items()}
        return item

    target = AwsTarget(AwsConfig(region=REGION), client=AwsClient(REGION), prepare=prepare)
    req = request(accounts, payments)
    assert target.apply(target.plan(req), req, 1).ok
    assert seen["accounts"] == {}
    endpoint = seen["payments"]["accounts-dev"]["ServiceEndpoint"]
    assert endpoint.endswith(".execute-api.us-east-1.amazonaws.com/dev")


def test_an_interrupted_release_waits_for_its_stacks_then_rolls_them_back(
    tmp_path: Path,
) -> None:
    import os
    import signal

    class Interrupting(AwsClient):
        def execute_change_set(self, stack: str, name: str) -> None:
            super().execute_change_set(stack, name)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the stack deploys

    item = make_service(tmp_path, "accounts")
    result = deploy_release(Deployer(Interrupting(REGION)), request(item))
    assert not result.ok
    assert result.error is not None and result.error.startswith("cancelled by the user")
    assert result.result("accounts").outcome == ServiceOutcome.ROLLED_BACK
    assert AwsClient(REGION).describe_stack("accounts-dev") is None
