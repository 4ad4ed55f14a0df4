"""The AWS target's per-service deploy against moto's server: real boto3 over HTTP on
127.0.0.1, asserting on the resources a user would look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from shipway.errors import ShipwayError
from shipway.model import AwsTarget as AwsConfig
from shipway.model import DeployAction, ServiceOutcome, StackEvent, code_key
from shipway.targets.aws.client import AwsClient
from shipway.targets.aws.deployer import Deployer
from shipway.targets.aws.target import AwsTarget
from tests.integration.awskit import HANDLER, make_service, request, serverless_yml
from tests.moto import ACCOUNT_ID, REGION

pytestmark = pytest.mark.usefixtures("aws_env")


class CountingClient(AwsClient):
    """The real client, counting the calls that change something."""

    def __init__(self) -> None:
        super().__init__(REGION)
        self.calls: list[tuple[str, str]] = []

    def create_change_set(self, stack: str, name: str, *a: Any, **kw: Any) -> None:
        self.calls.append(("create_change_set", stack))
        super().create_change_set(stack, name, *a, **kw)

    def execute_change_set(self, stack: str, name: str) -> None:
        self.calls.append(("execute_change_set", stack))
        super().execute_change_set(stack, name)

    def put_file(self, bucket: str, key: str, path: Path, sha256_hex: str) -> None:
        self.calls.append(("put_file", key))
        super().put_file(bucket, key, path, sha256_hex)

    def named(self, call: str) -> list[str]:
        return [what for name, what in self.calls if name == call]


def lambda_function(name: str) -> dict[str, Any]:
    out: dict[str, Any] = boto3.client("lambda", region_name=REGION).get_function(FunctionName=name)
    return out


def test_first_deploy_creates_the_stack_uploads_the_code_and_deploys_the_functions(
    tmp_path: Path,
) -> None:
    item = make_service(tmp_path, "hello")
    events: list[tuple[str, StackEvent]] = []
    client = CountingClient()
    done = Deployer(client, lambda s, e: events.append((s, e))).deploy(item)

    assert done.outcome == ServiceOutcome.DEPLOYED and done.created
    cfn = boto3.client("cloudformation", region_name=REGION)
    (stack,) = cfn.describe_stacks(StackName="hello-dev")["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {"Key": "STAGE", "Value": "dev"} in stack["Tags"]
    fn = lambda_function("hello-dev-hello")
    key = code_key("hello", "dev", item.artifact.sha256)
    assert fn["Configuration"]["Handler"] == "handler.hello"
    assert fn["Configuration"]["Runtime"] == "python3.12"
    assert fn["Configuration"]["Environment"]["Variables"] == {"GREETING": "hi"}
    assert fn["Code"]["Location"].endswith("/" + key)
    bucket = done.outputs["ServerlessDeploymentBucketName"]
    objects = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in objects["Contents"]] == [key]
    # the core stack first (the bucket alone), then the change set with everything
    first = cfn.get_template(StackName="hello-dev")["TemplateBody"]
    assert "HelloLambdaFunction" in first["Resources"]
    statuses = [e.status for s, e in events if e.logical_id == "hello-dev"]
    assert statuses == [
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]
    assert {s for s, _ in events} == {"hello"}
    assert client.named("execute_change_set") == ["hello-dev"]
    rows = {c.logical_id: c.action for c in done.changes}
    assert rows["HelloLambdaFunction"] == "Add" and rows["ApiGatewayRestApi"] == "Add"


def test_a_second_deploy_with_nothing_changed_makes_no_change_set_and_no_upload(
    tmp_path: Path,
) -> None:
    item = make_service(tmp_path, "hello")
    Deployer(AwsClient(REGION)).deploy(item)
    client = CountingClient()
    again = Deployer(client).deploy(item)
    assert again.outcome == ServiceOutcome.UNCHANGED
    assert client.calls == []
    assert again.outputs["ServerlessDeploymentBucketName"]


def test_changed_code_goes_to_a_new_key_and_the_function_points_at_it(tmp_path: Path) -> None:
    first = make_service(tmp_path / "a", "hello")
    deployer = Deployer(AwsClient(REGION))
    bucket = deployer.deploy(first).bucket
    second = make_service(tmp_path / "b", "hello", files={"handler.py": HANDLER + "# v2\n"})
    client = CountingClient()
    done = Deployer(client).deploy(second)
    assert done.outcome == ServiceOutcome.DEPLOYED and not done.created
    new_key = code_key("hello", "dev", second.artifact.sha256)
    assert client.named("put_file") == [new_key]
    assert lambda_function("hello-dev-hello")["Code"]["Location"].endswith("/" + new_key)
    keys = {
        o["Key"]
        for o in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket)["Contents"]
    }
    # the previous release's code stays: a rollback deploys it again
    assert keys == {new_key, code_key("hello", "dev", first.artifact.sha256)}
    assert done.previous is not None and done.previous == first.template


def test_direct_deployment_method_updates_the_stack_and_its_outputs(tmp_path: Path) -> None:
    yml = serverless_yml("hello", provider="deploymentMethod: direct\n")
    item = make_service(tmp_path, "hello", yml=yml)
    client = CountingClient()
    done = Deployer(client).deploy(item)
    assert done.outcome == ServiceOutcome.DEPLOYED
    assert client.named("create_change_set") == []
    assert done.outputs["ServiceEndpoint"].endswith(".execute-api.us-east-1.amazonaws.com/dev")
    stack = boto3.client("cloudformation", region_name=REGION).describe_stacks(
        StackName="hello-dev"
    )["Stacks"][0]
    outputs = {o["OutputKey"] for o in stack["Outputs"]}
    assert {"ServiceEndpoint", "HelloLambdaFunctionQualifiedArn"} <= outputs


def test_plan_with_change_sets_lists_the_rows_and_leaves_nothing_behind(tmp_path: Path) -> None:
    base = make_service(tmp_path / "a", "hello")
    target = AwsTarget(AwsConfig(region=REGION), client=AwsClient(REGION))
    target.apply(target.plan(request(base)), request(base), 1)
    bigger = serverless_yml("hello", provider="memorySize: 512\n")
    changed = make_service(tmp_path / "b", "hello", yml=bigger)
    plan = target.plan(request(changed), change_sets=True)
    (change,) = plan.changes
    assert change.action == DeployAction.DEPLOY
    rows = {r.logical_id: (r.action, r.resource_type) for r in change.resource_changes}
    assert rows["HelloLambdaFunction"] == ("Modify", "AWS::Lambda::Function")
    cfn = boto3.client("cloudformation", region_name=REGION)
    left = cfn.list_change_sets(StackName="hello-dev")["Summaries"]
    # moto keeps executed change sets listed (AWS drops them): none may wait to be run
    assert [c["ExecutionStatus"] for c in left] == ["EXECUTE_COMPLETE"]
    config = lambda_function("hello-dev-hello")["Configuration"]
    assert config["MemorySize"] == 1024  # the Framework's default: the plan changed nothing
    # a plan of the deployed release says so without any change set
    same = target.plan(request(base), change_sets=True)
    assert same.changes[0].action == DeployAction.UNCHANGED


def test_missing_credentials_stop_before_anything_is_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = make_service(tmp_path, "hello")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    target = AwsTarget(AwsConfig(region=REGION), client=AwsClient(REGION))
    with pytest.raises(ShipwayError, match="no AWS credentials") as info:
        target.apply(target.plan(request(item)), request(item), 1)
    assert info.value.exit_code == 2
    assert "AWS_PROFILE" in str(info.value)


def test_a_wrong_account_stops_before_anything_is_touched(tmp_path: Path) -> None:
    item = make_service(tmp_path, "hello")
    target = AwsTarget(AwsConfig(region=REGION, account="999999999999"), client=AwsClient(REGION))
    with pytest.raises(ShipwayError, match=f"for account {ACCOUNT_ID}, not 999999999999"):
        target.plan(request(item))
    assert AwsClient(REGION).describe_stack("hello-dev") is None
    right = AwsTarget(AwsConfig(region=REGION, account=ACCOUNT_ID), client=AwsClient(REGION))
    assert right.check() == ACCOUNT_ID


def test_role_arn_is_assumed_through_sts(tmp_path: Path) -> None:
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/deployer"
    client = AwsClient(REGION, role_arn=role)
    account, arn = client.caller_identity()
    assert account == ACCOUNT_ID
    assert ":assumed-role/deployer/shipway" in arn


def test_remove_empties_the_buckets_and_deletes_the_stacks(tmp_path: Path) -> None:
    item = make_service(tmp_path, "hello")
    target = AwsTarget(AwsConfig(region=REGION), client=AwsClient(REGION))
    result = target.apply(target.plan(request(item)), request(item), 1)
    bucket = result.services[0].outputs["ServerlessDeploymentBucketName"]
    removed = target.remove("dev", ["hello-dev"])
    assert removed.ok
    assert AwsClient(REGION).describe_stack("hello-dev") is None
    buckets = boto3.client("s3", region_name=REGION).list_buckets()["Buckets"]
    assert bucket not in {b["Name"] for b in buckets}


def test_empty_bucket_deletes_every_version(tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1", b"2"):
        s3.put_object(Bucket="versioned", Key="k", Body=body)
    s3.delete_object(Bucket="versioned", Key="k")  # a delete marker
    assert AwsClient(REGION).empty_bucket("versioned") == 3
    assert "Versions" not in s3.list_object_versions(Bucket="versioned")
    s3.delete_bucket(Bucket="versioned")  # empty now, so it can go
    assert AwsClient(REGION).empty_bucket("versioned") == 0  # gone: nothing to do
