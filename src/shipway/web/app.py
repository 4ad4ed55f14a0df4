"""The ASGI face of the local gateway.

Function requests take a short path straight to the gateway (no routing framework, no thread
hop: the gateway drives its workers from the server's loop); `/healthz` and the lifespan go
through Starlette. `/metrics` is the server's own route on the gateway (ServerGateway), so
both HTTP engines (serve.py) answer it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shipway.pipeline.paths import StatePaths
from shipway.targets.local.gateway import Gateway, GatewayRequest, GatewayResponse
from shipway.targets.local.pools import WorkerManager
from shipway.web.metrics import CONTENT_TYPE, Metrics
from shipway.web.wsserver import asgi_websocket

METHODS = frozenset(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection"}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[GatewayRequest], Awaitable[GatewayResponse]]


def _openapi() -> tuple[str, bytes]:
    from shipway.web.openapi import openapi_document

    return "application/json", openapi_document()


def _docs() -> tuple[str, bytes]:
    from shipway.web.openapi import docs_page

    return "text/html; charset=utf-8", docs_page()


_DOCS: dict[str, Callable[[], tuple[str, bytes]]] = {"/openapi.json": _openapi, "/docs": _docs}


class ServerGateway(Gateway):
    """The local gateway with the server's own routes: `GET /metrics` (Prometheus' text
    format, read from the state database at each scrape, off the loop) and, when it serves
    a repository, `/hooks/…`, `/api/…`, `/docs` and `/openapi.json`. A function URL always
    has /<env>/<service>, and environments may not be named hooks, api, docs or metrics, so
    no route of a release is taken."""

    def __init__(self, state_dir: Path, workers: WorkerManager | None = None) -> None:
        super().__init__(state_dir, workers)
        self.metrics = Metrics(StatePaths(self.state_dir).database)
        # `/hooks/...` and `/api/...` when the server serves a repository's pipeline
        # (web/hooks.py, web/api.py)
        self.hooks: Handler | None = None
        self.api: Handler | None = None

    async def ahandle(self, req: GatewayRequest) -> GatewayResponse:
        if req.path == "/metrics" and req.method in ("GET", "HEAD"):
            body = await asyncio.to_thread(self.metrics.exposition)
            return GatewayResponse(200, [("content-type", CONTENT_TYPE)], body)
        if self.hooks is not None and req.path.startswith("/hooks/"):
            return await self.hooks(req)
        if self.api is not None:
            if req.path.startswith("/api/"):
                return await self.api(req)
            if req.path in _DOCS and req.method in ("GET", "HEAD"):
                content_type, body = _DOCS[req.path]()
                return GatewayResponse(200, [("content-type", content_type)], body)
        return await super().ahandle(req)


class GatewayApp:
    """ASGI: `/healthz` and the lifespan to Starlette, every other request to the gateway."""

    def __init__(self, gateway: Gateway, framework: Starlette) -> None:
        self.gateway = gateway
        self.framework = framework
        self.state = framework.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # a service's WebSocket API (wsserver.py)
            await asgi_websocket(self.gateway.websockets, scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] == "/healthz":
            await self.framework(scope, receive, send)
            return
        if scope["method"] not in METHODS:
            await send({"type": "http.response.start", "status": 405, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body was complete
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        client = scope.get("client")
        server = scope.get("server")
        req = GatewayRequest(
            method=scope["method"],
            path=path.split("?", 1)[0],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=body,
            source_ip=client[0] if client else "127.0.0.1",
            port=server[1] if server else None,
        )
        res = await self.gateway.ahandle(req)
        headers = [(b"content-length", str(len(res.body)).encode())]
        headers += [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in res.headers
            if k.lower() not in _HOP_BY_HOP
        ]
        await send({"type": "http.response.start", "status": res.status, "headers": headers})
        await send({"type": "http.response.body", "body": res.body})


def create_app(
    state_dir: Path,
    gateway: Gateway | None = None,
    on_startup: Callable[[], None] | None = None,
) -> GatewayApp:
    """`on_startup` runs on the server's loop once its workers are bound to it."""
    gw = gateway if gateway is not None else ServerGateway(Path(state_dir))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gw.workers.bind(asyncio.get_running_loop())
        if on_startup is not None:
            on_startup()
        try:
            yield
        finally:
            await gw.websockets.shutdown()  # `$disconnect` runs while the workers are up
            gw.close()  # on the loop: every worker's pipes let go of cleanly

    framework = Starlette(
        routes=[Route("/healthz", healthz, methods=["GET", "HEAD"])],
        lifespan=lifespan,
    )
    framework.state.gateway = gw
    return GatewayApp(gw, framework)
