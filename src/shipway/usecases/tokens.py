"""`shipway token create / list / revoke`, and `verify`: a presented token to its record.

Creating a token needs only local access to the state directory (the bootstrap: the first
admin token is made before any server runs). The token is shown once and only its SHA-256
is kept, so a copy of the database grants nothing.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shipway.auth import Action, Role, TokenRecord, check_role, check_user, new_token
from shipway.auth import token_digest as digest_of
from shipway.auth.tokens import token_id
from shipway.config.project import load_environments
from shipway.pipeline.plan import environment
from shipway.store.sqlite import Store
from shipway.usecases.audit import Actor

__all__ = ["Created", "create", "listing", "revoke", "verify"]


@dataclass(frozen=True)
class Created:
    record: TokenRecord
    token: str  # shown once, to the one who made it; stored nowhere

    def as_dict(self) -> dict[str, object]:
        return {"token": self.token, **self.record.as_dict()}


def create(
    store: Store, repo: Path, user: str, role: str, envs: Sequence[str], actor: Actor
) -> Created:
    """A new token for `user` with `role`, acting in `envs` (none: every environment).
    Every name is checked before anything is written; the token and its audit entry are
    written in one transaction."""
    checked_user = check_user(user)
    checked_role: Role = check_role(role)
    scope = tuple(dict.fromkeys(envs))
    if scope:
        known = load_environments(repo)
        for name in scope:
            environment(known, name)  # NotFound naming it and the known ones: exit 2
    tid, token = new_token()
    record = TokenRecord(tid, checked_user, checked_role, scope, time.time(), actor.who)
    where = ", ".join(scope) if scope else "every environment"
    detail = f"token for `{checked_user}`, role {checked_role.value}, in {where}"
    store.add_token(
        record, digest_of(token), actor.entry(Action.TOKEN_CREATE.value, target=tid, detail=detail)
    )
    return Created(record, token)


def listing(store: Store) -> list[TokenRecord]:
    return store.tokens()


def revoke(store: Store, tid: str, actor: Actor) -> tuple[TokenRecord, bool]:
    """Revoke token `tid`: (its record now, whether this call revoked it)."""
    before = store.token(tid)  # NotFound: exit 2
    detail = f"token of `{before.user}`, role {before.role.value}"
    entry = actor.entry(Action.TOKEN_REVOKE.value, target=tid, detail=detail)
    return store.revoke_token(tid, entry)


def verify(store: Store, bearer: str) -> TokenRecord | None:
    """The record of the token presented (the token, or an `Authorization` value
    `Bearer <token>`), or None: malformed, unknown, not matching or revoked. The stored hash
    and the presented token's are compared in constant time, so answer times tell nothing of
    how much of a guess was right; the id that finds the record is not secret."""
    presented = bearer.strip()
    scheme, _, rest = presented.partition(" ")
    if scheme.lower() == "bearer":
        presented = rest.strip()
    tid = token_id(presented)
    if tid is None:
        return None
    found = store.token_and_digest(tid)
    if found is None:
        return None
    record, stored = found
    if not hmac.compare_digest(stored, digest_of(presented)) or record.revoked:
        return None
    store.touch_token(record.id)
    return store.token(record.id)
