"""The reads behind `GET /metrics` (shipway.web.metrics): the pipeline's state from the state
database, by a connection of its own opened read-only (`mode=ro`: a scrape can never write,
nor take the writer's lock). Each family is one aggregate query, most on an index of the
schema (runs_by_state, the releases' primary key); the job-duration histogram is counted in
SQLite, and it and the runs per state are kept between scrapes (`Kept`), so a scrape reads
only the rows of runs that may still change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from shipway.model import RunState

__all__ = ["BUCKETS", "Kept", "Snapshot", "read_snapshot"]

# seconds: a reused or no-op step, a quick build, … a long CodeBuild-sized build
BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_QUEUED = (RunState.QUEUED.value, RunState.RUNNING.value)


@dataclass
class Snapshot:
    runs: dict[tuple[str, str], int] = field(default_factory=dict)  # (env, state) -> count
    queue: dict[str, int] = field(default_factory=dict)
    approvals: dict[str, int] = field(default_factory=dict)
    releases: dict[str, int] = field(default_factory=dict)
    # (env, stage) -> (each bucket's count, cumulative as Prometheus has them; count; sum)
    durations: dict[tuple[str, str], tuple[list[int], int, float]] = field(default_factory=dict)

    @property
    def environments(self) -> list[str]:
        return sorted({env for env, _ in self.runs} | set(self.releases))


@dataclass
class Kept:
    """What a server keeps between scrapes (new ones read every row)."""

    runs: _Kept[dict[tuple[str, str], int]] = field(default_factory=lambda: kept_run_counts())
    durations: _Kept[dict[tuple[str, str], _Aggregate]] = field(
        default_factory=lambda: kept_durations()
    )


def read_snapshot(database: Path, kept: Kept | None = None) -> Snapshot:
    """Everything /metrics shows, from the database (an empty Snapshot when there is none
    yet: a server started before the first run); `kept`: the aggregates of earlier scrapes."""
    kept = kept or Kept()
    snap = Snapshot()
    if not database.is_file():
        return snap
    db = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        db.execute("BEGIN")  # one read transaction: every family from the same moment
        snap.runs = kept.runs.read(db)
        marks = ", ".join("?" * len(_QUEUED))
        for env, count in db.execute(
            f"SELECT env, COUNT(*) FROM runs WHERE state IN ({marks}) GROUP BY env", _QUEUED
        ):
            snap.queue[env] = count
        for env, count in db.execute(
            "SELECT env, COUNT(*) FROM runs WHERE state = ? GROUP BY env",
            (RunState.AWAITING_APPROVAL.value,),
        ):
            snap.approvals[env] = count
        for env in {env for env, _ in snap.runs}:  # the primary key's last entry, per env
            row = db.execute(
                "SELECT MAX(number) FROM releases WHERE env = ? AND gone IS NULL", (env,)
            ).fetchone()
            if row[0] is not None:
                snap.releases[env] = int(row[0])
        snap.durations = kept.durations.read(db)
        db.execute("COMMIT")
    finally:
        db.close()
    return snap


_Aggregate = tuple[list[int], int, float]  # cumulative bucket counts, count, sum
_OPEN = tuple(s.value for s in RunState if not s.finished)
_OPEN_MARKS = ", ".join("?" * len(_OPEN))
T = TypeVar("T")


class _Kept(Generic[T]):
    """An aggregate over a table kept from scrape to scrape, reading only the rows that may
    have changed since the last: every row below `watermark` (the table's rowid, which an
    upsert keeps) belongs to a finished run, final, and is counted in `final` for good. The
    first scrape of a process reads every row once; later ones from the oldest row of a run
    not yet finished (found through the runs_by_state index). A later feature that changes
    a finished run's rows (a retry of its failed stage) must reset this or use new rows."""

    def __init__(
        self,
        table: str,
        first_open: str,
        count: Callable[[sqlite3.Connection, int, int], T],
        merge: Callable[[T, T], T],
        empty: T,
    ) -> None:
        self.table, self.first_open, self.count, self.merge = table, first_open, count, merge
        self.empty = self.final = empty
        self.watermark = 0

    def read(self, db: sqlite3.Connection) -> T:
        top = db.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {self.table}").fetchone()[0]
        if top < self.watermark - 1:  # another database in its place: count again
            self.watermark, self.final = 0, self.empty
        first_open = db.execute(self.first_open, _OPEN).fetchone()[0]
        mark = top + 1 if first_open is None else max(int(first_open), self.watermark)
        if mark > self.watermark:
            self.final = self.merge(self.final, self.count(db, self.watermark, mark))
            self.watermark = mark
        return self.merge(self.final, self.count(db, self.watermark, top + 1))


def kept_durations() -> _Kept[dict[tuple[str, str], _Aggregate]]:
    """The job-duration histogram, per environment and stage."""
    return _Kept(
        "jobs",
        "SELECT MIN(j.rowid) FROM runs r JOIN jobs j ON j.run_id = r.id"
        f" WHERE r.state IN ({_OPEN_MARKS})",
        _aggregate,
        _merge,
        {},
    )


def kept_run_counts() -> _Kept[dict[tuple[str, str], int]]:
    """Runs per (environment, state)."""
    return _Kept(
        "runs",
        f"SELECT MIN(rowid) FROM runs WHERE state IN ({_OPEN_MARKS})",
        _run_counts,
        _add_counts,
        {},
    )


def _run_counts(db: sqlite3.Connection, low: int, high: int) -> dict[tuple[str, str], int]:
    rows = db.execute(
        "SELECT env, state, COUNT(*) FROM runs WHERE rowid >= ? AND rowid < ? GROUP BY env, state",
        (low, high),
    )
    return {(str(env), str(state)): int(n) for env, state, n in rows}


def _add_counts(
    a: dict[tuple[str, str], int], b: dict[tuple[str, str], int]
) -> dict[tuple[str, str], int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}


def _aggregate(db: sqlite3.Connection, low: int, high: int) -> dict[tuple[str, str], _Aggregate]:
    """Per environment and stage, over the jobs with low <= rowid < high (a range of the
    jobs' own b-tree, each run found by its primary key) that ran: their durations counted
    into the buckets, in SQLite."""
    buckets = ", ".join(f"SUM(d <= {b!r})" for b in BUCKETS)
    rows = db.execute(
        f"""
        SELECT env, stage, {buckets}, COUNT(*), TOTAL(d) FROM (
            SELECT r.env AS env, j.stage AS stage,
                   MAX(j.finished_at - j.started_at, 0.0) AS d
            FROM jobs j JOIN runs r ON r.id = j.run_id
            WHERE j.rowid >= ? AND j.rowid < ?
              AND j.started_at IS NOT NULL AND j.finished_at IS NOT NULL
        ) GROUP BY env, stage
        """,
        (low, high),
    )
    out: dict[tuple[str, str], _Aggregate] = {}
    for row in rows:
        env, stage, *counts, total, seconds = row
        out[(str(env), str(stage))] = ([int(c) for c in counts], int(total), float(seconds))
    return out


def _merge(
    a: dict[tuple[str, str], _Aggregate], b: dict[tuple[str, str], _Aggregate]
) -> dict[tuple[str, str], _Aggregate]:
    out = dict(a)
    for stage, (counts, total, seconds) in b.items():
        if stage in out:
            c0, t0, s0 = out[stage]
            summed = [x + y for x, y in zip(c0, counts, strict=True)]
            out[stage] = (summed, t0 + total, s0 + seconds)
        else:
            out[stage] = (counts, total, seconds)
    return out
