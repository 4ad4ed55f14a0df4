"""The AWS target: a release is one CloudFormation stack per service, all or none."""

from __future__ import annotations

from collections.abc import Sequence

from shipway import model
from shipway.errors import ShipwayError, WorkFailed
from shipway.model import (
    ApplyResult,
    DeployAction,
    DeployPlan,
    DeployRequest,
    ServiceChange,
    ServiceOutcome,
    ServiceResult,
)
from shipway.targets.aws.deployer import (
    Deployer,
    EventSink,
    StackApi,
    canonical,
    refuse_unusable,
    stack_of,
)
from shipway.targets.aws.release import DEFAULT_BOUND, Prepare, deploy_release
from shipway.targets.aws.stage_settings import stage_drift
from shipway.targets.aws.types import StackInfo

__all__ = ["AwsTarget"]


class AwsTarget:
    """`config`: the environment's `target.aws`. `client`: an `AwsClient` by default (a
    fake in tests). `on_event(service, event)`: each stack event as it arrives."""

    def __init__(
        self,
        config: model.AwsTarget,
        *,
        client: StackApi | None = None,
        on_event: EventSink | None = None,
        bound: int = DEFAULT_BOUND,
        prepare: Prepare | None = None,
    ) -> None:
        if client is None:
            from shipway.targets.aws.client import AwsClient

            client = AwsClient(config.region, config.profile, role_arn=config.role_arn)
        self.config = config
        self.client = client
        self.deployer = Deployer(client, on_event, account=self.check)
        self.bound = bound
        self.prepare = prepare
        self._account: str | None = None

    def check(self) -> str:
        """The account of the credentials, checked against `account` once, before any
        change: missing or wrong credentials stop here (ShipwayError, exit 2)."""
        if self._account is None:
            check = getattr(self.client, "check_account", None)
            self._account = str(check(self.config.account)) if check else ""
        return self._account

    # ------------------------------------------------------------------ protocol

    def plan(self, request: DeployRequest, *, change_sets: bool = False) -> DeployPlan:
        self.check()
        changes: list[ServiceChange] = []
        deployed: set[str] = set()
        for item in request.services:
            name = item.definition.service
            info = self.client.describe_stack(stack_of(item))
            # a stack no deploy may touch stops the release here, before any change
            refuse_unusable(stack_of(item), info)
            if change_sets:
                changed, why, rows = self.deployer.preview(item)
            else:
                why, rows = self._compare(item, info), ()
                changed = why != ""
                why = why or "stack already up to date"
            moved = sorted(d for d in item.depends_on if d in deployed)
            if request.force:
                changed, why = True, "forced"
            elif not changed and moved:
                # its `${cf:…}` may read what the dependency now outputs: looked at again
                changed, why = True, f"dependency {', '.join(f'`{d}`' for d in moved)} deployed"
            if changed:
                deployed.add(name)
            action = DeployAction.DEPLOY if changed else DeployAction.UNCHANGED
            changes.append(ServiceChange(name, action, why, rows))
        return DeployPlan(env=request.env, commit=request.commit, changes=tuple(changes))

    def reserve(self, env: str, at_least: int) -> int:
        return at_least  # stacks hold no release numbers

    def apply(self, plan: DeployPlan, request: DeployRequest, number: int) -> ApplyResult:
        self.check()
        return deploy_release(
            self.deployer,
            request,
            bound=self.bound,
            place=(self.check(), self.config.region),
            prepare=self.prepare,
            only=plan.deployed,
        )

    def rollback(self, request: DeployRequest, number: int) -> ApplyResult:
        """The earlier release's templates (their code keys still in the buckets) deployed
        again: a stack already on them is left alone."""
        return self.apply(self.plan(request), request, number)

    def remove(self, env: str, stacks: Sequence[str]) -> ApplyResult:
        self.check()
        results = []
        errors = []
        for stack in stacks:
            try:
                self.deployer.delete(stack, stack)
            except (ShipwayError, WorkFailed) as exc:
                errors.append(f"`{stack}`: {exc}")
                results.append(ServiceResult(stack, ServiceOutcome.FAILED, stack, str(exc)))
                continue
            results.append(ServiceResult(stack, ServiceOutcome.DEPLOYED, stack, "deleted"))
        error = "; ".join(errors) if errors else None
        return ApplyResult(env=env, ok=not errors, services=tuple(results), error=error)

    # ------------------------------------------------------------------ helpers

    def _compare(self, item: model.DeployInput, info: StackInfo | None) -> str:
        """Why the stack (`info`: as described) must be deployed ("new stack", "template
        changed"), or "" when its live template already is the new one."""
        stack = stack_of(item)
        if info is None or info.status in ("ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"):
            return "new stack"
        if canonical(self.client.get_template(stack)) != canonical(item.template):
            return "template changed"
        if stage_drift(self.client, stack, item, self.check):
            return "API stage settings changed"
        return ""
