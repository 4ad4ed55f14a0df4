"""Run the local gateway with uvicorn, on 127.0.0.1 only.

While it runs, `state_dir/server.json` says where: {"pid": int, "port": int, "url": str,
"host": str}; it is removed at exit. The scheduler (`schedule` events) runs beside the server.
Worker processes are shut down at exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from shipway.errors import ShipwayError
from shipway.targets.local.gateway import Gateway
from shipway.targets.local.scheduler import Scheduler
from shipway.web.app import create_app

SERVER_FILE = "server.json"
_LOOPBACK = {"127.0.0.1", "localhost"}


def listening_socket(port: int) -> socket.socket:
    """A bound, listening TCP socket on 127.0.0.1 (connections queue up at once, before the
    server starts serving).

    It must say IPPROTO_TCP: asyncio and uvloop turn Nagle off on accepted sockets only when
    the listener's `proto` is TCP, and with Nagle on every request after the first on a
    keep-alive connection waited ~40 ms for the client's delayed ACK. TCP_NODELAY on the
    listener too: Linux passes it on to accepted sockets, whatever loop serves them.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1024)
    except OSError as e:
        sock.close()
        raise ShipwayError(f"cannot listen on 127.0.0.1:{port}: {e.strerror}") from None
    return sock


class GatewayServer:
    """A bound (port known at once) but not yet running server; `run()` blocks until `stop()`."""

    def __init__(self, state_dir: Path, host: str = "127.0.0.1", port: int = 8787) -> None:
        if host not in _LOOPBACK:
            raise ShipwayError(f"the local gateway listens on 127.0.0.1 only, not `{host}`")
        self.state_dir = Path(state_dir)
        self.gateway = Gateway(self.state_dir)
        self.scheduler = Scheduler(self.gateway)
        self.app = create_app(self.state_dir, self.gateway)
        self.sock = listening_socket(port)
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)

    @property
    def server_file(self) -> Path:
        return self.state_dir / SERVER_FILE

    def _write_server_file(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        doc = {"pid": os.getpid(), "port": self.port, "url": self.url, "host": "127.0.0.1"}
        tmp = self.server_file.with_name(f".{SERVER_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps(doc, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.server_file)

    def _remove_server_file(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(self.server_file.read_text(encoding="utf-8"))
            if doc.get("pid") == os.getpid() and doc.get("port") == self.port:
                self.server_file.unlink()

    def run(self) -> None:
        """Serve until `stop()`, SIGINT or SIGTERM; then clean up and return normally."""
        # uvicorn re-raises the signal that stopped it once it has restored the previous
        # handlers; ours make that a plain return, so the clean-up below always runs.
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, self._on_signal)
        self._write_server_file()
        try:
            self.scheduler.start()
            self.server.run(sockets=[self.sock])
        finally:
            self.scheduler.stop()
            self._remove_server_file()
            self.gateway.close()
            self.sock.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.server.should_exit = True

    def stop(self) -> None:
        self.server.should_exit = True


def serve(state_dir: Path, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM). `port=0` picks a free port."""
    GatewayServer(state_dir, host, port).run()
