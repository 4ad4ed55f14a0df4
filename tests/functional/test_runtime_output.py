"""A worker's output reaches the service log masked, through a real pipe: a secret split
across writes, and a line with no end, are masked, and memory stays bounded."""

from __future__ import annotations

import os
from pathlib import Path

from shipway.masking import Masker
from shipway.targets.local.output import MAX_LINE, WorkerOutput

SECRET = "s3cret-Ω-value-0123456789"


def test_a_secret_split_across_writes_is_masked(tmp_path: Path) -> None:
    read, write = os.pipe()
    out = WorkerOutput(read, tmp_path / "api.log", Masker([SECRET]))
    os.write(write, f"START\nkey is {SECRET[:9]}".encode())
    out.read()
    os.write(write, f"{SECRET[9:]} ok\nEND".encode())
    out.read()
    os.close(write)
    out.close()
    assert (tmp_path / "api.log").read_text() == "START\nkey is *** ok\nEND\n"


def test_a_line_without_end_is_logged_in_pieces_and_stays_masked(tmp_path: Path) -> None:
    read, write = os.pipe()
    out = WorkerOutput(read, tmp_path / "api.log", Masker([SECRET]))
    data = ("x" * 1000 + SECRET) * (3 * MAX_LINE // 1000)
    view = memoryview(data.encode())
    while view:  # the pipe holds 64 KB: read as the worker writes
        n = os.write(write, view[: 1 << 16])
        view = view[n:]
        out.read()
    os.close(write)
    out.close()
    text = (tmp_path / "api.log").read_text()
    assert set(text.replace("***", "")) == {"x", "\n"}  # not even a piece of the secret
    pieces = text.splitlines()
    assert len(pieces) > 2 and max(map(len, pieces)) <= MAX_LINE + (1 << 16)  # bounded
