"""`verify`: a presented token to its record through a real state database."""

from __future__ import annotations

from pathlib import Path

from shipway.auth import Role
from shipway.store.access import TOUCH_INTERVAL_S
from shipway.store.sqlite import Store
from shipway.usecases import tokens
from shipway.usecases.audit import Actor

ACTOR = Actor("local:tester", "cli@test")


def test_verify_accepts_the_token_alone_and_notes_its_use(tmp_path: Path) -> None:
    store = Store(tmp_path / "shipway.db")
    made = tokens.create(store, tmp_path, "alice", "approver", [], ACTOR)
    other = tokens.create(store, tmp_path, "bob", "viewer", [], ACTOR)
    assert made.record.last_used_at is None
    found = tokens.verify(store, made.token)
    assert found is not None and (found.id, found.user, found.role) == (
        made.record.id,
        "alice",
        Role.APPROVER,
    )
    assert found.last_used_at is not None
    assert tokens.verify(store, f"Bearer {made.token}") == found
    assert tokens.verify(store, f"bearer   {made.token} ") == found

    # the right id with another secret, another token's secret, garbage: no one
    tid = made.record.id
    forged = f"shw_{tid}_{other.token.rsplit('_', 1)[1]}"
    flipped = made.token[:-1] + ("A" if made.token[-1] != "A" else "B")
    for bad in [forged, flipped, "", "Bearer", "shw_", made.token[:-1], made.token + "x"]:
        assert tokens.verify(store, bad) is None, bad
    assert tokens.verify(store, "shw_ffffffffffff_" + "a" * 43) is None  # no such id
    assert store.token(other.record.id).last_used_at is None  # never presented

    tokens.revoke(store, tid, ACTOR)
    assert tokens.verify(store, made.token) is None
    store.close()


def test_last_used_is_written_at_most_once_a_minute(tmp_path: Path) -> None:
    store = Store(tmp_path / "shipway.db")
    tid = tokens.create(store, tmp_path, "alice", "viewer", [], ACTOR).record.id
    store.touch_token(tid, now=1000.0)
    store.touch_token(tid, now=1000.0 + TOUCH_INTERVAL_S / 2)
    assert store.token(tid).last_used_at == 1000.0
    store.touch_token(tid, now=1000.0 + TOUCH_INTERVAL_S)
    assert store.token(tid).last_used_at == 1000.0 + TOUCH_INTERVAL_S
    store.close()
