"""`GET /metrics` on a real `shipway serve`, after real runs: the exposition parsed with
prometheus_client's own parser, every value checked against what the runs reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import commit_all, git
from tests.integration.cli import SHIPWAY, shipway
from tests.integration.cli import serving as serve

BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - echo building
      - if [ -f hold ]; then echo holding; sleep 61.75; fi
artifacts:
  files: [handler.py]
"""
FILES = {
    "shipway.yml": "project: m\nenvironments:\n  dev:\n    branch: dev\n  qa:\n    branch: qa\n",
    ".gitignore": ".shipway/\n",
    "services/api/serverless.yml": (
        "service: api\nprovider:\n  name: aws\n  runtime: python3.13\n"
        "functions:\n  f:\n    handler: handler.f\n"
    ),
    "services/api/handler.py": "def f(e, c):\n    return 1\n",
    "services/api/buildspec.yml": BUILDSPEC,
}


@contextmanager
def serving(repo: Path, engine: str) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if k != "SHIPWAY_HOME"}
    env["SHIPWAY_HTTP_ENGINE"] = engine
    with serve(repo, env) as (_, url):
        yield url


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as resp:
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/plain; version=")
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def ran(runs: list[dict[str, Any]], stage: str) -> list[float]:
    """The durations of the jobs of `stage` that ran, as `run --json` reported them."""
    return [
        j["finished_at"] - j["started_at"]
        for r in runs
        for j in r["jobs"]
        if j["stage"] == stage and j["started_at"] is not None and j["finished_at"] is not None
    ]


def run_json(repo: Path, env: str) -> dict[str, Any]:
    proc = shipway("run", env, "--json", repo=repo)
    assert "Traceback" not in proc.stderr
    return dict(json.loads(proc.stdout))


@pytest.mark.parametrize("engine", ["fast", "asgi"])
def test_metrics_after_real_runs(make_repo: Callable[..., Path], engine: str) -> None:
    repo = make_repo(FILES, branches=("dev", "qa"))
    with serving(repo, engine) as url:
        empty = scrape(url)  # before any run: no environment yet, and no error
        assert not any(name == "shipway_runs" for name, _ in empty)
        head = urllib.request.Request(f"{url}/metrics", method="HEAD")
        with urllib.request.urlopen(head, timeout=30) as resp:
            assert resp.status == 200 and resp.read() == b""
            assert resp.headers["content-type"].startswith("text/plain; version=")

        runs = [run_json(repo, "dev"), run_json(repo, "qa")]
        git(repo, "checkout", "-q", "dev")
        sls = repo / "services/api/serverless.yml"
        sls.write_text(sls.read_text().replace("handler.f", "nowhere.f"))
        commit_all(repo, "break the handler")
        runs.append(run_json(repo, "dev"))
        assert [r["state"] for r in runs] == ["succeeded", "succeeded", "failed"]

        # a run held in its build: running, so in the queue
        (repo / "services/api/hold").write_text("")
        commit_all(repo, "hold the build")
        held = subprocess.Popen(
            [SHIPWAY, "run", "dev", "--repo", str(repo)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        log = repo / ".shipway/runs/dev-3/logs/api.log"
        deadline = time.monotonic() + 30
        while "holding" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline and held.poll() is None
            time.sleep(0.05)
        busy = scrape(url)
        held.send_signal(signal.SIGINT)
        held.wait(timeout=20)
        done = scrape(url)

    assert value(busy, "shipway_runs", env="dev", state="running") == 1
    assert value(busy, "shipway_queue_depth", env="dev") == 1
    assert value(busy, "shipway_queue_depth", env="qa") == 0

    expected = {("dev", "succeeded"): 1, ("dev", "failed"): 1, ("dev", "cancelled"): 1}
    expected[("qa", "succeeded")] = 1
    for env in ("dev", "qa"):
        for state in ("queued", "running", "succeeded", "failed", "cancelled", "superseded"):
            got = value(done, "shipway_runs", env=env, state=state)
            assert got == expected.get((env, state), 0), (env, state)
        assert value(done, "shipway_queue_depth", env=env) == 0
        assert value(done, "shipway_approvals_waiting", env=env) == 0
        assert value(done, "shipway_release", env=env) == 1  # the failed run made none

    name = "shipway_job_duration_seconds"
    for env in ("dev", "qa"):
        for stage in ("build", "deploy"):
            durations = ran([r for r in runs if r["env"] == env], stage)
            # dev-3's build ran too (cancelled): it has a duration; qa reused dev's build,
            # which ran no job in qa
            expected_count = len(durations) + (env == "dev" and stage == "build")
            labels = {"env": env, "stage": stage}
            if not expected_count:
                assert (f"{name}_count", tuple(sorted(labels.items()))) not in done
                continue
            count = value(done, f"{name}_count", **labels)
            assert count == expected_count, labels
            assert value(done, f"{name}_bucket", le="+Inf", **labels) == count
            assert value(done, f"{name}_sum", **labels) >= sum(durations) - 1e-6
            within = value(done, f"{name}_bucket", le="1.0", **labels)
            assert within >= sum(d <= 1.0 for d in durations)
