"""The SQS event the local runtime gives a function, and how a ReportBatchItemFailures
answer is read (tests/integration/test_local_sqs.py runs them against the emulator)."""

from __future__ import annotations

from shipway.targets.local.source_events import merged as _merged
from shipway.targets.local.source_events import reported_failures as _reported_failures
from shipway.targets.local.source_events import sqs_event

MESSAGES = [
    {
        "MessageId": "m1",
        "ReceiptHandle": "r1",
        "Body": "hello",
        "MD5OfBody": "5d41402abc4b2a76b9719d911017c592",
        "Attributes": {"ApproximateReceiveCount": "1"},
        "MessageAttributes": {
            "kind": {"DataType": "String", "StringValue": "order"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    },
    {"MessageId": "m2", "ReceiptHandle": "r2", "Body": "x"},
]


def test_the_event_has_lambdas_record_shape() -> None:
    (first, second) = sqs_event(MESSAGES, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")[
        "Records"
    ]
    assert first["messageId"] == "m1" and first["receiptHandle"] == "r1"
    assert first["body"] == "hello" and first["md5OfBody"].startswith("5d41")
    assert first["eventSource"] == "aws:sqs" and first["awsRegion"] == "us-east-1"
    assert first["messageAttributes"]["kind"] == {
        "stringValue": "order",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert first["messageAttributes"]["raw"]["binaryValue"] == "AAE="
    assert second["attributes"] == {} and second["messageAttributes"] == {}


def test_reported_failures() -> None:
    assert _reported_failures({"batchItemFailures": []}, MESSAGES) == set()
    assert _reported_failures(None, MESSAGES) == set()
    assert _reported_failures({"batchItemFailures": [{"itemIdentifier": "m2"}]}, MESSAGES) == {"m2"}
    # a message not in the batch, or no identifier: the whole batch failed
    assert _reported_failures({"batchItemFailures": [{"itemIdentifier": "zz"}]}, MESSAGES) is None
    assert _reported_failures({"batchItemFailures": [{}]}, MESSAGES) is None


def test_a_message_seen_again_is_kept_once_with_its_new_receipt() -> None:
    again = {**MESSAGES[0], "ReceiptHandle": "r1-new"}
    merged = _merged(MESSAGES, [again])
    assert [m["ReceiptHandle"] for m in merged] == ["r1-new", "r2"]


def test_an_sns_notification_becomes_lambdas_sns_event() -> None:
    import json

    import pytest

    from shipway.targets.local.source_events import sns_event

    note = {
        "Type": "Notification",
        "MessageId": "n1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "Subject": "s",
        "Message": "m",
        "Timestamp": "2026-12-04T00:00:00.000Z",
        "SigningCertURL": "https://cert",
        "UnsubscribeURL": "https://unsubscribe",
        "MessageAttributes": {"k": {"Type": "String", "Value": "v"}},
    }
    (record,) = sns_event({"Body": json.dumps(note)}, "arn:sub")["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"] == "arn:sub"
    sns = record["Sns"]
    assert (sns["MessageId"], sns["Message"], sns["Subject"]) == ("n1", "m", "s")
    assert (
        sns["SigningCertUrl"] == "https://cert" and sns["UnsubscribeUrl"] == "https://unsubscribe"
    )
    assert sns["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    with pytest.raises(ValueError):
        sns_event({"Body": '"just text"'}, "arn:sub")


def test_an_s3_event_keeps_the_slashes_of_its_key_and_a_test_event_is_none() -> None:
    import json

    import pytest

    from shipway.targets.local.source_events import s3_event

    body = {"Records": [{"eventSource": "aws:s3", "s3": {"object": {"key": "a%2Fmy+cat.jpg"}}}]}
    (record,) = s3_event({"Body": json.dumps(body)})["Records"]
    assert record["s3"]["object"]["key"] == "a/my+cat.jpg"  # as S3 encodes it
    with pytest.raises(ValueError):
        s3_event({"Body": json.dumps({"Event": "s3:TestEvent"})})
