"""Compare with `serverless package` v3.40.0 when $SHIPWAY_SLS_ORACLE points at its binary.

    SHIPWAY_SLS_ORACLE=/tmp/sls-oracle/node_modules/.bin/serverless \\
        pytest tests/functional/test_synth_oracle.py
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from shipway.synth.lint import lint
from tests.conftest import ROOT

ORACLE = os.environ.get("SHIPWAY_SLS_ORACLE", "")
pytestmark = pytest.mark.skipif(
    not (ORACLE and Path(ORACLE).is_file() and shutil.which("node")),
    reason="SHIPWAY_SLS_ORACLE (serverless@3.40.0) not available",
)


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synth_oracle", ROOT / "bench/synth_oracle.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_match_the_framework(tmp_path: Path) -> None:
    oracle = _bench()
    services = [
        d
        for d in oracle.default_services(tmp_path)
        if d.name
        in (
            "kitchen",
            "accounts",
            "notifications",
            "payments",
            "aws-python-rest-api",
            "aws-python-http-api-with-dynamodb",
            "gatekeeper",
            "gatekeeper-v2",
        )
    ]
    assert services
    report = {}
    for service_dir in services:
        theirs, _ = oracle.run_oracle(Path(ORACLE), service_dir, tmp_path)
        ours = oracle.synthesize_dir(service_dir, **oracle.oracle_inputs(theirs))
        report[service_dir.name] = oracle.compare(ours, theirs)
        assert lint(ours, errors_only=True, ignore=("E2533",)) == []
    assert report == {name: [] for name in report}
