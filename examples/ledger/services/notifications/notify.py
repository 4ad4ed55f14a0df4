"""Notifications: renders payment messages (the sending is someone else's job)."""

import json
import os
from string import Template

TEMPLATES = {
    "payment-sent": Template("$name, your payment of $amount has been sent."),
    "low-balance": Template("$name, your balance is down to $amount."),
}
RECEIPT = Template("Payment $id of $amount from $from to $to: $status.")


def render(event, context):
    template = TEMPLATES.get(event["pathParameters"]["template"])
    if template is None:
        return {"statusCode": 404, "body": json.dumps({"message": "no such template"})}
    try:
        fields = json.loads(event.get("body") or "{}")
        text = template.substitute(fields)
    except (ValueError, KeyError) as exc:
        return {"statusCode": 400, "body": json.dumps({"message": f"missing field {exc}"})}
    return {"from": os.environ["SENDER"], "text": text}


def receipt(event, context):
    """A payment's receipt, read from payments' table (its name: payments' stack output)."""
    import boto3  # only this function talks to AWS

    table = boto3.resource("dynamodb").Table(os.environ["PAYMENTS_TABLE"])
    payment = table.get_item(Key={"id": event["pathParameters"]["id"]}).get("Item")
    if payment is None:
        return {"statusCode": 404, "body": json.dumps({"message": "no such payment"})}
    text = RECEIPT.substitute(payment)
    return {"from": os.environ["SENDER"], "text": text, "status": payment["status"]}


def health(event, context):
    return {"ok": True, "stage": os.environ["STAGE"]}
