"""The local target: unpack built artifacts into a release and switch it in atomically."""

from __future__ import annotations

import hashlib
import stat
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from shipway.errors import ShipwayError
from shipway.model import Artifact, ServiceDefinition
from shipway.targets.local.releases import (
    MANIFEST_FILE,
    DeployedService,
    ReleaseManifest,
    ReleaseStore,
    check_name,
)


class LocalTarget:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)

    def store(self, env: str) -> ReleaseStore:
        return ReleaseStore(self.state_dir, env)

    def apply(
        self,
        env: str,
        number: int,
        commit: str,
        services: Sequence[tuple[ServiceDefinition, Artifact]],
    ) -> Path:
        """Release `number` of `env` with all `services`, or nothing: returns the release folder.

        On any failure the staging folder is removed and `current` is left as it was.
        """
        store = self.store(env)
        staging = store.prepare(number)
        try:
            deployed: dict[str, DeployedService] = {}
            for definition, artifact in services:
                name = check_name("service", definition.service)
                if name in deployed:
                    raise ShipwayError(f"service `{name}` is listed twice in release {number}")
                if artifact.service != name:
                    raise ShipwayError(
                        f"artifact of `{artifact.service}` given for service `{name}`"
                    )
                verify_sha256(artifact)
                unpack_zip(artifact.path, staging / name)
                deployed[name] = DeployedService.from_definition(definition, name, artifact.sha256)
            manifest = ReleaseManifest(
                env=env,
                number=int(number),
                commit=commit,
                created_at=time.time(),
                services=deployed,
            )
            manifest.write(staging)
            return store.commit(staging, number)
        except BaseException:
            store.discard(staging)
            raise

    def rollback_to(self, env: str, number: int) -> Path:
        """Point `current` of `env` back at an existing release."""
        return self.store(env).switch(number)

    def current_manifest(self, env: str) -> ReleaseManifest | None:
        current = self.store(env).current()
        if current is None:
            return None
        return ReleaseManifest.load(current[1])


def verify_sha256(artifact: Artifact) -> None:
    h = hashlib.sha256()
    try:
        with open(artifact.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as e:
        raise ShipwayError(f"artifact of `{artifact.service}` unreadable: {e}") from None
    if h.hexdigest() != artifact.sha256:
        raise ShipwayError(
            f"artifact of `{artifact.service}` ({artifact.path}) does not match its sha256"
        )


def _safe_member(name: str) -> PurePosixPath:
    if not name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ShipwayError(f"zip entry `{name}` has an absolute or unsafe path")
    path = PurePosixPath(name)
    if any(part == ".." for part in path.parts):
        raise ShipwayError(f"zip entry `{name}` leaves the package folder (`..`)")
    return path


def unpack_zip(zip_path: Path, dest: Path) -> None:
    """Extract `zip_path` into `dest`, refusing `..`, absolute paths and symlinks; keeps +x."""
    dest.mkdir(parents=True, exist_ok=False)
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as e:
        raise ShipwayError(f"artifact {zip_path} is not a readable zip: {e}") from None
    with zf:
        for info in zf.infolist():
            rel = _safe_member(info.filename)
            mode = (info.external_attr >> 16) & 0xFFFF
            if stat.S_ISLNK(mode):
                raise ShipwayError(f"zip entry `{info.filename}` is a symlink (not supported)")
            target = dest.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            perms = 0o755 if mode & 0o111 else 0o644
            target.chmod(perms)


__all__ = ["MANIFEST_FILE", "LocalTarget", "unpack_zip", "verify_sha256"]
