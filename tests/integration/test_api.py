"""The server's JSON API as a script or a remote CLI meets it: real `shipway serve`, real HTTP
on 127.0.0.1, tokens made with `shipway token create`. Every route needs a token, each role
may do what SPEC §4 says and no more, every refusal is audited, errors are JSON with a code,
and no answer carries a secret."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import commit_all, git
from tests.integration.cli import ECHO_BUILD, one_service_files, serving, shipway, shipway_json

CANARY = f"canary-{secrets.token_hex(8)}"

SHIPWAY_YML = """project: slow
environments:
  dev:
    branch: dev
    approval: {before: deploy, approvers: [lead]}
  qa:
    branch: qa
"""
BUILD = ECHO_BUILD.replace("echo building", 'echo "building with $API_TOKEN"')


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    text: str

    @property
    def doc(self) -> Any:
        return json.loads(self.text)


def _headers(items: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in items}


def call(
    url: str,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> Answer:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return Answer(res.status, _headers(res.headers.items()), res.read().decode())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, _headers(exc.headers.items()), exc.read().decode())


def _token(repo: Path, user: str, role: str, *envs: str) -> str:
    scope = [a for e in envs for a in ("--env", e)]
    made = shipway_json("token", "create", "--user", user, "--role", role, *scope, repo=repo)
    return str(made["token"])


def _settled(url: str, token: str, run_id: str, until: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        doc = call(url, "GET", f"/api/runs/{run_id}", token).doc
        if doc["state"] in until:
            return dict(doc)
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)


@dataclass(frozen=True)
class Server:
    repo: Path
    url: str
    tokens: dict[str, str]  # user -> token


@pytest.fixture
def server(make_repo: Callable[..., Path]) -> Iterator[Server]:
    files = one_service_files(BUILD)
    files["shipway.yml"] = SHIPWAY_YML
    files[".env.dev"] = f"API_TOKEN={CANARY}\n"
    files[".gitignore"] = ".shipway/\n"
    repo = make_repo(files)
    git(repo, "branch", "qa", "dev")
    tokens = {
        "viewer": _token(repo, "vera", "viewer"),
        "deployer": _token(repo, "dan", "deployer"),
        "lead": _token(repo, "lead", "approver"),
        "bob": _token(repo, "bob", "approver"),
        "admin": _token(repo, "ada", "admin"),
        "qa-only": _token(repo, "quinn", "deployer", "qa"),
    }
    with serving(repo) as (_, url):
        yield Server(repo, url, tokens)


def test_every_api_route_needs_a_valid_token_and_says_so_in_json(server: Server) -> None:
    for path in ("/api/runs", "/api/status", "/api/audit", "/api/runs/dev-1"):
        missing = call(server.url, "GET", path)
        assert missing.status == 401, (path, missing)
        assert missing.doc["error"]["code"] == "unauthorized"
        assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = call(server.url, "GET", "/api/runs", "shw_000000000000_" + "x" * 43)
    assert wrong.status == 401 and "valid" in wrong.doc["error"]["message"]
    started = call(server.url, "POST", "/api/runs", None, {"env": "qa"})
    assert started.status == 401
    assert call(server.url, "GET", "/api/runs", server.tokens["viewer"]).doc == []  # nothing ran


def test_a_deployer_starts_a_run_only_a_listed_approver_decides_it_and_refusals_are_audited(
    server: Server,
) -> None:
    url, t = server.url, server.tokens
    refused = call(url, "POST", "/api/runs", t["viewer"], {"env": "dev"})
    assert refused.status == 403 and refused.doc["error"]["code"] == "forbidden"
    assert "deployer" in refused.doc["error"]["message"]

    started = call(url, "POST", "/api/runs", t["deployer"], {"env": "dev"})
    assert started.status == 202, started
    run_id = started.doc["id"]
    waiting = _settled(url, t["viewer"], run_id, ("awaiting_approval", "failed"))
    assert waiting["state"] == "awaiting_approval", waiting

    for who in ("deployer", "bob", "viewer"):  # not approvers, or not listed in `approvers`
        denied = call(url, "POST", f"/api/runs/{run_id}/approve", t[who], {"comment": "ok"})
        assert denied.status == 403, (who, denied)
    approved = call(url, "POST", f"/api/runs/{run_id}/approve", t["lead"], {"comment": "ship"})
    assert approved.status == 200, approved
    done = _settled(url, t["viewer"], run_id, ("succeeded", "failed"))
    assert done["state"] == "succeeded" and done["release"] == 1, done
    assert done["approval"]["decision"] == "approved" and done["approval"]["decided_by"] == "lead"

    again = call(url, "POST", f"/api/runs/{run_id}/approve", t["lead"], {})
    assert again.status == 409 and again.doc["error"]["code"] == "conflict"

    logs = call(url, "GET", f"/api/runs/{run_id}/logs", t["viewer"])
    assert logs.status == 200 and logs.headers["content-type"].startswith("text/plain")
    assert "building with" in logs.text and CANARY not in logs.text

    assert call(url, "GET", "/api/audit", t["deployer"]).status == 403
    audit = call(url, "GET", "/api/audit?limit=100", t["admin"]).doc
    seen = {(e["who"], e["action"], e["outcome"]) for e in audit}
    assert ("dan", "run.start", "allowed") in seen
    assert ("vera", "run.start", "refused") in seen
    assert ("bob", "run.approve", "refused") in seen
    assert ("dan", "run.approve", "refused") in seen
    assert ("lead", "run.approve", "allowed") in seen
    assert ("dan", "audit.read", "refused") in seen
    assert all(e["origin"] == "api@127.0.0.1" for e in audit if e["who"] in ("dan", "lead"))

    status = call(url, "GET", "/api/status", t["viewer"]).doc
    assert status["dev"]["release"] == 1 and status["dev"]["services"]["slow"]["url"]
    for answer in (status, audit, done):
        assert CANARY not in json.dumps(answer)


def test_a_scoped_token_acts_and_sees_only_in_its_environments(server: Server) -> None:
    url, t = server.url, server.tokens
    assert call(url, "POST", "/api/runs", t["qa-only"], {"env": "dev"}).status == 403
    qa = call(url, "POST", "/api/runs", t["qa-only"], {"env": "qa"})
    assert qa.status == 202, qa
    dev = call(url, "POST", "/api/runs", t["deployer"], {"env": "dev"}).doc
    _settled(url, t["viewer"], qa.doc["id"], ("succeeded",))
    listed = {r["env"] for r in call(url, "GET", "/api/runs", t["qa-only"]).doc}
    assert listed == {"qa"}
    assert call(url, "GET", f"/api/runs/{dev['id']}", t["qa-only"]).status == 403
    assert set(call(url, "GET", "/api/status", t["qa-only"]).doc) == {"qa"}
    assert call(url, "GET", "/api/runs?env=dev", t["qa-only"]).status == 403
    cancelled = call(url, "POST", f"/api/runs/{dev['id']}/cancel", t["deployer"])
    assert cancelled.status == 200 and cancelled.doc["state"] in ("cancelled", "running"), cancelled


def test_bad_requests_get_a_json_error_naming_what_is_wrong(server: Server) -> None:
    url, t = server.url, server.tokens["deployer"]
    cases: list[tuple[Answer, int, str]] = [
        (call(url, "GET", "/api/runs/dev-99", t), 404, "dev-99"),
        (call(url, "POST", "/api/runs", t, {"env": "nope"}), 404, "nope"),
        (call(url, "POST", "/api/runs", t, {"env": "dev", "colour": 1}), 400, "colour"),
        (call(url, "POST", "/api/runs", t, {}), 400, "env"),
        (call(url, "POST", "/api/runs", t, {"env": 7}), 400, "env"),
        (call(url, "POST", "/api/runs", t, raw=b"{not json"), 400, "not JSON"),
        (call(url, "POST", "/api/runs", t, raw=b"[" * 100_000), 400, "KB"),
        (call(url, "POST", "/api/runs", t, raw=b"[" * 50_000), 400, "JSON"),
        (call(url, "POST", "/api/runs", t, {"env": "dev"}, content_type="text/plain"), 400, "json"),
        (call(url, "GET", "/api/runs?limit=0", t), 400, "limit"),
        (call(url, "GET", "/api/runs?colour=red", t), 400, "colour"),
        (call(url, "DELETE", "/api/runs", t), 405, "GET, POST"),
        (call(url, "GET", "/api/nothing-here", t), 404, "nothing-here"),
        (call(url, "POST", "/api/runs/dev-1/cancel", t, {"why": 1}), 400, "no body"),
    ]
    for answer, status, named in cases:
        assert answer.status == status, (named, answer)
        error = answer.doc["error"]
        assert error["code"] and named.lower() in error["message"].lower(), (named, error)
    assert shipway("runs", repo=server.repo).returncode == 0  # the server's state is whole


def test_an_admin_makes_and_revokes_tokens_through_the_api_and_the_docs_describe_every_route(
    server: Server,
) -> None:
    url, t = server.url, server.tokens
    made = call(url, "POST", "/api/tokens", t["admin"], {"user": "eve", "role": "viewer"})
    assert made.status == 201 and made.doc["token"].startswith("shw_"), made
    assert (
        call(url, "POST", "/api/tokens", t["deployer"], {"user": "x", "role": "admin"}).status
        == 403
    )
    listed = call(url, "GET", "/api/tokens", t["admin"])
    assert made.doc["token"] not in listed.text and "eve" in listed.text
    assert call(url, "GET", "/api/runs", made.doc["token"]).status == 200
    revoked = call(url, "DELETE", f"/api/tokens/{made.doc['id']}", t["admin"])
    assert revoked.status == 200 and revoked.doc["revoked_now"] is True
    assert call(url, "GET", "/api/runs", made.doc["token"]).status == 401

    document = call(url, "GET", "/openapi.json")
    assert document.status == 200
    spec = document.doc
    assert spec["openapi"].startswith("3.1")
    assert "/api/runs/{run}/approve" in spec["paths"] and "post" in spec["paths"]["/api/runs"]
    assert spec["components"]["schemas"]["StartRun"]["required"] == ["env"]
    page = call(url, "GET", "/docs")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    for path in spec["paths"]:
        assert path in page.text
    assert "<script" not in page.text and "https://" not in page.text  # no CDN


def test_a_deployer_rolls_back_through_the_api_and_it_is_audited(server: Server) -> None:
    url, t, repo = server.url, server.tokens, server.repo
    first = call(url, "POST", "/api/runs", t["deployer"], {"env": "qa"}).doc
    _settled(url, t["viewer"], first["id"], ("succeeded",))
    git(repo, "checkout", "-q", "qa")
    (repo / "services/slow/handler.py").write_text("def f(e, c):\n    return 2\n")
    commit_all(repo, "v2")
    second = call(url, "POST", "/api/runs", t["deployer"], {"env": "qa"}).doc
    _settled(url, t["viewer"], second["id"], ("succeeded",))
    assert call(url, "POST", "/api/envs/qa/rollback", t["viewer"], {}).status == 403
    back = call(url, "POST", "/api/envs/qa/rollback", t["deployer"], {"to": 1})
    assert back.status == 200 and back.doc["state"] == "succeeded", back
    assert back.doc["rolled_back_to"] == 1 and back.doc["release"] == 3
    audit = call(url, "GET", "/api/audit", t["admin"]).doc
    assert any(e["action"] == "rollback" and e["who"] == "dan" for e in audit)
    assert any(e["action"] == "rollback" and e["outcome"] == "refused" for e in audit)


def test_runs_the_server_drives_prune_releases_beyond_releases_keep(
    make_repo: Callable[..., Path],
) -> None:
    # found by the crash test's review: only `shipway run` pruned, so a server's
    # environments kept every release on disk
    files = one_service_files(ECHO_BUILD)
    files["shipway.yml"] = "project: slow\nreleases: {keep: 2}\nenvironments:\n  qa: {branch: qa}\n"
    files[".gitignore"] = ".shipway/\n"
    repo = make_repo(files)
    git(repo, "branch", "qa", "dev")
    token = _token(repo, "dan", "deployer")
    with serving(repo) as (_, url):
        for n in range(1, 4):
            git(repo, "checkout", "-q", "qa")
            (repo / "services/slow/handler.py").write_text(f"def f(e, c):\n    return {n}\n")
            commit_all(repo, f"v{n}")
            run = call(url, "POST", "/api/runs", token, {"env": "qa"}).doc
            assert _settled(url, token, run["id"], ("succeeded", "failed"))["release"] == n
    kept = sorted(p.name for p in (repo / ".shipway/envs/qa/releases").iterdir())
    assert kept == ["2", "3"]
