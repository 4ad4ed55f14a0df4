"""The local target behind the `Target` protocol (targets/protocol.py)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence

from shipway.errors import DeployFailed
from shipway.model import (
    ApplyResult,
    Artifact,
    DeployAction,
    DeployPlan,
    DeployRequest,
    ServiceDefinition,
    ServiceOutcome,
    ServiceResult,
)
from shipway.targets.local.authorizer_config import local_notes
from shipway.targets.local.emulated_stacks import EmulatedStack
from shipway.targets.local.runtimes import local_runtime_warnings
from shipway.targets.local.target import LocalTarget

__all__ = ["LocalReleases"]


class LocalReleases:
    """`LocalTarget` speaking the protocol: a release is one folder switched in at once,
    so all-or-none needs no rollback (a failed apply switches nothing)."""

    def __init__(self, local: LocalTarget) -> None:
        self.local = local

    def check(self) -> str:
        return ""  # this machine: no credentials to check

    def plan(self, request: DeployRequest, *, change_sets: bool = False) -> DeployPlan:
        depends = {s.definition.service: s.depends_on for s in request.services}
        return self.local.plan(
            request.env, request.commit, _pairs(request), depends, force=request.force
        )

    def reserve(self, env: str, at_least: int) -> int:
        return max(at_least, max(self.local.store(env).numbers(), default=0) + 1)

    def apply(self, plan: DeployPlan, request: DeployRequest, number: int) -> ApplyResult:
        try:
            self.local.apply(plan, number, _pairs(request), _stacks(request))
        except DeployFailed as exc:
            # the failure is the failed service's; the others were not switched in
            culprit = exc.service
            failed = tuple(
                ServiceResult(c.service, ServiceOutcome.UNCHANGED, message=c.reason)
                if c.action != DeployAction.DEPLOY
                else ServiceResult(c.service, ServiceOutcome.FAILED, message=str(exc))
                if culprit in (None, c.service)
                else ServiceResult(
                    c.service, ServiceOutcome.NOT_STARTED, message=f"`{culprit}` failed"
                )
                for c in plan.changes
            )
            return ApplyResult(request.env, False, failed, str(exc))
        # what the local runtime does differently from AWS, said where the deploy is reported
        # (and the runtimes it cannot run: their requests will fail)
        deployed = set(plan.deployed)
        notes = {
            s.definition.service: [
                *local_notes(s.definition),
                *local_runtime_warnings(s.definition, older=False),
            ]
            for s in request.services
            if s.definition.service in deployed
        }
        return ApplyResult(
            request.env,
            True,
            tuple(
                ServiceResult(
                    c.service,
                    ServiceOutcome.DEPLOYED
                    if c.action == DeployAction.DEPLOY
                    else ServiceOutcome.UNCHANGED,
                    # deploy_jobs puts a message that is not the reason after the reason
                    message="; ".join(f"warning: {n}" for n in notes.get(c.service, ()))
                    or c.reason,
                )
                for c in plan.changes
            ),
        )

    def rollback(self, request: DeployRequest, number: int) -> ApplyResult:
        return self.apply(self.plan(request), request, number)

    def remove(self, env: str, stacks: Sequence[str]) -> ApplyResult:
        """Deletes every release of `env` on this machine (the gateway stops serving it)."""
        store = self.local.store(env)
        shutil.rmtree(store.root, ignore_errors=True)
        return ApplyResult(env, True, ())


def _pairs(request: DeployRequest) -> list[tuple[ServiceDefinition, Artifact]]:
    return [(s.definition, s.artifact) for s in request.services]


def _stacks(request: DeployRequest) -> dict[str, EmulatedStack]:
    """The templates the request carries (the deployed services'), as the emulator's."""
    return {
        s.definition.service: EmulatedStack(
            s.definition.service,
            s.stack or f"{s.definition.service}-{s.definition.stage}",
            s.definition.stage,
            s.definition.region,
            s.template,
            s.depends_on,
        )
        for s in request.services
        if s.template is not None
    }
