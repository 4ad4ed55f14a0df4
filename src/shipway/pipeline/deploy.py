"""The deploy stage's inputs, made from a run's plan and builds for the Target protocol.

`deploy_request` gives every service its definition, artifact and dependencies, and for
aws targets the synthesized CloudFormation template (code key `code_key(...)`, the
content hash of the zip) and the stack name. `CfPreparer` is the protocol's `prepare`
hook: a service whose `${cf:<service>-<stage>.Output}` names a stack of this repository
is resolved again once that stack deployed in the run, with the outputs it has now.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shipway.errors import ShipwayError
from shipway.model import (
    ApplyResult,
    Artifact,
    AwsTarget,
    DeployAction,
    DeployInput,
    DeployPlan,
    DeployRequest,
    Environment,
    JobState,
    Release,
    ReleasedService,
    ServiceDefinition,
    ServiceOutcome,
    ServiceResult,
    StackEvent,
    code_key,
)
from shipway.pipeline.plan import RunPlan, ServicePlan, load_definition, own_stacks
from shipway.targets.protocol import EventSink, Prepare

__all__ = [
    "CfPreparer",
    "DeployHooks",
    "DeployJob",
    "deploy_jobs",
    "deploy_request",
    "failure_summary",
    "outcome_message",
    "released_services",
    "template_for",
    "with_templates",
]

_DEPLOYMENT = "ApiGatewayDeployment"


def deploy_request(
    plan: RunPlan, artifacts: Mapping[str, Artifact], force: bool = False
) -> DeployRequest:
    """Every service of the run, in deploy order, as the environment's target takes it.
    A template that cannot be synthesized is a ShipwayError here, before any change."""
    aws = isinstance(plan.environment.target, AwsTarget)
    items = []
    for name in (n for wave in plan.waves for n in wave):
        sp = plan.service(name)
        artifact = artifacts[name]
        template, stack = template_for(sp, sp.definition, artifact) if aws else (None, "")
        items.append(DeployInput(sp.definition, artifact, sp.service.depends_on, template, stack))
    return DeployRequest(plan.environment.name, plan.commit, tuple(items), force=force)


def with_templates(plan: RunPlan, request: DeployRequest, services: Sequence[str]) -> DeployRequest:
    """`request` with the templates of `services` synthesized (the local target's: only
    the services it deploys need one, for the stacks its AWS emulator holds)."""
    wanted = set(services)
    items = []
    for item in request.services:
        name = item.definition.service
        if name in wanted and item.template is None:
            template, stack = template_for(plan.service(name), item.definition, item.artifact)
            item = replace(item, template=template, stack=stack)
        items.append(item)
    return replace(request, services=tuple(items))


def template_for(
    sp: ServicePlan, definition: ServiceDefinition, artifact: Artifact
) -> tuple[dict[str, Any], str]:
    """(the service's CloudFormation template, its stack name)."""
    from shipway.synth.template import stack_name, synthesize
    from shipway.targets.aws.custom_resources import custom_resources_zip

    handlers = custom_resources_zip().sha256
    template = synthesize(
        definition,
        artifact_key=code_key(definition.service, definition.stage, artifact.sha256),
        code_sha256=artifact.sha256,
        source=sp.service.config_path,
        layer_artifacts={layer.name: layer for layer in artifact.layers},
        # content-addressed like the code: a changed layer is a new key, so a new version
        layer_keys={
            layer.name: code_key(definition.service, definition.stage, layer.sha256)
            for layer in artifact.layers
        },
        custom_resources_key=code_key(definition.service, definition.stage, handlers),
        # `forceDeploy`: the Framework's Date.now(), so that its custom resource runs again
        deploy_time_ms=int(time.time() * 1000),
    )
    return content_deployment_id(template), stack_name(definition)


def content_deployment_id(template: dict[str, Any]) -> dict[str, Any]:
    """The REST API's `ApiGatewayDeployment<n>` named by the template's content instead
    of the deploy time: a changed API gets a new deployment (its stage serves the new
    routes), an unchanged template stays identical (no change set at all)."""
    old = f"{_DEPLOYMENT}0"
    if old not in (template.get("Resources") or {}):
        return template
    digest = hashlib.sha256(canonical_json(template).encode()).hexdigest()
    new = f"{_DEPLOYMENT}{int(digest[:12], 16) % 10**13:013d}"
    # the resources keep their order (moto creates them in it)
    text = json.dumps(template, separators=(",", ":"))
    out: dict[str, Any] = json.loads(text.replace(f'"{old}"', f'"{new}"'))
    return out


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class DeployHooks:
    """A target's `on_event` and `prepare`, bound once the run exists: the target is made,
    and its credentials checked, before the run is recorded."""

    def __init__(self) -> None:
        self.on_event: EventSink | None = None
        self.prepare: Prepare | None = None

    def event(self, service: str, event: StackEvent) -> None:
        if self.on_event is not None:
            self.on_event(service, event)

    def prepared(self, item: DeployInput, outputs: Mapping[str, Mapping[str, str]]) -> DeployInput:
        return item if self.prepare is None else self.prepare(item, outputs)


class CfPreparer:
    """The `prepare` hook of a run (aws targets): a service that read a stack of this
    repository through `${cf:…}` is resolved again when that stack's outputs in the run
    differ from what planning read (a first deploy: the output did not exist yet), and
    its template synthesized again. Every service handed to the target is remembered
    (`prepared`): the release records what was deployed."""

    def __init__(self, plan: RunPlan, workspace: Path) -> None:
        self.plan = plan
        self.workspace = workspace
        self.prepared: dict[str, DeployInput] = {}
        self._lock = threading.Lock()

    def __call__(self, item: DeployInput, outputs: Mapping[str, Mapping[str, str]]) -> DeployInput:
        name = item.definition.service
        sp = self.plan.service(name)
        if any(
            stack in outputs and outputs[stack].get(output) != seen
            for (stack, output), seen in sp.cf_reads.items()
        ):
            item = self._again(sp, item, outputs)
        check_prepared(item)
        with self._lock:
            self.prepared[name] = item
        return item

    def _again(
        self, sp: ServicePlan, item: DeployInput, outputs: Mapping[str, Mapping[str, str]]
    ) -> DeployInput:
        env: Environment = self.plan.environment
        stacks = own_stacks(self.plan.project, env) or {}
        known: dict[str, Mapping[str, str] | None] = {s: outputs.get(s) for s in stacks}
        definition = load_definition(
            self.workspace, env, sp.service, sp.env_values, own_stacks=known
        )
        template, stack = template_for(sp, definition, item.artifact)
        return replace(item, definition=definition, template=template, stack=stack)


@dataclass(frozen=True)
class DeployJob:
    """A service's deploy job as the run records it after the target's apply."""

    service: str
    state: JobState
    elapsed: float
    message: str
    detail: Mapping[str, object] | None = None


def deploy_jobs(
    plan: DeployPlan, result: ApplyResult, number: int | None, elapsed: float
) -> list[DeployJob]:
    """Each service's deploy job after the apply: the release it went into (`number`), or,
    for a release that did not go through (None), what failed, what was rolled back and
    what could not be. A service the plan left unchanged is skipped, with why; after a
    failure it gets no job when nothing of it was touched."""
    jobs = []
    for change in plan.changes:
        done = result.result(change.service)
        detail = {"outcome": done.outcome.value, "stack": done.stack} if done.stack else None
        planned = change.action == DeployAction.DEPLOY
        if done.outcome == ServiceOutcome.UNCHANGED:
            if planned or number is not None:  # its deploy found nothing to change
                why = (done.message or change.reason) if planned else change.reason
                jobs.append(DeployJob(change.service, JobState.SKIPPED, 0.0, why, detail))
            continue
        if number is not None and done.outcome == ServiceOutcome.DEPLOYED:
            why = change.reason
            if done.message and done.message != change.reason:
                why += f"; {done.message}"
            message = f"release {number} ({why})"
            jobs.append(DeployJob(change.service, JobState.SUCCEEDED, elapsed, message, detail))
            continue
        state = JobState.SKIPPED if done.outcome == ServiceOutcome.NOT_STARTED else JobState.FAILED
        message = outcome_message(done) or (result.error or "failed")
        jobs.append(DeployJob(change.service, state, elapsed, message, detail))
    return jobs


def released_services(
    request: DeployRequest,
    result: ApplyResult,
    live: Release | None,
    prepared: Mapping[str, DeployInput],
) -> tuple[list[ReleasedService], list[tuple[DeployInput, str]]]:
    """(the release's services, each with the commit that deployed its content — an
    unchanged one keeps the live release's —; each service as deployed, with that commit,
    for the release record)."""
    before = {s.name: s for s in live.services} if live else {}
    released = []
    kept = []
    for item in request.services:
        name = item.definition.service
        earlier = before.get(name)
        commit = request.commit
        if result.result(name).outcome != ServiceOutcome.DEPLOYED and earlier is not None:
            commit = earlier.commit
        released.append(ReleasedService(name, commit, item.artifact.sha256))
        kept.append((prepared.get(name, item), commit))
    return released, kept


def outcome_message(result: ServiceResult) -> str:
    """One line for a service's deploy job after a release that did not go through."""
    text = result.message
    if result.outcome == ServiceOutcome.ROLLED_BACK:
        return f"rolled back: {text}" if text else "rolled back"
    if result.outcome == ServiceOutcome.ROLLBACK_FAILED:
        return f"COULD NOT roll back: {text}"
    if result.outcome == ServiceOutcome.NOT_STARTED:
        return f"not started: {text or 'another service failed'}"
    if result.outcome == ServiceOutcome.FAILED and result.failed_event is not None:
        line = result.failed_event.line()
        return text if line in text else f"{text} ({line})"
    return text


def failure_summary(result: ApplyResult, services: Sequence[str]) -> str:
    """The run's error for a release that failed: the target's summary, else the names."""
    if result.error:
        return result.error
    failed = [r.service for r in result.services if r.outcome == ServiceOutcome.FAILED]
    return "failed: " + ", ".join(f"`{n}`" for n in failed or services)


def check_prepared(item: DeployInput) -> None:
    """A template still holding a pending `${cf:}` value must never be deployed."""
    if item.template is not None and "(pending: output " in json.dumps(item.template):
        raise ShipwayError(
            f"service `{item.definition.service}`: a `${{cf:…}}` of a stack of this "
            "repository is not resolved",
            hint="name the service in `depends_on`, or check the stack and output names",
        )
