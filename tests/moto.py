"""moto's server on 127.0.0.1 for tests that make real boto3 calls.

- `moto_endpoint` (session): starts `ThreadedMotoServer` on a free port, yields its URL.
- `aws_env` (function): points boto3 at it for one test only (`AWS_ENDPOINT_URL`, fake
  credentials, `AWS_DEFAULT_REGION=us-east-1`, no profile or shared config files) and
  resets moto's state first, so each test starts from an empty account.

When SHIPWAY_TEST_MOTO_ENDPOINT is set (CI starts `moto_server` on 127.0.0.1 and sets
it), that server is used; otherwise one is started in-process for the session.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account

__all__ = ["ACCOUNT_ID", "REGION", "aws_env", "moto_endpoint", "moto_post"]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto server running for the whole test session."""
    external = os.environ.get("SHIPWAY_TEST_MOTO_ENDPOINT")
    if external:
        yield external.rstrip("/")
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def moto_post(endpoint: str, path: str, body: bytes = b"") -> None:
    """POST to moto's control API (`/moto-api/reset`, `/moto-api/reset-auth` …)."""
    request = urllib.request.Request(
        endpoint + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """boto3 pointed at moto for this test; returns the endpoint URL."""
    moto_post(moto_endpoint, "/moto-api/reset")
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    missing = str(tmp_path / "no-aws-config")
    monkeypatch.setenv("AWS_CONFIG_FILE", missing)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", missing)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto_endpoint
