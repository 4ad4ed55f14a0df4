"""`shipway env list / add / remove` through the command, on real repositories."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import boto3
import yaml

from tests.integration.cli import shipway, shipway_json
from tests.moto import REGION


def test_env_list_shows_every_environment(ledger_repo: Path) -> None:
    found = shipway_json("env", "list", repo=ledger_repo)
    assert [(e["name"], e["branch"], e["target"], e["stage"]) for e in found] == [
        ("dev", "dev", "local", "dev"),
        ("qa", "qa", "local", "qa"),
        ("prod", "main", "local", "prod"),
    ]
    table = shipway("env", "list", repo=ledger_repo)
    assert table.returncode == 0 and "prod" in table.stdout and "main" in table.stdout


def test_env_add_from_copies_the_block_keeps_the_file_and_the_new_env_runs(
    ledger_repo: Path,
) -> None:
    yml = ledger_repo / "shipway.yml"
    before = yml.read_text()
    proc = shipway("env", "add", "uat", "--branch", "qa", "--from", "prod", repo=ledger_repo)
    assert proc.returncode == 2 and "already bound to environment `qa`" in proc.stderr
    assert yml.read_text() == before  # refused: nothing written
    proc = shipway("env", "add", "uat", "--branch", "uat", "--from", "prod", repo=ledger_repo)
    assert proc.returncode == 0, proc.stderr
    after = yml.read_text()
    assert after.startswith(before)  # every line of the user's file kept, comments too
    assert yaml.safe_load(after)["environments"]["uat"] == {
        "branch": "uat",
        "target": "local",
        "params": {"LOG_LEVEL": "warning"},
    }
    assert ".env.uat (absent)" in proc.stdout and ".env," in proc.stdout
    assert "`.env.prod`" in proc.stderr
    listed = {e["name"]: e for e in shipway_json("env", "list", repo=ledger_repo)}
    assert listed["uat"]["branch"] == "uat"
    # the new environment is usable at once: validate checks its services for it
    assert shipway("validate", repo=ledger_repo).returncode == 0


def test_env_add_aws_and_refusals(ledger_repo: Path) -> None:
    yml = ledger_repo / "shipway.yml"
    before = yml.read_text()
    for args, said in [
        (("prod", "--branch", "x"), "shipway.yml:18: `environments.prod`: environment `prod`"),
        (("Bad_Name", "--branch", "x"), "`environments.Bad_Name`"),
        (("x", "--branch", "a..b"), "`environments.x.branch`"),
        (("x", "--branch", "x", "--target", "aws"), "--region"),
        (("x", "--branch", "x", "--from", "nope"), "no environment `nope`"),
    ]:
        proc = shipway("env", "add", *args, repo=ledger_repo)
        assert proc.returncode == 2, (args, proc.stderr)
        assert said in proc.stderr and "Traceback" not in proc.stderr
    assert yml.read_text() == before
    proc = shipway(
        "env",
        "add",
        "cloud",
        "--branch",
        "cloud",
        "--target",
        "aws",
        "--region",
        "eu-west-2",
        repo=ledger_repo,
    )
    assert proc.returncode == 0, proc.stderr
    cloud = shipway_json("env", "list", repo=ledger_repo)[-1]
    assert cloud == {
        "name": "cloud",
        "branch": "cloud",
        "target": "aws",
        "region": "eu-west-2",
        "stage": "cloud",
        "approval": None,
    }
    assert json.loads(json.dumps(cloud))  # one plain document


def _small_repo(make_repo: Callable[..., Path], target: str = "local") -> Path:
    target_text = "{aws: {region: us-east-1}}" if target == "aws" else "local"
    files = {
        "shipway.yml": (
            "project: gone\nbuild: {sandbox: off}\nenvironments:\n"
            f"  dev: {{branch: dev, target: {target_text}}}  # the one to remove\n"
            "  prod: {branch: main}\n"
        ),
        ".gitignore": ".shipway/\n",
    }
    for name in ("api", "worker"):
        files[f"services/{name}/serverless.yml"] = (
            f"service: {name}\nprovider:\n  name: aws\n  runtime: python3.12\n"
            "functions:\n  f:\n    handler: handler.f\n"
        )
        files[f"services/{name}/handler.py"] = "def f(event, context):\n    return 1\n"
    return make_repo(files)


def test_env_remove_deletes_the_local_state_after_confirmation(
    make_repo: Callable[..., Path],
) -> None:
    repo = _small_repo(make_repo)
    assert shipway("run", "dev", repo=repo).returncode == 0
    proc = shipway("env", "remove", "dev", repo=repo)  # no terminal to ask at
    assert proc.returncode == 2 and "--yes" in proc.stderr
    assert (repo / ".shipway/envs/dev/current").is_symlink()

    proc = shipway("env", "remove", "dev", "--yes", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert not (repo / ".shipway/envs/dev").exists()
    assert not (repo / ".shipway/records/dev").exists()
    assert shipway_json("status", "dev", repo=repo)["dev"]["release"] is None
    assert [r["id"] for r in shipway_json("runs", "dev", repo=repo)] == ["dev-1"]
    invoked = shipway("invoke", "api.f", "--env", "dev", repo=repo)
    assert invoked.returncode == 2 and "no release yet" in invoked.stderr
    # the environment is still configured: a run deploys it again, numbers go on
    assert shipway_json("run", "dev", repo=repo)["release"] == 2


def test_env_remove_forget_takes_the_block_out_of_shipway_yml(
    make_repo: Callable[..., Path],
) -> None:
    repo = _small_repo(make_repo)
    yml = repo / "shipway.yml"
    before = yml.read_text()
    proc = shipway("env", "remove", "dev", "--yes", "--forget", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert yml.read_text() == before.replace(
        "  dev: {branch: dev, target: local}  # the one to remove\n", ""
    )
    assert [e["name"] for e in shipway_json("env", "list", repo=repo)] == ["prod"]
    proc = shipway("env", "remove", "prod", "--yes", "--forget", repo=repo)
    assert proc.returncode == 2 and "at least one environment" in proc.stderr
    assert [e["name"] for e in shipway_json("env", "list", repo=repo)] == ["prod"]


def test_env_remove_on_aws_deletes_the_stacks_and_their_buckets(
    make_repo: Callable[..., Path], aws_env: str
) -> None:
    repo = _small_repo(make_repo, target="aws")
    assert shipway("run", "dev", repo=repo).returncode == 0
    cfn = boto3.client("cloudformation", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert len(buckets) == 2
    proc = shipway("env", "remove", "dev", "--yes", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert "deleted worker-dev, api-dev" in proc.stdout
    live = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert live == []
    assert s3.list_buckets()["Buckets"] == []
    assert shipway_json("status", "dev", repo=repo)["dev"]["release"] is None
