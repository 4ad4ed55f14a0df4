"""The local AWS emulator: moto's server on 127.0.0.1, in this process.

It holds the local releases' stacks (emulated_template.py says what of a template) and
answers the functions' boto3 calls (`AWS_ENDPOINT_URL`). Its state is in memory: it lives
as long as the process that started it (`shipway serve`, or one run's deploy), and moto's
backends are the process's, so a process has one emulator at most.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipway.errors import ShipwayError

if TYPE_CHECKING:  # boto3 loads only when the emulator is asked something
    from shipway.targets.aws.client import AwsClient

__all__ = [
    "ACCOUNT",
    "CREDENTIALS",
    "SERVER_FILE",
    "Emulator",
    "EmulatorAccess",
    "emulator_client",
    "emulator_credentials",
    "running_emulator",
    "served_emulator",
]

#: moto's account, and the credentials functions and Shipway use with it (never AWS's)
ACCOUNT = "123456789012"
SERVER_FILE = "server.json"  # the server's, while it runs (web/serve.py): `emulator` is ours
CREDENTIALS = ("shipway-local", "shipway-local-secret")

_started: Emulator | None = None
_lock = threading.Lock()


class Emulator:
    """moto's `ThreadedMotoServer` on 127.0.0.1 and a free port: in this process, or with
    `own_process` in a child of its own (emulator_main.py) — the server's, so that moto's
    work (loading its backends, making the stacks, answering the functions) runs on
    another core than the gateway's, and its start overlaps the server's own."""

    def __init__(self, own_process: bool = False) -> None:
        self.own_process = own_process
        self._server: object | None = None
        self._child: subprocess.Popen[str] | None = None
        self.endpoint = ""

    def launch(self) -> None:
        """Starts the child process, not waiting for it (`start` does); in-process: none."""
        if self.own_process and self._child is None:
            from shipway.launch import spawn_emulator, take_early_emulator

            self._child = take_early_emulator() or spawn_emulator()

    def start(self) -> str:
        """Starts it (once per process: moto's state is the process's); its endpoint."""
        global _started
        with _lock:
            if _started is not None and _started is not self:
                raise ShipwayError("this process already runs the local AWS emulator")
            if self._server is not None or (self._child is not None and self.endpoint):
                return self.endpoint
            if self.own_process:
                self.endpoint = self._child_endpoint()
                _started = self
                return self.endpoint
            from moto.server import ThreadedMotoServer  # only a local release needs moto

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            try:
                server.start()
            except OSError as exc:
                raise ShipwayError(f"cannot start the local AWS emulator: {exc}") from None
            host, port = server.get_host_and_port()
            self._server = server
            self.endpoint = f"http://{host}:{port}"
            _started = self
            return self.endpoint

    def _child_endpoint(self) -> str:
        self.launch()
        child = self._child
        assert child is not None and child.stdout is not None
        line = child.stdout.readline()  # its first line: the port, once moto is loaded
        said: Any = None
        with contextlib.suppress(ValueError):
            said = json.loads(line)
        if isinstance(said, dict) and isinstance(said.get("port"), int):
            return f"http://127.0.0.1:{said['port']}"
        self._end_child()
        why = said.get("error") if isinstance(said, dict) else None
        raise ShipwayError(f"cannot start the local AWS emulator: {why or 'its process ended'}")

    def _end_child(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if child.stdin is not None:
                child.stdin.close()  # it leaves when its input ends
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()

    def stop(self) -> None:
        global _started
        with _lock:
            if self.own_process:
                self._end_child()
                self.endpoint = ""
                if _started is self:
                    _started = None
                return
            server, self._server = self._server, None
            if server is None:
                return
            # moto's backends are the process's: emptied, the next emulator starts empty
            with contextlib.suppress(OSError):
                request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
                urllib.request.urlopen(request, timeout=10).read()
            server.stop()  # type: ignore[attr-defined]
            if _started is self:
                _started = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def emulator_client(endpoint: str, region: str) -> AwsClient:
    """An `AwsClient` on the emulator (its credentials; short pauses: it answers at once)."""
    from shipway.targets.aws.client import AwsClient

    return AwsClient(region, endpoint_url=endpoint, credentials=CREDENTIALS, base_delay=0.01)


def emulator_credentials(endpoint: str) -> Mapping[str, str]:
    """What a function needs to reach the emulator with boto3 (or the AWS SDK for JS):
    every AWS call goes there, with the emulator's credentials (never the machine's)."""
    key, secret = CREDENTIALS
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_SESSION_TOKEN": "shipway-local",
    }


def running_emulator() -> Emulator | None:
    """The emulator this process runs (the server's), if it runs one."""
    return _started


class EmulatorAccess:
    """Where a local release's stacks go: the emulator of the server serving `state_dir`
    (in this process or another, from its `server.json`), else one started for the deploy
    alone (it checks the stacks, and is gone after it: the server replays them when it
    starts)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)

    def served(self) -> str | None:
        """The endpoint of the emulator that serves the local runtime, if one runs."""
        mine = running_emulator()
        if mine is not None:
            return mine.endpoint
        return served_emulator(self.state_dir)

    @contextlib.contextmanager
    def endpoint(self) -> Iterator[tuple[str, bool]]:
        """(an emulator's endpoint, whether it serves: False for one started for this)."""
        served = self.served()
        if served is not None:
            yield served, True
            return
        with Emulator() as emulator:
            yield emulator.endpoint, False


def served_emulator(state_dir: Path) -> str | None:
    """The emulator endpoint the server of `state_dir` wrote in its `server.json`, while
    that server runs."""
    try:
        info = json.loads((Path(state_dir) / SERVER_FILE).read_text(encoding="utf-8"))
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    url = info.get("emulator")
    return url if isinstance(url, str) and url.startswith("http://127.0.0.1:") else None
