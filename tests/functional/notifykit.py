"""A real webhook receiver on 127.0.0.1 (http.server in a thread) for notification tests:
records every POST, answers the first `fail_first` with `fail_status`."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, fail_first: int = 0, fail_status: int = 503, redirect: str = "") -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.redirect = redirect  # answer every POST with a 302 to here
        self.attempts: list[dict[str, Any]] = []  # every POST, failed ones too
        self.posts: list[dict[str, Any]] = []  # the bodies of the ones answered 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                with receiver._lock:
                    receiver.attempts.append(
                        {"path": self.path, "headers": dict(self.headers), "raw": raw}
                    )
                    failing = len(receiver.attempts) <= receiver.fail_first
                    if not failing and not receiver.redirect:
                        receiver.posts.append(json.loads(raw))
                if receiver.redirect:
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect)
                else:
                    self.send_response(receiver.fail_status if failing else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hooks/T0/B0/tok3n-s3cret?token=q5ecret") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout_s: float = 30) -> list[dict[str, Any]]:
        """The first `count` delivered bodies, once they have arrived."""
        deadline = time.monotonic() + timeout_s
        while len(self.posts) < count:
            assert time.monotonic() < deadline, f"{len(self.posts)} of {count} posts arrived"
            time.sleep(0.02)
        return self.posts[:count]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then let go)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
