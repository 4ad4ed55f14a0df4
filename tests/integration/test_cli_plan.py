"""`shipway plan ENV`: what a run would change and why, with nothing built or deployed;
on moto, an aws environment's plan lists the change set's resources and leaves no stack
or change set behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import boto3

from tests.conftest import commit_all, git
from tests.integration.cli import shipway, shipway_json
from tests.moto import REGION

SHIPWAY_YML = """\
project: planned
build: {sandbox: off}
environments:
  dev: {branch: dev}
  cloud: {branch: cloud, target: {aws: {region: us-east-1}}}
"""


def _service(name: str, extra: str = "") -> dict[str, str]:
    return {
        f"services/{name}/serverless.yml": (
            f"service: {name}\nprovider:\n  name: aws\n  runtime: python3.12\n"
            "  environment: {GREETING: '${env:GREETING, \"hi\"}'}\n"
            f"functions:\n  f:\n    handler: handler.f\n{extra}"
        ),
        f"services/{name}/handler.py": "def f(event, context):\n    return 'v1'\n",
    }


def _files() -> dict[str, str]:
    return {
        "shipway.yml": SHIPWAY_YML,
        ".gitignore": ".shipway/\n",
        **_service("alpha"),
        **_service("beta"),
    }


def _by_service(plan: dict[str, object]) -> dict[str, dict[str, object]]:
    services = plan["services"]
    assert isinstance(services, list)
    return {s["service"]: s for s in services}


def test_plan_says_what_changed_since_the_release_and_deploys_nothing(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(_files(), branches=("cloud",))
    git(repo, "checkout", "-q", "-b", "dev")
    first = shipway_json("plan", "dev", repo=repo)
    assert first["release"] is None and first["changes"] == 2
    assert {s["action"] for s in first["services"]} == {"deploy"}
    assert all(s["rebuild"] for s in first["services"])
    assert shipway("run", "dev", repo=repo).returncode == 0

    same = shipway_json("plan", "dev", repo=repo)
    assert same["release"] == 1 and same["changes"] == 0 and same["commits"] == []
    assert [s["reasons"] for s in same["services"]] == [["unchanged since release 1"]] * 2

    (repo / "services/alpha/handler.py").write_text("def f(event, context):\n    return 'v2'\n")
    sha = commit_all(repo, "alpha answers v2")
    (repo / ".env.dev").write_text("GREETING=hello\n")  # configuration alone (no key change)
    commit_all(repo, "greet dev with hello")
    (repo / "services/gamma").mkdir()
    for rel, text in _service("gamma").items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "rm", "-q", "-r", "services/beta")
    commit_all(repo, "gamma replaces beta")

    plan = shipway_json("plan", "dev", repo=repo)
    rows = _by_service(plan)
    assert len(plan["commits"]) == 3
    alpha = rows["alpha"]
    assert alpha["action"] == "deploy" and alpha["rebuild"]
    assert alpha["reasons"][0] == "configuration changed"
    assert any("input key changed" in r for r in alpha["reasons"])
    assert [c["sha"] for c in alpha["commits"]] == [sha]
    assert rows["gamma"]["action"] == "deploy" and rows["gamma"]["reasons"][0] == "new service"
    assert rows["beta"]["action"] == "remove"

    table = shipway("plan", "dev", repo=repo)
    assert table.returncode == 0
    assert "alpha" in table.stdout and "configuration changed" in table.stdout
    assert "nothing was built or deployed" in table.stderr
    # nothing ran: the release and the run history are as they were
    assert shipway_json("status", "dev", repo=repo)["dev"]["release"] == 1
    assert [r["id"] for r in shipway_json("runs", "dev", repo=repo)] == ["dev-1"]


def test_plan_of_an_unknown_environment_is_exit_2(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(_files())
    proc = shipway("plan", "nope", repo=repo)
    assert proc.returncode == 2 and "no environment `nope`" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_aws_plan_lists_the_stacks_resources_and_creates_nothing(
    make_repo: Callable[..., Path], aws_env: str
) -> None:
    repo = make_repo(_files(), branches=("cloud",))
    proc = shipway("plan", "cloud", "--json", repo=repo)
    assert proc.returncode == 0, proc.stderr
    rows = _by_service(json.loads(proc.stdout))
    alpha = rows["alpha"]
    assert alpha["action"] == "deploy" and alpha["reasons"][0] == "new stack"
    added = {(c["action"], c["logical_id"]) for c in alpha["resource_changes"]}
    assert ("Add", "FLambdaFunction") in added and ("Add", "ServerlessDeploymentBucket") in added
    cfn = boto3.client("cloudformation", region_name=REGION)
    assert cfn.list_stacks()["StackSummaries"] == []


def test_aws_plan_after_a_release_shows_the_change_sets_rows_and_leaves_none(
    make_repo: Callable[..., Path], aws_env: str
) -> None:
    repo = make_repo(_files(), branches=())
    git(repo, "checkout", "-q", "-b", "cloud")
    assert shipway("run", "cloud", repo=repo).returncode == 0
    unchanged = shipway_json("plan", "cloud", repo=repo)
    assert unchanged["changes"] == 0 and unchanged["release"] == 1
    sls = repo / "services/alpha/serverless.yml"
    sls.write_text(
        sls.read_text().replace("handler: handler.f", "handler: handler.f\n    memorySize: 512")
    )
    commit_all(repo, "alpha gets more memory")
    plan = shipway_json("plan", "cloud", repo=repo)
    alpha = _by_service(plan)["alpha"]
    assert alpha["action"] == "deploy"
    rows = {(c["action"], c["logical_id"]) for c in alpha["resource_changes"]}
    assert ("Modify", "FLambdaFunction") in rows
    assert _by_service(plan)["beta"]["action"] == "unchanged"
    cfn = boto3.client("cloudformation", region_name=REGION)
    # moto keeps the run's executed change sets; the plan's own is deleted
    summaries = cfn.list_change_sets(StackName="alpha-cloud")["Summaries"]
    assert [s for s in summaries if s["ExecutionStatus"] != "EXECUTE_COMPLETE"] == []
    lam = boto3.client("lambda", region_name=REGION)
    assert lam.get_function(FunctionName="alpha-cloud-f")["Configuration"]["MemorySize"] == 1024


def test_run_prints_the_warnings_validate_gives(make_repo: Callable[..., Path]) -> None:
    files = _files()
    files["services/alpha/serverless.yml"] = files["services/alpha/serverless.yml"].replace(
        "  runtime: python3.12\n", "  runtime: python3.12\n  tracing: {lambda: true}\n"
    )
    repo = make_repo(files, branches=("cloud",))
    git(repo, "checkout", "-q", "-b", "dev")
    validated = shipway("validate", repo=repo)
    assert validated.returncode == 0, validated.stderr
    warning = next(line for line in validated.stderr.splitlines() if "tracing.lambda" in line)

    ran = shipway("run", "dev", repo=repo)

    assert ran.returncode == 0, ran.stderr
    # the same words; validate names the environment (the aws one has no such warning)
    assert warning.replace("in environment `dev`: ", "") in ran.stderr.splitlines()
    assert "no local meaning" in warning
