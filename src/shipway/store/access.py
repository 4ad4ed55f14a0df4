"""API tokens and the audit log in the state database (part of `Store`).

A token is kept as its SHA-256 alone, beside its record; the audit log is append-only
(nothing here updates or deletes an entry). A change that is audited writes its entry in
the same transaction as the change (`_write_audit` inside the change's `_tx`), so there
is never a change without its entry nor an entry for a change that did not happen.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager

from shipway.auth import AuditEntry, Outcome, Role, TokenRecord
from shipway.auth.tokens import scrub
from shipway.errors import NotFound

# the schema migration that made these tables (MIGRATIONS[6] in sqlite.py, where the order
# of every migration is kept); never edited once released, like every migration
ACCESS_SCHEMA = """
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        digest TEXT NOT NULL,
        user TEXT NOT NULL,
        role TEXT NOT NULL,
        envs TEXT NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        last_used_at REAL,
        revoked_at REAL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        who TEXT NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'refused')),
        target TEXT,
        env TEXT,
        detail TEXT NOT NULL,
        origin TEXT NOT NULL,
        token_id TEXT
    );
    CREATE INDEX audit_by_env ON audit (env, id DESC);
"""

# last_used_at is written at most this often per token, so that a server's reads do not
# each become a write
TOUCH_INTERVAL_S = 60.0


class AccessRecords:
    """Tokens and audit entries; `Store` provides the connection and transactions."""

    def _db(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    # ------------------------------------------------------------------ tokens

    def add_token(self, record: TokenRecord, digest: str, entry: AuditEntry) -> None:
        """A new token (its hash, never the token) and the audit entry saying so."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO tokens (id, digest, user, role, envs, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    digest,
                    record.user,
                    record.role.value,
                    json.dumps(list(record.envs)),
                    record.created_at,
                    record.created_by,
                ),
            )
            _write_audit(db, entry)

    def tokens(self) -> list[TokenRecord]:
        """Every token, revoked ones too, oldest first."""
        rows = self._db().execute("SELECT * FROM tokens ORDER BY created_at, id")
        return [_token(r) for r in rows]

    def token(self, token_id: str) -> TokenRecord:
        row = self._db().execute("SELECT * FROM tokens WHERE id = ?", (token_id,)).fetchone()
        if row is None:
            raise NotFound(f"no token `{token_id[:40]}`", hint="`shipway token list` lists them")
        return _token(row)

    def token_and_digest(self, token_id: str) -> tuple[TokenRecord, str] | None:
        """A token's record and stored hash, for checking a presented token alone."""
        row = self._db().execute("SELECT * FROM tokens WHERE id = ?", (token_id,)).fetchone()
        return (_token(row), str(row["digest"])) if row is not None else None

    def revoke_token(self, token_id: str, entry: AuditEntry) -> tuple[TokenRecord, bool]:
        """Revoke a token (with its audit entry); one already revoked stays as it was, and
        nothing is written. Returns the record as it is now and whether this call revoked
        it (of two at once, one does)."""
        with self._tx() as db:
            found = db.execute("SELECT * FROM tokens WHERE id = ?", (token_id,)).fetchone()
            if found is None:
                raise NotFound(
                    f"no token `{token_id[:40]}`", hint="`shipway token list` lists them"
                )
            revoking = found["revoked_at"] is None
            if revoking:
                db.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (time.time(), token_id))
                _write_audit(db, entry)
        return self.token(token_id), revoking

    def touch_token(self, token_id: str, now: float | None = None) -> None:
        """Note that a token was just used (at most every TOUCH_INTERVAL_S)."""
        now = time.time() if now is None else now
        with self._tx() as db:
            db.execute(
                "UPDATE tokens SET last_used_at = ?"
                " WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
                (now, token_id, now - TOUCH_INTERVAL_S),
            )

    # ------------------------------------------------------------------ audit

    def audit(self, entry: AuditEntry) -> AuditEntry:
        """Record one write or refused attempt that has no change of its own to share a
        transaction with (a refusal, a request answered 403). Returns it as stored."""
        with self._tx() as db:
            return _write_audit(db, entry)

    def audit_entries(self, limit: int = 50, env: str | None = None) -> list[AuditEntry]:
        """The newest `limit` entries (of `env` alone when given), newest first."""
        if env is None:
            rows = self._db().execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self._db().execute(
                "SELECT * FROM audit WHERE env = ? ORDER BY id DESC LIMIT ?", (env, limit)
            )
        return [_entry(r) for r in rows]


def _write_audit(db: sqlite3.Connection, entry: AuditEntry) -> AuditEntry:
    """Append `entry` within the caller's transaction. Its words pass `scrub` first: a
    token-shaped string never reaches the log whole, whoever wrote the detail."""
    at = time.time()
    texts = [scrub(t) if t is not None else None for t in (entry.target, entry.detail)]
    cursor = db.execute(
        "INSERT INTO audit (at, who, action, outcome, target, env, detail, origin, token_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            at,
            scrub(entry.who),
            entry.action,
            entry.outcome.value,
            texts[0],
            entry.env,
            texts[1] or "",
            scrub(entry.origin),
            entry.token_id,
        ),
    )
    row = db.execute("SELECT * FROM audit WHERE id = ?", (cursor.lastrowid,)).fetchone()
    return _entry(row)


def _token(row: sqlite3.Row) -> TokenRecord:
    envs: Sequence[str] = json.loads(row["envs"])
    return TokenRecord(
        id=row["id"],
        user=row["user"],
        role=Role(row["role"]),
        envs=tuple(envs),
        created_at=row["created_at"],
        created_by=row["created_by"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        who=row["who"],
        action=row["action"],
        outcome=Outcome(row["outcome"]),
        target=row["target"],
        env=row["env"],
        detail=row["detail"],
        origin=row["origin"],
        token_id=row["token_id"],
        at=row["at"],
        id=row["id"],
    )
