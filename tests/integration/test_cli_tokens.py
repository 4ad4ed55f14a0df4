"""`shipway token create / list / revoke` and `shipway audit` as a user runs them, with
local access to the state directory alone (no server)."""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Callable
from pathlib import Path

import pytest

from shipway.model import RunState
from shipway.store import sqlite as store_module
from shipway.store.sqlite import Store
from shipway.usecases.tokens import verify
from tests.integration.cli import shipway, shipway_json

PROJECT = {
    "shipway.yml": (
        "project: p\nenvironments:\n  dev: {branch: dev}\n  qa: {branch: qa}\n"
        "  prod: {branch: main}\n"
    ),
    "services/s/serverless.yml": "service: s\nprovider: {name: aws, runtime: python3.13}\n",
}


def test_tokens_are_shown_once_kept_as_hashes_and_every_change_is_audited(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(PROJECT)
    plain = shipway("token", "create", "--user", "alice", "--role", "deployer", repo=repo)
    assert plain.returncode == 0, plain.stderr
    alice_token = plain.stdout.strip()  # stdout is the token alone: TOKEN=$(shipway token …)
    assert alice_token.startswith("shw_") and "\n" not in alice_token
    assert "shown this once" in plain.stderr and "every environment" in plain.stderr
    made = shipway_json(
        "token", "create", "--user", "lead", "--role", "approver", "--env", "prod",
        "--env", "qa", repo=repo,
    )  # fmt: skip
    assert (made["user"], made["role"], made["envs"]) == ("lead", "approver", ["prod", "qa"])
    assert made["token"].startswith(f"shw_{made['id']}_") and made["revoked_at"] is None
    secrets = [alice_token, made["token"]]

    listed = shipway_json("token", "list", repo=repo)
    assert [(t["user"], t["role"], t["envs"]) for t in listed] == [
        ("alice", "deployer", []),
        ("lead", "approver", ["prod", "qa"]),
    ]
    table = shipway("token", "list", repo=repo)
    assert table.returncode == 0 and made["id"] in table.stdout and "prod,qa" in table.stdout

    # the token made at the command line is what the server will accept, until revoked
    store = Store(repo / ".shipway" / "shipway.db")
    found = verify(store, f"Bearer {made['token']}")
    assert found is not None and (found.id, found.user) == (made["id"], "lead")
    assert verify(store, made["token"][:-2] + "xx") is None
    store.close()
    used = {t["id"]: t for t in shipway_json("token", "list", repo=repo)}
    assert used[made["id"]]["last_used_at"] is not None

    revoked = shipway("token", "revoke", made["id"], repo=repo)
    assert revoked.returncode == 0 and f"revoked token `{made['id']}` of `lead`" in revoked.stdout
    again = shipway("token", "revoke", made["id"], repo=repo)
    assert again.returncode == 0 and "already revoked" in again.stdout
    store = Store(repo / ".shipway" / "shipway.db")
    assert verify(store, made["token"]) is None
    store.close()

    entries = shipway_json("audit", repo=repo)
    who = f"local:{pwd.getpwuid(os.getuid()).pw_name}"
    assert [(e["who"], e["action"], e["target"], e["outcome"]) for e in entries] == [
        (who, "token.revoke", made["id"], "allowed"),
        (who, "token.create", made["id"], "allowed"),
        (who, "token.create", listed[0]["id"], "allowed"),
    ]
    assert entries[1]["detail"] == "token for `lead`, role approver, in prod, qa"
    assert all(e["origin"].startswith("cli@") for e in entries)
    assert [e["action"] for e in shipway_json("audit", "--limit", "1", repo=repo)] == [
        "token.revoke"
    ]
    text = shipway("audit", repo=repo)
    assert text.returncode == 0 and text.stdout.splitlines()[0].split()[2] == who

    # neither a token nor its hash in any listing, and no token in any file of the state
    reads = [("token", "list"), ("token", "list", "--json"), ("audit",), ("audit", "--json")]
    shown = "".join(shipway(*args, repo=repo).stdout for args in reads)
    assert "shw_" not in shown and '"digest"' not in shown
    store = Store(repo / ".shipway" / "shipway.db")
    digests = [d for _, d in (store.token_and_digest(t["id"]) or ("", "") for t in listed)]
    store.close()
    assert all(len(d) == 64 and d not in shown for d in digests)
    for f in (repo / ".shipway").rglob("*"):
        if f.is_file():
            assert not any(s.encode() in f.read_bytes() for s in secrets), f


def test_bad_names_exit_2_naming_them_and_write_nothing(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(PROJECT)
    for args, said in [
        (("--user", "alice", "--role", "viewer", "--env", "staging"), "no environment `staging`"),
        (("--user", "alice", "--role", "viewer", "--env", "Prod"), "no environment `Prod`"),
        (("--user", "local:root", "--role", "admin"), "`local:root` is not a user name"),
        (("--user", "a b", "--role", "admin"), "`a b` is not a user name"),
        (("--user", "alice", "--role", "root"), "'root' is not one of"),
    ]:
        proc = shipway("token", "create", *args, repo=repo)
        assert proc.returncode == 2 and said in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    missing = shipway("token", "revoke", "0123456789ab", repo=repo)
    assert missing.returncode == 2 and "no token `0123456789ab`" in missing.stderr
    assert shipway("audit", "--limit", "0", repo=repo).returncode == 2
    assert shipway_json("token", "list", repo=repo) == []
    assert json.loads(shipway("audit", "--json", repo=repo).stdout) == []


def test_a_state_directory_of_the_previous_version_takes_tokens_and_keeps_its_runs(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(PROJECT)
    with monkeypatch.context() as m:  # the database as the release before tokens left it
        m.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:6])
        old = Store(repo / ".shipway" / "shipway.db")
        old.create_run("dev", "a" * 40, "cli", RunState.FAILED)
        old.close()
    proc = shipway("token", "create", "--user", "ci", "--role", "deployer", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert [t["user"] for t in shipway_json("token", "list", repo=repo)] == ["ci"]
    assert [r["id"] for r in shipway_json("runs", repo=repo)] == ["dev-1"]
    assert [e["action"] for e in shipway_json("audit", repo=repo)] == ["token.create"]
