"""The local API gateway: `/<env>/<service>/<route path>` -> a warm worker -> an HTTP answer.

Framework-agnostic: `web/app.py` adapts it to ASGI; `ahandle` runs on the server's event loop
(the workers are driven from it, no thread per request). Each request reads the env's `current`
symlink (one readlink), so a newly committed release is served from the next request on;
parsed manifests, route tables and function specs are cached per release folder (a release
never changes).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipway.errors import NotFound, ShipwayError
from shipway.targets.local import apigw, authorizers
from shipway.targets.local.emulated_values import emulated_values
from shipway.targets.local.lambda_integration import lambda_request, lambda_response
from shipway.targets.local.layers import layer_dirs
from shipway.targets.local.pools import WorkerManager
from shipway.targets.local.putevents import ENDPOINT, put_events
from shipway.targets.local.releases import (
    DeployedService,
    ReleaseManifest,
    ReleaseStore,
    check_name,
)
from shipway.targets.local.workers import FunctionSpec, InvokeResult, append_log
from shipway.targets.local.wshub import WebsocketHub, endpoint_env

_MATCHES_KEPT = 4096


@dataclass(frozen=True)
class GatewayRequest:
    method: str
    path: str  # raw (percent-encoded) request path, e.g. "/dev/accounts/accounts/42"
    query: str = ""  # raw query string, without "?"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    port: int | None = None


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _service_kind(service: DeployedService) -> apigw.Kind:
    kinds = {r["kind"] for f in service.functions.values() for r in f.routes}
    return "http" if kinds == {"http"} else "httpApi"


def function_spec(
    state_dir: Path,
    env: str,
    release_dir: Path,
    manifest: ReleaseManifest,
    service: str,
    function: str,
    public_url: str | None = None,
) -> FunctionSpec:
    """`public_url`: where the gateway serves (a WebSocket service's functions are told
    their management API's endpoint)."""
    svc = manifest.services.get(service)
    if svc is None:
        raise NotFound(f"service `{service}` is not in release {manifest.number} of `{env}`")
    fn = svc.functions.get(function)
    if fn is None:
        raise NotFound(f"function `{function}` is not in service `{service}`")
    if public_url and any(f.websockets for f in svc.functions.values()):
        extra = endpoint_env(public_url, env, service)
        fn = dataclasses.replace(fn, environment={**fn.environment, **extra})
    lambda_name = f"{service}-{svc.stage or env}-{fn.name}"
    resolved = emulated_values(
        Path(state_dir), release_dir, service, lambda_name, fn, _endpoints(manifest, public_url)
    )
    if resolved:  # `{Ref: UsersTable}` -> the table's name on the local AWS emulator
        fn = dataclasses.replace(fn, environment={**fn.environment, **resolved})
    return FunctionSpec(
        env=env,
        release_dir=release_dir,
        service=service,
        # `../3/billing` for a service whose folder an earlier release holds: said plainly
        # (releases are real folders, so `..` is their parent)
        service_dir=Path(os.path.normpath(release_dir / svc.dir)),
        function=fn,
        region=svc.region,
        stage=svc.stage or env,
        log_path=Path(state_dir) / "envs" / env / "logs" / f"{service}.log",
        state_dir=Path(state_dir),
        layer_dirs=layer_dirs(
            release_dir,
            fn.layers,
            {
                name: {k: v["dir"] for k, v in s.layers.items()}
                for name, s in manifest.services.items()
            },
        ),
    )


class Gateway:
    def __init__(self, state_dir: Path, workers: WorkerManager | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.workers = workers or WorkerManager()
        self._lock = threading.Lock()
        self._manifests: dict[Path, ReleaseManifest] = {}
        self._routes: dict[tuple[Path, str], list[apigw.Route]] = {}
        self._specs: dict[tuple[Path, str, str], FunctionSpec] = {}
        # (release, service, method, path) -> its route: paths repeat, matching costs
        self._matches: dict[tuple[Path, str, str, str], apigw.RouteMatch | None] = {}
        self._current: dict[str, Path] = {}
        # env -> (its `current` link, what the link said, the release and its manifest): a
        # request whose readlink says the same needs no other file system call
        self._seen: dict[str, tuple[str, str, Path, ReleaseManifest]] = {}
        self._authorizers = authorizers.Authorizers(self._invoke_authorizer)
        # `http://127.0.0.1:PORT` once a server serves this gateway
        self.public_url: str | None = None
        self.websockets = WebsocketHub(self)

    # ------------------------------------------------------------------ releases

    def current_release(self, env: str) -> tuple[Path, ReleaseManifest] | None:
        seen = self._seen.get(env)
        if seen is not None:
            try:
                if os.readlink(seen[0]) == seen[1]:
                    return seen[2], seen[3]
            except OSError:
                pass
        store = ReleaseStore(self.state_dir, env)
        try:
            link_text = os.readlink(store.current_link)
        except OSError:
            link_text = ""
        found = self._current_release(store)
        if found is not None and link_text:
            with self._lock:
                self._seen[env] = (str(store.current_link), link_text, *found)
        return found

    def _current_release(self, store: ReleaseStore) -> tuple[Path, ReleaseManifest] | None:
        env = store.env
        current = store.current()
        if current is None:
            return None
        release_dir = current[1]
        with self._lock:
            manifest = self._manifests.get(release_dir)
            previous = self._current.get(env)
            self._current[env] = release_dir
        if manifest is None:
            manifest = ReleaseManifest.load(release_dir)
            with self._lock:
                self._manifests[release_dir] = manifest
        if previous is not None and previous != release_dir:
            # `current` moved: drain the other releases' pools (re-read the link, so a request
            # that raced with the switch cannot retire the new release's pools).
            latest = store.current()
            keep = latest[1] if latest else None
            # the manifest read above, unless `current` moved again in between
            kept = manifest if keep == release_dir else None
            if keep is not None and kept is None:
                kept = ReleaseManifest.load(keep)
            self.workers.retire(env, keep=self._pool_keys(env, keep, kept))
            with self._lock:
                if keep is not None:
                    self._current[env] = keep
                for stale in [
                    p for p in self._manifests if p != keep and p.parent == store.releases_dir
                ]:
                    del self._manifests[stale]
                for key in [
                    k for k in self._routes if k[0] != keep and k[0].parent == store.releases_dir
                ]:
                    del self._routes[key]
                for skey in [
                    k for k in self._specs if k[0] != keep and k[0].parent == store.releases_dir
                ]:
                    del self._specs[skey]
                self._matches.clear()
        return release_dir, manifest

    def function_spec(
        self, env: str, release_dir: Path, manifest: ReleaseManifest, service: str, function: str
    ) -> FunctionSpec:
        key = (release_dir, service, function)
        spec = self._specs.get(key)
        if spec is None:
            spec = function_spec(
                self.state_dir, env, release_dir, manifest, service, function, self.public_url
            )
            spec.key  # noqa: B018 - computed once (it resolves the service folder)
            with self._lock:
                self._specs[key] = spec
        return spec

    def _pool_keys(
        self, env: str, release_dir: Path | None, manifest: ReleaseManifest | None
    ) -> set[tuple[str, str, str, str]]:
        """The worker pools that release `release_dir` of `env` uses."""
        if release_dir is None or manifest is None:
            return set()
        return {
            function_spec(
                self.state_dir, env, release_dir, manifest, sname, fname, self.public_url
            ).key
            for sname, svc in manifest.services.items()
            for fname in svc.functions
        }

    def _route_table(self, release_dir: Path, service: DeployedService) -> list[apigw.Route]:
        key = (release_dir, service.name)
        with self._lock:
            table = self._routes.get(key)
        if table is None:
            table = [
                apigw.Route(fn.name, route, guard, integration)
                for fn in service.functions.values()
                for route, guard, integration in zip(
                    fn.http_routes, fn.route_authorizers, fn.route_integrations, strict=True
                )
            ]
            with self._lock:
                self._routes[key] = table
        return table

    def _match(
        self, release_dir: Path, service: DeployedService, method: str, rest: str
    ) -> apigw.RouteMatch | None:
        key = (release_dir, service.name, method, rest)
        try:
            return self._matches[key]
        except KeyError:
            pass
        match = apigw.match_route(self._route_table(release_dir, service), method, rest)
        with self._lock:
            if len(self._matches) >= _MATCHES_KEPT:
                self._matches.clear()  # bounded: a client walking many paths
            self._matches[key] = match
        return match

    # ------------------------------------------------------------------ requests

    def handle(self, req: GatewayRequest) -> GatewayResponse:
        """`ahandle` from a thread that is not the workers' loop."""
        return self.workers.call(self.ahandle(req))

    async def ahandle(self, req: GatewayRequest) -> GatewayResponse:
        parts = req.path.split("/", 3)  # "", env, service, rest
        if len(parts) < 3 or not parts[1] or not parts[2]:
            return self._miss("httpApi", "use /<env>/<service>/<path>")
        env, service_name = parts[1], parts[2]
        if service_name == ENDPOINT:  # the local EventBridge endpoint (putevents.py)
            return await put_events(self, env, req)
        rest = "/" + (parts[3] if len(parts) > 3 else "")
        try:
            found = self.current_release(env)
        except ShipwayError:
            found = None
        if found is None:
            return self._miss("httpApi", f"environment `{env}` has no local release")
        release_dir, manifest = found
        service = manifest.services.get(service_name)
        if service is None:
            return self._miss("httpApi", f"no service `{service_name}` in `{env}`")
        if rest.startswith("/@connections/") and any(
            f.websockets for f in service.functions.values()
        ):
            return await self.websockets.manage(
                req, env, service_name, rest[len("/@connections/") :]
            )
        kind = _service_kind(service)
        match = self._match(release_dir, service, req.method, rest)
        if match is None:
            return self._miss(kind, f"no route for {req.method.upper()} {rest}")
        kind = match.route.kind
        info = apigw.RequestInfo(
            method=req.method,
            path=rest,
            query=req.query,
            headers=list(req.headers),
            body=req.body,
            source_ip=req.source_ip,
            stage=env,
            full_path=req.path,
            port=req.port,
        )
        event = apigw.build_event(info, match)
        if match.authorizer is not None:  # open routes pay nothing for this
            verdict = await self._authorizers.check(
                match.authorizer,
                info,
                match,
                event,
                (env, str(release_dir), service_name, service.region),
            )
            if verdict.reply is not None:
                return self._reply(verdict.reply, verdict.why)
            authorizers.apply(verdict, event)
        spec = self.function_spec(env, release_dir, manifest, service_name, match.function)
        if match.integration is not None:  # `integration: lambda`: the mapping templates
            try:
                mapped = lambda_request(match.integration, event)
            except ShipwayError as e:
                append_log(spec, f"[ERROR] {e}\n")
                return self._reply(apigw.function_error(kind), spec.mask(str(e)))
            if isinstance(mapped, apigw.Reply):
                return self._reply(mapped, "no request template for this content type")
            event = mapped
        limit = (
            apigw.REST_INTEGRATION_TIMEOUT_S
            if kind == "http"
            else apigw.HTTP_API_INTEGRATION_TIMEOUT_S
        )
        gateway_cut = spec.function.timeout > limit
        try:
            result = await self.workers.ainvoke(
                spec, event, min(float(spec.function.timeout), limit)
            )
        except ShipwayError as e:
            append_log(spec, f"[ERROR] {e}\n")
            return self._reply(apigw.function_error(kind), spec.mask(str(e)))
        except Exception:
            append_log(spec, f"[ERROR] local runtime failure\n{traceback.format_exc()}")
            return self._reply(apigw.function_error(kind), "local runtime failure")
        if not result.ok and result.timed_out and gateway_cut:
            return self._reply(apigw.gateway_timeout(kind), None)
        if match.integration is not None:
            try:
                mapped_reply = lambda_response(match.integration, result.ok, result.payload)
            except ShipwayError as e:
                append_log(spec, f"[ERROR] {e}\n")
                return self._reply(apigw.function_error(kind), spec.mask(str(e)))
            error = None if result.ok else result.error_type
            return self._reply(mapped_reply, error, result.request_id)
        if not result.ok:
            return self._reply(apigw.function_error(kind), result.error_type)
        reply = apigw.map_response(kind, result.result)
        if reply.status >= 500 and not _is_user_status(result.result, reply.status):
            append_log(spec, f"[ERROR] malformed Lambda proxy response: {result.result!r:.500}\n")
        return self._reply(reply, None, result.request_id)

    async def _invoke_authorizer(
        self, env: str, service: str, function: str, event: dict[str, Any]
    ) -> InvokeResult | None:
        """Run an authorizer function of the current release: `function` of `service`, or
        (no service) the function deployed as `function` (`<service>-<stage>-<name>`)."""
        found = self.current_release(env)
        if found is None:
            return None
        release_dir, manifest = found
        if not service:
            named = [
                (sname, fname)
                for sname, svc in manifest.services.items()
                for fname in svc.functions
                if f"{sname}-{svc.stage or env}-{fname}" == function
            ]
            if not named:
                return None
            service, function = named[0]
        svc = manifest.services.get(service)
        if svc is None or function not in svc.functions:
            return None
        spec = self.function_spec(env, release_dir, manifest, service, function)
        limit = min(float(spec.function.timeout), apigw.REST_INTEGRATION_TIMEOUT_S)
        try:
            return await self.workers.ainvoke(spec, event, limit)
        except ShipwayError as e:
            append_log(spec, f"[ERROR] authorizer: {e}\n")
            return InvokeResult(ok=False, error_type="Runtime.Error", error_message=str(e))

    def _miss(self, kind: apigw.Kind, why: str) -> GatewayResponse:
        return self._reply(apigw.not_found(kind), why)

    def _reply(
        self, reply: apigw.Reply, error: str | None, request_id: str | None = None
    ) -> GatewayResponse:
        headers = list(reply.headers)
        if error:
            headers.append(("x-shipway-error", error.replace("\n", " ")[:200]))
        if request_id:
            headers.append(("x-amzn-RequestId", request_id))
        return GatewayResponse(reply.status, headers, reply.body)

    # ------------------------------------------------------------------ direct invocation

    def invoke(self, env: str, service: str, function: str, payload: Any) -> InvokeResult:
        found = self.current_release(check_name("environment", env))
        if found is None:
            raise NotFound(f"environment `{env}` has no local release")
        release_dir, manifest = found
        spec = self.function_spec(env, release_dir, manifest, service, function)
        return self.workers.invoke(spec, payload)

    def close(self) -> None:
        self.workers.shutdown()


def _endpoints(manifest: ReleaseManifest, public_url: str | None) -> dict[str, dict[str, str]]:
    """Each stack's endpoint outputs, as the local gateway serves the service: what a
    sibling's `${cf:<stack>.ServiceEndpoint}` reads locally."""
    if not public_url:
        return {}
    ws = "ws" + public_url.removeprefix("http")
    return {
        f"{name}-{svc.stage or manifest.env}": {
            "ServiceEndpoint": f"{public_url}/{manifest.env}/{name}",
            "HttpApiUrl": f"{public_url}/{manifest.env}/{name}",
            "ServiceEndpointWebsocket": f"{ws}/{manifest.env}/{name}",
        }
        for name, svc in manifest.services.items()
    }


def _is_user_status(result: Any, status: int) -> bool:
    return isinstance(result, dict) and str(result.get("statusCode")) == str(status)


def invoke_function(
    state_dir: Path, env: str, service: str, function: str, payload: Any
) -> InvokeResult:
    """`shipway invoke`: run one function of the current release once, directly.

    Unknown env/service/function raise NotFound; the function's own failure is an InvokeResult
    with ok=False (`.payload` is Lambda's error document: errorMessage, errorType, stackTrace).
    """
    gateway = Gateway(state_dir, WorkerManager(max_workers=1))
    try:
        return gateway.invoke(env, service, function, payload)
    finally:
        gateway.close()


__all__ = [
    "Gateway",
    "GatewayRequest",
    "GatewayResponse",
    "invoke_function",
]
