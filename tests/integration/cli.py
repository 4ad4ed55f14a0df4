"""Running the `shipway` command as a user does: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SHIPWAY = str(Path(sys.executable).with_name("shipway"))


def shipway(
    *args: str, repo: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    cmd = [SHIPWAY, *args]
    if repo is not None:
        cmd += ["--repo", str(repo)]
    env = {k: v for k, v in os.environ.items() if k != "SHIPWAY_HOME"}
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
    )


def shipway_json(*args: str, repo: Path | None = None) -> Any:
    proc = shipway(*args, "--json", repo=repo)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
