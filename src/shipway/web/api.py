"""The JSON API under `/api/`: what the CLI (as a remote client), scripts and the dashboard
ask of a running server.

Every route needs `Authorization: Bearer <token>` (401 without a valid one, with
`WWW-Authenticate`); what a token may do is `authorize`'s rule (auth/policy.py), asked with
the environment the request acts in, and every refusal is audited before the 403. Answers
are JSON; errors are `{"error": {"code", "message", "hint"?}}` with 400 (bad input),
401, 403, 404, 405, 409 (the run is not in a state that allows it) or 500 (a bug: its
text is not shown, only logged masked). Work that reads git or the database runs off the
server's loop. The routes are described once, in ROUTES, which the OpenAPI document at
`/openapi.json` (and `/docs`) is made from, so the documentation cannot drift from them.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shipway.app import App
from shipway.auth import Action, TokenRecord
from shipway.errors import Conflict, Forbidden, NotFound, ShipwayError, WorkFailed
from shipway.masking import Masker, seen_secrets
from shipway.targets.local.gateway import GatewayRequest, GatewayResponse
from shipway.usecases import tokens as api_tokens
from shipway.usecases.audit import Actor, gate
from shipway.usecases.envs import describe

__all__ = ["ROUTES", "Api", "Route"]

MAX_API_BODY = 64 * 1024  # a request to the API is a few fields; anything bigger is not one
MAX_LIMIT = 1000
_JSON = "application/json"
_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,128}\Z")


# ------------------------------------------------------------------ request bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StartRun(_Body):
    env: str = Field(min_length=1, max_length=128, description="The environment to run.")
    commit: str | None = Field(
        None, min_length=1, max_length=256, description="A commit (default: the branch head)."
    )
    force: bool = Field(False, description="Build every service again, reusing nothing.")


class DecideRun(_Body):
    comment: str | None = Field(None, max_length=1000, description="Why, for the audit log.")


class RollbackEnv(_Body):
    to: int | None = Field(None, ge=1, description="The release (default: the one before).")


class NewToken(_Body):
    user: str = Field(min_length=1, max_length=64)
    role: str = Field(description="viewer, deployer, approver or admin.")
    envs: list[str] = Field(default_factory=list, description="Acts only in these (none: all).")


# ------------------------------------------------------------------ routing


@dataclass(frozen=True)
class Call:
    """One authenticated request, as a route's handler sees it."""

    app: App
    token: TokenRecord
    actor: Actor
    params: Mapping[str, str]  # the path's {names}
    query: Mapping[str, str]
    body: BaseModel | None

    def gate(self, action: Action, env_name: str | None, target: str | None = None) -> None:
        """Forbidden (audited) unless the token may do `action` in `env_name`."""
        env = self.app.governing().get(env_name) if env_name else None
        if env_name and env is None:
            raise NotFound(f"no environment `{env_name}` is configured")
        decision = gate(self.app.store, self.token, action, env, self.actor.origin, target)
        if not decision.allowed:
            raise Forbidden(decision.reason)

    def limit(self, default: int = 50) -> int:
        text = self.query.get("limit", str(default))
        if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
            raise ShipwayError(f"query `limit` must be 1 to {MAX_LIMIT}, not `{text[:20]}`")
        return int(text)


Answer = tuple[int, Any]  # (status, a JSON-able document or a str sent as text/plain)
Handler = Callable[[Call], Answer]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # `/api/runs/{run}`: each {name} is one segment of [A-Za-z0-9._-]
    summary: str
    needs: str  # the role, in words, for the documentation
    handler: Handler
    body: type[BaseModel] | None = None
    query: tuple[str, ...] = ()
    status: int = 200
    text: bool = False  # answers text/plain (logs)
    parts: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.path.strip("/").split("/")))

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.parts):
            return None
        params: dict[str, str] = {}
        for want, got in zip(self.parts, segments, strict=True):
            if want.startswith("{"):
                if not _SEGMENT.match(got):
                    return None
                params[want[1:-1]] = got
            elif want != got:
                return None
        return params


# ------------------------------------------------------------------ handlers


def _status(call: Call) -> Answer:
    envs = {n: e for n, e in call.app.governing().items() if call.token.sees(n)}
    return 200, call.app.overview(envs)


def _envs(call: Call) -> Answer:
    envs = call.app.governing().values()
    return 200, [describe(e) for e in envs if call.token.sees(e.name)]


def _runs(call: Call) -> Answer:
    env = call.query.get("env") or None
    if env is not None:
        call.gate(Action.READ, env)
    runs = call.app.store.runs(env, call.limit())
    return 200, [r.as_dict() for r in runs if call.token.sees(r.env)]


def _start(call: Call) -> Answer:
    body = call.body
    assert isinstance(body, StartRun)
    run = call.app.submit(
        body.env, body.commit, "api", actor=call.actor, token=call.token, force=body.force
    )
    return 202, run.as_dict()


def _run_env(call: Call) -> str:
    return call.app.store.run(call.params["run"]).env  # NotFound: 404


def _show(call: Call) -> Answer:
    call.gate(Action.READ, _run_env(call), call.params["run"])
    return 200, call.app.run_detail(call.params["run"])


def _logs(call: Call) -> Answer:
    call.gate(Action.READ, _run_env(call), call.params["run"])
    return 200, call.app.logs(call.params["run"], call.query.get("service") or None)


def _decision(approved: bool) -> Handler:
    def decide(call: Call) -> Answer:
        body = call.body
        assert isinstance(body, DecideRun)
        run = call.app.decide(
            call.params["run"], approved, body.comment, actor=call.actor, token=call.token
        )
        return 200, run.as_dict()

    return decide


def _cancel(call: Call) -> Answer:
    run = call.app.cancel(call.params["run"], actor=call.actor, token=call.token)
    return 200, run.as_dict()


def _retry(call: Call) -> Answer:
    run = call.app.retry(call.params["run"], actor=call.actor, token=call.token)
    return 202, run.as_dict()


def _rollback(call: Call) -> Answer:
    body = call.body
    assert isinstance(body, RollbackEnv)
    done = call.app.rollback(call.params["env"], body.to, actor=call.actor, token=call.token)
    return 200, {**done.run.as_dict(), "rolled_back_to": done.to.number}


def _audit(call: Call) -> Answer:
    call.gate(Action.AUDIT_READ, None)
    entries = call.app.audit(call.limit(), call.query.get("env") or None)
    return 200, [e.as_dict() for e in entries]


def _tokens(call: Call) -> Answer:
    call.gate(Action.TOKEN_LIST, None)
    return 200, [t.as_dict() for t in call.app.tokens()]


def _create_token(call: Call) -> Answer:
    body = call.body
    assert isinstance(body, NewToken)
    call.gate(Action.TOKEN_CREATE, None)
    made = api_tokens.create(
        call.app.store, call.app.repo, body.user, body.role, body.envs, call.actor
    )
    return 201, made.as_dict()


def _revoke_token(call: Call) -> Answer:
    call.gate(Action.TOKEN_REVOKE, None, call.params["token"])
    record, revoked = api_tokens.revoke(call.app.store, call.params["token"], call.actor)
    return 200, {**record.as_dict(), "revoked_now": revoked}


_VIEWER = "viewer (of the environment)"
_ADMIN = "admin, not scoped to environments"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/status", "Every environment: its release, last run, queue.", _VIEWER,
          _status),
    Route("GET", "/api/envs", "The environments, as the control branch defines them.", _VIEWER,
          _envs),
    Route("GET", "/api/runs", "The newest runs, newest first.", _VIEWER, _runs,
          query=("env", "limit")),
    Route("POST", "/api/runs", "Queue a run for the server to drive.", "deployer", _start,
          body=StartRun, status=202),
    Route("GET", "/api/runs/{run}", "A run with its stages, jobs and approval.", _VIEWER,
          _show),
    Route("GET", "/api/runs/{run}/logs", "A run's build and deploy logs (masked).", _VIEWER,
          _logs, query=("service",), text=True),
    Route("POST", "/api/runs/{run}/approve", "Approve a run waiting for approval.",
          "approver (listed in `approvers` where the environment lists them) or admin",
          _decision(True), body=DecideRun),
    Route("POST", "/api/runs/{run}/reject", "Reject a run waiting for approval.",
          "approver (listed in `approvers` where the environment lists them) or admin",
          _decision(False), body=DecideRun),
    Route("POST", "/api/runs/{run}/cancel", "Cancel a run that has not ended.", "deployer",
          _cancel),
    Route("POST", "/api/runs/{run}/retry", "Queue a failed or interrupted run again from its"
          " failed stage.", "deployer", _retry, status=202),
    Route("POST", "/api/envs/{env}/rollback", "Deploy an earlier release again.", "deployer",
          _rollback, body=RollbackEnv),
    Route("GET", "/api/audit", "The audit log, newest first.", _ADMIN, _audit,
          query=("env", "limit")),
    Route("GET", "/api/tokens", "Every token's record (never a token).", _ADMIN, _tokens),
    Route("POST", "/api/tokens", "Make a token; the answer shows it once.", _ADMIN,
          _create_token, body=NewToken, status=201),
    Route("DELETE", "/api/tokens/{token}", "Revoke a token.", _ADMIN, _revoke_token),
)  # fmt: skip


# ------------------------------------------------------------------ the handler


def _error(status: int, code: str, message: str, hint: str | None = None) -> GatewayResponse:
    doc: dict[str, Any] = {"code": code, "message": message}
    if hint:
        doc["hint"] = hint
    headers = [("content-type", _JSON)]
    if status == 401:
        headers.append(("www-authenticate", 'Bearer realm="shipway"'))
    return GatewayResponse(status, headers, (json.dumps({"error": doc}) + "\n").encode())


def _failure(exc: BaseException, mask: Masker) -> GatewayResponse:
    """An exception as the API's error answer; its words are masked like every output."""
    if isinstance(exc, ShipwayError):
        status, code = 400, "bad_request"
        if isinstance(exc, NotFound):
            status, code = 404, "not_found"
        elif isinstance(exc, Forbidden):
            status, code = 403, "forbidden"
        elif isinstance(exc, Conflict):
            status, code = 409, "conflict"
        hint = mask(exc.hint) if exc.hint else None
        where = f"{exc.where}: " if exc.where else ""
        return _error(status, code, mask(where + exc.message), hint)
    if isinstance(exc, WorkFailed):
        return _error(409, "failed", mask(str(exc)))
    print(f"shipway: API error: {mask(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
    return _error(500, "internal", "the server failed to answer; its log says why")


class Api:
    """`handle` answers every request under `/api/`."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def handle(self, req: GatewayRequest) -> GatewayResponse:
        segments = [unquote(s) for s in req.path.strip("/").split("/")]
        matched = [(r, p) for r in ROUTES if (p := r.match(segments)) is not None]
        if not matched:
            return _error(404, "not_found", f"no API route {req.path[:200]}")
        allowed = [r for r, _ in matched if r.method == req.method]
        if not allowed:
            methods = ", ".join(sorted({r.method for r, _ in matched}))
            return _error(405, "method_not_allowed", f"{req.path[:200]} takes {methods}")
        route = allowed[0]
        params = next(p for r, p in matched if r is route)
        return await asyncio.to_thread(self._answer, route, params, req)

    def _answer(self, route: Route, params: dict[str, str], req: GatewayRequest) -> GatewayResponse:
        mask = Masker(seen_secrets())
        try:
            bearer = _header(req, "authorization")
            token = api_tokens.verify(self.app.store, bearer) if bearer else None
            if token is None:
                why = "a valid" if bearer else "an"
                return _error(
                    401,
                    "unauthorized",
                    f"this route needs {why} API token: `Authorization: Bearer <token>`",
                    hint="`shipway token create --user NAME --role ROLE` makes one",
                )
            call = Call(
                self.app,
                token,
                Actor.of_token(token, f"api@{req.source_ip}"),
                params,
                _query(req.query, route),
                _body(req, route),
            )
            status, doc = route.handler(call)
        except (ShipwayError, WorkFailed) as exc:
            return _failure(exc, mask)
        except Exception as exc:  # a bug: answered 500, its words only in the server's log
            return _failure(exc, mask)
        if route.text:
            return GatewayResponse(
                status, [("content-type", "text/plain; charset=utf-8")], str(doc).encode()
            )
        text = json.dumps(doc, sort_keys=True, default=str)
        return GatewayResponse(status, [("content-type", _JSON)], (text + "\n").encode())


def _header(req: GatewayRequest, name: str) -> str | None:
    return next((v for k, v in req.headers if k.lower() == name), None)


def _query(text: str, route: Route) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise ShipwayError(f"the query `{text[:100]}` is not name=value pairs") from None
    query: dict[str, str] = {}
    for name, value in pairs:
        if name not in route.query:
            takes = ", ".join(f"`{q}`" for q in route.query) or "none"
            raise ShipwayError(f"unknown query parameter `{name[:40]}` (takes: {takes})")
        if name in query:
            raise ShipwayError(f"query parameter `{name}` is given twice")
        query[name] = value
    return query


def _body(req: GatewayRequest, route: Route) -> BaseModel | None:
    """The request's JSON body as the route's model (an empty body: the model's defaults)."""
    if route.body is None:
        if req.body.strip():
            raise ShipwayError(f"{route.method} {route.path} takes no body")
        return None
    if len(req.body) > MAX_API_BODY:
        raise ShipwayError(f"the body is over {MAX_API_BODY // 1024} KB")
    if not req.body.strip():
        doc: Any = {}
    else:
        ctype = (_header(req, "content-type") or "").split(";")[0].strip().lower()
        if ctype != _JSON:
            raise ShipwayError(f"the body must be {_JSON}, not `{ctype[:60] or 'unsaid'}`")
        try:
            doc = json.loads(req.body)
        except (ValueError, RecursionError) as exc:
            raise ShipwayError(f"the body is not JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise ShipwayError("the body must be a JSON object")
    try:
        return route.body.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(the body)"
        raise ShipwayError(f"body: `{where}`: {first['msg']}") from None
