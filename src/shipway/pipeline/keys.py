"""Build input keys: same key, same artifact (build once, deploy many).

A service's key covers what its build can see: its folder's tracked files, the paths it
declares `shared`, every tracked file outside all service folders (as Seed does: a change
there may matter to any build), the kind of build, and the values of the environment
variables its buildspec refers to. Run identity (commit, build number, run id) is left out,
so an unchanged service is recognised across commits and environments.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping, Sequence

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


def _under(path: str, folder: str) -> bool:
    return folder in (".", "") or path == folder or path.startswith(folder.rstrip("/") + "/")


def referenced_variables(text: str) -> set[str]:
    """Names a buildspec refers to as `$NAME` or `${NAME}`."""
    return set(_REFERENCE.findall(text))


def build_key(
    service: Service,
    project: Project,
    files: Mapping[str, str],
    variables: Mapping[str, str],
    buildspec: BuildSpec | None,
    package_patterns: Sequence[str] = (),
) -> str:
    """The sha256 that identifies a service build's inputs."""
    folders = [s.path for s in project.services]
    own = sorted((p, b) for p, b in files.items() if _under(p, service.path))
    shared = sorted((p, b) for p, b in files.items() if any(_under(p, s) for s in service.shared))
    outside = sorted(
        (p, b)
        for p, b in files.items()
        if not any(_under(p, f) for f in folders) and not _NOT_SOURCE.match(p)
    )
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
        "outside": outside,
        "variables": read,
        "patterns": list(package_patterns),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
