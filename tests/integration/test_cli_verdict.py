"""One verdict: `validate` and `run` refuse the same services with the same messages, for
every target; every refusal is listed; unknown properties are warnings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import commit_all, git
from tests.integration.cli import shipway

PROJECT = """project: verdict
environments:
  dev:
    branch: dev
    target: local
  qa:
    branch: qa
    target: local
"""

REFUSED = """service: guarded
provider:
  name: aws
  runtime: python3.11
  aliasStage: {name: blue}
  memorySize: 256
  alb: {targetGroupPrefix: shop}
  environment:
    DB: ${env:NOT_SET_ANYWHERE_4471}
plugins:
  - serverless-domain-manager
functions:
  f:
    handler: h.f
    events:
      - cloudFront: {eventType: viewer-request, origin: "s3://b.s3.amazonaws.com/p"}
"""

FINE = """service: fine
provider:
  name: aws
  runtime: python3.11
  aliasStage: {name: blue}
functions:
  f:
    handler: h.f
"""

HANDLER = "def f(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"


def _repo(make_repo: Callable[..., Path], sls: str) -> Path:
    return make_repo(
        {
            "shipway.yml": PROJECT,
            "services/guarded/serverless.yml": sls,
            "services/guarded/h.py": HANDLER,
        },
        branches=("dev", "qa"),
    )


def test_validate_lists_every_refusal_and_a_variable_hides_none(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo, REFUSED)
    proc = shipway("validate", repo=repo)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    text = "\n".join(errors)
    assert "serverless.yml:9: `provider.environment.DB`" in text  # the variable
    assert "serverless.yml:7: `provider.alb`: this setting is not supported" in text
    assert "serverless.yml:11: `plugins[0]`: plugin `serverless-domain-manager`" in text
    assert "serverless.yml:16: `functions.f.events[0].cloudFront`: `cloudFront` events" in text
    # a plugin's key the Framework's schema does not know: a warning, never an error
    assert "aliasStage" not in text
    assert "warning: services/guarded/serverless.yml:5: `provider.aliasStage`" in proc.stderr
    assert len(errors) == 4  # each once, though both environments have them
    assert "Traceback" not in proc.stderr


def test_validate_json_prints_one_document_on_failure(make_repo: Callable[..., Path]) -> None:
    repo = _repo(make_repo, REFUSED)
    proc = shipway("validate", "--json", repo=repo)
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)  # one document, nothing else on stdout
    assert doc["ok"] is False
    keys = {p["key"] for p in doc["problems"]}
    assert {"provider.alb", "plugins[0]", "functions.f.events[0].cloudFront"} <= keys
    logs = next(p for p in doc["problems"] if p["key"] == "provider.alb")
    assert logs["file"] == "services/guarded/serverless.yml" and logs["line"] == 7
    assert logs["environment"] is None  # the same in every environment
    assert set(logs) == {"file", "line", "key", "environment", "message", "hint"}
    assert [w["key"] for w in doc["warnings"]] == ["provider.aliasStage"]


def test_a_problem_of_one_environment_names_it(make_repo: Callable[..., Path]) -> None:
    sized = FINE.replace("handler: h.f", "handler: h.f\n    memorySize: ${env:MEM}")
    repo = _repo(make_repo, sized)
    (repo / ".env.dev").write_text("MEM=256\n")
    (repo / ".env.qa").write_text("MEM=lots\n")
    commit_all(repo, "env files")
    proc = shipway("validate", "--json", repo=repo)
    assert proc.returncode == 2, proc.stderr
    problems = json.loads(proc.stdout)["problems"]
    assert [(p["key"], p["environment"]) for p in problems] == [("functions.f.memorySize", "qa")]
    text = shipway("validate", repo=repo).stderr
    assert "`functions.f.memorySize`: in environment `qa`: " in text


def test_run_to_the_local_target_refuses_what_validate_refuses(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo, REFUSED.replace("${env:NOT_SET_ANYWHERE_4471}", "x"))
    proc = shipway("run", "dev", repo=repo)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "`provider.alb`: this setting is not supported" in proc.stderr
    assert "`functions.f.events[0].cloudFront`" in proc.stderr
    assert "Traceback" not in proc.stderr
    runs = shipway("runs", "dev", "--json", repo=repo)
    assert json.loads(runs.stdout) == []  # stopped before any run or build
    assert not (repo / ".shipway" / "artifacts").exists()


def test_unknown_properties_warn_and_the_service_runs(make_repo: Callable[..., Path]) -> None:
    repo = _repo(make_repo, FINE)
    validated = shipway("validate", repo=repo)
    assert validated.returncode == 0, validated.stderr
    assert "warning: services/guarded/serverless.yml:5: `provider.aliasStage`" in validated.stderr
    proc = shipway("run", "dev", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert shipway("invoke", "f", "--env", "dev", repo=repo).returncode == 0


def test_validate_warns_of_files_a_run_will_not_see(make_repo: Callable[..., Path]) -> None:
    repo = _repo(make_repo, FINE)
    (repo / ".gitignore").write_text(".env\n.shipway/\n")
    (repo / ".env").write_text("A=1\n")  # ignored
    (repo / "services/guarded/.env.dev").write_text("B=2\n")  # not committed
    commit_all(repo, "ignore .env")
    git(repo, "rm", "-q", "--cached", "services/guarded/.env.dev")
    (repo / "services/guarded/serverless.yml").write_text(FINE + "  # changed\n")
    proc = shipway("validate", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert "warning: .env: git ignores this file" in proc.stderr
    assert "warning: services/guarded/.env.dev: this file is not committed" in proc.stderr
    assert (
        "warning: services/guarded/serverless.yml: this file has changes that are not committed"
        in proc.stderr
    )
    assert "shipway.yml:" not in proc.stderr  # committed and unchanged: nothing to say


def test_validate_warns_of_a_file_read_through_file_that_is_not_committed(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(
        make_repo, FINE.replace("provider:\n", "custom: ${file(../config/dev.yml)}\nprovider:\n", 1)
    )
    (repo / "services/config").mkdir()
    (repo / "services/config/dev.yml").write_text("memory: 256\n")  # read, never committed
    proc = shipway("validate", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert "warning: services/config/dev.yml: this file is not committed" in proc.stderr
    commit_all(repo, "commit the variables file")
    again = shipway("validate", repo=repo)
    assert "services/config/dev.yml" not in again.stderr
