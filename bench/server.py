"""The server under pushes: `shipway serve --repo BARE` turning real `git push`es into runs.

A bare repository with Shipway's post-receive hook (`shipway hook install --repo BARE`), one
service whose build only echoes (runs cost little), environment `dev` on the local target
with `build: {sandbox: off}`. The server is a real `shipway serve --port 0 --repo BARE`
subprocess; pushes are real `git push`es from a clone; the store is read directly
(read-only SQLite at StatePaths.database) and polled every 5 ms. Three parts:

1. Push to run start: N pushes (default 100), one at a time, each a new commit of `dev`;
   the time from just before `git push` until the run is in the store (its created_at, and
   when the 5 ms poll first saw it), each run left to settle before the next push. Goal: a
   push starts its run within a second (median and p99 against 1,000 ms).
2. A burst of B pushes (default 200) of commits made beforehand, as fast as they go, with
   `mode: superseded` and with `mode: queued`, in two styles: `sequential` (each push waits
   for the one before to return, its hook done) and `pipelined` (the next push goes as soon
   as git accepted the one before, at most --in-flight at once: its hook may still be
   reporting). Runs created, runs that reached a deploy, superseded, pushed commits that
   never got a run (goal 0), runs whose hook named a run of another commit, deploys and
   runs overlapping in time in the environment (goal 0, from the stages' and jobs'
   started_at/finished_at), releases out of push order, the time to drain.
3. The server's RSS (VmRSS of /proc/PID/status): idle after start, while and after R runs
   (default 1,000, `mode: queued`, every run driven to a deploy). The runs are started the
   way the hook does (POST /hooks/git with the secret and `<old> <new> refs/heads/dev`)
   after moving `dev` in the bare repository to the next commit: a real git push per run
   would spend most of the time in the hook's own start. Goal: <= 100 MB. Shown: the
   server process itself, the VmRSS sum with its descendants (build shells, function
   workers; a child forked but not yet exec'd counts all the server's pages again) and the
   PSS sum (shared pages once).

Timings are printed, not asserted; the figures are noisy on a busy machine (the load
average is printed).

    .venv/bin/python bench/server.py [--pushes 100] [--burst 200] [--runs 1000] [--quick]
                                     [--burst-styles sequential,pipelined] [--in-flight 8]
                                     [--only latency,burst,rss] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from monorepo import GIT_ENV

from shipway.pipeline.paths import StatePaths
from shipway.source.hooks import HOOK_HEADER, SECRET_FILE

SHIPWAY = str(Path(sys.executable).with_name("shipway"))
LATENCY_GOAL_MS = 1000.0
RSS_GOAL_MB = 100.0
POLL_S = 0.005
UNFINISHED = ("queued", "running", "awaiting_approval")
ZERO = "0" * 40

SHIPWAY_YML = """project: bench
build:
  sandbox: off
environments:
  dev:
    branch: dev
    target: local
    mode: {mode}
"""
SERVERLESS = """service: app
provider:
  name: aws
  runtime: python3.11
functions:
  f:
    handler: handler.f
"""
# the build does almost nothing (tests/integration/cli.py ECHO_BUILD): runs cost little
ECHO_BUILD = """version: 0.2
phases:
  build:
    commands:
      - echo building
artifacts:
  files: [handler.py]
"""


def handler(n: int) -> str:
    return f"def f(event, context):\n    return {n}\n"


# --------------------------------------------------------------------------- git


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed in {repo}:\n{proc.stderr}")
    return proc.stdout.strip()


def _env() -> dict[str, str]:
    """The callers' environment without SHIPWAY_HOME (the state lives in the repository) or
    git's per-repository variables, plus a commit identity."""
    drop = {"SHIPWAY_HOME", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **GIT_ENV}


@dataclass
class Setup:
    root: Path
    bare: Path  # what people push to, with the hook; the server serves it
    clone: Path  # where the pushes come from

    @property
    def database(self) -> Path:
        return StatePaths.for_repo(self.bare).database


def make_setup(root: Path, mode: str) -> Setup:
    """A source repository (shipway.yml on main, the control branch; `dev` beside it), its
    bare clone with Shipway's hook installed, and a clone of that on `dev`."""
    source = root / "source"
    files = {
        "shipway.yml": SHIPWAY_YML.format(mode=mode),
        "services/app/serverless.yml": SERVERLESS,
        "services/app/handler.py": handler(0),
        "services/app/buildspec.yml": ECHO_BUILD,
    }
    for rel, text in files.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(text)
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "initial")
    git(source, "branch", "dev")
    bare = root / "server.git"
    git(root, "clone", "-q", "--bare", str(source), str(bare))
    installed = subprocess.run(
        [SHIPWAY, "hook", "install", "--repo", str(bare)],
        capture_output=True,
        text=True,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )
    if installed.returncode != 0:
        sys.exit(f"shipway hook install failed:\n{installed.stderr}")
    clone = root / "clone"
    git(root, "clone", "-q", "-b", "dev", str(bare), str(clone))
    return Setup(root, bare, clone)


def make_commits(clone: Path, n: int, start: int = 1) -> list[str]:
    """`n` new commits on the clone's `dev`, each changing the handler (a real build and
    deploy each); their shas, oldest first. Nothing is pushed."""
    shas = []
    path = clone / "services/app/handler.py"
    for k in range(start, start + n):
        path.write_text(handler(k))
        git(clone, "commit", "-q", "-a", "-m", f"v{k}")
        shas.append(git(clone, "rev-parse", "HEAD"))
    return shas


def push(
    clone: Path, sha: str, ref: str = "refs/heads/dev", remote: str = "origin"
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["git", "-C", str(clone), "push", "-q", remote, f"{sha}:{ref}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )


QUEUED_LINE = re.compile(r"shipway: run (\S+) (\S+) for dev")


# --------------------------------------------------------------------------- the server


class Server:
    """`shipway serve --port 0 --repo BARE`, its stderr kept in a file."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.err_path = setup.root / "server.stderr"
        self.err = self.err_path.open("w")
        self.proc = subprocess.Popen(
            [SHIPWAY, "serve", "--port", "0", "--repo", str(setup.bare)],
            stdout=subprocess.DEVNULL,
            stderr=self.err,
            stdin=subprocess.DEVNULL,
            env=_env(),
            start_new_session=True,
        )
        self.pid = self.proc.pid
        server_file = StatePaths.for_repo(setup.bare).home / "server.json"
        deadline = time.monotonic() + 60
        while True:
            self.check()
            with contextlib.suppress(OSError, ValueError):
                doc = json.loads(server_file.read_text())
                if doc.get("pid") == self.pid:
                    self.url = str(doc["url"])
                    break
            if time.monotonic() > deadline:
                sys.exit("the server did not write server.json within 60 s")
            time.sleep(0.02)
        self.secret = (StatePaths.for_repo(setup.bare).home / SECRET_FILE).read_text().strip()
        self.exit_code: int | None = None

    def check(self) -> None:
        if self.proc.poll() is not None:
            sys.exit(
                f"DEFECT: the server exited ({self.proc.returncode}); its stderr:\n"
                + self.err_path.read_text()[-4000:]
            )

    def post(self, old: str, new: str, ref: str = "refs/heads/dev") -> dict[str, object]:
        """What the post-receive hook sends: one `<old> <new> <ref>` line."""
        request = urllib.request.Request(
            f"{self.url}/hooks/git",
            data=f"{old} {new} {ref}\n".encode(),
            method="POST",
            headers={HOOK_HEADER: self.secret, "Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            doc: dict[str, object] = json.loads(response.read())
        return doc

    def stop(self) -> None:
        """Ctrl-C, as a user stops it; killed (its group) if it does not end in 30 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                print("DEFECT: the server did not stop within 30 s of SIGINT", file=sys.stderr)
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait()
        self.exit_code = self.proc.returncode
        self.err.close()

    def stderr_problems(self) -> list[str]:
        """Lines of the server's stderr that say something went wrong."""
        text = self.err_path.read_text(errors="replace")
        return [
            line
            for line in text.splitlines()
            if "Traceback" in line or line.startswith("shipway: ") or "Error" in line
        ]


@contextlib.contextmanager
def serving(setup: Setup) -> Iterator[Server]:
    server = Server(setup)
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- the store


class StoreReader:
    """The server's SQLite database, read-only (it is never written from here)."""

    def __init__(self, path: Path) -> None:
        deadline = time.monotonic() + 30
        while not path.exists():
            if time.monotonic() > deadline:
                sys.exit(f"no state database at {path}")
            time.sleep(0.05)
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        self.db.row_factory = sqlite3.Row

    def q(self, sql: str, *args: object) -> list[sqlite3.Row]:
        return self.db.execute(sql, args).fetchall()

    def run_of(self, sha: str) -> sqlite3.Row | None:
        rows = self.q(
            "SELECT id, state, created_at FROM runs WHERE env = 'dev' AND commit_sha = ?"
            " ORDER BY seq",
            sha,
        )
        return rows[0] if rows else None

    def unfinished(self) -> int:
        marks = ",".join("?" * len(UNFINISHED))
        return int(self.q(f"SELECT COUNT(*) FROM runs WHERE state IN ({marks})", *UNFINISHED)[0][0])

    def count(self, state: str | None = None) -> int:
        if state is None:
            return int(self.q("SELECT COUNT(*) FROM runs")[0][0])
        return int(self.q("SELECT COUNT(*) FROM runs WHERE state = ?", state)[0][0])

    def close(self) -> None:
        self.db.close()


def wait_settled(server: Server, store: StoreReader, at_least: int, timeout: float) -> bool:
    """Until `at_least` runs exist and none is unfinished; False at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check()
        if store.count() >= at_least and store.unfinished() == 0:
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------- memory


def _status_kb(pid: int, path: str, key: str) -> int:
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rss_kb(pid: int) -> int:
    return _status_kb(pid, "status", "VmRSS:")


def pss_kb(pid: int) -> int:
    """Proportional set size: pages shared with other processes (a child just forked, not
    yet exec'd, shares all of the server's) counted once between them."""
    return _status_kb(pid, "smaps_rollup", "Pss:")


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass(frozen=True)
class Rss:
    self_mb: float  # the server process's VmRSS
    total_mb: float  # VmRSS summed over the server and its descendants
    pss_mb: float  # PSS summed over the server and its descendants (shared pages once)
    children: int


def rss(pid: int) -> Rss:
    kids = descendants(pid)
    own = rss_kb(pid)
    total = own + sum(rss_kb(k) for k in kids)
    pss = sum(pss_kb(p) for p in [pid, *kids])
    return Rss(own / 1024, total / 1024, pss / 1024, len(kids))


# --------------------------------------------------------------------------- figures


def quantile(xs: list[float], q: int) -> float:
    """The q-th percentile (statistics' exclusive method; the only value of a single one)."""
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1]


def verdict(value: float, goal: float) -> str:
    return "meets" if value <= goal else "MISSES"


def overlaps(intervals: list[tuple[float, float, str]]) -> list[tuple[str, str]]:
    """Pairs of (start, end, id) intervals that overlap in time."""
    pairs = []
    ordered = sorted(intervals)
    for i, (_, end, a) in enumerate(ordered):
        for start, _, b in ordered[i + 1 :]:
            if start >= end:
                break
            pairs.append((a, b))
    return pairs


# --------------------------------------------------------------------------- 1. latency


@dataclass
class Latency:
    created_ms: list[float] = field(default_factory=list)  # run.created_at - before push
    seen_ms: list[float] = field(default_factory=list)  # when the 5 ms poll saw it
    push_ms: list[float] = field(default_factory=list)  # `git push` wall time (hook included)
    missing: list[str] = field(default_factory=list)  # pushes whose run never appeared
    push_failed: int = 0
    hook_silent: int = 0  # pushes whose output did not say `run dev-N queued for dev`
    states: dict[str, int] = field(default_factory=dict)
    idle: Rss | None = None
    hook_alone_ms: list[float] = field(default_factory=list)  # the hook with no server
    problems: list[str] = field(default_factory=list)


def bench_latency(root: Path, pushes: int) -> Latency:
    setup = make_setup(root, "superseded")
    shas = make_commits(setup.clone, pushes)
    out = Latency()
    with serving(setup) as server:
        store = StoreReader(setup.database)
        time.sleep(1.0)
        out.idle = rss(server.pid)
        for i, sha in enumerate(shas, 1):
            wall0, perf0 = time.time(), time.perf_counter()
            proc = push(setup.clone, sha)
            seen = None
            deadline = perf0 + 30
            while time.perf_counter() < deadline:
                row = store.run_of(sha)
                if row is not None:
                    seen = time.perf_counter()
                    out.created_ms.append((float(row["created_at"]) - wall0) * 1000)
                    out.seen_ms.append((seen - perf0) * 1000)
                    break
                time.sleep(POLL_S)
            _, stderr = proc.communicate(timeout=60)
            out.push_ms.append((time.perf_counter() - perf0) * 1000)
            if proc.returncode != 0:
                out.push_failed += 1
            if not QUEUED_LINE.search(stderr):
                out.hook_silent += 1
                if out.hook_silent <= 3:
                    print(f"  push {i}: hook said {stderr.strip()!r}", file=sys.stderr)
            if seen is None:
                out.missing.append(sha)
            wait_settled(server, store, i - len(out.missing), 120)
            if i % 10 == 0 or i == pushes:
                print(
                    f"  latency: {i}/{pushes} pushes, last {out.created_ms[-1]:.0f} ms",
                    file=sys.stderr,
                    flush=True,
                )
        for row in store.q("SELECT state, COUNT(*) AS n FROM runs GROUP BY state"):
            out.states[row["state"]] = row["n"]
        store.close()
    out.problems = server.stderr_problems()
    # the hook's own fixed cost: the installed post-receive hook starting, importing and
    # finding no server to report to (what every push pays before the server is asked)
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run(
            [str(setup.bare / "hooks" / "post-receive")],
            cwd=setup.bare,
            input="",
            capture_output=True,
            text=True,
            env=_env(),
        )
        out.hook_alone_ms.append((time.perf_counter() - began) * 1000)
    return out


def report_latency(out: Latency, pushes: int) -> None:
    print(
        f"\n1. push to run start: {pushes} real `git push`es to dev (post-receive hook),"
        " one at a time, each run settled before the next"
    )
    print(f"{'':<44} {'median ms':>10} {'p99 ms':>8} {'max ms':>8} {'goal ms':>8}")
    rows = [
        ("run created in the store (created_at)", out.created_ms, True),
        ("run seen polling the store (5 ms)", out.seen_ms, True),
        ("`git push` returned (hook included)", out.push_ms, False),
        ("the hook alone, no server (5 runs)", out.hook_alone_ms, False),
    ]
    for name, xs, goal in rows:
        if not xs:
            print(f"{name:<44} {'-':>10}")
            continue
        med, p99 = statistics.median(xs), quantile(xs, 99)
        tail = (
            f" {LATENCY_GOAL_MS:>8.0f}  median {verdict(med, LATENCY_GOAL_MS)},"
            f" p99 {verdict(p99, LATENCY_GOAL_MS)}"
            if goal
            else f" {'-':>8}"
        )
        print(f"{name:<44} {med:>10.1f} {p99:>8.1f} {max(xs):>8.1f}{tail}")
    print(
        f"pushes that failed: {out.push_failed}; whose run never appeared: {len(out.missing)};"
        f" whose hook output named no queued run: {out.hook_silent}"
    )
    print(f"runs by state: {json.dumps(out.states, sort_keys=True)}")
    _print_problems(out.problems)


# --------------------------------------------------------------------------- 2. burst


@dataclass
class Burst:
    mode: str
    style: str
    pushes: int
    push_s: float = 0.0  # first push started -> last push returned
    drain_s: float | None = None  # first push started -> every run settled (None: timed out)
    after_last_s: float | None = None  # last push returned -> every run settled
    push_failed: int = 0
    hook_silent: int = 0
    runs: int = 0
    states: dict[str, int] = field(default_factory=dict)
    reached_deploy: int = 0
    releases: int = 0
    lost: int = 0  # pushed commits without a run
    duplicated: int = 0  # pushed commits with more than one run
    misnamed: int = 0  # pushes whose hook output named a run of another commit
    deploy_overlaps: list[tuple[str, str]] = field(default_factory=list)
    job_overlaps: list[tuple[str, str]] = field(default_factory=list)
    active_overlaps: list[tuple[str, str]] = field(default_factory=list)
    out_of_order: int = 0  # releases whose commit was pushed before the previous release's
    last_live: bool = False
    created_ms: list[float] = field(default_factory=list)  # push -> run created, under load
    problems: list[str] = field(default_factory=list)
    exit_code: int | None = None


def bench_burst(
    root: Path, mode: str, style: str, pushes: int, in_flight: int, timeout: float
) -> Burst:
    """`sequential`: each `git push` waits for the one before to return (its hook done).
    `pipelined`: the next push goes as soon as the bare repository's `dev` shows the commit
    before it (git accepted that push; its post-receive hook may still be reporting it), at
    most `in_flight` pushes at once; pushed to the bare repository's path, so that the
    clone's own remote-tracking ref is not fought over."""
    setup = make_setup(root, mode)
    shas = make_commits(setup.clone, pushes)
    out = Burst(mode, style, pushes)
    started: dict[str, float] = {}
    named: dict[str, str] = {}  # pushed commit -> the run its hook output named
    ref_file = setup.bare / "refs" / "heads" / "dev"
    flying: list[tuple[int, str, subprocess.Popen[str]]] = []

    def finish(i: int, sha: str, proc: subprocess.Popen[str]) -> None:
        _, stderr = proc.communicate(timeout=120)
        if proc.returncode != 0:
            out.push_failed += 1
            print(f"  {mode}/{style} push {i} failed: {stderr.strip()!r}", file=sys.stderr)
        found = QUEUED_LINE.search(stderr)
        if found:
            named[sha] = found.group(1)
        else:
            out.hook_silent += 1
            if out.hook_silent <= 3:
                print(f"  {mode}/{style} push {i}: hook said {stderr.strip()!r}", file=sys.stderr)

    with serving(setup) as server:
        store = StoreReader(setup.database)
        first = time.time()
        for i, sha in enumerate(shas, 1):
            if style == "sequential":
                started[sha] = time.time()
                finish(i, sha, push(setup.clone, sha))
            else:
                previous = shas[i - 2] if i > 1 else None
                deadline = time.monotonic() + 120
                while True:
                    for entry in [f for f in flying if f[2].poll() is not None]:
                        flying.remove(entry)
                        finish(*entry)
                    if len(flying) < in_flight and (previous is None or _ref(ref_file) == previous):
                        break
                    if time.monotonic() > deadline:
                        sys.exit(f"push {i - 1} never reached the bare repository")
                    server.check()
                    time.sleep(0.002)
                started[sha] = time.time()
                flying.append((i, sha, push(setup.clone, sha, remote=str(setup.bare))))
            if i % 50 == 0:
                print(f"  burst {mode}/{style}: {i}/{pushes} pushed", file=sys.stderr, flush=True)
        for entry in flying:
            finish(*entry)
        last = time.time()
        out.push_s = last - first
        print(f"  burst {mode}/{style}: pushed, draining", file=sys.stderr, flush=True)
        if wait_settled(server, store, 1, timeout):
            settled = time.time()
            out.drain_s, out.after_last_s = settled - first, settled - last
        time.sleep(0.5)
        analyse_burst(out, store, shas, started, named)
        store.close()
    out.problems = server.stderr_problems()
    out.exit_code = server.exit_code
    return out


def _ref(path: Path) -> str | None:
    """A loose ref's value (a pushed branch is written loose), None before the first push."""
    try:
        return path.read_text().strip()
    except OSError:
        return None


def analyse_burst(
    out: Burst,
    store: StoreReader,
    shas: list[str],
    started: dict[str, float],
    named: dict[str, str],
) -> None:
    runs = store.q("SELECT * FROM runs WHERE env = 'dev' ORDER BY seq")
    out.runs = len(runs)
    for r in runs:
        out.states[r["state"]] = out.states.get(r["state"], 0) + 1
    by_commit: dict[str, list[sqlite3.Row]] = {}
    for r in runs:
        by_commit.setdefault(r["commit_sha"], []).append(r)
    out.lost = sum(1 for s in shas if s not in by_commit)
    out.duplicated = sum(1 for s in shas if len(by_commit.get(s, [])) > 1)
    commit_of = {r["id"]: r["commit_sha"] for r in runs}
    out.misnamed = sum(1 for s, run_id in named.items() if commit_of.get(run_id) != s)
    out.created_ms = [
        (float(by_commit[s][0]["created_at"]) - started[s]) * 1000 for s in shas if s in by_commit
    ]
    now = time.time()
    deploys = store.q(
        "SELECT run_id, started_at, finished_at FROM stages WHERE stage = 'deploy'"
        " AND started_at IS NOT NULL"
    )
    out.reached_deploy = len(deploys)
    out.deploy_overlaps = overlaps(
        [(d["started_at"], d["finished_at"] or now, d["run_id"]) for d in deploys]
    )
    jobs = store.q(
        "SELECT run_id, MIN(started_at) AS s, MAX(COALESCE(finished_at, ?)) AS f FROM jobs"
        " WHERE stage = 'deploy' AND started_at IS NOT NULL GROUP BY run_id",
        now,
    )
    out.job_overlaps = overlaps([(j["s"], j["f"], j["run_id"]) for j in jobs])
    out.active_overlaps = overlaps(
        [
            (r["started_at"], r["finished_at"] or now, r["id"])
            for r in runs
            if r["started_at"] is not None
        ]
    )
    order = {s: i for i, s in enumerate(shas)}
    releases = store.q("SELECT commit_sha FROM releases WHERE env = 'dev' ORDER BY number")
    out.releases = len(releases)
    positions = [order.get(r["commit_sha"], -1) for r in releases]
    out.out_of_order = sum(1 for a, b in itertools.pairwise(positions) if b <= a)
    out.last_live = bool(releases) and releases[-1]["commit_sha"] == shas[-1]


def report_burst(results: list[Burst]) -> None:
    n = results[0].pushes
    print(
        f"\n2. a burst of {n} real `git push`es of new commits to dev, as fast as they go"
        " (commits made beforehand). sequential: each push waits for the one before to return;"
        " pipelined: the next push goes once git has accepted the one before (its hook may"
        " still be reporting it)"
    )
    print(f"{'mode':<46}" + "".join(f" {b.mode:>11}" for b in results))
    print(f"{'pushes':<46}" + "".join(f" {b.style:>11}" for b in results) + "  goal")

    def row(name: str, values: list[str], goal: str = "") -> None:
        print(f"{name:<46}" + "".join(f" {v:>11}" for v in values) + f"  {goal}")

    def fmt(x: float | None, digits: int = 1) -> str:
        return "timed out" if x is None else f"{x:.{digits}f}"

    row("pushes made in (s)", [f"{b.push_s:.1f}" for b in results])
    row("pushes per second", [f"{b.pushes / b.push_s:.2f}" if b.push_s else "-" for b in results])
    row(
        "pushes that failed / hook named no run",
        [f"{b.push_failed}/{b.hook_silent}" for b in results],
        "0/0",
    )
    row("runs started (created)", [str(b.runs) for b in results], f"{n} (one per push)")
    row("runs that reached a deploy", [str(b.reached_deploy) for b in results], f"queued: {n}")
    row("releases made", [str(b.releases) for b in results])
    row("runs superseded", [str(b.states.get("superseded", 0)) for b in results], "queued: 0")
    row("runs succeeded", [str(b.states.get("succeeded", 0)) for b in results])
    other = [
        str(sum(v for k, v in b.states.items() if k not in ("superseded", "succeeded")))
        for b in results
    ]
    row("runs failed / other", other, "0")
    row("pushed commits that never got a run (lost)", [str(b.lost) for b in results], "0")
    row("pushed commits with 2+ runs", [str(b.duplicated) for b in results], "0")
    row("hook output named a run of another commit", [str(b.misnamed) for b in results], "0")
    row("deploys overlapping in time (stages)", [str(len(b.deploy_overlaps)) for b in results], "0")
    row(
        "deploys overlapping in time (deploy jobs)",
        [str(len(b.job_overlaps)) for b in results],
        "0",
    )
    row("runs active at once (pairs)", [str(len(b.active_overlaps)) for b in results], "0")
    row("releases out of push order", [str(b.out_of_order) for b in results], "0")
    row("last pushed commit is live", ["yes" if b.last_live else "NO" for b in results], "yes")
    row("time to drain: first push -> all settled (s)", [fmt(b.drain_s) for b in results])
    row("time to drain: last push -> all settled (s)", [fmt(b.after_last_s) for b in results])
    row(
        "push -> run created under load, median ms",
        [f"{statistics.median(b.created_ms):.0f}" if b.created_ms else "-" for b in results],
        f"<= {LATENCY_GOAL_MS:.0f}",
    )
    row(
        "push -> run created under load, p99 ms",
        [f"{quantile(b.created_ms, 99):.0f}" if b.created_ms else "-" for b in results],
        f"<= {LATENCY_GOAL_MS:.0f}",
    )
    row("server exit status after SIGINT", [str(b.exit_code) for b in results], "0")
    for b in results:
        for name, pairs in (
            ("deploy stages", b.deploy_overlaps),
            ("deploy jobs", b.job_overlaps),
            ("active runs", b.active_overlaps),
        ):
            if pairs:
                print(f"  {b.mode}/{b.style}: overlapping {name}: {pairs[:5]}")
        if b.problems:
            print(f"  {b.mode}/{b.style}: ", end="")
            _print_problems(b.problems)


# --------------------------------------------------------------------------- 3. memory


@dataclass
class Memory:
    runs: int
    idle: Rss | None = None
    samples: list[tuple[int, Rss]] = field(default_factory=list)  # (runs finished, rss)
    after: Rss | None = None
    peak_self: float = 0.0
    peak_total: float = 0.0
    peak_pss: float = 0.0
    post_ms: list[float] = field(default_factory=list)  # POST /hooks/git answered (run made)
    states: dict[str, int] = field(default_factory=dict)
    post_s: float = 0.0
    drain_s: float | None = None
    lost: int = 0
    max_queued: int = 0
    problems: list[str] = field(default_factory=list)


def bench_memory(root: Path, runs: int, timeout: float) -> Memory:
    setup = make_setup(root, "queued")
    print(f"  rss: making {runs} commits", file=sys.stderr, flush=True)
    shas = make_commits(setup.clone, runs)
    out = Memory(runs)
    with serving(setup) as server:
        store = StoreReader(setup.database)
        time.sleep(2.0)
        out.idle = rss(server.pid)
        # the commits reach the bare repository on a branch no environment follows
        # (one push; the hook says no environment follows it)
        pushed = push(setup.clone, shas[-1], "refs/heads/bench-objects")
        pushed.communicate(timeout=120)
        stop = threading.Event()

        def sample() -> None:
            store_s = StoreReader(setup.database)  # the sampler's own connection
            marks = {max(1, runs * k // 10) for k in range(1, 11)}
            while not stop.is_set():
                finished = store_s.count() - store_s.unfinished()
                now = rss(server.pid)
                out.peak_self = max(out.peak_self, now.self_mb)
                out.peak_total = max(out.peak_total, now.total_mb)
                out.peak_pss = max(out.peak_pss, now.pss_mb)
                out.max_queued = max(out.max_queued, store_s.count("queued"))
                reached = [m for m in marks if finished >= m]
                if reached:
                    for m in reached:
                        marks.discard(m)
                    out.samples.append((finished, now))
                    print(
                        f"  rss: {finished}/{runs} runs settled, {now.self_mb:.1f} MB"
                        f" ({now.total_mb:.1f} MB with children, PSS {now.pss_mb:.1f} MB)",
                        file=sys.stderr,
                        flush=True,
                    )
                time.sleep(0.25)
            store_s.close()

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        first = time.time()
        old = git(setup.bare, "rev-parse", "refs/heads/dev")
        for sha in shas:
            # dev moves to the next commit, as a push of it would, and the hook's report goes
            git(setup.bare, "update-ref", "refs/heads/dev", sha, old)
            sent = time.perf_counter()
            server.post(old, sha)
            out.post_ms.append((time.perf_counter() - sent) * 1000)
            old = sha
        out.post_s = time.time() - first
        print(f"  rss: {runs} runs started, draining", file=sys.stderr, flush=True)
        if wait_settled(server, store, runs, timeout):
            out.drain_s = time.time() - first
        time.sleep(2.0)
        stop.set()
        sampler.join()
        out.after = rss(server.pid)
        for row in store.q("SELECT state, COUNT(*) AS n FROM runs GROUP BY state"):
            out.states[row["state"]] = row["n"]
        have = {r["commit_sha"] for r in store.q("SELECT commit_sha FROM runs")}
        out.lost = sum(1 for s in shas if s not in have)
        store.close()
    out.problems = server.stderr_problems()
    return out


def report_memory(out: Memory, idle_latency: Rss | None) -> None:
    print(
        f"\n3. server RSS (VmRSS), {out.runs} runs in queued mode, each started as the hook does"
        " (POST /hooks/git) and driven to its end"
    )
    print(
        f"{'':<42} {'server MB':>10} {'+children MB':>13} {'PSS all MB':>11} {'children':>9}"
        f" {'goal MB':>8}"
    )

    def row(name: str, r: Rss | None) -> None:
        if r is None:
            print(f"{name:<42} {'-':>10}")
            return
        print(
            f"{name:<42} {r.self_mb:>10.1f} {r.total_mb:>13.1f} {r.pss_mb:>11.1f}"
            f" {r.children:>9} {RSS_GOAL_MB:>8.0f}  server {verdict(r.self_mb, RSS_GOAL_MB)},"
            f" with children {verdict(r.total_mb, RSS_GOAL_MB)} (PSS"
            f" {verdict(r.pss_mb, RSS_GOAL_MB)})"
        )

    if idle_latency is not None:
        row("idle after start (part 1's server)", idle_latency)
    row("idle after start", out.idle)
    for finished, r in out.samples:
        row(f"after {finished} runs settled (while running)", r)
    row(f"after {out.runs} runs, idle 2 s", out.after)
    print(
        f"{'peak while running (0.25 s samples)':<42} {out.peak_self:>10.1f}"
        f" {out.peak_total:>13.1f} {out.peak_pss:>11.1f} {'':>9} {RSS_GOAL_MB:>8.0f}"
    )
    drain = "timed out" if out.drain_s is None else f"{out.drain_s:.1f} s"
    print(
        f"runs started in {out.post_s:.1f} s, all settled after {drain}"
        f" ({out.runs / out.drain_s:.2f} runs/s); most queued at once {out.max_queued};"
        f" commits without a run {out.lost}"
        if out.drain_s
        else f"runs started in {out.post_s:.1f} s, settled: {drain}; commits without a run"
        f" {out.lost}"
    )
    if out.post_ms:
        med, p99 = statistics.median(out.post_ms), quantile(out.post_ms, 99)
        print(
            f"POST /hooks/git answered (the run created: the server's own share of a push's"
            f" latency): median {med:.0f} ms, p99 {p99:.0f} ms, max {max(out.post_ms):.0f} ms"
            f" (goal {LATENCY_GOAL_MS:.0f}: median {verdict(med, LATENCY_GOAL_MS)}, p99"
            f" {verdict(p99, LATENCY_GOAL_MS)})"
        )
    print(f"runs by state: {json.dumps(out.states, sort_keys=True)}")
    _print_problems(out.problems)


def _print_problems(lines: list[str]) -> None:
    if lines:
        print(f"server stderr: {len(lines)} lines of trouble, the first:")
        for line in lines[:5]:
            print(f"    {line[:200]}")
    else:
        print("server stderr: nothing went wrong")


# --------------------------------------------------------------------------- main


def header(argv: list[str]) -> None:
    here = Path(__file__).resolve().parent
    commit = subprocess.run(
        ["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(here), "status", "--porcelain", "--", "."], capture_output=True, text=True
    ).stdout.strip()
    print(f"command: {shlex.join([sys.executable, *argv])}")
    print(f"commit: {commit or '?'}{' (bench/ has uncommitted changes)' if dirty else ''}")
    load = os.getloadavg()
    version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    print(
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at"
        f" start; {version.strip()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=100, help="part 1: pushes timed (100)")
    parser.add_argument("--burst", type=int, default=200, help="part 2: pushes per mode (200)")
    parser.add_argument("--runs", type=int, default=1000, help="part 3: runs before RSS (1000)")
    parser.add_argument(
        "--burst-styles", default="sequential,pipelined", help="part 2: how pushes follow"
    )
    parser.add_argument("--in-flight", type=int, default=8, help="pipelined pushes at once (8)")
    parser.add_argument("--quick", action="store_true", help="10 pushes, a burst of 20, 50 runs")
    parser.add_argument("--only", default="latency,burst,rss", help="parts to run")
    parser.add_argument("--timeout", type=float, default=1800, help="drain limit per part (s)")
    parser.add_argument("--workdir", type=Path, help="where the repositories go (a temp dir)")
    parser.add_argument("--keep", action="store_true", help="leave the repositories behind")
    args = parser.parse_args()
    if args.quick:
        args.pushes, args.burst, args.runs = 10, 20, 50
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    header(sys.argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="shipway-bench-server-", dir=args.workdir))
    print(f"repositories under {root}", file=sys.stderr)
    started = time.monotonic()
    try:
        latency = bursts = memory = None
        if "latency" in parts:
            latency = bench_latency(root / "latency", args.pushes)
            report_latency(latency, args.pushes)
        if "burst" in parts:
            styles = [x.strip() for x in args.burst_styles.split(",") if x.strip()]
            bursts = [
                bench_burst(
                    root / f"burst-{mode}-{style}",
                    mode,
                    style,
                    args.burst,
                    args.in_flight,
                    args.timeout,
                )
                for style in styles
                for mode in ("superseded", "queued")
            ]
            report_burst(bursts)
        if "rss" in parts:
            memory = bench_memory(root / "rss", args.runs, args.timeout)
            report_memory(memory, latency.idle if latency else None)
        sys.stdout.flush()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nwall time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
