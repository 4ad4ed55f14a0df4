"""`shipway status` and `shipway runs` with a long history: N runs (default 1,000) of a
20-service repository in the store, each with its source, build and deploy jobs, and a
release for each successful run, written through the store's own API.

Prints each command's wall time beside that of Python importing the CLI (`python -c "import
shipway.cli.main"`: what every command pays before its work), the difference, and the use
case's own time measured in this process (`App.status()`, `App.runs()`, the CLI's work
without its printing), beside the goal of 100 ms.

    .venv/bin/python bench/status.py [--runs 1000] [--services 20] [--repeat 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from monorepo import make_repo, serverless_yml

from shipway.model import JobState, Release, ReleasedService, RunState, Stage
from shipway.store.sqlite import Store

GOAL_MS = 100.0


def fill(store: Store, runs: int, services: list[str]) -> None:
    """`runs` finished runs of `dev`: nine in ten succeed and make a release."""
    for n in range(runs):
        commit = f"{n:040x}"
        run = store.create_run("dev", commit, "cli", RunState.RUNNING)
        store.set_job(run.id, Stage.SOURCE, "*", JobState.SUCCEEDED)
        ok = n % 10 != 9
        for s in services:
            store.set_job(run.id, Stage.BUILD, s, JobState.SUCCEEDED, detail={"key": commit})
            store.set_job(run.id, Stage.DEPLOY, s, JobState.SUCCEEDED if ok else JobState.SKIPPED)
        number = None
        if ok:
            number = store.next_release_number("dev")
            released = tuple(ReleasedService(s, commit, commit[:16]) for s in services)
            store.add_release(Release("dev", number, run.id, commit, time.time(), released))
        state = RunState.SUCCEEDED if ok else RunState.FAILED
        store.update_run(run.id, state=state, finished_at=time.time(), release=number)


def timed(argv: list[str], repeat: int) -> float:
    """The median wall time of `argv`, in ms (it must succeed)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True)
        times.append((time.perf_counter() - started) * 1000)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return statistics.median(times)


def in_process(repo: Path, repeat: int) -> list[tuple[str, float]]:
    """The use cases' own time (App made fresh each time, as each command makes one)."""
    from shipway.app import App

    out = []
    for name, call in (
        ("App.status()", lambda app: app.status()),
        ("App.runs(limit=20)", lambda app: app.runs(None, 20)),
        ("App.runs(limit=1000)", lambda app: app.runs(None, 1000)),
    ):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            call(App(repo))
            times.append((time.perf_counter() - started) * 1000)
        out.append((name, statistics.median(times)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    shipway = str(Path(sys.executable).with_name("shipway"))
    root = Path(tempfile.mkdtemp(prefix="shipway-bench-"))
    try:
        repo = make_repo(
            root,
            args.services,
            lambda n: {
                "serverless.yml": serverless_yml(n),
                "handler.py": "def hello(e, c): pass\n",
            },
            "project: bench\nenvironments:\n  dev:\n    branch: dev\n    target: local\n",
        )
        store = Store(repo / ".shipway" / "shipway.db")
        started = time.perf_counter()
        fill(store, args.runs, [f"svc{n:02d}" for n in range(args.services)])
        filled = time.perf_counter() - started
        store.close()
        base = timed([sys.executable, "-c", "import shipway.cli.main"], args.repeat)
        inproc = in_process(repo, args.repeat)
        rows = [
            (name, timed([shipway, *argv, "--repo", str(repo)], args.repeat))
            for name, argv in (
                ("status", ["status"]),
                ("status --json", ["status", "--json"]),
                ("runs", ["runs"]),
                ("runs --json --limit 1000", ["runs", "--json", "--limit", "1000"]),
                ("runs dev", ["runs", "dev"]),
            )
        ]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"{args.runs} runs of {args.services} services in the store (filled in {filled:.1f} s);"
        f" median of {args.repeat}"
    )
    print(f"{'command':<26} {'wall ms':>8} {'- import ms':>12} {'goal ms':>8}")
    print(f"{'import shipway.cli.main':<26} {base:>8.1f}")
    for name, wall in rows:
        own = wall - base
        verdict = "meets" if own <= GOAL_MS else "misses"
        print(f"{name:<26} {wall:>8.1f} {own:>12.1f} {GOAL_MS:>8.0f}  {verdict}")
    print(f"{'in process':<26} {'own ms':>8}")
    for name, ms in inproc:
        verdict = "meets" if ms <= GOAL_MS else "misses"
        print(f"{name:<26} {ms:>8.1f} {'':>12} {GOAL_MS:>8.0f}  {verdict}")


if __name__ == "__main__":
    main()
