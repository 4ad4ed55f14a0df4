"""Run one service's build with AWS CodeBuild's buildspec semantics, on this machine.

Version 0.2: each command runs as its own `sh -c` (or bash) script; an EXIT trap dumps the
environment (`env -0`) and working directory into temp files that seed the next command, so
`cd`, `VAR=value` and `export` carry across commands and phases, while functions and `set`
options do not. Version 0.1: every command starts fresh in the service folder with the
original environment. One process spawn per command; no Python in between.

Phase flow: the first failing command stops its phase's commands, `finally` still runs;
an install / pre_build failure skips the later phases; a build failure still runs post_build
with CODEBUILD_BUILD_SUCCEEDING=0; artifacts are made only when every phase succeeded.
`on-failure: CONTINUE` goes on to the next phase but the build still ends FAILED;
`RETRY[-n][-regex]` runs the phase again up to n (default 3) more times while its output
matches regex (default: anything). The timeout kills every process group the build started.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from shipway.build.artifacts import write_zip
from shipway.build.logs import BuildLog
from shipway.build.patterns import apply_ordered, compile_glob, filter_paths, has_magic
from shipway.model import Artifact, ArtifactSpec, BuildResult, BuildSpec, JobState, Phase

# The Serverless Framework v3 defaults (lib/plugins/package/lib/package-service.js), plus the
# config file names and `.env*` (the Framework adds those for the file it read / useDotenv).
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git/**",
    ".gitignore",
    ".DS_Store",
    "npm-debug.log",
    "yarn-*.log",
    ".serverless/**",
    ".serverless_plugins/**",
    "serverless.yml",
    "serverless.yaml",
    ".env*",
)

_DROP_VARS = frozenset({"_", "SHLVL"})
_INTERNAL = "__shipway_"
_VAR_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_RETRY = re.compile(r"\ARETRY(?:-(?P<count>\d+))?(?:-(?P<regex>.+))?\Z")
_IDLE_S = 0.2  # after a command exits, wait this long for output still in the pipe


@dataclass(frozen=True)
class BuildRequest:
    service: str
    service_dir: Path  # the service's folder inside the exported workspace
    workspace: Path  # root of the exported commit (CODEBUILD_SRC_DIR)
    buildspec: BuildSpec | None  # None: the default build
    env: Mapping[str, str]  # layered .env values + run overrides; override env.variables
    build_vars: Mapping[str, str]  # CODEBUILD_*, SHIPWAY_ENV, AWS_REGION …; override all
    package_patterns: tuple[str, ...]  # serverless.yml package.patterns
    exclude_files: tuple[str, ...]  # e.g. the serverless.yml itself, .env files
    out_zip: Path
    log_path: Path
    timeout_s: float
    secrets: frozenset[str] = field(default_factory=frozenset)  # values masked as ***


class _TimedOut(Exception):
    pass


class _Failed(Exception):
    """The build cannot go on (setup or artifact problem); the message is the error."""


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """`$NAME` / `${NAME}` from env (missing: empty), as CodeBuild does in artifact paths."""
    return _VAR_REF.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)


def list_files(root: Path) -> list[str]:
    """Every file below root (following symlinks, no loops), as sorted posix paths."""
    out: list[str] = []
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        rel = os.path.relpath(dirpath, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):  # skips broken symlinks, sockets …
                out.append(prefix + name)
    out.sort()
    return out


def package_files(
    service_dir: Path, patterns: tuple[str, ...], exclude_files: tuple[str, ...] = ()
) -> list[str]:
    """The service files the Serverless Framework would package, by `package.patterns`."""
    excludes = [*DEFAULT_EXCLUDES, *exclude_files]
    ordered = [p[1:] if p.startswith("!") else "!" + p for p in excludes] + list(patterns)
    return apply_ordered(list_files(service_dir), ordered)


def _requirements_empty(path: Path) -> bool:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = line.split("#", 1)[0].strip() if not line.lstrip().startswith("-") else line
        if text.strip():
            return False
    return True


def _short(command: str, limit: int = 120) -> str:
    lines = [ln for ln in command.strip().splitlines() if ln.strip()]
    text = lines[0].strip() if lines else ""
    if len(lines) > 1 or len(text) > limit:
        text = text[:limit].rstrip() + " …"
    return text


class _Build:
    def __init__(self, req: BuildRequest, log: BuildLog, tmp: Path, deadline: float) -> None:
        self.req = req
        self.log = log
        self.tmp = tmp
        self.deadline = deadline
        self.groups: list[int] = []
        self.capture: list[str] | None = None
        self.counter = 0
        self.current = "BUILD"

    # -- processes ---------------------------------------------------------------------------

    def _pump(self, stream: IO[bytes], activity: list[float]) -> None:
        for raw in iter(stream.readline, b""):
            activity[0] = time.monotonic()
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.log.output(text)
            if self.capture is not None:
                self.capture.append(text)
        stream.close()

    def _kill(self, pgid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def kill_all(self) -> None:
        """End every process group the build started (what a CodeBuild container teardown does)."""
        for pgid in self.groups:
            self._kill(pgid, signal.SIGKILL)
        self.groups.clear()

    def spawn(self, argv: list[str], cwd: Path, env: Mapping[str, str]) -> int:
        """Run argv in its own process group, streaming output to the log. Returns the status."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _TimedOut
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self.log.output(f"cannot start {argv[0]} in {cwd}: {exc.strerror or exc}")
            return 127
        self.groups.append(proc.pid)
        assert proc.stdout is not None
        activity = [time.monotonic()]
        reader = threading.Thread(target=self._pump, args=(proc.stdout, activity), daemon=True)
        reader.start()
        try:
            rc = proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            self._kill(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1.0)
            self._kill(proc.pid, signal.SIGKILL)
            proc.wait()
            reader.join(timeout=1.0)
            raise _TimedOut from None
        # drain what is still in the pipe; a background child may keep it open for ever
        while reader.is_alive():
            reader.join(timeout=0.05)
            if time.monotonic() - activity[0] > _IDLE_S:
                break
        return rc


class _Session:
    """The shell session of one buildspec build: environment and working directory."""

    def __init__(self, build: _Build, spec: BuildSpec, env: dict[str, str]) -> None:
        self.b = build
        self.spec = spec
        self.initial = dict(env)
        self.env = dict(env)
        self.cwd = build.req.service_dir
        shell = "bash" if spec.shell == "bash" else "sh"
        found = shutil.which(shell) or (f"/bin/{shell}" if Path(f"/bin/{shell}").exists() else None)
        if found is None:
            raise _Failed(f"env.shell: `{shell}` is not installed on this machine")
        self.shell = found
        self.succeeding = True

    def run(self, command: str) -> int:
        self.b.log.agent(f"Running command {command}")
        if self.spec.version == "0.1":
            env = dict(self.initial)
            env["CODEBUILD_BUILD_SUCCEEDING"] = "1" if self.succeeding else "0"
            return self.b.spawn([self.shell, "-c", command], self.b.req.service_dir, env)
        self.b.counter += 1
        env_file = self.b.tmp / f"env.{self.b.counter}"
        cwd_file = self.b.tmp / f"cwd.{self.b.counter}"
        trailer = (
            f"{_INTERNAL}rc=$?; env -0 > {shlex.quote(str(env_file))}; "
            f"pwd > {shlex.quote(str(cwd_file))}; exit ${_INTERNAL}rc"
        )
        script = f"trap {shlex.quote(trailer)} EXIT\nset -a\n{command}\n"
        env = dict(self.env)
        env["CODEBUILD_BUILD_SUCCEEDING"] = "1" if self.succeeding else "0"
        env["PWD"] = str(self.cwd)
        rc = self.b.spawn([self.shell, "-c", script], self.cwd, env)
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
        if path and Path(path).is_dir():
            self.cwd = Path(path)
        if new:
            self.env = new


def _phase_marker(name: str) -> str:
    return name.upper()


def _run_phase(s: _Session, phase: Phase) -> str | None:
    """Run one phase (with retries). Returns the first failure's message, or None."""
    policy = (phase.on_failure or "ABORT").upper()
    retry = _RETRY.match(policy)
    attempts = 1 + (int(retry.group("count") or 3) if retry else 0)
    regex = re.compile(retry.group("regex") or ".*") if retry else None
    error: str | None = None
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            s.b.log.agent(f"Retrying phase {_phase_marker(phase.name)} (attempt {attempt})")
        s.b.capture = [] if regex is not None else None
        error = _run_phase_once(s, phase)
        output = "\n".join(s.b.capture or [])
        s.b.capture = None
        if error is None or regex is None or not regex.search(output):
            break
    return error


def _run_phase_once(s: _Session, phase: Phase) -> str | None:
    marker = _phase_marker(phase.name)
    error: str | None = None
    for command in phase.commands:
        rc = s.run(command)
        if rc != 0:
            error = f"phase {marker}: command `{_short(command)}` exited {rc}"
            s.b.log.agent(f"Command did not exit successfully {command} exit status {rc}")
            break
    for command in phase.finally_commands:
        rc = s.run(command)
        if rc != 0:
            s.b.log.agent(f"Command did not exit successfully {command} exit status {rc}")
            if error is None:
                error = f"phase {marker}: finally command `{_short(command)}` exited {rc}"
            break
    return error


class _Outcome:
    def __init__(self) -> None:
        self.error: str | None = None
        self.failed = False
        self.exported: dict[str, str] = {}


def _run_spec(b: _Build, spec: BuildSpec, env: dict[str, str], out: _Outcome) -> dict[str, str]:
    s = _Session(b, spec, env)
    if spec.run_as or any(p.run_as for p in spec.phases):
        b.log.agent("run-as is ignored locally: commands run as the Shipway user")
    by_name = {p.name: p for p in spec.phases}
    skip_rest = False
    for name in ("install", "pre_build", "build", "post_build"):
        phase = by_name.get(name)
        if phase is None:
            continue
        marker = _phase_marker(name)
        if skip_rest:
            b.log.agent(f"Phase {marker} skipped: an earlier phase failed")
            continue
        b.current = marker
        b.log.agent(f"Entering phase {marker}")
        error = _run_phase(s, phase)
        state = "SUCCEEDED" if error is None else "FAILED"
        b.log.agent(f"Phase complete: {marker} State: {state}")
        if error is None:
            b.log.agent("Phase context status code:  Message: ")
            continue
        b.log.agent(f"Phase context status code: COMMAND_EXECUTION_ERROR Message: {error}")
        out.failed = True
        s.succeeding = False
        out.error = out.error or error
        policy = (phase.on_failure or "ABORT").upper()
        if policy == "CONTINUE":
            continue
        if name in ("install", "pre_build"):
            skip_rest = True
        # a BUILD failure still runs post_build (CodeBuild); a post_build failure ends it
    final = s.env if spec.version == "0.2" else s.initial
    for key in spec.exported_variables:
        if key in final:
            out.exported[key] = final[key]
    return final


def _base_env(req: BuildRequest, spec: BuildSpec | None) -> tuple[dict[str, str], set[str]]:
    env = dict(os.environ)
    env["CODEBUILD_SRC_DIR"] = str(req.workspace)
    env["CODEBUILD_BUILD_SUCCEEDING"] = "1"
    secrets = set(req.secrets)
    if spec is not None:
        env.update(spec.variables)
    env.update(req.env)
    env.update(req.build_vars)
    if spec is not None:
        missing = [k for k in (*spec.parameter_store, *spec.secrets_manager) if k not in env]
        if missing:
            raise _Failed(
                "env.parameter-store / env.secrets-manager: no local value for "
                + ", ".join(f"`{k}`" for k in missing)
                + " (set them in the environment's .env files)"
            )
        for k in (*spec.parameter_store, *spec.secrets_manager):
            secrets.add(env[k])
    env.pop("PWD", None)
    env.pop("OLDPWD", None)
    return env, secrets


def _spec_artifact_files(
    req: BuildRequest, spec: ArtifactSpec, env: Mapping[str, str]
) -> dict[str, Path]:
    base = req.service_dir
    if spec.base_directory:
        text = expand_vars(spec.base_directory, env).replace("\\", "/").rstrip("/") or "."
        if has_magic(text) and not os.path.isabs(text):
            dirs = [
                d for d in _list_dirs(req.service_dir) if compile_glob(text).match(d) is not None
            ]
            if len(dirs) != 1:
                found = ", ".join(dirs[:5]) or "none"
                raise _Failed(
                    f"artifacts.base-directory `{spec.base_directory}` must match exactly one "
                    f"folder; matched {len(dirs)} ({found})"
                )
            text = dirs[0]
        base = (req.service_dir / text).resolve()
        if not base.is_dir():
            raise _Failed(f"artifacts.base-directory `{spec.base_directory}` is not a folder")
    files = list_files(base)
    patterns = [expand_vars(p, env) for p in spec.files]
    chosen = filter_paths(patterns, files)
    if spec.exclude_paths:
        drop = set(filter_paths([expand_vars(p, env) for p in spec.exclude_paths], chosen))
        chosen = [f for f in chosen if f not in drop]
    if not chosen:
        raise _Failed(
            "artifacts: no matching artifact paths found for "
            + ", ".join(f"`{p}`" for p in spec.files)
            + (f" in `{spec.base_directory}`" if spec.base_directory else "")
        )
    out: dict[str, Path] = {}
    for rel in chosen:
        name = rel.rsplit("/", 1)[-1] if spec.discard_paths else rel
        if name in out:
            raise _Failed(
                f"artifacts: discard-paths puts two files at `{name}` ({rel} and another)"
            )
        out[name] = base / rel
    return out


def _list_dirs(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, _ in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            out.append(rel.replace(os.sep, "/"))
        dirnames.sort()
    return sorted(out)


def _default_build(b: _Build, env: Mapping[str, str], out: _Outcome) -> dict[str, Path]:
    req = b.req
    b.log.agent("Entering phase BUILD")
    files: dict[str, Path] = {}
    requirements = req.service_dir / "requirements.txt"
    if requirements.is_file() and not _requirements_empty(requirements):
        staging = b.tmp / "staging"
        staging.mkdir()
        argv = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-r",
            "requirements.txt",
            "--target",
            str(staging),
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
        ]
        b.log.agent("Running command pip install -r requirements.txt --target <package>")
        rc = b.spawn(argv, req.service_dir, env)
        if rc != 0:
            out.failed = True
            out.error = f"phase BUILD: command `pip install -r requirements.txt` exited {rc}"
            b.log.agent("Phase complete: BUILD State: FAILED")
            return files
        for rel in list_files(staging):
            files[rel] = staging / rel
    for rel in package_files(req.service_dir, req.package_patterns, req.exclude_files):
        files[rel] = req.service_dir / rel
    b.log.agent("Phase complete: BUILD State: SUCCEEDED")
    return files


def run_build(req: BuildRequest) -> BuildResult:
    """Build one service; never raises for the user's failures (they are in the result)."""
    started = time.monotonic()
    deadline = started + req.timeout_s
    spec = req.buildspec
    out = _Outcome()
    state = JobState.SUCCEEDED
    artifact: Artifact | None = None
    setup_error: str | None = None
    try:
        env, secrets = _base_env(req, spec)
    except _Failed as exc:
        env, secrets, setup_error = {}, set(req.secrets), str(exc)
    with (
        BuildLog(req.log_path, secrets) as log,
        tempfile.TemporaryDirectory(prefix="shipway-build-") as tmp,
    ):
        b = _Build(req, log, Path(tmp), deadline)
        log.agent(f"Build of service {req.service} started in {req.service_dir}")
        try:
            if setup_error is not None:
                raise _Failed(setup_error)
            if spec is None:
                files = _default_build(b, env, out)
            else:
                final_env = _run_spec(b, spec, env, out)
                files = {}
                if not out.failed:
                    b.current = "UPLOAD_ARTIFACTS"
                    log.agent("Entering phase UPLOAD_ARTIFACTS")
                    if spec.artifacts is not None:
                        files = _spec_artifact_files(req, spec.artifacts, final_env)
                    else:
                        files = {
                            rel: req.service_dir / rel
                            for rel in package_files(
                                req.service_dir, req.package_patterns, req.exclude_files
                            )
                        }
            if not out.failed:
                if not files:
                    raise _Failed("the package is empty: no file matches package.patterns")
                artifact = write_zip(req.service, files, req.out_zip)
                log.agent(
                    f"Artifact {req.out_zip.name}: {len(files)} files, {artifact.size} bytes, "
                    f"sha256 {artifact.sha256}"
                )
            if out.failed:
                state = JobState.FAILED
        except _TimedOut:
            state = JobState.TIMED_OUT
            out.error = f"phase {b.current}: timed out after {req.timeout_s:g}s"
            log.agent(f"Build timed out after {req.timeout_s:g}s in phase {b.current}")
        except _Failed as exc:
            state = JobState.FAILED
            out.error = str(exc)
            log.agent(f"Phase context status code: CLIENT_ERROR Message: {exc}")
        finally:
            b.kill_all()
        if out.error:
            out.error = log.mask(out.error)
        log.agent(f"Build {state.value.upper()}")
    return BuildResult(
        service=req.service,
        state=state,
        seconds=time.monotonic() - started,
        artifact=artifact,
        error=out.error,
        exported=out.exported,
    )
