"""Buildspec secrets from AWS (parameter-store, secrets-manager) through moto's server:
the build gets the values, no log ever shows them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import boto3

from tests.integration.cli import shipway

BUILDSPEC = """version: 0.2
env:
  parameter-store:
    DB_PASSWORD: /ledger/dev/db-password
  secrets-manager:
    API_TOKEN: ledger/api:token
phases:
  build:
    commands:
      - test "$DB_PASSWORD" = "pg-s3cret-value"
      - test "$API_TOKEN" = "tok-0123456789"
      - echo "connecting with $DB_PASSWORD and $API_TOKEN"
      - mkdir -p dist && cp handler.py dist/
artifacts:
  base-directory: dist
  files: ['**/*']
"""


def repo_with_secrets(make_repo: Callable[..., Path]) -> Path:
    return make_repo(
        {
            "shipway.yml": "project: sec\nenvironments:\n  dev:\n    branch: dev\n",
            "services/api/serverless.yml": (
                "service: api\nprovider:\n  name: aws\n  runtime: python3.11\n"
                "  region: us-east-1\nfunctions:\n  f:\n    handler: handler.f\n"
            ),
            "services/api/handler.py": "def f(e, c):\n    return 1\n",
            "services/api/buildspec.yml": BUILDSPEC,
        }
    )


def test_parameter_store_and_secrets_manager_reach_the_build_masked(
    aws_env: str, make_repo: Callable[..., Path]
) -> None:
    boto3.client("ssm").put_parameter(
        Name="/ledger/dev/db-password", Value="pg-s3cret-value", Type="SecureString"
    )
    boto3.client("secretsmanager").create_secret(
        Name="ledger/api", SecretString=json.dumps({"token": "tok-0123456789"})
    )
    repo = repo_with_secrets(make_repo)
    proc = shipway("run", "dev", repo=repo)
    assert proc.returncode == 0, proc.stderr
    log = shipway("logs", "dev-1", repo=repo).stdout
    assert "connecting with *** and ***" in log
    assert "pg-s3cret-value" not in log and "tok-0123456789" not in log


def test_a_missing_parameter_fails_the_build_naming_it(
    aws_env: str, make_repo: Callable[..., Path]
) -> None:
    repo = repo_with_secrets(make_repo)
    proc = shipway("run", "dev", "--json", repo=repo)
    assert proc.returncode == 1
    run = json.loads(proc.stdout)
    [build] = [j for j in run["jobs"] if j["stage"] == "build"]
    assert build["state"] == "failed"
    assert "/ledger/dev/db-password" in build["error"]
