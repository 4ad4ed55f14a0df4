"""`authorize`: the one rule the server asks before it serves a request.

Viewers read; deployers also start, cancel and retry runs and roll back; approvers also
decide approvals in their environments (an environment's `approval.approvers`, when it
lists users, names who may decide; without a list any approver may); admins do
everything. A token scoped to environments acts only in them, and what belongs to no one
environment (tokens, the audit log, adding environments) needs an admin token that is not
scoped. Deployers and viewers never decide an approval, whatever a list says.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from shipway.auth.records import Role, TokenRecord
from shipway.model import Environment


class Action(Enum):
    """What a request does; the values are the names the audit log records."""

    READ = "read"
    RUN_START = "run.start"
    RUN_CANCEL = "run.cancel"
    RUN_RETRY = "run.retry"
    ROLLBACK = "rollback"
    APPROVE = "run.approve"
    REJECT = "run.reject"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    TOKEN_LIST = "token.list"
    AUDIT_READ = "audit.read"
    ENV_ADD = "env.add"
    ENV_REMOVE = "env.remove"


DEPLOYING = frozenset({Action.RUN_START, Action.RUN_CANCEL, Action.RUN_RETRY, Action.ROLLBACK})
DECIDING = frozenset({Action.APPROVE, Action.REJECT})
# what changes or shows more than one environment: an unscoped admin's alone
GLOBAL_ADMIN = frozenset(
    {
        Action.TOKEN_CREATE,
        Action.TOKEN_REVOKE,
        Action.TOKEN_LIST,
        Action.AUDIT_READ,
        Action.ENV_ADD,
        Action.ENV_REMOVE,
    }
)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # why, in words fit for a 403 answer and the audit log


def _allow(reason: str) -> Decision:
    return Decision(True, reason)


def _refuse(reason: str) -> Decision:
    return Decision(False, reason)


def authorize(token: TokenRecord, action: Action, env: Environment | None) -> Decision:
    """May `token` do `action` (in `env`, None for what is no one environment's)?

    A READ without an environment (a listing) is allowed to every token: the caller shows
    a scoped token only the environments `token.sees`."""
    who = f"`{token.user}` ({token.role.value})"
    if token.revoked:
        return _refuse(f"token `{token.id}` is revoked")
    if action in GLOBAL_ADMIN:
        if token.role is not Role.ADMIN:
            return _refuse(f"{who} may not {action.value}: it needs the admin role")
        if token.envs:
            return _refuse(
                f"{who} is scoped to {_names(token.envs)}; {action.value} needs an admin"
                " token for every environment"
            )
        return _allow(f"{who} may {action.value}")
    if env is None:
        if action is Action.READ:
            return _allow(f"{who} may read")
        return _refuse(f"{action.value} is done in one environment: name it")
    if token.envs and env.name not in token.envs:
        return _refuse(f"{who} acts only in {_names(token.envs)}, not in `{env.name}`")
    if action is Action.READ:
        return _allow(f"{who} may read `{env.name}`")
    if action in DEPLOYING:
        if token.role.rank < Role.DEPLOYER.rank:
            return _refuse(f"{who} may only read; {action.value} needs the deployer role")
        return _allow(f"{who} may {action.value} in `{env.name}`")
    if action in DECIDING:
        return _decide(token, who, action, env)
    raise AssertionError(f"no rule for {action}")  # pragma: no cover - every Action has one


def _decide(token: TokenRecord, who: str, action: Action, env: Environment) -> Decision:
    if token.role is Role.ADMIN:
        return _allow(f"{who} may decide approvals in `{env.name}`")
    if token.role is not Role.APPROVER:
        return _refuse(f"{who} may not decide approvals: it needs the approver role")
    approvers = env.approval.approvers if env.approval else ()
    if approvers and token.user not in approvers:
        return _refuse(f"only {_names(approvers)} may decide approvals in `{env.name}`")
    return _allow(f"{who} may decide approvals in `{env.name}`")


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(f"`{n}`" for n in names)
