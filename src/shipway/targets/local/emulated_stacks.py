"""A local release's stacks on the emulator, deployed as the AWS target deploys stacks.

Each service's template, as `emulated_template` keeps it, goes through the AWS target's
own path (targets/aws: a stack per service, the deployment bucket first, change sets,
outputs, all or none with the stacks this deploy changed put back). What comes back is
every function's environment values that were CloudFormation expressions, resolved by the
emulator (`{Ref: UsersTable}` -> the table's name on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.errors import DeployFailed
from shipway.model import Artifact, DeployInput, DeployRequest, ServiceDefinition, ServiceOutcome
from shipway.targets.aws.deployer import Deployer
from shipway.targets.aws.release import deploy_release
from shipway.targets.aws.stacks import stack_of, stack_tags, template_of
from shipway.targets.local.emulated_template import EmulatedTemplate, emulated_template
from shipway.targets.local.emulator import ACCOUNT, emulator_client

__all__ = ["EmulatedStack", "deploy_stacks", "put_back_stacks", "resolved_environment"]

# create_stack / update_stack rather than change sets: moto's change sets leave a stack's
# outputs as they were, and the outputs are what the functions read
_DIRECT = {"provider": {"deploymentMethod": "direct"}}
# the server's emulator answers in its own threads: a few calls at once keep it busy
_PUT_BACK_THREADS = 2


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
    wanted, by_region = _inputs(stacks)
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


def put_back_stacks(endpoint: str, stacks: Sequence[EmulatedStack]) -> None:
    """The stacks of a release already deployed (and checked) once, created again on a
    fresh emulator — the server's, as it starts: no change sets, events or outputs to
    follow, so it costs one create and one look per stack. A wave at a time (an export
    before its `Fn::ImportValue`), its stacks concurrently. Raises DeployFailed naming the
    service whose stack did not come back."""
    _, by_region = _inputs(stacks)
    items = [(region, item) for region, listed in by_region.items() for item in listed]
    needs = {i.definition.service: i.depends_on for _, i in items}
    level: dict[str, int] = {}

    def wave_of(service: str, seen: frozenset[str] = frozenset()) -> int:
        if service not in level:  # a cycle cannot be released: `seen` only guards
            deps = [d for d in needs.get(service, ()) if d in needs and d not in seen]
            level[service] = 1 + max((wave_of(d, seen | {service}) for d in deps), default=-1)
        return level[service]

    for service in needs:
        wave_of(service)
    clients = {region: emulator_client(endpoint, region) for region in by_region}

    def create(region: str, item: DeployInput) -> None:
        client, stack = clients[region], stack_of(item)
        client.create_stack(stack, template_of(item), stack_tags(item))
        final = client.wait_for_stack(stack)  # moto creates at once: one look
        if final is None or final.status != "CREATE_COMPLETE":
            error = DeployFailed(
                f"on the local AWS emulator: stack `{stack}` is "
                f"{final.status if final else 'gone'} (`{item.definition.service}`)"
            )
            error.service = item.definition.service
            raise error

    with ThreadPoolExecutor(max_workers=_PUT_BACK_THREADS) as pool:
        for wave in sorted(set(level.values())):
            chosen = [(r, i) for r, i in items if level[i.definition.service] == wave]
            for future in [pool.submit(create, r, i) for r, i in chosen]:
                future.result()


def _inputs(
    stacks: Sequence[EmulatedStack],
) -> tuple[list[tuple[EmulatedStack, EmulatedTemplate]], dict[str, list[DeployInput]]]:
    """The stacks that hold something for the emulator, and their deploy inputs by region."""
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
    return wanted, by_region


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
