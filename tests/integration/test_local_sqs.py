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


def _client(repo: Path, service: str) -> Any:
    """boto3 for `service` on the served emulator of `repo`."""
    endpoint = json.loads((repo / ".shipway/server.json").read_text())["emulator"]
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def _repo(make_repo: Callable[..., Path], name: str, yml: str, handler: str) -> Path:
    """A one-service repository on the local target, its dev branch checked out."""
    repo = make_repo(
        {
            "shipway.yml": f"project: {name}\nbuild: {{sandbox: off}}\n"
            "environments:\n  dev: {branch: dev}\n",
            ".gitignore": ".shipway/\n",
            f"services/{name}/serverless.yml": yml,
            f"services/{name}/handler.py": handler,
        }
    )
    git(repo, "checkout", "-q", "dev")
    return repo


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.splitlines()]


def _until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_queue_feeds_its_consumer(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    out = tmp_path / "seen.jsonl"
    repo = _repo(make_repo, "jobs", SERVICE.format(out=out), HANDLER)
    with serving(repo):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        sqs = _client(repo, "sqs")
        (url,) = [u for u in sqs.list_queues()["QueueUrls"] if "Jobs" in u]
        attributes = {"kind": {"DataType": "String", "StringValue": "order"}}
        for body in ("a", "b", "bad", "c"):
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)

        # the four arrive (in one batch or more), and `bad` again after its timeout
        _until(lambda: [r["body"] for r in _lines(out)].count("bad") >= 2)
        records = _lines(out)
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
    repo = _repo(make_repo, "news", TOPICS.format(out=out), LISTENER)
    with serving(repo):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        sns = _client(repo, "sns")
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

        _until(lambda: len(_lines(out)) >= 2)
        time.sleep(1)  # the filtered-out message would have come by now
        got = {r["message"]: r for r in _lines(out)}
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
    repo = _repo(make_repo, "photos", BUCKETS.format(out=out), THUMB)
    with serving(repo):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        s3 = _client(repo, "s3")

        def notified() -> bool:  # the poller adds its queue once it sees the release
            config = s3.get_bucket_notification_configuration(Bucket="photos-dev-uploads")
            return bool(config.get("QueueConfigurations"))

        _until(notified)
        s3.put_object(Bucket="photos-dev-uploads", Key="incoming/cat.png", Body=b"x")  # suffix
        s3.put_object(Bucket="photos-dev-uploads", Key="other/cat.jpg", Body=b"x")  # prefix
        s3.put_object(Bucket="photos-dev-uploads", Key="incoming/cat.jpg", Body=b"x")

        _until(lambda: len(_lines(out)) >= 1)
        time.sleep(1)  # the filtered-out objects would have come by now
        (record,) = _lines(out)
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
    repo = _repo(make_repo, "audit", STREAMED.format(out=out), AUDITOR)
    with serving(repo):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        dynamodb = _client(repo, "dynamodb")
        (table,) = dynamodb.list_tables()["TableNames"]
        dynamodb.put_item(TableName=table, Item={"id": {"S": "o1"}, "total": {"N": "5"}})
        dynamodb.update_item(
            TableName=table,
            Key={"id": {"S": "o1"}},
            UpdateExpression="SET #t = :t",
            ExpressionAttributeNames={"#t": "total"},
            ExpressionAttributeValues={":t": {"N": "7"}},
        )

        _until(lambda: len(_lines(out)) >= 2)
        first, second = _lines(out)[:2]
        assert (first["name"], second["name"]) == ("INSERT", "MODIFY")
        assert first["source"] == "aws:dynamodb" and f"table/{table}/stream/" in first["arn"]
        assert second["new"] == {"id": {"S": "o1"}, "total": {"N": "7"}}
