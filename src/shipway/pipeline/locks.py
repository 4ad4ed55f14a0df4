"""One deploy per environment at a time, across processes.

An advisory `flock` on a file under the environment's state: the kernel drops it when the
holder dies, so a crashed run never leaves an environment locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shipway.errors import ShipwayError


@contextmanager
def environment_lock(path: Path, env: str, wait: bool = True) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            raise ShipwayError(f"environment `{env}` is being deployed by another run") from None
        yield
    finally:
        os.close(fd)
