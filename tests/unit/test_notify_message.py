"""The message a run's end posts: its fields, one readable `text` line, secrets masked."""

from __future__ import annotations

from shipway.masking import Masker
from shipway.model import Job, JobState, Run, RunState, Stage
from shipway.notify import NOTIFIED_STATES, run_message


def _run(state: RunState, error: str | None = None, release: int | None = None) -> Run:
    return Run(
        id="dev-3",
        env="dev",
        commit="1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d",
        state=state,
        created_at=100.0,
        started_at=101.0,
        finished_at=104.5,
        error=error,
        release=release,
    )


JOBS = [
    Job("dev-3", Stage.SOURCE, "*", JobState.SUCCEEDED),
    Job("dev-3", Stage.BUILD, "api", JobState.SUCCEEDED),
    Job("dev-3", Stage.BUILD, "web", JobState.FAILED, error="boom"),
    Job("dev-3", Stage.DEPLOY, "api", JobState.SKIPPED),
    Job("dev-3", Stage.DEPLOY, "web", JobState.SKIPPED),
]


def test_success_says_release_and_commit() -> None:
    body = run_message("ledger", _run(RunState.SUCCEEDED, release=3), JOBS[:2], Masker([]))
    assert body["text"] == "✅ ledger dev: run dev-3 succeeded, release 3 (commit 1a2b3c4d5e6f)"
    assert {k: body[k] for k in ("id", "env", "state", "release", "error", "event")} == {
        "id": "dev-3",
        "env": "dev",
        "state": "succeeded",
        "release": 3,
        "error": None,
        "event": "run.succeeded",
    }
    assert body["commit"].startswith("1a2b3c4d5e6f") and len(body["commit"]) == 40
    assert body["services"] == {"api": {"build": "succeeded"}}
    assert body["duration_s"] == 3.5


def test_failure_lists_every_service_state_and_masks_the_error() -> None:
    run = _run(RunState.FAILED, error="build failed: key hunter2zz rejected\nby the host")
    body = run_message("ledger", run, JOBS, Masker(["hunter2zz"]))
    assert body["services"] == {
        "api": {"build": "succeeded", "deploy": "skipped"},
        "web": {"build": "failed", "deploy": "skipped"},
    }
    assert body["error"] == "build failed: key *** rejected\nby the host"
    assert body["text"] == (
        "❌ ledger dev: run dev-3 failed (commit 1a2b3c4d5e6f): "
        "build failed: key *** rejected by the host"
    )
    assert "hunter2zz" not in str(body)


def test_a_long_error_is_cut_in_text_after_masking() -> None:
    secret = "s" * 30 + "TAIL"
    error = "x" * 480 + secret  # the cut at 500 characters falls inside the secret
    body = run_message("p", _run(RunState.FAILED, error=error), [], Masker([secret]))
    assert secret[:20] not in body["text"] and body["text"].endswith("***")
    assert "TAIL" not in str(body)


def test_which_ends_notify() -> None:
    assert RunState.SUCCEEDED in NOTIFIED_STATES and RunState.FAILED in NOTIFIED_STATES
    assert RunState.CANCELLED in NOTIFIED_STATES
    assert RunState.SUPERSEDED not in NOTIFIED_STATES


def test_text_escapes_slack_control_characters_and_error_stays_as_written() -> None:
    run = _run(RunState.FAILED, error="handler <!channel> & <https://x|y> missing")
    body = run_message("p", run, [], Masker([]))
    assert body["text"].endswith("handler &lt;!channel&gt; &amp; &lt;https://x|y&gt; missing")
    assert body["error"] == "handler <!channel> & <https://x|y> missing"
