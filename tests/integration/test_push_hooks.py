"""A push becomes a run: the post-receive hook Shipway installs reports each real `git push`
to the server serving that repository, which starts a run for every environment following
a pushed branch. A report without the server's secret is refused; a push never fails
because of Shipway."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from shipway.source.hooks import HOOK_HEADER
from tests.conftest import GIT_ENV, commit_all, git
from tests.integration.cli import ECHO_BUILD, one_service_files, serving, shipway, shipway_json


def _server_repo(make_repo: Callable[..., Path], tmp_path: Path) -> tuple[Path, Path]:
    """(the bare repository people push to, with the hook installed; a clone of it)."""
    source = make_repo(one_service_files(ECHO_BUILD))
    bare = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(bare))
    installed = shipway("hook", "install", "--bare", str(bare))  # as --repo
    assert installed.returncode == 0, installed.stderr
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    return bare, clone


def _push(clone: Path, branch: str, n: int) -> tuple[str, subprocess.CompletedProcess[str]]:
    git(clone, "checkout", "-q", "-B", branch, f"origin/{branch}" if n == 1 else "HEAD")
    (clone / "services/slow/handler.py").write_text(f"def f(e, c):\n    return {n}\n")
    sha = commit_all(clone, f"v{n}")
    pushed = subprocess.run(
        ["git", "-C", str(clone), "push", "origin", f"HEAD:refs/heads/{branch}"],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    return sha, pushed


def _settled(bare: Path, run_id: str, timeout: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        runs = {r["id"]: r for r in shipway_json("runs", repo=bare)}
        if run_id in runs and runs[run_id]["state"] not in ("queued", "running"):
            return runs[run_id]
        assert time.monotonic() < deadline, runs
        time.sleep(0.2)


def test_a_real_push_to_a_followed_branch_starts_a_run_of_the_pushed_commit(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    bare, clone = _server_repo(make_repo, tmp_path)
    with serving(bare):
        sha, pushed = _push(clone, "dev", 1)
        assert pushed.returncode == 0, pushed.stderr
        assert "shipway: run dev-1 queued for dev" in pushed.stderr  # on the pusher's terminal
        run = _settled(bare, "dev-1")
        assert run["state"] == "succeeded" and run["commit"] == sha
        assert run["trigger"] == "push:hook"
        _, other = _push(clone, "feature/x", 2)  # no environment follows it
        assert other.returncode == 0 and "no environment follows" in other.stderr
    assert [r["id"] for r in shipway_json("runs", repo=bare)] == ["dev-1"]


def test_a_push_without_a_server_is_accepted_and_says_nothing_started(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    bare, clone = _server_repo(make_repo, tmp_path)
    sha, pushed = _push(clone, "dev", 1)
    assert pushed.returncode == 0, pushed.stderr
    assert "no server serves this repository" in pushed.stderr
    assert git(bare, "rev-parse", "refs/heads/dev") == sha  # git kept the push


def _post(url: str, body: bytes, headers: dict[str, str], method: str = "POST") -> tuple[int, str]:
    request = urllib.request.Request(f"{url}/hooks/git", data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_report_without_the_secret_or_malformed_is_refused_and_starts_nothing(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    bare, _ = _server_repo(make_repo, tmp_path)
    secret = (bare / ".shipway" / "hook-secret").read_text().strip()
    assert (bare / ".shipway" / "hook-secret").stat().st_mode & 0o077 == 0
    head = git(bare, "rev-parse", "refs/heads/dev")
    line = f"{'0' * 40} {head} refs/heads/dev\n".encode()
    with serving(bare) as (_, url):
        assert _post(url, line, {})[0] == 401
        status, body = _post(url, line, {HOOK_HEADER: secret[:-1] + "x"})
        assert status == 401 and secret not in body
        status, body = _post(url, b"not a ref line\n", {HOOK_HEADER: secret})
        assert status == 400 and "line 1" in json.loads(body)["error"]
        assert _post(url, b"", {HOOK_HEADER: secret}, method="GET")[0] == 405
        assert _post(url, b"x" * (1024 * 1024 + 1), {HOOK_HEADER: secret})[0] == 413
        assert shipway_json("runs", repo=bare) == []
        status, body = _post(url, line, {HOOK_HEADER: secret})  # the hook's own report
        assert status == 202 and [r["env"] for r in json.loads(body)["runs"]] == ["dev"]


def test_another_tools_hook_is_not_replaced_without_force(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_repo(one_service_files(ECHO_BUILD))
    bare = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(bare))
    theirs = bare / "hooks" / "post-receive"
    theirs.write_text("#!/bin/sh\necho theirs\n")
    refused = shipway("hook", "install", repo=bare)
    assert refused.returncode == 2 and "another tool's hook" in refused.stderr
    assert theirs.read_text() == "#!/bin/sh\necho theirs\n"
    assert shipway("hook", "install", "--force", repo=bare).returncode == 0
    assert "shipway" in theirs.read_text() and theirs.stat().st_mode & 0o111


@pytest.fixture(autouse=True)
def _no_inherited_git_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GIT_DIR", raising=False)


def test_a_push_to_a_checkout_starts_a_run_too(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    served = make_repo(one_service_files(ECHO_BUILD), name="served")
    (served / ".gitignore").write_text(".shipway/\n")
    commit_all(served, "ignore state")
    installed = shipway("hook", "install", repo=served)
    assert installed.returncode == 0, installed.stderr
    assert (served / ".git/hooks/post-receive").is_file()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(served), str(clone))
    with serving(served):
        sha, pushed = _push(clone, "dev", 1)  # main is checked out there; dev is not
        assert pushed.returncode == 0, pushed.stderr
        assert "run dev-1 queued for dev" in pushed.stderr
        run = _settled(served, "dev-1")
    assert run["state"] == "succeeded" and run["commit"] == sha


def test_each_push_runs_its_own_commit_even_when_the_next_push_lands_before_its_report(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    # found by bench/server.py: push B landed while push A's hook was still starting, and
    # both runs were of B (the branch's head) — A never ran, B deployed twice
    files = one_service_files(ECHO_BUILD)
    files["shipway.yml"] = (
        "project: slow\nenvironments:\n  dev:\n    branch: dev\n    mode: queued\n"
    )
    source = make_repo(files)
    bare = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(bare))
    assert shipway("hook", "install", repo=bare).returncode == 0
    secret = (bare / ".shipway" / "hook-secret").read_text().strip()
    start = git(bare, "rev-parse", "refs/heads/dev")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", "dev", str(bare), str(clone))
    shas = []
    for n in (1, 2):
        (clone / "services/slow/handler.py").write_text(f"def f(e, c):\n    return {n}\n")
        shas.append(commit_all(clone, f"v{n}"))
    git(clone, "push", "-q", "--no-verify", str(bare), "HEAD:refs/heads/dev")  # both land
    a, b = shas
    with serving(bare) as (_, url):
        for old, new in ((start, a), (a, b)):  # the two hooks' reports, arriving late
            status, _ = _post(url, f"{old} {new} refs/heads/dev\n".encode(), {HOOK_HEADER: secret})
            assert status == 202
        # a report naming a commit the branch does not hold runs the branch's head instead
        stray = commit_all(source, "never pushed")
        git(bare, "fetch", "-q", str(source), f"{stray}:refs/stray")
        status, _ = _post(url, f"{b} {stray} refs/heads/dev\n".encode(), {HOOK_HEADER: secret})
        runs = [_settled(bare, f"dev-{i}") for i in (1, 2, 3)]
    assert [r["commit"] for r in runs] == [a, b, b]
    assert all(r["state"] == "succeeded" for r in runs)


def test_a_hook_installed_with_a_server_url_reports_there(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    bare, clone = _server_repo(make_repo, tmp_path)
    refused = shipway("hook", "install", "--force", "--server", "http://example.com", repo=bare)
    assert refused.returncode == 2 and "https://" in refused.stderr
    with serving(bare) as (_, url):
        assert shipway("hook", "install", "--force", "--server", url, repo=bare).returncode == 0
        sha, pushed = _push(clone, "dev", 1)
        assert "run dev-1 queued for dev" in pushed.stderr, pushed.stderr
        assert _settled(bare, "dev-1")["commit"] == sha
        # the URL written is the one used, whatever server this machine runs
        nowhere = "http://127.0.0.1:9"
        assert shipway("hook", "install", "--force", "--server", nowhere, repo=bare).returncode == 0
        _, pushed = _push(clone, "dev", 2)
        assert pushed.returncode == 0 and f"the server at {nowhere} did not answer" in pushed.stderr
