"""`shipway ssm put / list / delete`: the local AWS emulator's SSM parameters, which
`${ssm:…}` of a local environment reads (targets/local/parameters.py).

The parameter store is the state directory's, shared by every local environment (one
emulator serves them all); ENV names the environment the parameter is for, which must be
local: an aws environment's parameters are AWS's own. Each write is in the audit log
(its name, type and region, never its value)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from shipway.config.project import load_environments
from shipway.errors import ShipwayError
from shipway.limits import REGION_PATTERN
from shipway.model import AwsTarget, Environment
from shipway.pipeline.paths import StatePaths
from shipway.pipeline.plan import environment
from shipway.store.sqlite import Store
from shipway.targets.local.emulator import EmulatorAccess
from shipway.targets.local.parameters import LocalParameters, StoredParameter

__all__ = ["DEFAULT_REGION", "delete", "listing", "put"]

#: the Framework's default region, and a local environment's unless its files say another
DEFAULT_REGION = "us-east-1"


def put(
    repo: Path,
    paths: StatePaths,
    store: Store,
    env_name: str,
    name: str,
    value: str,
    type_: str,
    region: str = DEFAULT_REGION,
) -> tuple[StoredParameter, bool]:
    """Keeps the parameter for `env_name`'s emulator; (it, whether a served emulator has it
    now: otherwise it is put there when `shipway serve` starts)."""
    from shipway.usecases.audit import local_actor

    _local_environment(repo, env_name)
    _check_region(region)
    stored = LocalParameters(paths.home).put(region, name, value, type_)
    detail = f"{type_} {name} ({region}), version {stored.version}"
    store.audit(local_actor().entry("ssm.put", target=name, env=env_name, detail=detail))
    return stored, EmulatorAccess(paths.home).served() is not None


def delete(
    repo: Path, paths: StatePaths, store: Store, env_name: str, name: str, region: str
) -> bool:
    """Forgets the parameter; False when there was none (nothing is recorded then)."""
    from shipway.usecases.audit import local_actor

    _local_environment(repo, env_name)
    _check_region(region)
    if not LocalParameters(paths.home).delete(region, name):
        return False
    store.audit(
        local_actor().entry("ssm.delete", target=name, env=env_name, detail=f"{name} ({region})")
    )
    return True


def listing(
    repo: Path, paths: StatePaths, env_name: str, region: str | None = None
) -> list[dict[str, Any]]:
    """The kept parameters, a SecureString's value shown as `***`."""
    _local_environment(repo, env_name)
    if region is not None:
        _check_region(region)
    return [
        {
            "region": p.region,
            "name": p.name,
            "type": p.type,
            "value": "***" if p.type == "SecureString" else p.value,
            "version": p.version,
        }
        for p in LocalParameters(paths.home).listing(region)
    ]


def _local_environment(repo: Path, env_name: str) -> Environment:
    env = environment(load_environments(repo), env_name)
    if isinstance(env.target, AwsTarget):
        raise ShipwayError(
            f"environment `{env_name}` deploys to AWS ({env.target.region}): its `${{ssm:}}` "
            "parameters are read from AWS's parameter store, not the local emulator's",
            hint=f"`aws ssm put-parameter --region {env.target.region} --name NAME --value V`",
        )
    return env


def _check_region(region: str) -> None:
    if not re.fullmatch(REGION_PATTERN, region):
        raise ShipwayError(f"`--region` `{region[:60]}` is not an AWS region (`eu-west-2`)")
