"""The local runtime's AWS endpoints a function is given, from the running server's URL.

boto3 honours `AWS_ENDPOINT_URL_<SERVICE ID>` (botocore's service-specific endpoints), so a
function's `boto3.client("events").put_events(...)` reaches the local EventBridge endpoint
with no change to its code. A variable the function sets itself wins.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["EVENTS_ENDPOINT_ENV", "local_endpoints"]

EVENTS_ENDPOINT_ENV = "AWS_ENDPOINT_URL_EVENTBRIDGE"
_SERVER_FILE = "server.json"  # written by the server while it runs (web/serve.py)


def local_endpoints(state_dir: Path, env: str) -> dict[str, str]:
    """{variable: URL} while a server serves `state_dir`; empty otherwise."""
    try:
        url = json.loads((state_dir / _SERVER_FILE).read_text(encoding="utf-8")).get("url")
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(url, str) or not url.startswith("http://127.0.0.1:"):
        return {}
    return {EVENTS_ENDPOINT_ENV: f"{url}/{env}/_events"}
