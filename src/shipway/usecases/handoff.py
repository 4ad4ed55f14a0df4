"""`shipway build ENV --out DIR` and `shipway deploy ENV --from DIR`: a run's two halves,
on two machines if need be (the CodePipeline export runs them in two CodeBuild projects).

`build` is a run of ENV that stops after its build stage: the builds are the local
engine's own, recorded and reused as a run's are; then the folder gets each service's
package (and layers) with `build.json`, which names the commit, the environment and each
build's input key, and `summary.txt`, one line saying what was built. `deploy` checks the
folder (its format, the environment, the commit known to the repository, every file's
sha256), puts the builds in the state directory's store under their keys, and runs ENV
at that commit with every build reused — a build whose inputs differ here (another
commit, `.env` value or buildspec) fails the run, it is never rebuilt — then deploys and
records the release as any run does. A folder from `build` deploys with `run` too (the
builds are the store's), and one `run` made is what `build` would have written.

Neither asks Shipway's approval: what runs them — a person, or CodePipeline's approval
action between the two projects — decides."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway import __version__
from shipway.archive import sha256_of
from shipway.errors import ShipwayError
from shipway.export.buildspec import SUMMARY_FILE  # the export's approval shows it
from shipway.model import Artifact, BuildResult, JobState, LayerArtifact, RunState, Stage
from shipway.pipeline.build_support import store_artifact
from shipway.pipeline.engine import Engine, Outcome
from shipway.pipeline.paths import StatePaths
from shipway.source.git import resolve_commit
from shipway.store.sqlite import Store

__all__ = ["BUILD_FILE", "SUMMARY_FILE", "FolderBuild", "build_into", "deploy_from"]

BUILD_FILE = "build.json"
_FORMAT = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_MANIFEST_BYTES = 16 * 1024 * 1024  # thousands of services fit in far less


@dataclass(frozen=True)
class FolderBuild:
    """One service's build as `build.json` lists it."""

    service: str
    key: str
    file: str  # relative to the folder
    sha256: str
    size: int
    exported: dict[str, str]
    layers: tuple[tuple[str, str, str, int], ...] = ()  # (name, file, sha256, size)


def build_into(
    engine: Engine, store: Store, env: str, commit: str, out: Path, actor: str
) -> tuple[Outcome, Path | None]:
    """The build stage of a run of `env` at `commit`, then its builds in `out` (a new or
    empty folder). (the run's outcome, the folder; None when the build failed)."""
    _check_out(out)
    outcome = engine.run(
        env, commit, trigger="build", actor=actor, stages=(Stage.SOURCE, Stage.BUILD)
    )
    if outcome.run.state != RunState.SUCCEEDED:
        return outcome, None
    keys = {
        j.service: str(j.detail.get("key", ""))
        for j in store.jobs(outcome.run.id)
        if j.stage == Stage.BUILD
    }
    builds = [b for b in outcome.builds if b.artifact is not None]
    tmp = Path(tempfile.mkdtemp(prefix=".shipway-build-", dir=out.parent))
    try:
        listed = [_write_build(tmp, b, keys[b.service]) for b in builds]
        reused = [
            f"{j.service} (reused {j.detail['reused_from']})"
            for j in store.jobs(outcome.run.id)
            if j.stage == Stage.BUILD and j.detail.get("reused_from")
        ]
        built = [b.service for b in builds if b.service not in {r.split()[0] for r in reused}]
        summary = f"{env} at {commit[:12]}: built {', '.join(built) or 'nothing'}"
        if reused:
            summary += f"; {', '.join(reused)}"
        doc = {
            "format": _FORMAT,
            "shipway": __version__,
            "env": env,
            "commit": commit,
            "run": outcome.run.id,
            "services": [_as_json(b) for b in listed],
        }
        (tmp / BUILD_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        (tmp / SUMMARY_FILE).write_text(summary + "\n", encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty: checked first
        tmp.rename(out)  # whole or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return outcome, out


def deploy_from(
    engine: Engine, store: Store, paths: StatePaths, repo: Path, env: str, folder: Path, actor: str
) -> Outcome:
    """The builds of `folder` (made by `build_into`, here or elsewhere) deployed to `env`."""
    doc, builds = read_folder(folder, env)
    commit = str(doc["commit"])
    try:
        known = resolve_commit(repo, commit)
    except ShipwayError:
        known = None
    if known != commit:
        raise ShipwayError(
            f"{folder / BUILD_FILE}: commit {commit[:12]} is not in this repository",
            hint="fetch it first (the build was made from a commit this clone lacks)",
        )
    for build in builds:
        _import(paths, store, folder, build, str(doc.get("run") or "a build folder"))
    return engine.run(
        env,
        commit,
        trigger="deploy --from",
        actor=actor,
        stages=(Stage.SOURCE, Stage.BUILD, Stage.DEPLOY),
        options={"reuse_only": True},
    )


def read_folder(folder: Path, env: str) -> tuple[dict[str, Any], list[FolderBuild]]:
    """`build.json` of `folder`, checked: ShipwayError naming what is wrong."""
    manifest = folder / BUILD_FILE
    if manifest.is_symlink() or not manifest.is_file():
        raise ShipwayError(
            f"{folder} is not a build folder: no {BUILD_FILE}",
            hint="`shipway build ENV --out DIR` makes one",
        )
    if manifest.stat().st_size > _MAX_MANIFEST_BYTES:
        raise ShipwayError(
            f"{manifest} is {manifest.stat().st_size:,} bytes: a build manifest is at most "
            f"{_MAX_MANIFEST_BYTES:,}"
        )
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ValueError("format")
        builds = [_from_json(s) for s in doc["services"]]
        if not re.fullmatch(r"[0-9a-f]{40}", str(doc["commit"])):
            raise ValueError("commit")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        why = "nested too deep" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise ShipwayError(
            f"{manifest} is not a build manifest Shipway {__version__} reads ({why})"
        ) from None
    if doc.get("env") != env:
        raise ShipwayError(
            f"{manifest}: the builds are of environment `{doc.get('env')}`, not `{env}`",
            hint="a build is made for one environment (its .env values, its stage)",
        )
    return doc, builds


def _check_out(out: Path) -> None:
    if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        raise ShipwayError(f"`{out}` exists and is not an empty folder: give a new one")
    if not out.parent.is_dir():
        raise ShipwayError(f"`{out.parent}` is not a folder")


def _write_build(folder: Path, build: BuildResult, key: str) -> FolderBuild:
    art = build.artifact
    assert art is not None
    name = f"artifacts/{art.service}.zip"
    (folder / "artifacts").mkdir(exist_ok=True)
    shutil.copyfile(art.path, folder / name)
    layers = []
    for layer in art.layers:
        file = f"layers/{art.service}/{layer.name}.zip"
        (folder / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(layer.path, folder / file)
        layers.append((layer.name, file, layer.sha256, layer.size))
    return FolderBuild(
        art.service, key, name, art.sha256, art.size, dict(build.exported), tuple(layers)
    )


def _as_json(b: FolderBuild) -> dict[str, Any]:
    return {
        "service": b.service,
        "key": b.key,
        "file": b.file,
        "sha256": b.sha256,
        "size": b.size,
        "exported": b.exported,
        "layers": [{"name": n, "file": f, "sha256": s, "size": z} for n, f, s, z in b.layers],
    }


def _from_json(d: dict[str, Any]) -> FolderBuild:
    service, key, sha = str(d["service"]), str(d["key"]), str(d["sha256"])
    if not _NAME.fullmatch(service) or not _SHA256.fullmatch(sha) or not key:
        raise ValueError(f"service entry {service[:40]!r}")
    layers = tuple(
        (str(x["name"]), _relative(x["file"]), str(x["sha256"]), int(x["size"]))
        for x in d.get("layers") or []
    )
    exported = {str(k): str(v) for k, v in (d.get("exported") or {}).items()}
    return FolderBuild(service, key, _relative(d["file"]), sha, int(d["size"]), exported, layers)


def _relative(file: Any) -> str:
    """A path inside the folder: no absolute path, no `..` (a manifest is input)."""
    text = str(file)
    parts = Path(text).parts
    if not text or Path(text).is_absolute() or ".." in parts:
        raise ValueError(f"file {text[:60]!r}")
    return text


def _import(paths: StatePaths, store: Store, folder: Path, b: FolderBuild, origin: str) -> None:
    """The build into the artifact store, checked byte for byte, and recorded under its
    key (its run named after where it came from)."""
    scratch = paths.home / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)

    def fetched(file: str, sha256: str, what: str) -> Path:
        source = folder / file
        if source.is_symlink() or not source.is_file():
            raise ShipwayError(f"{folder / BUILD_FILE}: {what}: `{file}` is missing")
        copy = Path(tempfile.mkstemp(dir=scratch, suffix=".zip")[1])
        shutil.copyfile(source, copy)
        if sha256_of(copy) != sha256:
            copy.unlink()
            raise ShipwayError(
                f"{folder / BUILD_FILE}: {what}: `{file}` is not the file built (sha256 "
                "differs): the folder changed since `shipway build`"
            )
        return copy

    layers = tuple(
        LayerArtifact(n, fetched(f, s, f"layer `{n}` of `{b.service}`"), s, z)
        for n, f, s, z in b.layers
    )
    artifact = Artifact(
        b.service, fetched(b.file, b.sha256, f"`{b.service}`"), b.sha256, b.size, layers
    )
    stored = store_artifact(paths, BuildResult(b.service, JobState.SUCCEEDED, 0.0, artifact))
    assert stored.artifact is not None
    store.record_build(b.key, stored.artifact, b.exported, f"{origin} (imported)")
