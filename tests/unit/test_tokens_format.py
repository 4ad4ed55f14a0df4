"""Tokens: random, recognisable, found by their id, stored as SHA-256; names checked."""

from __future__ import annotations

import hashlib

import pytest

from shipway.auth import TOKEN_PREFIX, Role, check_role, check_user, new_token, token_digest
from shipway.auth.tokens import token_id
from shipway.errors import ShipwayError


def test_new_tokens_are_random_prefixed_and_name_their_id() -> None:
    made = [new_token() for _ in range(200)]
    assert len({t for _, t in made}) == 200 and len({i for i, _ in made}) == 200
    for tid, token in made:
        assert token.startswith(f"{TOKEN_PREFIX}{tid}_") and len(token) == 60
        assert token_id(token) == tid


def test_the_stored_hash_is_sha256_of_the_token() -> None:
    _, token = new_token()
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in token_digest(token)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "shw_",
        "shw_0123456789ab",
        "ghp_0123456789ab_" + "a" * 43,
        "shw_0123456789AB_" + "a" * 43,
        "shw_0123456789ab_" + "a" * 42,
        "shw_0123456789ab_" + "a" * 43 + "\n",
        "shw_0123456789ab_" + "a" * 42 + "/",
    ],
)
def test_malformed_tokens_name_no_id(text: str) -> None:
    assert token_id(text) is None


@pytest.mark.parametrize(
    "name", ["alice", "a", "Bob.Smith", "lead@example.com", "ci-bot_2", "x" * 64]
)
def test_user_names_accepted(name: str) -> None:
    assert check_user(name) == name


@pytest.mark.parametrize(
    "name", ["", "-alice", "local:root", "a b", "x" * 65, "ali\nce", "é", "../x", "al/ice"]
)
def test_user_names_refused(name: str) -> None:
    with pytest.raises(ShipwayError, match="is not a user name"):
        check_user(name)


def test_roles() -> None:
    assert [check_role(r.value) for r in Role] == list(Role)
    assert [r.rank for r in Role] == [0, 1, 2, 3]
    with pytest.raises(
        ShipwayError, match=r"no role `root` \(known: viewer, deployer, approver, admin\)"
    ):
        check_role("root")
