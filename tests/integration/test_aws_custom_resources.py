"""The Framework's custom resources deployed for real: `s3: {existing: true}` and the
account's API Gateway CloudWatch role, against moto's server.

moto creates the handler functions from the zip Shipway uploads but cannot run Lambda code,
so a custom resource's stack would wait forever. The test plays Lambda: it takes the
uploaded zip from the deployment bucket, runs the shipped handler with node (the AWS SDK v3
the Lambda runtime provides comes from the oracle's node_modules) against moto, and the
handler answers CloudFormation's response URL itself. What the user checks is then real:
the bucket notifies the function, the account has its CloudWatch role.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

from shipway.model import DeployInput, ServiceOutcome
from shipway.targets.aws.client import AwsClient
from shipway.targets.aws.custom_resources import custom_resources_zip
from shipway.targets.aws.deployer import Deployer
from tests.integration.awskit import make_service, serverless_yml
from tests.moto import ACCOUNT_ID, REGION

ORACLE = os.environ.get("SHIPWAY_SLS_ORACLE", "")
NODE_MODULES = Path(ORACLE).parents[1] if ORACLE else Path("/nonexistent")

pytestmark = [
    pytest.mark.usefixtures("aws_env"),
    pytest.mark.skipif(
        not (shutil.which("node") and (NODE_MODULES / "@aws-sdk" / "client-s3").is_dir()),
        reason="node and the AWS SDK v3 (the oracle's node_modules, SHIPWAY_SLS_ORACLE) needed",
    ),
]

RUN_HANDLER = """
const [file, event, arn] = process.argv.slice(1);
require(file).handler(JSON.parse(event), { invokedFunctionArn: arn, logStreamName: 'test' })
  .then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
"""


class PlaysLambda:
    """Runs each custom resource of `item`'s stack with the handler code in the deployment
    bucket, as Lambda would when CloudFormation creates it. moto executes a change set at
    once and never waits for a custom resource, so this runs after the deploy returned."""

    def __init__(self, item: DeployInput, endpoint: str, scratch: Path) -> None:
        self.item, self.endpoint, self.scratch = item, endpoint, scratch
        self.ran: list[str] = []
        self.failures: list[str] = []

    def run(self) -> PlaysLambda:
        cfn = boto3.client("cloudformation", region_name=REGION)
        stack = self.item.stack or f"{self.item.definition.service}-dev"
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        resources: Mapping[str, Any] = (self.item.template or {})["Resources"]
        for logical_id, resource in resources.items():
            if str(resource.get("Type", "")).startswith("Custom::"):
                self._invoke(described["StackId"], logical_id, resource, resources)
        return self

    def _invoke(
        self, stack_id: str, logical_id: str, resource: Any, resources: Mapping[str, Any]
    ) -> None:
        handler_id = resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        function = resources[handler_id]["Properties"]
        code = self._code(function["Code"]["S3Key"])
        module, _ = function["Handler"].rsplit(".", 1)
        properties = {k: v for k, v in resource["Properties"].items() if k != "ServiceToken"}
        event = {
            "RequestType": "Create",
            "ResponseURL": f"{self.endpoint}/cloudformation_{REGION}/cfnresponse?stack={stack_id}",
            "StackId": stack_id,
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": logical_id,
            "ResourceType": resource["Type"],
            "ResourceProperties": properties,
        }
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function['FunctionName']}"
        env = {
            **os.environ,
            "NODE_PATH": str(NODE_MODULES),
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "SLS_AWS_REQUEST_MAX_RETRIES": "0",
        }
        proc = subprocess.run(
            ["node", "-e", RUN_HANDLER, str(code / module), json.dumps(event), arn],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.ran.append(logical_id)
        if proc.returncode != 0 or '"Status":"FAILED"' in proc.stdout:
            self.failures.append(f"{logical_id}: {proc.stdout}{proc.stderr}")

    def _code(self, key: str) -> Path:
        s3 = boto3.client("s3", region_name=REGION)
        (bucket,) = [
            b["Name"]
            for b in s3.list_buckets()["Buckets"]
            if "serverlessdeploymentbucket" in b["Name"]
        ]
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        target = self.scratch / "code"
        zipfile.ZipFile(io.BytesIO(body)).extractall(target)
        return target


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server of this module's own that knows AWS's managed policies, as a real
    account does (the CloudWatch role's handler attaches one); the shared server loads
    none, to keep every other test's reset cheap."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("moto_server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def endpoint(aws_env: str) -> Iterator[str]:
    yield aws_env


EXISTING = """\
functions:
  hello:
    handler: handler.hello
    events:
      - s3:
          bucket: photos-existing
          existing: true
          event: s3:ObjectCreated:*
          rules:
            - prefix: uploads/
"""


def test_an_existing_bucket_notifies_the_function(tmp_path: Path, endpoint: str) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="photos-existing")  # made outside the stack
    item = make_service(tmp_path, "hello", yml=serverless_yml("hello", functions=EXISTING))

    done = Deployer(AwsClient(REGION)).deploy(item)
    lam = PlaysLambda(item, endpoint, tmp_path).run()

    assert lam.failures == [], "\n".join(lam.failures)
    assert lam.ran == ["HelloCustomS31"]
    assert done.outcome is ServiceOutcome.DEPLOYED
    (config,) = s3.get_bucket_notification_configuration(Bucket="photos-existing")[
        "LambdaFunctionConfigurations"
    ]
    assert config["LambdaFunctionArn"].endswith(":function:hello-dev-hello")
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "uploads/"}]
    policy = json.loads(
        boto3.client("lambda", region_name=REGION).get_policy(FunctionName="hello-dev-hello")[
            "Policy"
        ]
    )
    assert [s["Principal"] for s in policy["Statement"]] == [{"Service": "s3.amazonaws.com"}]
    handler = boto3.client("lambda", region_name=REGION).get_function(
        FunctionName="hello-dev-custom-resource-existing-s3"
    )
    assert handler["Configuration"]["Runtime"] == "nodejs24.x"
    assert handler["Configuration"]["CodeSha256"]  # created from the uploaded zip


def test_the_handlers_zip_is_uploaded_once_under_its_content_key(
    tmp_path: Path, endpoint: str
) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="photos-existing")
    item = make_service(tmp_path, "hello", yml=serverless_yml("hello", functions=EXISTING))
    Deployer(AwsClient(REGION)).deploy(item)
    s3 = boto3.client("s3", region_name=REGION)
    (bucket,) = [b["Name"] for b in s3.list_buckets()["Buckets"] if "deploymentbucket" in b["Name"]]
    zipped = custom_resources_zip()
    key = f"serverless/hello/dev/code-artifacts/{zipped.sha256}.zip"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == zipped.data


def test_rest_api_logs_get_the_accounts_cloudwatch_role(tmp_path: Path, endpoint: str) -> None:
    item = make_service(tmp_path, "hello", yml=serverless_yml("hello", "logs:\n  restApi: true\n"))

    done = Deployer(AwsClient(REGION)).deploy(item)
    lam = PlaysLambda(item, endpoint, tmp_path).run()

    assert lam.failures == [], "\n".join(lam.failures)
    assert lam.ran == ["CustomApiGatewayAccountCloudWatchRole"]
    assert done.outcome is ServiceOutcome.DEPLOYED
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/serverlessApiGatewayCloudWatchRole"
    account = boto3.client("apigateway", region_name=REGION).get_account()
    assert account["cloudwatchRoleArn"] == role
    attached = boto3.client("iam", region_name=REGION).list_attached_role_policies(
        RoleName="serverlessApiGatewayCloudWatchRole"
    )["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonAPIGatewayPushToCloudWatchLogs"]
    apigw = boto3.client("apigateway", region_name=REGION)
    (api,) = [a["id"] for a in apigw.get_rest_apis()["items"] if a["name"] == "dev-hello"]
    stage = apigw.get_stage(restApiId=api, stageName="dev")
    assert stage["accessLogSettings"]["destinationArn"].endswith(
        ":log-group:/aws/api-gateway/hello-dev"
    )
