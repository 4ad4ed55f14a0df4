"""Accounts: balances in minor units, served over API Gateway REST (payload v1)."""

import json
import os

ACCOUNTS = {
    "acc-001": {"id": "acc-001", "owner": "Ada Lovelace", "balance": 125_000},
    "acc-002": {"id": "acc-002", "owner": "Grace Hopper", "balance": 98_050},
}


def _reply(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "X-Ledger": os.environ["LEDGER_NAME"]},
        "body": json.dumps(body),
    }


def get_account(event, context):
    account = ACCOUNTS.get(event["pathParameters"]["id"])
    if account is None:
        return _reply(404, {"message": "no such account"})
    return _reply(200, {**account, "currency": os.environ["CURRENCY"]})


def list_accounts(event, context):
    return _reply(200, {"accounts": sorted(ACCOUNTS), "currency": os.environ["CURRENCY"]})


def open_account(event, context):
    try:
        body = json.loads(event.get("body") or "{}")
        owner = body["owner"].strip()
    except (ValueError, KeyError, AttributeError):
        return _reply(400, {"message": "expected a JSON body with `owner`"})
    account_id = f"acc-{len(ACCOUNTS) + 1:03d}"
    ACCOUNTS[account_id] = {"id": account_id, "owner": owner, "balance": 0}
    return _reply(201, ACCOUNTS[account_id])
