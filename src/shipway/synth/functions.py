"""Lambda functions and their versions.

Follows lib/plugins/aws/package/compile/functions.js of the Serverless Framework v3.40.0.
The core template (deployment bucket) is `synth.core`; the execution role and log groups
are `synth.iam`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import posixpath
from collections.abc import Mapping
from typing import Any

from shipway.config.service_check import DEFAULT_MEMORY_SIZE, DEFAULT_RUNTIME, DEFAULT_TIMEOUT
from shipway.synth import naming
from shipway.synth.context import Context, FunctionInfo, check_keys
from shipway.synth.core import deployment_bucket_name
from shipway.synth.function_roles import FUNCTION_ROLE_KEYS
from shipway.synth.iam import custom_execution_role, role_resource_name
from shipway.synth.jsutil import deep_sort, js_stringify
from shipway.synth.layers import CompiledLayer

__all__ = [
    "FUNCTION_KEYS",
    "compile_functions",
    "make_function_infos",
]

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
        *FUNCTION_ROLE_KEYS,  # the serverless-iam-roles-per-function plugin's (function_roles.py)
    }
)
_PACKAGE_KEYS = ("artifact", "individually", "patterns", "include", "exclude")


def _union_statement(ctx: Context, statement: dict[str, Any]) -> None:
    statements = ctx.role_statements()
    if statements is not None and statement not in statements:
        statements.append(statement)


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
    layers: Mapping[str, CompiledLayer] | None = None,
) -> None:
    """`layers`: the service's own layers by logical ID (a `{Ref: …}` to one puts its
    code and configuration into the function's version hash, as the Framework does)."""
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
    versions: list[tuple[str, str, dict[str, Any]]] = []  # (function key, ID, resource)

    for fn in ctx.functions:
        spec = fn.spec
        base = f"functions.{fn.key}"
        check_keys(ctx.source, base, spec, FUNCTION_KEYS)
        fn_package = spec.get("package") or {}
        if isinstance(fn_package, dict):
            check_keys(ctx.source, f"{base}.package", fn_package, _PACKAGE_KEYS)
        else:
            fn_package = {}
        runtime_config = _runtime_management(
            ctx, base, provider.get("runtimeManagement"), spec.get("runtimeManagement")
        )

        s3_key = _s3_key(ctx, fn.key, package, fn_package, artifact_key, directory)

        props: dict[str, Any] = {"Code": {"S3Bucket": bucket, "S3Key": s3_key}}
        props["Handler"] = spec["handler"]
        props["Runtime"] = spec.get("runtime") or provider.get("runtime") or DEFAULT_RUNTIME
        props["FunctionName"] = fn.physical_name
        props["MemorySize"] = (
            spec.get("memorySize") or provider.get("memorySize") or (DEFAULT_MEMORY_SIZE)
        )
        props["Timeout"] = spec.get("timeout") or provider.get("timeout") or DEFAULT_TIMEOUT
        if runtime_config:
            props["RuntimeManagementConfig"] = runtime_config
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

        if _should_version(spec, provider):
            versions.append((fn.key, *_version(fn, props, file_hash, layers or {})))

    for key, version_id, version in versions:
        ctx.resources[version_id] = version
        ctx.outputs[naming.lambda_version_output(key)] = {
            "Description": "Current Lambda function version",
            "Value": {"Ref": version_id},
        }


def _should_version(spec: Mapping[str, Any], provider: Mapping[str, Any]) -> bool:
    """functions.<fn>.versionFunction, else provider.versionFunctions (default true)."""
    should_version = spec.get("versionFunction")
    if should_version is None:
        should_version = provider.get("versionFunctions", True)
        if should_version is None:
            should_version = True
    return bool(should_version)


def _layer_configurations(
    props: Mapping[str, Any], layers: Mapping[str, CompiledLayer]
) -> list[tuple[str, CompiledLayer]]:
    """functions.js extractLayerConfigurationsFromFunction: the `{Ref: …}` entries of
    `Layers` that name a layer of this service (others are not part of the hash)."""
    found = []
    for entry in props.get("Layers") or []:
        ref = entry.get("Ref") if isinstance(entry, dict) else None
        if isinstance(ref, str) and ref in layers:
            found.append((ref, layers[ref]))
    return found


def _version(
    fn: FunctionInfo, props: Mapping[str, Any], file_hash: str, layers: Mapping[str, CompiledLayer]
) -> tuple[str, dict[str, Any]]:
    """The function's `AWS::Lambda::Version`, named by the hash of the code and the config
    (and of the code and configuration of the service's layers it references)."""
    hashed = copy.deepcopy(dict(props))
    for key in ("Code", "ReservedConcurrentExecutions", "Tags"):
        hashed.pop(key, None)
    configurations = _layer_configurations(props, layers)
    hashed["layerConfigurations"] = [
        {"name": layer.name, "ref": ref, "properties": copy.deepcopy(dict(layer.properties))}
        for ref, layer in configurations
    ]
    # the layers' zips by artifact path (`.serverless/<name>.zip`), sorted
    layer_hashes = "".join(
        layer.sha256_b64 for _, layer in sorted(configurations, key=lambda c: c[1].artifact_path)
    )
    text = file_hash + layer_hashes + js_stringify(deep_sort(hashed))
    digest = hashlib.sha256(text.encode()).digest()
    version_props: dict[str, Any] = {
        "FunctionName": {"Ref": fn.logical_id},
        "CodeSha256": file_hash,
    }
    if fn.spec.get("description"):
        version_props["Description"] = fn.spec["description"]
    version_id = naming.lambda_version_logical_id(fn.key, base64.b64encode(digest).decode())
    version = {
        "Type": "AWS::Lambda::Version",
        "DeletionPolicy": "Retain",
        "Properties": version_props,
    }
    return version_id, version


def _s3_key(
    ctx: Context,
    key: str,
    package: Mapping[str, Any],
    fn_package: Mapping[str, Any],
    artifact_key: str | None,
    directory: str,
) -> str:
    """Where the function's zip is uploaded: `artifact_key`, or `<directory>/<zip name>`."""
    if fn_package.get("artifact"):
        file_name = posixpath.basename(str(fn_package["artifact"]))
    elif package.get("individually") or fn_package.get("individually"):
        file_name = f"{key}.zip"
    elif package.get("artifact"):
        file_name = posixpath.basename(str(package["artifact"]))
    else:
        file_name = f"{ctx.service}.zip"
    if artifact_key and file_name in (
        f"{ctx.service}.zip",
        posixpath.basename(str(package.get("artifact") or "")),
    ):
        return artifact_key
    return f"{directory}/{file_name}"


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


_RUNTIME_UPDATES = {"auto": "Auto", "onFunctionUpdate": "FunctionUpdate", "manual": "Manual"}


def _runtime_management(
    ctx: Context, base: str, provider_value: Any, function_value: Any
) -> dict[str, Any] | None:
    """provider.js resolveFunctionRuntimeManagement: the function's setting over the
    provider's (a mode name or `{mode, arn}`); `RuntimeManagementConfig` unless `auto`."""
    merged: dict[str, Any] = {"mode": "auto"}
    where = (
        f"{base}.runtimeManagement" if function_value is not None else "provider.runtimeManagement"
    )
    for value in (provider_value, function_value):
        if isinstance(value, str):
            merged["mode"] = value
        elif isinstance(value, dict):
            merged.update(value)
        elif value is not None:
            raise ctx.invalid(where, "`runtimeManagement` is a mode name or `{mode, arn}`")
    mode = merged.get("mode")
    if mode not in _RUNTIME_UPDATES:
        raise ctx.invalid(where, f"`mode` is one of {', '.join(_RUNTIME_UPDATES)}, not `{mode}`")
    if mode == "auto":
        return None
    config: dict[str, Any] = {"UpdateRuntimeOn": _RUNTIME_UPDATES[mode]}
    if mode == "manual":
        if not merged.get("arn"):
            raise ctx.invalid(where, "`mode: manual` needs the runtime version's `arn`")
        config["RuntimeVersionArn"] = merged["arn"]
    return config
