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


LAYERED = """\
service: layered
frameworkVersion: "3"
provider:
  name: aws
  runtime: python3.11
  layers:
    - arn:aws:lambda:us-east-1:123456789012:layer:shared:3
layers:
  common:
    path: layer
    name: layered-common-dev
    description: shared code
    compatibleRuntimes: [python3.11]
    compatibleArchitectures: [x86_64]
    licenseInfo: MIT
    allowedAccounts: ["123456789012", "*"]
  retained_one:
    path: layer2
    retain: true
    package:
      patterns: ["!python/skip.py"]
functions:
  api:
    handler: app.handler
    layers:
      - Ref: CommonLambdaLayer
      - arn:aws:lambda:us-east-1:123456789012:layer:other:1
    events:
      - http: GET /
  plain:
    handler: app.handler
"""

PROVIDER_LAYERS = """\
service: deps
frameworkVersion: "3"
provider:
  name: aws
  runtime: python3.11
  layers:
    - Ref: PythonDashdepsLambdaLayer
layers:
  python-deps:
    path: deps
functions:
  one:
    handler: app.handler
    events:
      - httpApi: GET /one
  two:
    handler: app.handler
    versionFunction: false
"""


def _service(root: Path, text: str, layer_dirs: tuple[str, ...]) -> Path:
    root.mkdir(parents=True)
    (root / "serverless.yml").write_text(text, encoding="utf-8")
    (root / "app.py").write_text("def handler(e, c):\n    return {}\n", encoding="utf-8")
    for folder in layer_dirs:
        (root / folder / "python").mkdir(parents=True)
        (root / folder / "python" / f"{folder}_mod.py").write_text("X = 1\n", encoding="utf-8")
        (root / folder / "python" / "skip.py").write_text("", encoding="utf-8")
    return root


def test_layers_match_the_framework(tmp_path: Path) -> None:
    """Service layers (hash, retain, permissions, outputs), `{Ref: …}` and ARN layers of
    functions and of the provider, with the layers' zips in the version IDs."""
    oracle = _bench()
    services = [
        _service(tmp_path / "layered", LAYERED, ("layer", "layer2")),
        _service(tmp_path / "deps", PROVIDER_LAYERS, ("deps",)),
    ]
    report = {}
    for service_dir in services:
        theirs, _ = oracle.run_oracle(Path(ORACLE), service_dir, tmp_path)
        inputs = oracle.oracle_inputs(theirs)
        assert inputs["layer_artifacts"]  # the oracle's zips are what the hashes are of
        ours = oracle.synthesize_dir(service_dir, **inputs)
        report[service_dir.name] = oracle.compare(ours, theirs)
        assert lint(ours, errors_only=True, ignore=("E2533",)) == []
    assert report == {"layered": [], "deps": []}


PREBUILT = """\
service: prebuilt
frameworkVersion: "3"
provider:
  name: aws
  runtime: python3.11
layers:
  vendor:
    package:
      artifact: vendor.zip
  built:
    path: layer
functions:
  f:
    handler: app.handler
    layers:
      - Ref: VendorLambdaLayer
      - Ref: BuiltLambdaLayer
"""


def test_a_prebuilt_layer_zip_matches_the_framework(tmp_path: Path) -> None:
    """`package.artifact`: the zip as the build left it, its name in the S3 key, its
    bytes in the hash and the version ID."""
    import zipfile

    from shipway.archive import sha256_of
    from shipway.model import LayerArtifact

    oracle = _bench()
    service_dir = _service(tmp_path / "prebuilt", PREBUILT, ("layer",))
    vendor = service_dir / "vendor.zip"
    with zipfile.ZipFile(vendor, "w") as zf:
        zf.writestr("python/vendor_mod.py", "V = 1\n")
    theirs, _ = oracle.run_oracle(Path(ORACLE), service_dir, tmp_path)
    inputs = oracle.oracle_inputs(theirs)
    inputs["layer_artifacts"]["vendor"] = LayerArtifact(
        "vendor", vendor, sha256_of(vendor), vendor.stat().st_size
    )
    inputs["layer_keys"]["vendor"] = theirs["Outputs"]["VendorLambdaLayerS3Key"]["Value"]
    assert inputs["layer_keys"]["vendor"].endswith("/vendor.zip")
    ours = oracle.synthesize_dir(service_dir, **inputs)
    assert oracle.compare(ours, theirs) == []
