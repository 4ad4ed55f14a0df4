"""The local target's AWS emulator, as a user meets it: a service's table exists on it,
its function reaches it through boto3 with no change to its code, and the server puts the
stacks back when it starts again (moto keeps them in memory)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.conftest import commit_all, git
from tests.integration.cli import serving, shipway

SERVICE = """\
service: users
provider:
  name: aws
  runtime: python3.12
  environment:
    TABLE: {Ref: UsersTable}
functions:
  users:
    handler: handler.users
    events:
      - http:
          path: users/{id}
          method: any
resources:
  Resources:
    UsersTable:
      Type: AWS::DynamoDB::Table
      Properties:
        AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
        KeySchema: [{AttributeName: id, KeyType: HASH}]
        BillingMode: PAY_PER_REQUEST
"""

HANDLER = """\
import json, os
import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def users(event, context):
    key = event["pathParameters"]["id"]
    if event["httpMethod"] == "PUT":
        table.put_item(Item={"id": key, "name": json.loads(event["body"])["name"]})
        return {"statusCode": 204, "body": ""}
    item = table.get_item(Key={"id": key}).get("Item")
    body = {"table": os.environ["TABLE"], "item": item}
    return {"statusCode": 200 if item else 404, "body": json.dumps(body)}
"""

FILES = {
    "shipway.yml": "project: users\nbuild: {sandbox: off}\nenvironments:\n  dev: {branch: dev}\n",
    ".gitignore": ".shipway/\n",
    "services/users/serverless.yml": SERVICE,
    "services/users/handler.py": HANDLER,
}


def call(url: str, method: str = "GET", body: dict[str, str] | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_function_writes_and_reads_its_table_on_the_emulator(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(FILES)
    git(repo, "checkout", "-q", "dev")
    with serving(repo) as (_, url):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        base = f"{url}/dev/users/users/42"
        assert call(base, "PUT", {"name": "Ada"})[0] == 204
        status, text = call(base)
        assert status == 200, text
        answer = json.loads(text)
        assert answer["item"] == {"id": "42", "name": "Ada"}
        # the table's name on the emulator, as CloudFormation named it
        assert answer["table"].startswith("users-dev-UsersTable-")
    # a new server starts with the stacks put back (empty: moto keeps data in memory)
    with serving(repo) as (_, url):
        status, text = call(f"{url}/dev/users/users/42")
        assert status == 404, text
        assert json.loads(text)["table"].startswith("users-dev-UsersTable-")


def test_without_a_server_a_stack_that_cannot_be_made_fails_the_deploy(
    make_repo: Callable[..., Path],
) -> None:
    # an export no stack of the environment makes: CloudFormation refuses the stack
    broken = SERVICE + (
        "    Jobs:\n      Type: AWS::SQS::Queue\n"
        "      Properties: {QueueName: {'Fn::ImportValue': billing-dev-JobsQueueName}}\n"
    )
    repo = make_repo({**FILES, "services/users/serverless.yml": broken})
    git(repo, "checkout", "-q", "dev")
    ran = shipway("run", "dev", repo=repo)
    assert ran.returncode == 1, ran.stderr
    assert "local AWS emulator" in ran.stderr and "billing-dev-JobsQueueName" in ran.stderr
    status = json.loads(shipway("status", "dev", "--json", repo=repo).stdout)
    assert status["dev"]["release"] is None  # nothing was switched in
    assert not (repo / ".shipway/envs/dev/current").exists()


def test_a_rollback_puts_the_earlier_stacks_back_on_the_emulator(
    make_repo: Callable[..., Path],
) -> None:
    import boto3

    repo = make_repo(FILES)
    git(repo, "checkout", "-q", "dev")
    with serving(repo) as (_, _url):
        assert shipway("run", "dev", repo=repo).returncode == 0
        queue = "    Jobs:\n      Type: AWS::SQS::Queue\n      Properties: {QueueName: jobs-dev}\n"
        (repo / "services/users/serverless.yml").write_text(SERVICE + queue)
        commit_all(repo, "a queue")
        assert shipway("run", "dev", repo=repo).returncode == 0
        endpoint = json.loads((repo / ".shipway/server.json").read_text())["emulator"]
        sqs = boto3.client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        assert [u.rsplit("/", 1)[-1] for u in sqs.list_queues().get("QueueUrls", [])] == [
            "jobs-dev"
        ]
        rolled = shipway("rollback", "dev", "--to", "1", repo=repo)
        assert rolled.returncode == 0, rolled.stderr
        assert sqs.list_queues().get("QueueUrls", []) == []  # release 1 has no queue


USERS_OUTPUT = SERVICE + ("  Outputs:\n    UsersTableName:\n      Value: {Ref: UsersTable}\n")

ORDERS = """\
service: orders
provider:
  name: aws
  runtime: python3.12
  environment:
    USERS_TABLE: ${cf:users-${sls:stage}.UsersTableName}
    USERS_ARN: arn:aws:dynamodb:us-east-1:${aws:accountId}:table/${cf:users-dev.UsersTableName}
    USERS_API: ${cf:users-dev.ServiceEndpoint}
functions:
  orders:
    handler: handler.orders
    events:
      - http: GET orders/{id}
"""

ORDERS_HANDLER = """\
import json, os
import boto3

def orders(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["USERS_TABLE"])
    item = table.get_item(Key={"id": event["pathParameters"]["id"]}).get("Item")
    body = {"table": os.environ["USERS_TABLE"], "arn": os.environ["USERS_ARN"], "user": item,
            "api": os.environ["USERS_API"]}
    return {"statusCode": 200, "body": json.dumps(body)}
"""


def test_a_sibling_stacks_output_reaches_another_services_function(
    make_repo: Callable[..., Path],
) -> None:
    """`${cf:users-dev.UsersTableName}` of a local environment: validated without AWS,
    resolved on the emulator when the function starts, and again after a new server put
    the stacks back under new names; `${cf:users-dev.ServiceEndpoint}` is the local URL."""
    repo = make_repo(
        {
            **FILES,
            "services/users/serverless.yml": USERS_OUTPUT,
            "services/orders/serverless.yml": ORDERS,
            "services/orders/handler.py": ORDERS_HANDLER,
        }
    )
    git(repo, "checkout", "-q", "dev")
    checked = shipway("validate", repo=repo)
    assert checked.returncode == 0, checked.stderr
    for _ in range(2):  # the second server puts the stacks back: the table has a new name
        with serving(repo) as (_, url):
            if not (repo / ".shipway/envs/dev/current").exists():
                ran = shipway("run", "dev", repo=repo)
                assert ran.returncode == 0, ran.stderr
            assert call(f"{url}/dev/users/users/7", "PUT", {"name": "Grace"})[0] == 204
            _, text = call(f"{url}/dev/users/users/7")
            table = json.loads(text)["table"]
            status, text = call(f"{url}/dev/orders/orders/7")
            assert status == 200, text
            answer = json.loads(text)
            assert answer["table"] == table  # the users service's own table, on the emulator
            assert answer["user"] == {"id": "7", "name": "Grace"}
            assert answer["arn"] == f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
            # an endpoint output is where the local gateway serves the service
            assert answer["api"] == f"{url}/dev/users"
            assert call(answer["api"] + "/users/7")[0] == 200


def test_the_emulator_process_ends_with_a_killed_server(make_repo: Callable[..., Path]) -> None:
    """moto runs in a process of its own beside the server: killed without a chance to
    clean up, the server leaves no emulator behind (its pipe closes, the child leaves)."""
    import signal
    import time

    repo = make_repo(FILES)
    git(repo, "checkout", "-q", "dev")
    with serving(repo) as (proc, _):
        emulator = json.loads((repo / ".shipway/server.json").read_text())["emulator"]
        assert call(f"{emulator}/moto-api/data.json")[0] == 200
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                call(f"{emulator}/moto-api/data.json")
            except OSError:
                break  # nothing listens there any more
            time.sleep(0.1)
        else:
            raise AssertionError(f"the emulator at {emulator} outlived its server")


def test_a_restarted_server_puts_an_export_back_before_its_import(
    make_repo: Callable[..., Path],
) -> None:
    exporter = (
        "service: jobs\nprovider:\n  name: aws\n  runtime: python3.12\n"
        "functions:\n  f:\n    handler: handler.f\n"
        "resources:\n  Resources:\n    Jobs: {Type: AWS::SQS::Queue}\n"
        "  Outputs:\n    JobsName:\n      Value: {'Fn::GetAtt': [Jobs, QueueName]}\n"
        "      Export: {Name: jobs-dev-JobsName}\n"
    )
    importer = (
        "service: zeta\nprovider:\n  name: aws\n  runtime: python3.12\n"
        "  environment:\n    JOBS: {'Fn::ImportValue': jobs-dev-JobsName}\n"
        "functions:\n  f:\n    handler: handler.f\n"
        "resources:\n  Resources:\n    Notes:\n      Type: AWS::SQS::Queue\n"
        "      Properties: {QueueName: {'Fn::Join': ['-', [{'Fn::ImportValue': "
        "jobs-dev-JobsName}, notes]]}}\n"
    )
    handler = "import os\n\ndef f(event, context):\n    return os.environ['JOBS']\n"
    repo = make_repo(
        {
            # `zeta` sorts after `jobs` by name but is listed first: the order is the deps'
            "shipway.yml": "project: q\nbuild: {sandbox: off}\nservices:\n"
            "  - path: services/zeta\n    depends_on: [jobs]\n  - services/jobs\n"
            "environments:\n  dev: {branch: dev}\n",
            "services/jobs/serverless.yml": exporter,
            "services/jobs/handler.py": handler.replace("os.environ['JOBS']", "1"),
            "services/zeta/serverless.yml": importer,
            "services/zeta/handler.py": handler,
        }
    )
    git(repo, "checkout", "-q", "dev")
    ran = shipway("run", "dev", repo=repo)
    assert ran.returncode == 0, ran.stderr
    for _ in range(2):  # each new server puts both back, the export first
        with serving(repo):
            emulator = json.loads((repo / ".shipway/server.json").read_text())["emulator"]
            invoked = shipway("invoke", "zeta.f", "--env", "dev", repo=repo)
            assert invoked.returncode == 0, invoked.stderr
            assert json.loads(invoked.stdout).startswith("jobs-dev-Jobs")
            import boto3

            sqs = boto3.client(
                "sqs",
                endpoint_url=emulator,
                region_name="us-east-1",
                aws_access_key_id="shipway-local",
                aws_secret_access_key="shipway-local-secret",
            )
            names = [u.rsplit("/", 1)[1] for u in sqs.list_queues().get("QueueUrls", [])]
            assert any(n.endswith("-notes") for n in names), names
