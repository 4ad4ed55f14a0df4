"""The server's watch on its sources: at start, the runs of pushes made while no server
ran (App.catch_up); then every `source: {git: URL, poll: …}` remote looked at with
`git ls-remote` at its interval (App.poll_remote), on a thread of its own.

A source that cannot be read (a remote down, a broken governing shipway.yml) is a warning
on stderr, masked like every output, and is looked at again at its next turn: what it
missed is started then, since the heads it saw are recorded only once its runs started.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from functools import partial

from shipway.app import App
from shipway.errors import ShipwayError
from shipway.masking import Masker, seen_secrets
from shipway.source.refs import mask_url

__all__ = ["Watcher"]

_TICK_S = 1.0  # how often due remotes are looked for
_CONFIG_S = 10.0  # how often the governing shipway.yml is read again for `poll` intervals


class Watcher:
    def __init__(self, app: App) -> None:
        self.app = app
        self._stop = threading.Event()
        self._due: dict[str, float] = {}  # URL -> when it is looked at next (monotonic)
        self._remotes: dict[str, int] = {}
        self._config_at = float("-inf")
        self._thread = threading.Thread(target=self._loop, name="watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        self._guarded("the runs of pushes made while no server ran", self.app.triggers.catch_up)
        while not self._stop.wait(_TICK_S):
            self.poll_due()

    def poll_due(self) -> None:
        """Look at every polled remote whose turn it is."""
        now = time.monotonic()
        if now - self._config_at >= _CONFIG_S:
            self._config_at = now
            self._guarded("the polled remotes", self._read_remotes)
        for url, every in self._remotes.items():
            if self._stop.is_set():
                return
            if self._due.get(url, 0.0) <= now:
                self._due[url] = now + every
                self._guarded(
                    f"the runs of {mask_url(url)}", partial(self.app.triggers.poll_remote, url)
                )

    def _read_remotes(self) -> None:
        self._remotes = self.app.triggers.polled_remotes()

    def _guarded(self, what: str, look: Callable[[], object]) -> None:
        try:
            look()
        except ShipwayError as exc:
            mask = Masker(seen_secrets())
            print(f"shipway: warning: cannot start {what}: {mask(str(exc))}", file=sys.stderr)
        except Exception as exc:  # the watch must outlive a bad moment (a locked database)
            mask = Masker(seen_secrets())
            print(f"shipway: watcher: {type(exc).__name__}: {mask(str(exc))}", file=sys.stderr)
