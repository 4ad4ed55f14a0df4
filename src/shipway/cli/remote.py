"""The CLI as a client of a running server: with SHIPWAY_SERVER (its URL) and SHIPWAY_TOKEN
(an API token) set, the commands that act on runs ask the server's API instead of opening
the state directory, so they work from any machine that reaches the server, as the token's
user, within its role.

A token crosses the network in its `Authorization` header, so plain http:// is accepted
only for a server on this machine; elsewhere it must be https://. The server's JSON errors
become the CLI's (exit 2, its message and hint); a server that does not answer is an error
naming its URL, never a traceback.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from shipway.errors import Conflict, Forbidden, NotFound, ShipwayError
from shipway.model import RunState

__all__ = ["SERVER_ENV", "TOKEN_ENV", "Client", "checked_server_url", "remote_client"]

SERVER_ENV = "SHIPWAY_SERVER"
TOKEN_ENV = "SHIPWAY_TOKEN"
TIMEOUT_S = 60.0
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def remote_client() -> Client | None:
    """The server SHIPWAY_SERVER names, or None when it is not set (local access)."""
    url = os.environ.get(SERVER_ENV, "").strip()
    if not url:
        return None
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ShipwayError(
            f"{SERVER_ENV} is set but {TOKEN_ENV} is not",
            hint="`shipway token create --user NAME --role ROLE` on the server's machine",
        )
    return Client(checked_server_url(url), token)


def checked_server_url(url: str, what: str = SERVER_ENV) -> str:
    """`url` as a server's address; http:// only for this machine (a secret travels)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise ShipwayError(f"{what} is not a URL: `{url[:100]}`") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ShipwayError(
            f"{what} must be an http:// or https:// URL, not `{url[:100]}`",
            hint="e.g. http://127.0.0.1:8787",
        )
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise ShipwayError(
            f"{what} names `{host}` over plain http://: its credential would cross the "
            "network readable by anyone on the way",
            hint="use https:// (a TLS proxy in front of `shipway serve`)",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ShipwayError(f"{what} must be the server's address alone (scheme, host, port)")
    return url.rstrip("/")


_ERRORS: dict[int, type[ShipwayError]] = {403: Forbidden, 404: NotFound, 409: Conflict}


@dataclass(frozen=True)
class Client:
    url: str
    token: str

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        """The JSON document (or text, for text/plain) the server answers."""
        wanted = {k: v for k, v in (query or {}).items() if v is not None}
        target = self.url + path + ("?" + urllib.parse.urlencode(wanted) if wanted else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(target, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as res:
                text = res.read().decode("utf-8", "replace")
                is_json = res.headers.get_content_type() == "application/json"
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            why = getattr(exc, "reason", exc)
            raise ShipwayError(
                f"no Shipway server answers at {self.url}: {why}",
                hint=f"is `shipway serve` running there? ({SERVER_ENV})",
            ) from None
        return json.loads(text) if is_json else text

    def _refusal(self, exc: urllib.error.HTTPError) -> ShipwayError:
        try:
            error = json.loads(exc.read().decode("utf-8", "replace"))["error"]
            message, hint = str(error["message"]), error.get("hint")
        except (ValueError, KeyError, TypeError, OSError):
            message, hint = f"HTTP {exc.code} {exc.reason}", None
        if exc.code == 401:
            hint = f"{TOKEN_ENV} is not a valid token for {self.url}"
        kind = _ERRORS.get(exc.code, ShipwayError)
        return kind(f"the server refused: {message}", hint=hint)

    def wait(self, run_id: str, for_end: bool, poll_s: float = 0.5) -> dict[str, Any]:
        """The run's detail once it ends (or, unless `for_end`, once it waits for a person)."""
        while True:
            doc: dict[str, Any] = self.call("GET", f"/api/runs/{run_id}")
            state = RunState(doc["state"])
            if state.finished or (state == RunState.AWAITING_APPROVAL and not for_end):
                return doc
            time.sleep(poll_s)
