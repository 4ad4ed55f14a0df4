"""GitHub's push webhook as the server meets it: a signed delivery about the remote an
environment watches starts a run of the commit fetched from that remote; a delivery without
the right signature starts nothing; pings answer; redeliveries and other repositories start
nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import commit_all, git
from tests.integration.cli import ECHO_BUILD, one_service_files, serving, shipway, shipway_json


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    req = urllib.request.Request(url + "/hooks/github", data=body, method="POST")
    for k, v in {"Content-Type": "application/json", **headers}.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_signed_push_event_runs_the_commit_fetched_from_the_watched_remote(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    remote = tmp_path / "github" / "ledger.git"  # stands for the GitHub repository
    files = one_service_files(ECHO_BUILD)
    files["shipway.yml"] = (
        "project: slow\nenvironments:\n  dev:\n    branch: dev\n"
        f"    source: {{git: 'file://{remote}'}}\n"
    )
    source = make_repo(files)
    remote.parent.mkdir()
    git(tmp_path, "clone", "-q", "--bare", str(source), str(remote))
    server_repo = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(server_repo))
    shown = shipway("hook", "github", repo=server_repo)
    assert shown.returncode == 0, shown.stderr
    found = re.search(r"Secret:\s+(\S+)", shown.stdout)
    assert found and "/hooks/github" in shown.stdout
    secret = found.group(1)

    clone = tmp_path / "dev-laptop"
    git(tmp_path, "clone", "-q", "-b", "dev", str(remote), str(clone))
    before = git(clone, "rev-parse", "HEAD")
    (clone / "services/slow/handler.py").write_text("def f(e, c):\n    return 2\n")
    after = commit_all(clone, "v2")
    git(clone, "push", "-q", "origin", "dev")

    def payload(repo_url: str, ref: str = "refs/heads/dev") -> bytes:
        repository = {"clone_url": repo_url, "full_name": "acme/ledger"}
        doc = {"ref": ref, "before": before, "after": after, "repository": repository}
        return json.dumps(doc).encode()

    push = payload(f"file://{remote}")
    with serving(server_repo) as (_, url):
        assert _post(url, push, {"X-GitHub-Event": "push"})[0] == 401
        wrong = _signed(secret + "x", push)
        assert _post(url, push, {"X-GitHub-Event": "push", "X-Hub-Signature-256": wrong})[0] == 401
        assert shipway_json("runs", repo=server_repo) == []  # nothing ran

        ping = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
        headers = {"X-GitHub-Event": "ping", "X-Hub-Signature-256": _signed(secret, ping)}
        assert _post(url, ping, headers) == (200, {"ok": True})

        headers = {
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": _signed(secret, push),
            "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        }
        status, doc = _post(url, push, headers)
        assert status == 202 and [r["env"] for r in doc["runs"]] == ["dev"], doc
        assert _post(url, push, headers)[1]["runs"] == []  # GitHub delivered it again

        for body in (
            payload("https://github.com/acme/other.git"),
            payload(f"file://{remote}", "refs/tags/v2"),
        ):
            signed = {"X-GitHub-Event": "push", "X-Hub-Signature-256": _signed(secret, body)}
            assert _post(url, body, signed)[1]["runs"] == []
        issue = json.dumps({"action": "opened"}).encode()
        signed = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": _signed(secret, issue)}
        assert _post(url, issue, signed)[0] == 202

        run_id = doc["runs"][0]["id"]
        deadline = time.monotonic() + 120
        while True:
            runs = {r["id"]: r for r in shipway_json("runs", repo=server_repo)}
            if runs[run_id]["state"] not in ("queued", "running"):
                break
            assert time.monotonic() < deadline, runs
            time.sleep(0.2)
    assert len(runs) == 1
    assert runs[run_id]["state"] == "succeeded", runs[run_id]
    assert runs[run_id]["commit"] == after and runs[run_id]["trigger"] == "push:github"
    assert git(server_repo, "rev-parse", "refs/heads/dev") == after  # fetched from the remote
