"""Node.js functions on the local gateway over real HTTP: warm `node` workers (CommonJS and ES
modules, async and callback handlers, the Lambda context), their errors answered as API
Gateway answers them and written to the service's log, and timeouts."""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import stat
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipway.model import Artifact, Function, HttpRoute, ServiceDefinition
from shipway.targets.local.target import LocalTarget
from shipway.web.serve import GatewayServer

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

FILES = {
    # CommonJS, `module.exports.handler`, in a nested folder as `src/handlers/users.get`
    "src/handlers/users.js": """
module.exports.get = async (event) => {
  console.log("getting user", event.pathParameters.id);
  return {statusCode: 200, body: JSON.stringify({id: event.pathParameters.id, pid: process.pid})};
};
exports.boom = async () => { throw new TypeError("no such user"); };
""",
    # an ES module by its extension
    "src/esm.mjs": """
export const handler = async (event) => ({statusCode: 200, body: `esm ${event.rawPath}`});
""",
    # an ES module by `"type": "module"` in the nearest package.json
    "modern/package.json": '{"type": "module"}',
    "modern/app.js": """
import { basename } from "node:path";
export async function handler(event, context) {
  return {
    statusCode: 200,
    headers: {"content-type": "application/json"},
    body: JSON.stringify({
      file: basename(new URL(import.meta.url).pathname),
      functionName: context.functionName,
      requestId: context.awsRequestId,
      remaining: context.getRemainingTimeInMillis(),
      memory: context.memoryLimitInMB,
      greeting: process.env.GREETING,
    }),
  };
}
""",
    # a callback-style handler, answering later from a timer
    "callback.js": """
exports.handler = (event, context, callback) => {
  setTimeout(() => callback(null, {statusCode: 201, body: "called back"}), 10);
};
exports.slow = async () => new Promise(() => {});
""",
    "broken.js": "const pad = require('left-pad');\nexports.handler = async () => pad('x', 3);\n",
    "missing.js": "exports.other = async () => ({statusCode: 200, body: 'x'});\n",
}


def _artifact(tmp: Path) -> Artifact:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "users.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in sorted(FILES.items()):
            zi = zipfile.ZipInfo(name)
            zi.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(zi, text)
    data = path.read_bytes()
    return Artifact("users", path, hashlib.sha256(data).hexdigest(), len(data))


def F(name: str, handler: str, *routes: HttpRoute, timeout: int = 3) -> Function:
    return Function(
        name=name,
        handler=handler,
        runtime="nodejs18.x",
        timeout=timeout,
        memory_size=256,
        environment={"GREETING": "hello from node"},
        routes=routes,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    state = tmp_path / "state"
    definition = ServiceDefinition(
        service="users",
        stage="dev",
        region="us-east-1",
        runtime="nodejs18.x",
        functions=(
            F("get", "src/handlers/users.get", HttpRoute("http", "GET", "/users/{id}")),
            F("boom", "src/handlers/users.boom", HttpRoute("http", "GET", "/boom")),
            F("esm", "src/esm.handler", HttpRoute("httpApi", "GET", "/esm")),
            F("modern", "modern/app.handler", HttpRoute("httpApi", "GET", "/modern")),
            F("callback", "callback.handler", HttpRoute("http", "POST", "/callback")),
            F("slow", "callback.slow", HttpRoute("http", "GET", "/slow"), timeout=1),
            F("missing", "missing.handler", HttpRoute("http", "GET", "/missing")),
            F("broken", "broken.handler", HttpRoute("http", "GET", "/broken")),
        ),
    )
    LocalTarget(state).release("dev", 1, "c1", [(definition, _artifact(tmp_path / "zips"))])
    srv = GatewayServer(state, port=0)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        try:
            if request(srv.port, "GET", "/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.02)
    yield srv.port, state / "envs" / "dev" / "logs" / "users.log"
    srv.stop()
    thread.join(10)


def request(port: int, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def test_commonjs_handler_in_a_nested_folder_stays_warm(server: tuple[int, Path]) -> None:
    port, log = server
    status, _, body = request(port, "GET", "/dev/users/users/42")
    assert status == 200
    first = json.loads(body)
    assert first["id"] == "42"
    status, _, body = request(port, "GET", "/dev/users/users/43")
    assert json.loads(body) == {"id": "43", "pid": first["pid"]}  # the same warm worker
    text = log.read_text()
    assert "\tINFO\tgetting user 42" in text  # console.log, as Lambda's Node runtime logs it
    assert "START RequestId:" in text and "REPORT RequestId:" in text


def test_es_modules_by_extension_and_by_package_type(server: tuple[int, Path]) -> None:
    port, _ = server
    status, _, body = request(port, "GET", "/dev/users/esm")
    assert (status, body) == (200, b"esm /esm")
    status, _, body = request(port, "GET", "/dev/users/modern")
    assert status == 200
    doc = json.loads(body)
    assert doc["file"] == "app.js"
    assert doc["functionName"] == "users-dev-modern"
    assert len(doc["requestId"]) == 36
    assert 0 < doc["remaining"] <= 3000
    assert doc["memory"] == "256"
    assert doc["greeting"] == "hello from node"


def test_callback_handler(server: tuple[int, Path]) -> None:
    port, _ = server
    status, _, body = request(port, "POST", "/dev/users/callback")
    assert (status, body) == (201, b"called back")


def test_thrown_error_is_a_502_and_logged(server: tuple[int, Path]) -> None:
    port, log = server
    status, headers, body = request(port, "GET", "/dev/users/boom")
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}
    assert headers["x-shipway-error"] == "TypeError"
    assert '\tERROR\tInvoke Error {"errorType":"TypeError","errorMessage":"no such user"' in (
        log.read_text()
    )


def test_handler_not_found_is_a_502_and_logged(server: tuple[int, Path]) -> None:
    port, log = server
    status, headers, _ = request(port, "GET", "/dev/users/missing")
    assert status == 502
    assert headers["x-shipway-error"] == "Runtime.HandlerNotFound"
    assert (
        '"errorType":"Runtime.HandlerNotFound",'
        '"errorMessage":"missing.handler is undefined or not exported"'
    ) in log.read_text()


def test_a_timeout_kills_the_worker_and_the_next_request_gets_a_fresh_one(
    server: tuple[int, Path],
) -> None:
    port, log = server
    status, headers, _ = request(port, "GET", "/dev/users/slow")
    assert status == 502
    assert headers["x-shipway-error"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in log.read_text()
    status, _, _ = request(port, "GET", "/dev/users/slow")
    assert status == 502  # a new worker served it (the old one was killed), and timed out too


def test_a_missing_dependency_is_an_import_error_logged(server: tuple[int, Path]) -> None:
    port, log = server
    status, headers, _ = request(port, "GET", "/dev/users/broken")
    assert status == 502
    assert headers["x-shipway-error"] == "Runtime.ImportModuleError"
    text = log.read_text()
    assert '"errorType":"Runtime.ImportModuleError"' in text
    assert "Cannot find module 'left-pad'" in text
