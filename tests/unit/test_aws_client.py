"""AwsClient's CloudFormation calls against fake botocore clients: what moto cannot show
(throttling, long waits, paged events, empty change sets, states a stack can be left in)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shipway.errors import ShipwayError
from shipway.model import Artifact, DeployInput, ServiceDefinition
from shipway.targets.aws.client import AwsClient
from shipway.targets.aws.deployer import Deployer
from shipway.targets.aws.types import StackInfo

REGION = "us-east-1"


def client_with(fake: Any, service: str = "cloudformation", **kw: Any) -> AwsClient:
    client = AwsClient(REGION, **kw)
    client._clients[(service, REGION)] = fake
    return client


def throttled(message: str = "Rate exceeded", code: str = "Throttling") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeStacks")


def test_cloudformation_throttling_is_retried_with_backoff_and_jitter() -> None:
    slept: list[float] = []

    class Cfn:
        calls = 0

        def describe_stacks(self, **kw: Any) -> Any:
            Cfn.calls += 1
            if Cfn.calls == 1:
                raise throttled()
            if Cfn.calls == 2:  # API Gateway's name for it, and only the message says so
                raise throttled("Rate exceeded", "TooManyRequestsException")
            if Cfn.calls == 3:
                raise throttled("Rate exceeded", "SomethingElse")
            return {"Stacks": [{"StackName": "s", "StackStatus": "CREATE_COMPLETE"}]}

    halves: list[float] = []

    def jitter(delay: float) -> float:
        halves.append(delay)
        return delay * 0.75

    client = client_with(Cfn(), sleep=slept.append, jitter=jitter)
    info = client.describe_stack("s")
    assert info is not None and info.status == "CREATE_COMPLETE"
    assert halves == [0.25, 0.5, 1.0]  # exponential
    assert slept == [0.1875, 0.375, 0.75]  # each jittered


def test_a_refusal_that_is_not_throttling_is_not_retried() -> None:
    slept: list[float] = []

    class Cfn:
        def create_change_set(self, **kw: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "CreateChangeSet"
            )

    client = client_with(Cfn(), sleep=slept.append)
    with pytest.raises(ShipwayError, match="access denied trying to create change set `cs`"):
        client.create_change_set("s", "cs", {"Resources": {}}, {})
    assert slept == []


def test_stack_events_since_a_marker_are_read_across_pages_oldest_first() -> None:
    def ev(n: int) -> dict[str, Any]:
        return {
            "EventId": f"e{n}",
            "LogicalResourceId": f"R{n}",
            "ResourceType": "AWS::S3::Bucket",
            "ResourceStatus": "CREATE_COMPLETE",
            "Timestamp": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        }

    pages = {None: ([ev(9), ev(8), ev(7)], "p2"), "p2": ([ev(6), ev(5), ev(4)], "p3")}
    asked: list[Any] = []

    class Cfn:
        def describe_stack_events(self, **kw: Any) -> Any:
            asked.append(kw.get("NextToken"))
            events, token = pages[kw.get("NextToken")]
            return {"StackEvents": events, "NextToken": token}

    client = client_with(Cfn())
    new = client.stack_events("s", since="e5")
    assert [e.event_id for e in new] == ["e6", "e7", "e8", "e9"]
    assert asked == [None, "p2"]  # stopped at the marker: the third page is never read
    assert client.stack_events("s", since="e8")[0].logical_id == "R9"


def test_describe_change_set_reads_every_page() -> None:
    class Cfn:
        def describe_change_set(self, **kw: Any) -> Any:
            row = {"ResourceChange": {"Action": "Modify", "LogicalResourceId": "A"}}
            if kw.get("NextToken"):
                row = {"ResourceChange": {"Action": "Add", "LogicalResourceId": "B"}}
                return {"Status": "CREATE_COMPLETE", "Changes": [row]}
            return {"Status": "CREATE_COMPLETE", "Changes": [row], "NextToken": "t"}

    info = client_with(Cfn()).describe_change_set("s", "cs")
    assert [(c.action, c.logical_id) for c in info.changes] == [("Modify", "A"), ("Add", "B")]


@pytest.mark.parametrize(
    "reason",
    [
        "The submitted information didn't contain changes. Submit different information "
        "to create a change set.",
        "No updates are to be performed.",
    ],
)
def test_a_change_set_without_changes_is_empty_not_failed(reason: str) -> None:
    class Cfn:
        def describe_change_set(self, **kw: Any) -> Any:
            return {"Status": "FAILED", "StatusReason": reason}

    assert client_with(Cfn()).wait_for_change_set("s", "cs").empty


def test_waiting_for_a_stack_is_bounded() -> None:
    slept: list[float] = []

    class Cfn:
        def describe_stacks(self, **kw: Any) -> Any:
            return {"Stacks": [{"StackName": "s", "StackStatus": "UPDATE_IN_PROGRESS"}]}

    client = client_with(Cfn(), sleep=slept.append)
    with pytest.raises(ShipwayError, match="still UPDATE_IN_PROGRESS"):
        client.wait_for_stack("s", timeout_s=60)
    assert 60 <= sum(slept) <= 65  # the pauses stop at the bound
    assert max(slept) == 5.0  # polling backs off to 5 s, as monitor-stack.js polls


# --------------------------------------------------------------------------- stack states


class StateOnly:
    """A client whose stack is in one state; any change is a test failure."""

    def __init__(self, status: str) -> None:
        self.status = status

    def describe_stack(self, stack: str) -> StackInfo | None:
        return StackInfo(stack, "id", self.status)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} called on a stack that must not be touched")


def item() -> DeployInput:
    definition = ServiceDefinition("svc", "dev", REGION, "python3.12", ())
    return DeployInput(definition, Artifact("svc", Path("x.zip"), "00", 0), template={})


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback --stack-name svc-dev"),
        ("UPDATE_IN_PROGRESS", "another operation is running"),
        ("UPDATE_ROLLBACK_IN_PROGRESS", "another operation is running"),
        ("DELETE_IN_PROGRESS", "another operation is running"),
        ("ROLLBACK_FAILED", "delete the stack"),
    ],
)
def test_a_stack_that_cannot_be_deployed_on_is_reported_and_left_alone(
    status: str, says: str
) -> None:
    with pytest.raises(ShipwayError, match="nothing was changed") as info:
        Deployer(StateOnly(status)).deploy(item())  # type: ignore[arg-type]
    assert says in str(info.value)
    assert info.value.exit_code == 2


class TwoStacks:
    """`a-dev` is deployable, `b-dev` is not: the plan may read, never change."""

    def __init__(self) -> None:
        self.status = {"a-dev": "UPDATE_COMPLETE", "b-dev": "UPDATE_ROLLBACK_FAILED"}

    def check_account(self, account: str | None) -> str:
        return "123456789012"

    def describe_stack(self, stack: str) -> StackInfo | None:
        return StackInfo(stack, "id", self.status[stack])

    def get_template(self, stack: str) -> dict[str, Any]:
        return {}

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} called while planning")


def test_a_release_with_one_unusable_stack_stops_before_any_stack_changes() -> None:
    from shipway.model import AwsTarget as AwsConfig
    from shipway.model import DeployRequest
    from shipway.targets.aws.target import AwsTarget

    def service(name: str) -> DeployInput:
        definition = ServiceDefinition(name, "dev", REGION, "python3.12", ())
        return DeployInput(definition, Artifact(name, Path("x.zip"), "00", 0), template={"a": 1})

    target = AwsTarget(AwsConfig(region=REGION), client=TwoStacks())  # type: ignore[arg-type]
    request = DeployRequest("dev", "c0ffee", (service("a"), service("b")))
    with pytest.raises(ShipwayError, match="nothing was changed") as info:
        target.plan(request)  # what the engine asks before it applies anything
    assert "continue-update-rollback --stack-name b-dev" in str(info.value)
    assert info.value.exit_code == 2


# --------------------------------------------------------------------------- Stubber


def test_a_failed_update_reports_its_first_failed_resource_through_real_responses(
    tmp_path: Path,
) -> None:
    """botocore's Stubber: CloudFormation's own response shapes for an update that fails
    and rolls back (moto never fails a stack)."""
    import boto3
    from botocore.stub import Stubber

    from shipway.errors import DeployFailed
    from shipway.targets.aws.deployer import StackFailed

    keys = {"aws_access_key_id": "x", "aws_secret_access_key": "x", "region_name": REGION}
    cfn = boto3.client("cloudformation", **keys)
    s3 = boto3.client("s3", **keys)
    client = AwsClient(REGION, sleep=lambda s: None)
    client._clients[("cloudformation", REGION)] = cfn
    client._clients[("s3", REGION)] = s3
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

    def stack(status: str) -> dict[str, Any]:
        return {
            "Stacks": [
                {
                    "StackName": "svc-dev",
                    "StackId": "arn:stack/svc-dev",
                    "StackStatus": status,
                    "CreationTime": when,
                    "Outputs": [
                        {"OutputKey": "ServerlessDeploymentBucketName", "OutputValue": "b"}
                    ],
                }
            ]
        }

    def event(n: int, logical: str, kind: str, status: str, reason: str = "") -> dict[str, Any]:
        out = {
            "StackId": "arn:stack/svc-dev",
            "StackName": "svc-dev",
            "EventId": f"e{n}",
            "LogicalResourceId": logical,
            "ResourceType": kind,
            "ResourceStatus": status,
            "Timestamp": when,
        }
        return {**out, "ResourceStatusReason": reason} if reason else out

    stack_type, fn_type = "AWS::CloudFormation::Stack", "AWS::Lambda::Function"
    before = [event(0, "svc-dev", stack_type, "UPDATE_COMPLETE")]
    failed = [
        event(5, "svc-dev", stack_type, "UPDATE_ROLLBACK_COMPLETE"),
        event(4, "svc-dev", stack_type, "UPDATE_ROLLBACK_IN_PROGRESS", "failed: [Fn]"),
        event(3, "Fn", fn_type, "UPDATE_FAILED", "Memory 99999 is too much"),
        event(2, "Table", "AWS::DynamoDB::Table", "UPDATE_FAILED", "Resource update cancelled"),
        event(1, "svc-dev", stack_type, "UPDATE_IN_PROGRESS", "User Initiated"),
        *before,
    ]
    changes = {
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "Changes": [
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "Fn",
                    "ResourceType": fn_type,
                    "Replacement": "False",
                },
            }
        ],
    }
    with Stubber(cfn) as cf, Stubber(s3) as st:
        cf.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
        cf.add_response("get_template", {"TemplateBody": '{"Resources": {}}'})
        st.add_response("head_object", {})
        cf.add_response("describe_stack_events", {"StackEvents": before})
        cf.add_response("create_change_set", {"Id": "cs", "StackId": "arn:stack/svc-dev"})
        cf.add_response("describe_change_set", changes)
        cf.add_response("execute_change_set", {})
        cf.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"))
        cf.add_response("describe_stack_events", {"StackEvents": failed})
        cf.add_response("describe_stack_events", {"StackEvents": failed})
        seen: list[str] = []
        definition = ServiceDefinition("svc", "dev", REGION, "python3.12", ())
        item = DeployInput(
            definition,
            Artifact("svc", tmp_path / "x.zip", "00", 0),
            template={"Resources": {"Fn": {"Type": fn_type}}},
        )
        with pytest.raises(StackFailed) as info:
            Deployer(client, lambda s, e: seen.append(e.status)).deploy(item)
        cf.assert_no_pending_responses()
    assert isinstance(info.value, DeployFailed)
    assert info.value.event is not None
    assert (info.value.event.logical_id, info.value.event.reason) == (
        "Table",
        "Resource update cancelled",
    )
    assert "ended UPDATE_ROLLBACK_COMPLETE" in str(info.value)
    assert seen == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_FAILED",
        "UPDATE_FAILED",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
