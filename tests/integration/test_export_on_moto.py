"""The exported pipeline on moto's server: the CLI writes the template, CloudFormation
creates its stack (moto's CloudFormation skips CodePipeline and CodeBuild resources), and
the pipeline and projects are then created through boto3 from the very definitions in the
template, with the stack's roles and bucket — and read back as AWS keeps them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import commit_all, git
from tests.integration.cli import shipway
from tests.moto import ACCOUNT_ID, REGION

pytestmark = pytest.mark.usefixtures("aws_env")


def _aws_prod(repo: Path) -> None:
    """The ledger's prod on AWS with an approval before its deploy, committed to main."""
    yml = repo / "shipway.yml"
    yml.write_text(
        yml.read_text().replace(
            "    branch: main\n    target: local\n",
            f"    branch: main\n    target: {{aws: {{region: {REGION}}}}}\n"
            "    mode: queued\n    approval: {before: deploy, timeout: 1h}\n",
        )
    )
    git(repo, "checkout", "-q", "main")
    commit_all(repo, "prod on AWS")


class Resolver:
    """CloudFormation's intrinsic functions, as far as this template uses them, against
    the created stack: Ref, Fn::GetAtt (Arn), Fn::Sub, Fn::If, Fn::Join, AWS::NoValue."""

    def __init__(self, template: dict[str, Any], stack: str, parameters: dict[str, str]) -> None:
        cfn = boto3.client("cloudformation", region_name=REGION)
        listed = cfn.describe_stack_resources(StackName=stack)["StackResources"]
        # (moto lists the resource types it skips without their names)
        self.physical = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in listed
            if "LogicalResourceId" in r
        }
        self.names: dict[str, str] = {}  # the projects' and pipeline's, once made
        self.parameters = {
            **{k: str(v.get("Default", "")) for k, v in template["Parameters"].items()},
            **parameters,
        }
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": stack,
        }
        self.conditions = {
            "HasApprovalTopic": self.parameters.get("ApprovalTopicArn", "") != "",
            "HasExtraDeployPolicies": self.parameters.get("ExtraDeployPolicyArns", "") != "",
            "HasWheel": self.parameters.get("ShipwayWheelKey", "") != "",
        }
        self.iam = boto3.client("iam", region_name=REGION)

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in ("BuildProject", "DeployProject", "Pipeline"):
            return self.names[name]
        return self.physical[name]

    def arn(self, name: str) -> str:
        if name.endswith("Role"):
            return str(self.iam.get_role(RoleName=self.physical[name])["Role"]["Arn"])
        if name == "ArtifactBucket":
            return f"arn:aws:s3:::{self.physical[name]}"
        kind = "project" if name.endswith("Project") else "pipeline"
        return f"arn:aws:codebuild:{REGION}:{ACCOUNT_ID}:{kind}/{self.names[name]}"

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self(x) for x in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return _NO_VALUE if value["Ref"] == "AWS::NoValue" else self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            return self.arn(value["Fn::GetAtt"][0])
        if set(value) == {"Fn::Sub"}:
            return re.sub(
                r"\$\{([A-Za-z0-9:]+)(\.Arn)?\}",
                lambda m: self.arn(m[1]) if m[2] else self.ref(m[1]),
                value["Fn::Sub"],
            )
        if set(value) == {"Fn::If"}:
            name, yes, no = value["Fn::If"]
            return self(yes if self.conditions[name] else no)
        if set(value) == {"Fn::Join"}:
            sep, items = value["Fn::Join"]
            return sep.join(str(i) for i in self(items))
        return {k: v for k, v in ((k, self(v)) for k, v in value.items()) if v is not _NO_VALUE}


_NO_VALUE = object()


def _api(value: Any, keep: bool = False) -> Any:
    """CloudFormation's property names as the API's (camelCase); a `Configuration` map
    keeps its keys and has string values, as CodePipeline's API takes it."""
    if isinstance(value, list):
        return [_api(v, keep) for v in value]
    if not isinstance(value, dict):
        return value
    if keep:
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
    return {
        _API_NAMES.get(k, k[0].lower() + k[1:]): _api(v, keep=k == "Configuration")
        for k, v in value.items()
    }


_API_NAMES = {"BuildSpec": "buildspec"}  # the one name that is not camelCase alone


def test_the_exported_stack_and_its_pipeline_are_made_on_moto(
    ledger_repo: Path, tmp_path: Path
) -> None:
    _aws_prod(ledger_repo)
    out = tmp_path / "prod.json"
    exported = shipway("export", "codepipeline", "prod", "--out", str(out), repo=ledger_repo)
    assert exported.returncode == 0, exported.stderr
    template = json.loads(out.read_text())
    parameters = {"RepositoryName": "ledger", "ShipwayWheelKey": "shipway/0.1.0/x/shipway.whl"}
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(
        StackName="ledger-prod-pipeline",
        TemplateBody=out.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cfn.describe_stacks(StackName="ledger-prod-pipeline")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    resolve = Resolver(template, "ledger-prod-pipeline", parameters)
    resources = template["Resources"]
    # the bucket as the template asks: encrypted, versioned, expiring
    s3 = boto3.client("s3", region_name=REGION)
    bucket = resolve.physical["ArtifactBucket"]
    # (moto's CloudFormation applies a bucket's encryption, not its other settings)
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # the projects and the pipeline, from the template's own definitions
    codebuild = boto3.client("codebuild", region_name=REGION)
    for logical in ("BuildProject", "DeployProject"):
        props = resolve(resources[logical]["Properties"])
        resolve.names[logical] = props["Name"]
        request = _api(props)
        # moto asks a CODEPIPELINE source and artifacts for a location; AWS does not
        request["source"]["location"] = request["artifacts"]["location"] = "codepipeline"
        codebuild.create_project(**request)
    (build, deploy) = codebuild.batch_get_projects(
        names=["ledger-prod-build", "ledger-prod-deploy"]
    )["projects"]
    assert build["serviceRole"] == resolve.arn("BuildRole")
    assert 'shipway build "$SHIPWAY_ENV"' in build["source"]["buildspec"]
    assert 'shipway deploy "$SHIPWAY_ENV"' in deploy["source"]["buildspec"]
    variables = {v["name"]: v["value"] for v in deploy["environment"]["environmentVariables"]}
    assert variables["SHIPWAY_ENV"] == "prod" and variables["SHIPWAY_BRANCH"] == "main"
    assert variables["SHIPWAY_WHEEL"] == f"s3://{bucket}/shipway/0.1.0/x/shipway.whl"
    definition = _api(resolve(resources["Pipeline"]["Properties"]))
    pipelines = boto3.client("codepipeline", region_name=REGION)
    pipelines.create_pipeline(pipeline=definition)
    got = pipelines.get_pipeline(name="ledger-prod")["pipeline"]
    assert got["roleArn"] == resolve.arn("PipelineRole")
    assert got["artifactStore"] == {"type": "S3", "location": bucket}
    assert [s["name"] for s in got["stages"]] == ["Source", "Build", "ApproveDeploy", "Deploy"]
    # as AWS gives them back: an action's artifact lists are there, empty or not
    for stage in definition["stages"]:
        for action in stage["actions"]:
            action.setdefault("inputArtifacts", [])
            action.setdefault("outputArtifacts", [])
    assert got["stages"] == definition["stages"]
    approve = got["stages"][2]["actions"][0]
    assert approve["actionTypeId"]["provider"] == "Manual"
    assert approve["configuration"]["CustomData"].endswith("#{BuildVariables.SHIPWAY_PLAN}")
    source = got["stages"][0]["actions"][0]["configuration"]
    assert source["RepositoryName"] == "ledger" and source["BranchName"] == "main"
    # what starts it: the EventBridge rule on the repository's branch, aimed at the
    # pipeline (moto's CloudFormation leaves a `${Pipeline}` it does not make unresolved,
    # so the rule is read from the template, resolved against what was made)
    events = boto3.client("events", region_name=REGION)
    (made,) = events.list_rules()["Rules"]
    assert json.loads(made["EventPattern"])["detail"]["referenceName"] == ["main"]
    resolve.names["Pipeline"] = "ledger-prod"
    rule = resolve(resources["StartRule"]["Properties"])
    arn = pipelines.get_pipeline(name="ledger-prod")["metadata"]["pipelineArn"]
    assert [t["Arn"] for t in rule["Targets"]] == [arn]
    assert rule["Targets"][0]["RoleArn"] == resolve.arn("StartRole")


def test_upload_puts_this_shipways_wheel_in_the_bucket(ledger_repo: Path, tmp_path: Path) -> None:
    import io
    import zipfile

    _aws_prod(ledger_repo)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="ledger-prod-artifacts")
    proc = shipway(
        "export",
        "codepipeline",
        "prod",
        "--upload",
        "ledger-prod-artifacts",
        repo=ledger_repo,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    key = re.search(r"ShipwayWheelKey=(\S+)", proc.stderr)
    assert key is not None, proc.stderr
    body = s3.get_object(Bucket="ledger-prod-artifacts", Key=key[1])["Body"].read()
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert "shipway/__init__.py" in names and "shipway/export/codepipeline.py" in names
    from shipway import __version__

    assert key[1].endswith(".whl") and key[1].startswith(f"shipway/{__version__}/")
