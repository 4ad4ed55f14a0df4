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


def _stamp(now: float | None = None) -> str:
    t = time.time() if now is None else now
    millis = int((t - int(t)) * 1000)
    return time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(t)) + f".{millis:03d}"


class Masker:
    """Replaces every secret value (longest first) with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # very short values would mask ordinary text everywhere; CodeBuild masks any length,
        # but a one-character "secret" would make the log unreadable.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 2}, key=len, reverse=True)
        for s in list(self.secrets):
            # multi-line secrets: mask each of their lines too (logs are line based)
            for part in s.splitlines():
                if len(part) >= 4 and part not in self.secrets:
                    self.secrets.append(part)
        self.secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, "***")
        return text


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
