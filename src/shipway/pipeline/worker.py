"""The server's run scheduler: it claims every queued run whose turn it is and drives it on a
thread of its own, and ends approvals past their timeout.

The queue is the store (store/queue.py): a run is offered when no process drives it (owner
NULL: submitted through the server, or approved or retried there) and no other run of its
environment is active, so runs of one environment go one at a time and runs of different
environments go side by side, up to `max_runs`. `wake()` (a push, an approval) makes the
scheduler look at once rather than at its next tick.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from shipway.pipeline.engine import Engine

__all__ = ["DEFAULT_MAX_RUNS", "Worker"]

DEFAULT_MAX_RUNS = 4  # runs driven at once (each builds its services in parallel itself)
_TICK_S = 0.5  # how often the scheduler looks when nothing woke it (approvals expire)


class Worker:
    def __init__(
        self,
        engine: Engine,
        max_runs: int = DEFAULT_MAX_RUNS,
        on_end: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.on_end = on_end  # after each drive (the server prunes old releases there)
        self.max_runs = max_runs
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._active: dict[str, Future[object]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_runs, thread_name_prefix="run")
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Take no new run; the runs being driven end `interrupted` at their next step
        (their builds are stopped; a deploy in progress finishes), to be retried."""
        self._stop.set()
        self._wake.set()
        self.engine.stopping = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def active(self) -> list[str]:
        with self._lock:
            return sorted(self._active)

    def tick(self) -> list[str]:
        """One look at the queue: expire approvals, start the runs whose turn it is.
        Returns the ids started."""
        store = self.engine.store
        store.expire_approvals()
        started = []
        with self._lock:
            for run_id in [r for r, f in self._active.items() if f.done()]:
                del self._active[run_id]
            free = self.max_runs - len(self._active)
            if free <= 0:
                return []
            for run_id in store.claimable_runs(limit=self.max_runs * 4):
                if free <= 0:
                    break
                if run_id in self._active:
                    continue
                self._active[run_id] = self._pool.submit(self._drive, run_id)
                started.append(run_id)
                free -= 1
        return started

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the scheduler must outlive a bad moment (a locked database)
                print(f"shipway: scheduler: {traceback.format_exc()}", file=sys.stderr)
            self._wake.wait(_TICK_S)
            self._wake.clear()

    def _drive(self, run_id: str) -> object:
        try:
            run = self.engine.drive(run_id)
            if self.on_end is not None:
                self.on_end(run_id)
            return run
        except Exception:  # recorded on the run by the engine; the server goes on
            print(f"shipway: run {run_id}: {traceback.format_exc()}", file=sys.stderr)
            return None
        finally:
            self._wake.set()  # the environment's next run may start now
