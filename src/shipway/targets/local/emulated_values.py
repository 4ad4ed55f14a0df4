"""A function's environment values that are CloudFormation expressions, as the local AWS
emulator resolves them.

The release keeps `TABLE: {Ref: UsersTable}` as its expression (compact JSON text); while
a server runs the emulator holding the service's stack, the function is started with the
value the stack's outputs give it (emulated_template.py makes one output per expression).
Without an emulator, or for an expression it could not resolve, the text stays.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path

from shipway.config.stack_inputs import is_expression
from shipway.errors import ShipwayError
from shipway.targets.local.deployed_function import DeployedFunction
from shipway.targets.local.emulated_stacks import resolved_environment
from shipway.targets.local.emulator import EmulatorAccess, emulator_client
from shipway.targets.local.release_stacks import load_stacks
from shipway.targets.local.stack_outputs import references, substitute

__all__ = ["emulated_values"]


def emulated_values(
    state_dir: Path,
    release_dir: Path,
    service: str,
    lambda_name: str,
    fn: DeployedFunction,
    endpoints: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """{variable: value on the emulator} for `fn`'s expression values (`lambda_name`: its
    name on AWS, as the template names it) and for the values that reference a sibling
    stack's output (stack_outputs.py); {} without any. `endpoints`: stack -> its endpoint
    outputs (`ServiceEndpoint` …) as the local gateway's URLs, which no emulated stack has."""
    expressions = any(_expression(v) for v in fn.environment.values())
    referencing = {k: v for k, v in fn.environment.items() if references(v)}
    if not expressions and not referencing:
        return {}
    endpoint = EmulatorAccess(state_dir).served()
    out: dict[str, str] = {}
    stacks = load_stacks(release_dir, [service]) if expressions and endpoint else []
    if endpoint and stacks:
        # the emulator gone, or lacking the stack: the text stays
        with contextlib.suppress(ShipwayError):
            out.update(resolved_environment(endpoint, stacks[0]).get(lambda_name) or {})
    if referencing:
        out.update(_sibling_outputs(endpoint, referencing, endpoints or {}))
    return out


def _sibling_outputs(
    endpoint: str | None, values: dict[str, str], endpoints: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """The values that read `${cf:}` of a stack of the repository, from its outputs on the
    emulator now (each stack asked once), and its endpoints on the local gateway."""
    seen: dict[tuple[str, str], dict[str, str] | None] = {}

    def outputs(region: str, stack: str) -> dict[str, str] | None:
        if (region, stack) not in seen:
            found: dict[str, str] | None = None
            if endpoint:
                with contextlib.suppress(ShipwayError):
                    found = emulator_client(endpoint, region).stack_outputs(stack)
            if stack in endpoints:
                found = {**(found or {}), **endpoints[stack]}
            seen[region, stack] = found
        return seen[region, stack]

    out: dict[str, str] = {}
    for key, value in values.items():
        text, missing = substitute(value, outputs)
        if not missing:
            out[key] = text
    return out


def _expression(value: str) -> bool:
    if not value.startswith("{"):
        return False
    try:
        return is_expression(json.loads(value))
    except ValueError:
        return False
