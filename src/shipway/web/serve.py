"""Run the local gateway on 127.0.0.1 only, with the server's `/metrics` (app.ServerGateway).

The fast engine: Shipway's own HTTP server (httpserver.py: httptools' parser) on uvloop. When
httptools or uvloop do not import, or with `engine="asgi"` (or SHIPWAY_HTTP_ENGINE=asgi):
uvicorn with the ASGI app (app.py), on whatever loop and parser it finds (asyncio, h11).

While it runs, `state_dir/server.json` says where: {"pid": int, "port": int, "url": str,
"host": str}; it is removed at exit. The scheduler (`schedule` events) runs beside the server.
Worker processes are shut down at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import uvicorn

from shipway.app import App
from shipway.errors import ShipwayError
from shipway.pipeline.paths import SERVER_FILE
from shipway.pipeline.worker import Worker
from shipway.source.github import GITHUB_SECRET_FILE
from shipway.source.hooks import hook_secret
from shipway.targets.local.emulator import Emulator
from shipway.targets.local.gateway import Gateway
from shipway.targets.local.parameters import LocalParameters
from shipway.targets.local.pools import DEFAULT_MAX_WORKERS, WorkerManager
from shipway.targets.local.release_stacks import replay_stacks
from shipway.targets.local.scheduler import Scheduler
from shipway.targets.local.sqs_source import SqsPoller
from shipway.usecases.seed import seed_environment
from shipway.web.api import Api
from shipway.web.app import ServerGateway, create_app
from shipway.web.hooks import Hooks
from shipway.web.watch import Watcher

ENGINE_ENV = "SHIPWAY_HTTP_ENGINE"
CONCURRENCY_ENV = "SHIPWAY_LOCAL_CONCURRENCY"
Engine = Literal["auto", "fast", "asgi"]
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


def fast_engine_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("httptools", "uvloop"))


def default_concurrency() -> int:
    """Warm workers per function at most, unless its `reservedConcurrency` says otherwise:
    SHIPWAY_LOCAL_CONCURRENCY, else DEFAULT_MAX_WORKERS."""
    text = os.environ.get(CONCURRENCY_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_WORKERS
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise ShipwayError(
            f"{CONCURRENCY_ENV} must be a whole number from 1 to 1000, not `{text[:40]}`"
        )
    return int(text)


class GatewayServer:
    """A bound (port known at once) but not yet running server; `run()` blocks until `stop()`."""

    def __init__(
        self,
        state_dir: Path,
        host: str = "127.0.0.1",
        port: int = 8787,
        engine: Engine = "auto",
        concurrency: int | None = None,
        repo: Path | None = None,
        emulator: Emulator | None = None,
    ) -> None:
        if host not in _LOOPBACK:
            raise ShipwayError(f"the local gateway listens on 127.0.0.1 only, not `{host}`")
        # the local releases' stacks: moto loads in its own process while this one starts
        self.emulator = emulator or Emulator(own_process=True)
        self.emulator.launch()
        if engine == "auto":
            wanted = os.environ.get(ENGINE_ENV, "auto")
            engine = "asgi" if wanted == "asgi" or not fast_engine_available() else "fast"
        self.engine: Engine = engine
        self.state_dir = Path(state_dir)
        workers = WorkerManager(concurrency if concurrency is not None else default_concurrency())
        server_gateway = ServerGateway(self.state_dir, workers)  # and `/metrics`, `/hooks/`
        self.gateway: Gateway = server_gateway
        self.scheduler = Scheduler(self.gateway)
        self.sqs = SqsPoller(self.gateway)  # `sqs` events, from the emulator's queues
        # the pipeline: queued runs (pushes, the API) are claimed and driven here
        self.app: App | None = App(repo) if repo is not None else None
        self.worker: Worker | None = None
        self.watcher: Watcher | None = None
        if self.app is not None:
            self.worker = Worker(self.app.engine(), on_end=self.app.after_run)
            self.watcher = Watcher(self.app)
            self.app.on_queued = self.worker.wake
            home = self.app.paths.home
            hooks = Hooks(self.app, hook_secret(home), hook_secret(home, GITHUB_SECRET_FILE))
            server_gateway.hooks = hooks.handle
            server_gateway.api = Api(self.app).handle
        self.sock = listening_socket(port)
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.gateway.public_url = self.url  # WebSocket functions' management API endpoint
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._stop_asked = threading.Event()
        # the scheduler starts once the workers run on the server's loop (its fires use them)
        self.asgi = create_app(self.state_dir, self.gateway, on_startup=self._start_sources)
        # uvloop and httptools when they import, else asyncio's loop and h11 ("auto")
        config = uvicorn.Config(
            self.asgi,
            log_level="warning",
            lifespan="on",
            access_log=False,
            loop="auto",
            http="auto",
            ws="wsproto",  # the WebSocket library Shipway pins (wsserver.py)
        )
        self.server = uvicorn.Server(config)

    @property
    def server_file(self) -> Path:
        return self.state_dir / SERVER_FILE

    def _write_server_file(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        doc = {"pid": os.getpid(), "port": self.port, "url": self.url, "host": "127.0.0.1"}
        if self.emulator.endpoint:
            doc["emulator"] = self.emulator.endpoint
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
        self._start_emulator()
        self._write_server_file()
        self._seed()
        if self.worker is not None:
            self.worker.start()
        if self.watcher is not None:
            self.watcher.start()  # after the worker: the runs it starts are driven at once
        try:
            if self.engine == "fast":
                self._run_fast()
            else:
                self.server.run(sockets=[self.sock])
        finally:
            if self.watcher is not None:
                self.watcher.stop()
            if self.worker is not None:
                self.worker.stop()  # its runs end `interrupted`, their builds stopped
            self.scheduler.stop()
            self.sqs.stop()
            self._remove_server_file()
            self.gateway.close()
            self.emulator.stop()
            self.sock.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _start_sources(self) -> None:
        """What invokes functions without a request: schedules, and queues (their workers
        run on the server's loop, so they start once it runs)."""
        self.scheduler.start()
        self.sqs.start()

    def _start_emulator(self) -> None:
        """The local AWS emulator, with the kept SSM parameters and every local
        environment's current stacks on it (moto keeps them in memory: they are put back
        each time the server starts)."""
        endpoint = self.emulator.start()
        # parameters first: what `${ssm:}` and the functions read is there before they run
        problems = LocalParameters(self.state_dir).replay(endpoint)
        for problem in problems + replay_stacks(self.state_dir, endpoint):
            print(f"warning: {problem}", file=sys.stderr, flush=True)

    def _seed(self) -> None:
        """The data the environments' `seed` functions put on the emulator, before the
        first request is served (it waits in the socket's backlog): the functions reach
        the emulator through server.json, so it is written first."""
        if self.app is None:
            return
        problems: list[str] = []
        try:
            envs = list(self.app.governing().values())
        except ShipwayError as exc:
            envs, problems = [], [f"no environment is seeded: {exc}"]
        for env in envs:
            problems += seed_environment(self.state_dir, env, "server started")
        for problem in problems:
            print(f"warning: {problem}", file=sys.stderr, flush=True)

    def _run_fast(self) -> None:
        import uvloop

        from shipway.web.httpserver import serve_forever

        async def main() -> None:
            loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            self._loop = loop
            if self._stop_asked.is_set():
                return
            self.gateway.workers.bind(loop)
            self._start_sources()
            try:
                await serve_forever(self.gateway, self.sock, self._stopping, self._ready)
            finally:
                self.gateway.close()  # on the loop: every worker's pipes let go of cleanly

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())

    def _ready(self) -> None:
        self.server.started = True  # `started` reads the same whichever engine serves

    @property
    def started(self) -> bool:
        return bool(self.server.started)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """From any thread, or a signal handler."""
        self._stop_asked.set()
        self.server.should_exit = True
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(stopping.set)


def serve(state_dir: Path, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM). `port=0` picks a free port."""
    GatewayServer(state_dir, host, port).run()
