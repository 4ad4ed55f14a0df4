"""`gate`: what the server asks before a write; a refusal lands in the audit log."""

from __future__ import annotations

from pathlib import Path

from shipway.auth import Action, Outcome
from shipway.model import ApprovalPolicy, Environment, LocalTarget
from shipway.store.sqlite import Store
from shipway.usecases import tokens
from shipway.usecases.audit import Actor, gate

PROD = Environment("prod", "main", LocalTarget(), approval=ApprovalPolicy("deploy", ("lead",)))


def test_a_refused_attempt_is_audited_with_who_where_and_why(tmp_path: Path) -> None:
    store = Store(tmp_path / "shipway.db")
    bootstrap = Actor("local:tester", "cli@test")
    alice = tokens.create(store, tmp_path, "alice", "approver", [], bootstrap).record
    lead = tokens.create(store, tmp_path, "lead", "approver", [], bootstrap).record

    refused = gate(store, alice, Action.APPROVE, PROD, "127.0.0.1", target="prod-3")
    assert not refused.allowed
    allowed = gate(store, lead, Action.APPROVE, PROD, "127.0.0.1", target="prod-3")
    assert allowed.allowed
    newest = store.audit_entries(limit=1)[0]
    assert newest.as_dict() | {"at": 0, "id": 0} == {
        "at": 0,
        "id": 0,
        "who": "alice",
        "action": "run.approve",
        "outcome": Outcome.REFUSED.value,
        "target": "prod-3",
        "env": "prod",
        "detail": "only `lead` may decide approvals in `prod`",
        "origin": "127.0.0.1",
        "token_id": alice.id,
    }
    # the allowed decision wrote nothing: its change will, in its own transaction
    assert [e.action for e in store.audit_entries()] == [
        "run.approve",
        "token.create",
        "token.create",
    ]
    store.close()
