"""Runs, jobs and releases in SQLite (WAL), under the state directory; tokens and the
audit log in `access.py`, mixed in.

The store package is the only one that imports sqlite3 (metrics_reads.py: what /metrics
reads). Each write is one short transaction, so several processes (the CLI, the server)
can share the file; readers never block the writer.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.errors import NotFound, ShipwayError
from shipway.model import (
    Artifact,
    Job,
    JobState,
    LayerArtifact,
    Release,
    ReleasedService,
    Run,
    RunState,
    Stage,
    StageState,
)
from shipway.store.access import ACCESS_SCHEMA, AccessRecords
from shipway.store.heads import HEADS_SCHEMA, HeadRecords
from shipway.store.queue import QUEUE_SCHEMA, QueueRecords

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        env TEXT NOT NULL,
        seq INTEGER NOT NULL,
        commit_sha TEXT NOT NULL,
        state TEXT NOT NULL,
        trigger TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        error TEXT,
        release INTEGER,
        UNIQUE (env, seq)
    );
    CREATE INDEX runs_by_env ON runs (env, seq DESC);
    CREATE TABLE jobs (
        run_id TEXT NOT NULL REFERENCES runs (id),
        stage TEXT NOT NULL,
        service TEXT NOT NULL,
        state TEXT NOT NULL,
        started_at REAL,
        finished_at REAL,
        error TEXT,
        log_path TEXT,
        detail TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, stage, service)
    );
    CREATE TABLE releases (
        env TEXT NOT NULL,
        number INTEGER NOT NULL,
        run_id TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        created_at REAL NOT NULL,
        services TEXT NOT NULL,
        PRIMARY KEY (env, number)
    );
    """,
    """
    CREATE TABLE builds (
        key TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        artifact_path TEXT NOT NULL,
        artifact_sha256 TEXT NOT NULL,
        artifact_size INTEGER NOT NULL,
        exported TEXT NOT NULL,
        run_id TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
    """
    ALTER TABLE runs ADD COLUMN owner TEXT;
    """,
    # the process groups a run's builds started, so that the builds of a killed run can be
    # killed too; `identity` is the group leader's process_identity (a reused pid is no match)
    """
    CREATE TABLE build_groups (
        run_id TEXT NOT NULL,
        service TEXT NOT NULL,
        pgid INTEGER NOT NULL,
        identity TEXT NOT NULL,
        PRIMARY KEY (run_id, pgid)
    );
    """,
    # every command looks for runs left `running` (recovery), `shipway runs` lists the newest
    # of all environments, recovery finds a run's release: without these each reads the whole
    # history, so a command's cost grew with the number of runs
    """
    CREATE INDEX runs_by_state ON runs (state);
    CREATE INDEX runs_by_created ON runs (created_at DESC, seq DESC);
    CREATE INDEX releases_by_run ON releases (run_id, number DESC);
    """,
    # a release pruned (`releases.keep`) or removed with its environment keeps its row, so
    # the runs that made it still name it and numbers are never reused; NULL: it is kept
    """
    ALTER TABLE releases ADD COLUMN gone TEXT;
    """,
    # API tokens (their SHA-256, never the token) and the audit log of every write and
    # refused attempt; the statements are in access.py, beside the queries that use them
    ACCESS_SCHEMA,
    # runs as persisted state machines: stages, approvals, who started a run, cancel
    # requests (queue.py)
    QUEUE_SCHEMA,
    # the branch heads last seen of the server's repository and of polled remotes (heads.py)
    HEADS_SCHEMA,
    # a build's Lambda layer zips (`layers:`), JSON [{name, path, sha256, size}]; NULL: none
    """
    ALTER TABLE builds ADD COLUMN layers TEXT;
    """,
)


def process_identity(pid: int | None = None) -> str:
    """`pid:start-time`: names a process even after its pid is reused."""
    pid = pid or os.getpid()
    return f"{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def process_alive(identity: str) -> bool:
    pid_text, _, started = identity.partition(":")
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return started in ("?", _start_time(int(pid_text)))


@dataclass(frozen=True)
class BuildRecord:
    """A finished build, found again by its input key."""

    key: str
    artifact: Artifact
    exported: Mapping[str, str]
    run_id: str


class Store(AccessRecords, QueueRecords, HeadRecords):
    """The state store of one repository (one SQLite file)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._migrate()
        except (OSError, sqlite3.Error) as exc:  # a state folder that cannot hold a database
            raise ShipwayError(
                f"cannot open the state database {path}: {exc}",
                hint="check SHIPWAY_HOME, or the repository's .shipway folder",
            ) from None

    def _migrate(self) -> None:
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                # executescript() would commit on its own; run the statements in our transaction
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # ------------------------------------------------------------------ runs

    def create_run(self, env: str, commit: str, trigger: str, state: RunState) -> Run:
        """A new run, owned by this process until it finishes."""
        now = time.time()
        with self._tx() as db:
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM runs WHERE env = ?", (env,)
            ).fetchone()[0]
            run_id = f"{env}-{seq}"
            db.execute(
                "INSERT INTO runs (id, env, seq, commit_sha, state, trigger, created_at, owner)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, env, seq, commit, state.value, trigger, now, process_identity()),
            )
        return self.run(run_id)

    def update_run(self, run_id: str, **fields: Any) -> Run:
        allowed = {"state", "started_at", "finished_at", "error", "release"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update {unknown}")
        values = {k: (v.value if isinstance(v, RunState) else v) for k, v in fields.items()}
        with self._tx() as db:
            db.execute(
                f"UPDATE runs SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                (*values.values(), run_id),
            )
        return self.run(run_id)

    def run(self, run_id: str) -> Run:
        row = self._db().execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"no run `{run_id}`", hint="`shipway runs` lists them")
        return _run(row)

    def runs(self, env: str | None = None, limit: int = 50) -> list[Run]:
        if env:
            rows = self._db().execute(
                "SELECT * FROM runs WHERE env = ? ORDER BY seq DESC LIMIT ?", (env, limit)
            )
        else:
            rows = self._db().execute(
                "SELECT * FROM runs ORDER BY created_at DESC, seq DESC LIMIT ?", (limit,)
            )
        return [_run(r) for r in rows]

    def mark_orphans_interrupted(self, before: Callable[[str], None] | None = None) -> list[str]:
        """Runs left `running` (or `queued` to be driven) by a process that no longer exists
        (killed, crashed) are `interrupted`: their state is true again, and `shipway retry`
        takes them on from the stage that did not finish. `before(run_id)` is called first
        for each (to stop what the dead process left running). Returns their ids. A queued
        run no process owns waits for the server, and an approval waits for a person."""
        rows = (
            self._db()
            .execute(
                "SELECT id, owner FROM runs WHERE state IN (?, ?) AND owner IS NOT NULL",
                (RunState.RUNNING.value, RunState.QUEUED.value),
            )
            .fetchall()
        )
        orphans = [r["id"] for r in rows if not process_alive(r["owner"])]
        for run_id in orphans:
            if before is not None:
                before(run_id)
            with self._tx() as db:
                changed = db.execute(
                    "UPDATE runs SET state = ?, finished_at = ?, error = ?, owner = NULL"
                    " WHERE id = ? AND state IN (?, ?)",
                    (
                        RunState.INTERRUPTED.value,
                        time.time(),
                        "interrupted: the process running it stopped",
                        run_id,
                        RunState.RUNNING.value,
                        RunState.QUEUED.value,
                    ),
                ).rowcount
                if not changed:
                    continue
                db.execute(
                    "UPDATE jobs SET state = ?, error = ? WHERE run_id = ? AND state = ?",
                    (JobState.FAILED.value, "interrupted", run_id, JobState.RUNNING.value),
                )
                db.execute(
                    "UPDATE stages SET state = ?, error = ?, finished_at = ?"
                    " WHERE run_id = ? AND state = ?",
                    (
                        StageState.FAILED.value,
                        "interrupted",
                        time.time(),
                        run_id,
                        StageState.RUNNING.value,
                    ),
                )
                # the stages it never reached are skipped, as for any run that ended
                # (queue.py `_end`): left `pending`, an ended run showed them still to come
                db.execute(
                    "UPDATE stages SET state = ?, finished_at = ? WHERE run_id = ? AND state = ?",
                    (StageState.SKIPPED.value, time.time(), run_id, StageState.PENDING.value),
                )
        return orphans

    # ------------------------------------------------------------------ build processes

    def add_build_group(self, run_id: str, service: str, pgid: int) -> None:
        """A process group a build of `run_id` started (its leader's pid is `pgid`)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO build_groups (run_id, service, pgid, identity)"
                " VALUES (?, ?, ?, ?)",
                (run_id, service, pgid, process_identity(pgid)),
            )

    def build_groups(self, run_id: str) -> list[tuple[int, str]]:
        """(pgid, leader identity) of every process group recorded for the run."""
        rows = self._db().execute(
            "SELECT pgid, identity FROM build_groups WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return [(int(r["pgid"]), str(r["identity"])) for r in rows]

    def forget_build_groups(self, run_id: str, service: str | None = None) -> None:
        """The groups of a build (or of every build of the run) are gone: forget them."""
        with self._tx() as db:
            if service is None:
                db.execute("DELETE FROM build_groups WHERE run_id = ?", (run_id,))
            else:
                db.execute(
                    "DELETE FROM build_groups WHERE run_id = ? AND service = ?", (run_id, service)
                )

    # ------------------------------------------------------------------ jobs

    def set_job(
        self,
        run_id: str,
        stage: Stage,
        service: str,
        state: JobState,
        *,
        error: str | None = None,
        log_path: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        now = time.time()
        started = now if state == JobState.RUNNING else None
        finished = now if state not in (JobState.PENDING, JobState.RUNNING) else None
        with self._tx() as db:
            db.execute(
                """
                INSERT INTO jobs (run_id, stage, service, state, started_at, finished_at,
                                  error, log_path, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (run_id, stage, service) DO UPDATE SET
                    state = excluded.state,
                    started_at = COALESCE(jobs.started_at, excluded.started_at),
                    finished_at = excluded.finished_at,
                    error = excluded.error,
                    log_path = COALESCE(excluded.log_path, jobs.log_path),
                    detail = CASE WHEN excluded.detail = '{}' THEN jobs.detail
                                  ELSE excluded.detail END
                """,
                (
                    run_id,
                    stage.value,
                    service,
                    state.value,
                    started,
                    finished,
                    error,
                    log_path,
                    json.dumps(detail or {}, sort_keys=True),
                ),
            )

    def jobs(self, run_id: str) -> list[Job]:
        rows = self._db().execute("SELECT * FROM jobs WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [
            Job(
                run_id=r["run_id"],
                stage=Stage(r["stage"]),
                service=r["service"],
                state=JobState(r["state"]),
                started_at=r["started_at"],
                finished_at=r["finished_at"],
                error=r["error"],
                log_path=r["log_path"],
                detail=json.loads(r["detail"]),
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ releases

    def next_release_number(self, env: str) -> int:
        row = (
            self._db()
            .execute("SELECT COALESCE(MAX(number), 0) + 1 FROM releases WHERE env = ?", (env,))
            .fetchone()
        )
        return int(row[0])

    def add_release(self, release: Release) -> None:
        services = [s.__dict__ for s in release.services]
        with self._tx() as db:
            db.execute(
                "INSERT INTO releases (env, number, run_id, commit_sha, created_at, services)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    release.env,
                    release.number,
                    release.run_id,
                    release.commit,
                    release.created_at,
                    json.dumps(services, sort_keys=True),
                ),
            )

    def releases(self, env: str, limit: int = 50) -> list[Release]:
        """The environment's releases still kept (not pruned or removed), newest first."""
        rows = self._db().execute(
            "SELECT * FROM releases WHERE env = ? AND gone IS NULL ORDER BY number DESC LIMIT ?",
            (env, limit),
        )
        return [_release(r) for r in rows]

    def release(self, env: str, number: int) -> tuple[Release, str | None] | None:
        """Release `number` of `env` and why it is gone (`pruned`, `removed`; None: kept)."""
        row = (
            self._db()
            .execute("SELECT * FROM releases WHERE env = ? AND number = ?", (env, number))
            .fetchone()
        )
        return (_release(row), row["gone"]) if row is not None else None

    def mark_releases_gone(self, env: str, numbers: Sequence[int], why: str) -> None:
        """Releases pruned (`releases.keep`) or removed with their environment: their rows
        stay (runs name them, numbers are not reused), `releases()` no longer lists them."""
        with self._tx() as db:
            db.executemany(
                "UPDATE releases SET gone = ? WHERE env = ? AND number = ? AND gone IS NULL",
                [(why, env, int(n)) for n in numbers],
            )

    def release_of_run(self, run_id: str) -> Release | None:
        row = (
            self._db()
            .execute("SELECT * FROM releases WHERE run_id = ? ORDER BY number DESC", (run_id,))
            .fetchone()
        )
        return _release(row) if row is not None else None

    def release_numbers(self, env: str) -> set[int]:
        rows = self._db().execute("SELECT number FROM releases WHERE env = ?", (env,))
        return {int(r["number"]) for r in rows}

    def latest_release(self, env: str) -> Release | None:
        found = self.releases(env, limit=1)
        return found[0] if found else None

    # ------------------------------------------------------------------ builds

    def record_build(
        self, key: str, artifact: Artifact, exported: Mapping[str, str], run_id: str
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO builds (key, service, artifact_path, artifact_sha256,"
                " artifact_size, exported, run_id, created_at, layers)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    artifact.service,
                    str(artifact.path),
                    artifact.sha256,
                    artifact.size,
                    json.dumps(dict(exported), sort_keys=True),
                    run_id,
                    time.time(),
                    json.dumps(
                        [
                            {
                                "name": a.name,
                                "path": str(a.path),
                                "sha256": a.sha256,
                                "size": a.size,
                            }
                            for a in artifact.layers
                        ]
                    )
                    if artifact.layers
                    else None,
                ),
            )

    def find_build(self, key: str) -> BuildRecord | None:
        row = self._db().execute("SELECT * FROM builds WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        layers = tuple(
            LayerArtifact(str(d["name"]), Path(d["path"]), str(d["sha256"]), int(d["size"]))
            for d in json.loads(row["layers"] or "[]")
        )
        artifact = Artifact(
            row["service"],
            Path(row["artifact_path"]),
            row["artifact_sha256"],
            row["artifact_size"],
            layers,
        )
        return BuildRecord(key, artifact, json.loads(row["exported"]), row["run_id"])

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _run(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        env=row["env"],
        commit=row["commit_sha"],
        state=RunState(row["state"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        trigger=row["trigger"],
        error=row["error"],
        release=row["release"],
        # before migration 8 (`in row` would look among the values)
        actor=row["actor"] if "actor" in row.keys() else None,  # noqa: SIM118
    )


def _release(row: sqlite3.Row) -> Release:
    services: Sequence[dict[str, str]] = json.loads(row["services"])
    return Release(
        env=row["env"],
        number=row["number"],
        run_id=row["run_id"],
        commit=row["commit_sha"],
        created_at=row["created_at"],
        services=tuple(ReleasedService(**s) for s in services),
    )
