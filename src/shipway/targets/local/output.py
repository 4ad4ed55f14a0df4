"""A warm worker's output (its stderr: the handler's prints, tracebacks, START/END/REPORT
lines) into the service's log, one complete line at a time, with the function's secrets
masked.

The worker writes a request's output before its response, so draining the pipe once the
response has arrived puts all of that request's output in the log before `invoke` returns.
Between requests nothing reads the pipe (as Lambda freezes a function between invocations);
masking works on whole lines, so a secret split across two reads is still masked. A line
longer than `MAX_LINE` is logged in pieces (memory stays bounded whatever a handler prints),
never cut inside a secret.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from shipway.masking import LinePieces, Masker

_CHUNK = 1 << 16
MAX_LINE = 1 << 20


class WorkerOutput:
    def __init__(self, fd: int, log_path: Path, mask: Masker) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.mask = mask
        self.closed = False
        self._lines = LinePieces(mask, MAX_LINE)
        self._log = open(log_path, "ab")  # noqa: SIM115 - open for the worker's lifetime

    def read(self) -> bool:
        """Whatever the pipe holds now, complete lines logged; False once it is closed."""
        lines: list[bytes] = []
        while not self.closed:
            try:
                chunk = os.read(self.fd, _CHUNK)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                break
            lines += self._lines.feed(chunk)
        if lines:
            self._write(b"".join(line + b"\n" for line in lines))
        return not self.closed

    def close(self) -> None:
        """Log what is left (a last line without its newline too) and let go of the pipe."""
        self.read()
        if rest := self._lines.rest():
            self._write(rest[0] + b"\n")
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.closed = True
        self._log.close()

    def _write(self, data: bytes) -> None:
        if self.mask:
            data = self.mask(data.decode("utf-8", "replace")).encode("utf-8")
        with contextlib.suppress(OSError, ValueError):
            self._log.write(data)
            self._log.flush()
