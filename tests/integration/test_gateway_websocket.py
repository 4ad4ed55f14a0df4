"""A service's WebSocket API over real sockets on 127.0.0.1, with both HTTP engines: the
`websockets` client library, real worker processes, and handlers that post back with boto3's
`apigatewaymanagementapi` client through the gateway's `@connections` API."""

from __future__ import annotations

import asyncio
import hashlib
import json
import stat
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from shipway.model import Artifact, Event, Function, ServiceDefinition
from shipway.targets.local.target import LocalTarget
from shipway.web.serve import GatewayServer

HANDLERS = """
import json, os, pathlib
import boto3

SEEN = pathlib.Path(os.environ["SEEN_DIR"])

def _keep(name, event):
    (SEEN / (name + "-" + event["requestContext"]["connectionId"] + ".json")).write_text(
        json.dumps(event)
    )

def connect(event, context):
    _keep("connect", event)
    query = event.get("queryStringParameters") or {}
    if query.get("token") == "bad":
        return {"statusCode": 401, "body": "no"}
    return {"statusCode": 200}

def disconnect(event, context):
    _keep("disconnect", event)
    return {"statusCode": 200}

def echo(event, context):
    ctx = event["requestContext"]
    # no endpoint_url: boto3 reads AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI
    api = boto3.client("apigatewaymanagementapi")
    message = json.loads(event["body"])
    api.post_to_connection(
        ConnectionId=ctx["connectionId"],
        Data=json.dumps({"echo": message["text"], "route": ctx["routeKey"]}).encode(),
    )
    info = boto3.client(
        "apigatewaymanagementapi", endpoint_url=os.environ["SHIPWAY_WEBSOCKET_ENDPOINT"]
    ).get_connection(ConnectionId=ctx["connectionId"])
    api.post_to_connection(
        ConnectionId=ctx["connectionId"],
        Data=json.dumps({"sourceIp": info["Identity"]["SourceIp"]}).encode(),
    )
    return {"statusCode": 200}

def bye(event, context):
    boto3.client("apigatewaymanagementapi").delete_connection(
        ConnectionId=event["requestContext"]["connectionId"]
    )
    return {"statusCode": 200}

def gone(event, context):
    try:
        boto3.client("apigatewaymanagementapi").post_to_connection(
            ConnectionId="Tm9TdWNoQ29ubg==", Data=b"x"
        )
    except Exception as e:
        return {"statusCode": 200, "body": type(e).__name__}
    return {"statusCode": 200, "body": "sent?"}

def auth(event, context):
    token = event["headers"].get("auth")
    if token == "raise":
        raise Exception("Unauthorized")
    effect = "Allow" if token == "let-me-in" else "Deny"
    return {
        "principalId": "user-7",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
            ],
        },
        "context": {"team": "ledger"},
    }

def default(event, context):
    return {"statusCode": 200, "body": "default got " + event["body"]}
"""


def _artifact(tmp: Path, service: str = "chat") -> Artifact:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / f"{service}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("app.py")
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        zf.writestr(info, HANDLERS)
    data = path.read_bytes()
    return Artifact(service, path, hashlib.sha256(data).hexdigest(), len(data))


def _function(name: str, seen: Path, *events: Any) -> Function:
    return Function(
        name=name,
        handler=f"app.{name}",
        runtime="python3.11",
        timeout=10,
        memory_size=128,
        # boto3 signs every request: on Lambda the role's credentials are in the environment
        environment={
            "SEEN_DIR": str(seen),
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        },
        events=tuple(Event("websocket", e) for e in events),
    )


def _release(state: Path, tmp: Path, seen: Path, number: int = 1) -> None:
    chat = ServiceDefinition(
        service="chat",
        stage="dev",
        region="us-east-1",
        runtime="python3.11",
        functions=(
            _function("connect", seen, "$connect"),
            _function("auth", seen),
            _function("disconnect", seen, "$disconnect"),
            _function("echo", seen, "echo"),
            _function("bye", seen, "bye"),
            _function(
                "gone", seen, {"route": "gone", "routeResponseSelectionExpression": "$default"}
            ),
            _function(
                "default",
                seen,
                {"route": "$default", "routeResponseSelectionExpression": "$default"},
            ),
        ),
        resolved={"service": "chat", "provider": {"name": "aws"}},
    )
    secure = ServiceDefinition(
        service="secure",
        stage="dev",
        region="us-east-1",
        runtime="python3.11",
        functions=(
            _function("auth", seen),
            _function("connect", seen, {"route": "$connect", "authorizer": "auth"}),
        ),
        resolved={"service": "secure", "provider": {"name": "aws"}},
    )
    zips = tmp / str(number)
    LocalTarget(state).release(
        "dev",
        number,
        f"commit{number}",
        [(chat, _artifact(zips)), (secure, _artifact(zips, "secure"))],
    )


@pytest.fixture(params=["fast", "asgi"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[GatewayServer, Path]]:
    seen = tmp_path / "seen"
    seen.mkdir()
    state = tmp_path / "state"
    _release(state, tmp_path / "zips", seen)
    srv = GatewayServer(state, port=0, engine=request.param)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(500):
        if srv.started:
            break
        time.sleep(0.02)
    yield srv, seen
    srv.stop()
    thread.join(20)
    assert not thread.is_alive()


def _wait_for(folder: Path, prefix: str) -> list[dict[str, Any]]:
    for _ in range(1500):  # bounded: 30 s at most (worker start-up on a busy machine)
        found = sorted(folder.glob(prefix + "-*.json"))
        if found:
            return [json.loads(p.read_text()) for p in found]
        time.sleep(0.02)
    return []


def test_round_trip_with_a_post_back(served: tuple[GatewayServer, Path]) -> None:
    srv, seen = served
    url = f"ws://127.0.0.1:{srv.port}/dev/chat?room=blue"

    async def talk() -> list[Any]:
        async with connect(url, additional_headers={"X-Team": "ledger"}) as ws:
            await ws.send(json.dumps({"action": "echo", "text": "hi"}))
            first = json.loads(await ws.recv())
            second = json.loads(await ws.recv())
            await ws.send("not json at all")
            third = await ws.recv()
            await ws.send(json.dumps({"action": "gone"}))
            fourth = await ws.recv()
            return [first, second, third, fourth]

    replies = asyncio.run(talk())
    assert replies == [
        {"echo": "hi", "route": "echo"},
        {"sourceIp": "127.0.0.1"},
        "default got not json at all",
        "GoneException",
    ]
    (connected,) = _wait_for(seen, "connect")
    context = connected["requestContext"]
    assert context["eventType"] == "CONNECT"
    assert context["routeKey"] == "$connect"
    assert context["stage"] == "dev"
    assert context["domainName"] == f"127.0.0.1:{srv.port}"
    assert connected["headers"]["x-team"] == "ledger"
    assert connected["queryStringParameters"] == {"room": "blue"}
    (gone,) = _wait_for(seen, "disconnect")  # `$disconnect` ran when the client closed
    assert gone["requestContext"]["eventType"] == "DISCONNECT"
    assert gone["requestContext"]["connectionId"] == context["connectionId"]
    assert gone["requestContext"]["disconnectStatusCode"] == 1000


def test_a_connect_that_answers_401_refuses_the_upgrade(
    served: tuple[GatewayServer, Path],
) -> None:
    srv, seen = served

    async def refused() -> int:
        try:
            async with connect(f"ws://127.0.0.1:{srv.port}/dev/chat?token=bad"):
                return 101
        except InvalidStatus as e:
            return e.response.status_code

    assert asyncio.run(refused()) == 401
    assert _wait_for(seen, "connect")
    assert not list(seen.glob("disconnect-*"))  # never connected: no `$disconnect`


def test_delete_connection_closes_the_socket(served: tuple[GatewayServer, Path]) -> None:
    srv, seen = served

    async def closed_by_server() -> int | None:
        async with connect(f"ws://127.0.0.1:{srv.port}/dev/chat") as ws:
            await ws.send(json.dumps({"action": "bye"}))
            with pytest.raises(ConnectionClosed) as caught:
                await ws.recv()
            return caught.value.rcvd.code if caught.value.rcvd else None

    assert asyncio.run(closed_by_server()) == 1000
    assert _wait_for(seen, "disconnect")


def test_a_service_without_websocket_routes_refuses(served: tuple[GatewayServer, Path]) -> None:
    srv, _ = served

    async def status(path: str) -> int:
        try:
            async with connect(f"ws://127.0.0.1:{srv.port}{path}"):
                return 101
        except InvalidStatus as e:
            return e.response.status_code

    assert asyncio.run(status("/dev/nothing")) == 404
    assert asyncio.run(status("/dev/chat/deeper")) == 404


def test_shutdown_closes_connections_and_runs_disconnect(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    seen.mkdir()
    state = tmp_path / "state"
    _release(state, tmp_path / "zips", seen)
    srv = GatewayServer(state, port=0, engine="fast")
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)

    async def held() -> int | None:
        async with connect(f"ws://127.0.0.1:{srv.port}/dev/chat") as ws:
            await ws.send(json.dumps({"action": "echo", "text": "x"}))
            await ws.recv()
            srv.stop()
            with pytest.raises(ConnectionClosed) as caught:
                while True:
                    await ws.recv()
            return caught.value.rcvd.code if caught.value.rcvd else None

    assert asyncio.run(held()) == 1001
    thread.join(20)
    assert not thread.is_alive()
    assert _wait_for(seen, "disconnect")


def test_a_new_release_closes_the_connections_of_the_old(
    served: tuple[GatewayServer, Path], tmp_path: Path
) -> None:
    srv, seen = served

    async def switched() -> int | None:
        async with connect(f"ws://127.0.0.1:{srv.port}/dev/chat") as ws:
            await ws.send(json.dumps({"action": "echo", "text": "x"}))
            await ws.recv()
            await asyncio.to_thread(_release, srv.state_dir, tmp_path / "zips2", seen, 2)
            with pytest.raises(ConnectionClosed) as caught:
                while True:
                    await ws.recv()
            return caught.value.rcvd.code if caught.value.rcvd else None

    assert asyncio.run(switched()) == 1001
    assert _wait_for(seen, "disconnect")


def test_the_connect_authorizer_decides_the_upgrade(served: tuple[GatewayServer, Path]) -> None:
    srv, seen = served

    async def status(headers: dict[str, str]) -> int:
        try:
            async with connect(f"ws://127.0.0.1:{srv.port}/dev/secure", additional_headers=headers):
                return 101
        except InvalidStatus as e:
            return e.response.status_code

    assert asyncio.run(status({})) == 401  # no `Auth` header: the authorizer does not run
    assert asyncio.run(status({"Auth": "raise"})) == 401
    assert asyncio.run(status({"Auth": "nope"})) == 403
    assert not list(seen.glob("connect-*"))
    assert asyncio.run(status({"Auth": "let-me-in"})) == 101
    (connected,) = _wait_for(seen, "connect")
    assert connected["requestContext"]["authorizer"] == {"principalId": "user-7", "team": "ledger"}
