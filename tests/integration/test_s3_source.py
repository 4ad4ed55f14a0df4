"""CodePipeline's S3 source: an environment following `s3://bucket/key.zip` runs each new
version of the object — real boto3 calls to moto's server, a real `shipway serve`. A zip
that tries to leave its folder starts nothing, and the next good version runs."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from tests.conftest import git
from tests.integration.cli import ECHO_BUILD, looked_at, one_service_files, serving, shipway_json

BUCKET, KEY = "shipway-sources", "ledger/app.zip"


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def _stderr_line(proc: subprocess.Popen[str], wanted: str) -> str:
    """The first line of the server's stderr that holds `wanted` (waiting for it)."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    os.set_blocking(fd, False)
    seen, deadline = "", time.monotonic() + 60
    while True:
        with contextlib.suppress(BlockingIOError):
            seen += os.read(fd, 65536).decode(errors="replace")
        for line in seen.splitlines():
            if wanted in line:
                return line
        assert time.monotonic() < deadline, seen
        time.sleep(0.1)


def _runs_when(repo: Path, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 120
    while True:
        runs: list[dict[str, Any]] = shipway_json("runs", repo=repo)
        if done(runs):
            return runs
        assert time.monotonic() < deadline, runs
        time.sleep(0.2)


def test_each_new_version_of_the_object_runs_and_a_hostile_zip_starts_nothing(
    aws_env: str, make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    files = one_service_files(ECHO_BUILD)
    files["shipway.yml"] = (
        "project: slow\nenvironments:\n  dev:\n    branch: dev\n"
        f"    source: {{s3: 's3://{BUCKET}/{KEY}', poll: 1s}}\n"
    )
    source = make_repo(files)
    server = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(server))
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=_zip(files))  # there before the server

    since = time.time()
    with serving(server) as (proc, _):
        looked_at(server, since, sources=2)  # the first look records the version
        assert shipway_json("runs", repo=server) == []

        v2 = {**files, "services/slow/handler.py": "def f(e, c):\n    return 'v2'\n"}
        v2[".gitignore"] = "*.py\n"  # a zip's .gitignore drops nothing from the snapshot
        version = s3.put_object(Bucket=BUCKET, Key=KEY, Body=_zip(v2))["VersionId"]
        runs = _runs_when(server, lambda r: bool(r) and r[0]["state"] == "succeeded")
        [run] = runs
        assert run["trigger"] == "s3" and run["env"] == "dev", run
        shown = git(server, "show", f"{run['commit']}:services/slow/handler.py")
        assert "v2" in shown
        message = git(server, "log", "-1", "--format=%s", run["commit"])
        assert message == f"s3://{BUCKET}/{KEY} version {version}"
        assert git(server, "rev-parse", "refs/shipway/sources/dev") == run["commit"]
        assert git(server, "for-each-ref", "refs/heads/dev").endswith("refs/heads/dev")

        hostile = _zip({**v2, "../outside.txt": "escaped"})
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=hostile)
        warning = _stderr_line(proc, "cannot start the runs of s3://")  # looked at, refused
        assert "unsafe path" in warning or "`..`" in warning, warning
        assert len(shipway_json("runs", repo=server)) == 1
        assert not (tmp_path / "outside.txt").exists()

        v3 = {**files, "services/slow/handler.py": "def f(e, c):\n    return 'v3'\n"}
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=_zip(v3))
        runs = _runs_when(server, lambda r: len(r) == 2 and r[0]["state"] == "succeeded")
    assert "v3" in git(server, "show", f"{runs[0]['commit']}:services/slow/handler.py")
    assert git(server, "rev-parse", f"{runs[0]['commit']}^") == run["commit"]  # one history
