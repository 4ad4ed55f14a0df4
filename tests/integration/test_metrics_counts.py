"""The /metrics families read from a real state database (the store's schema, written by
the store): a server's histogram kept between scrapes always equals one read afresh."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from shipway.model import JobState, Release, RunState, Stage
from shipway.store.sqlite import Store
from shipway.web.metrics import Metrics, exposition


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text.decode())
        for s in f.samples
    }


def test_a_missing_database_is_no_error(tmp_path: Path) -> None:
    assert b"shipway_runs" in exposition(tmp_path / "none.db")
    assert not any(k[0] == "shipway_runs" for k in _samples(exposition(tmp_path / "none.db")))


def test_kept_histogram_equals_a_fresh_read_as_runs_go_on(tmp_path: Path) -> None:
    db = tmp_path / "shipway.db"
    store = Store(db)
    server = Metrics(db)
    ids = []
    for env in ("dev", "qa", "dev"):
        run = store.create_run(env, "c" * 40, "cli", RunState.RUNNING)
        ids.append(run.id)
        store.set_job(run.id, Stage.BUILD, "api", JobState.RUNNING)
        assert _samples(server.exposition()) == _samples(exposition(db))
    store.set_job(ids[0], Stage.BUILD, "api", JobState.SUCCEEDED)
    store.update_run(ids[0], state=RunState.SUCCEEDED)
    store.add_release(Release("dev", 1, ids[0], "c" * 40, 1.0, ()))
    kept = _samples(server.exposition())
    assert kept == _samples(exposition(db))
    assert kept[("shipway_job_duration_seconds_count", (("env", "dev"), ("stage", "build")))] == 1
    assert kept[("shipway_queue_depth", (("env", "dev"),))] == 1
    assert kept[("shipway_release", (("env", "dev"),))] == 1
    assert kept[("shipway_release", (("env", "qa"),))] == 0
    # the last run ends after the first finished one was counted for good
    store.set_job(ids[2], Stage.BUILD, "api", JobState.FAILED)
    store.set_job(ids[2], Stage.DEPLOY, "api", JobState.SKIPPED)
    store.update_run(ids[2], state=RunState.FAILED)
    kept = _samples(server.exposition())
    assert kept == _samples(exposition(db))
    assert kept[("shipway_job_duration_seconds_count", (("env", "dev"), ("stage", "build")))] == 2
    assert kept[("shipway_runs", (("env", "dev"), ("state", "failed")))] == 1
    assert kept[("shipway_runs", (("env", "qa"), ("state", "running")))] == 1
    assert kept[("shipway_approvals_waiting", (("env", "qa"),))] == 0
