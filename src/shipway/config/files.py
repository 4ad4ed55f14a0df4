"""Reading the repository's config files, confined and bounded.

A commit is untrusted: a path in it (`${file(../../etc/passwd)}`), a committed symlink
(`.env -> /etc/shadow`) or a device (`${file(/dev/zero)}`) must not make Shipway read
anything outside the repository it is reading (the exported commit in `run`). Every config
read goes through `confined` (where may it be?) and `read_config_text` (what may it be?).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from shipway.errors import ShipwayError, Where
from shipway.limits import MAX_CONFIG_BYTES, megabytes

__all__ = ["confined", "is_inside", "read_config_text", "root_of"]


def root_of(path: Path, display: str) -> Path:
    """The repository root implied by `path` and its repository-relative `display` name
    (`/r/services/a/serverless.yml` shown as `services/a/serverless.yml` -> `/r`)."""
    parts = PurePosixPath(display).parts
    if not parts or PurePosixPath(display).is_absolute() or ".." in parts:
        return path.parent
    if len(parts) >= len(path.parts):
        return path.parent
    return path.parents[len(parts) - 1]


def is_inside(root: Path, path: Path) -> bool:
    """Whether `path`, with every symlink followed, stays inside `root`."""
    return _real_inside(root, path) is not None


def _real_inside(root: Path, path: Path) -> Path | None:
    """`path` with every symlink followed, when that stays inside `root`; else None."""
    real_root = root.resolve()  # not kept: a root may lie in a commit, which can change
    try:
        real = path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
        return None
    return real if real == real_root or real.is_relative_to(real_root) else None


def climbs_out(path: str) -> bool:
    """Whether a relative path (`/` separated, as buildspecs write them) is absolute or
    goes above its starting folder with `..` — judged on the text, before any file exists."""
    depth = 0
    for seg in path.split("/") if not path.startswith("/") else ["..", *path.split("/")]:
        if seg == "..":
            depth -= 1
        elif seg not in ("", "."):
            depth += 1
        if depth < 0:
            return True
    return False


def confined(root: Path, path: Path, display: str, key: str | None = None) -> Path:
    """`path` (absolute, or relative to the working folder) resolved, symlinks followed;
    a ShipwayError naming `display` when it leads outside `root`."""
    if "\0" in str(path):
        raise ShipwayError("a path cannot hold a NUL byte", Where(display.replace("\0", "\\0")))
    real = _real_inside(root, path)
    if real is None:
        raise ShipwayError(
            f"`{display}` leads outside the repository",
            Where(display, None, key),
            hint="a path (or a committed symlink) may not leave the repository",
        )
    return real


def read_config_text(path: Path, display: str, root: Path | None = None) -> str:
    """The text of a config file: a regular file of at most MAX_CONFIG_BYTES, in UTF-8;
    inside `root` when one is given. Errors name `display`."""
    where = Where(display)
    if root is not None:
        path = confined(root, path, display)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ShipwayError("file not found", where) from None
    except ValueError:
        raise ShipwayError("a path cannot hold a NUL byte", where) from None
    except OSError as exc:
        raise ShipwayError(f"cannot read the file: {exc.strerror}", where) from None
    if not stat.S_ISREG(info.st_mode):
        raise ShipwayError("not a regular file", where, hint="config files must be plain files")
    _check_size(info.st_size, where)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ShipwayError(f"cannot read the file: {exc.strerror}", where) from None
    _check_size(len(data), where)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ShipwayError("not UTF-8 text", where) from None


def _check_size(size: int, where: Where) -> None:
    if size > MAX_CONFIG_BYTES:
        raise ShipwayError(
            f"the file is {megabytes(size)}; the limit is {megabytes(MAX_CONFIG_BYTES)}",
            where,
        )
