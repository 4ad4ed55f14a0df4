"""Payments over API Gateway HTTP API (payload v2)."""

import hashlib
import hmac
import json
import os
from pathlib import Path

from common.money import format_minor_units, to_minor_units

PAYMENTS = {}


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
    payment_id = f"pay-{len(PAYMENTS) + 1:04d}"
    payment = {
        "id": payment_id,
        "from": source,
        "to": target,
        "amount": format_minor_units(pence, os.environ["CURRENCY"]),
        "signature": _sign(payment_id, pence),
        "bank": os.environ["BANK_NAME"],
    }
    PAYMENTS[payment_id] = payment
    return {"statusCode": 201, "body": json.dumps(payment)}


def get_payment(event, context):
    payment = PAYMENTS.get(event["pathParameters"]["id"])
    if payment is None:
        return {"statusCode": 404, "body": json.dumps({"message": "no such payment"})}
    return payment


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
