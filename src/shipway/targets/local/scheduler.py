"""The thread that fires the `schedule` events of each environment's current release.

Each tick re-reads every environment's `current` release through the gateway (as a request
does), so a new release's schedules replace the old ones at once; a rule whose function is
unchanged (same folder, same configuration) keeps its timing. Rates count from when the
scheduler first saw the release current (the first fire one period later); crons fire at
their UTC wall-clock minutes. A late tick fires a rule once, not once per missed time.

A fire runs on its own thread through the gateway's WorkerManager (warm workers, the
function's `timeout`); a rule whose previous invocation is still running skips the fire.
Every fire, skip and invalid schedule is logged to `envs/<env>/logs/<service>.log`.

The clock is injected (`now()`, `sleep(seconds, wake)`) so tests drive time.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shipway.errors import ShipwayError
from shipway.targets.local.gateway import Gateway, function_spec
from shipway.targets.local.release_watch import ReleaseWatch
from shipway.targets.local.releases import ReleaseManifest
from shipway.targets.local.schedules import (
    Schedule,
    iso_z,
    parse_schedules,
    scheduled_event,
    target_input,
)
from shipway.targets.local.workers import FunctionSpec, append_log

DEFAULT_POLL_S = 1.0  # how often `current` is re-read when nothing is due sooner
_RESULT_CHARS = 500


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds (UTC)."""
        ...

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        """Return after `seconds`, or as soon as `wake` is set."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        wake.wait(max(0.0, seconds))


RuleKey = tuple[str, tuple[str, str, str, str], int, str]


@dataclass
class Rule:
    """One enabled rule of the current release of `env`, and when it fires next."""

    key: RuleKey
    env: str
    schedule: Schedule
    spec: FunctionSpec
    anchor: float  # when its rate started counting
    next_at: float | None  # None: never again (a cron past its last year)

    @property
    def rule_name(self) -> str:
        return self.schedule.rule_name(self.spec.service, self.spec.stage)


class Scheduler:
    def __init__(
        self,
        gateway: Gateway,
        clock: Clock | None = None,
        poll_interval: float = DEFAULT_POLL_S,
    ) -> None:
        self.gateway = gateway
        self.state_dir = gateway.state_dir
        self.clock: Clock = clock or SystemClock()
        self.poll_interval = poll_interval
        self._watch = ReleaseWatch(gateway)  # which environments' release changed
        self._rules: dict[str, list[Rule]] = {}
        self._cond = threading.Condition()
        self._running: set[RuleKey] = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ thread

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="shipway-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop ticking (fires under way finish, or end when the workers shut down)."""
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._wake.is_set()

    def _loop(self) -> None:
        while not self._wake.is_set():
            try:
                next_at = self.tick()
            except Exception:  # a bug must not silently end scheduling
                sys.stderr.write(f"shipway: scheduler failure\n{traceback.format_exc()}")
                next_at = self.clock.now() + self.poll_interval
            if self._wake.is_set():
                break
            delay = min(max(0.0, next_at - self.clock.now()), self.poll_interval)
            self.clock.sleep(delay, self._wake)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no fire is running (True) or `timeout` passes (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._running, timeout)

    # ------------------------------------------------------------------ one step

    def tick(self) -> float:
        """Pick up release changes, fire what is due now; returns when the next rule is due
        (or the next poll)."""
        now = self.clock.now()
        self._refresh(now)
        due: list[tuple[Rule, float]] = []
        for rules in self._rules.values():
            for rule in rules:
                if rule.next_at is not None and rule.next_at <= now:
                    due.append((rule, rule.next_at))
                    rule.next_at = rule.schedule.expression.next_after(now, rule.anchor)
        for rule, at in due:
            self._fire(rule, at)
        upcoming = [r.next_at for rs in self._rules.values() for r in rs if r.next_at is not None]
        return min([*upcoming, now + self.poll_interval])

    def rules(self, env: str) -> list[Rule]:
        """The enabled rules of `env`'s current release, as last loaded."""
        return list(self._rules.get(env, []))

    # ------------------------------------------------------------------ releases

    def _refresh(self, now: float) -> None:
        gone, changed = self._watch.changes()
        for env in gone:
            self._rules.pop(env, None)
        for env, found in changed:
            previous = {r.key: r for r in self._rules.get(env, [])}
            self._rules[env] = [] if found is None else self._load(env, *found, previous, now)

    def _load(
        self,
        env: str,
        release_dir: Path,
        manifest: ReleaseManifest,
        previous: dict[RuleKey, Rule],
        now: float,
    ) -> list[Rule]:
        rules: list[Rule] = []
        for sname, svc in sorted(manifest.services.items()):
            for fname, fn in sorted(svc.functions.items()):
                if not fn.schedules:
                    continue
                spec = function_spec(self.state_dir, env, release_dir, manifest, sname, fname)
                try:
                    schedules = parse_schedules(fname, fn.schedules)
                except ShipwayError as e:
                    append_log(spec, f"[ERROR] schedule not fired: {e}", at=self.clock.now())
                    sys.stderr.write(f"shipway: {env}/{sname}: schedule not fired: {e}\n")
                    continue
                for schedule in schedules:
                    text = schedule.expression.text
                    label = f"{fname} {text} (rule {schedule.rule_name(sname, spec.stage)})"
                    if not schedule.enabled:
                        append_log(
                            spec, f"[SCHEDULE] {label}: disabled, never fires", at=self.clock.now()
                        )
                        continue
                    key = self._key(env, spec, schedule)
                    old = previous.get(key)
                    if old is not None:  # unchanged function: the rule keeps its timing
                        rules.append(Rule(key, env, schedule, spec, old.anchor, old.next_at))
                        continue
                    next_at = schedule.expression.next_after(now, now)
                    when = "never (no matching time)" if next_at is None else iso_z(next_at)
                    append_log(
                        spec,
                        f"[SCHEDULE] {label}: release {manifest.number}, first fire {when}",
                        at=self.clock.now(),
                    )
                    rules.append(Rule(key, env, schedule, spec, now, next_at))
        return rules

    @staticmethod
    def _key(env: str, spec: FunctionSpec, schedule: Schedule) -> RuleKey:
        return (env, spec.key, schedule.number, schedule.expression.text)

    # ------------------------------------------------------------------ fires

    def _fire(self, rule: Rule, at: float) -> None:
        label = f"{rule.schedule.function} {rule.schedule.expression.text} at {iso_z(at)}"
        with self._cond:
            if rule.key in self._running:
                skip = "skipped: the previous invocation is still running"
                append_log(rule.spec, f"[SCHEDULE] {label}: {skip}", at=self.clock.now())
                return
            self._running.add(rule.key)
        try:
            spec = rule.spec
            event = scheduled_event(
                rule.schedule,
                service=spec.service,
                stage=spec.stage,
                region=spec.region,
                time=at,
                event_id=str(uuid.uuid4()),
            )
            payload = target_input(rule.schedule, event, rule.rule_name)
            thread = threading.Thread(
                target=self._run,
                args=(rule, payload, label),
                name=f"shipway-schedule-{spec.service}-{rule.schedule.function}",
                daemon=True,
            )
            thread.start()
        except BaseException:
            self._done(rule)
            raise

    def _run(self, rule: Rule, payload: object, label: str) -> None:
        try:
            try:
                result = self.gateway.workers.invoke(rule.spec, payload)
            except ShipwayError as e:
                outcome = f"error: {e}"
            except Exception:
                outcome = f"error: local runtime failure\n{traceback.format_exc()}"
            else:
                took = f"{result.duration_ms:.0f} ms"
                if result.ok:
                    text = json.dumps(result.result, default=str)
                    if len(text) > _RESULT_CHARS:
                        text = text[:_RESULT_CHARS] + "..."
                    outcome = f"ok in {took} ({result.request_id}): {text}"
                else:
                    outcome = (
                        f"error in {took} ({result.request_id}): "
                        f"{result.error_type}: {result.error_message}"
                    )
            if self.stopped:
                outcome += " (the server was stopping)"
            append_log(rule.spec, f"[SCHEDULE] {label}: {outcome}", at=self.clock.now())
        finally:
            self._done(rule)

    def _done(self, rule: Rule) -> None:
        with self._cond:
            self._running.discard(rule.key)
            self._cond.notify_all()


__all__ = ["Clock", "Rule", "Scheduler", "SystemClock"]
