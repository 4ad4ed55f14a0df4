"""Notifications: renders payment messages (the sending is someone else's job)."""

import json
import os
from string import Template

TEMPLATES = {
    "payment-sent": Template("$name, your payment of $amount has been sent."),
    "low-balance": Template("$name, your balance is down to $amount."),
}


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


def health(event, context):
    return {"ok": True, "stage": os.environ["STAGE"]}
