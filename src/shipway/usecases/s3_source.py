"""`source: {s3: s3://bucket/key.zip}`: CodePipeline's S3 source action, polled.

Each new version of the object (its VersionId in a versioned bucket, else its ETag) is a
source zip: it is downloaded (bounded), committed into the server's repository as the next
snapshot of each environment that follows it (source/snapshots.py), and a run of that
commit is queued, as a push's would be. The version seen is recorded only once the runs
are queued, so a failure is looked at again at the next poll; the first look at an object
only records its version.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shipway.auth import Action
from shipway.config.sources import parse_s3_url
from shipway.errors import ShipwayError
from shipway.model import AwsTarget, Environment, Run
from shipway.pipeline.engine import Engine
from shipway.source.snapshots import MAX_SNAPSHOT_BYTES, commit_zip, snapshot_ref
from shipway.store.heads import source_key
from shipway.usecases.audit import Actor

if TYPE_CHECKING:
    from shipway.targets.aws.client import AwsClient

__all__ = ["poll_s3", "s3_region"]

TRIGGER = "s3"
_VERSION = ""  # the one "branch" an object source has: its version


def s3_region(env: Environment) -> str:
    """The region the object is read in: the environment's AWS target's, else the
    process's (AWS_REGION, AWS_DEFAULT_REGION), else us-east-1."""
    if isinstance(env.target, AwsTarget):
        return env.target.region
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def poll_s3(engine: Engine, envs: Sequence[Environment], url: str, client: AwsClient) -> list[Run]:
    """Queue a run for each of `envs` (those following `url`) when the object has a version
    not seen before; the runs queued (none on a first look or an unchanged object)."""
    where = parse_s3_url(url)
    store = engine.store
    key = source_key(url)
    version = client.object_version(where.bucket, where.key)
    seen = store.seen_heads(key)
    current = {_VERSION: version} if version is not None else {}
    if seen is None or version is None or seen.get(_VERSION) == version:
        store.saw_heads(key, current, complete=True)
        return []
    scratch = engine.paths.home / "tmp"
    scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
    actor = Actor(f"push:{TRIGGER}", TRIGGER)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        archive = Path(tmp) / "source.zip"
        client.download(where.bucket, where.key, version, archive, MAX_SNAPSHOT_BYTES)
        message = f"{where} version {version}"
        for env in envs:
            sha = commit_zip(engine.repo, archive, snapshot_ref(env.name), message, scratch)
            entry = actor.entry(Action.RUN_START.value, env=env.name, detail=message)
            try:
                run = engine.submit(
                    env.name, sha, TRIGGER, actor=actor.who, owner=None, entry=entry
                )
            except ShipwayError as exc:  # its files do not load: a failed run says why
                run = store.record_refused_run(env.name, sha, TRIGGER, actor.who, exc)
            runs.append(run)
    store.saw_heads(key, current, complete=True)
    return runs
