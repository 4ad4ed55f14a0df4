"""Progress of a run: a live table of per-service rows on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from shipway.model import JobState, Stage
from shipway.pipeline.events import JobEvent

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

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

    def warn(self, warning: object) -> None:
        with self._lock:
            print(f"warning: {warning}", file=self.stream, flush=True)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class LiveProgress:
    """A table with one row per service and one column per stage (state and elapsed time),
    redrawn as events arrive."""

    STAGES = (Stage.BUILD, Stage.DEPLOY)

    def __init__(self, console: Console):
        self.console = console
        self.title = ""
        self.cells: dict[str, dict[Stage, tuple[JobEvent, float]]] = {}
        self._lock = threading.Lock()
        from rich.live import Live

        self._live = Live(self._table(), console=console, refresh_per_second=8, transient=False)

    def __call__(self, event: JobEvent) -> None:
        with self._lock:
            if event.stage == Stage.SOURCE:
                self.title = f"{event.run_id}: source {event.message or ''}"
            else:
                row = self.cells.setdefault(event.service, {})
                previous = row.get(event.stage)
                started = previous[1] if previous else time.monotonic()
                row[event.stage] = (event, started)
            self._live.update(self._table())

    def _cell(self, entry: tuple[JobEvent, float] | None) -> str:
        if entry is None:
            return ""
        event, started = entry
        running = event.state == JobState.RUNNING
        elapsed = time.monotonic() - started if running else event.elapsed
        return f"[{_STYLE[event.state]}]{event.state.value}[/] {elapsed:.1f}s"

    def _table(self) -> Table:
        from rich.table import Table

        table = Table(box=None, pad_edge=False, title=self.title or None, title_justify="left")
        table.add_column("service")
        for stage in self.STAGES:
            table.add_column(stage.value)
        table.add_column("")
        for service, row in self.cells.items():
            notes = [e.message for e, _ in row.values() if e.message]
            table.add_row(
                service,
                *(self._cell(row.get(stage)) for stage in self.STAGES),
                notes[-1] if notes else "",
            )
        return table

    def warn(self, warning: object) -> None:
        from rich.markup import escape

        self._live.console.print(f"[yellow]warning:[/] {escape(str(warning))}")

    def __enter__(self) -> LiveProgress:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()


def progress_for(stream: TextIO) -> PlainProgress | LiveProgress:
    if stream.isatty():
        from rich.console import Console  # only a terminal needs rich

        return LiveProgress(Console(file=stream))
    return PlainProgress(stream)
