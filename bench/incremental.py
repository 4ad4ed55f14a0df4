"""Incremental runs: 20 services, one changed, against a full run of the same repository.

Each service's build does a little real work (about 0.5 s of CPU, like compiling or
bundling), so the figures show what skipping unchanged services saves. Goal: the
incremental run takes at most 10 % of the full run's time.

    .venv/bin/python bench/incremental.py [--services 20] [--work 0.5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from monorepo import buildspec, git, make_repo, serverless_yml, timed_run

GOAL = 0.10

WORK = """import sys, time
start = time.process_time()
while time.process_time() - start < float(sys.argv[1]):
    pass
"""


def service_files(n: int, work: float) -> dict[str, str]:
    return {
        "serverless.yml": serverless_yml(n),
        "handler.py": f"def hello(event, context):\n    return {n}\n",
        "buildspec.yml": buildspec(f"python3 work.py {work}"),
        "work.py": WORK,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--work", type=float, default=0.5, help="CPU seconds per build")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="build.concurrency (default: CPU count)"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="shipway-bench-"))
    try:
        repo = make_repo(
            root,
            args.services,
            lambda n: service_files(n, args.work),
            "project: bench\n"
            + (f"build:\n  concurrency: {args.concurrency}\n" if args.concurrency else "")
            + "environments:\n  dev:\n    branch: dev\n    target: local\n",
        )
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
    concurrency = args.concurrency or os.cpu_count()
    print(
        f"{args.services} services, {args.work:.1f} s of CPU per build, {os.cpu_count()} cores,"
        f" {concurrency} builds at a time"
    )
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
    floor = min(concurrency or 1, os.cpu_count() or 1) / args.services
    print(
        f"(a full run builds {concurrency} services at a time, so one changed service cannot"
        f" take less than {floor:.0%} of it, whatever the overhead)"
    )


if __name__ == "__main__":
    main()
