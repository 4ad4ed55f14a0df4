"""The local AWS emulator's parameter store: what `${ssm:…}` of a local environment reads,
and what `shipway ssm put` writes.

moto keeps its parameters in memory, like the rest of the emulator's state; a parameter
the team put for its local environments must outlive the server, so the parameters put
through Shipway are kept in `<state>/emulator/parameters.json` (owner only: a
SecureString's value is a secret, as in a release's secrets.json) and put on the emulator
each time the server starts, and at once when one runs. A plan reads that file first,
then the served emulator (a parameter a handler or `aws --endpoint-url` put there).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipway.errors import ShipwayError
from shipway.targets.local.emulator import EmulatorAccess, emulator_client

if TYPE_CHECKING:
    from shipway.targets.aws.client import SsmParameter

__all__ = ["PARAMETER_TYPES", "LocalParameters", "StoredParameter"]

PARAMETER_TYPES = ("String", "StringList", "SecureString")
PARAMETERS_FILE = "emulator/parameters.json"
_FORMAT = 1
# SSM's rules (PutParameter): the characters, a name of at most 1011, a standard value of
# at most 4 KB, at most 15 levels below the root, no `aws`/`ssm` prefix
_NAME = re.compile(r"[A-Za-z0-9_.\-/]+")
_MAX_NAME = 1011
_MAX_VALUE = 4096
_MAX_LEVELS = 15
_RESERVED = ("aws", "ssm")


@dataclass(frozen=True)
class StoredParameter:
    region: str
    name: str
    type: str
    value: str
    version: int


class LocalParameters:
    """The parameters of the emulator of the server serving `state_dir`."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / PARAMETERS_FILE

    # ------------------------------------------------------------------ read

    def ssm_parameter(
        self, name: str, decrypt: bool = True, region: str | None = None
    ) -> SsmParameter | None:
        """As `AwsClient.ssm_parameter`: the kept parameter, else the served emulator's,
        else None. (The emulator encrypts nothing: `noDecrypt` reads the same text.)"""
        region = region or "us-east-1"
        kept = self._read().get(region, {}).get(name)
        if kept is not None:
            from shipway.targets.aws.client import SsmParameter

            return SsmParameter(name, kept["type"], kept["value"])
        endpoint = EmulatorAccess(self.state_dir).served()
        if endpoint is None:
            return None
        return emulator_client(endpoint, region).ssm_parameter(name, decrypt, region=region)

    def missing(self, name: str, region: str) -> str:
        """What a `${ssm:}` of a parameter it lacks says."""
        put = f"shipway ssm put <env> {name} VALUE"
        if region != "us-east-1":
            put += f" --region {region}"
        return (
            f"SSM parameter `{name}` is not in the local emulator's parameter store "
            f"({region}): `{put}` puts it"
        )

    def listing(self, region: str | None = None) -> list[StoredParameter]:
        """The kept parameters (of `region`, or all), by region then name."""
        found = self._read()
        return [
            StoredParameter(r, name, p["type"], p["value"], p["version"])
            for r in sorted(found)
            if region is None or r == region
            for name, p in sorted(found[r].items())
        ]

    # ------------------------------------------------------------------ write

    def put(self, region: str, name: str, value: str, type_: str) -> StoredParameter:
        """Keeps the parameter (a new version when it existed) and puts it on the served
        emulator, if one runs. Raises ShipwayError naming what SSM would refuse."""
        check_parameter(name, value, type_)
        with self._locked() as found:
            endpoint = EmulatorAccess(self.state_dir).served()
            if endpoint is not None:  # first: what it refuses is not kept either
                emulator_client(endpoint, region).put_parameter(name, value, type_, region=region)
            before = found.get(region, {}).get(name)
            version = (before["version"] + 1) if before else 1
            found.setdefault(region, {})[name] = {"type": type_, "value": value, "version": version}
            self._write(found)
        return StoredParameter(region, name, type_, value, version)

    def delete(self, region: str, name: str) -> bool:
        """Forgets the parameter (and removes it from the served emulator); False when
        neither had it."""
        with self._locked() as found:
            kept = found.get(region, {}).pop(name, None) is not None
            if kept:
                if not found[region]:
                    del found[region]
                self._write(found)
        endpoint = EmulatorAccess(self.state_dir).served()
        served = False
        if endpoint is not None:
            served = emulator_client(endpoint, region).delete_parameter(name, region=region)
        return kept or served

    def replay(self, endpoint: str) -> list[str]:
        """Every kept parameter put on a fresh emulator (the server's, as it starts);
        one line per parameter it refused."""
        problems = []
        for p in self.listing():
            try:
                emulator_client(endpoint, p.region).put_parameter(
                    p.name, p.value, p.type, region=p.region
                )
            except ShipwayError as exc:
                problems.append(
                    f"SSM parameter `{p.name}` ({p.region}) is not on the emulator: {exc}"
                )
        return problems

    # ------------------------------------------------------------------ file

    def _read(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ShipwayError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            doc = json.loads(text)
            parameters = doc["parameters"]
            return {
                str(region): {
                    str(name): {
                        "type": str(p["type"]),
                        "value": str(p["value"]),
                        "version": int(p["version"]),
                    }
                    for name, p in names.items()
                }
                for region, names in parameters.items()
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ShipwayError(
                f"{self.path} is not the local parameter store Shipway writes",
                hint="remove it and put the parameters again (`shipway ssm put`)",
            ) from None

    def _write(self, found: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Whole or not at all, owner-only from its first byte."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"format": _FORMAT, "parameters": found}, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, dict[str, Any]]]]:
        """The kept parameters, read and written under a lock (two `ssm put`s at once
        must not lose one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = os.open(self.path.with_name(".parameters.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield self._read()
        finally:
            os.close(lock)


def check_parameter(name: str, value: str, type_: str) -> None:
    """What SSM's PutParameter refuses, said before anything is written."""
    if type_ not in PARAMETER_TYPES:
        raise ShipwayError(
            f"SSM parameter type `{type_}` is not one of {', '.join(PARAMETER_TYPES)}"
        )
    shown = name if len(name) <= 80 else name[:77] + "..."
    if not name or len(name) > _MAX_NAME or not _NAME.fullmatch(name):
        raise ShipwayError(
            f"SSM parameter name `{shown}` is not valid: 1 to {_MAX_NAME} of letters, digits "
            "and `_.-/`",
            hint="a hierarchy starts with `/`: `/myapp/dev/db-url`",
        )
    if "/" in name and (not name.startswith("/") or "//" in name or name.endswith("/")):
        raise ShipwayError(
            f"SSM parameter name `{shown}` is not valid: a name with a hierarchy starts with "
            "`/` and has no empty level (`/myapp/dev/db-url`)"
        )
    if name.count("/") > _MAX_LEVELS:
        raise ShipwayError(
            f"SSM parameter name `{shown}` has more than {_MAX_LEVELS} levels of hierarchy"
        )
    if name.lstrip("/").lower().startswith(_RESERVED):
        raise ShipwayError(
            f"SSM parameter name `{shown}` starts with `aws` or `ssm`, which AWS reserves"
        )
    if not value:
        raise ShipwayError(f"SSM parameter `{shown}`: the value is empty (SSM needs one)")
    if len(value.encode("utf-8")) > _MAX_VALUE:
        raise ShipwayError(
            f"SSM parameter `{shown}`: the value is {len(value.encode('utf-8'))} bytes; a "
            f"standard parameter holds at most {_MAX_VALUE}"
        )
