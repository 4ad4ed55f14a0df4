"""The local WebSocket API of each service with `websocket` events: its connections, the
functions of its routes, and the `@connections` management API.

`ws://127.0.0.1:PORT/<env>/<service>` is the API (the web engines do the framing and call
`connect` / `received` / `closed`); `http://127.0.0.1:PORT/<env>/<service>/@connections/<id>`
is its management API (POST sends, GET describes, DELETE closes), which boto3's
`apigatewaymanagementapi` client reaches with that endpoint (set in the functions'
environment as AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI and SHIPWAY_WEBSOCKET_ENDPOINT).

Every task the hub starts is kept and ended by `shutdown`; a release switch closes the
connections of the release before it (1001 "Going away"), and `$disconnect` runs for each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from shipway.errors import ShipwayError
from shipway.targets.local import wsevents
from shipway.targets.local.releases import DeployedService, ReleaseManifest
from shipway.targets.local.workers import InvokeResult, append_log

if TYPE_CHECKING:
    from shipway.targets.local.gateway import Gateway, GatewayRequest, GatewayResponse

__all__ = ["ENDPOINT_ENV", "Connection", "Refusal", "Socket", "WebsocketHub", "endpoint_env"]

ENDPOINT_ENV = ("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", "SHIPWAY_WEBSOCKET_ENDPOINT")
MAX_POST = 128 * 1024  # API Gateway's frame size limit
_TIMEOUT_S = 29.0  # API Gateway's integration timeout
_SWEEP_S = 0.5
_JSON = [("content-type", "application/json")]


def endpoint_env(base_url: str, env: str, service: str) -> dict[str, str]:
    """What a function of a WebSocket service is told about its management API."""
    url = f"{base_url}/{env}/{service}"
    return dict.fromkeys(ENDPOINT_ENV, url)


def websocket_routes(service: DeployedService) -> dict[str, tuple[str, dict[str, Any]]]:
    """route -> (function, its event)."""
    return {
        str(w["route"]): (fn.name, w) for fn in service.functions.values() for w in fn.websockets
    }


class Socket(Protocol):
    """One accepted WebSocket, as the web engine that holds it lets the hub use it."""

    async def send(self, data: str | bytes) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass(frozen=True)
class Refusal:
    """The upgrade refused: this HTTP answer instead."""

    status: int
    body: bytes = b""


@dataclass
class Connection:
    peer: wsevents.Peer
    release_dir: Path
    socket: Socket | None = None
    authorizer: dict[str, Any] | None = None
    last_active_ms: int = 0
    closed: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # $disconnect has run


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


class WebsocketHub:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.connections: dict[str, Connection] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ where

    def service_of(self, env: str, service: str) -> tuple[Path, ReleaseManifest] | None:
        """The current release of `env`, if its `service` has WebSocket routes."""
        try:
            found = self.gateway.current_release(env)
        except ShipwayError:
            return None
        if found is None:
            return None
        svc = found[1].services.get(service)
        if svc is None or not any(f.websockets for f in svc.functions.values()):
            return None
        return found

    # ------------------------------------------------------------------ tasks

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        return task

    async def _sweep(self) -> None:
        """Close the connections whose release is no longer current."""
        while True:
            await asyncio.sleep(_SWEEP_S)
            for conn in list(self.connections.values()):
                found = self.service_of(conn.peer.env, conn.peer.service)
                if found is None or found[0] != conn.release_dir:
                    await self._close_socket(conn, 1001, "Going away")

    async def _invoke(
        self, conn: Connection, route: str, event: dict[str, Any]
    ) -> tuple[InvokeResult | None, str]:
        """Run `route`'s function in the current release; (None, why) if it cannot run."""
        found = self.service_of(conn.peer.env, conn.peer.service)
        if found is None:
            return None, "the service has no WebSocket routes now"
        release_dir, manifest = found
        routes = websocket_routes(manifest.services[conn.peer.service])
        if route not in routes:
            return None, f"no route `{route}`"
        function = routes[route][0]
        return await self._run(release_dir, manifest, conn.peer, function, event), ""

    async def _run(
        self,
        release_dir: Path,
        manifest: ReleaseManifest,
        peer: wsevents.Peer,
        function: str,
        event: dict[str, Any],
    ) -> InvokeResult | None:
        spec = self.gateway.function_spec(peer.env, release_dir, manifest, peer.service, function)
        try:
            return await self.gateway.workers.ainvoke(
                spec, event, min(float(spec.function.timeout), _TIMEOUT_S)
            )
        except ShipwayError as e:
            append_log(spec, f"[ERROR] {e}\n")
            return None

    # ------------------------------------------------------------------ the socket's life

    async def connect(
        self,
        env: str,
        service: str,
        query: str,
        headers: Sequence[tuple[str, str]],
        source_ip: str,
    ) -> Connection | Refusal:
        """`$connect` (and its authorizer): a Connection to accept, or the answer refusing it."""
        found = self.service_of(env, service)
        if found is None:
            return Refusal(404, b'{"message":"Not Found"}')
        release_dir, manifest = found
        svc = manifest.services[service]
        routes = websocket_routes(svc)
        lower = {k.lower(): v for k, v in headers}
        now = _now_ms()
        peer = wsevents.Peer(
            connection_id=wsevents.new_connection_id(),
            env=env,
            service=service,
            domain=lower.get("host", "127.0.0.1"),
            source_ip=source_ip,
            user_agent=lower.get("user-agent", ""),
            connected_at_ms=now,
            region=svc.region,
        )
        conn = Connection(peer, release_dir, last_active_ms=now)
        if "$connect" not in routes:
            return conn  # API Gateway accepts every connection then
        function, config = routes["$connect"]
        if config.get("authorizer"):
            refusal = await self._authorize(conn, manifest, config, headers, query)
            if refusal is not None:
                return refusal
        event = wsevents.connect_event(peer, headers, query, now, conn.authorizer)
        result = await self._run(release_dir, manifest, peer, function, event)
        if result is None or not result.ok:
            return Refusal(500, b'{"message":"Internal server error"}')
        status = result.result.get("statusCode") if isinstance(result.result, dict) else None
        try:
            code = int(status) if status is not None else 502
        except (TypeError, ValueError):
            code = 502
        if not 200 <= code < 300:
            return Refusal(code if 400 <= code < 600 else 502)
        return conn

    async def _authorize(
        self,
        conn: Connection,
        manifest: ReleaseManifest,
        config: dict[str, Any],
        headers: Sequence[tuple[str, str]],
        query: str,
    ) -> Refusal | None:
        sources = [str(s) for s in config.get("identity_source") or []]
        if not wsevents.identity_present(sources, headers, query):
            return Refusal(401, b'{"message":"Unauthorized"}')
        peer = conn.peer
        event = wsevents.authorizer_event(peer, headers, query, _now_ms())
        result = await self._run(conn.release_dir, manifest, peer, str(config["authorizer"]), event)
        if result is None:
            return Refusal(500, b'{"message":"Internal server error"}')
        if not result.ok:
            unauthorized = result.error_message == "Unauthorized"
            return Refusal(401, b'{"message":"Unauthorized"}') if unauthorized else Refusal(500)
        status, context = wsevents.authorizer_verdict(result.result, wsevents.method_arn(peer))
        if context is None:
            return Refusal(status, b'{"message":"Forbidden"}')
        conn.authorizer = context
        return None

    def opened(self, conn: Connection, socket: Socket) -> None:
        """The upgrade was answered: the connection is live."""
        conn.socket = socket
        self.connections[conn.peer.connection_id] = conn
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def received(self, conn: Connection, data: str | bytes) -> None:
        """A message from the client: its route's function runs (messages do not wait for
        each other, as on API Gateway)."""
        conn.last_active_ms = _now_ms()
        self._spawn(self._message(conn, data))

    async def _message(self, conn: Connection, data: str | bytes) -> None:
        found = self.service_of(conn.peer.env, conn.peer.service)
        routes = websocket_routes(found[1].services[conn.peer.service]) if found else {}
        selection = found[1].services[conn.peer.service].websocket_selection if found else ""
        route = wsevents.select_route(selection or wsevents.DEFAULT_SELECTION, data, list(routes))
        if route is None:
            await self._tell(conn, "Forbidden")
            return
        event = wsevents.message_event(conn.peer, route, data, _now_ms(), conn.authorizer)
        result, _ = await self._invoke(conn, route, event)
        if result is None or not result.ok:
            await self._tell(conn, "Internal server error", event["requestContext"]["requestId"])
            return
        if routes[route][1].get("response") and isinstance(result.result, dict):
            body = result.result.get("body")
            if body is not None and conn.socket is not None and not conn.closed:
                await conn.socket.send(body if isinstance(body, str) else json.dumps(body))

    async def _tell(self, conn: Connection, message: str, request_id: str = "") -> None:
        if conn.socket is None or conn.closed:
            return
        doc = {"message": message, "connectionId": conn.peer.connection_id}
        doc["requestId"] = request_id or wsevents.new_connection_id()
        await conn.socket.send(json.dumps(doc))

    def closed(self, conn: Connection, code: int = 1005, reason: str = "") -> None:
        """The socket is gone (either side closed it): `$disconnect` runs, once."""
        if self.connections.pop(conn.peer.connection_id, None) is None:
            return
        conn.closed = True
        self._spawn(self._disconnect(conn, code, reason))

    async def _disconnect(self, conn: Connection, code: int, reason: str) -> None:
        try:
            event = wsevents.disconnect_event(conn.peer, code, reason, _now_ms(), conn.authorizer)
            await self._invoke(conn, "$disconnect", event)
        finally:
            conn.ended.set()

    async def _close_socket(self, conn: Connection, code: int, reason: str) -> None:
        socket = conn.socket
        self.closed(conn, code, reason)
        if socket is not None:
            with contextlib.suppress(Exception):  # the peer may be gone already
                await socket.close(code, reason)

    # ------------------------------------------------------------------ @connections

    async def manage(
        self, req: GatewayRequest, env: str, service: str, connection_id: str
    ) -> GatewayResponse:
        """`/@connections/<id>`: POST sends its body, GET describes, DELETE closes."""
        from shipway.targets.local.gateway import GatewayResponse

        conn = self.connections.get(unquote(connection_id))
        if conn is None or conn.peer.env != env or conn.peer.service != service:
            return GatewayResponse(
                410, [*_JSON, ("x-amzn-ErrorType", "GoneException")], b'{"message":null}'
            )
        method = req.method.upper()
        if method == "POST":
            if len(req.body) > MAX_POST:
                return GatewayResponse(
                    413,
                    [*_JSON, ("x-amzn-ErrorType", "PayloadTooLargeException")],
                    b'{"message":"Message too long"}',
                )
            try:
                data: str | bytes = req.body.decode("utf-8")
            except UnicodeDecodeError:
                data = req.body
            if conn.socket is not None:
                await conn.socket.send(data)
            return GatewayResponse(200, _JSON, b"")
        if method == "GET":
            doc = {
                "connectedAt": _iso(conn.peer.connected_at_ms),
                "identity": {"sourceIp": conn.peer.source_ip, "userAgent": conn.peer.user_agent},
                "lastActiveAt": _iso(conn.last_active_ms),
            }
            return GatewayResponse(200, _JSON, json.dumps(doc).encode())
        if method == "DELETE":
            await self._close_socket(conn, 1000, "")
            return GatewayResponse(204, [], b"")
        return GatewayResponse(405, _JSON, b'{"message":"Method Not Allowed"}')

    # ------------------------------------------------------------------ the end

    async def shutdown(self, grace_s: float = 5.0) -> None:
        """Close every connection (1001), let `$disconnect` run (at most `grace_s`), then
        end every task the hub started."""
        for conn in list(self.connections.values()):
            await self._close_socket(conn, 1001, "Going away")
        if self._sweeper is not None:
            self._sweeper.cancel()
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace_s)
        for task in list(self._tasks):
            task.cancel()
        leftovers = [t for t in (*self._tasks, self._sweeper) if t is not None]
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)
        self._sweeper = None
