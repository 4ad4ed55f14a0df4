"""The local gateway's own HTTP/1.1 server: an asyncio protocol over httptools' parser.

The fast path of `shipway serve`: a request is parsed in C, handed to the gateway on the same
loop (no framework in between, no thread hop) and answered with one write. Keep-alive and
pipelined requests (answered in order), `Expect: 100-continue`, bounded bodies, idle
connections closed after `KEEP_ALIVE_S`. `/healthz` answers here. Without httptools,
`serve.py` falls back to uvicorn with h11 and the ASGI app (app.py).
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import http
import time
from collections.abc import Callable
from typing import Any, cast

import httptools

from shipway.targets.local.gateway import Gateway, GatewayRequest, GatewayResponse
from shipway.web.wsserver import WebSocketProtocol, websocket_target

KEEP_ALIVE_S = 5.0
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
_MAX_QUEUED = 16  # pipelined requests held per connection before it stops reading
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection"}
_REASONS = {s.value: s.phrase for s in http.HTTPStatus}
_HEALTHZ = GatewayResponse(200, [("content-type", "application/json")], b'{"ok":true}')


class _Clock:
    """The Date header, formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def date(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = email.utils.formatdate(now, usegmt=True).encode()
        return self._value


class ServerState:
    """What the connections of one server share."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.connections: set[HttpProtocol] = set()
        self.websockets: set[WebSocketProtocol] = set()  # connections upgraded (wsserver.py)
        self.clock = _Clock()
        self.closing = False

    def sweep(self) -> None:
        """Close connections idle for longer than KEEP_ALIVE_S."""
        cutoff = time.monotonic() - KEEP_ALIVE_S
        for conn in list(self.connections):
            if conn.idle() and conn.last_active < cutoff:
                conn.close()


class HttpProtocol(asyncio.Protocol):
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client = "127.0.0.1"
        self.port: int | None = None
        self.last_active = time.monotonic()
        self._queue: collections.deque[tuple[GatewayRequest, bool]] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        self._paused_reading = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._too_large = False

    # ------------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's is not a subclass)
        peer = self.transport.get_extra_info("peername")
        sock = self.transport.get_extra_info("sockname")
        self.client = peer[0] if peer else "127.0.0.1"
        self.port = sock[1] if sock else None
        self.state.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        self.transport = None
        self._can_write.set()
        self._queue.clear()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            offset = upgrade.args[0] if upgrade.args and isinstance(upgrade.args[0], int) else None
            self._upgrade(data[offset:] if offset is not None else b"")
        except httptools.HttpParserError:
            self._fail(400, b"malformed HTTP request")

    def _upgrade(self, tail: bytes) -> None:
        """A WebSocket upgrade of `/<env>/<service>` whose service has WebSocket routes:
        the connection becomes a WebSocketProtocol. Any other upgrade is refused."""
        headers = {k: v for k, v in self._headers}
        url = self._url
        path, _, query = url.partition(b"?")
        target = websocket_target(path.decode("latin-1"))
        websocket = headers.get("upgrade", "").lower() == "websocket"
        hub = self.state.gateway.websockets
        if not websocket or not self.idle() or self.transport is None:
            self._fail(400, b"upgrades are not supported")
            return
        if target is None or hub.service_of(*target) is None:
            self._fail(
                404,
                b"no WebSocket API here: use /<env>/<service> of a service with websocket events",
            )
            return
        lines = [b"GET " + url + b" HTTP/1.1\r\n"]
        lines += [_bytes(k) + b": " + _bytes(v) + b"\r\n" for k, v in self._headers]
        protocol = WebSocketProtocol(
            hub,
            target,
            query.decode("latin-1"),
            list(self._headers),
            self.client,
            on_end=self.state.websockets.discard,
        )
        self.state.connections.discard(self)
        self.state.websockets.add(protocol)
        transport, self.transport = self.transport, None
        protocol.connection_made(transport)
        transport.set_protocol(protocol)
        protocol.data_received(b"".join(lines) + b"\r\n" + tail)

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    def idle(self) -> bool:
        return self._task is None and not self._queue

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _fail(self, status: int, why: bytes) -> None:
        if self.transport is not None and self.idle():
            self._write(GatewayResponse(status, [("content-type", "text/plain")], why), False)
        self.close()

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        for name, value in self._headers:
            if name == "expect" and value.lower() == "100-continue" and self.transport:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY:
            self._too_large = True
        elif not self._too_large:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self.parser.should_upgrade():
            return  # answered by `_upgrade` once the parser stops at the upgrade
        url = self._url
        if not url.startswith(b"/"):  # absolute form (or "*")
            url = httptools.parse_url(url).path or b"/" if url != b"*" else b"/"
        path, _, query = url.partition(b"?")
        req = GatewayRequest(
            method=self.parser.get_method().decode("latin-1"),
            path=path.decode("latin-1"),
            query=query.decode("latin-1"),
            headers=self._headers,
            body=b"" if self._too_large else b"".join(self._body),
            source_ip=self.client,
            port=self.port,
        )
        if self._too_large:
            req = GatewayRequest("", "", headers=[("x-shipway-too-large", "1")])
        self._queue.append((req, self.parser.should_keep_alive()))
        if len(self._queue) > _MAX_QUEUED and self.transport and not self._paused_reading:
            self._paused_reading = True
            self.transport.pause_reading()
        if self._task is None:
            self._task = self.loop.create_task(self._serve())

    # ------------------------------------------------------------------ answers

    async def _serve(self) -> None:
        try:
            while self._queue and self.transport is not None:
                req, keep_alive = self._queue.popleft()
                res = await self._answer(req)
                keep_alive = keep_alive and not self.state.closing
                if self.transport is None:
                    return
                self._write(res, keep_alive, head=req.method == "HEAD")
                if not keep_alive:
                    self.close()
                    return
                if not self._can_write.is_set():
                    await self._can_write.wait()
                if self._paused_reading and len(self._queue) <= _MAX_QUEUED // 2:
                    self._paused_reading = False
                    if self.transport is not None:
                        self.transport.resume_reading()
        finally:
            self._task = None
            self.last_active = time.monotonic()
            if self.state.closing and self.idle():
                self.close()

    async def _answer(self, req: GatewayRequest) -> GatewayResponse:
        if req.headers and req.headers[0][0] == "x-shipway-too-large":
            return GatewayResponse(413, [("content-type", "application/json")], _TOO_LARGE)
        if req.path == "/healthz" and req.method in ("GET", "HEAD"):
            return _HEALTHZ
        try:
            return await self.state.gateway.ahandle(req)
        except Exception:  # the gateway logs function failures; this is the server's own
            return GatewayResponse(500, [("content-type", "application/json")], _FAILED)

    def _write(self, res: GatewayResponse, keep_alive: bool, head: bool = False) -> None:
        assert self.transport is not None
        reason = _REASONS.get(res.status, "")
        lines = [
            f"HTTP/1.1 {res.status} {reason}\r\n".encode(),
            b"date: " + self.state.clock.date() + b"\r\n",
            b"content-length: " + str(len(res.body)).encode() + b"\r\n",
        ]
        for name, value in res.headers:
            if name.lower() in _HOP_BY_HOP or not _safe(name) or not _safe(value):
                continue  # a header the handler made that HTTP cannot carry is dropped
            lines.append(_bytes(name) + b": " + _bytes(value) + b"\r\n")
        if not keep_alive:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        if not head:
            lines.append(res.body)
        self.transport.write(b"".join(lines))


_TOO_LARGE = b'{"message":"Request Too Long"}'
_FAILED = b'{"message":"Internal Server Error"}'


def _safe(text: str) -> bool:
    return "\r" not in text and "\n" not in text and "\0" not in text


def _bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


async def serve_forever(
    gateway: Gateway,
    sock: Any,
    stopping: asyncio.Event,
    on_ready: Callable[[], None] = lambda: None,
    grace_s: float = 5.0,
) -> None:
    """Serve `sock` until `stopping` is set; then finish the requests under way (at most
    `grace_s`) and close every connection."""
    loop = asyncio.get_running_loop()
    state = ServerState(gateway)
    server = await loop.create_server(lambda: HttpProtocol(state), sock=sock, backlog=1024)
    on_ready()
    try:
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), 1.0)
            except TimeoutError:
                state.sweep()
    finally:
        state.closing = True
        server.close()
        await gateway.websockets.shutdown(grace_s)
        for protocol in list(state.websockets):
            protocol.abort()
        for conn in list(state.connections):
            if conn.idle():
                conn.close()
        deadline = loop.time() + grace_s
        while state.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(state.connections):
            conn.close()


__all__ = ["HttpProtocol", "serve_forever"]
