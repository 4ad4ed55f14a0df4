"""The fuzzer sees what it is there to see: a crash, a hang, a memory blow-up, a traceback,
an error naming no file, a canary in the output, a refusal that did not happen. (A harness
that missed them would report zero defects for ever.)"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fuzz import runner
from tests.fuzz.classify import DEFECT, OK, REJECTED, classify

TOKENS = {"escape": b"outsidecanaryX", "secret-leak": b"secretcanaryY"}


def fork(tmp_path: Path, entry: Callable[[], object], timeout: float = 20) -> runner.Result:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    return runner.in_fork(["validate"], tmp_path, env, tmp_path, timeout=timeout, entry=entry)


def segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def hang() -> None:
    time.sleep(3600)


def blow_up() -> None:
    chunks = [bytearray(64 * 1024 * 1024) for _ in range(64)]  # 4 GiB, over the limit
    print(len(chunks))


def crash() -> None:
    raise ValueError("could not convert string to float: 'nope'")


def unlocated() -> None:
    print("error: something went wrong", file=sys.stderr)
    sys.exit(2)


def located() -> None:
    print("error: services/a/serverless.yml:3: `provider.tags`: must be a map", file=sys.stderr)
    sys.exit(2)


def leaks() -> None:
    print("error: shipway.yml:1: `x`: not 'secretcanaryY'", file=sys.stderr)
    sys.exit(2)


def fine() -> None:
    print("ok: 1 service(s)")


@pytest.mark.parametrize(
    "entry, defect",
    [
        (segfault, "crash:SIGSEGV"),
        (blow_up, "memory"),
        (crash, "traceback:ValueError"),
        (unlocated, "unlocated"),
        (leaks, "secret-leak"),
    ],
)
def test_each_kind_of_defect_is_seen(
    tmp_path: Path, entry: Callable[[], None], defect: str
) -> None:
    verdict = classify(fork(tmp_path, entry), str(tmp_path), TOKENS, [])
    assert (verdict.outcome, verdict.defect) == (DEFECT, defect)


def test_a_hang_is_killed_and_seen(tmp_path: Path) -> None:
    result = fork(tmp_path, hang, timeout=1)
    assert result.timed_out
    assert classify(result, str(tmp_path), TOKENS, []).defect == "timeout"


def test_a_located_error_is_a_rejection_and_exit_0_is_ok(tmp_path: Path) -> None:
    assert classify(fork(tmp_path, located), str(tmp_path), TOKENS, []).outcome == REJECTED
    assert classify(fork(tmp_path, fine), str(tmp_path), TOKENS, []).outcome == OK


def test_exit_0_where_a_refusal_was_due_is_a_defect(tmp_path: Path) -> None:
    must = ["shipway.yml: `environments.dev.branch` = branch-caret"]
    verdict = classify(fork(tmp_path, fine), str(tmp_path), TOKENS, must)
    assert verdict.defect == "accepted:branch-caret (branch)"


def test_case_commands_find_a_real_interpreter_before_any_shell_shim(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shims = tmp_path / ".pyenv" / "shims"
    monkeypatch.setenv("PATH", f"{shims}:/usr/bin:/bin")
    parts = runner.build_path().split(os.pathsep)
    assert parts[0] == str(Path(sys.executable).parent)
    assert str(shims) not in parts and parts[1:] == ["/usr/bin", "/bin"]
