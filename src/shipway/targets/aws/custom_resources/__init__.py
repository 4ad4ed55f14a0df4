"""`custom-resources.zip`: the Framework's custom-resource handlers (handlers/, MIT), zipped
byte for byte the same every time so that its content-addressed key changes only when the
handlers do (a new Shipway version that changes them updates the functions' code)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

__all__ = ["CustomResourcesZip", "custom_resources_zip"]

_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: no build time in the bytes


@dataclass(frozen=True)
class CustomResourcesZip:
    data: bytes
    sha256: str  # hex


def _files(folder: Traversable, prefix: str = "") -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            out += _files(entry, f"{name}/")
        elif entry.name.endswith((".js", ".txt")):
            out.append((name, entry.read_bytes()))
    return out


@cache
def custom_resources_zip() -> CustomResourcesZip:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(_files(resources.files(__package__) / "handlers")):
            info = zipfile.ZipInfo(name, _EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    data = buffer.getvalue()
    return CustomResourcesZip(data, hashlib.sha256(data).hexdigest())
