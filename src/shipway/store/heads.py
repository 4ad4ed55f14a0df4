"""The branch heads the server last saw of each source it watches (part of `Store`).

A source is the server's own repository (key `repo`) or a remote it polls (the key is a
digest of its URL, since a URL may carry a credential and state files hold none). Knowing
what was seen lets a restarted server start the runs of pushes made while it was down,
and lets the poller tell a moved branch from one it has already run. A source with no
`sources` row has never been looked at: its first look only records what is there.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager

# MIGRATIONS[8] in sqlite.py; never edited once released, like every migration
HEADS_SCHEMA = """
    CREATE TABLE sources (
        key TEXT PRIMARY KEY,
        seen_at REAL NOT NULL
    );
    CREATE TABLE heads (
        source TEXT NOT NULL REFERENCES sources (key) ON DELETE CASCADE,
        branch TEXT NOT NULL,
        sha TEXT NOT NULL,
        PRIMARY KEY (source, branch)
    );
"""

OWN_REPOSITORY = "repo"


def source_key(url: str) -> str:
    """The key a remote's heads are kept under: not its URL, which may hold a credential."""
    return "url:" + hashlib.sha256(url.encode()).hexdigest()[:32]


class HeadRecords:
    """`Store` provides the connection and transactions."""

    def _db(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def seen_heads(self, source: str) -> dict[str, str] | None:
        """branch -> sha last seen of `source`; None when it was never looked at."""
        db = self._db()
        if db.execute("SELECT 1 FROM sources WHERE key = ?", (source,)).fetchone() is None:
            return None
        rows = db.execute("SELECT branch, sha FROM heads WHERE source = ?", (source,))
        return {r["branch"]: r["sha"] for r in rows}

    def saw_heads(
        self, source: str, heads: Mapping[str, str | None], complete: bool = False
    ) -> None:
        """Record `heads` (branch -> sha; None: the branch is gone) of `source`; with
        `complete`, they are all its branches, and any other kept one is gone. Some heads
        of a source never looked at whole are not recorded: its first complete look must
        not take every other branch for a new one."""
        with self._tx() as db:
            known = db.execute("SELECT 1 FROM sources WHERE key = ?", (source,)).fetchone()
            if known is None and not complete:
                return
            db.execute(
                "INSERT INTO sources (key, seen_at) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET seen_at = excluded.seen_at",
                (source, time.time()),
            )
            if complete:
                db.execute("DELETE FROM heads WHERE source = ?", (source,))
            for branch, sha in heads.items():
                if sha is None:
                    db.execute(
                        "DELETE FROM heads WHERE source = ? AND branch = ?", (source, branch)
                    )
                else:
                    db.execute(
                        "INSERT INTO heads (source, branch, sha) VALUES (?, ?, ?)"
                        " ON CONFLICT (source, branch) DO UPDATE SET sha = excluded.sha",
                        (source, branch, sha),
                    )
