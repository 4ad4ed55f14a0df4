"""The nouns of identity and audit: a token's record (never its secret) and an audit entry."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Role(Enum):
    """A ladder: each role may do what the ones before it may (admin: everything)."""

    VIEWER = "viewer"
    DEPLOYER = "deployer"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


@dataclass(frozen=True)
class TokenRecord:
    """What is known of a token. Neither the token nor its hash is part of it, so no
    listing, JSON document or message made from a record can carry either."""

    id: str
    user: str
    role: Role
    envs: tuple[str, ...]  # the environments it acts in; empty: every environment
    created_at: float
    created_by: str
    last_used_at: float | None = None
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def sees(self, env: str) -> bool:
        """Whether a listing may show `env` to this token (scoped tokens see their own)."""
        return not self.envs or env in self.envs

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "role": self.role.value,
            "envs": list(self.envs),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }


class Outcome(Enum):
    ALLOWED = "allowed"
    REFUSED = "refused"


@dataclass(frozen=True)
class AuditEntry:
    """One write, or one refused attempt: who did what to which target, from where, when.

    `who` is a token's user, or `local:<os user>` for commands run with local access to
    the state directory (the bootstrap: no token needed). `detail` is plain words and
    never holds a token or a token's hash."""

    who: str
    action: str
    outcome: Outcome
    target: str | None = None  # a run id, a token id …
    env: str | None = None
    detail: str = ""
    origin: str = ""  # `cli@host`, or the address a request came from
    token_id: str | None = None  # the token the request carried, when it carried one
    at: float = 0.0  # set by the store when written
    id: int = 0  # set by the store: the order entries were written in

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "who": self.who,
            "action": self.action,
            "outcome": self.outcome.value,
            "target": self.target,
            "env": self.env,
            "detail": self.detail,
            "origin": self.origin,
            "token_id": self.token_id,
        }
