"""Settles created payments from the payments queue (an `sqs` event)."""

import json
import os
import time

import boto3

_table = boto3.resource("dynamodb").Table(os.environ["PAYMENTS_TABLE"])


def settle(event, context):
    """Marks each message's payment settled; a message whose payment cannot be settled is
    reported (ReportBatchItemFailures), so only it is delivered again."""
    failures = []
    for record in event["Records"]:
        try:
            message = json.loads(record["body"])
            _table.update_item(
                Key={"id": message["id"]},
                UpdateExpression="SET #s = :settled, settled_at = :at",
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":settled": "settled", ":at": int(time.time())},
            )
            print(f"settled {message['id']}")
        except Exception as exc:  # noqa: BLE001 - any failure leaves the message for a retry
            print(f"cannot settle message {record['messageId']}: {exc}")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
