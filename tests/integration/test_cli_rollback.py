"""`shipway rollback ENV [--to N]` through the command: an earlier release's services
deployed again as a new release, recorded as a run, served at once."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import boto3

from tests.conftest import commit_all, git
from tests.integration.cli import shipway, shipway_json
from tests.moto import REGION

SHIPWAY_YML = """\
project: rollback
build: {sandbox: off}
releases: {keep: 3}
environments:
  dev: {branch: dev}
"""


def _handler(answer: str) -> str:
    return f"def f(event, context):\n    return {answer!r}\n"


def _files() -> dict[str, str]:
    files = {"shipway.yml": SHIPWAY_YML, ".gitignore": ".shipway/\n"}
    for name in ("web", "jobs"):
        files[f"services/{name}/serverless.yml"] = (
            f"service: {name}\nprovider:\n  name: aws\n  runtime: python3.12\n"
            "functions:\n  f:\n    handler: handler.f\n"
        )
        files[f"services/{name}/handler.py"] = _handler(f"{name} v1")
    return files


def _release(repo: Path, answer: str) -> None:
    (repo / "services/web/handler.py").write_text(_handler(answer))
    commit_all(repo, answer)
    proc = shipway("run", "dev", repo=repo)
    assert proc.returncode == 0, proc.stderr


def _answer(repo: Path, function: str = "web.f") -> object:
    proc = shipway("invoke", function, "--env", "dev", repo=repo)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_rollback_deploys_the_previous_release_again_as_a_new_one(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(_files(), branches=())
    git(repo, "checkout", "-q", "-b", "dev")
    v1 = git(repo, "rev-parse", "HEAD")
    assert shipway("run", "dev", repo=repo).returncode == 0
    _release(repo, "web v2")
    assert _answer(repo) == "web v2"

    proc = shipway("rollback", "dev", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert "rolled back to release 1" in proc.stdout and "now release 3" in proc.stdout
    assert _answer(repo) == "web v1" and _answer(repo, "jobs.f") == "jobs v1"
    status = shipway_json("status", "dev", repo=repo)["dev"]
    assert status["release"] == 3 and status["commit"] == v1
    run = shipway_json("runs", "dev", repo=repo)[0]
    assert run["trigger"] == "rollback to 1" and run["state"] == "succeeded"
    assert run["release"] == 3 and run["commit"] == v1
    assert "(rollback to 1)" in shipway("runs", "dev", repo=repo).stdout

    again = shipway("rollback", "dev", "--to", "2", "--json", repo=repo)
    assert again.returncode == 0, again.stderr
    done = json.loads(again.stdout)
    assert done["release"] == 4 and done["rolled_back_to"] == 2
    deploys = {j["service"]: j["state"] for j in done["jobs"] if j["stage"] == "deploy"}
    assert deploys == {"web": "succeeded", "jobs": "skipped"}  # jobs' folder kept as it is
    assert _answer(repo) == "web v2"

    # a later push deploys as usual: the rollback does not hold the environment back
    _release(repo, "web v3")
    assert _answer(repo) == "web v3"


def test_rollback_refuses_unknown_pruned_and_current_releases(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(_files(), branches=())
    git(repo, "checkout", "-q", "-b", "dev")
    proc = shipway("rollback", "dev", repo=repo)
    assert proc.returncode == 2 and "no release to roll back" in proc.stderr
    assert shipway("run", "dev", repo=repo).returncode == 0
    proc = shipway("rollback", "dev", repo=repo)
    assert proc.returncode == 2 and "nothing to roll back to" in proc.stderr
    for n in (2, 3, 4):
        _release(repo, f"web v{n}")  # keep: 3 prunes release 1
    for args, said in [
        (("--to", "9"), "`dev` has no release 9 (kept: 4, 3, 2)"),
        (("--to", "1"), "release 1 of `dev` was pruned"),
        (("--to", "4"), "release 4 is already the current release"),
    ]:
        proc = shipway("rollback", "dev", *args, repo=repo)
        assert proc.returncode == 2, proc.stderr
        assert said in proc.stderr and "Traceback" not in proc.stderr
    assert shipway_json("status", "dev", repo=repo)["dev"]["release"] == 4
    proc = shipway("rollback", "nope", repo=repo)
    assert proc.returncode == 2 and "no environment `nope`" in proc.stderr


def test_rollback_on_aws_restores_the_earlier_releases_code(
    make_repo: Callable[..., Path], aws_env: str
) -> None:
    files = _files()
    files["shipway.yml"] = SHIPWAY_YML.replace(
        "  dev: {branch: dev}", "  dev: {branch: dev, target: {aws: {region: us-east-1}}}"
    )
    repo = make_repo(files, branches=())
    git(repo, "checkout", "-q", "-b", "dev")
    assert shipway("run", "dev", repo=repo).returncode == 0
    lam = boto3.client("lambda", region_name=REGION)

    def code_location() -> str:
        location: str = lam.get_function(FunctionName="web-dev-f")["Code"]["Location"]
        return location

    v1 = code_location()
    _release(repo, "web v2")
    assert code_location() != v1

    proc = shipway("rollback", "dev", "--json", repo=repo)
    assert proc.returncode == 0, proc.stderr
    done = json.loads(proc.stdout)
    assert done["state"] == "succeeded" and done["release"] == 3
    assert code_location() == v1
    deploys = {j["service"]: j["state"] for j in done["jobs"] if j["stage"] == "deploy"}
    assert deploys == {"web": "succeeded", "jobs": "skipped"}
    assert shipway_json("status", "dev", repo=repo)["dev"]["release"] == 3


def test_a_local_release_without_a_record_is_rolled_back_from_its_manifest(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(_files(), branches=())
    git(repo, "checkout", "-q", "-b", "dev")
    assert shipway("run", "dev", repo=repo).returncode == 0
    _release(repo, "web v2")
    shutil.rmtree(repo / ".shipway/records")  # releases made before records existed
    proc = shipway("rollback", "dev", "--to", "1", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert _answer(repo) == "web v1" and _answer(repo, "jobs.f") == "jobs v1"
    assert (repo / ".shipway/records/dev/3/record.json").is_file()  # the new one has one
