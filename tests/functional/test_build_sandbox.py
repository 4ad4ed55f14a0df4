"""Builds in the bubblewrap sandbox, with real containers: what a build can see, write and
reach, and that nothing it starts outlives it."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipway.build.sandbox import unavailable
from shipway.build.shell import cancel_running_builds
from shipway.model import JobState
from tests.functional.buildkit import build, buildspec, output, running

pytestmark = pytest.mark.skipif(
    unavailable() is not None, reason=f"builds cannot be sandboxed here: {unavailable()}"
)

PYTHON = os.path.realpath(sys.executable)


def _gone(command_line: str, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while running(command_line):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_hidden_folders_and_files_are_invisible(tmp_path: Path) -> None:
    # a folder and a file outside /tmp (the sandbox's /tmp is its own anyway)
    folder, file = Path("/usr/share"), Path("/etc/hostname")
    assert any(folder.iterdir()) and file.read_bytes()
    result, log = build(
        tmp_path,
        buildspec(
            f"echo entries=$(ls -A {folder} | wc -l)",
            f"echo bytes=$(wc -c < {file})",
            artifacts=None,
        ),
        hidden=(folder, file),
    )
    assert result.state is JobState.SUCCEEDED, log
    assert output(log) == ["entries=0", "bytes=0"]


def test_build_sees_its_workspace_not_the_rest_of_tmp(tmp_path: Path) -> None:
    beside = tmp_path / "beside.txt"  # next to the workspace, as the state directory is
    beside.write_text("not for builds\n")
    result, log = build(
        tmp_path,
        buildspec(
            f"cat {beside} || echo unreadable",
            'cat "$CODEBUILD_SRC_DIR/services/svc/handler.py" >/dev/null && echo workspace ok',
            artifacts=None,
        ),
    )
    assert result.state is JobState.SUCCEEDED, log
    assert "not for builds" not in log
    assert output(log)[-2:] == ["unreadable", "workspace ok"]


def test_writes_outside_the_workspace_fail_and_leave_nothing(tmp_path: Path) -> None:
    name = f"shipway-escape-{uuid.uuid4().hex[:8]}"
    refused = [Path("/etc") / name, Path.home() / name]
    beside = tmp_path / name  # in /tmp: the build's own /tmp takes it, this machine's does not
    commands = [f"touch {t} || echo refused {t.parent}" for t in refused]
    commands.append(f"mkdir -p {tmp_path} && touch {beside}")
    commands.append("touch inside.txt && echo workspace writable")
    commands.append('touch "$HOME/own" "$TMPDIR/own" && echo home and tmp writable')
    result, log = build(tmp_path, buildspec(*commands, artifacts=None))
    assert result.state is JobState.SUCCEEDED, log
    for t in refused:
        assert f"refused {t.parent}" in output(log)
    for t in [*refused, beside]:
        assert not t.exists()
    assert "workspace writable" in output(log)
    assert "home and tmp writable" in output(log)
    assert (tmp_path / "ws" / "services" / "svc" / "inside.txt").is_file()


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP socket listening on 127.0.0.1; yields its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def _connect(port: int) -> str:
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)"
    return f'{PYTHON} -c "{code}" && echo connected || echo no network'


def test_network_off_cannot_connect(tmp_path: Path, listener: int) -> None:
    result, log = build(tmp_path, buildspec(_connect(listener), artifacts=None), network=False)
    assert result.state is JobState.SUCCEEDED, log
    assert output(log)[-1] == "no network"


def test_network_on_connects(tmp_path: Path, listener: int) -> None:
    result, log = build(tmp_path, buildspec(_connect(listener), artifacts=None))
    assert result.state is JobState.SUCCEEDED, log
    assert output(log)[-1] == "connected"


def test_background_process_lives_on_through_later_commands(tmp_path: Path) -> None:
    """One container per build: `server &` in INSTALL still runs in BUILD (as in
    CodeBuild), and is gone when the build ends."""
    spec = """
        version: 0.2
        phases:
          install:
            commands:
              - sleep 30.0511 & echo $! > "$HOME/bg.pid"
          build:
            commands:
              - kill -0 "$(cat "$HOME/bg.pid")" && echo still running
        """
    result, log = build(tmp_path, spec)
    assert result.state is JobState.SUCCEEDED, log
    assert "still running" in output(log)
    assert _gone("sleep 30.0511")


def test_cancel_kills_what_the_build_backgrounded(tmp_path: Path) -> None:
    done: list[JobState] = []
    log_path = tmp_path / "build.log"

    def run() -> None:
        result, _ = build(tmp_path, buildspec("sleep 30.0521 &", "sleep 30.0522", artifacts=None))
        done.append(result.state)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while "Running command sleep 30.0522" not in (
        log_path.read_text() if log_path.exists() else ""
    ):
        assert time.monotonic() < deadline, "the build never started its second command"
        time.sleep(0.05)
    assert running("sleep 30.052")
    cancel_running_builds()
    worker.join(timeout=20)
    assert done == [JobState.FAILED]
    assert _gone("sleep 30.052")


def test_env_dump_and_temp_files_stay_in_the_scratch_folder(tmp_path: Path) -> None:
    scratch = tmp_path / "run" / "scratch" / "svc"
    before = {p.name for p in Path("/tmp").iterdir() if p.name.startswith("shipway-build-")}
    result, log = build(
        tmp_path,
        buildspec(
            'echo "home=$HOME"', "export SECRET_ONE=x", "echo tmp > $TMPDIR/t", artifacts=None
        ),
        scratch_dir=scratch,
    )
    assert result.state is JobState.SUCCEEDED, log
    assert f"home={scratch / 'home'}" in output(log)
    after = {p.name for p in Path("/tmp").iterdir() if p.name.startswith("shipway-build-")}
    assert after == before  # nothing in the system temp folder
    assert not scratch.exists()  # and the scratch folder is gone with the build


def test_sandbox_off_says_builds_are_not_isolated(tmp_path: Path) -> None:
    result, log = build(tmp_path, buildspec("echo hi", artifacts=None), sandbox=False)
    assert result.state is JobState.SUCCEEDED, log
    assert "builds are not isolated: build.sandbox is off" in log
    assert "Build sandbox: bubblewrap" not in log


def test_default_build_runs_pip_in_the_sandbox(tmp_path: Path) -> None:
    """No buildspec: the package is the service folder; the log says it was sandboxed."""
    result, log = build(tmp_path, None)
    assert result.state is JobState.SUCCEEDED, log
    assert "Build sandbox: bubblewrap" in log


def test_cd_into_the_containers_own_tmp_carries_to_the_next_command(tmp_path: Path) -> None:
    name = f"work-{uuid.uuid4().hex[:8]}"
    result, log = build(
        tmp_path,
        buildspec(f"mkdir -p /tmp/{name} && cd /tmp/{name}", "pwd", artifacts=None),
    )
    assert result.state is JobState.SUCCEEDED, log
    assert output(log) == [f"/tmp/{name}"]
    assert not Path("/tmp", name).exists()  # the container's /tmp, not this machine's


def test_a_python_installed_under_tmp_stays_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a CI checkout's virtualenv lives under /tmp, which the container replaces with the
    # build's own folder: the interpreter and pip of the default build must still be seen
    prefix = Path(tempfile.mkdtemp(prefix="venv-", dir="/tmp"))
    (prefix / "marker").write_text("here\n")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    try:
        result, log = build(tmp_path, buildspec(f"cat {prefix}/marker", artifacts=None))
    finally:
        shutil.rmtree(prefix)
    assert result.state is JobState.SUCCEEDED, log
    assert "here" in log


def test_commands_inherit_no_descriptor_of_the_command_server(tmp_path: Path) -> None:
    # the server's socket in a build would let it start commands the log never shows; the
    # shell lists its own descriptors (a glob, no child process), as it does unsandboxed
    listing = 'for f in /proc/$$/fd/*; do printf "%s " "${f##*/}"; done; echo'
    result, log = build(tmp_path, buildspec(listing, artifacts=None))
    assert result.state is JobState.SUCCEEDED, log
    unboxed, unboxed_log = build(tmp_path / "u", buildspec(listing, artifacts=None), sandbox=False)
    assert unboxed.state is JobState.SUCCEEDED, unboxed_log
    assert output(log) == output(unboxed_log)
    assert output(log)[0].split()[:3] == ["0", "1", "2"]


def test_a_command_that_cannot_start_says_why_and_exits_127(tmp_path: Path) -> None:
    from shipway.build.sandbox import Layout, Sandbox, bwrap_path

    (tmp_path / "tmp").mkdir()
    (tmp_path / "empty").touch()
    bwrap = bwrap_path()
    assert bwrap is not None
    box = Sandbox(
        bwrap, Layout(writable=(tmp_path,), tmp=tmp_path / "tmp", empty=tmp_path / "empty")
    )
    try:
        codes, said = [], []
        for argv in (["no-such-command-here"], ["true"], ["sh", "-c", "echo out; exit 3"]):
            read_end, write_end = os.pipe()
            box.start(argv, tmp_path, {"PATH": "/usr/bin:/bin"}, write_end)
            os.close(write_end)
            codes.append(box.wait(10))
            with os.fdopen(read_end, "rb") as stream:
                said.append(stream.read().decode())
    finally:
        box.close()
    assert codes == [127, 0, 3]
    assert said[0].startswith(f"cannot start no-such-command-here in {tmp_path}: ")
    assert said[1:] == ["", "out\n"]


def test_mount_points_in_the_builds_own_tmp_are_private(tmp_path: Path) -> None:
    # the workspace lies under /tmp (as tmp_path does): bubblewrap needs its mount point in
    # the build's own /tmp folder, which is in the state directory; found by the fuzzer
    # (state-mode: a 0755 folder there)
    modes: dict[str, int] = {}

    def remove(scratch: Path) -> None:
        for folder in [scratch, *(p for p in scratch.rglob("*") if p.is_dir())]:
            modes[str(folder.relative_to(scratch))] = folder.stat().st_mode & 0o777
        shutil.rmtree(scratch)

    result, log = build(
        tmp_path,
        buildspec("echo ok", artifacts=None),
        scratch_dir=tmp_path / "run" / "scratch" / "svc",
        remove_scratch=remove,
    )
    assert result.state is JobState.SUCCEEDED, log
    workspace = tmp_path / "ws"
    mount_point = str(Path("tmp") / workspace.relative_to("/tmp"))
    assert mount_point in modes, sorted(modes)
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert loose == {}
