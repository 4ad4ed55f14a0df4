"""Tokens and the audit log in a real state database: the migration upgrades a database of
the previous version in place, a change and its audit entry are one transaction, and no
token or token hash ever reaches the audit log."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from shipway.auth import AuditEntry, Outcome, Role
from shipway.errors import NotFound, ShipwayError
from shipway.model import RunState
from shipway.store import sqlite as store_module
from shipway.store.sqlite import Store
from shipway.usecases import audit, tokens
from shipway.usecases.audit import Actor

ACTOR = Actor("local:tester", "cli@test")
PROJECT = {
    "shipway.yml": (
        "project: p\nenvironments:\n  dev: {branch: dev}\n  qa: {branch: qa}\n"
        "  prod: {branch: main, approval: {before: deploy, approvers: [lead]}}\n"
    ),
    "services/s/serverless.yml": "service: s\nprovider: {name: aws, runtime: python3.13}\n",
}


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(PROJECT)


def test_a_database_of_the_previous_version_is_upgraded_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "shipway.db"
    with monkeypatch.context() as m:
        m.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:6])
        old = Store(path)
        old._db().execute(  # as that version wrote a run (its Store read no `actor`)
            "INSERT INTO runs (id, env, seq, commit_sha, state, trigger, created_at)"
            " VALUES ('dev-1', 'dev', 1, ?, ?, 'cli', 0)",
            ("a" * 40, RunState.SUCCEEDED.value),
        )
        assert old._db().execute("PRAGMA user_version").fetchone()[0] == 6
        old.close()
    store = Store(path)
    db = store._db()
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(store_module.MIGRATIONS) == 10
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "tokens", "audit", "stages", "approvals"} <= tables
    assert [r.id for r in store.runs()] == ["dev-1"]  # the history is still there
    assert store.tokens() == [] and store.audit_entries() == []
    store.close()
    Store(path).close()  # opening again migrates nothing and fails nothing


def test_create_and_revoke_write_the_token_and_its_entry_together(
    repo: Path, tmp_path: Path
) -> None:
    store = Store(tmp_path / "shipway.db")
    created = tokens.create(store, repo, "alice", "deployer", ["qa", "dev", "qa"], ACTOR)
    record = created.record
    assert (record.user, record.role, record.envs) == ("alice", Role.DEPLOYER, ("qa", "dev"))
    assert store.tokens() == [record]
    [entry] = store.audit_entries()
    assert (entry.who, entry.action, entry.outcome, entry.target, entry.origin) == (
        "local:tester",
        "token.create",
        Outcome.ALLOWED,
        record.id,
        "cli@test",
    )
    assert entry.detail == "token for `alice`, role deployer, in qa, dev"

    revoked, now = tokens.revoke(store, record.id, ACTOR)
    assert now and revoked.revoked_at is not None
    again, now = tokens.revoke(store, record.id, ACTOR)
    assert not now and again.revoked_at == revoked.revoked_at  # nothing changed or logged
    assert [e.action for e in store.audit_entries()] == ["token.revoke", "token.create"]
    with pytest.raises(NotFound, match="no token `nope`"):
        tokens.revoke(store, "nope", ACTOR)

    # an audit entry that cannot be written takes its change with it
    carol = tokens.create(store, repo, "carol", "admin", [], ACTOR).record
    store._db().execute(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        tokens.create(store, repo, "bob", "viewer", [], ACTOR)
    with pytest.raises(sqlite3.IntegrityError):
        tokens.revoke(store, carol.id, ACTOR)
    assert [(t.user, t.revoked) for t in store.tokens()] == [("alice", True), ("carol", False)]
    assert len(store.audit_entries()) == 3
    store.close()


def test_bad_names_are_refused_before_anything_is_written(repo: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "shipway.db")
    for user, role, envs, said in [
        ("alice", "deployer", ["dev", "staging"], "no environment `staging` in shipway.yml"),
        ("alice", "root", [], "no role `root`"),
        ("local:root", "admin", [], "`local:root` is not a user name"),
    ]:
        with pytest.raises(ShipwayError, match=said):
            tokens.create(store, repo, user, role, envs, ACTOR)
    assert store.tokens() == [] and store.audit_entries() == []
    store.close()


def test_no_token_or_token_hash_reaches_the_audit_log(repo: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "shipway.db")
    made = [tokens.create(store, repo, f"u{n}", "admin", [], ACTOR) for n in range(3)]
    for c in made[:2]:
        tokens.revoke(store, c.record.id, ACTOR)
    assert tokens.verify(store, made[2].token) is not None
    # whoever writes an entry, a token in its words is cut to its id
    leaked = store.audit(
        ACTOR.entry(
            "run.start",
            Outcome.REFUSED,
            target=made[2].token,
            env="dev",
            detail=f"Authorization: Bearer {made[2].token}",
        )
    )
    assert leaked.detail == f"Authorization: Bearer shw_{made[2].record.id}_***"
    secrets = [c.token for c in made]
    digests = []
    for c in made:
        found = store.token_and_digest(c.record.id)
        assert found is not None and len(found[1]) == 64
        digests.append(found[1])
    rows = store._db().execute("SELECT * FROM audit").fetchall()
    assert len(rows) == 6
    for row in rows:
        for value in tuple(row):
            for secret in [*secrets, *digests]:
                assert secret not in str(value)
            assert "shw_" not in str(value) or "_***" in str(value)
    listing = [t.as_dict() for t in tokens.listing(store)]
    assert not any(s in repr(listing) for s in [*secrets, *digests])
    store.close()
    # and the token itself is written nowhere in the database's files
    for f in tmp_path.glob("shipway.db*"):
        assert not any(s.encode() in f.read_bytes() for s in secrets), f


def test_refused_attempts_and_entries_newest_first(tmp_path: Path) -> None:
    store = Store(tmp_path / "shipway.db")
    for n in range(5):
        store.audit(
            AuditEntry(
                "alice",
                "run.approve",
                Outcome.REFUSED if n % 2 else Outcome.ALLOWED,
                target=f"prod-{n}",
                env="prod" if n < 3 else "dev",
                detail="only `lead` may decide approvals in `prod`",
                origin="127.0.0.1",
                token_id="0123456789ab",
            )
        )
    newest = audit.entries(store, limit=3)
    assert [e.target for e in newest] == ["prod-4", "prod-3", "prod-2"]
    assert [e.outcome.value for e in newest] == ["allowed", "refused", "allowed"]
    assert [e.target for e in audit.entries(store, env="prod")] == ["prod-2", "prod-1", "prod-0"]
    assert newest[0].as_dict()["token_id"] == "0123456789ab" and newest[0].at > 0
    with pytest.raises(ShipwayError, match="--limit must be 1 to 10000"):
        audit.entries(store, limit=0)
    store.close()
