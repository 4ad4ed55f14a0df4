"""`authorize` over the whole matrix: every role x every action x a token for every
environment, one scoped to the environment and one scoped elsewhere x an environment with
no approvers list, with the token's user listed, and with other users listed."""

from __future__ import annotations

import itertools

import pytest

from shipway.auth import Action, Role, TokenRecord, authorize
from shipway.model import ApprovalPolicy, Environment, LocalTarget

READS = {Action.READ}
DEPLOYS = {Action.RUN_START, Action.RUN_CANCEL, Action.RUN_RETRY, Action.ROLLBACK}
DECIDES = {Action.APPROVE, Action.REJECT}
GLOBAL = {
    Action.TOKEN_CREATE,
    Action.TOKEN_REVOKE,
    Action.TOKEN_LIST,
    Action.AUDIT_READ,
    Action.ENV_ADD,
    Action.ENV_REMOVE,
}
# what each role may do in an environment it may act in, approvers list permitting
IN_ENV = {
    Role.VIEWER: READS,
    Role.DEPLOYER: READS | DEPLOYS,
    Role.APPROVER: READS | DEPLOYS | DECIDES,
    Role.ADMIN: READS | DEPLOYS | DECIDES,
}
SCOPES = {"every": (), "prod": ("prod",), "elsewhere": ("dev", "qa")}
LISTS = {"no list": None, "listed": ("lead", "alice"), "not listed": ("lead",)}


def _token(role: Role, envs: tuple[str, ...], user: str = "alice") -> TokenRecord:
    return TokenRecord("0123456789ab", user, role, envs, 1.0, "local:test")


def _prod(approvers: tuple[str, ...] | None) -> Environment:
    approval = ApprovalPolicy("deploy", approvers) if approvers is not None else None
    return Environment("prod", "main", LocalTarget(), approval=approval)


def test_every_action_is_in_the_matrix() -> None:
    assert set(Action) == READS | DEPLOYS | DECIDES | GLOBAL


@pytest.mark.parametrize(
    ("role", "action", "scope", "listing"),
    list(itertools.product(Role, Action, SCOPES, LISTS)),
    ids=lambda v: getattr(v, "value", v),
)
def test_in_an_environment(role: Role, action: Action, scope: str, listing: str) -> None:
    token = _token(role, SCOPES[scope])
    decision = authorize(token, action, _prod(LISTS[listing]))
    if action in GLOBAL:
        expected = role is Role.ADMIN and scope == "every"
    elif scope == "elsewhere":
        expected = False
    elif action in DECIDES and role is Role.APPROVER and listing == "not listed":
        expected = False
    else:
        expected = action in IN_ENV[role]
    assert decision.allowed is expected, decision.reason
    assert decision.reason


@pytest.mark.parametrize(
    ("role", "action", "scope"),
    list(itertools.product(Role, Action, SCOPES)),
    ids=lambda v: getattr(v, "value", v),
)
def test_without_an_environment(role: Role, action: Action, scope: str) -> None:
    decision = authorize(_token(role, SCOPES[scope]), action, None)
    if action in GLOBAL:
        expected = role is Role.ADMIN and scope == "every"
    else:
        # a listing is for everyone (shown per `sees`); the rest happens in one environment
        expected = action is Action.READ
    assert decision.allowed is expected, decision.reason


@pytest.mark.parametrize("action", sorted(Action, key=lambda a: a.value), ids=lambda a: a.value)
def test_a_revoked_token_may_do_nothing(action: Action) -> None:
    token = TokenRecord("0123456789ab", "root", Role.ADMIN, (), 1.0, "local:test", None, 2.0)
    for env in (None, _prod(None)):
        decision = authorize(token, action, env)
        assert not decision.allowed and "revoked" in decision.reason


def test_reasons_say_who_and_why() -> None:
    prod = _prod(("lead",))
    refused = authorize(_token(Role.APPROVER, ()), Action.APPROVE, prod)
    assert refused.reason == "only `lead` may decide approvals in `prod`"
    assert "deployer role" in authorize(_token(Role.VIEWER, ()), Action.RUN_START, prod).reason
    elsewhere = authorize(_token(Role.ADMIN, ("dev", "qa")), Action.RUN_START, prod)
    assert elsewhere.reason == "`alice` (admin) acts only in `dev`, `qa`, not in `prod`"
    # a deployer named in the list still may not decide: the role says so first
    listed_deployer = authorize(_token(Role.DEPLOYER, (), user="lead"), Action.REJECT, prod)
    assert not listed_deployer.allowed and "approver role" in listed_deployer.reason
    # an admin decides even where the list names someone else
    assert authorize(_token(Role.ADMIN, ("prod",)), Action.APPROVE, prod).allowed


def test_sees_limits_a_scoped_token_to_its_environments() -> None:
    assert _token(Role.VIEWER, ()).sees("anything")
    scoped = _token(Role.VIEWER, ("dev",))
    assert scoped.sees("dev") and not scoped.sees("prod")
