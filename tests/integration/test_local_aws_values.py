"""On a local environment, `${aws:accountId}` and `${aws:region}` are the local AWS
emulator's: no AWS is asked (the test gives the subprocess no credentials at all)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.cli import shipway

SERVERLESS = """service: ids
provider:
  name: aws
  runtime: python3.12
  region: eu-west-1
  environment:
    ROLE: arn:aws:iam::${aws:accountId}:role/worker
    WHERE: ${aws:region}
functions:
  f:
    handler: h.f
"""


def test_account_and_region_are_the_emulators(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    repo = make_repo(
        {
            "shipway.yml": "project: ids\nenvironments:\n  dev:\n    branch: dev\n",
            "services/ids/serverless.yml": SERVERLESS,
            "services/ids/h.py": "def f(e, c):\n    return 1\n",
        },
        branches=("dev",),
    )
    checked = shipway("validate", repo=repo)
    assert checked.returncode == 0, checked.stderr
    printed = shipway("print", "ids", "--env", "dev", "--format", "json", repo=repo)
    assert printed.returncode == 0, printed.stderr
    environment = json.loads(printed.stdout)["provider"]["environment"]
    assert environment == {"ROLE": "arn:aws:iam::123456789012:role/worker", "WHERE": "eu-west-1"}
