"""A local release's stack templates: kept in the release, deployed on the emulator.

Each release folder holds `templates/<service>.json` (the template `serverless package`
writes, with its stack name, stage, region and dependencies), so the server can put every
local environment's stacks back on its emulator when it starts (moto keeps them in memory
only), and a release that did not change a service carries its template over.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from shipway.errors import ShipwayError, WorkFailed
from shipway.targets.local.emulated_stacks import EmulatedStack, deploy_stacks, put_back_stacks
from shipway.targets.local.emulated_template import holds_resources
from shipway.targets.local.emulator import EmulatorAccess
from shipway.targets.local.releases import ReleaseManifest, ReleaseStore

__all__ = [
    "TEMPLATES_DIR",
    "carry_template",
    "deploy_release_stacks",
    "load_stacks",
    "replay_stacks",
    "write_template",
]

TEMPLATES_DIR = "templates"


def write_template(folder: Path, stack: EmulatedStack) -> None:
    """`folder`'s `templates/<service>.json` (owner only: a template may hold values)."""
    target = folder / TEMPLATES_DIR / f"{stack.service}.json"
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc = {
        "stack": stack.stack,
        "stage": stack.stage,
        "region": stack.region,
        "depends_on": list(stack.depends_on),
        "template": stack.template,
    }
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(doc, out, separators=(",", ":"), default=str)


def carry_template(live: Path, folder: Path, service: str) -> None:
    """The live release's template of `service`, into the new release (unchanged)."""
    source = live / TEMPLATES_DIR / f"{service}.json"
    if source.is_file():
        (folder / TEMPLATES_DIR).mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy2(source, folder / TEMPLATES_DIR / f"{service}.json")


def load_stacks(folder: Path, services: Sequence[str]) -> list[EmulatedStack]:
    """The templates a release holds, for `services` (in that order)."""
    stacks = []
    for name in services:
        path = folder / TEMPLATES_DIR / f"{name}.json"
        try:
            doc: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a release made before templates were kept: nothing to put back
        stacks.append(
            EmulatedStack(
                name,
                str(doc["stack"]),
                str(doc["stage"]),
                str(doc["region"]),
                doc["template"],
                tuple(doc.get("depends_on") or ()),
            )
        )
    return stacks


def deploy_release_stacks(
    access: EmulatorAccess,
    env: str,
    folder: Path,
    services: Sequence[str],
    changed: Collection[str],
) -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    """The release's stacks on the emulator: the changed ones on the server's emulator
    (it holds the others), every one on an emulator started for this check. Raises
    DeployFailed naming the service whose stack failed."""
    stacks = load_stacks(folder, services)
    if not any(s.service in changed and holds_resources(s.template) for s in stacks):
        return {}  # nothing for the emulator to hold: none is started
    with access.endpoint() as (endpoint, served):
        chosen = [s for s in stacks if s.service in changed] if served else stacks
        return deploy_stacks(endpoint, env, chosen)


def replay_stacks(state_dir: Path, endpoint: str) -> list[str]:
    """Every local environment's current release's stacks put on a fresh emulator (the
    server's, as it starts); returns one line per environment that could not be, saying
    why (the server starts anyway: its functions then find their resources missing)."""
    problems = []
    envs = Path(state_dir) / "envs"
    for folder in sorted(p for p in envs.glob("*") if p.is_dir()) if envs.is_dir() else []:
        store = ReleaseStore(state_dir, folder.name)
        current = store.current()
        if current is None:
            continue
        try:
            manifest = ReleaseManifest.load(current[1])
            put_back_stacks(endpoint, load_stacks(current[1], list(manifest.services)))
        except (ShipwayError, WorkFailed) as exc:
            problems.append(
                f"environment `{store.env}`: not all its stacks are on the emulator: {exc}"
            )
    return problems
