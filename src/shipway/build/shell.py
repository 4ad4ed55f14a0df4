"""The command session of one build: processes, their output, their environment.

Version 0.2: each command runs as its own `sh -c` (or bash) script; an EXIT trap dumps the
environment (`env -0`) and working directory into temp files that seed the next command, so
`cd`, `VAR=value` and `export` carry across commands and phases, while functions and `set`
options do not. Version 0.1: every command starts fresh in the service folder with the
original environment. One process spawn per command; no Python in between.

Every command runs in its own process group with stdin closed; the timeout kills every
process group the build started (what a CodeBuild container teardown does).
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import shutil
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from shipway.build.errors import BuildCancelled, BuildFailed, BuildTimedOut
from shipway.build.logs import BuildLog
from shipway.build.sandbox import Sandbox, SandboxGone
from shipway.masking import LinePieces

_DROP_VARS = frozenset({"_", "SHLVL"})
_INTERNAL = "__shipway_"
_IDLE_S = 0.2  # after a command exits, wait this long for output still in the pipe


def short(command: str, limit: int = 120) -> str:
    """The first line of a command, cut to `limit` characters, for one-line errors."""
    lines = [ln for ln in command.strip().splitlines() if ln.strip()]
    text = lines[0].strip() if lines else ""
    if len(lines) > 1 or len(text) > limit:
        text = text[:limit].rstrip() + " …"
    return text


_RUNNING: weakref.WeakSet[Processes] = weakref.WeakSet()


def cancel_running_builds() -> None:
    """Stop every build of this process now (Ctrl-C): their process groups are killed and
    no further command starts."""
    for procs in list(_RUNNING):
        procs.cancelled = True
        procs.kill_all()


# A command waits at this gate until its process group is recorded (on_spawn: the store),
# so a kill -9 of Shipway between the fork and the record cannot leave a build that
# recovery does not know to kill: with Shipway gone, the gate reads end-of-file and the
# command never starts. The gate is the shell's stdin; the command's is /dev/null.
_GATE = 'read -r _ || exit 125; exec "$@" </dev/null'


def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """`proc.wait(timeout)`, woken by the exit itself (a pidfd) rather than by Popen's
    polling, which sleeps up to 50 ms between looks: a command of a few ms would wait
    several more. Raises subprocess.TimeoutExpired as Popen.wait does."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux >= 5.3, or already reaped
        return proc.wait(timeout=timeout)
    try:
        waiter = select.poll()  # not select(): a busy server's descriptors pass 1024
        waiter.register(fd, select.POLLIN)
        ready = waiter.poll(max(0, int(timeout * 1000)))
    finally:
        os.close(fd)
    if not ready:
        raise subprocess.TimeoutExpired(proc.args, timeout)
    return proc.wait()


class Processes:
    """Spawns commands against one deadline and streams their output to the log.

    With a sandbox factory, every command runs in the build's one container (started at the
    first command); else each command is a process group of its own on this machine.
    """

    def __init__(
        self,
        log: BuildLog,
        deadline: float,
        on_spawn: Callable[[int], None] | None = None,
        sandbox: Callable[[], Sandbox] | None = None,
    ) -> None:
        self.log = log
        self.deadline = deadline
        self.cancelled = False
        self.groups: list[int] = []
        self.on_spawn = on_spawn
        self.sandbox = sandbox
        self._box: Sandbox | None = None
        _RUNNING.add(self)
        self.capture: list[str] | None = None  # output lines, while a RETRY-regex phase runs
        self.current = "BUILD"  # the phase running, for the timeout message

    def _pump(self, stream: IO[bytes], activity: list[float]) -> None:
        # pieces, not readline(): a build printing one endless line must not fill memory
        lines = LinePieces(self.log.mask)
        while chunk := os.read(stream.fileno(), 1 << 16):
            activity[0] = time.monotonic()
            for raw in lines.feed(chunk):
                self._line(raw)
        for raw in lines.rest():
            self._line(raw)
        stream.close()

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        self.log.output(text)
        if self.capture is not None:
            self.capture.append(text)

    @staticmethod
    def _kill(pgid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def kill_all(self) -> None:
        """End every process group the build started (the container, when sandboxed)."""
        for pgid in self.groups:
            self._kill(pgid, signal.SIGKILL)
        self.groups.clear()

    def close(self) -> None:
        """After the build: kill what is left and reap the container."""
        self.kill_all()
        if self._box is not None:
            self._box.close()
            self._box = None

    def _spawned(self, pgid: int) -> None:
        self.groups.append(pgid)
        if self.on_spawn is not None:
            self.on_spawn(pgid)

    def _remaining(self) -> float:
        if self.cancelled:
            raise BuildCancelled
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise BuildTimedOut
        return remaining

    def spawn(self, argv: list[str], cwd: Path, env: Mapping[str, str]) -> int:
        """Run argv in its own process group, streaming output to the log. Returns the status."""
        remaining = self._remaining()
        if self.sandbox is not None:
            return self._spawn_boxed(argv, cwd, env)
        gate_read, gate_write = os.pipe()
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", _GATE, "shipway-gate", *argv],
                cwd=cwd,
                env=dict(env),
                stdin=gate_read,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            os.close(gate_write)
            self.log.output(f"cannot start {argv[0]} in {cwd}: {exc.strerror or exc}")
            return 127
        finally:
            os.close(gate_read)
        try:
            self._spawned(proc.pid)  # recorded before the command runs: see _GATE
        finally:
            with contextlib.suppress(OSError):
                os.write(gate_write, b"go\n")
            os.close(gate_write)
        assert proc.stdout is not None
        activity = [time.monotonic()]
        reader = threading.Thread(target=self._pump, args=(proc.stdout, activity), daemon=True)
        reader.start()
        try:
            rc = wait_exit(proc, remaining)
        except subprocess.TimeoutExpired:
            self._kill(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1.0)
            self._kill(proc.pid, signal.SIGKILL)
            proc.wait()
            reader.join(timeout=1.0)
            raise BuildTimedOut from None
        return self._finish(reader, activity, rc)

    def _finish(self, reader: threading.Thread, activity: list[float], rc: int) -> int:
        # drain what is still in the pipe; a background child may keep it open for ever
        while reader.is_alive():
            reader.join(timeout=0.05)
            if time.monotonic() - activity[0] > _IDLE_S:
                break
        if self.cancelled:
            raise BuildCancelled
        return rc

    def _container(self) -> Sandbox:
        if self._box is None:
            assert self.sandbox is not None
            self._box = self.sandbox()
            self._spawned(self._box.pgid)
        return self._box

    def _spawn_boxed(self, argv: list[str], cwd: Path, env: Mapping[str, str]) -> int:
        box = self._container()
        read_end, write_end = os.pipe()
        try:
            box.start(argv, cwd, env, write_end)
        except SandboxGone:
            os.close(read_end)
            raise self._gone(box) from None
        finally:
            os.close(write_end)
        activity = [time.monotonic()]
        stream = os.fdopen(read_end, "rb")
        reader = threading.Thread(target=self._pump, args=(stream, activity), daemon=True)
        reader.start()
        try:
            # the deadline is read again: starting the container took some of it
            rc = box.wait(self.deadline - time.monotonic())
        except TimeoutError:
            box.kill()  # a timeout ends the build: everything in the container goes
            reader.join(timeout=1.0)
            raise BuildTimedOut from None
        except SandboxGone:
            reader.join(timeout=1.0)
            raise self._gone(box) from None
        return self._finish(reader, activity, rc)

    def _gone(self, box: Sandbox) -> Exception:
        if self.cancelled:
            return BuildCancelled()
        return BuildFailed(f"the build sandbox stopped: {box.why_gone()}")


def find_shell(name: str | None) -> str:
    """The path of `env.shell` (None: sh), or BuildFailed when the machine lacks it."""
    shell = "bash" if name == "bash" else "sh"
    found = shutil.which(shell) or (f"/bin/{shell}" if Path(f"/bin/{shell}").exists() else None)
    if found is None:
        raise BuildFailed(f"env.shell: `{shell}` is not installed on this machine")
    return found


class Session:
    """The shell session of one buildspec build: environment and working directory."""

    def __init__(
        self,
        procs: Processes,
        *,
        version: str,
        shell: str | None,
        env: Mapping[str, str],
        start_dir: Path,
        tmp: Path,
    ) -> None:
        self.procs = procs
        self.version = version
        self.shell = find_shell(shell)
        self.initial = dict(env)
        self.env = dict(env)
        self.start_dir = start_dir
        self.cwd = start_dir
        self.tmp = tmp
        self.counter = 0
        self.succeeding = True  # CODEBUILD_BUILD_SUCCEEDING

    @property
    def final_env(self) -> dict[str, str]:
        """The environment after the last command (0.1: the one every command started with)."""
        return dict(self.env if self.version == "0.2" else self.initial)

    def run(self, command: str) -> int:
        self.procs.log.agent(f"Running command {command}")
        succeeding = "1" if self.succeeding else "0"
        if self.version == "0.1":
            env = {**self.initial, "CODEBUILD_BUILD_SUCCEEDING": succeeding}
            return self.procs.spawn([self.shell, "-c", command], self.start_dir, env)
        self.counter += 1
        env_file = self.tmp / f"env.{self.counter}"
        cwd_file = self.tmp / f"cwd.{self.counter}"
        trailer = (
            f"{_INTERNAL}rc=$?; env -0 > {shlex.quote(str(env_file))}; "
            f"pwd > {shlex.quote(str(cwd_file))}; exit ${_INTERNAL}rc"
        )
        script = f"trap {shlex.quote(trailer)} EXIT\nset -a\n{command}\n"
        env = {**self.env, "CODEBUILD_BUILD_SUCCEEDING": succeeding, "PWD": str(self.cwd)}
        rc = self.procs.spawn([self.shell, "-c", script], self.cwd, env)
        self._capture(env_file, cwd_file)
        return rc

    def _capture(self, env_file: Path, cwd_file: Path) -> None:
        try:
            data = env_file.read_bytes()
            cwd = cwd_file.read_bytes()
        except OSError:
            return  # the command replaced our EXIT trap or exec'd: keep the previous state
        finally:
            for f in (env_file, cwd_file):
                f.unlink(missing_ok=True)
        new: dict[str, str] = {}
        for item in data.split(b"\0"):
            key, sep, value = item.partition(b"=")
            if not sep:
                continue
            name = os.fsdecode(key)
            if name in _DROP_VARS or name.startswith(_INTERNAL):
                continue
            new[name] = os.fsdecode(value)
        path = os.fsdecode(cwd.removesuffix(b"\n"))
        # a sandboxed command may have moved to a folder only its container has (/tmp/x)
        if path and (self.procs.sandbox is not None or Path(path).is_dir()):
            self.cwd = Path(path)
        if new:
            self.env = new
