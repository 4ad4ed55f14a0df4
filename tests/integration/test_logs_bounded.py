"""`shipway logs` over a log a build made huge: the end of it, in bounded memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.cli import one_service_files, shipway, shipway_json

BUILD = (
    "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n"
    "artifacts:\n  files: [handler.py]\n"
)


def test_logs_show_the_end_of_a_huge_log(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(one_service_files(BUILD))
    assert shipway_json("run", "dev", repo=repo)["state"] == "succeeded"
    log = repo / ".shipway/runs/dev-1/logs/slow.log"
    with open(log, "a", encoding="ascii") as f:  # as a build printing for minutes leaves it
        line = "y" * 999 + "\n"
        f.write(line * 20_000)
        f.write("the last line\n")
    proc = shipway("logs", "dev-1", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout) < 16 * 1024 * 1024 + 1000
    assert "bytes of slow.log are not shown" in proc.stdout
    assert proc.stdout.rstrip().endswith("the last line")


def test_follow_reads_a_line_without_end_in_pieces(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(one_service_files(BUILD))
    assert shipway_json("run", "dev", repo=repo)["state"] == "succeeded"
    log = repo / ".shipway/runs/dev-1/logs/slow.log"
    with open(log, "a", encoding="ascii") as f:
        f.write("z" * (3 * 1024 * 1024))  # one line, no newline
    proc = shipway("logs", "dev-1", "--follow", repo=repo)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 1024 * 1024 + 100
    pieces = [line for line in lines if line.startswith("[slow] zzz")]
    assert sum(line.count("z") for line in pieces) == 3 * 1024 * 1024
