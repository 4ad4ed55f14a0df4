"""A local release's stacks on the emulator, deployed as the AWS target deploys stacks.

Each service's template, as `emulated_template` keeps it, goes through the AWS target's
own path (targets/aws: a stack per service, the deployment bucket first, change sets,
outputs, all or none with the stacks this deploy changed put back). What comes back is
every function's environment values that were CloudFormation expressions, resolved by the
emulator (`{Ref: UsersTable}` -> the table's name on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.errors import DeployFailed
from shipway.model import Artifact, DeployInput, DeployRequest, ServiceDefinition, ServiceOutcome
from shipway.targets.aws.deployer import Deployer
from shipway.targets.aws.release import deploy_release
from shipway.targets.local.emulated_template import emulated_template
from shipway.targets.local.emulator import ACCOUNT, emulator_client

__all__ = ["EmulatedStack", "deploy_stacks", "resolved_environment"]

# create_stack / update_stack rather than change sets: moto's change sets leave a stack's
# outputs as they were, and the outputs are what the functions read
_DIRECT = {"provider": {"deploymentMethod": "direct"}}


@dataclass(frozen=True)
class EmulatedStack:
    """One service's stack for the emulator: `template` as `serverless package` writes it
    (emulated_template makes the emulator's copy)."""

    service: str
    stack: str
    stage: str
    region: str
    template: Mapping[str, Any]
    depends_on: tuple[str, ...] = ()


def deploy_stacks(
    endpoint: str, env: str, stacks: Sequence[EmulatedStack]
) -> dict[str, dict[str, dict[str, str]]]:
    """Every stack deployed on the emulator at `endpoint`, or none (DeployFailed naming the
    service; the stacks this call changed are put back). Returns service -> function name
    -> variable -> its value on the emulator (only expressions)."""
    held = {s.service: (s, emulated_template(s.template)) for s in stacks}
    wanted = [(s, e) for s, e in held.values() if e.template is not None]
    by_region: dict[str, list[DeployInput]] = {}
    for spec, emulated in wanted:
        definition = ServiceDefinition(
            spec.service, spec.stage, spec.region, "", (), resolved=_DIRECT
        )
        item = DeployInput(
            definition,
            Artifact(spec.service, Path(), "", 0),  # no code: the local runtime runs it
            tuple(d for d in spec.depends_on if d in held),
            emulated.template,
            spec.stack,
        )
        by_region.setdefault(spec.region, []).append(item)
    outputs: dict[str, Mapping[str, str]] = {}
    for region, items in by_region.items():
        client = emulator_client(endpoint, region)
        deployer = Deployer(client, account=lambda: ACCOUNT)
        result = deploy_release(deployer, _request(env, items))
        if not result.ok:
            failed = next(
                (r.service for r in result.services if r.outcome is ServiceOutcome.FAILED), None
            )
            error = DeployFailed(f"on the local AWS emulator: {result.error}")
            error.service = failed
            raise error
        for done in result.services:
            outputs[done.service] = done.outputs
    resolved: dict[str, dict[str, dict[str, str]]] = {}
    for spec, emulated in wanted:
        mine = outputs.get(spec.service) or {}
        resolved[spec.service] = {
            fn: {var: mine[key] for var, key in keys.items() if key in mine}
            for fn, keys in emulated.env_outputs.items()
        }
    return resolved


def resolved_environment(endpoint: str, stack: EmulatedStack) -> dict[str, dict[str, str]]:
    """Function name -> variable -> value, read from a stack already on the emulator."""
    emulated = emulated_template(stack.template)
    if emulated.template is None:
        return {}
    outputs = emulator_client(endpoint, stack.region).stack_outputs(stack.stack) or {}
    return {
        fn: {var: outputs[key] for var, key in keys.items() if key in outputs}
        for fn, keys in emulated.env_outputs.items()
    }


def _request(env: str, items: list[DeployInput]) -> DeployRequest:
    return DeployRequest(env=env, commit="", services=tuple(items))
