"""`environments.<env>.seed`: the functions that put a local environment's data back on
the emulator, which forgets it when the server stops — invoked after a deploy while a
server runs and each time a server starts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import git
from tests.integration.cli import serving, shipway
from tests.integration.test_local_emulator import SERVICE, call

HANDLER = """\
import json, os
import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def users(event, context):
    item = table.get_item(Key={"id": event["pathParameters"]["id"]}).get("Item")
    return {"statusCode": 200 if item else 404, "body": json.dumps(item)}

def seed(event, context):
    if os.environ.get("FAIL_SEED"):
        raise RuntimeError("the seed data is broken")
    table.put_item(Item={"id": "ada", "name": "Ada", "why": event["reason"]})
    return "seeded"
"""


def _service(fail: bool = False) -> str:
    functions, resources = SERVICE.split("resources:")
    extra = "  seed:\n    handler: handler.seed\n"
    if fail:
        extra += "    environment:\n      FAIL_SEED: 'yes'\n"
    return functions + extra + "resources:" + resources


def _repo(make_repo: Callable[..., Path], fail: bool = False, seed: str = "[users.seed]") -> Path:
    repo = make_repo(
        {
            "shipway.yml": "project: users\nbuild: {sandbox: off}\nenvironments:\n"
            f"  dev: {{branch: dev, seed: {seed}}}\n",
            ".gitignore": ".shipway/\n",
            "services/users/serverless.yml": _service(fail),
            "services/users/handler.py": HANDLER,
        }
    )
    git(repo, "checkout", "-q", "dev")
    return repo


def test_the_seed_puts_the_data_back_after_a_deploy_and_a_restart(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo)
    with serving(repo) as (_, url):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        status, text = call(f"{url}/dev/users/users/ada")
        assert status == 200 and json.loads(text)["why"] == "deploy", (text, ran.stderr)
    with serving(repo) as (_, url):  # a new emulator, empty: seeded as the server starts
        status, text = call(f"{url}/dev/users/users/ada")
        assert status == 200 and json.loads(text)["why"] == "server started", text


def test_a_failing_seed_is_a_warning_and_the_release_stays(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo, fail=True)
    with serving(repo) as (_, url):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        assert "seed `users.seed` of `dev` failed: the seed data is broken" in ran.stderr
        assert call(f"{url}/dev/users/users/ada")[0] == 404  # served, not seeded


@pytest.mark.parametrize(
    ("seed", "said"),
    [
        ("[users.nope]", "`users.nope` is not a function of this commit's services"),
        ("[nope]", "`nope` is not SERVICE.FUNCTION"),
    ],
)
def test_a_seed_that_names_no_function_is_exit_2(
    make_repo: Callable[..., Path], seed: str, said: str
) -> None:
    repo = _repo(make_repo, seed=seed)
    for args in (("validate",), ("run", "dev")):
        refused = shipway(*args, repo=repo)
        assert refused.returncode == 2 and said in refused.stderr, (args, refused.stderr)


def test_an_aws_environment_has_no_seed(make_repo: Callable[..., Path]) -> None:
    repo = _repo(make_repo, seed="[users.seed], target: {aws: {region: eu-west-1}}")
    refused = shipway("validate", repo=repo)
    assert refused.returncode == 2
    assert "shipway.yml:4: `environments.dev.seed[0]`: `seed` is for local" in refused.stderr
