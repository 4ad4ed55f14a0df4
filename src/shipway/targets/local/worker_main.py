"""A warm function worker: `python -I worker_main.py <service_dir> <handler>`.

Standard library only: it runs in the user's function environment and must not import
Shipway or any third-party package.

Protocol: length-prefixed frames (a 4-byte big-endian length, then that many bytes of JSON),
requests on the worker's stdin, responses on its original stdout; one request at a time, as on
Lambda. Before any user code runs, both are moved to private file descriptors; fd 0 becomes
/dev/null and fd 1 becomes a copy of fd 2 (the service log), so `print()` or `input()` in a
handler cannot corrupt the protocol. The parent writes the START/END/REPORT lines (it knows
the request id, and the handler's output arrives between them through fd 2); `ms` is the
handler's duration for the REPORT line, null when no handler ran (it could not be loaded).

    request:  {"event": ..., "context": {"aws_request_id", "function_name", "memory_limit_in_mb",
               "invoked_function_arn", "log_group_name", "log_stream_name", "deadline_ms"}}
    response: {"ok": true, "result": ..., "ms": float}
              {"ok": false, "errorType": ..., "errorMessage": ..., "stackTrace": [...], "ms": ...}
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

Response = dict[str, Any]


class LambdaContext:
    def __init__(self, fields: dict[str, Any]) -> None:
        self.function_name = fields.get("function_name", "")
        self.function_version = "$LATEST"
        self.invoked_function_arn = fields.get("invoked_function_arn", "")
        self.memory_limit_in_mb = int(fields.get("memory_limit_in_mb", 128))
        self.aws_request_id = fields.get("aws_request_id", "")
        self.log_group_name = fields.get("log_group_name", "")
        self.log_stream_name = fields.get("log_stream_name", "")
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms = int(fields.get("deadline_ms", 0))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error_type: str, message: str, tb: TracebackType | None = None) -> Response:
    stack = traceback.format_list(traceback.extract_tb(tb)) if tb is not None else []
    return {"ok": False, "errorType": error_type, "errorMessage": message, "stackTrace": stack}


class Handler:
    def __init__(self, service_dir: str, handler: str) -> None:
        self.service_dir = service_dir
        self.spec = handler
        self.func: Callable[[Any, LambdaContext], Any] | None = None

    def load(self) -> tuple[Callable[[Any, LambdaContext], Any] | None, Response | None]:
        """The handler function, or an error response (retried on the next call, as Lambda)."""
        if self.func is not None:
            return self.func, None
        module_path, _, func_name = self.spec.rpartition(".")
        if not module_path or not func_name:
            return None, _error(
                "Runtime.MalformedHandlerName",
                f"Bad handler '{self.spec}': not enough values to unpack (expected 2, got 1)",
            )
        module_name = module_path.replace("/", ".")
        try:
            module = importlib.import_module(module_name)
        except Exception as e:
            sys.stderr.write(
                f"[ERROR] Runtime.ImportModuleError: Unable to import module '{module_path}': "
                f"{e}\n{traceback.format_exc()}"
            )
            sys.stderr.flush()
            return None, _error(
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_path}': {e}",
                e.__traceback__,
            )
        func = getattr(module, func_name, None)
        if not callable(func):
            return None, _error(
                "Runtime.HandlerNotFound",
                f"Handler '{func_name}' missing on module '{module_path}'",
            )
        self.func = func
        return func, None

    def invoke(self, message: dict[str, Any]) -> Response:
        fields = message.get("context") or {}
        func, failure = self.load()
        if func is None:
            return failure or _error("Runtime.HandlerNotFound", self.spec)
        context = LambdaContext(fields)
        started = time.monotonic()
        try:
            response = {"ok": True, "result": func(message.get("event"), context)}
        except Exception as e:
            tb = e.__traceback__
            sys.stderr.write(
                f"[ERROR] {type(e).__name__}: {e}\n" + "".join(traceback.format_exception(e))
            )
            response = _error(type(e).__name__, str(e), tb.tb_next if tb else None)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()  # the handler's output reaches the pipe before its response
        response["ms"] = (time.monotonic() - started) * 1000
        return response


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class Frames:
    """Length-prefixed frames from `fd`, read in large pieces (one read per request)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()

    def _fill(self, n: int) -> bool:
        while len(self.buffer) < n:
            chunk = os.read(self.fd, max(1 << 16, n - len(self.buffer)))
            if not chunk:
                return False
            self.buffer += chunk
        return True

    def next(self) -> bytes | None:
        """The next frame's body; None once the parent has closed our stdin."""
        if not self._fill(4):
            return None
        size = int.from_bytes(self.buffer[:4], "big")
        if not self._fill(4 + size):
            return None
        body = bytes(self.buffer[4 : 4 + size])
        del self.buffer[: 4 + size]
        return body


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write("usage: worker_main.py <service_dir> <handler>\n")
        return 2
    service_dir, handler = argv[1], argv[2]

    # Protocol on private fds; the user's stdin/stdout go nowhere harmful.
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115

    os.chdir(service_dir)
    sys.path.insert(0, service_dir)
    # then the function's layers, where Lambda puts /opt/python (after the task root)
    layer_paths = os.environ.pop("SHIPWAY_LAYER_PATHS", "")
    sys.path[1:1] = [p for p in layer_paths.split(os.pathsep) if p]
    # What the Lambda runtime adds after the task root: the AWS SDK, nothing else.
    runtime_libs = os.environ.pop("SHIPWAY_RUNTIME_LIBS", "")
    if runtime_libs:
        sys.path.append(runtime_libs)
    runner = Handler(service_dir, handler)

    frames = Frames(proto_in)
    while (body := frames.next()) is not None:
        try:
            message = json.loads(body)
        except ValueError as e:
            response = _error("Runtime.InvalidRequest", f"bad request: {e}")
        else:
            response = runner.invoke(message)
        try:
            data = json.dumps(response).encode("utf-8")
        except (TypeError, ValueError) as e:  # the handler's result is not JSON
            failed = _error("Runtime.MarshalError", f"Unable to marshal response: {e}")
            data = json.dumps({**failed, "ms": response.get("ms")}).encode("utf-8")
        _write_all(proto_out, len(data).to_bytes(4, "big") + data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
