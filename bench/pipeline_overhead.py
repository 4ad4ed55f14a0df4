"""Pipeline overhead: 20 services whose builds do nothing, one `shipway run` to the local target.

Prints the wall time of the whole command, the longest single build, and the overhead
(wall - longest build) beside the goal of 1.0 s on 2 cores.

    .venv/bin/python bench/pipeline_overhead.py [--services 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
from pathlib import Path

from monorepo import buildspec, make_repo, serverless_yml, timed_run

GOAL_SECONDS = 1.0

HANDLER = "def hello(event, context):\n    return {'ok': True}\n"


def service_files(n: int) -> dict[str, str]:
    files = {
        "serverless.yml": serverless_yml(n, "  environment:\n    STAGE: ${sls:stage}\n"),
        "handler.py": HANDLER,
    }
    if n % 2 == 0:  # half on a buildspec, half on the default build
        files["buildspec.yml"] = buildspec()
    return files


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
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="shipway-bench-"))
    try:
        repo = make_repo(
            root,
            args.services,
            service_files,
            f"project: bench\nbuild:\n  concurrency: {os.cpu_count() or 2}\n"
            "environments:\n  dev:\n    branch: dev\n    target: local\n",
        )
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
