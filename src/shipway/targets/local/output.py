"""A warm worker's output (its stderr: the handler's prints, tracebacks) into the service's
log, one complete line at a time, with the function's secrets masked; the parent's
START/END/REPORT lines go through the same file.

The worker writes a request's output before its response, so draining the pipe once the
response has arrived puts all of that request's output in the log before `invoke` returns.
The parent reads the pipe as data arrives (a handler that prints a lot never stalls on a full
pipe) and once more when the response has arrived; masking works on whole lines, so a secret
split across two reads is still masked. A line longer than `MAX_LINE` is logged in pieces
(memory stays bounded whatever a handler prints), never cut inside a secret.
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

    def read(self, header: bytes = b"") -> bool:
        """Whatever the pipe holds now, complete lines logged, after `header` if there are
        any; True when lines were logged (`closed` says whether the pipe is still open)."""
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
            self.write(header + b"".join(line + b"\n" for line in lines))
        return bool(lines)

    def close(self, header: bytes = b"") -> bool:
        """Log what is left (a last line without its newline too, after `header` if there is
        any) and let go of the pipe; once. True when `header` was logged."""
        if self._log.closed:
            return False
        logged = self.read(header)
        if rest := self._lines.rest():
            self.write((b"" if logged else header) + rest[0] + b"\n")
            logged = True
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.closed = True
        self._log.close()
        return logged

    def write(self, data: bytes) -> None:
        """Log `data` (whole lines), masked."""
        if self._log.closed:
            return
        if self.mask:
            data = self.mask(data.decode("utf-8", "replace")).encode("utf-8")
        with contextlib.suppress(OSError, ValueError):
            self._log.write(data)
            self._log.flush()
