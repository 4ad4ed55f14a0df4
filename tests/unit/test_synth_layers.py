"""The service's own `layers:` in the template, as `serverless package` v3.40.0 writes them
(the oracle comparison is tests/functional/test_synth_oracle.py)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from shipway.archive import sha256_of
from shipway.errors import ShipwayError
from shipway.model import Function, LayerArtifact, ServiceDefinition
from shipway.synth import synthesize
from shipway.synth.jsutil import js_stringify
from shipway.synth.layers import layer_sources


def definition(doc: dict[str, Any]) -> ServiceDefinition:
    functions = tuple(
        Function(name, spec["handler"], "python3.11", 6, 1024, {})
        for name, spec in (doc.get("functions") or {}).items()
    )
    return ServiceDefinition("svc", "dev", "us-east-1", "python3.11", functions, resolved=doc)


def doc(**layer: Any) -> dict[str, Any]:
    return {
        "service": "svc",
        "provider": {"name": "aws", "runtime": "python3.11"},
        "layers": {"common-deps": {"path": "layer", **layer}},
        "functions": {
            "api": {"handler": "app.handler", "layers": [{"Ref": "CommonDashdepsLambdaLayer"}]}
        },
    }


def test_layer_version_outputs_and_function_reference() -> None:
    template = synthesize(
        definition(doc(description="deps", compatibleRuntimes=["python3.11"])),
        artifact_key="serverless/svc/dev/code-artifacts/abc.zip",
    )
    layer = template["Resources"]["CommonDashdepsLambdaLayer"]
    assert layer == {
        "Type": "AWS::Lambda::LayerVersion",
        "Properties": {
            "Content": {
                "S3Bucket": {"Ref": "ServerlessDeploymentBucket"},
                "S3Key": "serverless/svc/dev/code-artifacts/common-deps.zip",
            },
            "LayerName": "common-deps",
            "Description": "deps",
            "CompatibleRuntimes": ["python3.11"],
        },
    }
    outputs = template["Outputs"]
    assert outputs["CommonDashdepsLambdaLayerQualifiedArn"] == {
        "Description": "Current Lambda layer version",
        "Value": {"Ref": "CommonDashdepsLambdaLayer"},
        "Export": {"Name": "sls-svc-dev-CommonDashdepsLambdaLayerQualifiedArn"},
    }
    assert outputs["CommonDashdepsLambdaLayerS3Key"]["Value"] == (
        "serverless/svc/dev/code-artifacts/common-deps.zip"
    )
    fn = template["Resources"]["ApiLambdaFunction"]["Properties"]
    assert fn["Layers"] == [{"Ref": "CommonDashdepsLambdaLayer"}]


def test_hash_is_sha1_of_the_resource_json_then_the_zip(tmp_path: Path) -> None:
    zip_path = tmp_path / "common-deps.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("python/common.py", "X = 1\n")
    art = LayerArtifact("common-deps", zip_path, sha256_of(zip_path), zip_path.stat().st_size)
    template = synthesize(definition(doc()), layer_artifacts={"common-deps": art})
    resource = {
        "Type": "AWS::Lambda::LayerVersion",
        "Properties": {
            "Content": {"S3Bucket": {"Ref": "ServerlessDeploymentBucket"}},
            "LayerName": "common-deps",
        },
    }
    expected = hashlib.sha1(js_stringify(resource).encode() + zip_path.read_bytes()).hexdigest()
    assert template["Outputs"]["CommonDashdepsLambdaLayerHash"]["Value"] == expected
    # the layer's code is in the function's version ID: another zip, another version
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("python/common.py", "X = 2\n")
    changed = synthesize(
        definition(doc()),
        layer_artifacts={"common-deps": LayerArtifact("common-deps", other, sha256_of(other), 1)},
    )

    def versions(t: dict[str, Any]) -> set[str]:
        return {k for k in t["Resources"] if k.startswith("ApiLambdaVersion")}

    assert versions(template) != versions(changed)


def test_retain_and_allowed_accounts() -> None:
    template = synthesize(definition(doc(retain=True, allowedAccounts=["*"])))
    ids = [k for k in template["Resources"] if "LambdaLayer" in k]
    layer_id = next(k for k in ids if k.startswith("CommonDashdepsLambdaLayer"))
    sha = template["Outputs"]["CommonDashdepsLambdaLayerHash"]["Value"]
    assert layer_id == f"CommonDashdepsLambdaLayer{sha}"
    assert template["Resources"][layer_id]["DeletionPolicy"] == "Retain"
    permission = template["Resources"][f"CommonDashdepsWildLambdaLayerPermission{sha}"]
    assert permission["Properties"] == {
        "Action": "lambda:GetLayerVersion",
        "LayerVersionArn": {"Ref": layer_id},
        "Principal": "*",
    }


def test_custom_key_and_deployment_bucket() -> None:
    service = doc(name="shared-deps")
    service["provider"]["deploymentBucket"] = "my-bucket"
    template = synthesize(definition(service), layer_keys={"common-deps": "k/1.zip"})
    props = template["Resources"]["CommonDashdepsLambdaLayer"]["Properties"]
    assert props["Content"] == {"S3Bucket": "my-bucket", "S3Key": "k/1.zip"}
    assert props["LayerName"] == "shared-deps"


@pytest.mark.parametrize(
    ("layer", "key"),
    [
        ({}, "layers.common-deps.path"),
        ({"path": "../other"}, "layers.common-deps.path"),
        ({"path": "layer", "runtime": "python3.11"}, "layers.common-deps.runtime"),
        (
            {"package": {"artifact": "../x.zip"}},
            "layers.common-deps.package.artifact",
        ),
        ({"path": "layer", "package": {"patterns": "x"}}, "layers.common-deps.package.patterns"),
    ],
)
def test_bad_layers_name_the_key(layer: dict[str, Any], key: str) -> None:
    service = doc()
    service["layers"]["common-deps"] = layer
    with pytest.raises(ShipwayError) as info:
        synthesize(definition(service))
    assert info.value.where is not None and info.value.where.key == key


def test_layer_patterns_for_the_build() -> None:
    service = doc(package={"patterns": ["!**/tests/**"], "exclude": ["*.md"]})
    service["package"] = {"patterns": ["!*.txt"]}
    assert layer_sources("serverless.yml", service) == (
        ("common-deps", "layer", ("!*.md", "!*.txt", "!**/tests/**"), None),
    )
