"""The local gateway over real HTTP: uvicorn on 127.0.0.1, real worker processes."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipway.model import Artifact, Function, HttpRoute, ServiceDefinition
from shipway.targets.local.target import LocalTarget
from shipway.web.serve import GatewayServer

HANDLERS = """
import base64, json, os, time

VERSION = "{version}"

def echo(event, context):
    print("print() from a handler")
    return {{
        "statusCode": 200,
        "headers": {{"content-type": "application/json", "x-version": VERSION}},
        "multiValueHeaders": {{"x-multi": ["a", "b"]}},
        "body": json.dumps(
            {{"event": event, "pid": os.getpid(), "greeting": os.environ.get("GREETING")}}
        ),
    }}

def echo2(event, context):
    return {{"event": event, "pid": os.getpid(), "version": VERSION}}

def binary(event, context):
    data = base64.b64decode(event["body"]) if event.get("isBase64Encoded") else b""
    return {{
        "statusCode": 200,
        "headers": {{"content-type": "application/octet-stream"}},
        "body": base64.b64encode(data[::-1]).decode(),
        "isBase64Encoded": True,
    }}

def cookies(event, context):
    return {{
        "statusCode": 201, "cookies": ["a=1", "b=2"], "headers": {{"x-k": "v"}}, "body": "made"
    }}

def boom(event, context):
    raise RuntimeError("handler exploded")

def malformed(event, context):
    return {{"body": "no status"}}

def version(event, context):
    time.sleep(float((event.get("queryStringParameters") or {{}}).get("sleep", "0")))
    return {{"statusCode": 200, "body": VERSION}}

def sleepy(event, context):
    time.sleep(float((event.get("queryStringParameters") or {{}}).get("sleep", "0")))
    return {{"statusCode": 200, "body": str(os.getpid())}}
"""


def artifact(tmp: Path, name: str, version: str) -> Artifact:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zi = zipfile.ZipInfo("handlers/app.py")
        zi.external_attr = (stat.S_IFREG | 0o644) << 16
        zf.writestr(zi, HANDLERS.format(version=version))
    data = path.read_bytes()
    return Artifact(name, path, hashlib.sha256(data).hexdigest(), len(data))


def F(name: str, *routes: HttpRoute, timeout: int = 3, handler: str = "") -> Function:
    return Function(
        name=name,
        handler=handler or f"handlers/app.{name}",
        runtime="python3.11",
        timeout=timeout,
        memory_size=128,
        environment={"GREETING": "hello"},
        routes=routes,
    )


def release(state: Path, tmp: Path, number: int, version: str) -> None:
    rest = ServiceDefinition(
        service="rest",
        stage="dev",
        region="us-east-1",
        runtime="python3.11",
        functions=(
            F(
                "echo",
                HttpRoute("http", "GET", "/accounts/{id}"),
                HttpRoute("http", "POST", "/accounts"),
                HttpRoute("http", "ANY", "/files/{proxy+}"),
            ),
            F("binary", HttpRoute("http", "POST", "/binary")),
            F("boom", HttpRoute("http", "GET", "/boom")),
            F("malformed", HttpRoute("http", "GET", "/malformed")),
            F("version", HttpRoute("http", "GET", "/version")),
            F("sleepy", HttpRoute("http", "GET", "/sleepy"), timeout=1),
        ),
    )
    api = ServiceDefinition(
        service="api",
        stage="dev",
        region="us-east-1",
        runtime="python3.11",
        functions=(
            F(
                "echo2",
                HttpRoute("httpApi", "GET", "/accounts/{id}"),
                HttpRoute("httpApi", "POST", "/upload"),
            ),
            F("binary", HttpRoute("httpApi", "POST", "/binary")),
            F("cookies", HttpRoute("httpApi", "GET", "/cookies")),
            F("boom", HttpRoute("httpApi", "GET", "/boom")),
            F("sleepy", HttpRoute("httpApi", "GET", "/sleepy"), timeout=1),
        ),
    )
    catchall = ServiceDefinition(
        service="catchall",
        stage="dev",
        region="us-east-1",
        runtime="python3.11",
        functions=(F("echo2", HttpRoute("httpApi", "ANY", "*")),),
    )
    LocalTarget(state).release(
        "dev",
        number,
        f"commit{number}",
        [
            (rest, artifact(tmp / str(number), "rest", version)),
            (api, artifact(tmp / str(number), "api", version)),
            (catchall, artifact(tmp / str(number), "catchall", version)),
        ],
    )


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def __call__(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path)
            for k, v in headers or []:
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            res = conn.getresponse()
            return res.status, res.getheaders(), res.read()
        finally:
            conn.close()


def header(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Client, Path, GatewayServer]]:
    state = tmp_path / "state"
    release(state, tmp_path / "zips", 1, "one")
    srv = GatewayServer(state, port=0)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    client = Client(srv.port)
    for _ in range(200):
        try:
            if client("GET", "/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.02)
    yield client, state, srv
    srv.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_healthz_and_server_json(server: tuple[Client, Path, GatewayServer]) -> None:
    client, state, srv = server
    status, _, body = client("GET", "/healthz")
    assert status == 200 and json.loads(body) == {"ok": True}
    doc = json.loads((state / "server.json").read_text())
    emulator = doc.pop("emulator")  # the local AWS emulator the server runs
    assert emulator.startswith("http://127.0.0.1:") and emulator != doc["url"]
    assert doc == {
        "host": "127.0.0.1",
        "pid": os.getpid(),
        "port": srv.port,
        "url": f"http://127.0.0.1:{srv.port}",
    }
    assert srv.port != 0


def test_rest_v1_event_over_http(server: tuple[Client, Path, GatewayServer]) -> None:
    client, state, _ = server
    status, headers, body = client(
        "GET",
        "/dev/rest/accounts/42?a=1&a=2&b=x%20y",
        headers=[("X-Thing", "t1"), ("X-Thing", "t2")],
    )
    assert status == 200, body
    assert header(headers, "x-version") == ["one"]
    assert header(headers, "x-multi") == ["a", "b"]
    assert header(headers, "content-type") == ["application/json"]
    out = json.loads(body)
    ev = out["event"]
    assert out["greeting"] == "hello"
    assert ev["resource"] == "/accounts/{id}" and ev["path"] == "/accounts/42"
    assert ev["httpMethod"] == "GET"
    assert ev["pathParameters"] == {"id": "42"}
    assert ev["queryStringParameters"] == {"a": "2", "b": "x y"}
    assert ev["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    assert ev["multiValueHeaders"]["x-thing"] == ["t1", "t2"]
    assert ev["headers"]["x-thing"] == "t2"
    assert ev["requestContext"]["stage"] == "dev"
    assert ev["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert ev["requestContext"]["path"] == "/dev/rest/accounts/42"
    assert ev["body"] is None and ev["isBase64Encoded"] is False
    # print() in the handler went to the service log, not into the response
    assert "print() from a handler" in (state / "envs/dev/logs/rest.log").read_text()

    status, _, body = client(
        "POST", "/dev/rest/accounts", b'{"name": "ada"}', [("content-type", "application/json")]
    )
    ev = json.loads(body)["event"]
    assert status == 200 and json.loads(ev["body"]) == {"name": "ada"}
    assert ev["isBase64Encoded"] is False

    status, _, body = client("DELETE", "/dev/rest/files/a/b%2Fc.txt")
    ev = json.loads(body)["event"]
    assert status == 200 and ev["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert ev["resource"] == "/files/{proxy+}"


def test_binary_round_trip(server: tuple[Client, Path, GatewayServer]) -> None:
    client, _, _ = server
    data = bytes(range(256)) * 4
    for svc in ("rest", "api"):
        status, headers, body = client(
            "POST", f"/dev/{svc}/binary", data, [("content-type", "application/octet-stream")]
        )
        assert status == 200
        assert body == data[::-1]
        assert header(headers, "content-type") == ["application/octet-stream"]


def test_http_api_v2_event_over_http(server: tuple[Client, Path, GatewayServer]) -> None:
    client, _, _ = server
    status, headers, body = client(
        "GET",
        "/dev/api/accounts/7?x=1&x=2",
        headers=[("Cookie", "s=1; t=2"), ("X-Two", "a"), ("X-Two", "b"), ("User-Agent", "t/1")],
    )
    assert status == 200 and header(headers, "content-type") == ["application/json"]
    out = json.loads(body)  # a bare dict: 200 application/json of the value
    ev = out["event"]
    assert ev["version"] == "2.0" and ev["routeKey"] == "GET /accounts/{id}"
    assert ev["rawPath"] == "/accounts/7" and ev["rawQueryString"] == "x=1&x=2"
    assert ev["queryStringParameters"] == {"x": "1,2"}
    assert ev["pathParameters"] == {"id": "7"}
    assert ev["cookies"] == ["s=1", "t=2"]
    assert ev["headers"]["x-two"] == "a,b"
    http = ev["requestContext"]["http"]
    assert http["method"] == "GET" and http["path"] == "/accounts/7"
    assert http["sourceIp"] == "127.0.0.1" and http["userAgent"] == "t/1"

    status, _, body = client(
        "POST", "/dev/api/upload", b'{"a": [1, 2]}', [("content-type", "application/json")]
    )
    ev = json.loads(body)["event"]
    assert status == 200 and ev["body"] == '{"a": [1, 2]}' and ev["isBase64Encoded"] is False

    status, headers, body = client("GET", "/dev/api/cookies")
    assert status == 201 and body == b"made"
    assert header(headers, "set-cookie") == ["a=1", "b=2"]
    assert header(headers, "x-k") == ["v"]

    status, _, body = client("PATCH", "/dev/catchall/any/where?q=1")
    ev = json.loads(body)["event"]
    assert status == 200 and ev["routeKey"] == "$default" and ev["rawPath"] == "/any/where"


def test_unknown_routes_and_wrong_methods(server: tuple[Client, Path, GatewayServer]) -> None:
    client, _, _ = server
    # REST API: no resource, or a resource without that method -> 403 Missing Authentication Token
    for method, path in (("GET", "/dev/rest/nope"), ("PUT", "/dev/rest/accounts/1")):
        status, _, body = client(method, path)
        assert status == 403 and json.loads(body) == {"message": "Missing Authentication Token"}
    # HTTP API: no matching route (path or method) -> 404 Not Found
    for method, path in (("GET", "/dev/api/nope"), ("DELETE", "/dev/api/accounts/1")):
        status, _, body = client(method, path)
        assert status == 404 and json.loads(body) == {"message": "Not Found"}
    for path in ("/prod/rest/accounts/1", "/dev/nosuchservice/x", "/", "/dev"):
        assert client("GET", path)[0] == 404


def test_handler_errors(server: tuple[Client, Path, GatewayServer]) -> None:
    client, state, _ = server
    status, _, body = client("GET", "/dev/rest/boom")
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}
    log = (state / "envs/dev/logs/rest.log").read_text()
    assert "Traceback" in log and "RuntimeError: handler exploded" in log
    status, _, body = client("GET", "/dev/api/boom")
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}
    status, _, body = client("GET", "/dev/rest/malformed")
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}


def test_timeout_then_fresh_worker(server: tuple[Client, Path, GatewayServer]) -> None:
    client, state, _ = server
    status, _, first_pid = client("GET", "/dev/rest/sleepy")
    assert status == 200
    status, _, warm_pid = client("GET", "/dev/rest/sleepy")
    assert warm_pid == first_pid  # warm reuse
    started = time.monotonic()
    status, _, _ = client("GET", "/dev/rest/sleepy?sleep=20")
    assert status == 502 and time.monotonic() - started < 5
    with pytest.raises(ProcessLookupError):
        os.kill(int(first_pid), 0)
    status, _, new_pid = client("GET", "/dev/rest/sleepy")
    assert status == 200 and new_pid != first_pid
    assert "Task timed out after 1.00 seconds" in (state / "envs/dev/logs/rest.log").read_text()
    status, _, _ = client("GET", "/dev/api/sleepy?sleep=20")
    assert status == 500


def test_atomic_switch_with_in_flight_request(
    server: tuple[Client, Path, GatewayServer], tmp_path: Path
) -> None:
    client, state, _ = server
    assert client("GET", "/dev/rest/version")[2] == b"one"
    old_pid = int(client("GET", "/dev/rest/sleepy")[2])  # an idle warm worker of release 1
    slow: list[tuple[int, bytes]] = []

    def slow_call() -> None:
        status, _, body = client("GET", "/dev/rest/version?sleep=1.5")
        slow.append((status, body))

    t = threading.Thread(target=slow_call)
    t.start()
    time.sleep(0.5)  # the slow request is now running on release 1
    release(state, tmp_path / "zips", 2, "two")
    status, _, body = client("GET", "/dev/rest/version")
    assert (status, body) == (200, b"two")
    t.join(10)
    assert slow == [(200, b"one")]
    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)  # release 1's pools were drained once release 2 was current
    assert int(client("GET", "/dev/rest/sleepy")[2]) != old_pid


def test_serve_subprocess_writes_and_removes_server_json(tmp_path: Path) -> None:
    state = tmp_path / "state"
    release(state, tmp_path / "zips", 1, "one")
    code = (
        "import sys; from pathlib import Path; from shipway.web.serve import serve; "
        "serve(Path(sys.argv[1]), port=0)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(state)])
    try:
        server_json = state / "server.json"
        for _ in range(300):
            if server_json.exists():
                break
            time.sleep(0.02)
        doc = json.loads(server_json.read_text())
        assert doc["pid"] == proc.pid and doc["url"] == f"http://127.0.0.1:{doc['port']}"
        client = Client(doc["port"])
        for _ in range(200):
            try:
                client("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.02)
        status, _, pid = client("GET", "/dev/rest/sleepy")
        assert status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert not server_json.exists()
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)  # worker pools shut down with the server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
