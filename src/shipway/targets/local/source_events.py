"""The events Lambda gives a function for SQS messages, SNS notifications (as their SQS
delivery carries them) and S3 events, and how a ReportBatchItemFailures answer to an SQS
batch is read (sqs_source.py hands them over)."""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

__all__ = ["merged", "reported_failures", "s3_event", "s3_label", "sns_event", "sqs_event"]


def s3_event(message: dict[str, Any]) -> dict[str, Any]:
    """Lambda's event for one S3 notification: the event S3 sent (its test event, sent when
    the notification is set, is not one)."""
    event = json.loads(message.get("Body") or "null")
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        raise ValueError("not an S3 event")
    for record in event["Records"]:
        found = ((record.get("s3") or {}).get("object") or {}) if isinstance(record, dict) else {}
        if isinstance(found.get("key"), str):
            # S3 form-encodes the key but keeps its `/` (`photos/my cat.jpg` is
            # `photos/my+cat.jpg`); the emulator encodes the `/` too
            found["key"] = urllib.parse.quote_plus(urllib.parse.unquote_plus(found["key"]), "/")
    return event


def s3_label(event: dict[str, Any]) -> str:
    records = event.get("Records") or [{}]
    first = records[0] if isinstance(records[0], dict) else {}
    s3 = first.get("s3") or {}
    key = (s3.get("object") or {}).get("key", "")
    return (
        f"{first.get('eventName', 'event')} s3://{(s3.get('bucket') or {}).get('name', '')}/{key}"
    )


def sns_event(message: dict[str, Any], subscription: str) -> dict[str, Any]:
    """Lambda's event for one SNS notification (as its SQS delivery carries it)."""
    note = json.loads(message.get("Body") or "null")
    if not isinstance(note, dict) or note.get("Type") != "Notification":
        raise ValueError("not an SNS notification")
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": note.get("MessageId", ""),
                    "TopicArn": note.get("TopicArn", ""),
                    "Subject": note.get("Subject"),
                    "Message": note.get("Message", ""),
                    "Timestamp": note.get("Timestamp", ""),
                    "SignatureVersion": note.get("SignatureVersion", "1"),
                    "Signature": note.get("Signature", ""),
                    "SigningCertUrl": note.get("SigningCertURL", ""),
                    "UnsubscribeUrl": note.get("UnsubscribeURL", ""),
                    "MessageAttributes": dict(note.get("MessageAttributes") or {}),
                },
            }
        ]
    }


def merged(batch: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`batch` with `more`: a message seen again (its visibility timeout ran out while the
    batch filled) is kept once, with its newer receipt handle (the older one is void)."""
    by_id = {m["MessageId"]: m for m in batch}
    for message in more:
        by_id[message["MessageId"]] = message
    return list(by_id.values())


def reported_failures(result: Any, messages: list[dict[str, Any]]) -> set[str] | None:
    """The message IDs a ReportBatchItemFailures answer names; None when it is invalid."""
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()
    ids = {m["MessageId"] for m in messages}
    failed = set()
    for item in result["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in ids:
            return None
        failed.add(str(identifier))
    return failed


def sqs_event(messages: list[dict[str, Any]], arn: str, region: str) -> dict[str, Any]:
    """Lambda's event for a batch of SQS messages (as ReceiveMessage gave them)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m.get("Body", ""),
                "attributes": dict(m.get("Attributes") or {}),
                "messageAttributes": {
                    name: _attribute(value)
                    for name, value in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        binary = value["BinaryValue"]
        out["binaryValue"] = (
            base64.b64encode(binary).decode() if isinstance(binary, bytes) else str(binary)
        )
    return out
