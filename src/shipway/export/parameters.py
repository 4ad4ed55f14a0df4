"""The exported template's parameters: the source's, the approval topic, how the builds
install Shipway, their image and size, the artifacts' retention, the team's own deploy
policies."""

from __future__ import annotations

from typing import Any

from shipway.export.parts import TemplateParts

__all__ = ["DEFAULT_IMAGE", "template_parameters"]

#: CodeBuild's image with Python 3.12 and Node.js 20 (Amazon Linux 2023)
DEFAULT_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"


def template_parameters(parts: TemplateParts) -> None:
    """The template's parameters (everything account-specific) and their conditions."""
    p = parts.template["Parameters"]
    c = parts.template["Conditions"]
    if parts.options.source == "codecommit":
        p["RepositoryName"] = {
            "Type": "String",
            "MinLength": 1,
            "Description": "The CodeCommit repository holding the monorepo.",
        }
    elif parts.options.source == "github":
        p["ConnectionArn"] = {
            "Type": "String",
            "AllowedPattern": "arn:aws[a-z-]*:(codestar-connections|codeconnections):.+",
            "Description": "The CodeStar connection to GitHub (Developer Tools > "
            "Connections), already authorized.",
        }
        p["FullRepositoryId"] = {
            "Type": "String",
            "AllowedPattern": "[^/]+/[^/]+",
            "Description": "owner/repository on GitHub.",
        }
    else:
        p["SourceBucket"] = {
            "Type": "String",
            "MinLength": 3,
            "Description": "The versioned bucket the source zip is uploaded to (with "
            "EventBridge notifications on: each upload starts the pipeline).",
        }
        p["SourceObjectKey"] = {"Type": "String", "Default": f"{parts.name}/source.zip"}
    if parts.env.approval is not None:
        p["ApprovalTopicArn"] = {
            "Type": "String",
            "Default": "",
            "Description": "An SNS topic told of each approval waiting (empty: none).",
        }
        c["HasApprovalTopic"] = _given({"Ref": "ApprovalTopicArn"})
    p["ShipwayRequirement"] = {
        "Type": "String",
        "Default": f"shipway=={parts.options.version}",
        "Description": "What pip installs in the builds (the exporting version).",
    }
    p["ShipwayWheelKey"] = {
        "Type": "String",
        "Default": "",
        "Description": "The key, in the artifact bucket, of the Shipway wheel "
        "`shipway export codepipeline --upload BUCKET` put there (empty: "
        "ShipwayRequirement from the index).",
    }
    c["HasWheel"] = _given({"Ref": "ShipwayWheelKey"})
    p["PipIndexUrl"] = {
        "Type": "String",
        "Default": "",
        "Description": "The team's package index (empty: PyPI).",
    }
    p["BuildImage"] = {"Type": "String", "Default": DEFAULT_IMAGE}
    p["ComputeType"] = {
        "Type": "String",
        "Default": "BUILD_GENERAL1_SMALL",
        "AllowedValues": [
            "BUILD_GENERAL1_SMALL",
            "BUILD_GENERAL1_MEDIUM",
            "BUILD_GENERAL1_LARGE",
            "BUILD_GENERAL1_XLARGE",
            "BUILD_GENERAL1_2XLARGE",
        ],
    }
    p["ArtifactRetentionDays"] = {"Type": "Number", "Default": 30, "MinValue": 1}
    p["ExtraDeployPolicyArns"] = {
        "Type": "CommaDelimitedList",
        "Default": "",
        "Description": "Managed policies the Deploy project also needs: what the "
        "services' `resources:` make (tables, queues, buckets …).",
    }
    c["HasExtraDeployPolicies"] = _given({"Fn::Join": ["", {"Ref": "ExtraDeployPolicyArns"}]})


def _given(value: dict[str, Any]) -> dict[str, Any]:
    """The condition that a parameter (or the text it makes) is not empty."""
    return {"Fn::Not": [{"Fn::Equals": [value, ""]}]}
