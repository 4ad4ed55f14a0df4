"""Pools of warm workers, one per (release folder, service, function), on one event loop.

Lambda's model: a worker serves one request at a time, and a function scales out with its
concurrent requests, up to a cap: the function's `reservedConcurrency`, else the manager's
default (`max_workers`). Workers start on first use and stay warm; a request that finds every
worker busy and the cap reached waits its turn (first come, first served). A worker that times
out or dies is killed and not reused; the next request starts a fresh one. Pools of releases
that are no longer current are retired: idle workers stop at once, busy ones finish their
request (on the old release) and then stop.

Everything runs on one asyncio loop: the server's (`bind()` at startup), or, for callers with
no loop (`shipway invoke`, tests), a private loop on a thread of its own. The synchronous
`invoke()` (the scheduler's fires run on threads) hands its call to that loop and waits.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Collection, Coroutine
from typing import Any, TypeVar

from shipway.errors import ShipwayError
from shipway.targets.local.runtimes import worker_command
from shipway.targets.local.workers import FunctionSpec, InvokeResult, Worker

DEFAULT_MAX_WORKERS = 8
T = TypeVar("T")
PoolKey = tuple[str, str, str, str]


class FunctionPool:
    """The workers of one function; used on the manager's loop thread only."""

    def __init__(self, spec: FunctionSpec, max_workers: int) -> None:
        worker_command(spec.function.runtime)  # unsupported runtimes fail here, clearly
        self.spec = spec
        self.max_workers = max(0, max_workers)  # 0: `reservedConcurrency: 0`, throttled
        self._idle: list[Worker] = []  # last in, first out: the warmest worker serves next
        self._all: set[Worker] = set()
        self._starting = 0
        # A waiter gets a worker, or None: "a slot is free, start one".
        self._waiters: collections.deque[asyncio.Future[Worker | None]] = collections.deque()
        self.closed = False
        self.started = 0  # workers started over the pool's life

    async def invoke(self, event: Any, timeout_s: float | None = None) -> InvokeResult:
        if not self.max_workers:
            raise ShipwayError(
                f"Rate Exceeded: `{self.spec.function.name}` has reservedConcurrency 0",
                hint="its every invocation is throttled, as on Lambda",
            )
        worker = await self._acquire()
        try:
            return await worker.invoke(event, float(timeout_s or self.spec.function.timeout))
        finally:
            self._release(worker)

    async def _acquire(self) -> Worker:
        while True:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                self._drop(worker)
            if len(self._all) + self._starting < self.max_workers:
                return await self._start()
            waiter: asyncio.Future[Worker | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                got = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and (w := waiter.result()):
                    self._release(w)  # handed over as the caller left: pass it on
                raise
            if got is not None:
                return got

    async def _start(self) -> Worker:
        self._starting += 1
        try:
            worker = await Worker.start(self.spec)
        except BaseException:
            self._wake(None)
            raise
        finally:
            self._starting -= 1
        self.started += 1
        self._all.add(worker)
        return worker

    def _release(self, worker: Worker) -> None:
        if worker.alive() and not self.closed:
            if not self._wake(worker):
                self._idle.append(worker)
            return
        self._drop(worker)
        self._wake(None)  # its slot is free: a waiter starts a fresh worker

    def _wake(self, worker: Worker | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return True
        return False

    def _drop(self, worker: Worker) -> None:
        self._all.discard(worker)
        worker.kill()

    def close(self, force: bool = False) -> None:
        """Stop idle workers now; busy ones stop after their request (or now, if `force`)."""
        self.closed = True
        victims = list(self._all) if force else list(self._idle)
        self._idle.clear()
        for w in victims:
            self._drop(w)
        if force:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(ShipwayError("the local runtime is shutting down"))

    def pids(self) -> list[int]:
        return [w.pid for w in list(self._all) if w.alive()]


class WorkerManager:
    """All pools of a process (the gateway's, or a one-off `invoke`'s)."""

    def __init__(self, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        self.max_workers = max(1, max_workers)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None  # the private loop's, when it has one
        self._pools: dict[PoolKey, FunctionPool] = {}
        self._closed = False

    # ------------------------------------------------------------------ the loop

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run every pool on `loop` (the server's, from its startup)."""
        with self._lock:
            if self._loop is not None and self._loop is not loop:
                raise ShipwayError("the local runtime already runs on another event loop")
            self._loop = loop

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise ShipwayError("the local runtime is shutting down")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="shipway-workers", daemon=True
                )
                self._thread.start()
                self._loop = loop
            return self._loop

    def _on_loop(self) -> bool:
        loop = self._loop
        if loop is None:
            return False
        try:
            return asyncio.get_running_loop() is loop
        except RuntimeError:
            return False

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the pools' loop from another thread, and wait for it."""
        loop = self._ensure_loop()
        if self._on_loop():
            coro.close()
            raise RuntimeError("a blocking call on the workers' own loop: await it instead")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    # ------------------------------------------------------------------ pools

    def pool(self, spec: FunctionSpec) -> FunctionPool:
        if self._closed:
            raise ShipwayError("the local runtime is shutting down")
        pool = self._pools.get(spec.key)
        if pool is None:
            reserved = spec.function.reserved_concurrency
            cap = self.max_workers if reserved is None else reserved
            pool = self._pools.setdefault(spec.key, FunctionPool(spec, cap))
        return pool

    async def ainvoke(
        self, spec: FunctionSpec, event: Any, timeout_s: float | None = None
    ) -> InvokeResult:
        return await self.pool(spec).invoke(event, timeout_s)

    def invoke(
        self, spec: FunctionSpec, event: Any, timeout_s: float | None = None
    ) -> InvokeResult:
        """From a thread that is not the loop's (the scheduler's fires, `shipway invoke`)."""
        return self.call(self.ainvoke(spec, event, timeout_s))

    def retire(self, env: str, keep: Collection[PoolKey]) -> None:
        """Drain the pools of `env` that the current release does not use (keys not in `keep`)."""
        if self._loop is not None and not self._on_loop() and self._loop.is_running():
            self.call(_run(self.retire, env, keep))
            return
        old = [k for k, p in self._pools.items() if p.spec.env == env and k not in keep]
        for k in old:
            self._pools.pop(k).close()

    def shutdown(self) -> None:
        """Kill every worker; stop the private loop, if there is one. Idempotent."""
        loop = self._loop
        if loop is not None and not self._on_loop() and loop.is_running() and not self._closed:
            with self._lock:
                self._closed = True
            asyncio.run_coroutine_threadsafe(_run(self._kill_all), loop).result()
        else:
            self._closed = True
            self._kill_all()
        if self._thread is not None and loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(10)
            if not self._thread.is_alive():
                loop.close()
            self._thread = None

    def _kill_all(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        for p in pools:
            p.close(force=True)

    def pools(self) -> list[FunctionPool]:
        return list(self._pools.values())


async def _run(fn: Any, *args: Any) -> Any:
    """`fn(*args)` as a coroutine, to run a plain call on the loop's thread."""
    return fn(*args)


__all__ = ["DEFAULT_MAX_WORKERS", "FunctionPool", "WorkerManager"]
