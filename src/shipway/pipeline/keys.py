"""Build input keys: same key, same artifact (build once, deploy many).

A service's key covers what its build can see: its folder's tracked files, the paths it
declares `shared`, every tracked file outside all service folders (as Seed does: a change
there may matter to any build), the kind of build, and the values of the environment
variables its buildspec refers to. Run identity (commit, build number, run id) is left out,
so an unchanged service is recognised across commits and environments.

The commit's files are indexed once per run (`FileIndex`): each file is filed under those of
its ancestor folders that some key asks for, in one pass, so a key costs its own files, its
shared paths and the outside files, never a scan of the whole commit per service.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence

from shipway import __version__
from shipway.model import BuildSpec, Project, Service

# Variables that name the run, not the inputs: a reused artifact keeps the values of the
# run that built it.
RUN_IDENTITY = frozenset(
    {
        "CODEBUILD_BUILD_ID",
        "CODEBUILD_BUILD_NUMBER",
        "CODEBUILD_RESOLVED_SOURCE_VERSION",
        "CODEBUILD_SOURCE_VERSION",
        "CODEBUILD_INITIATOR",
        "CODEBUILD_WEBHOOK_HEAD_REF",
        "CODEBUILD_BUILD_SUCCEEDING",
        "CODEBUILD_SRC_DIR",
        "SHIPWAY_COMMIT",
        "SHIPWAY_RUN_ID",
    }
)
_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_NOT_SOURCE = re.compile(r"^(shipway\.ya?ml|\.env(\..*)?)$")

Entry = tuple[str, str]  # (path, blob id)


def _folder(path: str) -> str:
    """A folder as the index files it: no trailing slash; the root is ""."""
    path = path.rstrip("/")
    return "" if path in (".", "") else path


class FileIndex:
    """A commit's tracked files grouped, in one pass, under the folders keys ask about (the
    service folders and the shared paths), and the files outside every service folder.

    `lookups` counts the folder look-ups made (a path and each of its parents): the work
    done, which tests hold to a bound linear in the files.
    """

    def __init__(
        self, files: Mapping[str, str], services: Iterable[str], shared: Iterable[str] = ()
    ) -> None:
        service_folders = {_folder(f) for f in services}
        self._under: dict[str, list[Entry]] = {
            f: [] for f in {*service_folders, *map(_folder, shared)}
        }
        self.outside: list[Entry] = []
        self.lookups = 0
        everything = self._under.get("")  # the root asked for: every file is below it
        for path, blob in sorted(files.items()):  # sorted once: every list is born sorted
            entry = (path, blob)
            in_service = "" in service_folders
            prefix = path  # the path itself (a shared entry may name a file), then its parents
            while prefix:
                self.lookups += 1
                bucket = self._under.get(prefix)
                if bucket is not None:
                    bucket.append(entry)
                    in_service = in_service or prefix in service_folders
                cut = prefix.rfind("/")
                prefix = prefix[:cut] if cut > 0 else ""
            if everything is not None:
                everything.append(entry)
            if not in_service and not _NOT_SOURCE.match(path):
                self.outside.append(entry)

    @classmethod
    def for_project(cls, project: Project, files: Mapping[str, str]) -> FileIndex:
        """The index every service key of `project` reads from (made once per run)."""
        shared = [p for s in project.services for p in s.shared]
        return cls(files, [s.path for s in project.services], shared)

    def under(self, folder: str) -> list[Entry]:
        """The files at or below `folder` (a folder or a file path), sorted by path."""
        return self._under.get(_folder(folder), [])


def referenced_variables(text: str) -> set[str]:
    """Names a buildspec refers to as `$NAME` or `${NAME}`."""
    return set(_REFERENCE.findall(text))


def build_key(
    service: Service,
    index: FileIndex,
    variables: Mapping[str, str],
    buildspec: BuildSpec | None,
    package_patterns: Sequence[str] = (),
) -> str:
    """The sha256 that identifies a service build's inputs (`index`: the run's
    `FileIndex.for_project`)."""
    own = index.under(service.path)
    shared: list[Entry] = sorted({e for s in service.shared for e in index.under(s)})
    if buildspec is None:
        read: dict[str, str] = {}  # the default build runs no user commands
    else:
        names = referenced_variables(json.dumps(buildspec.raw)) - RUN_IDENTITY
        read = {n: variables[n] for n in sorted(names) if n in variables}
    document = {
        "shipway": __version__,
        "python": sys.version.split()[0],
        "build": "buildspec" if buildspec is not None else "default",
        "files": own,
        "shared": shared,
        "outside": index.outside,
        "variables": read,
        "patterns": list(package_patterns),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
