"""Run one service's build with AWS CodeBuild's buildspec semantics, on this machine.

The modules of `shipway.build`, one job each:
  request.py   BuildRequest (what the pipeline asks)
  secrets.py   the starting environment (variable precedence) and the values to mask
  shell.py     processes and the command session (env / cwd carried between commands)
  sandbox.py   the bubblewrap container a build's commands run in, and its command server
  confine.py   what a build may reach: symlinks, artifact paths, other environments' files
  phases.py    the phase state machine: on-failure, RETRY, finally, exported-variables
  package.py   artifact selection (primary, secondary, package.patterns), default build
  cache.py     cache.paths: restore before INSTALL, save after success
  notices.py   runtime-versions report, keys ignored locally
  runner.py    this file: the order of it all

Order: environment → log "Build … started" → ignored keys → cache restore → runtime report
→ INSTALL, PRE_BUILD, BUILD, POST_BUILD → UPLOAD_ARTIFACTS (attempted after a BUILD or
POST_BUILD failure too, as CodeBuild does; then the zips are written for inspection but the
result stays FAILED and carries no artifact) → cache save (successful builds only).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from shipway.build.cache import CacheEntry, plan_cache, restore_cache, save_cache
from shipway.build.errors import BuildCancelled, BuildFailed, BuildTimedOut
from shipway.build.esbuild import find_esbuild, tool_root
from shipway.build.layers import layer_excludes, zip_layers
from shipway.build.logs import BuildLog
from shipway.build.node import is_node_service, node_default_build
from shipway.build.notices import ignored_locally, report_runtimes
from shipway.build.package import (
    DEFAULT_EXCLUDES,
    default_build,
    expand_vars,
    list_files,
    package_files,
    spec_outputs,
    write_outputs,
    zip_files,
)
from shipway.build.phases import exported_variables, run_phases
from shipway.build.request import BuildRequest
from shipway.build.sandbox import INSTALL_HINT, Layout, Sandbox, bwrap_path, unavailable
from shipway.build.secrets import SecretRef, build_environment, secret_names, secret_references
from shipway.build.shell import Processes, Session
from shipway.model import Artifact, BuildResult, BuildSpec, JobState

__all__ = [
    "DEFAULT_EXCLUDES",
    "BuildRequest",
    "SecretRef",
    "expand_vars",
    "list_files",
    "package_files",
    "run_build",
    "secret_references",
]


class _Build:
    """The state of one build while it runs."""

    def __init__(
        self,
        req: BuildRequest,
        log: BuildLog,
        tmp: Path,
        deadline: float,
        sandbox: Callable[[], Sandbox] | None = None,
    ) -> None:
        self.req = req
        self.log = log
        self.tmp = tmp
        self.procs = Processes(log, deadline, req.on_spawn, sandbox)
        self.failed = False
        self.error: str | None = None
        self.exported: dict[str, str] = {}
        self.artifact: Artifact | None = None
        self.secondary: dict[str, Artifact] = {}

    @property
    def package_excludes(self) -> tuple[str, ...]:
        """The service's package leaves out its layers' folders (they are zipped apart)."""
        return (*self.req.exclude_files, *layer_excludes(self.req.layers))

    def layers(self) -> None:
        """Zip the service's layers, now that the build has filled their folders."""
        req = self.req
        if self.artifact is None or self.failed or not req.layers:
            return
        out_dir = req.out_zip.with_name(f"{req.out_zip.stem}.layers")
        zipped = zip_layers(
            req.service, req.service_dir, req.layers, req.exclude_files, out_dir, self.log
        )
        self.artifact = replace(self.artifact, layers=zipped)

    def fail(self, error: str) -> None:
        self.failed = True
        self.error = self.error or error

    # -- no buildspec ----------------------------------------------------------------------

    def default(self, env: dict[str, str]) -> None:
        req = self.req
        if req.definition is not None and req.has_functions and is_node_service(req.definition):
            files, error = node_default_build(
                self.procs,
                req.definition,
                req.service_dir,
                req.package_patterns,
                self.package_excludes,
                env,
                self.tmp,
                req.network,
            )
        else:
            files, error = default_build(
                self.procs,
                req.service_dir,
                req.package_patterns,
                self.package_excludes,
                env,
                self.tmp,
                req.has_functions,
            )
        if error is not None:
            self.fail(error)
            return
        # the service's files, and what pip installed into the build's own folder
        self.artifact = zip_files(req.service, files, req.out_zip, (req.service_dir, self.tmp))
        self._logged(self.artifact, len(files))

    # -- a buildspec -----------------------------------------------------------------------

    def spec(self, spec: BuildSpec, env: dict[str, str]) -> None:
        req, log = self.req, self.log
        ignored = ignored_locally(spec)
        if ignored:
            log.agent("Ignored locally: " + "; ".join(ignored))
        cache = self._cache_plan(spec, env)
        if cache:
            restore_cache(cache, self.cache_dir, log)
        install = next((p for p in spec.phases if p.name == "install"), None)
        if install is not None and install.runtime_versions:
            report_runtimes(install.runtime_versions, env, log)
        session = Session(
            self.procs,
            version=spec.version,
            shell=spec.shell,
            env=env,
            start_dir=req.service_dir,
            tmp=self.tmp,
        )
        outcome = run_phases(session, spec)
        if outcome.failed:
            self.fail(outcome.error or "a phase failed")
        final_env = session.final_env
        self.exported = exported_variables(
            spec.exported_variables, final_env, secret_names(req), log
        )
        if outcome.upload:
            self._upload(spec, final_env)
        if cache and not self.failed:
            try:
                save_cache(cache, self.cache_dir, log)
            except OSError as exc:
                log.agent(f"Warning: saving the cache failed: {exc}")

    @property
    def cache_dir(self) -> Path:
        assert self.req.cache_dir is not None
        return self.req.cache_dir

    def _cache_plan(self, spec: BuildSpec, env: dict[str, str]) -> list[CacheEntry]:
        if self.req.cache_dir is None or not spec.cache_paths:
            return []
        entries, notes = plan_cache(
            spec.cache_paths, self.req.service_dir, self.req.workspace, env.get("HOME"), env
        )
        for note in notes:
            self.log.agent(f"Warning: {note}")
        return entries

    def _upload(self, spec: BuildSpec, env: dict[str, str]) -> None:
        req, log = self.req, self.log
        self.procs.current = "UPLOAD_ARTIFACTS"
        log.agent("Entering phase UPLOAD_ARTIFACTS")
        try:
            outputs = spec_outputs(
                req.service_dir,
                spec,
                env,
                req.package_patterns,
                self.package_excludes,
                req.has_functions,
            )
            primary, secondary = write_outputs(req.service, req.out_zip, outputs, req.service_dir)
        except BuildFailed as exc:
            log.agent("Phase complete: UPLOAD_ARTIFACTS State: FAILED")
            log.agent(f"Phase context status code: CLIENT_ERROR Message: {exc}")
            self.fail(str(exc))
            return
        self._logged(primary, len(outputs.primary))
        for identifier, art in secondary.items():
            self._logged(
                art, len(outputs.secondary[identifier]), f"Secondary artifact {identifier}"
            )
        log.agent("Phase complete: UPLOAD_ARTIFACTS State: SUCCEEDED")
        if self.failed:
            log.agent("The build failed: its artifacts are kept for inspection, not deployed")
            return
        self.artifact, self.secondary = primary, secondary

    def _logged(self, art: Artifact, count: int, what: str = "Artifact") -> None:
        self.log.agent(
            f"{what} {art.path.name}: {count} files, {art.size} bytes, sha256 {art.sha256}"
        )


@contextlib.contextmanager
def _scratch(req: BuildRequest) -> Iterator[Path]:
    """The build's own folder (env dumps, sandbox HOME and /tmp), removed when it ends; a
    run killed before that leaves it under its run folder, where the next command cleans."""
    if req.scratch_dir is None:
        with tempfile.TemporaryDirectory(prefix="shipway-build-") as tmp:
            yield Path(tmp)
        return
    path = req.scratch_dir
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:  # a leftover of a killed run: start clean
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        if req.remove_scratch is not None:
            req.remove_scratch(path)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _isolation(
    req: BuildRequest, log: BuildLog, scratch: Path, env: dict[str, str]
) -> Callable[[], Sandbox] | None:
    """The factory of the build's container, or None (said in the log) when it runs as
    today, unisolated. A sandboxed build gets a HOME and a /tmp of its own."""
    why = "build.sandbox is off" if not req.sandbox else unavailable(req.network)
    if why is not None:
        hint = "" if not req.sandbox else f" ({INSTALL_HINT})"
        log.agent(f"Warning: builds are not isolated: {why}{hint}")
        if not req.network:
            log.agent("Warning: build.network: off is not enforced without the sandbox")
        return None
    bwrap = bwrap_path()
    assert bwrap is not None
    home, tmp = scratch / "home", scratch / "tmp"
    home.mkdir(mode=0o700)  # in the state directory: private, as everything there
    tmp.mkdir(mode=0o700)
    empty = scratch / "empty"
    empty.touch(mode=0o444)
    if "HOME" not in req.env and "HOME" not in req.build_vars:
        env["HOME"] = str(home)
    env["TMPDIR"] = "/tmp"
    layout = Layout(
        writable=(req.workspace, scratch),
        tmp=tmp,
        empty=empty,
        hidden=req.hidden,
        network=req.network,
        readonly=_tools(req),
    )
    log.agent(
        "Build sandbox: bubblewrap; writable: the workspace and the build's own folder; "
        f"network {'on' if req.network else 'off'}"
    )
    return lambda: Sandbox(bwrap, layout)


def _tools(req: BuildRequest) -> tuple[Path, ...]:
    """Installed tools a default build runs from outside the workspace (esbuild), shown
    read-only in the sandbox even when a hidden path or its /tmp covers them."""
    if req.buildspec is not None or not is_node_service(req.definition):
        return ()
    tool = find_esbuild(req.service_dir)
    return (tool_root(tool),) if tool is not None else ()


def _outside_workspace(req: BuildRequest) -> str | None:
    """A service folder that is (or passes through) a symlink leaving the commit."""
    if req.service_dir.resolve().is_relative_to(req.workspace.resolve()):
        return None
    rel = os.path.relpath(req.service_dir, req.workspace)
    return f"the service folder `{rel}` is a symlink that leaves the commit; refused"


def run_build(req: BuildRequest) -> BuildResult:
    """Build one service; never raises for the user's failures (they are in the result)."""
    started = time.monotonic()
    deadline = started + req.timeout_s
    setup_error: str | None = None
    try:
        env, masked = build_environment(req)
    except BuildFailed as exc:
        env, masked = {}, set(req.secrets) | set(req.resolved_secrets.values())
        setup_error = str(exc)
    setup_error = setup_error or _outside_workspace(req)
    state = JobState.SUCCEEDED
    with BuildLog(req.log_path, masked) as log, _scratch(req) as tmp:
        log.agent(f"Build of service {req.service} started in {req.service_dir}")
        b = _Build(req, log, tmp, deadline, _isolation(req, log, tmp, env))
        try:
            if setup_error is not None:
                raise BuildFailed(setup_error)
            if req.buildspec is None:
                b.default(env)
            else:
                b.spec(req.buildspec, env)
            b.layers()
            if b.failed:
                state = JobState.FAILED
        except BuildTimedOut:
            state = JobState.TIMED_OUT
            b.error = f"phase {b.procs.current}: timed out after {req.timeout_s:g}s"
            b.artifact, b.secondary = None, {}
            log.agent(f"Build timed out after {req.timeout_s:g}s in phase {b.procs.current}")
        except BuildCancelled:
            state = JobState.FAILED
            b.error = "cancelled"
            b.artifact, b.secondary = None, {}
            log.agent("Build cancelled: every process it started was stopped")
        except BuildFailed as exc:
            state = JobState.FAILED
            b.error = b.error or str(exc)
            b.artifact, b.secondary = None, {}
            log.agent(f"Phase context status code: CLIENT_ERROR Message: {exc}")
        finally:
            b.procs.close()
        error = log.mask(b.error) if b.error else None
        log.agent(f"Build {state.value.upper()}")
    return BuildResult(
        service=req.service,
        state=state,
        seconds=time.monotonic() - started,
        artifact=b.artifact if state is JobState.SUCCEEDED else None,
        error=error,
        exported=b.exported,
        secondary=b.secondary if state is JobState.SUCCEEDED else {},
    )
