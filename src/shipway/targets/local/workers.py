"""Warm worker processes for the local runtime.

One `FunctionPool` per (release folder, service, function): workers start on first use, stay
warm between invocations, at most `max_workers` run at once per function (extra callers wait).
Each invocation has a deadline (the function's `timeout`); a worker that misses it has its
process group killed and is not reused, so the next call starts a fresh one. A worker that dies
is replaced the same way. Pools of releases that are no longer current are retired: idle workers
stop at once, busy ones finish their request (on the old release) and then stop.

A worker's output (the handler's prints, tracebacks, START/END/REPORT lines) reaches the
service's log through the parent (output.py), with the function's secret values masked; the
runtime's own log entries are masked the same way.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from shipway.errors import ShipwayError
from shipway.masking import Masker
from shipway.targets.local.output import WorkerOutput
from shipway.targets.local.releases import DeployedFunction

WORKER_SCRIPT = Path(__file__).with_name("worker_main.py")
DEFAULT_MAX_WORKERS = 2
_PASS_THROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


@dataclass(frozen=True)
class FunctionSpec:
    """Everything needed to run one function of one release."""

    env: str
    release_dir: Path
    service: str
    service_dir: Path
    function: DeployedFunction
    region: str
    stage: str
    log_path: Path
    state_dir: Path

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Pools are shared by every release that carries the same code and configuration
        (an unchanged service keeps its folder), so its workers stay warm across releases."""
        config = json.dumps(self.function.to_dict(reveal=True), sort_keys=True)
        return (self.env, str(self.service_dir.resolve()), self.function.name, config)

    @functools.cached_property
    def mask(self) -> Masker:
        """Masks the function's secret values in everything the runtime logs about it."""
        return self.function.masker

    @property
    def lambda_name(self) -> str:
        return f"{self.service}-{self.stage or self.env}-{self.function.name}"


@dataclass(frozen=True)
class InvokeResult:
    ok: bool
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    stack_trace: list[str] = field(default_factory=list)
    timed_out: bool = False
    duration_ms: float = 0.0
    request_id: str = ""
    worker_pid: int | None = None

    @property
    def payload(self) -> Any:
        """What Lambda returns to a direct caller: the result, or the error document."""
        if self.ok:
            return self.result
        if self.timed_out:
            return {"errorMessage": self.error_message}
        return {
            "errorMessage": self.error_message,
            "errorType": self.error_type,
            "stackTrace": list(self.stack_trace),
        }


# The packages the Lambda Python runtime provides to every function (the AWS SDK).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def append_log(spec: FunctionSpec, text: str, at: float | None = None) -> None:
    """One entry in the service's log (what the runtime itself has to say), stamped in UTC.
    A log that cannot be written never fails a request."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if at is None else at))
    _append(spec, f"{stamp} {spec.mask(text.rstrip())}\n")


def _append(spec: FunctionSpec, text: str) -> None:
    try:
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.log_path, "a", encoding="utf-8") as f:
            f.write(text)
    except OSError:
        pass


def worker_command(runtime: str) -> list[str]:
    """Python without site-packages (-S) and without the caller's environment (-I): a
    handler sees its package, the standard library and the AWS SDK, as on Lambda."""
    if runtime.startswith("python3"):
        return [sys.executable, "-I", "-S", "-u", str(WORKER_SCRIPT)]
    raise ShipwayError(f"runtime `{runtime}` is not supported by the local runtime yet")


def runtime_libraries(state_dir: Path) -> Path:
    """A folder holding (as links) only the packages Lambda's runtime provides, made once."""
    folder = state_dir / "runtime" / "python"
    if (folder / ".complete").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue  # not installed here: handlers get an ImportError, as they would anyway
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = folder / source.name
        if not link.exists():
            with contextlib.suppress(FileExistsError):
                link.symlink_to(source)
    (folder / ".complete").touch()
    return folder


def worker_environment(spec: FunctionSpec) -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASS_THROUGH_ENV if k in os.environ}
    env.update(spec.function.environment)
    fn = spec.function
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.lambda_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.lambda_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{spec.release_dir.name}",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.service_dir),
            "_HANDLER": fn.handler,
            "SHIPWAY_RUNTIME_LIBS": str(runtime_libraries(spec.state_dir)),
        }
    )
    return env


class Worker:
    """One worker process; used by one caller at a time."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [*worker_command(spec.function.runtime), str(spec.service_dir), spec.function.handler]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=spec.service_dir,
            env=worker_environment(spec),
            start_new_session=True,  # own process group: a timeout kills all of it
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._output = WorkerOutput(os.dup(self.proc.stderr.fileno()), spec.log_path, spec.mask)
        self.proc.stderr.close()
        self._stdin: IO[bytes] = self.proc.stdin
        self._stdout_fd = self.proc.stdout.fileno()
        self._buffer = b""
        self.dead = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def invoke(self, event: Any, timeout_s: float) -> InvokeResult:
        spec = self.spec
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        deadline = started + timeout_s
        context = {
            "aws_request_id": request_id,
            "function_name": spec.lambda_name,
            "memory_limit_in_mb": spec.function.memory_size,
            "invoked_function_arn": (
                f"arn:aws:lambda:{spec.region}:000000000000:function:{spec.lambda_name}"
            ),
            "log_group_name": f"/aws/lambda/{spec.lambda_name}",
            "log_stream_name": f"local/{spec.release_dir.name}",
            "deadline_ms": int((time.time() + timeout_s) * 1000),
        }
        line = json.dumps({"event": event, "context": context}).encode("utf-8") + b"\n"

        def done(**kw: Any) -> InvokeResult:
            return InvokeResult(
                duration_ms=(time.monotonic() - started) * 1000,
                request_id=request_id,
                worker_pid=self.pid,
                **kw,
            )

        try:
            self._stdin.write(line)
            self._stdin.flush()
        except (BrokenPipeError, OSError):
            return done(**self._crashed(request_id))
        raw = self._read_line(deadline)
        self._output.read()  # the request's output precedes its response: log all of it
        if raw is None:
            self.kill()
            message = f"Task timed out after {timeout_s:.2f} seconds"
            self._log(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {request_id} {message}\n")
            return done(
                ok=False, error_type="Sandbox.Timedout", error_message=message, timed_out=True
            )
        if raw == b"":
            return done(**self._crashed(request_id))
        try:
            msg = json.loads(raw)
        except ValueError:
            self.kill()
            return done(
                ok=False,
                error_type="Runtime.InvalidResponse",
                error_message="worker sent an unreadable response",
            )
        if msg.get("ok"):
            return done(ok=True, result=msg.get("result"))
        mask = spec.mask  # an error document is shown by `invoke` and logged: no secret in it
        return done(
            ok=False,
            error_type=mask(str(msg.get("errorType", "Error"))),
            error_message=mask(str(msg.get("errorMessage", ""))),
            stack_trace=[mask(str(s)) for s in msg.get("stackTrace") or []],
        )

    def _crashed(self, request_id: str) -> dict[str, Any]:
        self.kill()
        code = self.proc.returncode
        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"
        self._log(message + "\n")
        return {"ok": False, "error_type": "Runtime.ExitError", "error_message": message}

    def _read_line(self, deadline: float) -> bytes | None:
        """One protocol line; b"" at end of file, None at the deadline. The worker's output
        is logged meanwhile (a full pipe would stall it)."""
        with selectors.DefaultSelector() as sel:
            sel.register(self._stdout_fd, selectors.EVENT_READ)
            if not self._output.closed:
                sel.register(self._output.fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                ready = sel.select(left) if left > 0 else []
                if not ready:
                    return None
                if any(key.fd == self._output.fd for key, _ in ready):
                    if not self._output.read():
                        sel.unregister(self._output.fd)
                    if not any(key.fd == self._stdout_fd for key, _ in ready):
                        continue
                chunk = os.read(self._stdout_fd, 1 << 16)
                if not chunk:
                    return b""
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _log(self, text: str) -> None:
        _append(self.spec, self.spec.mask(text))

    def kill(self) -> None:
        self.dead = True
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._output.close()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def alive(self) -> bool:
        return not self.dead and self.proc.poll() is None


class FunctionPool:
    def __init__(self, spec: FunctionSpec, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        worker_command(spec.function.runtime)  # unsupported runtimes fail here, clearly
        self.spec = spec
        self.max_workers = max(1, max_workers)
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self._starting = 0
        self.closed = False

    def _acquire(self) -> Worker:
        with self._cond:
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    self._all.discard(worker)
                    worker.kill()
                if len(self._all) + self._starting < self.max_workers:
                    self._starting += 1
                    break
                self._cond.wait()
        try:
            worker = Worker(self.spec)
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._starting -= 1
            self._all.add(worker)
        return worker

    def _release(self, worker: Worker) -> None:
        with self._cond:
            if worker.alive() and not self.closed:
                self._idle.append(worker)
            else:
                self._all.discard(worker)
                worker.kill()
            self._cond.notify()

    def invoke(self, event: Any, timeout_s: float | None = None) -> InvokeResult:
        worker = self._acquire()
        try:
            return worker.invoke(event, float(timeout_s or self.spec.function.timeout))
        finally:
            self._release(worker)

    def close(self, force: bool = False) -> None:
        """Stop idle workers now; busy ones stop after their request (or now, if `force`)."""
        with self._cond:
            self.closed = True
            victims = list(self._all) if force else list(self._idle)
            self._idle.clear()
            for w in victims:
                self._all.discard(w)
            self._cond.notify_all()
        for w in victims:
            w.kill()

    def pids(self) -> list[int]:
        with self._cond:
            return [w.pid for w in self._all if w.alive()]


class WorkerManager:
    """All pools of a process (the gateway's, or a one-off `invoke`'s)."""

    def __init__(self, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        self.max_workers = max_workers
        self._lock = threading.Lock()
        self._pools: dict[tuple[str, str, str, str], FunctionPool] = {}
        self._closed = False

    def pool(self, spec: FunctionSpec) -> FunctionPool:
        with self._lock:
            if self._closed:
                raise ShipwayError("the local runtime is shutting down")
            pool = self._pools.get(spec.key)
            if pool is None:
                pool = FunctionPool(spec, self.max_workers)
                self._pools[spec.key] = pool
            return pool

    def invoke(
        self, spec: FunctionSpec, event: Any, timeout_s: float | None = None
    ) -> InvokeResult:
        return self.pool(spec).invoke(event, timeout_s)

    def retire(self, env: str, keep: Collection[tuple[str, str, str, str]]) -> None:
        """Drain the pools of `env` that the current release does not use (keys not in `keep`)."""
        with self._lock:
            old = [k for k, p in self._pools.items() if p.spec.env == env and k not in keep]
            pools = [self._pools.pop(k) for k in old]
        for p in pools:
            p.close()

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            pools = list(self._pools.values())
            self._pools.clear()
        for p in pools:
            p.close(force=True)

    def pools(self) -> list[FunctionPool]:
        with self._lock:
            return list(self._pools.values())
