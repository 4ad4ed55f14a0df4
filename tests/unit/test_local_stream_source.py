"""Reading a DynamoDB stream event's config and answer (tests/integration/test_local_sqs.py
feeds a real table's stream on the emulator)."""

from __future__ import annotations

import datetime as dt

import pytest

from shipway.errors import ShipwayError
from shipway.targets.local.stream_source import lambda_records, reported_checkpoint, table_of

RECORDS = [
    {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "10"}},
    {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "11"}},
    {"eventName": "REMOVE", "dynamodb": {"SequenceNumber": "12"}},
]


def test_the_table_of_a_stream() -> None:
    assert table_of({"arn": {"Fn::GetAtt": ["Orders", "StreamArn"]}}) == ("Orders", None)
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"
    assert table_of({"arn": arn}) == (None, "orders")
    with pytest.raises(ShipwayError, match="Kinesis"):
        table_of({"arn": "arn:aws:kinesis:us-east-1:123456789012:stream/s", "type": "kinesis"})


def test_the_checkpoint_a_partial_failure_goes_on_from() -> None:
    assert reported_checkpoint({"batchItemFailures": []}, RECORDS) is None
    failed = {"batchItemFailures": [{"itemIdentifier": "12"}, {"itemIdentifier": "11"}]}
    assert reported_checkpoint(failed, RECORDS) == "11"
    assert reported_checkpoint({"batchItemFailures": [{"itemIdentifier": "99"}]}, RECORDS) is False


def test_records_get_their_source_arn_region_and_epoch_time() -> None:
    when = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    raw = [{"eventName": "INSERT", "dynamodb": {"ApproximateCreationDateTime": when}}]
    (record,) = lambda_records(raw, "arn:stream", "eu-west-1")["Records"]
    assert record["eventSourceARN"] == "arn:stream" and record["awsRegion"] == "eu-west-1"
    assert record["dynamodb"]["ApproximateCreationDateTime"] == int(when.timestamp())
