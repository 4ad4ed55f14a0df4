"""Layers and a resources-only service deployed to an aws environment (moto's server):
the layer zips uploaded under their keys, the functions' layers the stacks' ARNs, and a
service whose folder holds only serverless.yml deployed with no code."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from shipway.app import App
from shipway.model import RunState, code_key
from tests.conftest import git
from tests.moto import ACCOUNT_ID, REGION

pytestmark = pytest.mark.usefixtures("aws_env")

SHARED_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:base-shared:1"

FILES = {
    "shipway.yml": (
        "project: layered\nbuild: {sandbox: off}\nenvironments:\n"
        f"  prod: {{branch: main, target: {{aws: {{region: {REGION}}}}}}}\n"
    ),
    "services/base/serverless.yml": (
        "service: base\nprovider: {name: aws, runtime: python3.11}\n"
        "layers:\n  shared:\n    path: layer\n    name: base-shared\n"
    ),
    "services/base/layer/python/shared_lib.py": "WHO = 1\n",
    "services/tables/serverless.yml": (
        "service: tables\nprovider: {name: aws, runtime: python3.11}\n"
        "resources:\n  Resources:\n    Jobs:\n      Type: AWS::SQS::Queue\n"
    ),
    # moto's CloudFormation answers a `Ref` to a LayerVersion with no ARN, and leaves a
    # stack's outputs as they were after a change set: the function names the sibling's
    # layer by its ARN here (the `${cf:}` and `{Ref}` forms are the oracle tests' part)
    "services/api/serverless.yml": (
        "service: api\nprovider: {name: aws, runtime: python3.11}\n"
        "layers:\n  deps:\n    path: deps\n"
        f"functions:\n  hello:\n    handler: app.hello\n    layers:\n      - {SHARED_ARN}\n"
    ),
    "services/api/app.py": "def hello(event, context):\n    return 1\n",
    "services/api/deps/python/own_lib.py": "X = 1\n",
}


def _bucket(stack: str) -> str:
    cfn = boto3.client("cloudformation", region_name=REGION)
    found: dict[str, Any] = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    return outputs["ServerlessDeploymentBucketName"]


def _template(stack: str) -> dict[str, Any]:
    cfn = boto3.client("cloudformation", region_name=REGION)
    body = cfn.get_template(StackName=stack)["TemplateBody"]
    return body if isinstance(body, dict) else dict(json.loads(body))


def _keys(bucket: str) -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_layers_and_a_resources_only_service_deploy_together(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(FILES, branches=())
    git(repo, "checkout", "-q", "main")
    outcome = App(repo).run("prod")
    assert outcome.run.state is RunState.SUCCEEDED, outcome.run.error
    artifacts = {b.service: b.artifact for b in outcome.builds if b.artifact}

    # no functions: only the layer's zip is uploaded, under its content-addressed key
    (shared,) = artifacts["base"].layers
    assert _keys(_bucket("base-prod")) == [code_key("base", "prod", shared.sha256)]
    (deps,) = artifacts["api"].layers
    assert _keys(_bucket("api-prod")) == sorted(
        code_key("api", "prod", sha) for sha in (artifacts["api"].sha256, deps.sha256)
    )
    # the stacks name those keys (moto's Lambda keeps no layers of a function it makes
    # from a stack: the deployed template is what is checked)
    layer = _template("base-prod")["Resources"]["SharedLambdaLayer"]["Properties"]
    assert layer["Content"]["S3Key"] == code_key("base", "prod", shared.sha256)
    assert layer["LayerName"] == "base-shared"
    api = _template("api-prod")["Resources"]
    assert api["DepsLambdaLayer"]["Properties"]["Content"]["S3Key"] == code_key(
        "api", "prod", deps.sha256
    )
    assert api["HelloLambdaFunction"]["Properties"]["Layers"] == [SHARED_ARN]

    # resources only: its stack holds its resources and no code
    template = _template("tables-prod")
    assert "Jobs" in template["Resources"]
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::Lambda")]
    assert _keys(_bucket("tables-prod")) == []
