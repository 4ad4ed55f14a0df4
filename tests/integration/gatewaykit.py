"""The local gateway for tests: a one-file handler zip, and a real server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import stat
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

from shipway.model import Artifact
from shipway.web.serve import GatewayServer


def handler_zip(folder: Path, service: str, source: str, name: str = "app.py") -> Artifact:
    """`service`'s artifact: one handler file, `name`, holding `source`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{service}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        zf.writestr(info, source)
    data = path.read_bytes()
    return Artifact(service, path, hashlib.sha256(data).hexdigest(), len(data))


@contextlib.contextmanager
def running_gateway(state: Path) -> Iterator[int]:
    """`shipway serve`'s gateway on a free port of 127.0.0.1, answering when this yields
    its port; stopped after."""
    server = GatewayServer(state, port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(250):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.02)
        yield server.port
    finally:
        server.stop()
        thread.join(10)
