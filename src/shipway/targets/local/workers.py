"""One warm worker process of the local runtime, driven from an asyncio event loop.

A worker runs one request at a time (as a Lambda execution environment does) over
length-prefixed JSON frames on its stdin/stdout (worker_main.py); the loop reads its pipes as
they become readable, so no thread waits on a worker. Each invocation has a deadline (the
function's `timeout`); a worker that misses it has its process group killed and is not reused.
Pools of workers per function are in pools.py.

A worker's output (the handler's prints, tracebacks) reaches the service's log through the
parent (output.py) between the START and END/REPORT lines the parent writes, with the
function's secret values masked; the runtime's own log entries are masked the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipway.masking import Masker
from shipway.targets.local.apigw import new_request_id
from shipway.targets.local.deployed_function import DeployedFunction
from shipway.targets.local.endpoints import local_endpoints
from shipway.targets.local.layers import node_paths, python_paths
from shipway.targets.local.output import WorkerOutput
from shipway.targets.local.runtimes import family, worker_command

# Below malloc's mmap threshold: a larger read buffer is mapped and unmapped per response.
_READ = 1 << 16
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
    layer_dirs: tuple[Path, ...] = ()  # its layers' unpacked folders, in order (`/opt`)

    @functools.cached_property
    def key(self) -> tuple[str, str, str, str]:
        """Pools are shared by every release that carries the same code and configuration
        (an unchanged service keeps its folder), so its workers stay warm across releases."""
        config = json.dumps(
            [self.function.to_dict(reveal=True), [str(d) for d in self.layer_dirs]], sort_keys=True
        )
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
    env.update(local_endpoints(spec.state_dir, spec.env))  # the function's own setting wins
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
        }
    )
    if family(fn.runtime) == "python":
        env["SHIPWAY_RUNTIME_LIBS"] = str(runtime_libraries(spec.state_dir))
    if spec.layer_dirs and fn.runtime.startswith("python"):
        env["SHIPWAY_LAYER_PATHS"] = os.pathsep.join(python_paths(spec.layer_dirs, fn.runtime))
    if spec.layer_dirs and fn.runtime.startswith("nodejs"):
        # Lambda's NODE_PATH: the layers' folders, then the runtime's
        env["NODE_PATH"] = os.pathsep.join(node_paths(spec.layer_dirs, fn.runtime))
    return env


class Worker:
    """One worker process; one request at a time; used on its event loop's thread only."""

    def __init__(self, spec: FunctionSpec, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self.spec = spec
        self.proc = proc
        self.loop = asyncio.get_running_loop()
        self._in = proc.stdin.fileno()
        self._out = proc.stdout.fileno()
        for fd in (self._in, self._out):
            os.set_blocking(fd, False)
        self._output = WorkerOutput(os.dup(proc.stderr.fileno()), spec.log_path, spec.mask)
        proc.stderr.close()
        self._frames = bytearray()
        self._pending = memoryview(b"")  # the part of a request frame the pipe did not take yet
        self._waiter: asyncio.Future[bytes] | None = None
        self._start_line = b""  # the current request's START line, until it is logged
        self._context = {  # what every request's context says
            "function_name": spec.lambda_name,
            "memory_limit_in_mb": spec.function.memory_size,
            "invoked_function_arn": (
                f"arn:aws:lambda:{spec.region}:000000000000:function:{spec.lambda_name}"
            ),
            "log_group_name": f"/aws/lambda/{spec.lambda_name}",
            "log_stream_name": f"local/{spec.release_dir.name}",
        }
        self.dead = False
        self._ended = False  # its stdout has ended: the worker is gone (or going)
        self.loop.add_reader(self._out, self._on_frames)
        self.loop.add_reader(self._output.fd, self._on_output)

    @classmethod
    async def start(cls, spec: FunctionSpec) -> Worker:
        """A new worker process (forked off the loop's thread: it takes milliseconds)."""
        loop = asyncio.get_running_loop()
        proc = await loop.run_in_executor(None, _spawn, spec)
        return cls(spec, proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        # no waitpid per request: a worker that dies ends its stdout, and that marks it dead
        return not self.dead and not self._ended and self.proc.returncode is None

    async def invoke(self, event: Any, timeout_s: float) -> InvokeResult:
        spec = self.spec
        request_id = new_request_id()
        started = time.monotonic()
        context = {
            **self._context,
            "aws_request_id": request_id,
            "deadline_ms": int((time.time() + timeout_s) * 1000),
        }
        data = json.dumps({"event": event, "context": context}).encode("utf-8")
        self._start_line = f"START RequestId: {request_id} Version: $LATEST\n".encode()

        def done(**kw: Any) -> InvokeResult:
            return InvokeResult(
                duration_ms=(time.monotonic() - started) * 1000,
                request_id=request_id,
                worker_pid=self.pid,
                **kw,
            )

        waiter: asyncio.Future[bytes] = self.loop.create_future()
        self._waiter = waiter
        timer = self.loop.call_later(timeout_s, _expire, waiter)
        try:
            self._send(len(data).to_bytes(4, "big") + data)
            raw = await waiter
        except asyncio.CancelledError:
            self.kill()  # the caller went away mid-request: the worker's state is unknown
            raise
        except TimeoutError:
            self.kill()
            message = f"Task timed out after {timeout_s:.2f} seconds"
            self._note(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {request_id} {message}\n")
            return done(
                ok=False, error_type="Sandbox.Timedout", error_message=message, timed_out=True
            )
        except EOFError:
            return done(**self._crashed(request_id))
        finally:
            timer.cancel()
            self._waiter = None
        try:
            msg = json.loads(raw)
        except ValueError:
            self.kill()
            return done(
                ok=False,
                error_type="Runtime.InvalidResponse",
                error_message="worker sent an unreadable response",
            )
        self._log_report(request_id, msg.get("ms"))
        if msg.get("ok"):
            return done(ok=True, result=msg.get("result"))
        mask = spec.mask  # an error document is shown by `invoke` and logged: no secret in it
        return done(
            ok=False,
            error_type=mask(str(msg.get("errorType", "Error"))),
            error_message=mask(str(msg.get("errorMessage", ""))),
            stack_trace=[mask(str(s)) for s in msg.get("stackTrace") or []],
        )

    # ------------------------------------------------------------------ pipes

    def _send(self, frame: bytes) -> None:
        try:
            n = os.write(self._in, frame)
        except BlockingIOError:
            n = 0
        except OSError:  # the worker is gone: its stdout ends too, and that says so
            return
        if n < len(frame):
            self._pending = memoryview(frame)[n:]
            self.loop.add_writer(self._in, self._on_writable)

    def _on_writable(self) -> None:
        try:
            n = os.write(self._in, self._pending)
        except BlockingIOError:
            return
        except OSError:
            n = len(self._pending)
        self._pending = self._pending[n:]
        if not self._pending:
            self.loop.remove_writer(self._in)

    def _on_frames(self) -> None:
        try:
            chunk = os.read(self._out, _READ)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.loop.remove_reader(self._out)
            self._ended = True
            self._resolve(None)
            return
        frames = self._frames
        frames += chunk
        while len(frames) >= 4:
            size = int.from_bytes(frames[:4], "big")
            if len(frames) < 4 + size:
                break
            frame = bytes(frames[4 : 4 + size])
            del frames[: 4 + size]
            self._resolve(frame)

    def _resolve(self, frame: bytes | None) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # a frame no request asked for (or after its deadline): nothing waits
        # the request's output precedes its response in the pipe: log all of it first
        self._on_output()
        if frame is None:
            waiter.set_exception(EOFError())
        else:
            waiter.set_result(frame)

    def _on_output(self) -> None:
        if self._output.read(self._start_line):
            self._start_line = b""
        if self._output.closed:
            with contextlib.suppress(Exception):
                self.loop.remove_reader(self._output.fd)

    def _log_report(self, request_id: str, ms: Any) -> None:
        if not isinstance(ms, int | float):
            self._start_line = b""
            return  # no handler ran (it could not be loaded): no END/REPORT, as on Lambda
        self._output.write(
            self._start_line
            + f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {ms:.2f} ms\t"
            f"Memory Size: {self.spec.function.memory_size} MB\n".encode()
        )
        self._start_line = b""

    def _note(self, text: str) -> None:
        """A line of the runtime's own about the current request (after its START line);
        written after the worker is killed, so its output is all logged before it."""
        data = self._start_line.decode() + text
        self._start_line = b""
        _append(self.spec, self.spec.mask(data))

    def _crashed(self, request_id: str) -> dict[str, Any]:
        self.kill()
        code = self.proc.returncode
        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"
        self._note(message + "\n")
        return {"ok": False, "error_type": "Runtime.ExitError", "error_message": message}

    def kill(self) -> None:
        """Kill the worker's process group and let go of its pipes (from the loop's thread,
        or from any thread once the loop has stopped)."""
        if self.dead:
            return
        self.dead = True
        if self._waiter is not None and not self._waiter.done():
            with contextlib.suppress(RuntimeError):  # (its loop may be closed)
                self._waiter.set_exception(EOFError())  # a request under way ends as a crash
        with contextlib.suppress(Exception):  # a closed loop has nothing left to remove
            self.loop.remove_reader(self._out)
            self.loop.remove_reader(self._output.fd)
            self.loop.remove_writer(self._in)
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)  # SIGKILL: the reap takes a moment, and then no pid
        if self._output.close(self._start_line):
            self._start_line = b""
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


def _expire(waiter: asyncio.Future[bytes]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _spawn(spec: FunctionSpec) -> subprocess.Popen[bytes]:
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [*worker_command(spec.function.runtime), str(spec.service_dir), spec.function.handler]
    return subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=spec.service_dir,
        env=worker_environment(spec),
        start_new_session=True,  # own process group: a timeout kills all of it
    )
