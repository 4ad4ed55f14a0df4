"""The generated monorepo the pipeline benchmarks run on: N services under `services/`, each
a Serverless Framework service with an HTTP API function, on one `dev` branch.

Imported by the scripts next to it (`python bench/x.py` puts this folder on sys.path).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

SERVERLESS = """service: svc{n:02d}
provider:
  name: aws
  runtime: python3.11
{provider_extra}functions:
  hello:
    handler: handler.hello
    events:
      - httpApi: GET /hello
"""
BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
{commands}      - mkdir -p dist && cp handler.py dist/
artifacts:
  base-directory: dist
  files:
    - '**/*'
"""
GIT_ENV = {
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@b",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@b",
}


def serverless_yml(n: int, provider_extra: str = "") -> str:
    """Service `svc<nn>`; `provider_extra` is YAML lines added under `provider:`."""
    return SERVERLESS.format(n=n, provider_extra=provider_extra)


def buildspec(*commands: str) -> str:
    """A buildspec that runs `commands`, then packages handler.py from dist/."""
    return BUILDSPEC.format(commands="".join(f"      - {c}\n" for c in commands))


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
    )


def make_repo(
    root: Path,
    services: int,
    service_files: Callable[[int], Mapping[str, str]],
    shipway_yml: str,
) -> Path:
    """`root/mono`: services `svc00`… with `service_files(n)` each, committed on `dev`."""
    repo = root / "mono"
    for n in range(services):
        folder = repo / "services" / f"svc{n:02d}"
        folder.mkdir(parents=True)
        for name, text in service_files(n).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    (repo / "shipway.yml").write_text(shipway_yml)
    git(repo, "init", "-q", "-b", "dev")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench")
    return repo


def timed_run(repo: Path, *extra: str) -> tuple[float, dict[str, object]]:
    """`shipway run dev --json` (plus `extra`): its wall time and its JSON document."""
    shipway = Path(sys.executable).with_name("shipway")
    started = time.perf_counter()
    proc = subprocess.run(
        [str(shipway), "run", "dev", "--json", *extra, "--repo", str(repo)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"shipway run failed ({proc.returncode}):\n{proc.stderr}")
    doc: dict[str, object] = json.loads(proc.stdout)
    return wall, doc
