"""Payments over API Gateway HTTP API (payload v2)."""

import hashlib
import hmac
import json
import os
import uuid
from pathlib import Path

import boto3

from common.money import format_minor_units, to_minor_units

# the stack's table and queue (on the local target: the AWS emulator's, with no change here)
_table = boto3.resource("dynamodb").Table(os.environ["PAYMENTS_TABLE"])
_sqs = boto3.client("sqs")


def _version():
    path = Path(__file__).resolve().parent.parent / "VERSION"
    return path.read_text().strip()[:12] if path.exists() else "unknown"


def _sign(payment_id, pence):
    key = os.environ["SIGNING_KEY"].encode()
    return hmac.new(key, f"{payment_id}:{pence}".encode(), hashlib.sha256).hexdigest()[:16]


def create_payment(event, context):
    try:
        body = json.loads(event.get("body") or "{}")
        pence = to_minor_units(body["amount"])
        source, target = body["from"], body["to"]
    except (ValueError, KeyError) as exc:
        return {"statusCode": 400, "body": json.dumps({"message": str(exc)})}
    limit = int(os.environ["DAILY_LIMIT_PENCE"])
    if pence > limit:
        return {
            "statusCode": 422,
            "body": json.dumps({"message": f"over the daily limit of {limit} pence"}),
        }
    payment_id = f"pay-{uuid.uuid4().hex[:12]}"
    payment = {
        "id": payment_id,
        "from": source,
        "to": target,
        "amount": format_minor_units(pence, os.environ["CURRENCY"]),
        "signature": _sign(payment_id, pence),
        "bank": os.environ["BANK_NAME"],
        "status": "pending",
    }
    _table.put_item(Item=payment)
    # settled by `settle`, from the queue
    _sqs.send_message(
        QueueUrl=os.environ["EVENTS_QUEUE_URL"],
        MessageBody=json.dumps({"type": "payment.created", "id": payment_id}),
    )
    return {"statusCode": 201, "body": json.dumps(payment)}


def get_payment(event, context):
    payment = _table.get_item(Key={"id": event["pathParameters"]["id"]}).get("Item")
    if payment is None:
        return {"statusCode": 404, "body": json.dumps({"message": "no such payment"})}
    # DynamoDB's numbers come back as Decimal
    return {"statusCode": 200, "body": json.dumps(payment, default=int)}


def quote(event, context):
    params = event.get("queryStringParameters") or {}
    try:
        pence = to_minor_units(params.get("amount", ""))
    except ValueError as exc:
        return {"statusCode": 400, "body": json.dumps({"message": str(exc)})}
    fee = pence * int(os.environ["FEE_BASIS_POINTS"]) // 10_000
    currency = os.environ["CURRENCY"]
    return {
        "amount": format_minor_units(pence, currency),
        "fee": format_minor_units(fee, currency),
        "build": _version(),
    }
