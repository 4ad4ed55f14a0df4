"""The core template: the deployment bucket, its policy and its output.

Follows lib/plugins/aws/package/lib/generate-core-template.js and
lib/plugins/aws/package/lib/core-cloudformation-template.json of the Serverless Framework
v3.40.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipway.synth import naming
from shipway.synth.cfn import join
from shipway.synth.context import Context, check_keys

__all__ = ["compile_core", "deployment_bucket_name"]

_DEPLOYMENT_BUCKET_KEYS = (
    "name",
    "tags",
    "blockPublicAccess",
    "versioning",
    "skipPolicySetup",
    # upload-time settings: no effect on the template
    "serverSideEncryption",
    "sseKMSKeyId",
    "sseCustomerAlgorithim",
    "sseCustomerKey",
    "sseCustomerKeyMD5",
    "maxPreviousDeploymentArtifacts",
)


def deployment_bucket_name(provider: Mapping[str, Any]) -> str | None:
    value = provider.get("deploymentBucket")
    if isinstance(value, dict):
        name = value.get("name")
        return str(name) if name else None
    return str(value) if value else None


def compile_core(ctx: Context, bucket_override: str | None) -> None:
    """core-cloudformation-template.json + provider.deploymentBucket."""
    ctx.resources[naming.DEPLOYMENT_BUCKET] = {
        "Type": "AWS::S3::Bucket",
        "Properties": {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            }
        },
    }
    bucket_ref = {"Ref": naming.DEPLOYMENT_BUCKET}
    ctx.resources[naming.DEPLOYMENT_BUCKET_POLICY] = {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": bucket_ref,
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "s3:*",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Resource": [
                            join("arn:", {"Ref": "AWS::Partition"}, ":s3:::", bucket_ref, "/*"),
                            join("arn:", {"Ref": "AWS::Partition"}, ":s3:::", bucket_ref),
                        ],
                        "Condition": {"Bool": {"aws:SecureTransport": False}},
                    }
                ]
            },
        },
    }
    ctx.outputs[naming.DEPLOYMENT_BUCKET_OUTPUT] = {"Value": bucket_ref}

    config = ctx.provider.get("deploymentBucket")
    if isinstance(config, dict):
        check_keys(ctx.source, "provider.deploymentBucket", config, _DEPLOYMENT_BUCKET_KEYS)
        props = ctx.resources[naming.DEPLOYMENT_BUCKET]["Properties"]
        tags = config.get("tags")
        if isinstance(tags, dict) and tags:
            props["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        if config.get("blockPublicAccess"):
            props["PublicAccessBlockConfiguration"] = {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            }
        if config.get("versioning"):
            props["VersioningConfiguration"] = {"Status": "Enabled"}
        if config.get("skipPolicySetup"):
            del ctx.resources[naming.DEPLOYMENT_BUCKET_POLICY]

    name = deployment_bucket_name(ctx.provider) or bucket_override
    if name:
        ctx.outputs[naming.DEPLOYMENT_BUCKET_OUTPUT]["Value"] = name
        ctx.resources.pop(naming.DEPLOYMENT_BUCKET, None)
        ctx.resources.pop(naming.DEPLOYMENT_BUCKET_POLICY, None)
