"""Delivery to one webhook, its post and sleep injected: which answers are tried again,
the backoff between attempts, and what the log says (never the URL's path or query)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.notify.deliver import Notifier, PostResult

URL = "https://user:pw@hooks.example.com/T0/B0/tok3n?token=q5ecret"


class Script:
    """Answers in order: an int is a status, an exception is raised."""

    def __init__(self, *answers: int | OSError | tuple[int, str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, bytes, float]] = []

    def __call__(self, url: str, body: bytes, timeout_s: float) -> PostResult:
        self.calls.append((url, body, timeout_s))
        answer = self.answers.pop(0)
        if isinstance(answer, OSError):
            raise answer
        if isinstance(answer, tuple):
            return PostResult(answer[0], answer[1])
        return PostResult(answer)


def _notifier(post: Script, sleeps: list[float], jitter: float = 0.5) -> Notifier:
    return Notifier(post=post, sleep=sleeps.append, jitter=lambda: jitter)


def test_503_twice_then_taken_on_the_third_attempt(tmp_path: Path) -> None:
    post, sleeps = Script(503, 503, 200), []
    log = tmp_path / "notify.log"
    assert _notifier(post, sleeps).deliver("dev-1", URL, b"{}", log)
    assert len(post.calls) == 3 and all(c[2] == 10.0 for c in post.calls)
    assert sleeps == [0.75, 1.5]  # 1 s then 2 s steps, each half fixed, half jitter (0.5)
    lines = log.read_text().splitlines()
    assert [line.split(" ", 3)[3] for line in lines] == [
        "attempt 1/4: HTTP 503; again in 0.8 s",
        "attempt 2/4: HTTP 503; again in 1.5 s",
        "attempt 3/4: 200",
    ]
    assert all(" dev-1 https://hooks.example.com/… " in line for line in lines)
    text = log.read_text()
    assert "tok3n" not in text and "q5ecret" not in text and "pw" not in text


def test_connection_errors_and_429_are_retried_within_four_attempts(tmp_path: Path) -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    post, sleeps = Script(refused, 429, TimeoutError(), 502), []
    assert not _notifier(post, sleeps, jitter=1.0).deliver("dev-1", URL, b"{}", tmp_path / "l")
    assert len(post.calls) == 4
    assert sleeps == [1.0, 2.0, 4.0]  # bounded: 7 s at most in all
    lines = (tmp_path / "l").read_text().splitlines()
    assert "Connection refused; again" in lines[0]
    assert "no answer within 10 s" in lines[2]
    assert lines[3].endswith("attempt 4/4: HTTP 502; not delivered")


@pytest.mark.parametrize("status", [400, 404, 302])
def test_other_answers_end_the_delivery_at_once(tmp_path: Path, status: int) -> None:
    post, sleeps = Script(status), []
    assert not _notifier(post, sleeps).deliver("dev-1", URL, b"{}", tmp_path / "l")
    assert len(post.calls) == 1 and sleeps == []
    if status == 302:
        assert "a redirect: not followed" in (tmp_path / "l").read_text()


def test_retry_after_is_honoured_when_short(tmp_path: Path) -> None:
    post, sleeps = Script((429, "3"), (503, "120"), 200), []
    assert _notifier(post, sleeps, jitter=0.0).deliver("dev-1", URL, b"{}", tmp_path / "l")
    assert sleeps == [3.0, 1.0]  # 120 s is more than the wait allows: the backoff instead


def test_send_runs_in_the_background_and_wait_is_bounded(tmp_path: Path) -> None:
    import threading

    release = threading.Event()

    def slow(url: str, body: bytes, timeout_s: float) -> PostResult:
        release.wait(10)
        return PostResult(200)

    notifier = Notifier(post=slow, sleep=lambda s: None)
    notifier.send("dev-1", [URL, URL + "2"], {"text": "hi"}, tmp_path / "l")
    assert notifier.pending() == 2
    left = notifier.wait(0.05)
    assert [(r, u) for r, u, _ in left] == [("dev-1", URL), ("dev-1", URL + "2")]
    release.set()
    assert notifier.wait(10) == [] and notifier.pending() == 0
