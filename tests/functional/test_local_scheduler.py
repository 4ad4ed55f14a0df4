"""The scheduler with real releases, real worker processes and a fake clock."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shipway.model import Artifact, Event, Function, ServiceDefinition
from shipway.targets.local.gateway import Gateway
from shipway.targets.local.scheduler import Scheduler
from shipway.targets.local.target import LocalTarget
from shipway.web.serve import GatewayServer

HANDLERS = """
import json, os, time

def record(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    return {"recorded": True}

def gated(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    deadline = time.time() + 20
    while not os.path.exists(os.environ["GATE"]) and time.time() < deadline:
        time.sleep(0.02)
    return "opened"

def boom(event, context):
    raise RuntimeError("scheduled kaboom")
"""

T0 = datetime(2030, 1, 1, tzinfo=UTC).timestamp()


class FakeClock:
    """Virtual time: `sleep` blocks until the test `advance`s past it (or wake is set)."""

    def __init__(self, start: float) -> None:
        self.t = start
        self.naps = 0  # how many times the scheduler went to sleep
        self.until = start  # when the sleeping scheduler wakes up
        self._cond = threading.Condition()

    def now(self) -> float:
        with self._cond:
            return self.t

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        with self._cond:
            target = self.until = self.t + seconds
            self.naps += 1
            self._cond.notify_all()
            while self.t < target and not wake.is_set():
                self._cond.wait(0.05)

    def advance(self, seconds: float) -> None:
        with self._cond:
            self.t += seconds
            self._cond.notify_all()

    def wait_naps(self, n: int, timeout: float = 10.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.naps >= n, timeout), "scheduler stuck"


def fn(name: str, handler: str, schedules: list[Any], env: dict[str, str]) -> Function:
    return Function(
        name=name,
        handler=handler,
        runtime="python3.11",
        timeout=30,
        memory_size=128,
        environment=env,
        events=tuple(Event("schedule", s) for s in schedules),
    )


def release(
    state: Path, tmp: Path, number: int, functions: tuple[Function, ...], tag: str = ""
) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / f"jobs-{number}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("handlers.py", HANDLERS + f"\nTAG = {tag!r}\n")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    definition = ServiceDefinition(
        service="jobs", stage="dev", region="eu-west-1", runtime="python3.11", functions=functions
    )
    art = Artifact("jobs", path, sha, path.stat().st_size)
    LocalTarget(state).release("dev", number, f"c{number}", [(definition, art)])


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def iso(offset: float) -> str:
    return datetime.fromtimestamp(T0 + offset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def first_functions(tmp: Path) -> tuple[Function, ...]:
    out = tmp / "out"
    env = {"GATE": str(tmp / "gate")}
    return (
        fn("tick", "handlers.record", ["rate(1 minute)"], {**env, "OUT": str(out / "tick")}),
        fn(
            "off",
            "handlers.record",
            [{"rate": "rate(1 minute)", "enabled": False}],
            {**env, "OUT": str(out / "off")},
        ),
        fn(
            "even",
            "handlers.record",
            [{"rate": "cron(0/2 * * * ? *)", "input": {"kind": "cron"}}],
            {**env, "OUT": str(out / "even")},
        ),
        fn("boom", "handlers.boom", ["rate(3 minutes)"], env),
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Path, FakeClock, Scheduler]]:
    state = tmp_path / "state"
    (tmp_path / "out").mkdir()
    release(state, tmp_path / "zips", 1, first_functions(tmp_path))
    clock = FakeClock(T0)
    gateway = Gateway(state)
    scheduler = Scheduler(gateway, clock, poll_interval=5.0)
    scheduler.start()
    clock.wait_naps(1)
    try:
        yield tmp_path, clock, scheduler
    finally:
        scheduler.stop()
        gateway.close()


def step(clock: FakeClock, scheduler: Scheduler, seconds: float, idle: bool = True) -> None:
    """Advance virtual time; wait for the scheduler's tick (and its fires, if `idle`)."""
    naps, until = clock.naps, clock.until
    clock.advance(seconds)
    if clock.now() >= until:
        clock.wait_naps(naps + 1)
    if idle:
        assert scheduler.wait_idle(20)


def test_rate_cron_and_disabled_fire_at_their_virtual_times(
    world: tuple[Path, FakeClock, Scheduler],
) -> None:
    tmp, clock, scheduler = world
    out = tmp / "out"
    step(clock, scheduler, 30)
    assert lines(out / "tick") == []  # the first fire is one period after the release
    step(clock, scheduler, 30)
    step(clock, scheduler, 60)
    events = lines(out / "tick")
    assert [e["time"] for e in events] == [iso(60), iso(120)]
    first = events[0]
    assert first["detail-type"] == "Scheduled Event"
    assert first["source"] == "aws.events"
    assert first["detail"] == {}
    assert first["region"] == "eu-west-1"
    assert first["resources"] == [
        "arn:aws:events:eu-west-1:000000000000:rule/jobs-dev-TickEventsRuleSchedule1"
    ]
    assert events[0]["id"] != events[1]["id"]
    # the cron fires at 00:02 (wall clock), with its `input` as the event
    assert lines(out / "even") == [{"kind": "cron"}]
    step(clock, scheduler, 60)
    assert len(lines(out / "tick")) == 3
    assert len(lines(out / "even")) == 1
    step(clock, scheduler, 60)
    assert len(lines(out / "even")) == 2
    assert not (out / "off").exists()  # enabled: false never fires

    log = (tmp / "state" / "envs" / "dev" / "logs" / "jobs.log").read_text()
    assert f"[SCHEDULE] tick rate(1 minute) at {iso(60)}: ok in" in log
    assert '{"recorded": true}' in log
    assert "off rate(1 minute) (rule jobs-dev-OffEventsRuleSchedule1): disabled" in log
    assert (
        f"[SCHEDULE] boom rate(3 minutes) at {iso(180)}: error in" in log
        and "RuntimeError: scheduled kaboom" in log
    )


def test_a_long_invocation_skips_the_next_fire(
    world: tuple[Path, FakeClock, Scheduler],
) -> None:
    tmp, clock, scheduler = world
    out = tmp / "out"
    env = {"GATE": str(tmp / "gate"), "OUT": str(out / "slow")}
    release(
        tmp / "state", tmp / "zips", 2, (fn("slow", "handlers.gated", ["rate(1 minute)"], env),)
    )
    step(clock, scheduler, 5)  # the next poll picks up release 2: counts from here
    step(clock, scheduler, 60, idle=False)  # fires, and stays busy until the gate opens
    deadline = time.monotonic() + 20
    while not lines(out / "slow") and time.monotonic() < deadline:
        time.sleep(0.02)
    step(clock, scheduler, 60, idle=False)  # still running: skipped
    (tmp / "gate").touch()
    assert scheduler.wait_idle(20)
    step(clock, scheduler, 60)  # free again: fires
    assert [e["time"] for e in lines(out / "slow")] == [iso(65), iso(185)]
    log = (tmp / "state" / "envs" / "dev" / "logs" / "jobs.log").read_text()
    assert (
        f"slow rate(1 minute) at {iso(125)}: skipped: the previous invocation is still running"
        in log
    )
    assert f"slow rate(1 minute) at {iso(65)}: ok in" in log and '"opened"' in log


def test_a_new_release_replaces_the_schedules_at_once(
    world: tuple[Path, FakeClock, Scheduler],
) -> None:
    tmp, clock, scheduler = world
    out = tmp / "out"
    step(clock, scheduler, 60)
    assert len(lines(out / "tick")) == 1
    env = {"GATE": str(tmp / "gate"), "OUT": str(out / "tick")}
    schedule = {"rate": "rate(2 minutes)", "input": {"release": 2}}
    release(tmp / "state", tmp / "zips", 2, (fn("tick", "handlers.record", [schedule], env),))
    step(clock, scheduler, 60)  # release 2 seen at +120: the old rule does not fire
    step(clock, scheduler, 60)
    assert [e.get("release") for e in lines(out / "tick")] == [None]
    step(clock, scheduler, 60)  # +240: two minutes after release 2 became current
    assert [e.get("release") for e in lines(out / "tick")] == [None, 2]
    assert [r.schedule.function for r in scheduler.rules("dev")] == ["tick"]
    step(clock, scheduler, 240)
    assert lines(out / "even") == []  # the cron (due at +120) left with release 1


def test_an_unchanged_function_keeps_its_timing_across_releases(
    world: tuple[Path, FakeClock, Scheduler],
) -> None:
    tmp, clock, scheduler = world
    before = {r.key: r.anchor for r in scheduler.rules("dev")}
    step(clock, scheduler, 30)
    # the same code and configuration: the service keeps its folder, its rules their timing
    release(tmp / "state", tmp / "zips", 2, first_functions(tmp))
    step(clock, scheduler, 30)
    assert [r.spec.release_dir.name for r in scheduler.rules("dev")] == ["2"] * 3
    assert {r.key: r.anchor for r in scheduler.rules("dev")} == before
    assert [e["time"] for e in lines(tmp / "out" / "tick")] == [iso(60)]


def test_invalid_schedules_are_logged_and_the_others_still_fire(tmp_path: Path) -> None:
    state = tmp_path / "state"
    out = tmp_path / "out"
    release(
        state,
        tmp_path / "zips",
        1,
        (
            fn("bad", "handlers.record", ["rate(5 minute)"], {"OUT": str(out / "bad")}),
            fn("good", "handlers.record", ["rate(1 minute)"], {"OUT": str(out / "good")}),
        ),
    )
    out.mkdir()
    clock = FakeClock(T0)
    gateway = Gateway(state)
    scheduler = Scheduler(gateway, clock)
    try:
        scheduler.tick()
        clock.advance(60)
        scheduler.tick()
        assert scheduler.wait_idle(20)
    finally:
        gateway.close()
    assert len(lines(out / "good")) == 1
    log = (state / "envs" / "dev" / "logs" / "jobs.log").read_text()
    assert (
        "[ERROR] schedule not fired: function `bad`, schedule event 0: `rate(5 minute)`: "
        "the unit is singular for 1 and plural otherwise (write `rate(5 minutes)`)" in log
    )


def test_the_server_runs_the_scheduler(tmp_path: Path) -> None:
    server = GatewayServer(tmp_path / "state", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.server.started
    assert not server.scheduler.stopped
    server.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert server.scheduler.stopped
