"""Helpers for the run_build tests: build service `svc` from a buildspec with real shells and
real files, and read what came out (the log's command output, the zip's names)."""

from __future__ import annotations

import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

from shipway.build.runner import BuildRequest, run_build
from shipway.config.buildspec import parse_buildspec
from shipway.model import BuildResult, BuildSpec

ALL_FILES = "{files: ['**/*']}"


def buildspec(*commands: str, artifacts: str | None = ALL_FILES, head: str = "") -> str:
    """A version 0.2 buildspec: the top-level YAML lines `head`, a BUILD phase that runs
    `commands`, and `artifacts` (a YAML mapping; None for no artifacts)."""
    lines = ["version: 0.2", *head.splitlines(), "phases:", "  build:", "    commands:"]
    lines += [f"      - {command}" for command in commands]
    if artifacts is not None:
        lines.append(f"artifacts: {artifacts}")
    return "\n".join(lines) + "\n"


def parse_spec(tmp_path: Path, text: str) -> BuildSpec:
    f = tmp_path / "buildspec.yml"
    f.write_text(textwrap.dedent(text))
    return parse_buildspec(f, "services/svc/buildspec.yml")


def build(
    tmp_path: Path,
    spec_text: str | None,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    secrets: frozenset[str] = frozenset(),
    patterns: tuple[str, ...] = (),
    exclude_files: tuple[str, ...] = (),
    files: dict[str, str] | None = None,
    build_vars: dict[str, str] | None = None,
    cache_dir: Path | None = None,
    resolved_secrets: dict[str, str] | None = None,
    sandbox: bool = True,
    network: bool = True,
    hidden: tuple[Path, ...] = (),
    scratch_dir: Path | None = None,
    remove_scratch: Callable[[Path], None] | None = None,
) -> tuple[BuildResult, str]:
    """Build a service `svc` at tmp_path/ws/services/svc; returns the result and the log."""
    workspace = tmp_path / "ws"
    service_dir = workspace / "services" / "svc"
    service_dir.mkdir(parents=True, exist_ok=True)
    for name, content in (files or {"handler.py": "def main(e, c):\n    return 1\n"}).items():
        p = service_dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    spec = parse_spec(tmp_path, spec_text) if spec_text is not None else None
    log = tmp_path / "build.log"
    req = BuildRequest(
        service="svc",
        service_dir=service_dir,
        workspace=workspace,
        buildspec=spec,
        env=env or {},
        build_vars=(
            build_vars
            if build_vars is not None
            else {"CODEBUILD_BUILD_ID": "svc:1", "SHIPWAY_SERVICE": "svc"}
        ),
        package_patterns=patterns,
        exclude_files=exclude_files,
        out_zip=tmp_path / "out" / "svc.zip",
        log_path=log,
        timeout_s=timeout,
        secrets=secrets,
        cache_dir=cache_dir,
        resolved_secrets=resolved_secrets or {},
        sandbox=sandbox,
        network=network,
        hidden=hidden,
        scratch_dir=scratch_dir,
        remove_scratch=remove_scratch,
    )
    result = run_build(req)
    return result, log.read_text()


def output(log: str) -> list[str]:
    """Command output lines (without the timestamp), agent lines left out."""
    return [ln.split(" ", 2)[2] for ln in log.splitlines() if not ln.startswith("[Container]")]


def zip_names(result: BuildResult) -> list[str]:
    assert result.artifact is not None
    with zipfile.ZipFile(result.artifact.path) as zf:
        return zf.namelist()


def running(command_line: str) -> list[int]:
    """Live (not zombie) processes whose command line contains command_line."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError, ValueError):
            continue
        if command_line in cmd and state != "Z":
            pids.append(int(proc.name))
    return pids
