"""Deciding, cancelling and retrying runs, and what a run shows: who may, what is audited.

With a token (the server's API) the decision is `authorize`'s (auth/policy.py); a refusal
is audited and raised as Forbidden. Without one, the caller has local access to the state
directory, which is the bootstrap and may do what an admin may, with one exception: where
an environment's approval names its approvers, a local user decides only if named there
(a push's author running `shipway approve` on the server's machine is not a listed lead).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipway.auth import Action, Outcome, TokenRecord
from shipway.errors import Forbidden, NotFound
from shipway.model import Environment, Run
from shipway.store.sqlite import Store
from shipway.usecases.audit import Actor, require

__all__ = ["cancel", "check", "decide", "detail", "retry"]


def check(
    store: Store,
    envs: Mapping[str, Environment],
    run: Run,
    action: Action,
    actor: Actor,
    token: TokenRecord | None,
) -> Environment:
    """The run's environment, once `actor` may do `action` to the run; else Forbidden."""
    env = envs.get(run.env)
    if env is None:
        raise NotFound(f"environment `{run.env}` of run `{run.id}` is no longer configured")
    if token is not None:
        require(store, token, action, env, actor.origin, target=run.id)
        return env
    approvers = env.approval.approvers if env.approval else ()
    local_user = actor.who.removeprefix("local:")
    if action in (Action.APPROVE, Action.REJECT) and approvers and local_user not in approvers:
        reason = (
            f"only {', '.join(f'`{a}`' for a in approvers)} may decide approvals in"
            f" `{env.name}`, not the local user `{local_user}`"
        )
        store.audit(
            actor.entry(action.value, Outcome.REFUSED, target=run.id, env=env.name, detail=reason)
        )
        raise Forbidden(reason, hint="a listed approver decides (as that OS user on this machine)")
    return env


def decide(
    store: Store,
    envs: Mapping[str, Environment],
    run_id: str,
    approved: bool,
    actor: Actor,
    comment: str | None,
    token: TokenRecord | None = None,
    owner: str | None = None,
) -> Run:
    """Approve or reject the waiting run `run_id`; `owner` is the process that then drives
    an approved run on (None: the server)."""
    run = store.run(run_id)
    action = Action.APPROVE if approved else Action.REJECT
    env = check(store, envs, run, action, actor, token)
    comment = " ".join(comment.split())[:1000] if comment else None
    entry = actor.entry(action.value, target=run_id, env=env.name, detail=comment or "")
    return store.decide(run_id, approved, actor.who, comment, entry, owner)


def cancel(
    store: Store,
    envs: Mapping[str, Environment],
    run_id: str,
    actor: Actor,
    token: TokenRecord | None = None,
) -> Run:
    run = store.run(run_id)
    env = check(store, envs, run, Action.RUN_CANCEL, actor, token)
    entry = actor.entry(Action.RUN_CANCEL.value, target=run_id, env=env.name)
    return store.cancel_run(run_id, actor.who, entry)


def retry(
    store: Store,
    envs: Mapping[str, Environment],
    run_id: str,
    actor: Actor,
    token: TokenRecord | None = None,
    owner: str | None = None,
) -> Run:
    run = store.run(run_id)
    env = check(store, envs, run, Action.RUN_RETRY, actor, token)
    entry = actor.entry(Action.RUN_RETRY.value, target=run_id, env=env.name)
    return store.retry_run(run_id, entry, owner)


def detail(store: Store, run_id: str) -> dict[str, Any]:
    """A run with its stages, its jobs and its approval, as one JSON-able document."""
    run = store.run(run_id)
    approval = store.approval(run_id)
    doc = run.as_dict()
    doc["stages"] = [s.as_dict() for s in store.stages(run_id)]
    doc["jobs"] = [j.as_dict() for j in store.jobs(run_id)]
    doc["approval"] = approval.as_dict() if approval is not None else None
    waiting = store.waiting_for(run_id) if run.state.value == "queued" else None
    doc["waiting_for"] = waiting.id if waiting is not None else None
    return doc
