"""Lay a case out on disk and run its `shipway` commands, each in a child with bounded time and
memory.

Two ways to run one command, with the same result type:
- `in_fork`: a child forked from this process (which already imported shipway) calls the
  CLI's entry point; about a millisecond to start instead of ~0.3 s of Python start-up, and
  the same isolation (its own address-space limit, killed with its process group on timeout,
  a segfault only ends the child).
- `in_subprocess`: the real `shipway` executable, to show the two agree.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.mutate import OUTSIDE, Case

SHIPWAY = str(Path(sys.executable).with_name("shipway"))
MEMORY_LIMIT = 1024 * 1024 * 1024  # address space of one command (RLIMIT_AS)
TIMEOUT = 20.0  # seconds per command
RUN_TIMEOUT = 60.0  # seconds for `shipway run` (it builds)
MAX_OUTPUT = 16 * 1024 * 1024  # bytes of stdout / stderr kept per command
GIT_ENV = {
    "GIT_AUTHOR_NAME": "fuzz",
    "GIT_AUTHOR_EMAIL": "fuzz@example.invalid",
    "GIT_COMMITTER_NAME": "fuzz",
    "GIT_COMMITTER_EMAIL": "fuzz@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    code: int | None  # exit status, None when killed by a signal
    signal: int | None
    timed_out: bool
    stdout: bytes
    stderr: bytes
    seconds: float
    output_truncated: bool = False


def preload() -> None:
    """Import what the commands use, once, before forking workers and children."""
    import shipway.app
    import shipway.cli.main
    import shipway.synth.template
    import shipway.targets.aws.client  # noqa: F401  (boto3, for ${ssm:} / ${cf:})


def warm_up(root: Path, files: dict[str, bytes]) -> None:
    """Run validate, print and synth once in this process on an unchanged repository, so the
    children forked later start with the imports and caches a first call fills (about 40% of
    a command's time). The repository is a folder of its own, never used again; commands also
    run as real processes (`equivalence_every`) show the children answer the same."""
    import contextlib

    from shipway.cli.main import cli

    repo = root / "warm-up"
    _write_files(repo, files)
    _git(repo, "init", "-q", "--template=", "-b", "main")
    cwd = os.getcwd()
    sink = io.StringIO()
    try:
        os.chdir(repo)
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            for argv in (
                ["validate"],
                ["print", "payments", "--env", "dev"],
                ["synth", "payments", "--env", "dev"],
            ):
                with contextlib.suppress(BaseException):
                    cli.main(args=argv, prog_name="shipway", standalone_mode=False)
    finally:
        os.chdir(cwd)


# --------------------------------------------------------------------------- the layout


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={**os.environ, **GIT_ENV, "HOME": str(repo)},
    )


class Layout:
    """One worker's folders: the current case's repository and the folder beside it that
    holds the canaries ("outside the commit")."""

    def __init__(self, root: Path, templates: Path | None = None):
        self.root = root
        self.templates = templates or root / "templates"
        self.templates.mkdir(parents=True, exist_ok=True)
        self.case_dir = root / "case"
        self._planted: dict[str, tuple[int, int]] | None = None

    @property
    def repo(self) -> Path:
        return self.case_dir / "repo"

    @property
    def outside(self) -> Path:
        return self.case_dir / "outside"

    def shared_git(self) -> Path:
        """One empty repository: what `.git` points at in a case that only reads files."""
        path = self.templates / "empty.git"
        if not path.exists():
            tmp = self.templates / f"empty.tmp{os.getpid()}"
            _git(self.templates, "init", "-q", "--bare", "--template=", str(tmp))
            try:
                tmp.rename(path)
            except OSError:  # another worker made it first
                shutil.rmtree(tmp, ignore_errors=True)
        return path

    def materialise(self, case: Case) -> None:
        """The case's repository (the base with its mutations) and the canaries beside it.

        A case that only reads the working tree (validate, print, synth) gets the files and a
        `.git` file pointing at an empty repository; a case that runs gets a repository of
        its own with the state committed on main, dev and qa, since `run` reads the commit."""
        if self.repo.exists() or self.repo.is_symlink():
            _force_rmtree(self.repo)
        for sub in ("home", "tmp"):
            if (self.case_dir / sub).exists():
                _force_rmtree(self.case_dir / sub)
        for sub in ("home", "tmp", "out"):
            (self.case_dir / sub).mkdir(parents=True, exist_ok=True)
        if self._planted is None or snapshot(self.outside) != self._planted:
            if self.outside.exists():
                _force_rmtree(self.outside)
            _plant_canaries(self.outside, case)
            self._planted = snapshot(self.outside)
        runs = any(cmd[0] == "run" for cmd in case.commands)
        _write_files(self.repo, case.base.files)
        if not runs:
            (self.repo / ".git").write_text(f"gitdir: {self.shared_git()}\n")
        for rel in sorted(case.deleted):
            path = self.repo / rel
            if path.is_symlink() or path.is_file():
                path.unlink()
        _write_files(self.repo, case.files)
        for rel, target in case.symlinks.items():
            path = self.repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                shutil.rmtree(path)
            path.symlink_to(self.expand(target))
        if runs:
            _git(self.repo, "init", "-q", "--template=", "-b", "main")
            _git(self.repo, "add", "-A")
            _git(self.repo, "commit", "-q", "--no-verify", "-m", case.name)
            _git(self.repo, "branch", "dev")
            _git(self.repo, "branch", "qa")

    def expand(self, text: str) -> str:
        return text.replace(OUTSIDE, str(self.outside))

    def child_env(self, case: Case) -> dict[str, str]:
        env = {
            "PATH": build_path(),
            "HOME": str(self.case_dir / "home"),
            "TMPDIR": str(self.case_dir / "tmp"),
            "LANG": "C.UTF-8",
            # no credentials and no instance-metadata lookups: the fuzzer stays off the network
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": str(self.case_dir / "home" / "no-credentials"),
            "AWS_CONFIG_FILE": str(self.case_dir / "home" / "no-config"),
            **GIT_ENV,
        }
        env.update({k: self.expand(v) for k, v in case.env.items()})
        return env


def build_path() -> str:
    """The PATH a case's commands see: this interpreter's directory first, shell shims dropped.

    A version manager's `python3` shim is a shell script; bash start-up grows with the size of
    the environment, so a case's 20,000-line `.env` made `python3 --version` in a build take
    ~50 s and read as a Shipway hang. A real interpreter keeps `timeout` meaning Shipway hung."""
    parts = [p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p]
    kept = [p for p in parts if not p.rstrip("/").endswith("/shims")]
    return os.pathsep.join([str(Path(sys.executable).parent), *kept])


def _write_files(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()
        path.write_bytes(data)


def _force_rmtree(path: Path) -> None:
    def retry(func: object, p: str, _exc: object) -> None:
        os.chmod(os.path.dirname(p), 0o700)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.lexists(p):
            os.unlink(p)

    shutil.rmtree(path, onerror=retry)  # a build may leave read-only folders behind


def _plant_canaries(outside: Path, case: Case) -> None:
    token = case.canaries.escape
    service = outside / "service"
    service.mkdir(parents=True)
    (outside / "canary.txt").write_text(f"{token}\n")
    (outside / "canary.yml").write_text(f"key: {token}\n")
    (outside / "canary.env").write_text(f"LEAKED={token}\nLOG_LEVEL={token}\n")
    (outside / "shipway.yml").write_text(
        "project: outsider\nenvironments:\n  dev:\n    branch: dev\n    target: local\n"
        f"    params:\n      LOG_LEVEL: {token}\n"
    )
    (outside / "buildspec.yml").write_text(
        f"version: 0.2\nphases:\n  build:\n    commands:\n      - echo {token}\n"
        f"      - echo {token} > outside-was-here.txt\n"
    )
    (service / "serverless.yml").write_text(
        f"service: outsider\nprovider:\n  name: aws\n  runtime: python3.13\n"
        f"  environment:\n    LEAK: {token}\nfunctions:\n  f:\n    handler: handler.f\n"
    )
    (service / "handler.py").write_text(f"TOKEN = '{token}'\ndef f(e, c):\n    return TOKEN\n")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """What is in a folder (path -> size, mtime), to tell whether a command wrote there."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, folder)] = (st.st_size, st.st_mtime_ns)
    return out


# --------------------------------------------------------------------------- running


def _limit_memory() -> None:
    """MEMORY_LIMIT more than the forked child already maps: a parent that grew (a test
    runner whose earlier tests left thread stacks and malloc arenas behind) must not leave
    the child no room, which read as MemoryError, SystemError and SIGSEGV 'defects'."""
    limit = _mapped_bytes() + MEMORY_LIMIT
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _mapped_bytes() -> int:
    """This process's address space (VmSize), from /proc; 0 where there is none."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _read(path: Path) -> tuple[bytes, bool]:
    with open(path, "rb") as f:
        data = f.read(MAX_OUTPUT + 1)
    return data[:MAX_OUTPUT], len(data) > MAX_OUTPUT


def _child(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    out: Path,
    err: Path,
    entry: Callable[[], object] | None,
) -> None:
    """In the forked child: become a process group, limit memory, run the CLI, exit."""
    code = 1
    try:
        os.setsid()
        faulthandler.disable()  # a test runner's; a real `shipway` process has none
        _limit_memory()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
        os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
        # fresh streams on the new descriptors, as the interpreter makes them at start-up
        # (the parent's may be a test runner's capture objects)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8"
        )
        sys.stderr = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
        )
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["shipway", *argv]
        from shipway.cli.main import main  # the console script's own entry point

        try:
            (entry or main)()
            code = 0
        except SystemExit as exc:  # as the interpreter turns SystemExit into a status
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _wait(pid: int, timeout: float) -> tuple[int, bool]:
    """The child's wait status, killing its process group once `timeout` has passed."""
    fd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    timed_out = not ready
    if timed_out:
        _kill_group(pid)
    _, status = os.waitpid(pid, 0)
    if not timed_out:
        _kill_group(pid)  # builds it left behind
    return status, timed_out


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def in_fork(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    outdir: Path,
    timeout: float = 0,
    entry: Callable[[], object] | None = None,
) -> Result:
    """`shipway ARGV` in a forked child (`entry` instead of the CLI: the harness's own tests)."""
    timeout = timeout or (RUN_TIMEOUT if argv[0] == "run" else TIMEOUT)
    out, err = outdir / "stdout", outdir / "stderr"
    sys.stdout.flush()
    sys.stderr.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(argv, cwd, env, out, err, entry)
    status, timed_out = _wait(pid, timeout)
    return _result(argv, status, timed_out, out, err, time.monotonic() - start)


def in_subprocess(
    argv: list[str], cwd: Path, env: dict[str, str], outdir: Path, timeout: float = 0
) -> Result:
    timeout = timeout or (RUN_TIMEOUT if argv[0] == "run" else TIMEOUT)
    out, err = outdir / "stdout", outdir / "stderr"
    start = time.monotonic()
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(
            [SHIPWAY, *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=fo,
            stderr=fe,
            preexec_fn=_limit_memory,
            start_new_session=True,
        )
        status, timed_out = _wait(proc.pid, timeout)
        proc.returncode = 0  # reaped above
    return _result(argv, status, timed_out, out, err, time.monotonic() - start)


def _result(
    argv: list[str], status: int, timed_out: bool, out: Path, err: Path, seconds: float
) -> Result:
    stdout, t1 = _read(out)
    stderr, t2 = _read(err)
    code = os.waitstatus_to_exitcode(status)
    return Result(
        tuple(argv),
        code if code >= 0 else None,
        -code if code < 0 else None,
        timed_out,
        stdout,
        stderr,
        seconds,
        t1 or t2,
    )
