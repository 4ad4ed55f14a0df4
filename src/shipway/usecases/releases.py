"""Releases kept per environment (`releases: {keep: N}`): older ones are pruned after each
new release, without breaking a kept release that still runs from their folders."""

from __future__ import annotations

import shutil
from pathlib import Path

from shipway.config import schema
from shipway.config.services import PROJECT_FILE
from shipway.config.yamlsrc import load_yaml
from shipway.errors import ShipwayError
from shipway.pipeline.locks import environment_lock
from shipway.pipeline.paths import StatePaths
from shipway.pipeline.records import record_dir
from shipway.store.sqlite import Store
from shipway.targets.local.releases import ReleaseStore, check_name

__all__ = ["DEFAULT_KEEP", "prune_releases", "releases_keep"]

DEFAULT_KEEP = 20


def releases_keep(repo: Path) -> int:
    """`releases.keep` of the repository's shipway.yml, read alone (a run must not pay for
    loading every service again); the default when the file does not say or cannot be read
    (the run itself refuses a bad value)."""
    try:
        doc = load_yaml(repo / PROJECT_FILE, PROJECT_FILE, repo)
        block = doc.get("releases") if isinstance(doc, dict) else None
        return int(schema.ReleasesBlock.model_validate(block or {}).keep)
    except (ShipwayError, ValueError):  # pydantic's ValidationError is a ValueError
        return DEFAULT_KEEP


def prune_releases(paths: StatePaths, store: Store, env: str, keep: int) -> list[int]:
    """Keep the newest `keep` releases of `env`: the older ones are marked pruned in the
    store, their records and local release folders removed (but for the service folders a
    kept release still runs from; artifacts stay in the artifact store, which every
    environment shares). Returns the numbers pruned."""
    keep = max(1, keep)
    check_name("environment", env)
    with environment_lock(paths.env_lock(env), env):  # no deploy switches meanwhile
        live = store.releases(env, limit=1_000_000)
        kept, older = live[:keep], live[keep:]
        local = ReleaseStore(paths.home, env)
        if local.releases_dir.is_dir():
            local.prune({r.number for r in kept})
        for r in older:  # what a rollback would deploy: a pruned release is never deployed
            shutil.rmtree(record_dir(paths, env, r.number), ignore_errors=True)
        if older:
            store.mark_releases_gone(env, [r.number for r in older], "pruned")
    return [r.number for r in older]
