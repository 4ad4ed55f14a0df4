"""`sqs` events on the local target, as a user meets them: a queue of the service's own
stack on the local AWS emulator feeds its consumer while `shipway serve` runs — batches,
deletes on success, leaves on failure, and ReportBatchItemFailures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from tests.conftest import git
from tests.integration.cli import serving, shipway

SERVICE = """\
service: jobs
provider:
  name: aws
  runtime: python3.12
  environment:
    OUT: {out}
functions:
  consume:
    handler: handler.consume
    events:
      - sqs:
          arn: {{Fn::GetAtt: [Jobs, Arn]}}
          batchSize: 5
          maximumBatchingWindow: 1
          functionResponseType: ReportBatchItemFailures
  strict:
    handler: handler.strict
    events:
      - sqs: arn:aws:sqs:us-east-1:123456789012:strict-dev
resources:
  Resources:
    Jobs:
      Type: AWS::SQS::Queue
      Properties:
        VisibilityTimeout: 3
    Strict:
      Type: AWS::SQS::Queue
      Properties: {{QueueName: strict-dev, VisibilityTimeout: 60}}
"""

HANDLER = """\
import json, os

def consume(event, context):
    failed = []
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            out.write(json.dumps({"body": record["body"], "source": record["eventSource"],
                                  "arn": record["eventSourceARN"], "n": len(event["Records"]),
                                  "kind": record["messageAttributes"].get("kind", {})}) + "\\n")
            if record["body"] == "bad":
                failed.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failed}

def strict(event, context):
    raise RuntimeError("always fails")
"""


def _sqs(repo: Path) -> Any:
    endpoint = json.loads((repo / ".shipway/server.json").read_text())["emulator"]
    return boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def _until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_queue_feeds_its_consumer(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    out = tmp_path / "seen.jsonl"
    repo = make_repo(
        {
            "shipway.yml": "project: jobs\nbuild: {sandbox: off}\n"
            "environments:\n  dev: {branch: dev}\n",
            ".gitignore": ".shipway/\n",
            "services/jobs/serverless.yml": SERVICE.format(out=out),
            "services/jobs/handler.py": HANDLER,
        }
    )
    git(repo, "checkout", "-q", "dev")
    with serving(repo):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        sqs = _sqs(repo)
        (url,) = [u for u in sqs.list_queues()["QueueUrls"] if "Jobs" in u]
        attributes = {"kind": {"DataType": "String", "StringValue": "order"}}
        for body in ("a", "b", "bad", "c"):
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)

        def seen() -> list[dict[str, Any]]:
            text = out.read_text() if out.exists() else ""
            return [json.loads(line) for line in text.splitlines()]

        # the four arrive (in one batch or more), and `bad` again after its timeout
        _until(lambda: [r["body"] for r in seen()].count("bad") >= 2)
        records = seen()
        assert {r["body"] for r in records} == {"a", "b", "bad", "c"}
        assert [r["body"] for r in records].count("a") == 1  # deleted once handled
        first = records[0]
        assert first["source"] == "aws:sqs"
        assert first["arn"].startswith("arn:aws:sqs:us-east-1:123456789012:")
        assert first["kind"]["stringValue"] == "order"
        assert max(r["n"] for r in records) <= 5  # batchSize

        # a function that fails leaves its messages on the queue
        strict = sqs.get_queue_url(QueueName="strict-dev")["QueueUrl"]
        sqs.send_message(QueueUrl=strict, MessageBody="x")
        log = repo / ".shipway/envs/dev/logs/jobs.log"
        _until(lambda: "[SQS] strict 1 message(s)" in (log.read_text() if log.exists() else ""))
        left = sqs.get_queue_attributes(
            QueueUrl=strict, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        assert left["ApproximateNumberOfMessagesNotVisible"] == "1"
        text = log.read_text()
        assert "[SQS] consume" in text and "reported failed and left on the queue" in text
        assert "[SQS] strict 1 message(s)" in text and "RuntimeError" in text


TOPICS = """\
service: news
provider:
  name: aws
  runtime: python3.12
  environment:
    OUT: {out}
functions:
  listen:
    handler: handler.listen
    events:
      - sns: headlines
      - sns:
          arn: {{Ref: Alarms}}
          topicName: alarms
          filterPolicy: {{level: [high]}}
resources:
  Resources:
    Alarms:
      Type: AWS::SNS::Topic
"""

LISTENER = """\
import json, os

def listen(event, context):
    (record,) = event["Records"]
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"source": record["EventSource"], "topic": record["Sns"]["TopicArn"],
                              "message": record["Sns"]["Message"],
                              "subject": record["Sns"]["Subject"]}) + "\\n")
"""


def test_a_topic_notifies_its_subscribers(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    out = tmp_path / "heard.jsonl"
    repo = make_repo(
        {
            "shipway.yml": "project: news\nbuild: {sandbox: off}\n"
            "environments:\n  dev: {branch: dev}\n",
            ".gitignore": ".shipway/\n",
            "services/news/serverless.yml": TOPICS.format(out=out),
            "services/news/handler.py": LISTENER,
        }
    )
    git(repo, "checkout", "-q", "dev")
    with serving(repo):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        endpoint = json.loads((repo / ".shipway/server.json").read_text())["emulator"]
        sns = boto3.client(
            "sns",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        topics = {
            t["TopicArn"].rsplit(":", 1)[-1]: t["TopicArn"] for t in sns.list_topics()["Topics"]
        }
        alarms = next(arn for name, arn in topics.items() if "Alarms" in name)
        log = repo / ".shipway/envs/dev/logs/news.log"

        def subscribed() -> bool:  # the poller subscribes its queues once it sees the release
            subs = sns.list_subscriptions()["Subscriptions"]
            return len([s for s in subs if s["Protocol"] == "sqs"]) == 2

        _until(subscribed)
        sns.publish(TopicArn=topics["headlines"], Message="rain", Subject="weather")
        level = {"level": {"DataType": "String", "StringValue": "low"}}
        sns.publish(TopicArn=alarms, Message="ignored", MessageAttributes=level)
        level = {"level": {"DataType": "String", "StringValue": "high"}}
        sns.publish(TopicArn=alarms, Message="fire", MessageAttributes=level)

        def heard() -> list[dict[str, Any]]:
            text = out.read_text() if out.exists() else ""
            return [json.loads(line) for line in text.splitlines()]

        _until(lambda: len(heard()) >= 2)
        time.sleep(1)  # the filtered-out message would have come by now
        got = {r["message"]: r for r in heard()}
        assert set(got) == {"rain", "fire"}  # `low` does not pass the filter policy
        assert got["rain"]["source"] == "aws:sns" and got["rain"]["subject"] == "weather"
        assert got["rain"]["topic"] == topics["headlines"] and got["fire"]["topic"] == alarms
        assert "[SNS] listen a message from" in log.read_text()


BUCKETS = """\
service: photos
provider:
  name: aws
  runtime: python3.12
  environment:
    OUT: {out}
functions:
  thumb:
    handler: handler.thumb
    events:
      - s3:
          bucket: photos-dev-uploads
          event: s3:ObjectCreated:*
          rules:
            - prefix: incoming/
            - suffix: .jpg
"""

THUMB = """\
import json, os

def thumb(event, context):
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            out.write(json.dumps({"name": record["eventName"], "source": record["eventSource"],
                                  "bucket": record["s3"]["bucket"]["name"],
                                  "key": record["s3"]["object"]["key"]}) + "\\n")
"""


def test_a_bucket_notifies_its_function(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    out = tmp_path / "thumbs.jsonl"
    repo = make_repo(
        {
            "shipway.yml": "project: photos\nbuild: {sandbox: off}\n"
            "environments:\n  dev: {branch: dev}\n",
            ".gitignore": ".shipway/\n",
            "services/photos/serverless.yml": BUCKETS.format(out=out),
            "services/photos/handler.py": THUMB,
        }
    )
    git(repo, "checkout", "-q", "dev")
    with serving(repo):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        endpoint = json.loads((repo / ".shipway/server.json").read_text())["emulator"]
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )

        def notified() -> bool:  # the poller adds its queue once it sees the release
            config = s3.get_bucket_notification_configuration(Bucket="photos-dev-uploads")
            return bool(config.get("QueueConfigurations"))

        _until(notified)
        s3.put_object(Bucket="photos-dev-uploads", Key="incoming/cat.png", Body=b"x")  # suffix
        s3.put_object(Bucket="photos-dev-uploads", Key="other/cat.jpg", Body=b"x")  # prefix
        s3.put_object(Bucket="photos-dev-uploads", Key="incoming/cat.jpg", Body=b"x")

        def seen() -> list[dict[str, Any]]:
            text = out.read_text() if out.exists() else ""
            return [json.loads(line) for line in text.splitlines()]

        _until(lambda: len(seen()) >= 1)
        time.sleep(1)  # the filtered-out objects would have come by now
        (record,) = seen()
        assert record["key"] == "incoming/cat.jpg" and record["bucket"] == "photos-dev-uploads"
        assert record["source"] == "aws:s3" and record["name"].startswith("ObjectCreated")


STREAMED = """\
service: audit
provider:
  name: aws
  runtime: python3.12
  environment:
    OUT: {out}
    TABLE: {{Ref: Orders}}
functions:
  audit:
    handler: handler.audit
    events:
      - stream:
          type: dynamodb
          arn: {{Fn::GetAtt: [Orders, StreamArn]}}
          batchSize: 10
          startingPosition: TRIM_HORIZON
resources:
  Resources:
    Orders:
      Type: AWS::DynamoDB::Table
      Properties:
        AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
        KeySchema: [{{AttributeName: id, KeyType: HASH}}]
        BillingMode: PAY_PER_REQUEST
        StreamSpecification: {{StreamViewType: NEW_AND_OLD_IMAGES}}
"""

AUDITOR = """\
import json, os

def audit(event, context):
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            out.write(json.dumps({"name": record["eventName"], "source": record["eventSource"],
                                  "arn": record["eventSourceARN"],
                                  "new": record["dynamodb"].get("NewImage")}) + "\\n")
"""


def test_a_tables_stream_feeds_its_function(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    repo = make_repo(
        {
            "shipway.yml": "project: audit\nbuild: {sandbox: off}\n"
            "environments:\n  dev: {branch: dev}\n",
            ".gitignore": ".shipway/\n",
            "services/audit/serverless.yml": STREAMED.format(out=out),
            "services/audit/handler.py": AUDITOR,
        }
    )
    git(repo, "checkout", "-q", "dev")
    with serving(repo):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        endpoint = json.loads((repo / ".shipway/server.json").read_text())["emulator"]
        dynamodb = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        (table,) = dynamodb.list_tables()["TableNames"]
        dynamodb.put_item(TableName=table, Item={"id": {"S": "o1"}, "total": {"N": "5"}})
        dynamodb.update_item(
            TableName=table,
            Key={"id": {"S": "o1"}},
            UpdateExpression="SET #t = :t",
            ExpressionAttributeNames={"#t": "total"},
            ExpressionAttributeValues={":t": {"N": "7"}},
        )

        def seen() -> list[dict[str, Any]]:
            text = out.read_text() if out.exists() else ""
            return [json.loads(line) for line in text.splitlines()]

        _until(lambda: len(seen()) >= 2)
        first, second = seen()[:2]
        assert (first["name"], second["name"]) == ("INSERT", "MODIFY")
        assert first["source"] == "aws:dynamodb" and f"table/{table}/stream/" in first["arn"]
        assert second["new"] == {"id": {"S": "o1"}, "total": {"N": "7"}}
