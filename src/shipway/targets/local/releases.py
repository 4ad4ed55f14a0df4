"""Releases of the local target on disk, and their manifests.

Layout under the state directory::

    envs/<env>/releases/<n>/release.json     the manifest (ReleaseManifest), secrets as ***
    envs/<env>/releases/<n>/secrets.json     the functions' secret values (owner only)
    envs/<env>/releases/<n>/<service>/       the service's unpacked artifact
    envs/<env>/releases/.staging-<n>-<rand>/ a release being written
    envs/<env>/current -> releases/<n>       switched atomically (symlink + os.replace)
    envs/<env>/logs/<service>.log            function output (see workers.py)

A release folder is complete before it gets its final name (rename of the staging folder), and
`current` only ever points at a complete release, so a reader never sees a half-copied one.

A function's secret environment values (keys that look secret, values holding a `.env`
secret) never go into release.json, which may be shown: they are kept in secrets.json, read
back by `ReleaseManifest.load` for the workers, and masked in the runtime's logs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipway.config.stack_inputs import resources_digest
from shipway.errors import NotFound, ShipwayError
from shipway.model import ServiceDefinition
from shipway.targets.local.authorizer_config import route_authorizers
from shipway.targets.local.deployed_function import DeployedFunction, reserved_of
from shipway.targets.local.wsevents import route_selection

MANIFEST_FILE = "release.json"
SECRETS_FILE = "secrets.json"
CURRENT_LINK = "current"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_name(kind: str, name: str) -> str:
    """Names become folder names: refuse anything that could escape the state directory."""
    if not _NAME.match(name) or name in (".", ".."):
        raise ShipwayError(
            f"{kind} name `{name}` cannot be used by the local target",
            hint="use letters, digits, `-`, `_` and `.`",
        )
    return name


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class DeployedService:
    name: str
    dir: str  # folder of the unpacked artifact, relative to the release folder
    artifact_sha256: str
    functions: dict[str, DeployedFunction] = field(default_factory=dict)
    region: str = "us-east-1"
    stage: str = ""
    commit: str = ""  # the commit of the run that deployed this content
    # its own layers: {layer: {"sha256": of the zip, "dir": unpacked, relative to the release}}
    layers: dict[str, dict[str, str]] = field(default_factory=dict)
    # provider.websocketsApiRouteSelectionExpression, for a service with `websocket` events
    websocket_selection: str = ""
    # what shapes its stack on the local AWS emulator (emulated_template.resources_digest)
    resources_sha256: str = ""

    @classmethod
    def from_definition(
        cls,
        definition: ServiceDefinition,
        dir: str,
        artifact_sha256: str,
        commit: str = "",
        secrets: Collection[str] = (),
        function_layers: Mapping[str, tuple[str, ...]] | None = None,
        layers: Mapping[str, dict[str, str]] | None = None,
    ) -> DeployedService:
        """`function_layers`: each function's layers (`service/layer`); `layers`: the
        service's own built layers (see `layers` above)."""
        refs = function_layers or {}
        return cls(
            name=definition.service,
            dir=dir,
            artifact_sha256=artifact_sha256,
            functions={
                f.name: DeployedFunction.from_function(
                    f,
                    secrets,
                    reserved_of(definition, f.name),
                    authorizers=route_authorizers(definition, f),
                    layers=refs.get(f.name, ()),
                )
                for f in definition.functions
            },
            region=definition.region,
            stage=definition.stage,
            commit=commit,
            layers={k: dict(v) for k, v in (layers or {}).items()},
            websocket_selection=route_selection(definition),
            resources_sha256=resources_digest(definition.resolved),
        )

    def layer_shas(self) -> dict[str, str]:
        return {k: v.get("sha256", "") for k, v in self.layers.items()}

    def same_deployment(self, other: DeployedService) -> bool:
        """The same code and configuration (where it lives and who deployed it aside)."""
        return (
            self.artifact_sha256,
            self.functions,
            self.region,
            self.stage,
            self.layer_shas(),
            self.websocket_selection,
            self.resources_sha256,
        ) == (
            other.artifact_sha256,
            other.functions,
            other.region,
            other.stage,
            other.layer_shas(),
            other.websocket_selection,
            other.resources_sha256,
        )

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "dir": self.dir,
            "artifact_sha256": self.artifact_sha256,
            "region": self.region,
            "stage": self.stage,
            "commit": self.commit,
            "functions": {k: f.to_dict(reveal) for k, f in self.functions.items()},
        }
        if self.layers:
            out["layers"] = {k: dict(v) for k, v in self.layers.items()}
        if self.websocket_selection:
            out["websocket_selection"] = self.websocket_selection
        if self.resources_sha256:
            out["resources_sha256"] = self.resources_sha256
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeployedService:
        return cls(
            name=str(d["name"]),
            dir=str(d["dir"]),
            artifact_sha256=str(d["artifact_sha256"]),
            functions={
                str(k): DeployedFunction.from_dict(f) for k, f in d.get("functions", {}).items()
            },
            region=str(d.get("region", "us-east-1")),
            stage=str(d.get("stage", "")),
            commit=str(d.get("commit", "")),
            layers={
                str(k): {"sha256": str(v.get("sha256", "")), "dir": str(v.get("dir", ""))}
                for k, v in (d.get("layers") or {}).items()
            },
            websocket_selection=str(d.get("websocket_selection", "")),
            resources_sha256=str(d.get("resources_sha256", "")),
        )


@dataclass(frozen=True)
class ReleaseManifest:
    env: str
    number: int
    commit: str
    created_at: float
    services: dict[str, DeployedService] = field(default_factory=dict)

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        """The manifest as plain data; secret values as `***` unless `reveal`."""
        return {
            "env": self.env,
            "number": self.number,
            "commit": self.commit,
            "created_at": self.created_at,
            "services": {k: s.to_dict(reveal) for k, s in self.services.items()},
        }

    def to_json(self, reveal: bool = False) -> str:
        return json.dumps(self.to_dict(reveal), sort_keys=True, indent=2) + "\n"

    def secret_values(self) -> dict[str, dict[str, dict[str, str]]]:
        """service -> function -> key -> value, for every secret key (what secrets.json holds)."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        for sname, svc in self.services.items():
            for fname, fn in svc.functions.items():
                values = {k: fn.environment[k] for k in fn.secret_keys if k in fn.environment}
                if values:
                    out.setdefault(sname, {})[fname] = values
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReleaseManifest:
        return cls(
            env=str(d["env"]),
            number=int(d["number"]),
            commit=str(d["commit"]),
            created_at=float(d["created_at"]),
            services={str(k): DeployedService.from_dict(s) for k, s in d["services"].items()},
        )

    @classmethod
    def from_json(cls, text: str) -> ReleaseManifest:
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, release_dir: Path) -> ReleaseManifest:
        """The manifest with its functions' secret values (for the workers)."""
        path = release_dir / MANIFEST_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            secret_file = release_dir / SECRETS_FILE
            if secret_file.is_file():
                secret = json.loads(secret_file.read_text(encoding="utf-8"))
                for sname, functions in secret.items():
                    for fname, values in functions.items():
                        data["services"][sname]["functions"][fname]["environment"].update(values)
            return cls.from_dict(data)
        except FileNotFoundError:
            raise NotFound(f"release {release_dir} has no {MANIFEST_FILE}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ShipwayError(f"{path}: unreadable release manifest: {e}") from None

    def write(self, release_dir: Path) -> None:
        """release.json (secrets as `***`) and secrets.json, both readable by the owner only."""
        _write_private(release_dir / SECRETS_FILE, json.dumps(self.secret_values(), indent=2))
        _write_private(release_dir / MANIFEST_FILE, self.to_json())


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


# --------------------------------------------------------------------------- store


class ReleaseStore:
    """The releases of one environment."""

    def __init__(self, state_dir: Path, env: str) -> None:
        self.env = check_name("environment", env)
        self.root = Path(state_dir) / "envs" / env
        self.releases_dir = self.root / "releases"
        self.logs_dir = self.root / "logs"

    @property
    def current_link(self) -> Path:
        return self.root / CURRENT_LINK

    def path(self, number: int) -> Path:
        return self.releases_dir / str(int(number))

    def prepare(self, number: int) -> Path:
        """A fresh, empty staging folder for release `number`."""
        if self.path(number).exists():
            raise ShipwayError(f"release {number} of `{self.env}` already exists")
        self.releases_dir.mkdir(parents=True, exist_ok=True)
        staging = self.releases_dir / f".staging-{int(number)}-{secrets.token_hex(4)}"
        staging.mkdir()
        return staging

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def discard_stale(self) -> None:
        """Remove what a killed deploy left: `.staging-*` folders and `.current-*` links.
        Only for a caller that holds the environment's deploy lock."""
        for folder in self.releases_dir.glob(".staging-*"):
            shutil.rmtree(folder, ignore_errors=True)
        for link in self.root.glob(".current-*"):
            link.unlink(missing_ok=True)

    def commit(self, staging: Path, number: int) -> Path:
        """Give the staged release its final name, then point `current` at it."""
        final = self.path(number)
        if final.exists():
            raise ShipwayError(f"release {number} of `{self.env}` already exists")
        os.rename(staging, final)
        try:
            self.switch(number)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)  # all or nothing: no orphan release
            raise
        return final

    def switch(self, number: int) -> Path:
        """Point `current` at release `number`, atomically."""
        target = self.path(number)
        if not (target / MANIFEST_FILE).is_file():
            raise NotFound(f"release {number} of `{self.env}` does not exist")
        tmp = self.root / f".current-{secrets.token_hex(4)}"
        os.symlink(os.path.join("releases", str(int(number))), tmp)
        try:
            os.replace(tmp, self.current_link)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return target

    def current(self) -> tuple[int, Path] | None:
        try:
            link = os.readlink(self.current_link)
        except (FileNotFoundError, NotADirectoryError):
            return None
        name = os.path.basename(os.path.normpath(link))
        if not name.isdigit():
            return None
        return int(name), self.path(int(name))

    def numbers(self) -> list[int]:
        try:
            names = os.listdir(self.releases_dir)
        except FileNotFoundError:
            return []
        return sorted(int(n) for n in names if n.isdigit())

    def manifest(self, number: int) -> ReleaseManifest:
        return ReleaseManifest.load(self.path(number))

    def prune(self, keep: Collection[int]) -> list[int]:
        """Remove the release folders not in `keep` (the current release and any folder
        newer than the newest kept are always kept: a deploy may not have recorded it yet).
        An unchanged service of a kept release runs from the folder of the release that
        deployed it (`dir` is `../<n>/<service>`): such folders stay, and only they, so a
        pruned release can no longer be switched to. Returns the numbers pruned. Only for
        a caller that holds the environment's deploy lock."""
        current = self.current()
        kept = {int(n) for n in keep} | ({current[0]} if current else set())
        numbers = self.numbers()
        newest = max(kept, default=0)
        doomed = [n for n in numbers if n not in kept and n < newest]
        if not doomed:
            return []
        root = self.releases_dir.resolve()
        needed: set[Path] = set()  # service folders a kept release runs from
        for n in kept & set(numbers):
            try:
                manifest = self.manifest(n)
            except ShipwayError:
                continue
            for service in manifest.services.values():
                folder = (self.path(n) / service.dir).resolve()
                if folder.is_relative_to(root):
                    needed.add(folder)
        for n in doomed:
            folder = self.path(n)
            keep_here = {p for p in needed if p.parent == folder.resolve()}
            if not keep_here:
                shutil.rmtree(folder, ignore_errors=True)
                continue
            (folder / MANIFEST_FILE).unlink(missing_ok=True)  # first: no longer a release
            (folder / SECRETS_FILE).unlink(missing_ok=True)
            for entry in folder.iterdir():
                if entry.resolve() in keep_here:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        return doomed
