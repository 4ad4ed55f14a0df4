"""`shipway env list / add / remove` through the command, on real repositories."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.integration.cli import shipway, shipway_json


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
