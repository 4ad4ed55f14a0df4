"""Posting a message to webhook URLs: in the background, retried, logged, never in the way.

A delivery never blocks or fails a run: each URL gets a daemon thread that tries up to
`attempts` times, again after a connection error, a timeout, a 5xx or a 429, with
exponential backoff and jitter between (1 s, 2 s, 4 s, each halved at random: at most 7 s
of waiting over 4 attempts); other answers (4xx, a redirect) end it at once. Redirects are
not followed: a webhook that moves would take the message (and its run's data) to a host
nobody configured. Each attempt waits at most `timeout_s` on the connection.

Every attempt and its outcome is appended to the run's `notify.log`, naming the URL as
`scheme://host/…` alone: a webhook URL carries its credential, in its path or query.

At exit the process waits at most EXIT_WAIT_S for deliveries still under way (atexit, after
the command's own work), then leaves them with a warning on stderr; the exit status is the
command's.
"""

from __future__ import annotations

import atexit
import http.client
import json
import random
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from shipway.config.webhooks import shown_url

__all__ = ["EXIT_WAIT_S", "Notifier", "PostResult", "default_notifier", "post_json"]

EXIT_WAIT_S = 5.0
USER_AGENT = "shipway-webhook/1"
_READ_LIMIT = 64 * 1024  # of a receiver's answer, read so the connection can close cleanly


@dataclass(frozen=True)
class PostResult:
    status: int
    retry_after: str | None = None  # the answer's Retry-After header, as sent


Post = Callable[[str, bytes, float], PostResult]


def post_json(url: str, body: bytes, timeout_s: float) -> PostResult:
    """One POST of `body`; any HTTP answer is a PostResult (redirects are answers, not
    followed); connection errors and timeouts raise OSError."""
    # no HTTPRedirectHandler, no HTTPErrorProcessor: a 3xx, 4xx or 5xx comes back as it is
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
    ):
        opener.add_handler(handler)
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    with opener.open(request, timeout=timeout_s) as answer:
        answer.read(_READ_LIMIT)
        return PostResult(answer.status, answer.headers.get("Retry-After"))


@dataclass
class _Delivery:
    run_id: str
    url: str
    log: Path
    thread: threading.Thread | None = None


class Notifier:
    """Sends each message to its URLs in the background; `wait` for the ones under way."""

    def __init__(
        self,
        *,
        attempts: int = 4,
        timeout_s: float = 10.0,
        base_delay_s: float = 1.0,
        max_delay_s: float = 4.0,
        post: Post = post_json,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._post = post
        self._sleep = sleep
        self._jitter = jitter
        self._lock = threading.Lock()  # the pending set, and appends to the logs
        self._pending: list[_Delivery] = []

    # ------------------------------------------------------------------ in the background

    def send(self, run_id: str, urls: Iterable[str], message: Mapping[str, Any], log: Path) -> None:
        """Post `message` to every URL, each on a thread of its own; returns at once."""
        body = json.dumps(message, sort_keys=True).encode("utf-8")
        for url in urls:
            delivery = _Delivery(run_id, url, log)
            thread = threading.Thread(
                target=self._background, args=(delivery, body), name="notify", daemon=True
            )
            delivery.thread = thread
            with self._lock:
                self._pending.append(delivery)
            thread.start()

    def _background(self, delivery: _Delivery, body: bytes) -> None:
        try:
            self.deliver(delivery.run_id, delivery.url, body, delivery.log)
        except Exception as exc:  # a bug here must not reach the run: logged, dropped
            self._write(delivery.log, delivery.run_id, delivery.url, f"not sent: {exc!r}")
        finally:
            with self._lock:
                self._pending.remove(delivery)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def wait(self, timeout_s: float) -> list[tuple[str, str, Path]]:
        """Wait up to `timeout_s` for the deliveries under way; the ones still going after
        it, as (run id, URL, log)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            threads = [d.thread for d in self._pending if d.thread is not None]
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            return [(d.run_id, d.url, d.log) for d in self._pending]

    # ------------------------------------------------------------------ one delivery

    def deliver(self, run_id: str, url: str, body: bytes, log: Path) -> bool:
        """Post `body` to `url` until it is taken or the attempts are spent (this thread)."""
        for attempt in range(1, self.attempts + 1):
            retry_after: str | None = None
            try:
                result = self._post(url, body, self.timeout_s)
            except OSError as exc:  # refused, reset, unresolvable, timed out, TLS
                outcome, again = _reason(exc, self.timeout_s), True
            except http.client.HTTPException as exc:  # an answer that is not HTTP
                outcome, again = f"a broken answer ({type(exc).__name__})", True
            else:
                status = result.status
                if 200 <= status < 300:
                    self._write(log, run_id, url, f"attempt {attempt}/{self.attempts}: {status}")
                    return True
                again = status >= 500 or status == 429
                outcome = f"HTTP {status}"
                if 300 <= status < 400:
                    outcome += " (a redirect: not followed)"
                retry_after = result.retry_after
            note = f"attempt {attempt}/{self.attempts}: {outcome}"
            if not again or attempt == self.attempts:
                self._write(log, run_id, url, f"{note}; not delivered")
                return False
            delay = self._delay(attempt, retry_after)
            self._write(log, run_id, url, f"{note}; again in {delay:.1f} s")
            self._sleep(delay)
        return False  # attempts < 1

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """Exponential with jitter (half the step fixed, half at random), or the receiver's
        Retry-After where it asks for no more than `max_delay_s`."""
        asked = _seconds(retry_after)
        if asked is not None and 0 <= asked <= self.max_delay_s:
            return asked
        step = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return step / 2 + self._jitter() * step / 2

    def _write(self, log: Path, run_id: str, url: str, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = f"{stamp} {run_id} {shown_url(url)} {text}\n"
        with self._lock:
            try:
                log.parent.mkdir(parents=True, exist_ok=True)
                with log.open("a", encoding="utf-8") as f:
                    f.write(line)
            except OSError:
                pass  # a log that cannot be written never stops a delivery


def _reason(exc: OSError, timeout_s: float) -> str:
    """What went wrong, without the URL (some errors quote it)."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    inner = getattr(exc, "reason", None)  # urllib's URLError wraps the socket's error
    if isinstance(inner, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror
    if exc.strerror:
        return exc.strerror
    return type(inner if isinstance(inner, BaseException) else exc).__name__


def _seconds(retry_after: str | None) -> float | None:
    if not retry_after:
        return None
    text = retry_after.strip()
    if text.isdigit():
        return float(text)
    try:
        return float(parsedate_to_datetime(text).timestamp()) - time.time()
    except (TypeError, ValueError):
        return None


_default: Notifier | None = None
_default_lock = threading.Lock()


def default_notifier() -> Notifier:
    """The process's notifier; the first call arranges the bounded wait at exit."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Notifier()
            atexit.register(_wait_at_exit, _default)
        return _default


def _wait_at_exit(notifier: Notifier, timeout_s: float = EXIT_WAIT_S) -> None:
    if not notifier.pending():
        return
    left = notifier.wait(timeout_s)
    for run_id, url, log in left:
        notifier._write(log, run_id, url, f"given up: the process exited ({timeout_s:g} s wait)")
    if left:
        logs = sorted({str(log) for _, _, log in left})
        print(
            f"shipway: warning: {len(left)} webhook notification(s) not delivered within "
            f"{timeout_s:g} s of exit; given up (see {', '.join(logs)})",
            file=sys.stderr,
        )
