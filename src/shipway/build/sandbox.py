"""The build sandbox: one bubblewrap container per build, with a small command server inside.

Why one container per build and not one per command: CodeBuild runs a build in one
container, so a process a command starts in the background (`dockerd &`, a test server)
lives on through the later commands and phases. A container per command would kill it when
its command ends (the PID namespace dies with its first process).

Inside, the whole file system is read-only; /dev, /proc and /tmp (the build's own folder)
are fresh; the workspace and the build's scratch folder are writable; every hidden path (the
state directory, the source checkout …) is an empty tmpfs or an empty file; the build has its own
PID namespace and, with `build.network: off`, its own network namespace (loopback only).
Killing bubblewrap's process group kills everything in the container (`--die-with-parent`),
and so does the death of the Shipway process that started it.

The command server reads one request per command from a socket (argv, cwd, environment,
and the write end of the command's output pipe as an SCM_RIGHTS file descriptor), starts it
in its own session, and answers with its exit status. Commands therefore cost one fork and
exec, as without the sandbox; the container costs one bwrap and one Python start per build.
"""

from __future__ import annotations

import contextlib
import functools
import marshal
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shipway.build.errors import BuildFailed

INSTALL_HINT = "install Debian's `bubblewrap` package, or set build.sandbox: off"

# Runs inside the container with `python -I -S`. It imports only modules built into the
# interpreter (`_socket`, `marshal`, `os`): `socket`, `subprocess` and `json` would triple
# the start of every build's container (~12 ms against ~40 ms on the 2-core bench machine).
# A command is started as subprocess.Popen would (its own session, stdin from /dev/null, the
# output pipe as stdout and stderr, PATH looked up in its own environment) and no other
# descriptor of the server reaches it: all of them are close-on-exec.
_SERVER = r"""
import _socket, marshal, os, sys
s = _socket.socket(fileno=int(sys.argv[1]))
os.set_inheritable(s.fileno(), False)
null = os.open(os.devnull, os.O_RDONLY)
def read(n, first=b""):
    data = first
    while len(data) < n:
        chunk = s.recv(min(n - len(data), 1 << 20))
        if not chunk:
            os._exit(0)
        data += chunk
    return data
def start(argv, cwd, env, out):
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(err_r)
            os.setsid()
            os.chdir(cwd)
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.execvpe(argv[0], argv, env)
        except OSError as exc:
            os.write(err_w, (exc.strerror or str(exc)).encode("utf-8", "replace"))
        finally:
            os._exit(127)
    os.close(err_w)
    why = os.read(err_r, 4096)
    os.close(err_r)
    if why:
        os.waitpid(pid, 0)
        os.write(out, f"cannot start {argv[0]} in {cwd}: {why.decode()}\n"
                 .encode("utf-8", "replace"))
        return None
    return pid
while True:
    head, anc, _, _ = s.recvmsg(8, _socket.CMSG_LEN(4), _socket.MSG_CMSG_CLOEXEC)
    if not head:
        os._exit(0)
    fds = [int.from_bytes(d[:4], sys.byteorder) for lvl, kind, d in anc
           if lvl == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS]
    req = marshal.loads(read(int.from_bytes(read(8, head), "big")))
    out = fds[0]
    pid = start(req["argv"], req["cwd"], req["env"], out)
    os.close(out)
    if pid is None:
        s.sendall(b"127\n")
        continue
    s.sendall(f"{os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}\n".encode())
"""

_BASE_FLAGS = (
    "--ro-bind", "/", "/",
    "--dev", "/dev",
    "--proc", "/proc",
    "--unshare-pid",
    "--die-with-parent",
    "--new-session",
)  # fmt: skip


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=4)
def _probe(bwrap: str, network: bool) -> str | None:
    """None when bwrap can start a container here, else why not (once per process)."""
    argv = [bwrap, *_BASE_FLAGS, *([] if network else ["--unshare-net"]), "--", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap cannot run here ({exc})"
    if done.returncode != 0:
        first = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return "bubblewrap cannot run here (" + (first[0] if first else "no reason given") + ")"
    return None


def unavailable(network: bool = True) -> str | None:
    """Why builds cannot be isolated on this machine, or None when they can."""
    bwrap = bwrap_path()
    if bwrap is None:
        return "bubblewrap (`bwrap`) is not installed"
    return _probe(bwrap, network)


@dataclass(frozen=True)
class Layout:
    """What the container sees."""

    writable: tuple[Path, ...]  # bound read-write at the same path (workspace, scratch)
    tmp: Path  # bound as /tmp
    empty: Path  # an empty file, bound over hidden files (a /dev/null bind would be nodev)
    hidden: tuple[Path, ...] = ()  # invisible: an empty tmpfs (folders) or an empty file
    network: bool = True
    readonly: tuple[Path, ...] = ()  # tools the build runs (esbuild), bound back read-only


def _under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _python_roots() -> list[Path]:
    """Folders the build's own tools need (the interpreter that runs the command server and
    `pip` for the default build), bound back read-only when a hidden path or the build's own
    /tmp covers them."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable))}
    return sorted({Path(os.path.realpath(r)) for r in roots})


def bwrap_argv(bwrap: str, layout: Layout) -> list[str]:
    """The bubblewrap command line; mounts apply in order, so hidden paths are covered first
    and the writable folders (which may lie below one, as the workspace lies below the state
    directory) are bound back after."""
    argv = [bwrap, *_BASE_FLAGS]
    if not layout.network:
        argv.append("--unshare-net")
    argv += ["--bind", str(layout.tmp), "/tmp"]
    hidden = [h for h in _existing(layout.hidden) if not _under(h, Path("/tmp"))]
    for path in hidden:
        if path.is_dir():
            argv += ["--tmpfs", str(path)]
        else:
            argv += ["--ro-bind", str(layout.empty), str(path)]
    for root in [*_python_roots(), *_existing(layout.readonly)]:
        # a virtualenv under /tmp (a CI checkout) is covered by the build's own /tmp too
        covered = _under(root, Path("/tmp")) or any(_under(root, h) for h in hidden)
        if covered and root.exists():
            argv += ["--ro-bind", str(root), str(root)]
    for path in layout.writable:
        argv += ["--bind", str(path), str(path)]
    return argv


def private_mountpoints(argv: list[str], tmp: Path) -> None:
    """A bind target under /tmp lies in the build's own /tmp folder (`tmp`, in the state
    directory): its mount point folders are made here first, private (bubblewrap would make
    them world-readable in the state directory)."""
    for i, arg in enumerate(argv[:-1]):
        if arg in ("--bind", "--ro-bind") and i + 2 < len(argv):
            target = Path(argv[i + 2])
            if target != Path("/tmp") and _under(target, Path("/tmp")):
                inside = tmp / target.relative_to("/tmp")
                for folder in reversed([inside, *inside.parents]):
                    if folder == tmp or not _under(folder, tmp):
                        continue
                    with contextlib.suppress(FileExistsError):
                        folder.mkdir(mode=0o700)


def _existing(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        real = Path(os.path.realpath(p))
        if real.exists() and real != Path("/") and real not in out:
            out.append(real)
    return out


class SandboxGone(Exception):
    """The container stopped (killed, or its command server died)."""


class Sandbox:
    """One running container and the socket to its command server."""

    def __init__(self, bwrap: str, layout: Layout) -> None:
        ours, theirs = socket.socketpair()
        python = os.path.realpath(sys.executable)
        argv = [*bwrap_argv(bwrap, layout), "--", python, "-I", "-S", "-c", _SERVER]
        private_mountpoints(argv, layout.tmp)
        try:
            self.proc = subprocess.Popen(
                [*argv, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        except OSError as exc:
            ours.close()
            raise BuildFailed(f"cannot start the build sandbox: {exc}") from None
        finally:
            theirs.close()
        self.sock = ours
        self.pgid = self.proc.pid

    def start(self, argv: list[str], cwd: Path, env: Mapping[str, str], out_fd: int) -> None:
        """Ask the server to run argv with its output on out_fd (the caller closes it)."""
        # marshal: the server runs this same interpreter, and reads it without an import
        body = marshal.dumps({"argv": list(argv), "cwd": str(cwd), "env": dict(env)})
        try:
            socket.send_fds(self.sock, [len(body).to_bytes(8, "big")], [out_fd])
            self.sock.sendall(body)
        except OSError:
            raise SandboxGone from None

    def wait(self, timeout: float) -> int:
        """The exit status of the command started last; TimeoutError when it runs past
        timeout; SandboxGone when the container stopped."""
        self.sock.settimeout(max(timeout, 0.001))
        data = b""
        while not data.endswith(b"\n"):
            try:
                chunk = self.sock.recv(64)
            except TimeoutError:  # an OSError too, but not a dead container
                raise
            except OSError:  # closed or reset: the container is gone
                raise SandboxGone from None
            if not chunk:
                raise SandboxGone
            data += chunk
        return int(data)

    def why_gone(self) -> str:
        """What bubblewrap said when the container stopped on its own (one line)."""
        self.kill()
        self.proc.wait()
        assert self.proc.stderr is not None
        text = self.proc.stderr.read(4096).decode("utf-8", "replace").strip()
        return text.splitlines()[0] if text else f"exit status {self.proc.returncode}"

    def kill(self) -> None:
        """Stop everything in the container (any thread may call this)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)

    def close(self) -> None:
        """Kill the container and release its resources (the owning thread, once)."""
        self.kill()
        self.sock.close()
        self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
