"""No secret in any output: a canary secret in `.env.dev` never appears in what Shipway prints,
answers or stores, however it is encoded, and wherever it travels (another variable, an
exported variable, an error message, a function's log)."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.cli import SHIPWAY, shipway

CANARY = f"canary-{secrets.token_hex(8)}"
# JSON escapes `"` and `\`, ensure_ascii escapes `é`, YAML quotes `'`: masking the encoded text
# would miss every one of them.
ODD = f"q\"uo\\te'd-é-{secrets.token_hex(6)}"

BUILDSPEC = """version: 0.2
env:
  exported-variables: [API_KEY, DERIVED, PLAIN]
phases:
  build:
    commands:
      - export PLAIN=nothing-secret
      - echo "building with $API_KEY"
      - |
        python3 -c 'import json, os; print(json.dumps({"odd": os.environ["ODD_TOKEN"]}))'
      - |
        python3 -c 'import os; print({"odd": os.environ["ODD_TOKEN"]})'
      - mkdir -p dist && cp handler.py dist/
artifacts:
  base-directory: dist
  files: ['**/*']
"""

HANDLER = """import os

def f(event, context):
    print("the key is", os.environ["API_KEY"])
    if event.get("fail"):
        raise RuntimeError("failed with " + os.environ["DERIVED"])
    return {"ok": True}
"""


def _quoted(value: str) -> str:
    """`value` as a double-quoted .env value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _files() -> dict[str, str]:
    return {
        "shipway.yml": "project: sec\nenvironments:\n  dev:\n    branch: dev\n",
        ".env.dev": f"API_KEY={CANARY}\nDERIVED=x${{API_KEY}}y\nODD_TOKEN={_quoted(ODD)}\n",
        "services/api/serverless.yml": (
            "service: api\nprovider:\n  name: aws\n  runtime: python3.11\n"
            "  region: us-east-1\n  environment:\n    API_KEY: ${env:API_KEY}\n"
            "    DERIVED: ${env:DERIVED}\n    ODD: ${env:ODD_TOKEN}\n"
            "functions:\n  f:\n    handler: handler.f\n"
            "    events:\n      - httpApi: {method: GET, path: /f}\n"
        ),
        "services/api/handler.py": HANDLER,
        "services/api/buildspec.yml": BUILDSPEC,
    }


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(_files())


def _leaks(text: str) -> list[str]:
    """The fragments of a secret that `text` holds (ODD's distinct tail is enough)."""
    return [s for s in (CANARY, ODD[-12:]) if s in text]


def test_exported_variables_holding_a_secret_are_masked_in_run_json_and_the_store(
    repo: Path,
) -> None:
    first = shipway("run", "dev", "--json", repo=repo)
    assert first.returncode == 0, first.stderr
    again = shipway("run", "dev", "--json", repo=repo)  # the build is reused: stored values
    assert again.returncode == 0, again.stderr
    for proc in (first, again):
        assert _leaks(proc.stdout + proc.stderr) == []
        [build] = [j for j in json.loads(proc.stdout)["jobs"] if j["stage"] == "build"]
        assert build["exported"] == {
            "API_KEY": "***",
            "DERIVED": "x***y",
            "PLAIN": "nothing-secret",
        }
    for args in (("runs", "--json"), ("status", "--json"), ("logs", "dev-1"), ("logs", "dev-2")):
        proc = shipway(*args, repo=repo)
        assert proc.returncode == 0, proc.stderr
        assert _leaks(proc.stdout + proc.stderr) == [], args
    assert "building with ***" in shipway("logs", "dev-1", repo=repo).stdout


def test_secrets_are_masked_in_json_and_yaml_however_they_are_escaped(repo: Path) -> None:
    for args in (
        ("synth", "api", "--env", "dev"),
        ("synth", "api", "--env", "dev", "--format", "yaml"),
        ("print", "api", "--env", "dev"),
        ("print", "api", "--env", "dev", "--format", "json"),
    ):
        proc = shipway(*args, repo=repo)
        assert proc.returncode == 0, proc.stderr
        assert _leaks(proc.stdout) == [], args
        assert "x***y" in proc.stdout, args


def test_a_long_secret_is_not_folded_past_the_masker_in_yaml(
    make_repo: Callable[..., Path],
) -> None:
    long_secret = "canary " + " ".join(secrets.token_hex(4) for _ in range(300))
    files = _files()
    files[".env.dev"] = f"API_KEY='{long_secret}'\nDERIVED=x\nODD_TOKEN=y\n"
    repo = make_repo(files)
    for fmt in ("json", "yaml"):
        out = shipway("synth", "api", "--env", "dev", "--format", fmt, repo=repo).stdout
        assert long_secret.split()[150] not in out, fmt
        out = shipway("print", "api", "--env", "dev", "--format", fmt, repo=repo).stdout
        assert long_secret.split()[150] not in out, fmt


def test_a_secret_inside_another_variable_is_masked_in_error_messages(
    make_repo: Callable[..., Path],
) -> None:
    files = _files()
    files["services/api/serverless.yml"] += "custom:\n  config: ${file(${env:API_KEY}.yml)}\n"
    repo = make_repo(files)
    for args in (
        ("validate",),
        ("print", "api", "--env", "dev"),
        ("synth", "api", "--env", "dev"),
        ("run", "dev"),
    ):
        proc = shipway(*args, repo=repo)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "***.yml" in proc.stderr, (args, proc.stderr)
        assert _leaks(proc.stdout + proc.stderr) == [], args
        assert "Traceback" not in proc.stderr


def _state_files_holding_secrets(repo: Path) -> list[str]:
    """Files under the state directory whose bytes hold a secret (the database included)."""
    found = []
    for path in (repo / ".shipway").rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(s.encode() in data for s in (CANARY, ODD[-12:])):
                found.append(path.relative_to(repo / ".shipway").as_posix())
    return sorted(found)


def test_function_logs_errors_and_release_manifests_hold_no_secret(repo: Path) -> None:
    assert shipway("run", "dev", repo=repo).returncode == 0
    ok = shipway("invoke", "f", "--env", "dev", repo=repo)
    assert ok.returncode == 0, ok.stderr
    failed = shipway("invoke", "f", "--env", "dev", "--data", '{"fail": true}', repo=repo)
    assert failed.returncode == 1
    assert "failed with ***" in failed.stdout  # DERIVED holds a secret: all of it is masked
    assert _leaks(failed.stdout + failed.stderr) == []
    log = (repo / ".shipway/envs/dev/logs/api.log").read_text()
    assert "the key is ***" in log and "failed with ***" in log
    manifest = json.loads((repo / ".shipway/envs/dev/current/release.json").read_text())
    env = manifest["services"]["api"]["functions"]["f"]["environment"]
    assert env["API_KEY"] == env["DERIVED"] == env["ODD"] == "***"
    # the functions need the real values: only the release's owner-only secrets file has them
    assert _state_files_holding_secrets(repo) == ["envs/dev/releases/1/secrets.json"]


def test_a_failed_deploy_naming_a_resolved_secret_is_stored_masked(
    make_repo: Callable[..., Path],
) -> None:
    files = _files()
    files["services/api/serverless.yml"] = files["services/api/serverless.yml"].replace(
        "handler: handler.f", "handler: ${env:API_KEY}.f"
    )
    repo = make_repo(files)
    proc = shipway("run", "dev", "--json", repo=repo)
    assert proc.returncode == 1, proc.stderr
    run = json.loads(proc.stdout)
    assert run["state"] == "failed" and "***.f" in run["error"]
    runs = shipway("runs", "--json", repo=repo)
    for text in (proc.stdout, proc.stderr, runs.stdout, shipway("status", repo=repo).stdout):
        assert _leaks(text) == []


def test_a_malformed_env_line_is_reported_without_its_value(
    make_repo: Callable[..., Path],
) -> None:
    files = _files()
    files[".env.dev"] = f'API_KEY="{CANARY}\nOTHER=1\n'  # the quote is never closed
    repo = make_repo(files)
    proc = shipway("validate", repo=repo)
    assert proc.returncode == 2
    assert ".env.dev:1" in proc.stderr and "`API_KEY=…`" in proc.stderr
    assert _leaks(proc.stderr) == []


def test_secrets_declared_in_shipway_yml_are_masked(make_repo: Callable[..., Path]) -> None:
    files = _files()
    files["shipway.yml"] = (
        "project: sec\nenvironments:\n  dev:\n    branch: dev\n    secrets: [DATABASE_URL]\n"
    )
    files[".env.dev"] += "DATABASE_URL=postgres://db.internal/ledger-xyzzy\n"
    files["services/api/serverless.yml"] = files["services/api/serverless.yml"].replace(
        "    ODD:", "    DB: ${env:DATABASE_URL}\n    ODD:"
    )
    repo = make_repo(files)
    out = shipway("print", "api", "--env", "dev", repo=repo)
    assert out.returncode == 0, out.stderr
    assert "ledger-xyzzy" not in out.stdout and "DB: '***'" in out.stdout


def test_securestring_parameters_resolved_in_serverless_yml_are_secrets(
    aws_env: str, make_repo: Callable[..., Path]
) -> None:
    import boto3

    ssm = boto3.client("ssm")
    secret = f"ssm-secure-{secrets.token_hex(8)}"
    ssm.put_parameter(Name="/sec/db", Value=secret, Type="SecureString")
    ssm.put_parameter(Name="/sec/url", Value="https://plain.example", Type="String")
    files = _files()
    files["shipway.yml"] += "  prod:\n    branch: main\n    target: {aws: {region: us-east-1}}\n"
    files[".env.prod"] = files[".env.dev"]
    files["services/api/serverless.yml"] = files["services/api/serverless.yml"].replace(
        "    ODD:", "    DB: ${ssm:/sec/db}\n    URL: ${ssm:/sec/url}\n    ODD:"
    )
    files["services/api/handler.py"] = HANDLER.replace('os.environ["API_KEY"]', 'os.environ["DB"]')
    repo = make_repo(files)
    # an aws environment reads AWS's parameters (moto's here)
    for args in (("print", "api", "--env", "prod"), ("synth", "api", "--env", "prod")):
        out = shipway(*args, repo=repo)
        assert out.returncode == 0, out.stderr
        assert secret not in out.stdout and "https://plain.example" in out.stdout, args
    # a local one reads the local emulator's, which `shipway ssm put` writes
    for name, value, kind in (
        ("/sec/db", secret, "--secure"),
        ("/sec/url", "https://p.example", ""),
    ):
        command = [
            SHIPWAY,
            "ssm",
            "put",
            "dev",
            name,
            *([kind] if kind else []),
            "--repo",
            str(repo),
        ]
        put = subprocess.run(command, input=value, capture_output=True, text=True, timeout=60)
        assert put.returncode == 0, put.stderr
    assert shipway("run", "dev", repo=repo).returncode == 0
    assert shipway("invoke", "f", "--env", "dev", repo=repo).returncode == 0
    assert "the key is ***" in (repo / ".shipway/envs/dev/logs/api.log").read_text()
    holding = sorted(
        p.relative_to(repo / ".shipway").as_posix()
        for p in (repo / ".shipway").rglob("*")
        if p.is_file() and secret.encode() in p.read_bytes()
    )
    # where secrets are kept, owner-only: the parameter store and the release's secrets
    assert holding == ["emulator/parameters.json", "envs/dev/releases/1/secrets.json"]
