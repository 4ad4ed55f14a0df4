"""The exported pipeline's two CodeBuild projects and their roles: Build (`shipway build`,
no deploy rights) and Deploy (`shipway deploy`, CloudFormation on the environment's own
stacks: iam.py)."""

from __future__ import annotations

from typing import Any

from shipway.export.buildspec import build_buildspec, deploy_buildspec
from shipway.export.iam import (
    MAX_MANAGED_POLICIES,
    deploy_statements,
    managed_policies,
    read_statements,
)
from shipway.export.parts import TemplateParts, assumed_by, bucket_statements, repo_arn
from shipway.model import AwsTarget

__all__ = ["codebuild_projects"]

_MAX_BUILD_MINUTES = 2160  # CodeBuild: 36 hours


def codebuild_projects(parts: TemplateParts, stacks: list[str], region: str) -> None:
    target = parts.env.target
    assert isinstance(target, AwsTarget)
    base = [
        *bucket_statements(),
        *_clone_statements(parts),
        *read_statements(region),
    ]
    if target.role_arn:  # deploys as another role (another account)
        base.append({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": target.role_arn})
    for step, buildspec in (("Build", build_buildspec()), ("Deploy", deploy_buildspec())):
        logs = {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                f":log-group:/aws/codebuild/{parts.name}-{step.lower()}*"
            },
        }
        role: dict[str, Any] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": assumed_by("codebuild.amazonaws.com"),
                "Policies": [
                    {
                        "PolicyName": f"{step.lower()}-basics",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [logs, *base],
                        },
                    }
                ],
            },
        }
        if step == "Deploy":
            _deploy_policies(parts, role, stacks, region)
        parts.resources[f"{step}Role"] = role
        parts.resources[f"{step}Project"] = _project(parts, step, buildspec, region)


def _deploy_policies(
    parts: TemplateParts, role: dict[str, Any], stacks: list[str], region: str
) -> None:
    documents = managed_policies(deploy_statements(stacks, region))
    if len(documents) > MAX_MANAGED_POLICIES - 1:  # one place kept for the team's own
        # every stack's own ARNs do not fit IAM's limits: the stage's, by pattern
        stage = parts.env.stage
        documents = managed_policies(deploy_statements([f"*-{stage}"], region))
        parts.notes.append(
            f"the Deploy role names the resources of stacks `*-{stage}` (any stack of the "
            f"stage in the account): {len(stacks)} services' own ARNs need more than "
            f"{MAX_MANAGED_POLICIES - 1} managed policies of IAM's 6,144 characters. For "
            "a role scoped to each service, split the services into several environments"
        )
    arns: list[Any] = []
    for index, statements in enumerate(documents, start=1):
        logical = f"DeployPolicy{index}"
        parts.resources[logical] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "Description": f"Shipway: deploy {parts.name}'s stacks ({index} of "
                f"{len(documents)})",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            },
        }
        arns.append({"Ref": logical})
    # the team's own policies after Shipway's (a CommaDelimitedList cannot be empty)
    ours = {"Fn::Join": [",", arns]}
    theirs = {"Fn::Join": [",", {"Ref": "ExtraDeployPolicyArns"}]}
    role["Properties"]["ManagedPolicyArns"] = {
        "Fn::If": [
            "HasExtraDeployPolicies",
            {"Fn::Split": [",", {"Fn::Join": [",", [ours, theirs]]}]},
            arns,
        ]
    }


def _project(parts: TemplateParts, step: str, buildspec: str, region: str) -> dict[str, Any]:
    variables: list[dict[str, Any]] = [
        {"Name": "SHIPWAY_ENV", "Value": parts.env.name},
        {"Name": "SHIPWAY_BRANCH", "Value": parts.branch()},
        {"Name": "SHIPWAY_REQUIREMENT", "Value": {"Ref": "ShipwayRequirement"}},
        {"Name": "PIP_INDEX_URL", "Value": {"Ref": "PipIndexUrl"}},
        {"Name": "AWS_REGION_DEPLOY", "Value": region},
    ]
    # the wheel `export --upload` put in the artifact bucket, when its key is given
    wheel = {"Fn::Sub": "s3://${ArtifactBucket}/${ShipwayWheelKey}"}
    variables.append({"Name": "SHIPWAY_WHEEL", "Value": {"Fn::If": ["HasWheel", wheel, ""]}})
    timeout = min(_MAX_BUILD_MINUTES, max(5, -(-parts.project.build.timeout_s // 60) * 2))
    return {
        "Type": "AWS::CodeBuild::Project",
        "Properties": {
            "Name": f"{parts.name}-{step.lower()}",
            "Description": f"Shipway: `shipway {step.lower()} {parts.env.name}`",
            "ServiceRole": {"Fn::GetAtt": [f"{step}Role", "Arn"]},
            "Artifacts": {"Type": "CODEPIPELINE"},
            "Source": {"Type": "CODEPIPELINE", "BuildSpec": buildspec},
            "Environment": {
                "Type": "LINUX_CONTAINER",
                "ComputeType": {"Ref": "ComputeType"},
                "Image": {"Ref": "BuildImage"},
                "EnvironmentVariables": [{**v, "Type": "PLAINTEXT"} for v in variables],
            },
            "Cache": {
                "Type": "S3",
                "Location": {"Fn::Sub": f"${{ArtifactBucket}}/cache/{step.lower()}"},
            },
            "TimeoutInMinutes": timeout,
            "LogsConfig": {"CloudWatchLogs": {"Status": "ENABLED"}},
        },
    }


def _clone_statements(parts: TemplateParts) -> list[dict[str, Any]]:
    """A git clone of the commit (CODEBUILD_CLONE_REF): Shipway reads commits."""
    if parts.options.source == "github":
        return [
            {
                "Effect": "Allow",
                "Action": [
                    "codestar-connections:UseConnection",
                    "codeconnections:UseConnection",
                ],
                "Resource": {"Ref": "ConnectionArn"},
            }
        ]
    if parts.options.source == "codecommit":
        return [{"Effect": "Allow", "Action": "codecommit:GitPull", "Resource": repo_arn()}]
    return []


# ------------------------------------------------------------------ the pipeline
