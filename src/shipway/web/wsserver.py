"""WebSocket framing for the local gateway's WebSocket APIs (targets/local/wshub.py).

`ws://127.0.0.1:PORT/<env>/<service>`. Two faces, one hub: `WebSocketProtocol` takes over a
connection of Shipway's own HTTP server (httpserver.py) once httptools reports the upgrade,
and frames with wsproto (sans-IO); `asgi_websocket` serves the same through uvicorn's ASGI
`websocket` scope (its wsproto implementation). A `$connect` that answers non-2xx refuses
the upgrade with that status.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, cast

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from shipway.targets.local.wshub import Connection, Refusal, WebsocketHub

__all__ = ["WebSocketProtocol", "asgi_websocket", "websocket_target"]

MAX_MESSAGE = 128 * 1024  # API Gateway's message size limit
_CLOSE_WAIT_S = 2.0  # for the client's answer to our close frame

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def websocket_target(path: str) -> tuple[str, str] | None:
    """(env, service) of `/<env>/<service>` (a trailing `/` allowed)."""
    parts = path.strip("/").split("/")
    if len(parts) != 2 or not all(parts) or path.count("//"):
        return None
    return parts[0], parts[1]


class WebSocketProtocol(asyncio.Protocol):
    """One WebSocket on a connection the HTTP server handed over (set_protocol)."""

    def __init__(
        self,
        hub: WebsocketHub,
        target: tuple[str, str],
        query: str,
        headers: Sequence[tuple[str, str]],
        source_ip: str,
        on_end: Callable[[WebSocketProtocol], None] = lambda p: None,
    ) -> None:
        self.hub = hub
        self.target = target
        self.query = query
        self.headers = list(headers)
        self.source_ip = source_ip
        self.on_end = on_end
        self.ws = WSConnection(ConnectionType.SERVER)
        self.transport: asyncio.Transport | None = None
        self.conn: Connection | None = None
        self.task: asyncio.Task[None] | None = None
        self._parts: list[str | bytes] = []
        self._size = 0
        self._close_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self.task is not None and not self.task.done():
            self.task.cancel()  # the client left during `$connect`
        if self.conn is not None:
            self.hub.closed(self.conn, 1006, "")
        self.on_end(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.ws.receive_data(data)
            for event in self.ws.events():
                self._on_event(event)
        except (RemoteProtocolError, LocalProtocolError):
            self.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------------ events

    def _on_event(self, event: Any) -> None:
        if isinstance(event, Request):
            self.task = asyncio.get_running_loop().create_task(self._connect())
        elif isinstance(event, TextMessage | BytesMessage):
            self._size += len(event.data)
            if self._size > MAX_MESSAGE:
                self._start_close(1009, "Message too big")
                return
            self._parts.append(
                bytes(event.data) if isinstance(event.data, bytearray) else event.data
            )
            if event.message_finished:
                parts, self._parts, self._size = self._parts, [], 0
                data: str | bytes = (
                    "".join(cast(list[str], parts))
                    if isinstance(event, TextMessage)
                    else b"".join(cast(list[bytes], parts))
                )
                if self.conn is not None:
                    self.hub.received(self.conn, data)
        elif isinstance(event, Ping):
            self._write(event.response())
        elif isinstance(event, CloseConnection):
            if self.ws.state is ConnectionState.REMOTE_CLOSING:
                self._write(event.response())
            if self.conn is not None:
                self.hub.closed(self.conn, event.code, event.reason or "")
            self.abort()

    async def _connect(self) -> None:
        env, service = self.target
        decision = await self.hub.connect(env, service, self.query, self.headers, self.source_ip)
        if self.transport is None:
            return
        if isinstance(decision, Refusal):
            headers = [(b"content-type", b"application/json")] if decision.body else []
            self._write(
                RejectConnection(
                    status_code=decision.status, headers=headers, has_body=bool(decision.body)
                )
            )
            if decision.body:
                self._write(RejectData(data=decision.body, body_finished=True))
            self.abort()
            return
        self._write(AcceptConnection())
        self.conn = decision
        self.hub.opened(decision, _WsprotoSocket(self))

    # ------------------------------------------------------------------ writes

    def _write(self, event: Any) -> None:
        if self.transport is None:
            return
        with contextlib.suppress(LocalProtocolError):  # e.g. a send after the close frame
            self.transport.write(self.ws.send(event))

    def send_message(self, data: str | bytes) -> None:
        if self.ws.state is ConnectionState.OPEN:
            self._write(Message(data=data))

    def _start_close(self, code: int, reason: str) -> None:
        if self.ws.state is ConnectionState.OPEN:
            self._write(CloseConnection(code=code, reason=reason))
        if self.transport is not None and self._close_timer is None:
            self._close_timer = asyncio.get_running_loop().call_later(_CLOSE_WAIT_S, self.abort)


class _WsprotoSocket:
    def __init__(self, protocol: WebSocketProtocol) -> None:
        self.protocol = protocol

    async def send(self, data: str | bytes) -> None:
        self.protocol.send_message(data)

    async def close(self, code: int, reason: str) -> None:
        self.protocol._start_close(code, reason)


class _AsgiSocket:
    def __init__(self, send: Send) -> None:
        self._send = send

    async def send(self, data: str | bytes) -> None:
        message: dict[str, Any] = {"type": "websocket.send"}
        message["text" if isinstance(data, str) else "bytes"] = data
        with contextlib.suppress(Exception):  # the client has gone: nothing to tell
            await self._send(message)

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})


async def asgi_websocket(hub: WebsocketHub, scope: Scope, receive: Receive, send: Send) -> None:
    """A `websocket` scope of the ASGI engine."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    target = websocket_target(scope.get("path", ""))
    decision: Connection | Refusal
    if target is None:
        decision = Refusal(404, b'{"message":"Not Found"}')
    else:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        client = scope.get("client")
        decision = await hub.connect(
            target[0],
            target[1],
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            client[0] if client else "127.0.0.1",
        )
    if isinstance(decision, Refusal):
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": decision.status,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": decision.body})
        else:
            await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    hub.opened(decision, _AsgiSocket(send))
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("text")
                hub.received(decision, data if data is not None else message.get("bytes") or b"")
            elif message["type"] == "websocket.disconnect":
                hub.closed(decision, int(message.get("code", 1005)), message.get("reason") or "")
                return
    finally:
        hub.closed(decision, 1006, "")  # a no-op once closed
