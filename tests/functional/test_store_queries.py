"""The store's queries for status, runs and recovery read by index, never the whole history
(a command's cost would grow with every run ever made)."""

from __future__ import annotations

import time
from pathlib import Path

from shipway.model import JobState, Release, ReleasedService, RunState, Stage
from shipway.store.sqlite import Store


def _fill(store: Store, runs: int) -> None:
    for n in range(runs):
        run = store.create_run("dev" if n % 2 else "qa", f"{n:040x}", "cli", RunState.RUNNING)
        store.set_job(run.id, Stage.BUILD, "svc", JobState.SUCCEEDED)
        number = store.next_release_number(run.env)
        store.add_release(
            Release(
                run.env,
                number,
                run.id,
                f"{n:040x}",
                time.time(),
                (ReleasedService("svc", "c", "s"),),
            )
        )
        store.update_run(run.id, state=RunState.SUCCEEDED, finished_at=time.time(), release=number)


def test_status_runs_and_recovery_queries_use_indexes(tmp_path: Path) -> None:
    store = Store(tmp_path / "shipway.db")
    _fill(store, 200)
    db = store._db()
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    store.runs()  # `shipway runs`
    store.runs("dev")
    store.latest_release("dev")  # `shipway status`
    store.mark_orphans_interrupted()  # every command's recovery
    store.release_of_run("dev-7")
    store.next_release_number("dev")
    store.jobs("dev-7")
    db.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 7
    for sql in selects:
        plan = " ; ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "SCAN runs" not in plan or "USING INDEX" in plan, (sql, plan)
        assert "SCAN releases" not in plan, (sql, plan)
        assert "SCAN jobs" not in plan, (sql, plan)
    assert [r.id for r in store.runs(limit=3)] == ["dev-100", "qa-100", "dev-99"]
    store.close()


def test_a_database_of_an_earlier_version_gets_the_indexes(tmp_path: Path) -> None:
    from shipway.store import sqlite

    path = tmp_path / "shipway.db"
    # every migration before the one that adds the indexes (later ones came after it)
    at = next(i for i, m in enumerate(sqlite.MIGRATIONS) if "runs_by_state" in m)
    earlier = sqlite.MIGRATIONS[:at]
    original = sqlite.MIGRATIONS
    sqlite.MIGRATIONS = earlier
    try:
        old = Store(path)
        _fill(old, 3)
        old.close()
    finally:
        sqlite.MIGRATIONS = original
    store = Store(path)
    names = {r[0] for r in store._db().execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"runs_by_state", "runs_by_created", "releases_by_run"} <= names
    assert len(store.runs()) == 3
    store.close()
