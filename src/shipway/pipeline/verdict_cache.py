"""Services already found to hold no refused setting: not synthesized again to be sure.

The verdict synthesizes every service of every run (synth/template.support_problems), which
is most of a run's planning once nothing changed. Synthesis is a pure function of the
service's resolved document (and of Shipway's code), so a clean answer is kept
as an empty marker file named by the hash of both: a run whose services resolve as before
skips it. A refusal is never kept (it is computed again, with its message), and any change
to the document, the stage, the region or Shipway's code is another name.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import shipway
from shipway.errors import ShipwayError
from shipway.model import ServiceDefinition
from shipway.synth.template import support_problems

__all__ = ["SupportCache"]


class SupportCache:
    """`support_problems`, remembering the services that had none under `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, definition: ServiceDefinition, source: str) -> list[ShipwayError]:
        marker = self._marker(definition, source)
        if marker is not None and marker.is_file():
            return []
        found = support_problems(definition, source)
        if not found and marker is not None:
            self._remember(marker)
        return found

    def _marker(self, definition: ServiceDefinition, source: str) -> Path | None:
        try:
            text = json.dumps(
                [
                    _code_hash(),
                    source,
                    definition.service,
                    definition.stage,
                    definition.region,
                    definition.runtime,
                    definition.resolved,
                    definition.unknown_keys,
                ],
                sort_keys=True,
                default=_stable,
            )
        except (TypeError, ValueError):  # a value with no stable text: not kept
            return None
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return self.folder / digest[:2] / digest

    def _remember(self, marker: Path) -> None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            marker.touch(mode=0o600)
        except OSError:  # a cache that cannot be written only costs time
            return


def _stable(value: Any) -> Any:
    """Intrinsic functions and other YAML nodes as text that names their kind."""
    return f"{type(value).__name__}:{value!r}"


@functools.cache
def _code_hash() -> str:
    """The hash of Shipway's code (and its vendored Framework schema): another version
    judges anew, also an edited development install."""
    package = Path(shipway.__file__).parent
    digest = hashlib.sha256(getattr(shipway, "__version__", "").encode())
    files = [*sorted(package.rglob("*.py")), package / "config/framework_schema.json"]
    for path in files:
        try:
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
        except OSError:
            digest.update(os.urandom(16))  # unreadable: never matches a kept answer
    return digest.hexdigest()
