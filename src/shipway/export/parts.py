"""What the parts of the exported template share: the options, the environment being
exported, the template being built, and the small pieces every part uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from shipway.model import Environment, Project

__all__ = [
    "SOURCES",
    "ExportOptions",
    "Source",
    "TemplateParts",
    "action_type",
    "assumed_by",
    "bucket_statements",
    "repo_arn",
]

SOURCES = ("codecommit", "github", "s3")
Source = Literal["codecommit", "github", "s3"]


@dataclass(frozen=True)
class ExportOptions:
    source: Source = "codecommit"
    version: str = "0.0.0"  # Shipway's, pinned in the projects' install


@dataclass
class TemplateParts:
    """The environment's template as it is built: `resources` is its `Resources`."""

    project: Project
    env: Environment
    options: ExportOptions
    name: str  # `<project>-<env>`: the pipeline's, and its projects' prefix
    template: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the user should know of it

    @property
    def resources(self) -> dict[str, Any]:
        found: dict[str, Any] = self.template.setdefault("Resources", {})
        return found

    def commit_variable(self) -> str:
        """The source action's variable naming what it fetched: a commit, or (S3) the
        object's version."""
        if self.options.source == "s3":
            return "#{SourceVariables.VersionId}"
        return "#{SourceVariables.CommitId}"

    def branch(self) -> str:
        """The source action's branch: the environment's, or (a pattern, which the V2
        trigger matches) `main`, the branch a pattern's pushes are checked against."""
        branch = self.env.branch
        return branch if not any(ch in branch for ch in "*?[") else "main"


def assumed_by(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def action_type(category: str, provider: str) -> dict[str, str]:
    return {"Category": category, "Owner": "AWS", "Provider": provider, "Version": "1"}


def repo_arn() -> dict[str, str]:
    return {
        "Fn::Sub": "arn:${AWS::Partition}:codecommit:${AWS::Region}:${AWS::AccountId}"
        ":${RepositoryName}"
    }


def bucket_statements() -> list[dict[str, Any]]:
    return [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            "Resource": {"Fn::Sub": "${ArtifactBucket.Arn}/*"},
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:ListBucket"],
            "Resource": {"Fn::GetAtt": ["ArtifactBucket", "Arn"]},
        },
    ]
