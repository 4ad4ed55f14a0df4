"""`pipeline_template`: an environment's pipeline as a CloudFormation template for AWS
CodePipeline (V2) + CodeBuild, with the local engine's meaning:

    Source -> [Approval, when `approval.before: build`] -> Build -> [Approval, when
    `before: deploy`] -> Deploy

- Source: a CodeCommit repository, GitHub through a CodeStar connection, or an S3 object;
  the environment's branch. GitHub pushes start it through the V2 trigger, filtered to
  the branch and the environment's `paths`; CodeCommit and S3 through EventBridge rules.
- Build: `shipway build ENV --out DIR` in a CodeBuild project of its own; its folder is the
  action's artifact. Deploy: `shipway deploy ENV --from DIR` in another project, whose
  role alone may deploy (iam.py). An approval shows the commit, and before a deploy what
  the build made; its timeout is the environment's.
- `mode: superseded | queued` is the pipeline's execution mode.
- An artifact bucket (encrypted, private, TLS only, expiring), parameters for everything
  account-specific, outputs with the pipeline's name and console URL.
"""

from __future__ import annotations

import json
from typing import Any

from shipway.errors import ShipwayError
from shipway.export.bucket import artifact_bucket
from shipway.export.parameters import template_parameters
from shipway.export.parts import (
    SOURCES,
    ExportOptions,
    TemplateParts,
    action_type,
    assumed_by,
    bucket_statements,
    repo_arn,
)
from shipway.export.projects import codebuild_projects
from shipway.model import AwsTarget, Environment, Project

__all__ = ["SOURCES", "ExportOptions", "pipeline_template"]

_APPROVAL_MINUTES = (5, 86400)  # a manual approval action's timeout, in minutes
_MAX_TRIGGER_GLOBS = 8  # CodePipeline: file-path globs per include or exclude list


def pipeline_template(project: Project, env: Environment, options: ExportOptions) -> dict[str, Any]:
    """The template; ShipwayError when `env` cannot run on CodePipeline (a local target)."""
    if not isinstance(env.target, AwsTarget):
        raise ShipwayError(
            f"environment `{env.name}` deploys to the local target: CodePipeline runs the "
            "pipelines of aws environments",
            hint="give it `target: {aws: {region: …}}` in shipway.yml, or export another",
        )
    if options.source not in SOURCES:
        raise ShipwayError(f"source `{options.source}` is not one of {', '.join(SOURCES)}")
    parts = TemplateParts(project, env, options, f"{project.name}-{env.name}")
    parts.template.update(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"Shipway {options.version}: the `{env.name}` pipeline of "
            f"{project.name} on CodePipeline + CodeBuild (shipway export codepipeline)",
            "Parameters": {},
            "Conditions": {},
            "Resources": {},
            "Outputs": {},
        }
    )
    stacks = [f"{s.name}-{env.stage}" for s in project.services]
    builder = _Pipeline(parts)
    template_parameters(parts)
    artifact_bucket(parts)
    codebuild_projects(parts, stacks, env.target.region)
    builder.pipeline()
    builder.outputs()
    if parts.notes:  # the template says it too
        parts.template["Metadata"] = {"Shipway": {"Notes": parts.notes}}
    return parts.template


class _Pipeline:
    """The pipeline, what starts it, and the template's outputs."""

    def __init__(self, parts: TemplateParts) -> None:
        self.parts = parts
        self.project, self.env, self.options, self.name = (
            parts.project,
            parts.env,
            parts.options,
            parts.name,
        )
        self.template = parts.template
        self.resources = parts.resources

    def pipeline(self) -> None:
        stages: list[dict[str, Any]] = [{"Name": "Source", "Actions": [self._source_action()]}]
        approval = self.env.approval
        if approval is not None and approval.before == "build":
            stages.append(self._approval_stage(f"commit {self.parts.commit_variable()}"))
        stages.append(
            {
                "Name": "Build",
                "Actions": [
                    _build_action(
                        "Build",
                        "BuildProject",
                        ["Source"],
                        ["Build"],
                        "BuildVariables",
                        self.parts.commit_variable(),
                    )
                ],
            }
        )
        if approval is not None and approval.before == "deploy":
            stages.append(self._approval_stage("#{BuildVariables.SHIPWAY_PLAN}"))
        stages.append(
            {
                "Name": "Deploy",
                "Actions": [
                    _build_action(
                        "Deploy",
                        "DeployProject",
                        ["Source", "Build"],
                        [],
                        None,
                        self.parts.commit_variable(),
                    )
                ],
            }
        )
        properties: dict[str, Any] = {
            "Name": self.name,
            "PipelineType": "V2",
            "ExecutionMode": "QUEUED" if self.env.mode == "queued" else "SUPERSEDED",
            "RoleArn": {"Fn::GetAtt": ["PipelineRole", "Arn"]},
            "ArtifactStore": {"Type": "S3", "Location": {"Ref": "ArtifactBucket"}},
            "Stages": stages,
        }
        if self.options.source == "github":
            properties["Triggers"] = [self._trigger()]
        self.resources["Pipeline"] = {
            "Type": "AWS::CodePipeline::Pipeline",
            "DependsOn": ["PipelinePolicy"],
            "Properties": properties,
        }
        self.resources["PipelineRole"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": assumed_by("codepipeline.amazonaws.com")},
        }
        self.resources["PipelinePolicy"] = {
            "Type": "AWS::IAM::RolePolicy",
            "Properties": {
                "RoleName": {"Ref": "PipelineRole"},
                "PolicyName": "pipeline",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": self._pipeline_statements(),
                },
            },
        }
        if self.options.source != "github":
            self._start_rule()

    def _source_action(self) -> dict[str, Any]:
        action: dict[str, Any] = {
            "Name": "Source",
            "Namespace": "SourceVariables",
            "OutputArtifacts": [{"Name": "Source"}],
            "RunOrder": 1,
        }
        kind = self.options.source
        if kind == "codecommit":
            action["ActionTypeId"] = action_type("Source", "CodeCommit")
            action["Configuration"] = {
                "RepositoryName": {"Ref": "RepositoryName"},
                "BranchName": self.parts.branch(),
                "PollForSourceChanges": False,  # the EventBridge rule starts it
                "OutputArtifactFormat": "CODEBUILD_CLONE_REF",
            }
        elif kind == "github":
            action["ActionTypeId"] = action_type("Source", "CodeStarSourceConnection")
            action["Configuration"] = {
                "ConnectionArn": {"Ref": "ConnectionArn"},
                "FullRepositoryId": {"Ref": "FullRepositoryId"},
                "BranchName": self.parts.branch(),
                "OutputArtifactFormat": "CODEBUILD_CLONE_REF",
                "DetectChanges": False,  # the pipeline's trigger filters the pushes
            }
        else:
            action["ActionTypeId"] = action_type("Source", "S3")
            action["Configuration"] = {
                "S3Bucket": {"Ref": "SourceBucket"},
                "S3ObjectKey": {"Ref": "SourceObjectKey"},
                "PollForSourceChanges": False,
            }
        return action

    def _approval_stage(self, shown: str) -> dict[str, Any]:
        approval = self.env.approval
        assert approval is not None
        configuration: dict[str, Any] = {
            "CustomData": (
                f"Shipway: approve `{self.env.name}` (branch {self.env.branch}) "
                f"before {approval.before}: {shown}"
            )[:500],
            "NotificationArn": {
                "Fn::If": ["HasApprovalTopic", {"Ref": "ApprovalTopicArn"}, {"Ref": "AWS::NoValue"}]
            },
        }
        action: dict[str, Any] = {
            "Name": "Approve",
            "ActionTypeId": {
                "Category": "Approval",
                "Owner": "AWS",
                "Provider": "Manual",
                "Version": "1",
            },
            "Configuration": configuration,
            "RunOrder": 1,
        }
        if approval.timeout_s is not None:
            low, high = _APPROVAL_MINUTES
            action["TimeoutInMinutes"] = min(high, max(low, -(-approval.timeout_s // 60)))
        return {"Name": f"Approve{approval.before.capitalize()}", "Actions": [action]}

    def _trigger(self) -> dict[str, Any]:
        push: dict[str, Any] = {"Branches": {"Includes": [self.env.branch]}}
        paths: dict[str, Any] = {}
        for key, globs in (
            ("Includes", self.env.paths_include),
            ("Excludes", self.env.paths_exclude),
        ):
            if len(globs) > _MAX_TRIGGER_GLOBS:  # the trigger filters the first ones only
                self.parts.notes.append(
                    f"the trigger's file paths hold the first {_MAX_TRIGGER_GLOBS} of the "
                    f"{len(globs)} `paths.{key.lower().removesuffix('s')}` globs (CodePipeline's "
                    "limit): a push matching only the others starts no run; the build still "
                    "deploys only what changed"
                )
            if globs:
                paths[key] = list(globs)[:_MAX_TRIGGER_GLOBS]
        if paths:
            push["FilePaths"] = paths
        return {
            "ProviderType": "CodeStarSourceConnection",
            "GitConfiguration": {"SourceActionName": "Source", "Push": [push]},
        }

    def _start_rule(self) -> None:
        """CodeCommit and S3 sources: an EventBridge rule starts the pipeline (a V2 trigger
        is for connections only)."""
        if self.options.source == "codecommit":
            pattern: dict[str, Any] = {
                "source": ["aws.codecommit"],
                "detail-type": ["CodeCommit Repository State Change"],
                "resources": [repo_arn()],
                "detail": {
                    "event": ["referenceCreated", "referenceUpdated"],
                    "referenceType": ["branch"],
                    "referenceName": [self.parts.branch()],
                },
            }
        else:
            pattern = {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [{"Ref": "SourceBucket"}]},
                    "object": {"key": [{"Ref": "SourceObjectKey"}]},
                },
            }
        pipeline_arn = {
            "Fn::Sub": "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}"
            ":${Pipeline}"
        }
        self.resources["StartRole"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": assumed_by("events.amazonaws.com"),
                "Policies": [
                    {
                        "PolicyName": "start-pipeline",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "codepipeline:StartPipelineExecution",
                                    "Resource": pipeline_arn,
                                }
                            ],
                        },
                    }
                ],
            },
        }
        self.resources["StartRule"] = {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": f"Shipway: a push to {self.parts.branch()} starts {self.name}",
                "EventPattern": pattern,
                "Targets": [
                    {
                        "Id": "pipeline",
                        "Arn": pipeline_arn,
                        "RoleArn": {"Fn::GetAtt": ["StartRole", "Arn"]},
                    }
                ],
            },
        }

    def _pipeline_statements(self) -> list[dict[str, Any]]:
        statements = [
            *bucket_statements(),
            {
                "Effect": "Allow",
                "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                "Resource": [
                    {"Fn::GetAtt": ["BuildProject", "Arn"]},
                    {"Fn::GetAtt": ["DeployProject", "Arn"]},
                ],
            },
        ]
        kind = self.options.source
        if kind == "codecommit":
            statements.append(
                {
                    "Effect": "Allow",
                    "Action": [
                        "codecommit:GetBranch",
                        "codecommit:GetCommit",
                        "codecommit:GetRepository",
                        "codecommit:UploadArchive",
                        "codecommit:GetUploadArchiveStatus",
                        "codecommit:CancelUploadArchive",
                    ],
                    "Resource": repo_arn(),
                }
            )
        elif kind == "github":
            statements.append(
                {
                    "Effect": "Allow",
                    "Action": [
                        "codestar-connections:UseConnection",
                        "codeconnections:UseConnection",
                    ],
                    "Resource": {"Ref": "ConnectionArn"},
                }
            )
        else:
            statements.append(
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketVersioning"],
                    "Resource": [
                        {"Fn::Sub": "arn:${AWS::Partition}:s3:::${SourceBucket}"},
                        {
                            "Fn::Sub": "arn:${AWS::Partition}:s3:::${SourceBucket}"
                            "/${SourceObjectKey}"
                        },
                    ],
                }
            )
        if self.env.approval is not None:
            statements.append(
                {
                    "Fn::If": [
                        "HasApprovalTopic",
                        {
                            "Effect": "Allow",
                            "Action": "sns:Publish",
                            "Resource": {"Ref": "ApprovalTopicArn"},
                        },
                        {"Ref": "AWS::NoValue"},
                    ]
                }
            )
        return statements

    # ------------------------------------------------------------------ outputs

    def outputs(self) -> None:
        self.template["Outputs"] = {
            "PipelineName": {"Value": {"Ref": "Pipeline"}},
            "PipelineConsoleUrl": {
                "Value": {
                    "Fn::Sub": "https://${AWS::Region}.console.aws.amazon.com/codesuite/"
                    "codepipeline/pipelines/${Pipeline}/view?region=${AWS::Region}"
                }
            },
            "ArtifactBucketName": {"Value": {"Ref": "ArtifactBucket"}},
        }


def _build_action(
    name: str,
    project: str,
    inputs: list[str],
    outputs: list[str],
    namespace: str | None,
    commit: str,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "Name": name,
        "ActionTypeId": action_type("Build", "CodeBuild"),
        "Configuration": {
            "ProjectName": {"Ref": project},
            "PrimarySource": "Source",
            "EnvironmentVariables": json.dumps(
                [
                    {
                        "name": "SHIPWAY_SOURCE_VERSION",
                        "value": commit,
                        "type": "PLAINTEXT",
                    }
                ]
            ),
        },
        "InputArtifacts": [{"Name": i} for i in inputs],
        "OutputArtifacts": [{"Name": o} for o in outputs],
        "RunOrder": 1,
    }
    if namespace:
        action["Namespace"] = namespace
    return action
