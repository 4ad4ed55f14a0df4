"""Keep-alive connections over real HTTP/1.1: no request waits for the client's delayed ACK.

With Nagle's algorithm on the accepted socket, a response written in two pieces (headers, then
body) holds its second piece until the client ACKs the first, and a client delays that ACK by
~40 ms: every request after the first on a kept-alive connection took ~40 ms.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipway.web.serve import GatewayServer
from tests.integration.test_gateway_http import release

REQUESTS = 20
STALL_S = 0.040  # the delayed-ACK wait a request would pay with Nagle on


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GatewayServer]:
    state = tmp_path / "state"
    release(state, tmp_path / "zips", 1, "one")
    srv = GatewayServer(state, port=0)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield srv
    srv.stop()
    thread.join(10)
    assert not thread.is_alive()


def connect(port: int) -> http.client.HTTPConnection:
    for _ in range(200):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return conn
        except OSError:
            conn.close()
            time.sleep(0.02)
    raise AssertionError("the gateway never answered")


def test_the_listening_socket_is_tcp_with_nodelay(server: GatewayServer) -> None:
    # asyncio (and uvloop) set TCP_NODELAY on accepted sockets only for IPPROTO_TCP sockets
    assert server.sock.proto == socket.IPPROTO_TCP
    assert server.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


@pytest.mark.parametrize("path", ["/dev/rest/version", "/dev/api/accounts/7", "/healthz"])
def test_sequential_requests_on_one_keep_alive_connection_do_not_stall(
    server: GatewayServer, path: str
) -> None:
    conn = connect(server.port)
    try:
        conn.request("GET", path)  # the first one starts the function's worker
        first = conn.getresponse()
        assert first.status == 200 and first.read()
        sock = conn.sock
        started = time.monotonic()
        for _ in range(REQUESTS):
            conn.request("GET", path)
            res = conn.getresponse()
            assert res.status == 200 and res.read()
            assert not res.will_close
        elapsed = time.monotonic() - started
        assert conn.sock is sock  # every request went over the same connection
    finally:
        conn.close()
    # A stall of 40 ms per request would take 800 ms; half of that is far from normal (~ms).
    assert elapsed < REQUESTS * STALL_S / 2, f"{REQUESTS} keep-alive requests took {elapsed:.3f}s"
