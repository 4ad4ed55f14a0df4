"""Where builds cannot be sandboxed (no bubblewrap, or a machine that forbids namespaces),
they run as before and the build log says, once, that they are not isolated and why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shipway.model import JobState
from tests.functional.buildkit import build, buildspec, output


def _path_with(tmp_path: Path, fake_bwrap: str | None) -> str:
    """A PATH holding a shell and, when given, a fake `bwrap` script (no real one)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "env", "cat", "pwd"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    if fake_bwrap is not None:
        script = bin_dir / "bwrap"
        script.write_text(f"#!/bin/sh\n{fake_bwrap}\n")
        script.chmod(0o755)
    return str(bin_dir)


def test_without_bubblewrap_the_log_says_builds_are_not_isolated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _path_with(tmp_path, None))
    result, log = build(tmp_path, buildspec("echo built", artifacts=None))
    assert result.state is JobState.SUCCEEDED, log
    assert output(log) == ["built"]
    assert log.count("builds are not isolated") == 1
    assert "bubblewrap (`bwrap`) is not installed" in log
    assert "bubblewrap" in log and "build.sandbox: off" in log  # what to do about it


def test_bubblewrap_that_cannot_run_here_falls_back_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = 'echo "bwrap: No permissions to create new namespace" >&2; exit 1'
    monkeypatch.setenv("PATH", _path_with(tmp_path, fake))
    result, log = build(tmp_path, buildspec("echo built", artifacts=None))
    assert result.state is JobState.SUCCEEDED, log
    assert output(log) == ["built"]
    assert "builds are not isolated: bubblewrap cannot run here" in log
    assert "No permissions to create new namespace" in log
