"""`eventBridge` events on the local runtime, over real HTTP: boto3's `events` client puts
events through the gateway's PutEvents endpoint and the matching functions run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from shipway.model import Event, Function, ServiceDefinition
from shipway.targets.local.target import LocalTarget
from tests.integration.gatewaykit import handler_zip, running_gateway

HANDLER = """
import json, os

def record(event, context):
    out = os.environ["OUT_DIR"] + "/" + context.function_name + ".jsonl"
    with open(out, "a") as f:
        f.write(json.dumps({"event": event, "endpoint": os.environ.get(
            "AWS_ENDPOINT_URL_EVENTBRIDGE")}) + "\\n")
"""


def _fn(name: str, out: Path, *rules: dict[str, object]) -> Function:
    return Function(
        name=name,
        handler="app.record",
        runtime="python3.11",
        timeout=5,
        memory_size=128,
        environment={"OUT_DIR": str(out)},
        events=tuple(Event("eventBridge", r) for r in rules),
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    out = tmp_path / "out"
    out.mkdir()
    definition = ServiceDefinition(
        service="orders",
        stage="dev",
        region="eu-west-1",
        runtime="python3.11",
        functions=(
            _fn(
                "placed",
                out,
                {"pattern": {"source": ["shop.orders"], "detail-type": ["OrderPlaced"]}},
            ),
            _fn(
                "big",
                out,
                {
                    "eventBus": "orders-bus",
                    "pattern": {"detail": {"amount": [{"numeric": [">", 100]}]}},
                    "inputPath": "$.detail",
                },
            ),
        ),
    )
    state = tmp_path / "state"
    artifact = handler_zip(tmp_path / "zips", "orders", HANDLER)
    LocalTarget(state).release("dev", 1, "c1", [(definition, artifact)])
    with running_gateway(state) as port:
        yield f"http://127.0.0.1:{port}/dev/_events", out


def _client(url: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "events",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _lines(path: Path, count: int) -> list[dict[str, object]]:
    for _ in range(500):  # the functions run asynchronously: wait for their files
        if path.is_file() and len(path.read_text().splitlines()) >= count:
            break
        time.sleep(0.02)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_put_events_runs_the_functions_whose_rules_match(served: tuple[str, Path]) -> None:
    url, out = served
    events = _client(url)
    for _ in range(100):  # the server may still be starting
        try:
            answer = events.put_events(
                Entries=[
                    {
                        "Source": "shop.orders",
                        "DetailType": "OrderPlaced",
                        "Detail": json.dumps({"id": "o-1", "amount": 250}),
                    },
                    {
                        "Source": "shop.orders",
                        "DetailType": "OrderPlaced",
                        "Detail": json.dumps({"id": "o-2", "amount": 500}),
                        "EventBusName": "orders-bus",
                    },
                    {"Source": "shop.orders", "DetailType": "OrderPlaced", "Detail": "[1]"},
                ]
            )
            break
        except Exception:
            time.sleep(0.05)
    assert answer["FailedEntryCount"] == 1
    assert "EventId" in answer["Entries"][0] and "EventId" in answer["Entries"][1]
    assert answer["Entries"][2]["ErrorCode"] == "InvalidArgument"

    placed = _lines(out / "orders-dev-placed.jsonl", 1)
    assert len(placed) == 1  # the orders-bus event did not reach the default-bus rule
    event = placed[0]["event"]
    assert isinstance(event, dict)
    assert event["source"] == "shop.orders" and event["detail-type"] == "OrderPlaced"
    assert event["detail"] == {"id": "o-1", "amount": 250}
    assert event["region"] == "eu-west-1" and event["id"] == answer["Entries"][0]["EventId"]
    assert placed[0]["endpoint"] == url  # a function's own boto3 calls come back here

    big = _lines(out / "orders-dev-big.jsonl", 1)
    assert [b["event"] for b in big] == [{"id": "o-2", "amount": 500}]  # inputPath: $.detail


def test_other_operations_are_refused_by_name(served: tuple[str, Path]) -> None:
    url, _ = served
    events = _client(url)
    with pytest.raises(ClientError) as caught:
        for _ in range(100):
            try:
                events.list_rules()
            except ClientError:
                raise
            except Exception:
                time.sleep(0.05)
    assert caught.value.response["Error"]["Code"] == "UnsupportedOperation"
    assert "ListRules" in caught.value.response["Error"]["Message"]
