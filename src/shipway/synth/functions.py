"""The core template, the Lambda execution role, log groups, functions and versions.

Follows lib/plugins/aws/package/lib/{generate-core-template,merge-iam-templates}.js and
lib/plugins/aws/package/compile/functions.js of the Serverless Framework v3.40.0.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import posixpath
from collections.abc import Mapping
from typing import Any

from shipway.synth import naming
from shipway.synth.context import Context, FunctionInfo, check_keys
from shipway.synth.jsutil import deep_sort, js_stringify

__all__ = [
    "DEFAULT_MEMORY_SIZE",
    "DEFAULT_RUNTIME",
    "DEFAULT_TIMEOUT",
    "FUNCTION_KEYS",
    "compile_core",
    "compile_functions",
    "compile_iam",
    "is_existing_role",
]

DEFAULT_RUNTIME = "nodejs16.x"  # provider.getRuntime() in Framework v3.40.0
DEFAULT_MEMORY_SIZE = 1024
DEFAULT_TIMEOUT = 6

#: function keys `shipway synth` compiles (anything else is an error naming the key)
FUNCTION_KEYS = frozenset(
    {
        "name",
        "handler",
        "runtime",
        "memorySize",
        "timeout",
        "environment",
        "events",
        "layers",
        "role",
        "tags",
        "description",
        "package",
        "versionFunction",
        "architecture",
        "reservedConcurrency",
        "condition",
        "dependsOn",
        "disableLogs",
        "logRetentionInDays",
        "logDataProtectionPolicy",
        "vpc",
        "tracing",
        "kmsKeyArn",
        "onError",
        "ephemeralStorageSize",
        "runtimeManagement",
        "httpApi",
    }
)
_PACKAGE_KEYS = ("artifact", "individually", "patterns", "include", "exclude")
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


def _partition_join(*parts: Any) -> dict[str, Any]:
    return {"Fn::Join": ["", list(parts)]}


# --------------------------------------------------------------------------- core template


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
                            _partition_join(
                                "arn:", {"Ref": "AWS::Partition"}, ":s3:::", bucket_ref, "/*"
                            ),
                            _partition_join(
                                "arn:", {"Ref": "AWS::Partition"}, ":s3:::", bucket_ref
                            ),
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


# --------------------------------------------------------------------------- IAM


def is_existing_role(role: Any) -> bool:
    """provider.isExistingRoleProvided: an ARN/name string or an intrinsic function."""
    if isinstance(role, str):
        return True
    if isinstance(role, dict):
        return any(k == "Ref" or k.startswith("Fn::") for k in role)
    return False


def _provider_role(provider: Mapping[str, Any]) -> dict[str, Any]:
    iam = provider.get("iam")
    if isinstance(iam, dict) and isinstance(iam.get("role"), dict):
        role: dict[str, Any] = iam["role"]
        return role
    return {}


def custom_execution_role(provider: Mapping[str, Any], spec: Mapping[str, Any]) -> Any:
    """provider.getCustomExecutionRole."""
    if spec.get("role"):
        return spec["role"]
    iam = provider.get("iam")
    role = iam.get("role") if isinstance(iam, dict) else None
    if is_existing_role(role):
        return role
    return provider.get("role")


def role_resource_name(role: Any) -> str | None:
    """provider.resolveFunctionIamRoleResourceName (role=None means the default role)."""
    if role is None:
        return naming.ROLE
    if isinstance(role, str):
        return None if ":" in role else role
    if isinstance(role, dict):
        getatt = role.get("Fn::GetAtt")
        if (
            isinstance(getatt, list)
            and len(getatt) == 2
            and isinstance(getatt[0], str)
            and getatt[1] == "Arn"
        ):
            return getatt[0]
    return None


def compile_iam(ctx: Context) -> None:
    """merge-iam-templates.js: log groups, then IamRoleLambdaExecution."""
    if not ctx.functions:
        return
    retention_default = ctx.provider.get("logRetentionInDays")
    protection_default = ctx.provider.get("logDataProtectionPolicy")
    for fn in ctx.functions:
        if fn.spec.get("disableLogs"):
            continue
        props: dict[str, Any] = {"LogGroupName": naming.log_group_name(fn.physical_name)}
        retention = fn.spec.get("logRetentionInDays") or retention_default
        if retention:
            props["RetentionInDays"] = retention
        protection = fn.spec.get("logDataProtectionPolicy") or protection_default
        if protection:
            props["DataProtectionPolicy"] = protection
        ctx.resources[naming.log_group(fn.key)] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": props,
        }

    iam = ctx.provider.get("iam")
    if isinstance(iam, dict):
        check_keys(ctx.source, "provider.iam", iam, ("role", "deploymentRole"))
        if is_existing_role(iam.get("role")):
            return
    if "role" in ctx.provider:
        return
    if all("role" in fn.spec for fn in ctx.functions):
        return
    role = _provider_role(ctx.provider)
    check_keys(
        ctx.source,
        "provider.iam.role",
        role,
        (
            "name",
            "path",
            "statements",
            "managedPolicies",
            "tags",
            "permissionsBoundary",
            "permissionBoundary",
        ),
    )
    props = {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com"]},
                    "Action": ["sts:AssumeRole"],
                }
            ],
        },
        "Policies": [
            {
                "PolicyName": naming.policy_name(ctx.service, ctx.stage),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "logs:CreateLogStream",
                                "logs:CreateLogGroup",
                                "logs:TagResource",
                            ],
                            "Resource": [],
                        },
                        {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": []},
                    ],
                },
            }
        ],
        "Path": role.get("path") or "/",
        "RoleName": role.get("name") or naming.role_name(ctx.service, ctx.stage),
    }
    tags = role.get("tags")
    if isinstance(tags, dict):
        props["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    boundary = (
        role.get("permissionsBoundary")
        or role.get("permissionBoundary")
        or ctx.provider.get("rolePermissionsBoundary")
    )
    if boundary:
        props["PermissionsBoundary"] = boundary
    ctx.resources[naming.ROLE] = {"Type": "AWS::IAM::Role", "Properties": props}

    statements: list[Any] = props["Policies"][0]["PolicyDocument"]["Statement"]
    prefix = f"{ctx.service}-{ctx.stage}"
    log_prefix = naming.log_group_name(prefix)
    arn = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    canonical = False
    disabled: list[str] = []
    for fn in ctx.functions:
        if fn.physical_name.startswith(prefix):
            if fn.spec.get("disableLogs"):
                disabled.append(fn.physical_name)
            else:
                canonical = True
            continue
        if not fn.spec.get("disableLogs"):
            own = naming.log_group_name(fn.physical_name)
            statements[0]["Resource"].append({"Fn::Sub": f"{arn}{own}:*"})
            statements[1]["Resource"].append({"Fn::Sub": f"{arn}{own}:*:*"})
    if canonical:
        statements[0]["Resource"].append({"Fn::Sub": f"{arn}{log_prefix}*:*"})
        statements[1]["Resource"].append({"Fn::Sub": f"{arn}{log_prefix}*:*:*"})
        if disabled:
            statements.append(
                {
                    "Effect": "Deny",
                    "Action": "logs:PutLogEvents",
                    "Resource": [
                        {"Fn::Sub": f"{arn}{naming.log_group_name(name)}:*"} for name in disabled
                    ],
                }
            )
    if role.get("statements"):
        statements.extend(copy.deepcopy(role["statements"]))
    elif ctx.provider.get("iamRoleStatements"):
        statements.extend(copy.deepcopy(ctx.provider["iamRoleStatements"]))
    managed = role.get("managedPolicies") or ctx.provider.get("iamManagedPolicies")
    if managed:
        props["ManagedPolicyArns"] = list(copy.deepcopy(managed))
    if any("vpc" in fn.spec for fn in ctx.functions) or ctx.provider.get("vpc"):
        props.setdefault("ManagedPolicyArns", []).append(
            _partition_join(
                "arn:",
                {"Ref": "AWS::Partition"},
                ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
            )
        )


def _union_statement(ctx: Context, statement: dict[str, Any]) -> None:
    statements = ctx.role_statements()
    if statements is not None and statement not in statements:
        statements.append(statement)


# --------------------------------------------------------------------------- functions


def artifact_directory(ctx: Context, timestamp_ms: int) -> str:
    """generate-artifact-directory-name.js: `<prefix>/<service>/<stage>/<ms>-<ISO date>`."""
    import datetime as _dt

    prefix = ctx.provider.get("deploymentPrefix")
    prefix = "serverless" if prefix is None else str(prefix)
    when = _dt.datetime.fromtimestamp(timestamp_ms / 1000, tz=_dt.UTC)
    iso = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{timestamp_ms % 1000:03d}Z"
    return f"{prefix}/{ctx.service}/{ctx.stage}/{timestamp_ms}-{iso}"


def code_sha256_b64(code_sha256: str | None) -> str:
    """The artifact's sha256 as the Framework writes it (base64); hex input is converted.

    Without one (no artifact built yet), the hash of empty content is used.
    """
    if code_sha256 is None:
        return base64.b64encode(hashlib.sha256(b"").digest()).decode()
    text = code_sha256.strip()
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        return base64.b64encode(bytes.fromhex(text)).decode()
    return text


def compile_functions(
    ctx: Context,
    *,
    package: Mapping[str, Any],
    artifact_key: str | None,
    timestamp_ms: int,
    code_sha256: str | None,
    bucket_override: str | None,
) -> None:
    provider = ctx.provider
    if str(provider.get("lambdaHashingVersion", "")) == "20200924":
        raise ctx.error(
            "provider.lambdaHashingVersion",
            "`provider.lambdaHashingVersion: 20200924` (the deprecated version hash)",
            hint="remove it: the default algorithm is used",
        )
    directory = (
        posixpath.dirname(artifact_key) if artifact_key else artifact_directory(ctx, timestamp_ms)
    )
    bucket_name = deployment_bucket_name(provider) or bucket_override
    bucket: Any = bucket_name if bucket_name else {"Ref": naming.DEPLOYMENT_BUCKET}
    file_hash = code_sha256_b64(code_sha256)
    versions: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    for fn in ctx.functions:
        spec = fn.spec
        base = f"functions.{fn.key}"
        check_keys(ctx.source, base, spec, FUNCTION_KEYS)
        fn_package = spec.get("package") or {}
        if isinstance(fn_package, dict):
            check_keys(ctx.source, f"{base}.package", fn_package, _PACKAGE_KEYS)
        else:
            fn_package = {}
        runtime_management = spec.get("runtimeManagement")
        if runtime_management not in (None, "auto") and not (
            isinstance(runtime_management, dict) and runtime_management.get("mode") == "auto"
        ):
            raise ctx.error(f"{base}.runtimeManagement")

        if fn_package.get("artifact"):
            file_name = posixpath.basename(str(fn_package["artifact"]))
        elif package.get("individually") or fn_package.get("individually"):
            file_name = f"{fn.key}.zip"
        elif package.get("artifact"):
            file_name = posixpath.basename(str(package["artifact"]))
        else:
            file_name = f"{ctx.service}.zip"
        if artifact_key and file_name in (
            f"{ctx.service}.zip",
            posixpath.basename(str(package.get("artifact") or "")),
        ):
            s3_key = artifact_key
        else:
            s3_key = f"{directory}/{file_name}"

        props: dict[str, Any] = {"Code": {"S3Bucket": bucket, "S3Key": s3_key}}
        props["Handler"] = spec["handler"]
        props["Runtime"] = spec.get("runtime") or provider.get("runtime") or DEFAULT_RUNTIME
        props["FunctionName"] = fn.physical_name
        props["MemorySize"] = (
            spec.get("memorySize") or provider.get("memorySize") or (DEFAULT_MEMORY_SIZE)
        )
        props["Timeout"] = spec.get("timeout") or provider.get("timeout") or DEFAULT_TIMEOUT
        resource: dict[str, Any] = {"Type": "AWS::Lambda::Function", "Properties": props}
        architecture = spec.get("architecture") or provider.get("architecture")
        if architecture:
            props["Architectures"] = [architecture]
        if spec.get("description"):
            props["Description"] = spec["description"]
        if spec.get("condition"):
            resource["Condition"] = spec["condition"]
        depends_on: list[Any] = []
        if spec.get("dependsOn"):
            extra = spec["dependsOn"]
            depends_on.extend(extra if isinstance(extra, list) else [extra])
        if spec.get("tags") or provider.get("tags"):
            tags = {**(provider.get("tags") or {}), **(spec.get("tags") or {})}
            props["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        if spec.get("ephemeralStorageSize"):
            props["EphemeralStorage"] = {"Size": spec["ephemeralStorageSize"]}
        on_error = spec.get("onError")
        if on_error:
            props["DeadLetterConfig"] = {"TargetArn": on_error}
            statements = ctx.role_statements()
            if isinstance(on_error, str) and statements is not None:
                statements.append(
                    {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": [on_error]}
                )
        kms = spec.get("kmsKeyArn") or provider.get("kmsKeyArn")
        if kms:
            props["KmsKeyArn"] = kms
            if isinstance(kms, str):
                _union_statement(
                    ctx, {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [kms]}
                )
        provider_tracing = provider.get("tracing")
        tracing = spec.get("tracing") or (
            provider_tracing.get("lambda") if isinstance(provider_tracing, dict) else None
        )
        if tracing:
            props["TracingConfig"] = {"Mode": "Active" if tracing is True else tracing}
            _union_statement(
                ctx,
                {
                    "Effect": "Allow",
                    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    "Resource": ["*"],
                },
            )
        if spec.get("environment") is not None or provider.get("environment") is not None:
            variables = {**(provider.get("environment") or {}), **(spec.get("environment") or {})}
            props["Environment"] = {"Variables": {k: _env_value(v) for k, v in variables.items()}}
        role = custom_execution_role(provider, spec)
        _compile_role(resource, depends_on, role if role else naming.ROLE)
        if spec.get("vpc", "unset") is not None and spec.get("vpc") is not False:
            fn_vpc = spec.get("vpc") if isinstance(spec.get("vpc"), dict) else {}
            provider_vpc = provider.get("vpc") if isinstance(provider.get("vpc"), dict) else {}
            assert isinstance(fn_vpc, dict) and isinstance(provider_vpc, dict)
            groups = fn_vpc.get("securityGroupIds") or provider_vpc.get("securityGroupIds")
            subnets = fn_vpc.get("subnetIds") or provider_vpc.get("subnetIds")
            if groups and subnets:
                props["VpcConfig"] = {"SecurityGroupIds": groups, "SubnetIds": subnets}
        reserved = spec.get("reservedConcurrency")
        if reserved or reserved == 0:
            props["ReservedConcurrentExecutions"] = reserved
        if not spec.get("disableLogs"):
            depends_on.insert(0, naming.log_group(fn.key))
        if depends_on:
            resource["DependsOn"] = depends_on
        if spec.get("layers"):
            props["Layers"] = spec["layers"]
        elif provider.get("layers"):
            props["Layers"] = list(provider["layers"])
        ctx.resources[fn.logical_id] = resource

        should_version = spec.get("versionFunction")
        if should_version is None:
            should_version = provider.get("versionFunctions", True)
            if should_version is None:
                should_version = True
        if should_version:
            hashed = copy.deepcopy(props)
            for key in ("Code", "ReservedConcurrentExecutions", "Tags"):
                hashed.pop(key, None)
            hashed["layerConfigurations"] = []
            digest = hashlib.sha256(
                file_hash.encode() + js_stringify(deep_sort(hashed)).encode()
            ).digest()
            version_props: dict[str, Any] = {
                "FunctionName": {"Ref": fn.logical_id},
                "CodeSha256": file_hash,
            }
            if spec.get("description"):
                version_props["Description"] = spec["description"]
            version_id = naming.lambda_version_logical_id(fn.key, base64.b64encode(digest).decode())
            versions.append(
                (
                    version_id,
                    {
                        "Type": "AWS::Lambda::Version",
                        "DeletionPolicy": "Retain",
                        "Properties": version_props,
                    },
                    {"fn": fn.key},
                )
            )

    for version_id, version, meta in versions:
        ctx.resources[version_id] = version
        ctx.outputs[naming.lambda_version_output(meta["fn"])] = {
            "Description": "Current Lambda function version",
            "Value": {"Ref": version_id},
        }


def _env_value(value: Any) -> Any:
    """The Framework's config normalization turns scalar environment values into strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_stringify(value)
    return value


def _compile_role(resource: dict[str, Any], depends_on: list[Any], role: Any) -> None:
    props = resource["Properties"]
    if isinstance(role, str):
        if role.startswith("arn:"):
            props["Role"] = role
        elif role == naming.ROLE:
            props["Role"] = {"Fn::GetAtt": [role, "Arn"]}
        else:
            props["Role"] = {"Fn::GetAtt": [role, "Arn"]}
            depends_on.append(role)
    elif isinstance(role, dict) and "Fn::GetAtt" in role:
        props["Role"] = role
        depends_on.append(role["Fn::GetAtt"][0])
    else:
        props["Role"] = role


def make_function_infos(
    service: str, stage: str, provider: Mapping[str, Any], functions: Mapping[str, Any]
) -> list[FunctionInfo]:
    infos = []
    for key, spec in functions.items():
        physical = spec.get("name") or naming.function_name(service, stage, key)
        infos.append(
            FunctionInfo(
                key=key,
                spec=spec,
                logical_id=naming.lambda_logical_id(key),
                physical_name=str(physical),
                role_resource=role_resource_name(custom_execution_role(provider, spec)),
            )
        )
    return infos
