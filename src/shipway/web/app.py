"""The ASGI face of the local gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shipway.targets.local.gateway import Gateway, GatewayRequest

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection"}


def create_app(state_dir: Path, gateway: Gateway | None = None) -> Starlette:
    gw = gateway if gateway is not None else Gateway(Path(state_dir))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def proxy(request: Request) -> Response:
        scope = request.scope
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        path = path.split("?", 1)[0]
        server = scope.get("server")
        req = GatewayRequest(
            method=request.method,
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=await request.body(),
            source_ip=request.client.host if request.client else "127.0.0.1",
            port=server[1] if server else None,
        )
        # Workers block: run the gateway in the threadpool.
        res = await run_in_threadpool(gw.handle, req)
        response = Response(content=res.body, status_code=res.status)
        response.raw_headers.extend(
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in res.headers
            if k.lower() not in _HOP_BY_HOP
        )
        return response

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(gw.close)

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/{path:path}", proxy, methods=METHODS),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gw
    return app
