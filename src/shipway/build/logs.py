"""The build log: one line at a time, timestamped, secrets masked, flushed per line.

Agent lines look like CodeBuild's (`[Container] 2026/11/26 22:00:00.123 Entering phase BUILD`);
command output lines carry the timestamp only. Every secret value is replaced by `***`;
masking works on complete lines, so a secret split across two pipe reads is still masked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO

from shipway.masking import Masker


def _stamp(now: float | None = None) -> str:
    t = time.time() if now is None else now
    millis = int((t - int(t)) * 1000)
    return time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(t)) + f".{millis:03d}"


class BuildLog:
    """A thread-safe, line-buffered log file (append mode)."""

    def __init__(self, path: Path, secrets: Iterable[str] = ()) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.mask = Masker(secrets)
        self._lock = threading.Lock()
        self._fh: IO[str] | None = open(path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115

    def _write(self, text: str) -> None:
        with self._lock:
            if self._fh is None:
                return
            self._fh.write(text)
            self._fh.flush()

    def agent(self, message: str) -> None:
        """A CodeBuild-style `[Container]` line."""
        self._write(f"[Container] {_stamp()} {self.mask(message)}\n")

    def output(self, line: str) -> None:
        """One line of command output (without its newline)."""
        self._write(f"{_stamp()} {self.mask(line)}\n")

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> BuildLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
