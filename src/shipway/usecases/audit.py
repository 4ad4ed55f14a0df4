"""Who is acting, and `shipway audit`: the log of every write and refused attempt."""

from __future__ import annotations

import os
import pwd
import socket
from dataclasses import dataclass

from shipway.auth import Action, AuditEntry, Decision, Outcome, TokenRecord, authorize
from shipway.errors import Forbidden, ShipwayError
from shipway.model import Environment
from shipway.store.sqlite import Store

MAX_LIMIT = 10_000


@dataclass(frozen=True)
class Actor:
    """Who a write is recorded as: a token's user (with its id), or `local:<os user>` for a
    command run with local access to the state directory, which is the bootstrap and needs
    no token (whoever may read the state directory may write it anyway)."""

    who: str
    origin: str
    token_id: str | None = None

    @classmethod
    def of_token(cls, token: TokenRecord, origin: str) -> Actor:
        """The user of a token presented from `origin` (a request's address)."""
        return cls(token.user, origin, token.id)

    def entry(
        self,
        action: str,
        outcome: Outcome = Outcome.ALLOWED,
        *,
        target: str | None = None,
        env: str | None = None,
        detail: str = "",
    ) -> AuditEntry:
        return AuditEntry(
            who=self.who,
            action=action,
            outcome=outcome,
            target=target,
            env=env,
            detail=detail,
            origin=self.origin,
            token_id=self.token_id,
        )


def local_actor() -> Actor:
    """The OS user running this command, on this machine."""
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no passwd entry (containers)
        name = f"uid{uid}"
    return Actor(f"local:{name}", f"cli@{socket.gethostname()}")


def gate(
    store: Store,
    token: TokenRecord,
    action: Action,
    env: Environment | None,
    origin: str,
    target: str | None = None,
) -> Decision:
    """`authorize`, with a refusal written to the audit log (who tried what, where, and
    why not). An allowed write is recorded by the change itself, in its transaction."""
    decision = authorize(token, action, env)
    if not decision.allowed:
        entry = Actor.of_token(token, origin).entry(
            action.value,
            Outcome.REFUSED,
            target=target,
            env=env.name if env else None,
            detail=decision.reason,
        )
        store.audit(entry)
    return decision


def require(
    store: Store,
    token: TokenRecord,
    action: Action,
    env: Environment | None,
    origin: str,
    target: str | None = None,
) -> None:
    """`gate`, raising Forbidden (with the reason) when the token may not."""
    decision = gate(store, token, action, env, origin, target)
    if not decision.allowed:
        raise Forbidden(decision.reason)


def entries(store: Store, limit: int = 50, env: str | None = None) -> list[AuditEntry]:
    """The newest `limit` entries, newest first."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ShipwayError(f"--limit must be 1 to {MAX_LIMIT}, not {limit}")
    return store.audit_entries(limit, env)
