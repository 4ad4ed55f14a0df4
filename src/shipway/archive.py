"""The package format, shared by the builds that write it and the targets that unpack it:
deterministic zips (same files in, same bytes out) and safe unpacking.

Entries are sorted by name; every timestamp is 1980-01-01 00:00:00; modes are 0o755 for
executable files and 0o644 for the rest; there are no directory entries; every entry is
ZIP_DEFLATED at level 6 with unix attributes. The zip is written beside `out` and renamed
into place, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from shipway.errors import ShipwayError, Where
from shipway.model import Artifact

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
LEVEL = 6
_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def check_arcname(name: str) -> str:
    """A safe relative posix name, or ValueError."""
    if not name or "\\" in name or name.startswith("/") or "\x00" in name:
        raise ValueError(f"zip entry {name!r} has an unsafe path (absolute, `..` or a drive)")
    parts = PurePosixPath(name).parts
    if any(p in ("..", ".") for p in parts) or (parts and ":" in parts[0]):
        raise ValueError(f"zip entry {name!r} has an unsafe path (absolute, `..` or a drive)")
    return "/".join(parts)


class UnsafeFile(ValueError):
    """A file to zip that is not (or no longer) a regular file inside the allowed folders."""


def _open_checked(src: Path, name: str, inside: Sequence[Path]) -> int:
    """Open src for reading; with `inside`, the file actually opened (whatever link was
    swapped in since it was chosen) must be a regular file below one of those folders."""
    fd = os.open(src, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO must not block
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile(f"`{name}` is not a regular file; not packaged")
        if inside:
            real = Path(os.readlink(f"/proc/self/fd/{fd}"))
            if not any(real.is_relative_to(folder) for folder in inside):
                raise UnsafeFile(f"`{name}` leads outside the service folder; not packaged")
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_zip(
    service: str, files: Mapping[str, Path], out: Path, inside: Sequence[Path] = ()
) -> Artifact:
    """Zip `files` ({name in zip: file on disk}) deterministically into `out`. With
    `inside` (resolved folders), every file read must be there (UnsafeFile otherwise)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    names = sorted(check_arcname(n) for n in files)
    by_name = {check_arcname(n): p for n, p in files.items()}
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=LEVEL) as zf:
            for name in names:
                with open(_open_checked(by_name[name], name, inside), "rb") as fh:
                    st = os.fstat(fh.fileno())  # the zip holds the content, links followed
                    executable = bool(st.st_mode & 0o111)
                    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
                    info.create_system = 3  # unix, so external_attr carries the mode
                    info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info._compresslevel = LEVEL  # type: ignore[attr-defined]
                    info.file_size = st.st_size
                    with zf.open(info, "w") as dst:
                        shutil.copyfileobj(fh, dst, _CHUNK)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    return Artifact(service=service, path=out, sha256=sha256_of(out), size=out.stat().st_size)


def unpack_zip(zip_path: Path, dest: Path) -> list[str]:
    """Extract `zip_path` into `dest`, refusing absolute, `..` and symlink entries.

    Files get 0o700 when the zip marks them executable, else 0o600 (an unpacked package is
    private state). Returns the names written.
    """
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written: list[str] = []
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ShipwayError(f"not a readable zip: {exc}", Where(str(zip_path))) from None
    with zf:
        for info in zf.infolist():
            try:
                name = check_arcname(info.filename.rstrip("/") or ".")
            except ValueError as exc:
                raise ShipwayError(str(exc), Where(str(zip_path))) from None
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ShipwayError(
                    f"zip entry {name!r} is a symlink (not supported)", Where(str(zip_path))
                )
            target = root / name
            if not target.resolve().is_relative_to(root):
                raise ShipwayError(
                    f"zip entry {name!r} has an unsafe path (leaves the folder)",
                    Where(str(zip_path)),
                )
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
            os.chmod(target, 0o700 if mode & 0o111 else 0o600)  # private state
            written.append(name)
    return written
