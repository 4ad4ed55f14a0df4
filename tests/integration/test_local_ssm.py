"""`${ssm:…}` of a local environment reads the local AWS emulator's parameter store, which
`shipway ssm put` writes: no AWS account is asked (the subprocesses get no credentials),
a SecureString is masked like every secret, and the parameters outlive the server."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import git
from tests.integration.cli import SHIPWAY, serving, shipway

SERVICE = """\
service: pay
provider:
  name: aws
  runtime: python3.12
  environment:
    DB_PASSWORD: ${ssm:/pay/dev/db-password}
    API_URL: ${ssm:/pay/dev/api-url}
    HOSTS: ${ssm(raw):/pay/dev/hosts}
    FALLBACK: ${ssm:/pay/dev/absent, 'plain'}
custom:
  hosts: ${ssm:/pay/dev/hosts}
functions:
  show:
    handler: handler.show
    events:
      - httpApi: GET /show
  live:
    handler: handler.live
    events:
      - httpApi: GET /live
"""

HANDLER = """\
import json, os
import boto3

def show(event, context):
    print("the password is", os.environ["DB_PASSWORD"])
    keys = ("DB_PASSWORD", "API_URL", "HOSTS", "FALLBACK")
    return {"statusCode": 200, "body": json.dumps({k: os.environ[k] for k in keys})}

def live(event, context):
    # read at run time, through boto3, from the emulator
    ssm = boto3.client("ssm")
    value = ssm.get_parameter(Name="/pay/dev/api-url")["Parameter"]["Value"]
    return {"statusCode": 200, "body": value}
"""

SHIPWAY_YML = (
    "project: pay\nbuild: {sandbox: off}\nenvironments:\n  dev: {branch: dev}\n"
    "  prod: {branch: main, target: {aws: {region: eu-west-1}}}\n"
)


@pytest.fixture(autouse=True)
def no_aws_account(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Whatever a local environment reads, it reads without an AWS account."""
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


def put(repo: Path, *args: str, value: str | None = None) -> subprocess.CompletedProcess[str]:
    """`shipway ssm put` with `value` on standard input (as a user keeps a secret out of the
    shell's history)."""
    env = {k: v for k, v in os.environ.items() if k != "SHIPWAY_HOME"}
    return subprocess.run(
        [SHIPWAY, "ssm", "put", *args, "--repo", str(repo)],
        input=value,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _repo(make_repo: Callable[..., Path]) -> Path:
    repo = make_repo(
        {
            "shipway.yml": SHIPWAY_YML,
            ".gitignore": ".shipway/\n",
            "services/pay/serverless.yml": SERVICE,
            "services/pay/handler.py": HANDLER,
        }
    )
    git(repo, "checkout", "-q", "dev")
    return repo


def _put_all(repo: Path, password: str) -> None:
    assert (
        put(repo, "dev", "/pay/dev/db-password", "--secure", value=password + "\n").returncode == 0
    )
    assert put(repo, "dev", "/pay/dev/api-url", "https://api.local.test").returncode == 0
    hosts = put(repo, "dev", "/pay/dev/hosts", "a.test,b.test", "--type", "StringList")
    assert hosts.returncode == 0, hosts.stderr


def test_a_put_parameter_is_what_the_function_gets_and_a_secret_stays_masked(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo)
    password = f"pw-{secrets.token_hex(8)}"
    _put_all(repo, password)
    listed = shipway("ssm", "list", "dev", "--json", repo=repo)
    assert listed.returncode == 0, listed.stderr
    assert [(p["name"], p["type"], p["value"]) for p in json.loads(listed.stdout)] == [
        ("/pay/dev/api-url", "String", "https://api.local.test"),
        ("/pay/dev/db-password", "SecureString", "***"),
        ("/pay/dev/hosts", "StringList", "a.test,b.test"),
    ]
    printed = shipway("print", "pay", "--env", "dev", "--format", "json", repo=repo)
    assert printed.returncode == 0, printed.stderr
    environment = json.loads(printed.stdout)["provider"]["environment"]
    assert environment["API_URL"] == "https://api.local.test"
    assert environment["DB_PASSWORD"] == "***"  # resolved, and masked in what is shown
    assert environment["FALLBACK"] == "plain"
    assert json.loads(printed.stdout)["custom"]["hosts"] == ["a.test", "b.test"]
    assert password not in printed.stdout + printed.stderr

    with serving(repo) as (_, url):
        ran = shipway("run", "dev", repo=repo)
        assert ran.returncode == 0, ran.stderr
        status, text = get(f"{url}/dev/pay/show")
        assert status == 200, text
        assert json.loads(text) == {
            "DB_PASSWORD": password,
            "API_URL": "https://api.local.test",
            "HOSTS": "a.test,b.test",
            "FALLBACK": "plain",
        }
        assert get(f"{url}/dev/pay/live") == (200, "https://api.local.test")
    log = (repo / ".shipway/envs/dev/logs/pay.log").read_text()
    assert "the password is ***" in log and password not in log
    # the secret is kept where secrets are kept, owner-only, and nowhere else
    holding = sorted(
        p.relative_to(repo / ".shipway").as_posix()
        for p in (repo / ".shipway").rglob("*")
        if p.is_file() and password.encode() in p.read_bytes()
    )
    assert holding == ["emulator/parameters.json", "envs/dev/releases/1/secrets.json"]
    mode = (repo / ".shipway/emulator/parameters.json").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    audit = shipway("audit", "--json", repo=repo)
    assert audit.returncode == 0, audit.stderr
    assert "ssm.put" in audit.stdout and password not in audit.stdout


def test_a_parameter_put_while_serving_is_on_the_emulator_and_back_after_a_restart(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo)
    password = f"pw-{secrets.token_hex(8)}"
    with serving(repo) as (_, url):
        _put_all(repo, password)
        said = put(repo, "dev", "/pay/dev/api-url", "https://v2.local.test")
        assert said.returncode == 0, said.stderr
        assert "version 2: on the emulator now" in said.stdout
        assert shipway("run", "dev", repo=repo).returncode == 0
        assert get(f"{url}/dev/pay/live") == (200, "https://v2.local.test")
    # moto keeps nothing: the server puts the kept parameters back as it starts
    with serving(repo) as (_, url):
        assert get(f"{url}/dev/pay/live") == (200, "https://v2.local.test")
        status, text = get(f"{url}/dev/pay/show")
        assert status == 200 and json.loads(text)["DB_PASSWORD"] == password, text
        assert shipway("ssm", "delete", "dev", "/pay/dev/api-url", repo=repo).returncode == 0
        status, text = get(f"{url}/dev/pay/live")
        assert (
            status >= 500
            and "ParameterNotFound" in text + (repo / ".shipway/envs/dev/logs/pay.log").read_text()
        )


def test_a_missing_parameter_is_an_error_naming_it_and_how_to_put_it(
    make_repo: Callable[..., Path],
) -> None:
    repo = _repo(make_repo)
    checked = shipway("validate", repo=repo)
    assert checked.returncode == 2
    assert "/pay/dev/db-password" in checked.stderr and "shipway ssm put" in checked.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("dev", "pay/x", "v"), "starts with `/`"),
        (("dev", "/aws/x", "v"), "AWS reserves"),
        (("dev", "/a b", "v"), "is not valid"),
        (("dev", "/a//b", "v"), "no empty level"),
        (("dev", "/x", "v", "--region", "mars"), "is not an AWS region"),
        (("dev", "/x", "v", "--secure", "--type", "String"), "disagree"),
        (("dev", "/x", ""), "the value is empty"),
        (("dev", "/x", "v" * 4097), "at most 4096"),
        (("prod", "/x", "v"), "deploys to AWS"),
        (("qa", "/x", "v"), "no environment `qa`"),
    ],
)
def test_what_ssm_would_refuse_is_exit_2_and_nothing_is_kept(
    make_repo: Callable[..., Path], args: tuple[str, ...], said: str
) -> None:
    repo = _repo(make_repo)
    refused = put(repo, *args)
    assert refused.returncode == 2, refused.stdout
    assert said in refused.stderr
    assert not (repo / ".shipway/emulator/parameters.json").exists()
