"""A local environment's `seed`: the functions that put its data back on the AWS emulator.

moto keeps the emulator's data in memory, so a table starts empty each time `shipway
serve` starts, and again when a deploy replaces it. `environments.<env>.seed` names
functions of the environment's own services (SERVICE.FUNCTION) that write what the team
wants there; each is invoked once, in order, with the event below, after a run or a
rollback made a release while a server runs, and when a server starts (once its stacks
are back). A seed function runs as its service's functions do (its environment, its
table names, the emulator's credentials), so it should write idempotently (a put
overwrites). Its failure is a warning, in the service's log too: the release stays.
"""

from __future__ import annotations

from pathlib import Path

from shipway.model import Environment, LocalTarget
from shipway.targets.local.emulator import EmulatorAccess
from shipway.targets.local.gateway import invoke_function
from shipway.targets.local.target import LocalTarget as LocalReleaseTarget

__all__ = ["seed_environment"]


def seed_environment(state_dir: Path, env: Environment, reason: str) -> list[str]:
    """Invokes `env`'s seed functions on its current release; one line per failure.
    Nothing to do without a served emulator (the server seeds when it starts)."""
    if not env.seed or not isinstance(env.target, LocalTarget):
        return []
    if EmulatorAccess(state_dir).served() is None:
        return []
    manifest = LocalReleaseTarget(state_dir).current_manifest(env.name)
    if manifest is None:
        return []
    problems = []
    event = {"source": "shipway.seed", "environment": env.name, "reason": reason}
    for entry in env.seed:
        service, _, function = entry.partition(".")
        deployed = manifest.services.get(service)
        if deployed is None or function not in deployed.functions:
            problems.append(f"seed `{entry}` of `{env.name}`: not in its current release")
            continue
        result = invoke_function(state_dir, env.name, service, function, event)
        if not result.ok:
            said = result.payload.get("errorMessage") if isinstance(result.payload, dict) else ""
            problems.append(f"seed `{entry}` of `{env.name}` failed: {said or 'no answer'}")
    return problems
