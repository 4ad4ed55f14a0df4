"""Runs as persisted state machines (part of `Store`): their stages, the queue of each
environment, approvals, cancel and retry.

SQLite is the queue. Every transition is one `BEGIN IMMEDIATE` transaction that checks the
state it leaves, so two processes (a server, a CLI) never both move one run, and a change
that is audited writes its entry in the same transaction (access.py).

The queue of an environment: at most one run is active (`running` or `awaiting_approval`)
at a time; the others wait `queued`, oldest first. In `superseded` mode a new run replaces
every older run still waiting before its build (queued, or awaiting an approval before
build), as CodePipeline's SUPERSEDED mode; in `queued` mode every run waits its turn.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from shipway.auth import AuditEntry
from shipway.errors import Conflict, NotFound
from shipway.model import Approval, JobState, Run, RunState, Stage, StageRun, StageState
from shipway.store.access import _write_audit

# MIGRATIONS[7] in sqlite.py; never edited once released
QUEUE_SCHEMA = """
    ALTER TABLE runs ADD COLUMN actor TEXT;
    ALTER TABLE runs ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE runs ADD COLUMN cancel_requested TEXT;
    CREATE TABLE stages (
        run_id TEXT NOT NULL REFERENCES runs (id),
        stage TEXT NOT NULL,
        position INTEGER NOT NULL,
        state TEXT NOT NULL,
        started_at REAL,
        finished_at REAL,
        error TEXT,
        PRIMARY KEY (run_id, stage)
    );
    CREATE TABLE approvals (
        run_id TEXT PRIMARY KEY REFERENCES runs (id),
        before TEXT NOT NULL,
        approvers TEXT NOT NULL,
        requested_at REAL NOT NULL,
        expires_at REAL,
        decision TEXT,
        decided_by TEXT,
        comment TEXT,
        decided_at REAL,
        summary TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX approvals_waiting ON approvals (decision, expires_at);
    CREATE INDEX runs_by_env_state ON runs (env, state, seq)
"""

ACTIVE = (RunState.RUNNING.value, RunState.AWAITING_APPROVAL.value)


class QueueRecords:
    """`Store` provides the connection, transactions and run reads."""

    def _db(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def run(self, run_id: str) -> Run:
        raise NotImplementedError

    # ------------------------------------------------------------------ submit

    def queue_run(
        self,
        env: str,
        commit: str,
        trigger: str,
        stages: Sequence[Stage],
        *,
        actor: str,
        owner: str | None,
        options: dict[str, Any] | None = None,
        supersede: bool = True,
        entry: AuditEntry | None = None,
        failed: str | None = None,
    ) -> tuple[Run, list[str]]:
        """A new run, `queued`, with its stages `pending`; in superseded mode every older run
        of `env` still waiting before its build is superseded by it, in the same
        transaction. `owner`: the process that drives it (None: whichever server serves).
        `failed`: the run is recorded as failed with that error (it cannot run at all).
        Returns the run and the ids it superseded."""
        now = time.time()
        with self._tx() as db:
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM runs WHERE env = ?", (env,)
            ).fetchone()[0]
            run_id = f"{env}-{seq}"
            db.execute(
                "INSERT INTO runs (id, env, seq, commit_sha, state, trigger, created_at, owner,"
                " actor, options) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    env,
                    seq,
                    commit,
                    RunState.QUEUED.value,
                    trigger,
                    now,
                    owner,
                    actor,
                    json.dumps(options or {}, sort_keys=True),
                ),
            )
            db.executemany(
                "INSERT INTO stages (run_id, stage, position, state) VALUES (?, ?, ?, ?)",
                [(run_id, s.value, i, StageState.PENDING.value) for i, s in enumerate(stages)],
            )
            superseded = self._supersede_waiting(db, env, seq, run_id, commit) if supersede else []
            if failed is not None:  # recorded as it ended, in the same transaction
                self._end(db, run_id, RunState.FAILED, failed)
            if entry is not None:
                _write_audit(db, _with_target(entry, run_id))
        return self.run(run_id), superseded

    def record_refused_run(
        self, env: str, commit: str, trigger: str, actor: str, error: Exception
    ) -> Run:
        """A pushed commit that cannot run (its files do not load): a run that failed at
        Source, saying why, so that the push is seen rather than lost."""
        run, _ = self.queue_run(
            env,
            commit,
            trigger,
            (Stage.SOURCE,),
            actor=actor,
            owner=None,
            supersede=False,
            failed=f"the commit cannot run: {error}",
        )
        return run

    def _supersede_waiting(
        self, db: sqlite3.Connection, env: str, seq: int, by: str, commit: str
    ) -> list[str]:
        rows = db.execute(
            "SELECT r.id FROM runs r WHERE r.env = ? AND r.seq < ? AND (r.state = ? OR"
            " (r.state = ? AND EXISTS (SELECT 1 FROM stages s WHERE s.run_id = r.id"
            "  AND s.stage = ? AND s.state = ?)))",
            (
                env,
                seq,
                RunState.QUEUED.value,
                RunState.AWAITING_APPROVAL.value,
                Stage.BUILD.value,
                StageState.PENDING.value,
            ),
        ).fetchall()
        ids = [r["id"] for r in rows]
        why = f"superseded by run {by} (commit {commit[:12]}) before its build"
        for run_id in ids:
            self._end(db, run_id, RunState.SUPERSEDED, why, decision="superseded", by=by)
        return ids

    # ------------------------------------------------------------------ the queue

    def claimable_runs(self, limit: int = 100) -> list[str]:
        """Queued runs whose turn it is (no active run of their environment, no older queued
        one), oldest first. Only runs no live process drives (owner NULL) are offered."""
        rows = self._db().execute(
            "SELECT r.id FROM runs r WHERE r.state = ? AND r.owner IS NULL AND NOT EXISTS ("
            " SELECT 1 FROM runs o WHERE o.env = r.env AND o.id != r.id AND"
            " (o.state IN (?, ?) OR (o.state = ? AND o.seq < r.seq)))"
            " ORDER BY r.created_at LIMIT ?",
            (RunState.QUEUED.value, *ACTIVE, RunState.QUEUED.value, limit),
        )
        return [r["id"] for r in rows]

    def claim_run(self, run_id: str, owner: str, adopt: bool = False) -> Run | None:
        """Make `owner` the process that drives `run_id`, if it is the run's turn: the run is
        `queued`, no other run of its environment is active and none older waits. `adopt`:
        also when another owner was named (the server takes a run the CLI handed it).
        None when it is not its turn (or it is no longer queued)."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None or row["state"] != RunState.QUEUED.value:
                return None
            if row["owner"] not in (None, owner) and not adopt:
                return None
            blocked = db.execute(
                "SELECT 1 FROM runs WHERE env = ? AND id != ? AND"
                " (state IN (?, ?) OR (state = ? AND seq < ?)) LIMIT 1",
                (row["env"], run_id, *ACTIVE, RunState.QUEUED.value, row["seq"]),
            ).fetchone()
            if blocked is not None:
                return None
            db.execute(
                "UPDATE runs SET state = ?, owner = ?, started_at = COALESCE(started_at, ?)"
                " WHERE id = ?",
                (RunState.RUNNING.value, owner, time.time(), run_id),
            )
        return self.run(run_id)

    def waiting_for(self, run_id: str) -> Run | None:
        """The run of the same environment that `run_id` (queued) waits behind, if any."""
        me = self.run(run_id)
        row = (
            self._db()
            .execute(
                "SELECT id FROM runs WHERE env = ? AND id != ? AND"
                " (state IN (?, ?) OR (state = ? AND seq < ?)) ORDER BY seq LIMIT 1",
                (me.env, run_id, *ACTIVE, RunState.QUEUED.value, _seq(run_id)),
            )
            .fetchone()
        )
        return self.run(row["id"]) if row is not None else None

    def queue_depth(self, env: str | None = None) -> int:
        if env is None:
            row = self._db().execute(
                "SELECT COUNT(*) FROM runs WHERE state = ?", (RunState.QUEUED.value,)
            )
        else:
            row = self._db().execute(
                "SELECT COUNT(*) FROM runs WHERE env = ? AND state = ?",
                (env, RunState.QUEUED.value),
            )
        return int(row.fetchone()[0])

    def handed_to_server(self, run_id: str) -> None:
        """The process that queued `run_id` leaves it to the server (owner NULL)."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET owner = NULL WHERE id = ? AND state = ?",
                (run_id, RunState.QUEUED.value),
            )

    # ------------------------------------------------------------------ stages

    def stages(self, run_id: str) -> list[StageRun]:
        rows = self._db().execute(
            "SELECT * FROM stages WHERE run_id = ? ORDER BY position", (run_id,)
        )
        return [_stage(r) for r in rows]

    def set_stage(
        self, run_id: str, stage: Stage, state: StageState, error: str | None = None
    ) -> None:
        now = time.time()
        started = now if state == StageState.RUNNING else None
        finished = now if state not in (StageState.RUNNING, StageState.WAITING) else None
        with self._tx() as db:
            db.execute(
                "UPDATE stages SET state = ?, started_at = COALESCE(started_at, ?),"
                " finished_at = ?, error = ? WHERE run_id = ? AND stage = ?",
                (state.value, started, finished, error, run_id, stage.value),
            )

    def finish_run(
        self, run_id: str, state: RunState, error: str | None, release: int | None = None
    ) -> Run:
        """End a run: its unfinished stages are skipped (failed where one was running)."""
        with self._tx() as db:
            self._end(db, run_id, state, error, release=release)
        return self.run(run_id)

    def _end(
        self,
        db: sqlite3.Connection,
        run_id: str,
        state: RunState,
        error: str | None,
        *,
        release: int | None = None,
        decision: str | None = None,
        by: str | None = None,
    ) -> None:
        now = time.time()
        db.execute(
            "UPDATE runs SET state = ?, finished_at = ?, error = ?, owner = NULL,"
            " release = COALESCE(?, release) WHERE id = ?",
            (state.value, now, error, release, run_id),
        )
        ended_well = state in (RunState.SUCCEEDED, RunState.SUPERSEDED)
        failed = StageState.SKIPPED if ended_well else StageState.FAILED
        db.execute(
            "UPDATE stages SET state = ?, finished_at = ?, error = COALESCE(error, ?)"
            " WHERE run_id = ? AND state IN (?, ?)",
            (failed.value, now, error, run_id, StageState.RUNNING.value, StageState.WAITING.value),
        )
        db.execute(
            "UPDATE stages SET state = ?, finished_at = ? WHERE run_id = ? AND state = ?",
            (StageState.SKIPPED.value, now, run_id, StageState.PENDING.value),
        )
        db.execute(
            "UPDATE jobs SET state = ?, finished_at = ? WHERE run_id = ? AND state IN (?, ?)",
            (JobState.SKIPPED.value, now, run_id, JobState.PENDING.value, JobState.RUNNING.value),
        )
        if decision is not None:
            db.execute(
                "UPDATE approvals SET decision = ?, decided_by = ?, decided_at = ?"
                " WHERE run_id = ? AND decision IS NULL",
                (decision, by, now, run_id),
            )

    # ------------------------------------------------------------------ approvals

    def await_approval(
        self,
        run_id: str,
        before: str,
        approvers: Sequence[str],
        timeout_s: int | None,
        summary: dict[str, Any],
    ) -> Approval:
        """The run waits for a person: its approval stage `waiting`, the run
        `awaiting_approval` and driven by no process. An approval already asked for (the
        run was claimed again after a restart) keeps its time and expiry."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO approvals (run_id, before, approvers, requested_at, expires_at,"
                " summary) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
                (
                    run_id,
                    before,
                    json.dumps(list(approvers)),
                    now,
                    now + timeout_s if timeout_s else None,
                    json.dumps(summary, sort_keys=True, default=str),
                ),
            )
            db.execute(
                "UPDATE stages SET state = ?, started_at = COALESCE(started_at, ?)"
                " WHERE run_id = ? AND stage = ?",
                (StageState.WAITING.value, now, run_id, Stage.APPROVAL.value),
            )
            db.execute(
                "UPDATE runs SET state = ?, owner = NULL WHERE id = ? AND state = ?",
                (RunState.AWAITING_APPROVAL.value, run_id, RunState.RUNNING.value),
            )
        found = self.approval(run_id)
        assert found is not None
        return found

    def approval(self, run_id: str) -> Approval | None:
        row = self._db().execute("SELECT * FROM approvals WHERE run_id = ?", (run_id,)).fetchone()
        return _approval(row) if row is not None else None

    def waiting_approvals(self) -> list[Approval]:
        rows = self._db().execute(
            "SELECT a.* FROM approvals a JOIN runs r ON r.id = a.run_id"
            " WHERE a.decision IS NULL AND r.state = ? ORDER BY a.requested_at",
            (RunState.AWAITING_APPROVAL.value,),
        )
        return [_approval(r) for r in rows]

    def decide(
        self,
        run_id: str,
        approved: bool,
        who: str,
        comment: str | None,
        entry: AuditEntry,
        owner: str | None,
    ) -> Run:
        """Approve (the run is `queued` again, its approval stage done; `owner` drives it
        on, None: the server) or reject (the run ends `rejected`)."""
        now = time.time()
        with self._tx() as db:
            row = db.execute(
                "SELECT r.state, a.decision FROM runs r LEFT JOIN approvals a ON a.run_id = r.id"
                " WHERE r.id = ?",
                (run_id,),
            ).fetchone()
            if row is None:
                raise NotFound(f"no run `{run_id}`", hint="`shipway runs` lists them")
            if row["state"] != RunState.AWAITING_APPROVAL.value or row["decision"] is not None:
                raise Conflict(
                    f"run `{run_id}` is {row['state']}, not awaiting approval",
                    hint="`shipway runs` shows which runs wait for a decision",
                )
            decision = "approved" if approved else "rejected"
            db.execute(
                "UPDATE approvals SET decision = ?, decided_by = ?, comment = ?, decided_at = ?"
                " WHERE run_id = ?",
                (decision, who, comment, now, run_id),
            )
            if approved:
                db.execute(
                    "UPDATE stages SET state = ?, finished_at = ? WHERE run_id = ? AND stage = ?",
                    (StageState.SUCCEEDED.value, now, run_id, Stage.APPROVAL.value),
                )
                db.execute(
                    "UPDATE runs SET state = ?, owner = ? WHERE id = ?",
                    (RunState.QUEUED.value, owner, run_id),
                )
            else:
                why = f"rejected by {who}" + (f": {comment}" if comment else "")
                self._end(db, run_id, RunState.REJECTED, why)
            _write_audit(db, entry)
        return self.run(run_id)

    def expire_approvals(self, now: float | None = None) -> list[str]:
        """Runs whose approval was not decided within its timeout end `expired`."""
        now = time.time() if now is None else now
        rows = (
            self._db()
            .execute(
                "SELECT a.run_id, a.expires_at FROM approvals a JOIN runs r ON r.id = a.run_id"
                " WHERE a.decision IS NULL AND a.expires_at IS NOT NULL AND a.expires_at <= ?"
                " AND r.state = ?",
                (now, RunState.AWAITING_APPROVAL.value),
            )
            .fetchall()
        )
        expired = []
        for r in rows:
            with self._tx() as db:
                still = db.execute(
                    "SELECT 1 FROM approvals WHERE run_id = ? AND decision IS NULL", (r["run_id"],)
                ).fetchone()
                if still is None:
                    continue
                self._end(
                    db,
                    r["run_id"],
                    RunState.EXPIRED,
                    "expired: no decision within the approval's timeout",
                    decision="expired",
                    by="shipway",
                )
            expired.append(r["run_id"])
        return expired

    # ------------------------------------------------------------------ cancel, retry

    def cancel_run(self, run_id: str, who: str, entry: AuditEntry) -> Run:
        """A waiting run ends `cancelled` at once; a running one is asked to stop (its
        driver ends it at its next step, stopping its builds). A deploy in progress is never
        stopped halfway: the environment must stay on one whole release."""
        with self._tx() as db:
            row = db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFound(f"no run `{run_id}`", hint="`shipway runs` lists them")
            state = RunState(row["state"])
            if state.finished:
                raise Conflict(f"run `{run_id}` has already ended ({state.value})")
            why = f"cancelled by {who}"
            if state == RunState.RUNNING:
                deploying = db.execute(
                    "SELECT 1 FROM stages WHERE run_id = ? AND stage = ? AND state = ?",
                    (run_id, Stage.DEPLOY.value, StageState.RUNNING.value),
                ).fetchone()
                if deploying is not None:
                    raise Conflict(
                        f"run `{run_id}` is deploying; a deploy is not stopped halfway",
                        hint="it ends on one whole release: roll back after it if need be",
                    )
                db.execute("UPDATE runs SET cancel_requested = ? WHERE id = ?", (why, run_id))
            else:
                self._end(db, run_id, RunState.CANCELLED, why, decision="cancelled", by=who)
            _write_audit(db, entry)
        return self.run(run_id)

    def cancel_requested(self, run_id: str) -> str | None:
        row = (
            self._db()
            .execute("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,))
            .fetchone()
        )
        return row["cancel_requested"] if row is not None else None

    def retry_run(self, run_id: str, entry: AuditEntry, owner: str | None) -> Run:
        """A failed or interrupted run is `queued` again from its first stage not done;
        what it did before stays (its logs; its builds are reused by their keys)."""
        with self._tx() as db:
            row = db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFound(f"no run `{run_id}`", hint="`shipway runs` lists them")
            if row["state"] not in (RunState.FAILED.value, RunState.INTERRUPTED.value):
                raise Conflict(
                    f"run `{run_id}` is {row['state']}; only a failed or interrupted run is"
                    " retried",
                    hint="`shipway run ENV` starts a new one",
                )
            # from the first stage not done on: the stages skipped after it run too (an
            # approval before deploy that a failed build skipped is asked for then)
            first = db.execute(
                "SELECT MIN(position) FROM stages WHERE run_id = ? AND state NOT IN (?, ?)",
                (run_id, StageState.SUCCEEDED.value, StageState.SKIPPED.value),
            ).fetchone()[0]
            if first is None:
                first = db.execute(
                    "SELECT MIN(position) FROM stages WHERE run_id = ? AND state = ?",
                    (run_id, StageState.SKIPPED.value),
                ).fetchone()[0]
            db.execute(
                "UPDATE stages SET state = ?, started_at = NULL, finished_at = NULL,"
                " error = NULL WHERE run_id = ? AND position >= ?",
                (StageState.PENDING.value, run_id, first if first is not None else 1 << 30),
            )
            db.execute("DELETE FROM approvals WHERE run_id = ? AND decision IS NULL", (run_id,))
            db.execute(
                "UPDATE runs SET state = ?, finished_at = NULL, error = NULL, owner = ?,"
                " cancel_requested = NULL WHERE id = ?",
                (RunState.QUEUED.value, owner, run_id),
            )
            _write_audit(db, entry)
        return self.run(run_id)

    def run_options(self, run_id: str) -> dict[str, Any]:
        row = self._db().execute("SELECT options FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"no run `{run_id}`")
        options: dict[str, Any] = json.loads(row["options"])
        return options


def _seq(run_id: str) -> int:
    return int(run_id.rsplit("-", 1)[1])


def _with_target(entry: AuditEntry, run_id: str) -> AuditEntry:
    from dataclasses import replace

    return replace(entry, target=entry.target or run_id)


def _stage(row: sqlite3.Row) -> StageRun:
    return StageRun(
        run_id=row["run_id"],
        stage=Stage(row["stage"]),
        state=StageState(row["state"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
    )


def _approval(row: sqlite3.Row) -> Approval:
    return Approval(
        run_id=row["run_id"],
        before=row["before"],
        approvers=tuple(json.loads(row["approvers"])),
        requested_at=row["requested_at"],
        expires_at=row["expires_at"],
        decision=row["decision"],
        decided_by=row["decided_by"],
        comment=row["comment"],
        decided_at=row["decided_at"],
        summary=json.loads(row["summary"]),
    )
