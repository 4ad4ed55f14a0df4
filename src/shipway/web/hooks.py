"""`POST /hooks/git` (the post-receive hook's report of a push to the server's repository,
source/hooks.py) and `POST /hooks/github` (GitHub's push webhook, source/github.py).

`/hooks/git` carries the server's hook secret in `X-Shipway-Hook` (compared in constant
time; 401 without it) and git's `<old> <new> <ref>` lines as its body (400 when one is
malformed, 413 past MAX_HOOK_BODY). `/hooks/github` is signed: `X-Hub-Signature-256`, the
HMAC-SHA256 of the body under the secret `shipway hook github` shows, is checked before the
body is read (401 when missing or wrong, and nothing runs); a `ping` answers 200, a `push`
starts the runs of the environments watching that repository, other events are ignored
(202), and a delivery GitHub sends again (same `X-GitHub-Delivery`) starts nothing twice.
The runs started are answered with 202; the work of starting them (reading the governing
shipway.yml, fetching, checking the commit) is done off the loop.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable

from shipway.app import App
from shipway.errors import ShipwayError
from shipway.model import Run
from shipway.source.github import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    parse_push,
    signature_matches,
)
from shipway.source.hooks import HOOK_HEADER, MAX_HOOK_BODY, parse_updates, secret_matches
from shipway.targets.local.gateway import GatewayRequest, GatewayResponse

__all__ = ["Hooks"]

_JSON = [("content-type", "application/json")]
_DELIVERIES_KEPT = 1000


def _answer(status: int, doc: object) -> GatewayResponse:
    return GatewayResponse(status, list(_JSON), (json.dumps(doc) + "\n").encode())


def _started(runs: list[Run]) -> GatewayResponse:
    return _answer(
        202, {"runs": [{"id": r.id, "env": r.env, "state": r.state.value} for r in runs]}
    )


def _header(req: GatewayRequest, name: str) -> str | None:
    return next((v for k, v in req.headers if k.lower() == name.lower()), None)


class Hooks:
    def __init__(self, app: App, secret: str, github_secret: str) -> None:
        self.app = app
        self.secret = secret
        self.github_secret = github_secret
        self._deliveries: OrderedDict[str, None] = OrderedDict()  # the newest GitHub ids

    async def handle(self, req: GatewayRequest) -> GatewayResponse:
        if req.path not in ("/hooks/git", "/hooks/github"):
            return _answer(404, {"error": f"no hook at {req.path[:100]}"})
        if req.method != "POST":
            return _answer(405, {"error": "POST the push's report"})
        if len(req.body) > MAX_HOOK_BODY:
            return _answer(413, {"error": f"the report is over {MAX_HOOK_BODY} bytes"})
        if req.path == "/hooks/github":
            return await self._github(req)
        if not secret_matches(_header(req, HOOK_HEADER), self.secret):
            return _answer(401, {"error": f"missing or wrong {HOOK_HEADER}"})
        try:
            updates = parse_updates(req.body.decode("utf-8"))
        except UnicodeDecodeError:
            return _answer(400, {"error": "the report is not UTF-8 text"})
        except ShipwayError as exc:
            return _answer(400, {"error": str(exc)})
        return await self._start(self.app.triggers.on_push, updates, "hook")

    async def _github(self, req: GatewayRequest) -> GatewayResponse:
        if not signature_matches(req.body, _header(req, SIGNATURE_HEADER), self.github_secret):
            return _answer(401, {"error": f"missing or wrong {SIGNATURE_HEADER}"})
        event = _header(req, EVENT_HEADER) or ""
        if event == "ping":
            return _answer(200, {"ok": True})
        if event != "push":
            return _answer(202, {"runs": [], "ignored": f"event `{event[:60]}`"})
        delivery = _header(req, DELIVERY_HEADER)
        if delivery and delivery in self._deliveries:
            return _answer(202, {"runs": [], "ignored": "a delivery seen before"})
        try:
            push = parse_push(req.body)
        except ShipwayError as exc:
            return _answer(400, {"error": str(exc)})
        if delivery:
            self._deliveries[delivery[:100]] = None
            while len(self._deliveries) > _DELIVERIES_KEPT:
                self._deliveries.popitem(last=False)
        return await self._start(
            self.app.triggers.on_remote_push, push.update, push.repository_urls, "github"
        )

    async def _start(self, start: Callable[..., list[Run]], *args: object) -> GatewayResponse:
        """The runs `start` starts (off the loop), or 422 saying why none could be: the
        governing shipway.yml does not load, the remote cannot be fetched."""
        try:
            return _started(await asyncio.to_thread(start, *args))
        except ShipwayError as exc:
            return _answer(422, {"error": str(exc)})
