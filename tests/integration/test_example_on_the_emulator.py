"""The bundled example end to end on the local AWS emulator, as a user meets it after
`shipway serve` and a run: a payment POSTed through the HTTP API is written to payments'
DynamoDB table, its queue message reaches `settle`, which settles it in the table, and
notifications — a sibling service — reads that table through payments' stack output."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from tests.conftest import git
from tests.integration.cli import serving, shipway


def call(url: str, body: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def settled(url: str, deadline_s: float = 30) -> dict[str, Any]:
    """The payment once the queue's consumer settled it (polled as a client would)."""
    deadline = time.monotonic() + deadline_s
    while True:
        status, payment = call(url)
        assert status == 200, payment
        if payment["status"] == "settled" or time.monotonic() > deadline:
            return dict(payment)
        time.sleep(0.2)


def test_a_payment_goes_through_the_table_and_the_queue_and_a_sibling_reads_it(
    ledger_repo: Path,
) -> None:
    git(ledger_repo, "checkout", "-q", "dev")
    with serving(ledger_repo) as (_, url):
        ran = shipway("run", "dev", repo=ledger_repo)
        assert ran.returncode == 0, ran.stderr
        status, created = call(
            f"{url}/dev/payments/payments", {"from": "acc-001", "to": "acc-002", "amount": "12.50"}
        )
        assert status == 201, created
        assert created["status"] == "pending" and created["amount"] == "GBP 12.50"
        payment = settled(f"{url}/dev/payments/payments/{created['id']}")
        assert payment["status"] == "settled", payment
        assert isinstance(payment["settled_at"], int)

        # the item is in the table the stack made on the emulator, under its AWS name
        server = json.loads((ledger_repo / ".shipway/server.json").read_text())
        aws = {
            "endpoint_url": server["emulator"],
            "region_name": "eu-west-2",
            "aws_access_key_id": "shipway-local",
            "aws_secret_access_key": "shipway-local-secret",
        }
        outputs = boto3.client("cloudformation", **aws).describe_stacks(StackName="payments-dev")[
            "Stacks"
        ][0]["Outputs"]
        table = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "PaymentsTableName")
        assert table.startswith("payments-dev-PaymentsTable-")
        item = boto3.client("dynamodb", **aws).get_item(
            TableName=table, Key={"id": {"S": created["id"]}}
        )["Item"]
        assert item["status"] == {"S": "settled"} and item["from"] == {"S": "acc-001"}

        # notifications reads the table through `${cf:payments-dev.PaymentsTableName}`
        status, receipt = call(f"{url}/dev/notifications/receipts/{created['id']}")
        assert status == 200, receipt
        assert receipt["text"] == (
            f"Payment {created['id']} of GBP 12.50 from acc-001 to acc-002: settled."
        )
        assert call(f"{url}/dev/notifications/receipts/pay-none")[0] == 404
    log = (ledger_repo / ".shipway/envs/dev/logs/payments.log").read_text()
    assert f"settled {created['id']}" in log and "[SQS] settle 1 message(s)" in log
