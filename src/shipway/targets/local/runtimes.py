"""Which Lambda runtimes the local runtime can run, and the command of a warm worker for each.

`python3.*` functions run on the Python that runs Shipway (worker_main.py); `nodejs*`
functions on the `node` found on PATH (worker_main.js, shipped in this package). Every other
runtime (java, go, dotnet, ruby, `provided.*`) has no local worker: `validate` and a local
deploy say so before any request. A runtime newer than the local interpreter is a warning
(its code may use what the older one lacks); an older one is not (Lambda's runtimes only add).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from pathlib import Path

from shipway.errors import ShipwayError
from shipway.model import ServiceDefinition

PYTHON_WORKER = Path(__file__).with_name("worker_main.py")
NODE_WORKER = Path(__file__).with_name("worker_main.js")
_VERSION = re.compile(r"^(?:python|nodejs)(\d+)(?:\.(\d+))?")


def family(runtime: str) -> str | None:
    """`python` or `nodejs` (the runtimes that have a local worker), else None."""
    if runtime.startswith("python3"):
        return "python"
    if runtime.startswith("nodejs"):
        return "nodejs"
    return None


@functools.lru_cache(maxsize=4)
def node_version(node: str) -> tuple[int, int] | None:
    """(major, minor) of the `node` at that path; None when it does not run."""
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return None
    match = re.match(r"v(\d+)\.(\d+)", out.strip())
    return (int(match[1]), int(match[2])) if match else None


def node_path() -> str | None:
    return shutil.which("node")


def cannot_run(runtime: str) -> str | None:
    """Why the local runtime cannot run functions of `runtime` on this machine (None: it can)."""
    kind = family(runtime)
    if kind is None:
        return (
            f"the local runtime cannot run {runtime}: only python3.x and nodejs functions run "
            "locally (their requests would fail)"
        )
    if kind == "nodejs" and (node_path() is None or node_version(node_path() or "") is None):
        return f"the local runtime cannot run {runtime}: node is not installed (not on PATH)"
    return None


def older_locally(runtime: str) -> str | None:
    """A note when this machine's interpreter is older than the runtime asks."""
    match = _VERSION.match(runtime)
    if match is None or cannot_run(runtime) is not None:
        return None
    wanted = (int(match[1]), int(match[2] or 0))
    if family(runtime) == "python":
        have = sys.version_info[:2]
        shown = f"Python {have[0]}.{have[1]}"
    else:
        version = node_version(node_path() or "")
        if version is None:
            return None
        have, wanted = (version[0], 0), (wanted[0], 0)  # nodejs18.x: the major alone
        shown = f"node {version[0]}.{version[1]}"
    if have >= wanted:
        return None
    return f"{runtime} functions run locally on {shown}, older than the runtime asks"


def worker_command(runtime: str) -> list[str]:
    """The worker's command line (its arguments follow: service folder and handler).

    Python without site-packages (-S) and without the caller's environment (-I): a handler
    sees its package, the standard library and the AWS SDK, as on Lambda."""
    kind = family(runtime)
    if kind == "python":
        return [sys.executable, "-I", "-S", "-u", str(PYTHON_WORKER)]
    problem = cannot_run(runtime)
    if problem is not None:
        raise ShipwayError(problem)
    node = node_path()
    assert node is not None
    return [node, str(NODE_WORKER)]


def local_runtime_warnings(definition: ServiceDefinition, older: bool = True) -> list[str]:
    """One line per runtime of the service that the local runtime cannot run (and, with
    `older`, runs on an older interpreter), naming its functions: said by `validate`, and
    by a local deploy (whose requests to such functions will fail)."""
    by_runtime: dict[str, list[str]] = {}
    for fn in definition.functions:
        by_runtime.setdefault(fn.runtime, []).append(fn.name)
    lines = []
    for runtime, names in sorted(by_runtime.items()):
        problem = cannot_run(runtime) or (older_locally(runtime) if older else None)
        if problem is not None:
            shown = ", ".join(f"`{n}`" for n in names)
            lines.append(f"{problem} (function{'s' if len(names) > 1 else ''} {shown})")
    return lines


__all__ = ["cannot_run", "family", "local_runtime_warnings", "older_locally", "worker_command"]
