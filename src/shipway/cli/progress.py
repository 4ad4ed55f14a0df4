"""Progress of a run: a live table of per-service rows on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from shipway.model import JobState
from shipway.pipeline.events import JobEvent

_STYLE = {
    JobState.PENDING: "dim",
    JobState.RUNNING: "yellow",
    JobState.SUCCEEDED: "green",
    JobState.FAILED: "bold red",
    JobState.TIMED_OUT: "bold red",
    JobState.SKIPPED: "dim",
}


class PlainProgress:
    """One line per job state change, for logs and pipes."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def __call__(self, event: JobEvent) -> None:
        elapsed = (
            f" {event.elapsed:.2f}s"
            if event.state not in (JobState.RUNNING, JobState.PENDING)
            else ""
        )
        message = f" - {event.message}" if event.message else ""
        with self._lock:
            print(
                f"{event.run_id} {event.stage.value:<7} {event.service:<20} "
                f"{event.state.value}{elapsed}{message}",
                file=self.stream,
                flush=True,
            )

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class LiveProgress:
    """A table: service, stage, state, elapsed; redrawn as events arrive."""

    def __init__(self, console: Console):
        self.console = console
        self.rows: dict[str, tuple[JobEvent, float]] = {}
        self._lock = threading.Lock()
        self._live = Live(self._table(), console=console, refresh_per_second=8, transient=False)

    def __call__(self, event: JobEvent) -> None:
        with self._lock:
            previous = self.rows.get(event.service)
            started = (
                previous[1] if previous and previous[0].stage == event.stage else time.monotonic()
            )
            self.rows[event.service] = (event, started)
            self._live.update(self._table())

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for column in ("service", "stage", "state", "elapsed", ""):
            table.add_column(column)
        for service, (event, started) in self.rows.items():
            running = event.state == JobState.RUNNING
            elapsed = time.monotonic() - started if running else event.elapsed
            table.add_row(
                service,
                event.stage.value,
                f"[{_STYLE[event.state]}]{event.state.value}[/]",
                f"{elapsed:.1f}s",
                event.message or "",
            )
        return table

    def __enter__(self) -> LiveProgress:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()


def progress_for(stream: TextIO) -> PlainProgress | LiveProgress:
    if stream.isatty():
        return LiveProgress(Console(file=stream))
    return PlainProgress(stream)
