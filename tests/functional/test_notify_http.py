"""The notifier's real HTTP path (post_json) against real receivers on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from shipway.notify import Notifier
from tests.functional.notifykit import Receiver


def test_a_redirect_to_another_host_is_not_followed(tmp_path: Path) -> None:
    with Receiver() as elsewhere, Receiver(redirect="") as hook:
        hook.redirect = elsewhere.url("/stolen")
        notifier = Notifier(sleep=lambda s: None)
        assert not notifier.deliver("dev-1", hook.url(), b'{"text": "x"}', tmp_path / "log")
        assert len(hook.attempts) == 1 and elsewhere.attempts == []
        assert (
            "HTTP 302 (a redirect: not followed); not delivered" in (tmp_path / "log").read_text()
        )


def test_background_send_retries_503_until_taken(tmp_path: Path) -> None:
    with Receiver(fail_first=2) as hook:
        sleeps: list[float] = []
        notifier = Notifier(sleep=sleeps.append)
        notifier.send("dev-1", [hook.url()], {"text": "hello", "id": "dev-1"}, tmp_path / "log")
        assert notifier.wait(30) == []
        assert len(hook.attempts) == 3 and len(sleeps) == 2
        assert json.loads(hook.attempts[2]["raw"]) == {"id": "dev-1", "text": "hello"}
        assert hook.attempts[0]["headers"]["User-Agent"].startswith("shipway-webhook/")
