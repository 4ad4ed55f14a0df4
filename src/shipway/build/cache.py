"""`cache.paths`: restored before INSTALL, saved after a successful build.

A path is a glob (`**` allowed) relative to the service folder, or absolute. Only paths
under the service folder, the workspace (CODEBUILD_SRC_DIR) or $HOME are cached; `/root/…`
(CodeBuild's $HOME) means $HOME here. Other absolute paths (`/usr/…`, `/.gradle/…`) are
skipped with a log line: restoring them would write outside what a build owns.

The saved cache is a folder: `<cache_dir>/{service,workspace,home}/<relative path>`, so it
does not depend on where the workspace was exported. Saving builds a new folder beside
`cache_dir` and renames it into place, so a reader sees the old cache, no cache, or the new
one, never half of one. Restoring never overwrites a file that exists (the source and the
machine's own files win), keeps modes and symlinks, and adds nothing but cached files: the
artifact's bytes depend only on what the build produces, not on whether the cache was warm.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from shipway.build.logs import BuildLog
from shipway.build.package import expand_vars
from shipway.build.patterns import compile_glob, has_magic
from shipway.config.files import is_inside

_CODEBUILD_HOME = "/root"


@dataclass(frozen=True)
class CacheEntry:
    root: str  # service | workspace | home
    base: Path  # that root on this machine
    pattern: str  # glob relative to base
    start: str  # the literal folder (or file) the pattern starts in, relative to base
    confine: Path  # what the entry may read and write: the workspace, or $HOME


def plan_cache(
    paths: tuple[str, ...],
    service_dir: Path,
    workspace: Path,
    home: str | None,
    env: Mapping[str, str],
) -> tuple[list[CacheEntry], list[str]]:
    """The cache entries of `cache.paths`, and a note for each path that is not cached."""
    roots = [("service", os.path.abspath(service_dir)), ("workspace", os.path.abspath(workspace))]
    if home and os.path.isabs(home) and home != "/":
        roots.append(("home", os.path.abspath(home)))
    entries: list[CacheEntry] = []
    notes: list[str] = []
    for raw in paths:
        text = expand_vars(raw, env).strip().replace("\\", "/")
        if not text:
            continue
        if home and home != _CODEBUILD_HOME and (text + "/").startswith(_CODEBUILD_HOME + "/"):
            text = home.rstrip("/") + text[len(_CODEBUILD_HOME) :]
        absolute = text if text.startswith("/") else posixpath.join(roots[0][1], text)
        normal = _normalize(absolute)
        if normal is None:
            notes.append(f"cache path `{raw}`: `..` after a wildcard is not supported; skipped")
            continue
        found = _root_of(normal, roots)
        if found is None:
            notes.append(
                f"cache path `{raw}` is outside the service folder, the workspace and $HOME; "
                "skipped locally"
            )
            continue
        name, base, rel = found
        if not has_magic(rel):
            rel = f"{rel}/**" if rel else "**"  # a file, or everything below a folder
        start = _literal_prefix(rel)
        if name == "home" and not start:
            notes.append(f"cache path `{raw}` would cache all of $HOME; skipped")
            continue
        confine = Path(base) if name == "home" else Path(roots[1][1])
        entries.append(CacheEntry(name, Path(base), rel, start, confine))
    return entries, notes


def _root_of(path: str, roots: list[tuple[str, str]]) -> tuple[str, str, str] | None:
    for name, base in roots:
        if path == base or path.startswith(base + "/"):
            return name, base, path[len(base) + 1 :]
    return None


def _normalize(path: str) -> str | None:
    out: list[str] = []
    magic = False
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if magic:
                return None
            if out:
                out.pop()
            continue
        magic = magic or has_magic(seg)
        out.append(seg)
    return "/" + "/".join(out)


def _literal_prefix(rel: str) -> str:
    segs = rel.split("/")
    literal: list[str] = []
    for seg in segs[:-1]:
        if has_magic(seg):
            break
        literal.append(seg)
    return "/".join(literal)


def _walk(base: Path, start: str, skip: Path | None) -> Iterator[str]:
    """Files and symlinks below base/start, relative to base (symlinks are not followed)."""
    top = base / start if start else base
    if top.is_symlink() or top.is_file():
        yield start
        return
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirnames[:] = []
            continue
        rel = os.path.relpath(dirpath, base).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                yield prefix + name
        for name in sorted(filenames):
            yield prefix + name


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_file():
        shutil.copy2(src, dst)


def _matches(
    entries: list[CacheEntry],
    base_of: Mapping[str, Path],
    skip: Path | None,
    log: BuildLog | None = None,
) -> Iterator[tuple[CacheEntry, str]]:
    """(entry, path relative to its base) of every file the entries select. With a log
    (saving), a start folder reached through a symlink that leaves what the entry may read
    is skipped, with a warning: the cache never copies files from outside."""
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        regex = compile_glob(entry.pattern)
        top = base_of[entry.root] / entry.start
        if log is not None and entry.start and not is_inside(entry.confine, top.parent):
            log.agent(
                f"Warning: cache path `{entry.start}` is reached through a symlink "
                "that leaves the workspace; not saved"
            )
            continue
        for rel in _walk(base_of[entry.root], entry.start, skip):
            if (entry.root, rel) not in seen and regex.match(rel):
                seen.add((entry.root, rel))
                yield entry, rel


def _first_link(base: Path, rel: str) -> str:
    """The first folder of `rel` (below base) that is a symlink, for the warning."""
    parts = rel.split("/")
    for i in range(1, len(parts)):
        if (base / "/".join(parts[:i])).is_symlink():
            return "/".join(parts[:i])
    return rel


def restore_cache(entries: list[CacheEntry], cache_dir: Path, log: BuildLog) -> int:
    """Copy the saved files of `entries` into place. Returns how many were restored."""
    log.agent(f"Restoring cache from {cache_dir}")
    if not cache_dir.is_dir():
        log.agent("Restoring cache: no saved cache yet")
        return 0
    restored = kept = 0
    saved = {e.root: cache_dir / e.root for e in entries}
    refused: set[str] = set()
    for entry, rel in _matches(entries, saved, None):
        dst = entry.base / rel
        if os.path.lexists(dst):
            kept += 1
            continue
        # a committed symlink on the way (`node_modules -> /elsewhere`) would take the
        # copy outside the workspace: every folder on the way must resolve inside it
        if not is_inside(entry.confine, dst.parent):
            refused.add(_first_link(entry.base, rel))
            continue
        _copy(saved[entry.root] / rel, dst)
        restored += 1
    for link in sorted(refused):
        log.agent(
            f"Warning: cache restore skipped below `{link}`: a symlink that leaves the workspace"
        )
    log.agent(f"Restoring cache: {restored} files restored, {kept} already present and kept")
    return restored


def save_cache(entries: list[CacheEntry], cache_dir: Path, log: BuildLog) -> int:
    """Replace the saved cache with the current files of `entries`. Returns the file count."""
    log.agent(f"Saving cache to {cache_dir}")
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    fresh = cache_dir.with_name(f".{cache_dir.name}.new-{token}")
    old = cache_dir.with_name(f".{cache_dir.name}.old-{token}")
    count = 0
    try:
        fresh.mkdir()
        bases = {e.root: e.base for e in entries}
        for entry, rel in _matches(entries, bases, cache_dir, log):
            _copy(entry.base / rel, fresh / entry.root / rel)
            count += 1
        if cache_dir.exists():
            os.replace(cache_dir, old)
        os.replace(fresh, cache_dir)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    log.agent(f"Saving cache: {count} files")
    return count
