"""Taking over a stack the Serverless Framework deployed: the stack is made on moto from
the templates `serverless package` (v3.40.0, the oracle) writes, as `serverless deploy`
does, then Shipway deploys the same service into it. Nothing may be replaced: every
resource keeps its physical ID and every function its name."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from shipway.archive import sha256_of
from shipway.config.serverless import load_service
from shipway.model import Artifact, DeployInput, ServiceOutcome, code_key
from shipway.synth.template import synthesize
from shipway.targets.aws.client import AwsClient
from shipway.targets.aws.deployer import Deployer
from tests.conftest import ROOT
from tests.moto import REGION

ORACLE = os.environ.get("SHIPWAY_SLS_ORACLE", "")
pytestmark = [
    pytest.mark.skipif(
        not (ORACLE and Path(ORACLE).is_file() and shutil.which("node")),
        reason="SHIPWAY_SLS_ORACLE (serverless@3.40.0) not available",
    ),
    pytest.mark.usefixtures("aws_env"),
]

#: made anew by every deploy, by the Framework too (new logical IDs, never "replaced")
PER_DEPLOY = ("AWS::ApiGateway::Deployment", "AWS::Lambda::Version")


def _oracle() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synth_oracle", ROOT / "bench/synth_oracle.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def framework_deploy(tmp_path: Path, service_dir: Path) -> dict[str, Any]:
    """`serverless package`, then what `serverless deploy` does with its output."""
    oracle = _oracle()
    tmp_path.mkdir(parents=True, exist_ok=True)
    update, _ = oracle.run_oracle(Path(ORACLE), service_dir, tmp_path)
    out = next(tmp_path.rglob("cloudformation-template-create-stack.json")).parent
    create = json.loads((out / "cloudformation-template-create-stack.json").read_text())
    cfn = boto3.client("cloudformation", region_name=REGION)
    stack = f"{service_dir.name}-dev"
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(create))
    bucket = AwsClient(REGION).stack_output(stack, "ServerlessDeploymentBucketName")
    key = next(
        r["Properties"]["Code"]["S3Key"]
        for r in update["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    )
    zip_path = out / f"{service_dir.name}.zip"
    boto3.client("s3", region_name=REGION).upload_file(str(zip_path), bucket, key)
    cfn.update_stack(
        StackName=stack,
        TemplateBody=json.dumps(update),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    return dict(update)


def physical_ids(stack: str) -> dict[str, tuple[str, str]]:
    cfn = boto3.client("cloudformation", region_name=REGION)
    rows = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: (r["ResourceType"], r["PhysicalResourceId"]) for r in rows}


def function_names() -> set[str]:
    functions = boto3.client("lambda", region_name=REGION).list_functions()["Functions"]
    return {f["FunctionName"] for f in functions}


def shipway_input(tmp_path: Path, service_dir: Path) -> DeployInput:
    env = _oracle().EXAMPLE_ENV
    definition = load_service(
        service_dir, f"{service_dir.name}/serverless.yml", stage="dev", env=env, params={}
    )
    zip_path = tmp_path / "shipway.zip"
    shutil.make_archive(str(zip_path.with_suffix("")), "zip", service_dir)
    sha = sha256_of(zip_path)
    template = synthesize(
        definition,
        artifact_key=code_key(definition.service, "dev", sha),
        code_sha256=sha,
        timestamp_ms=1,
    )
    artifact = Artifact(definition.service, zip_path, sha, zip_path.stat().st_size)
    return DeployInput(definition, artifact, template=template)


def test_a_framework_stack_is_taken_over_in_place(tmp_path: Path) -> None:
    service_dir = ROOT / "examples/ledger/services/accounts"
    theirs = framework_deploy(tmp_path / "framework", service_dir)
    before = physical_ids("accounts-dev")
    names_before = function_names()
    assert names_before == {
        "accounts-dev-getAccount",
        "accounts-dev-listAccounts",
        "accounts-dev-openAccount",
    }

    item = shipway_input(tmp_path, service_dir)
    done = Deployer(AwsClient(REGION)).deploy(item)
    assert done.outcome == ServiceOutcome.DEPLOYED and not done.created

    after = physical_ids("accounts-dev")
    kept = {k: v for k, v in before.items() if v[0] not in PER_DEPLOY}
    assert {k: after.get(k) for k in kept} == kept  # same logical IDs, same resources
    assert function_names() == names_before
    # the change set modified what was there; it removed only per-deploy resources
    removed = {c.logical_id for c in done.changes if c.action == "Remove"}
    assert all(theirs["Resources"][r]["Type"] in PER_DEPLOY for r in removed)
    fn = boto3.client("lambda", region_name=REGION).get_function(
        FunctionName="accounts-dev-getAccount"
    )
    assert fn["Code"]["Location"].endswith("/" + code_key("accounts", "dev", item.artifact.sha256))
