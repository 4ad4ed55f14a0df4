"""What a running pipeline tells whoever watches it (terminal, server, tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shipway.errors import ShipwayError
from shipway.model import JobState, Stage


@dataclass(frozen=True)
class JobEvent:
    run_id: str
    stage: Stage
    service: str
    state: JobState
    elapsed: float = 0.0
    message: str | None = None


Listener = Callable[[JobEvent], None]
#: hears a run's configuration warnings (those `validate` gives) when its plan is made
Warn = Callable[[ShipwayError], None]


def ignore(event: JobEvent) -> None:
    """A listener that drops every event."""
