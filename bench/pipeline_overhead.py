"""Pipeline overhead: services whose builds do nothing, one `shipway run` to the local target.

Prints the wall time of the whole command, the longest single build, and the overhead
(wall - longest build) beside the goal of 1.0 s on 2 cores.

    .venv/bin/python bench/pipeline_overhead.py [--services 20] [--repeat 3] [--sandbox off]

`--scale` runs 20, 100, 400 and 2,000 services of 20 files each: a first run (empty state),
a `--force` run after it (every service built and deployed again) and a run with nothing
changed (every build reused), and prints the cost per service beside the goals (400
services: 3 s forced, 1.5 s unchanged).

    .venv/bin/python bench/pipeline_overhead.py --scale [--sizes 20,100,400,2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path

from monorepo import buildspec, make_repo, serverless_yml, timed_run

GOAL_SECONDS = 1.0
# --scale: the goals at 400 services, as a cost per service
SCALE_GOALS = {"force": 3.0 / 400, "unchanged": 1.5 / 400}
FILES_PER_SERVICE = 20

HANDLER = "def hello(event, context):\n    return {'ok': True}\n"


def service_files(n: int, total: int = 2) -> dict[str, str]:
    """Service n: serverless.yml, a handler, a buildspec for every other one, and modules up
    to `total` files."""
    files = {
        "serverless.yml": serverless_yml(n, "  environment:\n    STAGE: ${sls:stage}\n"),
        "handler.py": HANDLER,
    }
    if n % 2 == 0:  # half on a buildspec, half on the default build
        files["buildspec.yml"] = buildspec()
    for k in range(total - len(files)):
        files[f"lib/m{k:02d}.py"] = f"VALUE = {n * 100 + k}\n"
    return files


def shipway_yml(sandbox: str) -> str:
    return (
        f"project: bench\nbuild:\n  concurrency: {os.cpu_count() or 2}\n  sandbox: {sandbox}\n"
        "environments:\n  dev:\n    branch: dev\n    target: local\n"
    )


def scale(sizes: list[int], sandbox: str) -> None:
    """At each size: the first run (nothing in the state yet: every file of the commit and
    of every package written), a forced run after it (every service built and deployed
    again) and a run with nothing changed (every build reused). The cost per service must
    stay flat; the goals are for the forced and the unchanged run."""
    rows = []
    for n in sizes:
        root = Path(tempfile.mkdtemp(prefix="shipway-bench-"))
        try:
            repo = make_repo(
                root, n, lambda i: service_files(i, FILES_PER_SERVICE), shipway_yml(sandbox)
            )
            first, _ = timed_run(repo)
            forced, _ = timed_run(repo, "--force")
            unchanged, doc = timed_run(repo)
            reused = sum(
                1
                for j in doc["jobs"]  # type: ignore[attr-defined]
                if j["stage"] == "build" and "reused" in (j.get("message") or "")
            )
            if reused != n:
                sys.exit(f"the unchanged run reused {reused} of {n} builds")
        finally:
            shutil.rmtree(root, ignore_errors=True)
        rows.append((n, first, forced, unchanged))
        print(
            f"  {n} services done: first {first:.2f} s, forced {forced:.2f} s,"
            f" unchanged {unchanged:.2f} s",
            flush=True,
        )
    print(
        f"{FILES_PER_SERVICE} files per service, {os.cpu_count()} cores, sandbox {sandbox};"
        " ms per service (goal: 400 services in 3 s forced, 1.5 s unchanged)"
    )
    print(
        f"{'services':>8} {'files':>7} {'first s':>8} {'ms/svc':>7} {'forced s':>9}"
        f" {'ms/svc':>7} {'goal':>5} {'unchanged s':>12} {'ms/svc':>7} {'goal':>5}"
    )
    for n, first, forced, unchanged in rows:
        print(
            f"{n:>8} {n * FILES_PER_SERVICE:>7} {first:>8.2f} {1000 * first / n:>7.2f}"
            f" {forced:>9.2f} {1000 * forced / n:>7.2f} {1000 * SCALE_GOALS['force']:>5.2f}"
            f" {unchanged:>12.2f} {1000 * unchanged / n:>7.2f}"
            f" {1000 * SCALE_GOALS['unchanged']:>5.2f}"
        )


def one_run(repo: Path) -> tuple[float, float, str]:
    wall, doc = timed_run(repo, "--force")  # every service built and deployed, every time
    run_id = str(doc["id"])
    db = sqlite3.connect(repo / ".shipway" / "shipway.db")
    longest = db.execute(
        "SELECT MAX(finished_at - started_at) FROM jobs WHERE run_id = ? AND stage = 'build'",
        (run_id,),
    ).fetchone()[0]
    db.close()
    return wall, float(longest or 0.0), run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sandbox", choices=("on", "off"), default="on")
    parser.add_argument("--scale", action="store_true", help="cost per service at each size")
    parser.add_argument("--sizes", default="20,100,400,2000", help="with --scale")
    args = parser.parse_args()
    if args.scale:
        scale([int(n) for n in args.sizes.split(",")], args.sandbox)
        return
    root = Path(tempfile.mkdtemp(prefix="shipway-bench-"))
    try:
        repo = make_repo(root, args.services, service_files, shipway_yml(args.sandbox))
        rows = [one_run(repo) for _ in range(args.repeat)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"{args.services} services, {os.cpu_count()} cores, {args.repeat} runs of `shipway run dev`"
    )
    print(f"{'run':<8} {'wall s':>8} {'longest build s':>16} {'overhead s':>11} {'goal s':>7}")
    for wall, longest, run_id in rows:
        print(
            f"{run_id:<8} {wall:>8.3f} {longest:>16.3f} {wall - longest:>11.3f}"
            f" {GOAL_SECONDS:>7.1f}"
        )
    median = statistics.median(w - lb for w, lb, _ in rows)
    verdict = "meets" if median <= GOAL_SECONDS else "misses"
    print(f"median overhead {median:.3f} s {verdict} the goal of {GOAL_SECONDS:.1f} s")


if __name__ == "__main__":
    main()
