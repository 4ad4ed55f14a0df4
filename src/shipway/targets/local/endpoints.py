"""The local runtime's AWS endpoints a function is given, from the running server's file.

boto3 honours `AWS_ENDPOINT_URL_<SERVICE ID>` (botocore's service-specific endpoints), so a
function's `boto3.client("events").put_events(...)` reaches the local EventBridge endpoint
with no change to its code. A variable the function sets itself wins.
"""

from __future__ import annotations

import json
from pathlib import Path

from shipway.targets.local.emulator import SERVER_FILE, emulator_credentials

__all__ = ["EVENTS_ENDPOINT_ENV", "local_endpoints"]

EVENTS_ENDPOINT_ENV = "AWS_ENDPOINT_URL_EVENTBRIDGE"


def local_endpoints(state_dir: Path, env: str) -> dict[str, str]:
    """{variable: value} while a server serves `state_dir`; empty otherwise: its local AWS
    emulator for every AWS service (`AWS_ENDPOINT_URL`, with the emulator's credentials),
    the local EventBridge endpoint for EventBridge."""
    try:
        info = json.loads((state_dir / SERVER_FILE).read_text(encoding="utf-8"))
        url = info.get("url")
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(url, str) or not url.startswith("http://127.0.0.1:"):
        return {}
    out: dict[str, str] = {}
    emulator = info.get("emulator")
    if isinstance(emulator, str) and emulator.startswith("http://127.0.0.1:"):
        out.update(emulator_credentials(emulator))
    out[EVENTS_ENDPOINT_ENV] = f"{url}/{env}/_events"
    return out
