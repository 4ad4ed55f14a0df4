"""`stream` events (DynamoDB streams) on the local target: what the poller
(sqs_source.py) needs to read a table's stream on the local AWS emulator and hand its
records to a function as Lambda's event source mapping does.

* the stream: the event's `arn` — `Fn::GetAtt: [Table, StreamArn]` of a table of the
  service's stack, or a stream ARN (its table's latest stream on the emulator is read);
  Kinesis streams are not fed locally (said once in the log);
* a batch: up to `batchSize` records (default 100) from `startingPosition` (default
  `TRIM_HORIZON`, as the Framework writes it);
* a failed batch is handed over again, in order, blocking the shard as on AWS, until it
  succeeds or `maximumRetryAttempts` retries were made (then it is skipped, and said so);
  with `functionResponseType: ReportBatchItemFailures` the stream goes on from the first
  reported record (`itemIdentifier`: its `SequenceNumber`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shipway.errors import ShipwayError

__all__ = [
    "lambda_records",
    "reported_checkpoint",
    "stream_batch_size",
    "stream_config",
    "table_of",
]

_DEFAULT_BATCH = 100


def stream_config(raw: Any) -> dict[str, Any]:
    """A `stream` event as `{arn, type?, batchSize?, startingPosition?, …}`."""
    return dict(raw) if isinstance(raw, dict) else {"arn": raw}


def stream_batch_size(config: dict[str, Any]) -> int:
    value = config.get("batchSize")
    return value if isinstance(value, int) and value > 0 else _DEFAULT_BATCH


def table_of(config: dict[str, Any]) -> tuple[str | None, str | None]:
    """(the logical ID of the table in the service's stack, or the table's name) the
    event's stream is of; a Kinesis stream is a ShipwayError."""
    arn = config.get("arn")
    if config.get("type") == "kinesis" or (isinstance(arn, str) and ":kinesis:" in arn):
        raise ShipwayError("Kinesis streams are not fed by the local runtime")
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        target = arn["Fn::GetAtt"]
        parts = target.split(".", 1) if isinstance(target, str) else list(target)
        return (str(parts[0]) if parts else None), None
    if isinstance(arn, str) and ":dynamodb:" in arn and "/stream/" in arn:
        return None, arn.split(":table/", 1)[1].split("/", 1)[0]
    raise ShipwayError("`arn` is not a DynamoDB stream the local runtime reads")


def lambda_records(records: list[dict[str, Any]], arn: str, region: str) -> dict[str, Any]:
    """Lambda's event for stream records (as GetRecords gave them)."""
    out = []
    for record in records:
        item = dict(record)
        item["awsRegion"] = region
        item["eventSourceARN"] = arn
        dynamodb = dict(item.get("dynamodb") or {})
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, dt.datetime):  # Lambda's is epoch seconds
            dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
        item["dynamodb"] = dynamodb
        out.append(item)
    return {"Records": out}


def reported_checkpoint(result: Any, records: list[dict[str, Any]]) -> str | bool | None:
    """Where a ReportBatchItemFailures answer says to go on from: the lowest reported
    SequenceNumber; None when the batch succeeded; False when the answer is invalid (the
    whole batch failed)."""
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return None
    sequences = {str((r.get("dynamodb") or {}).get("SequenceNumber")) for r in records}
    failed = []
    for item in result["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or str(identifier) not in sequences:
            return False
        failed.append(str(identifier))
    return min(failed, key=int)
