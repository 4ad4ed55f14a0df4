"""Which local environments' current release changed since the last look: what the
scheduler and the event-source poller reload (they re-read `current` as a request does)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from shipway.errors import ShipwayError
from shipway.targets.local.releases import ReleaseManifest, check_name

__all__ = ["Current", "ReleaseWatch"]

Current = tuple[Path, ReleaseManifest]


class _Releases(Protocol):
    state_dir: Path

    def current_release(self, env: str) -> Current | None: ...


class ReleaseWatch:
    def __init__(self, gateway: _Releases) -> None:
        self.gateway = gateway
        self._releases: dict[str, Path | None] = {}  # env -> its release at the last look

    def envs(self) -> list[str]:
        """The local environments of the state folder (names a release could have)."""
        try:
            names = sorted(
                p.name for p in (self.gateway.state_dir / "envs").iterdir() if p.is_dir()
            )
        except OSError:
            return []
        valid = []
        for name in names:
            try:
                valid.append(check_name("environment", name))
            except ShipwayError:
                continue
        return valid

    def changes(self) -> tuple[list[str], list[tuple[str, Current | None]]]:
        """(the environments gone, each environment whose current release changed with
        that release, None when it has none now)."""
        envs = self.envs()
        gone = [e for e in self._releases if e not in envs]
        for env in gone:
            del self._releases[env]
        changed: list[tuple[str, Current | None]] = []
        for env in envs:
            try:
                found = self.gateway.current_release(env)
            except (ShipwayError, OSError):
                found = None
            release_dir = found[0] if found else None
            if env in self._releases and self._releases[env] == release_dir:
                continue
            self._releases[env] = release_dir
            changed.append((env, found))
        return gone, changed
