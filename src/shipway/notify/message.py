"""What a run's end says to a webhook: its fields as JSON, with a Slack-compatible `text`.

Pure: data in, data out. Every string is masked with the run's Masker, so no secret value
of the environment reaches a receiver, whatever the error quoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shipway.masking import Masker
from shipway.model import Job, Run, RunState

__all__ = ["NOTIFIED_STATES", "run_message"]

# What people want to hear of: a run waiting for their approval, and a run's end. Not
# `superseded` (routine on a busy branch: the run that replaced it notifies in its turn)
# nor `interrupted` (found by a later command, not by the run).
NOTIFIED_STATES = frozenset(
    {
        RunState.AWAITING_APPROVAL,
        RunState.SUCCEEDED,
        RunState.FAILED,
        RunState.CANCELLED,
        RunState.REJECTED,
        RunState.EXPIRED,
    }
)

_ICONS = {
    RunState.AWAITING_APPROVAL: "⏸",
    RunState.SUCCEEDED: "✅",
    RunState.FAILED: "❌",
    RunState.CANCELLED: "⏹",
    RunState.REJECTED: "🚫",
    RunState.EXPIRED: "⌛",
}
_MAX_ERROR = 500  # characters of the error in `text`; the field `error` keeps it all


def run_message(project: str, run: Run, jobs: Sequence[Job], mask: Masker) -> dict[str, Any]:
    """The JSON body posted for `run` (ended, or waiting for an approval), its services'
    states from `jobs`."""
    services: dict[str, dict[str, str]] = {}
    for job in jobs:
        if job.service != "*":  # the source stage is the run's, not a service's
            services.setdefault(job.service, {})[job.stage.value] = job.state.value
    duration = (
        round(run.finished_at - run.started_at, 3)
        if run.finished_at is not None and run.started_at is not None
        else None
    )
    # masked before `text` cuts it: a cut secret would no longer match its mask
    error = mask(run.error) if run.error else run.error
    body: dict[str, Any] = {
        "event": f"run.{run.state.value}",
        "text": _text(project, run, error),
        "project": project,
        "id": run.id,
        "env": run.env,
        "commit": run.commit,
        "state": run.state.value,
        "release": run.release,
        "error": error,
        "trigger": run.trigger,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_s": duration,
        "services": dict(sorted(services.items())),
    }
    masked: dict[str, Any] = mask.data(body)
    return masked


def _text(project: str, run: Run, error: str | None) -> str:
    """One readable line: `✅ ledger dev: run dev-3 succeeded, release 3 (commit 1a2b3c4d5e6f)`."""
    icon = _ICONS.get(run.state, "•")
    line = f"{icon} {project} {run.env}: run {run.id} {run.state.value}"
    if run.release is not None:
        line += f", release {run.release}"
    line += f" (commit {run.commit[:12]})"
    if run.state == RunState.AWAITING_APPROVAL:
        line += f": `shipway approve {run.id}` or `shipway reject {run.id}`"
    if error:
        error = " ".join(error.split())  # one line, whatever the error held
        if len(error) > _MAX_ERROR:
            error = error[:_MAX_ERROR] + "…"
        line += f": {error}"
    # Slack's control characters: `<!channel>` or `<url|label>` in an error would ping or
    # link; escaped as Slack asks (only these three), the line reads as written
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
