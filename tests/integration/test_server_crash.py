"""kill -9 of `shipway serve --repo BARE` at many points of a run, then a restart: every run is
in a true state (SPEC §4, crash safety).

Each case serves a bare repository of two services (`alpha`, `slow`), lets the server make
release 1 (run dev-1), reports a push of a commit that changes both and SIGKILLs the server
at one point of that run (dev-2); an approval, where the case has one, comes with a change
of the control branch's shipway.yml after release 1. It then restarts the server, whose
store opens with the recovery every command runs, and checks:

- every run that had ended at the kill is unchanged (its row, stages, jobs, approval);
- the build processes of the killed server are gone (the held phase's `sleep`, by its tag);
- the environment is on one whole release, the one the store says is live: `current` is the
  previous release or the new one, each service's folder exactly its artifact, one commit's
  code throughout, no staging folder or half-made link left; the deploy lock is free;
- dev-2 reads as the point leaves it: still waiting for its approval, `interrupted` with the
  stage that was running failed, or `succeeded`;
- `shipway approve` / `shipway retry` then takes dev-2 to `succeeded` from where it stopped
  (what was built before the kill is reused, what came before the failed stage is not
  redone), and a new run of the environment (dev-3) starts and finishes.

Kill points are milestones, never sleeps. Those an observer outside can see are watched for:
a run waiting for its approval, the build of `slow` sleeping in a given phase (its buildspec
holds there, `test -e GATE || sleep TAG`, until the test opens the gate). The others are
named steps of the server's own code (crashpoint.py: the process kills itself on reaching
one); the product has no test hook.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shipway.source.hooks import HOOK_HEADER
from tests.conftest import commit_all, git, write_files
from tests.integration import crashpoint
from tests.integration.cli import ECHO_BUILD, SHIPWAY, shipway

CRASHPOINT = str(Path(crashpoint.__file__).resolve())
ZERO = "0" * 40
ENDED = ("succeeded", "failed", "rejected", "expired", "superseded", "cancelled", "interrupted")


@dataclass(frozen=True)
class Point:
    id: str
    approval: str | None = None  # the environment's `approval: {before: …}`
    mode: str = "superseded"
    hold: str | None = None  # the phase of `slow`'s build that sleeps until the kill
    tripwire: bool = False  # a step of the server's code (crashpoint.py), else watched for
    # what the point fixes
    stage: str | None = None  # the stage running at the kill: failed after recovery
    ended: str = "interrupted"  # dev-2 after the restart
    live: int = 1  # the release served after the restart


def _trip(id: str, stage: str | None, ended: str = "interrupted", live: int = 1) -> Point:
    assert id in crashpoint.POINTS
    return Point(id, tripwire=True, stage=stage, ended=ended, live=live)


POINTS = (
    # source
    _trip("claimed", None),  # the run is `running`, no stage begun
    _trip("source-started", "source"),
    _trip("source-done", None),  # between stages: none running
    # the approval wait
    Point("approval-wait", approval="build", ended="awaiting_approval"),
    Point("approval-wait-before-deploy", approval="deploy", ended="awaiting_approval"),
    Point("queued-behind-approval", approval="build", mode="queued", ended="awaiting_approval"),
    # the build: `slow` sleeping in a phase (alpha's build may have ended or not)
    Point("install-phase", hold="install", stage="build"),
    Point("pre-build-phase", hold="pre_build", stage="build"),
    Point("build-phase", hold="build", stage="build"),
    Point("build-finally", hold="finally", stage="build"),
    Point("post-build-phase", hold="post_build", stage="build"),
    Point("approved-then-building", approval="build", hold="build", stage="build"),
    # found by this test: a command forked but its group not recorded outlived recovery
    Point("group-unrecorded", hold="install", tripwire=True, stage="build"),
    _trip("artifact-stored", "build"),  # recorded in the store, its job not yet done
    _trip("builds-done", "build"),  # every build job done, the stage not yet
    # the deploy and the release switch
    _trip("deploy-started", "deploy"),
    _trip("deploy-locked", "deploy"),
    _trip("release-unpacking", "deploy"),  # one service unpacked in the staging folder
    _trip("staging-complete", "deploy"),  # staged with its manifest, not renamed
    _trip("release-renamed", "deploy"),  # releases/2 complete, `current` not switched
    _trip("link-made", "deploy"),  # the new link made beside `current`, not moved
    _trip("release-switched", "deploy"),  # `current` -> releases/2, not recorded
    _trip("record-written", "deploy"),  # the release record written, not in the store
    _trip("release-recorded", "deploy", live=2),  # in the store, the run not finished
    _trip("run-succeeded", None, ended="succeeded", live=2),  # before its clean-up
)


def _service(name: str, version: int) -> dict[str, str]:
    return {
        f"services/{name}/serverless.yml": (
            f"service: {name}\nprovider:\n  name: aws\n  runtime: python3.13\n"
            "functions:\n  f:\n    handler: handler.f\n"
        ),
        f"services/{name}/handler.py": f"def f(e, c):\n    return 'v{version}'\n",
    }


def _held_build(hold: str | None, gate: Path, sleeper: str) -> str:
    """`slow`'s buildspec in commit B: a marker per phase; the `hold` phase sleeps (tagged)
    until the gate is opened, so the kill finds a build process to be killed by recovery."""

    def command(phase: str) -> str:
        held = f"; test -e {gate} || {sleeper}" if phase == hold else ""
        return f"      - echo PHASE-{phase}{held}\n"

    return (
        "version: 0.2\nphases:\n"
        f"  install:\n    commands:\n{command('install')}"
        f"  pre_build:\n    commands:\n{command('pre_build')}"
        f"  build:\n    commands:\n{command('build')}    finally:\n{command('finally')}"
        f"  post_build:\n    commands:\n{command('post_build')}      - echo v2 > built.txt\n"
        "artifacts:\n  files: [handler.py, built.txt]\n"
    )


class Crash:
    """One case: the bare repository, its server, and reads of its store (read-only)."""

    def __init__(self, make_repo: Callable[..., Path], tmp_path: Path, point: Point) -> None:
        self.point = point
        self.tmp = tmp_path
        self.gate = tmp_path / "gate"
        self.armed = tmp_path / "armed"
        self.sleeper = f"sleep {40 + POINTS.index(point)}.917"
        governing = (
            "project: crash\nbuild: {sandbox: off}\nenvironments:\n"
            f"  dev:\n    branch: dev\n    mode: {point.mode}\n"
        )
        files = {
            "shipway.yml": governing,
            **_service("alpha", 1),
            **_service("slow", 1),
            "services/alpha/buildspec.yml": ECHO_BUILD,
            "services/slow/buildspec.yml": ECHO_BUILD,
        }
        source = make_repo(files)
        self.a = git(source, "rev-parse", "HEAD")
        git(source, "checkout", "-q", "dev")
        write_files(source, {**_service("alpha", 2), **_service("slow", 2)})
        held = _held_build(point.hold, self.gate, self.sleeper)
        write_files(source, {"services/slow/buildspec.yml": held})
        self.b = commit_all(source, "v2: both services change")
        self.c = commit_all(source, "v3: nothing changes")  # its builds are B's
        git(source, "checkout", "-q", "main")  # the bare repository's HEAD: the control branch
        # the approval comes with a change on the control branch after release 1, which is
        # made without one (the governing shipway.yml is read at each run)
        approval = f"    approval: {{before: {point.approval}}}\n" if point.approval else ""
        write_files(source, {"shipway.yml": governing + approval})
        self.governed = commit_all(source, "dev needs an approval")
        self.bare = tmp_path / "server.git"
        git(tmp_path, "clone", "-q", "--bare", str(source), str(self.bare))
        git(self.bare, "update-ref", "refs/heads/dev", self.a)
        git(self.bare, "update-ref", "refs/heads/main", self.a)
        self.home = self.bare / ".shipway"
        self.envdir = self.home / "envs" / "dev"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.secret = ""
        self.starts = 0

    # ------------------------------------------------------------------ the server

    def start(self, tripwire: bool = False) -> None:
        """A server, up once server.json names it (the store opened: recovery has run)."""
        args = ["serve", "--port", "0", "--repo", str(self.bare)]
        if tripwire:
            cmd = [sys.executable, CRASHPOINT, self.point.id, str(self.armed), *args]
        else:
            cmd = [SHIPWAY, *args]
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if k != "SHIPWAY_HOME"}
        with open(self.tmp / f"server-{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env
            )
        proc = self.proc
        server_file = self.home / "server.json"

        def up() -> bool:
            with contextlib.suppress(OSError, ValueError):
                doc = json.loads(server_file.read_text())
                if doc["pid"] == proc.pid:  # not the file a killed server left
                    self.url = doc["url"]
                    return True
            return False

        self.until("the server is up", up)
        self.secret = (self.home / "hook-secret").read_text().strip()

    def server_log(self) -> str:
        return (self.tmp / f"server-{self.starts}.log").read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.server_log()
        self.proc.kill()  # kill -9
        self.proc.wait()

    def died_at_its_point(self) -> None:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"the server never reached `{self.point.id}`:\n{self.server_log()}")
        assert code == -signal.SIGKILL, self.server_log()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def push(self, old: str, new: str, may_die: bool = False) -> None:
        """The bare repository's dev moves to `new`, and the hook's report of it."""
        git(self.bare, "update-ref", "refs/heads/dev", new)
        request = urllib.request.Request(
            f"{self.url}/hooks/git",
            data=f"{old} {new} refs/heads/dev\n".encode(),
            headers={HOOK_HEADER: self.secret},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                assert response.status == 202
        except (OSError, http.client.HTTPException):
            # the server may kill itself at its point before it answers
            assert may_die and self.proc is not None, self.server_log()
            self.proc.wait(timeout=60)

    def until(self, what: str, check: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert self.proc is not None and self.proc.poll() is None, (
                f"the server ended before {what}:\n{self.server_log()}"
            )
            assert time.monotonic() < deadline, f"never: {what}\n{self.server_log()}"
            time.sleep(0.02)

    def settled(self, run_id: str, state: str) -> None:
        self.until(f"{run_id} {state}", lambda: self.state(run_id) in (state, *ENDED))
        assert self.state(run_id) == state, self.snapshot(run_id)

    def cli(self, *args: str) -> None:
        done = shipway(*args, repo=self.bare)
        assert done.returncode == 0, done.stdout + done.stderr

    # ------------------------------------------------------------------ the store, read-only

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        uri = f"file:{self.home / 'shipway.db'}?mode=ro"
        con = sqlite3.connect(uri, uri=True, timeout=30)
        con.row_factory = sqlite3.Row
        try:
            yield con
        finally:
            con.close()

    def rows(self, sql: str, *params: object) -> list[dict[str, Any]]:
        with self.db() as con:
            return [dict(r) for r in con.execute(sql, params)]

    def state(self, run_id: str) -> str | None:
        found = self.rows("SELECT state FROM runs WHERE id = ?", run_id)
        return str(found[0]["state"]) if found else None

    def snapshot(self, run_id: str) -> dict[str, Any]:
        """All the store says of a run."""
        return {
            "run": self.rows("SELECT * FROM runs WHERE id = ?", run_id)[0],
            "stages": self.rows("SELECT * FROM stages WHERE run_id = ? ORDER BY position", run_id),
            "jobs": self.rows("SELECT * FROM jobs WHERE run_id = ? ORDER BY rowid", run_id),
            "approval": self.rows("SELECT * FROM approvals WHERE run_id = ?", run_id),
        }

    def snapshots(self) -> dict[str, dict[str, Any]]:
        return {r["id"]: self.snapshot(r["id"]) for r in self.rows("SELECT id FROM runs")}

    def built_by(self, run_id: str) -> dict[str, str]:
        """service -> artifact sha256 of the builds `run_id` recorded."""
        rows = self.rows("SELECT service, artifact_sha256 FROM builds WHERE run_id = ?", run_id)
        return {r["service"]: r["artifact_sha256"] for r in rows}

    def sleepers(self) -> str:
        found = subprocess.run(["pgrep", "-af", self.sleeper], capture_output=True, text=True)
        return found.stdout

    def building_held(self) -> bool:
        """`slow` sleeps in its held phase, its process group recorded for recovery."""
        log = self.home / "runs/dev-2/logs/slow.log"
        if f"PHASE-{self.point.hold}" not in (log.read_text() if log.exists() else ""):
            return False
        sql = "SELECT 1 FROM build_groups WHERE run_id = 'dev-2' AND service = 'slow'"
        return bool(self.rows(sql)) and bool(self.sleepers())

    # ------------------------------------------------------------------ the environment

    def check_live(self, number: int) -> None:
        """The environment is on release `number`, whole, and it is the one the store names."""
        assert os.readlink(self.envdir / "current") == f"releases/{number}"
        recorded = self.rows(
            "SELECT number, commit_sha, services FROM releases"
            " WHERE env = 'dev' AND gone IS NULL ORDER BY number DESC"
        )
        assert recorded and recorded[0]["number"] == number  # what `status` shows is served
        leftovers = [p.name for p in (self.envdir / "releases").iterdir() if p.name[0] == "."]
        leftovers += [p.name for p in self.envdir.iterdir() if p.name.startswith(".current-")]
        assert leftovers == []  # no half-written release, no link half made
        release = self.envdir / "releases" / str(number)
        manifest = json.loads((release / "release.json").read_text())
        assert manifest["commit"] == recorded[0]["commit_sha"]
        version = "v1" if manifest["commit"] == self.a else "v2"
        stored = {s["name"]: s for s in json.loads(recorded[0]["services"])}
        assert sorted(manifest["services"]) == sorted(stored) == ["alpha", "slow"]
        for name, service in manifest["services"].items():
            sha = service["artifact_sha256"]
            assert stored[name]["artifact_sha256"] == sha
            folder = (release / service["dir"]).resolve()
            with zipfile.ZipFile(self.home / "artifacts" / name / f"{sha}.zip") as z:
                packed = {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
            unpacked = {
                str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
            }
            assert unpacked == packed, name  # complete, byte for byte
            assert f"return '{version}'" in unpacked["handler.py"].decode()  # one commit's code

    def lock_is_free(self) -> bool:
        fd = os.open(self.envdir / "deploy.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)  # and the lock with it
        return True

    # ------------------------------------------------------------------ the kill

    def kill_at_point(self) -> None:
        """Take dev-2 to the point and kill the server there."""
        point = self.point
        git(self.bare, "update-ref", "refs/heads/main", self.governed)
        if point.tripwire:
            self.armed.touch()
            self.push(self.a, self.b, may_die=True)
            self.died_at_its_point()
            return
        self.push(self.a, self.b)
        if point.approval:
            self.settled("dev-2", "awaiting_approval")
        if point.id == "queued-behind-approval":
            self.push(self.b, self.c)  # dev-3 waits its turn behind dev-2
            assert self.state("dev-3") == "queued"
        elif point.id == "approved-then-building":
            self.cli("approve", "dev-2")  # the server takes it on
        if point.hold:
            self.until(f"`slow` sleeps in {point.hold}", self.building_held)
        self.kill()
        if point.hold:  # orphaned, as a kill -9 leaves them: recovery must stop them
            assert self.sleepers()


@pytest.fixture
def crash(
    request: pytest.FixtureRequest, make_repo: Callable[..., Path], tmp_path: Path
) -> Iterator[Crash]:
    case = Crash(make_repo, tmp_path, request.param)
    try:
        yield case
    finally:
        case.stop()


@pytest.mark.parametrize("crash", POINTS, ids=[p.id for p in POINTS], indirect=True)
def test_a_server_killed_at_any_point_restarts_with_every_run_true(crash: Crash) -> None:
    point = crash.point
    crash.start(tripwire=point.tripwire)
    crash.push(ZERO, crash.a)
    crash.settled("dev-1", "succeeded")
    crash.check_live(1)

    crash.kill_at_point()
    at_kill = crash.snapshots()
    built = crash.built_by("dev-2")  # artifacts dev-2 recorded before the kill
    crash.gate.touch()  # from now on the held phase goes straight through

    crash.start()  # recovery
    ended = {i: s for i, s in at_kill.items() if s["run"]["state"] in ENDED}
    assert "dev-1" in ended
    for run_id, before in ended.items():
        assert crash.snapshot(run_id) == before, run_id  # ended runs are unchanged
    assert crash.sleepers() == ""  # the killed server's builds are killed too
    crash.check_live(point.live)
    assert crash.lock_is_free()

    after = crash.snapshot("dev-2")
    run, stages = after["run"], {s["stage"]: s for s in after["stages"]}
    assert run["state"] == point.ended, after
    assert run["owner"] is None  # no dead process drives it
    assert not [s for s in stages.values() if s["state"] == "running"]
    assert not [j for j in after["jobs"] if j["state"] == "running"]
    if point.ended == "awaiting_approval":
        assert stages["approval"]["state"] == "waiting"
        assert after["approval"] == at_kill["dev-2"]["approval"]  # same request, same expiry
    if point.ended == "interrupted":
        failed = [name for name, s in stages.items() if s["state"] == "failed"]
        assert failed == ([point.stage] if point.stage else []), after["stages"]
        # an ended run's stages, as `shipway show` gives them: what was not reached is
        # skipped, never `pending` as if it would still happen
        ended_states = {"succeeded", "failed", "skipped"}
        assert {s["state"] for s in stages.values()} <= ended_states, after["stages"]
        if point.live == 2:  # it made release 2 before the kill, and says so
            assert run["release"] == 2
    if point.id == "queued-behind-approval":
        assert crash.snapshot("dev-3") == at_kill["dev-3"]  # still waits its turn

    # dev-2 goes on from where it stopped
    if point.ended == "awaiting_approval":
        crash.cli("approve", "dev-2")
    elif point.ended == "interrupted":
        crash.cli("retry", "dev-2")
    crash.settled("dev-2", "succeeded")
    done = crash.snapshot("dev-2")
    kept = [s for s in after["stages"] if s["state"] == "succeeded"]
    assert [s for s in done["stages"] if s["stage"] in {k["stage"] for k in kept}] == kept
    jobs = {(j["stage"], j["service"]): j for j in done["jobs"]}
    if stages["build"]["state"] == "succeeded":  # not built again
        assert [j for j in done["jobs"] if j["stage"] == "build"] == [
            j for j in after["jobs"] if j["stage"] == "build"
        ]
    elif point.ended == "interrupted":
        for service, sha in built.items():  # built before the kill: reused, not built again
            job = jobs[("build", service)]
            assert job["state"] == "succeeded"
            detail = json.loads(job["detail"])
            assert detail.get("reused_from") == "dev-2" and detail["artifact_sha256"] == sha
    release = done["run"]["release"]
    assert release is not None and release >= 2
    crash.check_live(release)

    # no lock left held: a new run of the environment starts and finishes
    if point.id != "queued-behind-approval":  # there dev-3 is queued already
        crash.push(crash.b, crash.c)
    if point.approval:
        crash.settled("dev-3", "awaiting_approval")
        crash.cli("approve", "dev-3")
    crash.settled("dev-3", "succeeded")
    newest = crash.snapshot("dev-3")["run"]["release"]
    assert newest is None  # v3 changes nothing: no new release, the live one stays
    crash.check_live(release)
    for run_id, before in ended.items():
        if run_id != "dev-2":
            assert crash.snapshot(run_id) == before, run_id
