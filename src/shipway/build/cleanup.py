"""Removing builds' own folders off the builds' path.

Right after a build's container ends, the kernel is still tearing down the container's
mounts, and removing the folders it had bound waits for that: ~4-10 ms a folder on the
2-core bench machine, against well under 1 ms once the teardown is over. One thread of the
run removes them instead, while the next builds run; the run waits for it when its builds
are done, so nothing is left behind.
"""

from __future__ import annotations

import queue
import shutil
import threading
from pathlib import Path


class LaterRemover:
    """Removes folders in a thread of its own; `close()` waits until all are gone."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="remover", daemon=True)
        self._thread.start()

    def remove(self, path: Path) -> None:
        self._queue.put(path)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        while (path := self._queue.get()) is not None:
            shutil.rmtree(path, ignore_errors=True)
