"""`POST /hooks/git`: the post-receive hook's report of a push (source/hooks.py).

The request carries the server's hook secret in `X-Shipway-Hook` (compared in constant
time; 401 without it) and git's `<old> <new> <ref>` lines as its body (400 when one is
malformed, 413 past MAX_HOOK_BODY). The runs it starts are answered with 202; the work of
starting them (reading the governing shipway.yml, checking the commit) is done off the loop.
"""

from __future__ import annotations

import asyncio
import json

from shipway.app import App
from shipway.errors import ShipwayError
from shipway.source.hooks import HOOK_HEADER, MAX_HOOK_BODY, parse_updates, secret_matches
from shipway.targets.local.gateway import GatewayRequest, GatewayResponse

__all__ = ["GitHooks"]

_JSON = [("content-type", "application/json")]


def _answer(status: int, doc: object) -> GatewayResponse:
    return GatewayResponse(status, list(_JSON), (json.dumps(doc) + "\n").encode())


class GitHooks:
    def __init__(self, app: App, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def handle(self, req: GatewayRequest) -> GatewayResponse:
        if req.path != "/hooks/git":
            return _answer(404, {"error": f"no hook at {req.path[:100]}"})
        if req.method != "POST":
            return _answer(405, {"error": "POST the post-receive lines"})
        given = next((v for k, v in req.headers if k.lower() == HOOK_HEADER.lower()), None)
        if not secret_matches(given, self.secret):
            return _answer(401, {"error": f"missing or wrong {HOOK_HEADER}"})
        if len(req.body) > MAX_HOOK_BODY:
            return _answer(413, {"error": f"the report is over {MAX_HOOK_BODY} bytes"})
        try:
            updates = parse_updates(req.body.decode("utf-8"))
        except UnicodeDecodeError:
            return _answer(400, {"error": "the report is not UTF-8 text"})
        except ShipwayError as exc:
            return _answer(400, {"error": str(exc)})
        runs = await asyncio.to_thread(self.app.on_push, updates, "hook")
        return _answer(
            202,
            {"runs": [{"id": r.id, "env": r.env, "state": r.state.value} for r in runs]},
        )
