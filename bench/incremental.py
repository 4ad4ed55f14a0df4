"""Incremental runs: 20 services, one changed, against a full run of the same repository.

Each service's build does a little real work (about 0.5 s of CPU, like compiling or
bundling), so the figures show what skipping unchanged services saves. Goal: the
incremental run takes at most 10 % of the full run's time.

    .venv/bin/python bench/incremental.py [--services 20] [--work 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 0.10

SERVERLESS = """service: svc{n:02d}
provider:
  name: aws
  runtime: python3.11
functions:
  hello:
    handler: handler.hello
    events:
      - httpApi: GET /hello
"""
BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - python3 work.py {work}
      - mkdir -p dist && cp handler.py dist/
artifacts:
  base-directory: dist
  files:
    - '**/*'
"""
WORK = """import sys, time
start = time.process_time()
while time.process_time() - start < float(sys.argv[1]):
    pass
"""
GIT_ENV = {
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@b",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@b",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
    )


def make_repo(root: Path, services: int, work: float) -> Path:
    repo = root / "mono"
    for n in range(services):
        folder = repo / "services" / f"svc{n:02d}"
        folder.mkdir(parents=True)
        (folder / "serverless.yml").write_text(SERVERLESS.format(n=n))
        (folder / "handler.py").write_text(f"def hello(event, context):\n    return {n}\n")
        (folder / "buildspec.yml").write_text(BUILDSPEC.format(work=work))
        (folder / "work.py").write_text(WORK)
    (repo / "shipway.yml").write_text(
        "project: bench\nenvironments:\n  dev:\n    branch: dev\n    target: local\n"
    )
    git(repo, "init", "-q", "-b", "dev")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench")
    return repo


def timed_run(repo: Path, *extra: str) -> tuple[float, dict[str, object]]:
    shipway = Path(sys.executable).with_name("shipway")
    started = time.perf_counter()
    proc = subprocess.run(
        [str(shipway), "run", "dev", "--json", *extra, "--repo", str(repo)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"shipway run failed:\n{proc.stderr}")
    return wall, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--work", type=float, default=0.5, help="CPU seconds per build")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="shipway-bench-"))
    try:
        repo = make_repo(root, args.services, args.work)
        full, _ = timed_run(repo)
        handler = repo / "services" / "svc07" / "handler.py"
        handler.write_text(handler.read_text().replace("return 7", "return 'seven'"))
        git(repo, "commit", "-qam", "change one service")
        incremental, doc = timed_run(repo)
        forced, _ = timed_run(repo, "--force")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    jobs = doc["jobs"]
    assert isinstance(jobs, list)
    built = sorted(j["service"] for j in jobs if j["stage"] == "build" and "reused_from" not in j)
    deployed = sorted(
        j["service"] for j in jobs if j["stage"] == "deploy" and j["state"] == "succeeded"
    )
    print(f"{args.services} services, {args.work:.1f} s of CPU per build, {os.cpu_count()} cores")
    print(f"{'run':<34} {'wall s':>8} {'vs full':>8} {'goal':>6}")
    print(f"{'full (first run)':<34} {full:>8.3f} {1:>8.1%}")
    print(f"{'full again (--force)':<34} {forced:>8.3f} {forced / full:>8.1%}")
    print(
        f"{'incremental (1 service changed)':<34} {incremental:>8.3f} {incremental / full:>8.1%}"
        f" {GOAL:>6.0%}"
    )
    print(f"incremental run built {built} and deployed {deployed}")
    verdict = "meets" if incremental / full <= GOAL else "misses"
    print(f"incremental/full = {incremental / full:.1%}: {verdict} the goal of {GOAL:.0%}")


if __name__ == "__main__":
    main()
