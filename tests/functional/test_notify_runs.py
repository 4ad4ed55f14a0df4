"""`shipway run` posts the run's end to the environment's webhooks: real runs in a
subprocess, a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from tests.conftest import commit_all, git
from tests.functional.notifykit import Receiver, free_port
from tests.integration.cli import shipway, start_run

SECRET = "hunter2zz-value"


def _files(urls: list[str]) -> dict[str, str]:
    notify = "".join(f"      - {u!r}\n" for u in urls)
    return {
        "shipway.yml": f"project: hooks\nenvironments:\n  dev:\n    branch: dev\n"
        f"    notify:\n{notify}",
        ".gitignore": ".shipway/\n",
        ".env": f"API_SECRET={SECRET}\n",
        "services/api/serverless.yml": (
            "service: api\nprovider:\n  name: aws\n  runtime: python3.13\n"
            "functions:\n  f:\n    handler: handler.f\n"
        ),
        "services/api/handler.py": "def f(e, c):\n    return 1\n",
    }


def _run(repo: Path) -> tuple[int, dict[str, object], str]:
    proc = shipway("run", "dev", "--json", repo=repo, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def test_success_and_failure_post_once_each_with_the_secret_masked(
    make_repo: Callable[..., Path],
) -> None:
    with Receiver() as hook:
        repo = make_repo(_files([hook.url()]))
        code, run, _ = _run(repo)
        assert code == 0 and run["state"] == "succeeded"
        [ok] = hook.posts  # delivered before the command exited, once
        assert ok["id"] == "dev-1" and ok["env"] == "dev" and ok["state"] == "succeeded"
        assert ok["commit"] == git(repo, "rev-parse", "dev") and ok["release"] == 1
        assert ok["error"] is None and ok["services"] == {
            "api": {"build": "succeeded", "deploy": "succeeded"}
        }
        assert ok["text"].startswith("✅ hooks dev: run dev-1 succeeded, release 1")

        # a handler named by the secret: the deploy's error quotes the secret's value
        git(repo, "checkout", "-q", "dev")
        sls = repo / "services/api/serverless.yml"
        sls.write_text(sls.read_text().replace("handler.f", "${env:API_SECRET}.f"))
        commit_all(repo, "break the handler")
        code, run, _ = _run(repo)
        assert code == 1 and run["state"] == "failed"
        assert len(hook.posts) == 2
        failed = hook.posts[1]
        assert failed["id"] == "dev-2" and failed["state"] == "failed"
        assert failed["release"] is None and failed["services"]["api"]["deploy"] == "failed"
        assert (
            failed["error"].startswith("deploy failed: service `api`") and "***" in failed["error"]
        )
        assert failed["text"].startswith("❌ hooks dev: run dev-2 failed")
        assert all(SECRET.encode() not in a["raw"] for a in hook.attempts)
        assert all(a["headers"]["Content-Type"] == "application/json" for a in hook.attempts)
        assert all(a["path"] == "/hooks/T0/B0/tok3n-s3cret?token=q5ecret" for a in hook.attempts)
        log = (repo / ".shipway/runs/dev-2/notify.log").read_text()
        assert "attempt 1/4: 200" in log and "http://127.0.0.1:" in log
        assert "tok3n" not in log and "q5ecret" not in log


def test_a_receiver_failing_twice_gets_the_third_attempt(make_repo: Callable[..., Path]) -> None:
    with Receiver(fail_first=2, fail_status=503) as hook:
        repo = make_repo(_files([hook.url()]))
        code, run, stderr = _run(repo)
        assert code == 0 and run["state"] == "succeeded"
        assert len(hook.attempts) == 3 and len(hook.posts) == 1
        assert hook.posts[0]["id"] == "dev-1"
        lines = (repo / ".shipway/runs/dev-1/notify.log").read_text().splitlines()
        assert [line.split(" ", 3)[3].split(";")[0] for line in lines] == [
            "attempt 1/4: HTTP 503",
            "attempt 2/4: HTTP 503",
            "attempt 3/4: 200",
        ]
        # delivered in time: no "notification(s) not delivered" warning (others, such as
        # the machine's Python being older than the runtime, are not this test's business)
        assert "not delivered" not in stderr


def test_unreachable_webhooks_change_neither_state_nor_exit(
    make_repo: Callable[..., Path],
) -> None:
    refused = f"http://127.0.0.1:{free_port()}/x?token=q5ecret"
    # accepts the connection and never answers: the delivery outlives the exit wait
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        hung = f"http://127.0.0.1:{silent.getsockname()[1]}/y?token=q5ecret"
        repo = make_repo(_files([refused, hung]))
        code, run, stderr = _run(repo)
    finally:
        silent.close()
    assert code == 0 and run["state"] == "succeeded"
    assert "webhook notification(s) not delivered within 5 s of exit" in stderr
    assert "q5ecret" not in stderr
    log = (repo / ".shipway/runs/dev-1/notify.log").read_text()
    assert "Connection refused" in log
    assert "given up: the process exited" in log
    assert "q5ecret" not in log
    runs = shipway("runs", "--json", repo=repo)
    assert json.loads(runs.stdout)[0]["state"] == "succeeded"


def test_a_cancelled_run_posts_its_end_before_the_command_exits(
    make_repo: Callable[..., Path],
) -> None:
    with Receiver() as hook:
        files = _files([hook.url()])
        files["services/api/buildspec.yml"] = (
            "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 61.25\n"
            "artifacts:\n  files: [handler.py]\n"
        )
        repo = make_repo(files)
        proc = start_run(repo, "Running command sleep 61.25", service="api")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        assert proc.returncode == 130
        [post] = hook.posts
        assert post["state"] == "cancelled" and post["id"] == "dev-1"
        assert post["services"]["api"]["build"] != "running"
        assert post["text"].startswith("⏹ hooks dev: run dev-1 cancelled")


def test_a_run_waiting_for_approval_says_so_once_and_its_end_follows(
    make_repo: Callable[..., Path],
) -> None:
    with Receiver() as hook:
        files = _files([hook.url()])
        files["shipway.yml"] = files["shipway.yml"].replace(
            "    notify:", "    approval: {before: deploy}\n    notify:"
        )
        repo = make_repo(files)
        code, run, _ = _run(repo)
        assert code == 0 and run["state"] == "awaiting_approval"
        [waiting] = hook.posts
        assert waiting["id"] == "dev-1" and waiting["state"] == "awaiting_approval"
        assert "shipway approve dev-1" in waiting["text"]
        approved = shipway("approve", "dev-1", repo=repo, timeout=120)
        assert approved.returncode == 0, approved.stderr
        assert [p["state"] for p in hook.posts] == ["awaiting_approval", "succeeded"]
