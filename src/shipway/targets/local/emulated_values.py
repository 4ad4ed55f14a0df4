"""A function's environment values that are CloudFormation expressions, as the local AWS
emulator resolves them.

The release keeps `TABLE: {Ref: UsersTable}` as its expression (compact JSON text); while
a server runs the emulator holding the service's stack, the function is started with the
value the stack's outputs give it (emulated_template.py makes one output per expression).
Without an emulator, or for an expression it could not resolve, the text stays.
"""

from __future__ import annotations

import json
from pathlib import Path

from shipway.config.stack_inputs import is_expression
from shipway.errors import ShipwayError
from shipway.targets.local.emulated_stacks import resolved_environment
from shipway.targets.local.emulator import EmulatorAccess
from shipway.targets.local.release_stacks import load_stacks
from shipway.targets.local.releases import DeployedFunction

__all__ = ["emulated_values"]


def emulated_values(
    state_dir: Path, release_dir: Path, service: str, lambda_name: str, fn: DeployedFunction
) -> dict[str, str]:
    """{variable: value on the emulator} for `fn`'s expression values (`lambda_name`: its
    name on AWS, as the template names it); {} without any."""
    if not any(_expression(v) for v in fn.environment.values()):
        return {}
    endpoint = EmulatorAccess(state_dir).served()
    stacks = load_stacks(release_dir, [service]) if endpoint else []
    if endpoint is None or not stacks:
        return {}
    try:
        values = resolved_environment(endpoint, stacks[0])
    except ShipwayError:
        return {}  # the emulator is gone or lacks the stack: the text stays
    return dict(values.get(lambda_name) or {})


def _expression(value: str) -> bool:
    if not value.startswith("{"):
        return False
    try:
        return is_expression(json.loads(value))
    except ValueError:
        return False
