"""What each release keeps so that a later rollback can deploy it again, on both targets.

Layout under the state directory (owner-only files)::

    records/<env>/<n>/record.json              the release: see below
    records/<env>/<n>/<service>.definition.json  the resolved serverless.yml (ServiceDefinition),
                                               the run's secret values as `***`
    records/<env>/<n>/<service>.template.json    the CloudFormation template deployed (aws),
                                               exactly as deployed: secrets included, as the
                                               stack itself holds them

A local release's secret values stay in its own owner-only `secrets.json` (see
targets/local/releases.py): reading a local record back takes the functions' environment
from that release's manifest, so no secret is written twice.

record.json (format 1)::

    {"format": 1, "env": "prod", "number": 7, "commit": "<sha>", "target": "aws",
     "stage": "Prod", "created_at": 1700000000.0,
     "services": [                     # in deploy order, dependencies first
       {"name": "accounts", "path": "services/accounts", "commit": "<sha that built it>",
        "artifact": {"sha256": "<hex>", "size": 1234},
        "code_key": "serverless/accounts/Prod/code-artifacts/<sha256>.zip",
        "stack": "accounts-Prod",      # "" for the local target
        "depends_on": ["..."],
        "definition": "accounts.definition.json",
        "template": "accounts.template.json"}   # null for the local target
     ]}

The zips stay in the artifact store (`artifacts/<service>/<sha256>.zip`, see
`StatePaths.artifact`) and, for aws, in the deployment bucket under `code_key`, which the
template names. A record is written whole (a staging folder renamed) before its release
row is added, so every release row has its record. Pruning (`releases.keep`) removes
records and must keep every artifact a kept record names.

`release_request(paths, env, number)` reads a record back as the `DeployRequest` that
deploys that release again through the Target protocol (`target.rollback`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from shipway.errors import NotFound, ShipwayError
from shipway.masking import Masker
from shipway.model import (
    Artifact,
    DeployInput,
    DeployRequest,
    Event,
    Function,
    HttpRoute,
    LayerArtifact,
    ServiceDefinition,
)
from shipway.pipeline.paths import StatePaths

__all__ = ["FORMAT", "read_record", "record_dir", "release_request", "write_record"]

FORMAT = 1
RECORD_FILE = "record.json"


def record_dir(paths: StatePaths, env: str, number: int) -> Path:
    return paths.home / "records" / env / str(int(number))


def write_record(
    paths: StatePaths,
    env: str,
    number: int,
    commit: str,
    target: str,
    services: Sequence[tuple[DeployInput, str]],
    mask: Masker,
) -> Path:
    """Release `number`'s record: each service deployed (or kept) with the commit that
    built it; `mask` hides the run's secrets in the definitions. Replaces a record a killed
    run may have left under that number."""
    final = record_dir(paths, env, number)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".staging-{number}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(mode=0o700)
    try:
        entries = []
        stage = ""
        for item, built_at in services:
            d = item.definition
            stage = stage or d.stage
            template_file = None
            if item.template is not None:
                template_file = f"{d.service}.template.json"
                _write_private(staging / template_file, item.template)
            definition_file = f"{d.service}.definition.json"
            _write_private(staging / definition_file, mask.data(definition_data(d)))
            entries.append(
                {
                    "name": d.service,
                    "commit": built_at,
                    "artifact": {"sha256": item.artifact.sha256, "size": item.artifact.size}
                    | _layers_entry(item.artifact),
                    "code_key": f"serverless/{d.service}/{d.stage}/code-artifacts/"
                    f"{item.artifact.sha256}.zip",
                    "stack": item.stack,
                    "depends_on": list(item.depends_on),
                    "definition": definition_file,
                    "template": template_file,
                }
            )
        record = {
            "format": FORMAT,
            "env": env,
            "number": int(number),
            "commit": commit,
            "target": target,
            "stage": stage,
            "created_at": time.time(),
            "services": entries,
        }
        _write_private(staging / RECORD_FILE, record)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _layers_entry(artifact: Artifact) -> dict[str, Any]:
    """The layers' zips of a release's service (in the artifact store by their sha256)."""
    if not artifact.layers:
        return {}
    return {"layers": {a.name: {"sha256": a.sha256, "size": a.size} for a in artifact.layers}}


def read_record(paths: StatePaths, env: str, number: int) -> dict[str, Any]:
    path = record_dir(paths, env, number) / RECORD_FILE
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(
            f"release {number} of `{env}` has no record to deploy again",
            hint="releases made before this version, or pruned (`releases.keep`), cannot "
            "be rolled back to",
        ) from None
    except (OSError, ValueError) as exc:
        raise ShipwayError(
            f"the record of release {number} of `{env}` is unreadable: {exc}"
        ) from None
    if record.get("format") != FORMAT:
        raise ShipwayError(
            f"the record of release {number} of `{env}` has format "
            f"{record.get('format')!r}, not {FORMAT}"
        )
    return record


def release_request(paths: StatePaths, env: str, number: int) -> DeployRequest:
    """Release `number` of `env` as a request to deploy it again (its templates, its
    artifacts from the artifact store): `target.rollback(release_request(...), new)`."""
    record = read_record(paths, env, number)
    folder = record_dir(paths, env, number)
    local = _local_environments(paths, env, number) if record.get("target") == "local" else {}
    items = []
    for entry in record["services"]:
        name = str(entry["name"])
        sha = str(entry["artifact"]["sha256"])
        zip_path = paths.artifact(name, sha)
        if not zip_path.is_file():
            raise NotFound(
                f"the artifact of `{name}` in release {number} of `{env}` is no longer in the "
                f"artifact store ({zip_path})"
            )
        layers = tuple(
            LayerArtifact(
                str(n), paths.artifact(name, str(d["sha256"])), str(d["sha256"]), int(d["size"])
            )
            for n, d in (entry["artifact"].get("layers") or {}).items()
        )
        for layer in layers:
            if not layer.path.is_file():
                raise NotFound(
                    f"the zip of layer `{layer.name}` of `{name}` in release {number} of "
                    f"`{env}` is no longer in the artifact store ({layer.path})"
                )
        definition = definition_from(_read(folder / str(entry["definition"])))
        if name in local:  # the real values, from the local release's secrets.json
            functions = tuple(
                replace(f, environment=local[name].get(f.name, f.environment))
                for f in definition.functions
            )
            definition = replace(definition, functions=functions)
        template = _read(folder / str(entry["template"])) if entry.get("template") else None
        items.append(
            DeployInput(
                definition=definition,
                artifact=Artifact(name, zip_path, sha, int(entry["artifact"]["size"]), layers),
                depends_on=tuple(entry.get("depends_on") or ()),
                template=template,
                stack=str(entry.get("stack") or ""),
            )
        )
    return DeployRequest(env, str(record["commit"]), tuple(items), force=False)


def service_commits(paths: StatePaths, env: str, number: int) -> dict[str, str]:
    """{service: the commit that built what release `number` runs}."""
    record = read_record(paths, env, number)
    return {str(s["name"]): str(s["commit"]) for s in record["services"]}


def _local_environments(
    paths: StatePaths, env: str, number: int
) -> dict[str, dict[str, Mapping[str, str]]]:
    """service -> function -> environment, from the local release `number` (secrets too)."""
    from shipway.targets.local.releases import ReleaseManifest, ReleaseStore

    folder = ReleaseStore(paths.home, env).path(number)
    if not folder.is_dir():
        raise NotFound(f"release {number} of `{env}` is no longer on this machine ({folder})")
    manifest = ReleaseManifest.load(folder)
    return {
        name: {fname: dict(fn.environment) for fname, fn in service.functions.items()}
        for name, service in manifest.services.items()
    }


# --------------------------------------------------------------------------- definitions


def definition_data(d: ServiceDefinition) -> dict[str, Any]:
    return {
        "service": d.service,
        "stage": d.stage,
        "region": d.region,
        "runtime": d.runtime,
        "functions": [
            {
                "name": f.name,
                "handler": f.handler,
                "runtime": f.runtime,
                "timeout": f.timeout,
                "memory_size": f.memory_size,
                "environment": dict(f.environment),
                "events": [{"type": e.type, "config": e.config} for e in f.events],
                "routes": [{"kind": r.kind, "method": r.method, "path": r.path} for r in f.routes],
            }
            for f in d.functions
        ],
        "package_patterns": list(d.package_patterns),
        "package_artifact": d.package_artifact,
        "use_dotenv": d.use_dotenv,
        "resolved": d.resolved,
    }


def definition_from(data: Mapping[str, Any]) -> ServiceDefinition:
    return ServiceDefinition(
        service=str(data["service"]),
        stage=str(data["stage"]),
        region=str(data["region"]),
        runtime=str(data["runtime"]),
        functions=tuple(
            Function(
                name=str(f["name"]),
                handler=str(f["handler"]),
                runtime=str(f["runtime"]),
                timeout=int(f["timeout"]),
                memory_size=int(f["memory_size"]),
                environment={str(k): str(v) for k, v in f["environment"].items()},
                events=tuple(Event(str(e["type"]), e["config"]) for e in f["events"]),
                routes=tuple(
                    HttpRoute(r["kind"], str(r["method"]), str(r["path"])) for r in f["routes"]
                ),
            )
            for f in data["functions"]
        ),
        package_patterns=tuple(data.get("package_patterns") or ()),
        package_artifact=data.get("package_artifact"),
        use_dotenv=bool(data.get("use_dotenv", True)),
        resolved=data.get("resolved") or {},
    )


def _write_private(path: Path, data: Any) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, separators=(",", ":"), default=str)


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
