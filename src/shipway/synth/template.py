"""ServiceDefinition -> CloudFormation template, as `serverless package` (v3.40.0) writes it.

Pure: no I/O, no clock. The same inputs give the same template (the API Gateway
deployment ID and the artifact folder come from `timestamp_ms`).
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping
from typing import Any

from shipway.config.service_check import TOP_LEVEL_KEYS as config_top_level_keys
from shipway.config.service_check import functions_of
from shipway.config.service_events import KNOWN_EVENTS
from shipway.config.variables.values import json_ready
from shipway.errors import ShipwayError, Where
from shipway.model import LayerArtifact, ServiceDefinition
from shipway.synth import naming
from shipway.synth.context import Context, check_keys, collecting, refuse, unsupported
from shipway.synth.core import compile_core, deployment_bucket_name
from shipway.synth.events import COMPILERS
from shipway.synth.function_roles import compile_function_roles
from shipway.synth.functions import artifact_directory, compile_functions, make_function_infos
from shipway.synth.iam import compile_iam
from shipway.synth.jsutil import lodash_merge
from shipway.synth.layers import compile_layers, service_layers
from shipway.synth.plugin_tracing import compile_plugin_tracing
from shipway.synth.support import IMPLEMENTED_PLUGINS, PACKAGING_PLUGINS, check_refused

__all__ = [
    "IMPLEMENTED_PLUGINS",
    "PACKAGING_PLUGINS",
    "PROVIDER_KEYS",
    "TOP_LEVEL_KEYS",
    "plugin_warnings",
    "stack_name",
    "support_problems",
    "synthesize",
]

DESCRIPTION = "The AWS CloudFormation template for this Serverless application"

#: top-level keys that do not change the template (or that `synthesize` compiles): those
#: the config accepts, but `build`, which `shipway synth` reports as not supported
TOP_LEVEL_KEYS = config_top_level_keys - {"build"}

#: provider keys that are compiled, or that change only the deploy (not the template)
PROVIDER_KEYS = frozenset(
    {
        "name",
        "runtime",
        "stage",
        "region",
        "profile",
        "memorySize",
        "timeout",
        "environment",
        "iam",
        "iamRoleStatements",
        "iamManagedPolicies",
        "role",
        "rolePermissionsBoundary",
        "tags",
        "stackTags",
        "stackName",
        "stackPolicy",
        "stackParameters",
        "disableRollback",
        "notificationArns",
        "cfnRole",
        "deploymentBucket",
        "deploymentPrefix",
        "deploymentMethod",
        "versionFunctions",
        "layers",
        "logRetentionInDays",
        "logDataProtectionPolicy",
        "apiName",
        "apiGateway",
        "endpointType",
        "vpcEndpointIds",
        "httpApi",
        "architecture",
        "lambdaHashingVersion",
        "tracing",
        "vpc",
        "kmsKeyArn",
        "s3",
        "logs",
        "runtimeManagement",
        "eventBridge",
        "kinesis",
        "variableSyntax",
        "websocket",
        "websocketsApiName",
        "websocketsApiRouteSelectionExpression",
        "websocketsDescription",
    }
)

#: packaging plugins whose work Shipway's default build does itself (build/esbuild.py)
BUILT_PLUGINS = frozenset({"serverless-esbuild"})

_RESOURCES_KEYS = (
    "Resources",
    "Outputs",
    "Conditions",
    "Parameters",
    "Mappings",
    "Metadata",
    "Rules",
    "Description",
    "AWSTemplateFormatVersion",
    "Transform",
    "extensions",
)


def stack_name(definition: ServiceDefinition) -> str:
    """`<service>-<stage>`, or provider.stackName."""
    provider = definition.resolved.get("provider") or {}
    custom = provider.get("stackName") if isinstance(provider, dict) else None
    return naming.stack_name(
        definition.service, definition.stage, custom if isinstance(custom, str) else None
    )


def _plugins(resolved: Mapping[str, Any]) -> list[str]:
    value = resolved.get("plugins") or []
    if isinstance(value, dict):
        value = value.get("modules") or []
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def plugin_warnings(definition: ServiceDefinition) -> list[str]:
    """One line per packaging-only plugin that `synthesize` accepts but does not run."""
    return [
        f"plugin `{name}` changes only packaging: Shipway builds the code itself and ignores it"
        for name in _plugins(definition.resolved)
        if name in PACKAGING_PLUGINS and name not in BUILT_PLUGINS
    ]


def _resources(source: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for part in value:
            if isinstance(part, dict):
                lodash_merge(merged, part)
        value = merged
    if not isinstance(value, dict):
        raise ShipwayError("`resources` must be a mapping", Where(source, key="resources"))
    check_keys(source, "resources", value, _RESOURCES_KEYS)
    for key in _RESOURCES_KEYS[:7]:  # the template sections that are mappings
        if value.get(key) is not None and not isinstance(value[key], dict):
            raise ShipwayError(
                f"`resources.{key}` must be a mapping", Where(source, key=f"resources.{key}")
            )
    return value


def _check(source: str, resolved: Mapping[str, Any], functions: Mapping[str, Any]) -> None:
    """What Shipway does not implement (synth/support.py): refused, or listed."""
    for key in resolved:
        if key not in TOP_LEVEL_KEYS:
            refuse(unsupported(source, key))
    provider = resolved.get("provider") or {}
    check_keys(source, "provider", provider, PROVIDER_KEYS)
    tracing = provider.get("tracing")
    if isinstance(tracing, dict):
        check_keys(source, "provider.tracing", tracing, ("lambda", "apiGateway"))
    check_refused(source, resolved)
    for name, spec in functions.items():
        base = f"functions.{name}"
        if not isinstance(spec, dict):
            raise ShipwayError(f"function `{name}` must be a mapping", Where(source, key=base))
        if not spec.get("handler"):
            raise ShipwayError(f"function `{name}` needs a `handler`", Where(source, key=base))
        for index, event in enumerate(spec.get("events") or []):
            at = f"{base}.events[{index}]"
            if not isinstance(event, dict) or len(event) != 1:
                raise ShipwayError("an event must be a mapping with one key", Where(source, key=at))
            ((kind, _),) = event.items()
            # a type the Framework's schema does not know is passed over (a warning)
            if kind in KNOWN_EVENTS and kind not in COMPILERS:
                refuse(unsupported(source, f"{at}.{kind}", f"`{kind}` events"))


def support_problems(
    definition: ServiceDefinition, source: str, *, partial: bool = False
) -> list[ShipwayError]:
    """Every setting of `definition` that Shipway refuses, each named by its key: what
    `synthesize` would refuse, all of it (it stops at the first). `partial`: a document
    that did not pass its checks (their errors are reported): what was found until
    synthesis could not go on."""
    with collecting() as found:
        try:
            synthesize(definition, source=source)
        except ShipwayError as exc:
            found.append(exc)
        except Exception:
            if not partial:
                raise
    return found


def synthesize(
    definition: ServiceDefinition,
    *,
    artifact_key: str | None = None,
    deployment_bucket: str | None = None,
    timestamp_ms: int | None = None,
    code_sha256: str | None = None,
    source: str = "serverless.yml",
    layer_artifacts: Mapping[str, LayerArtifact] | None = None,
    layer_keys: Mapping[str, str] | None = None,
    custom_resources_key: str | None = None,
    deploy_time_ms: int | None = None,
) -> dict[str, Any]:
    """The CloudFormation template `serverless package` would write for `definition`.

    `artifact_key`: the S3 key of the service zip (default: the Framework's
    `serverless/<service>/<stage>/<ms>-<ISO>/<service>.zip`). `deployment_bucket`: use this
    bucket instead of creating `ServerlessDeploymentBucket` (as `provider.deploymentBucket`
    does; the file's own setting wins). `timestamp_ms`: the deploy time, used for
    `ApiGatewayDeployment<ms>` and the default artifact folder (default 0, so the output is
    deterministic). `code_sha256`: the zip's sha256 (hex or base64) for `CodeSha256` and the
    `LambdaVersion<hash>` IDs; without it the hash of empty content is used. `source` names
    the file in errors. `custom_resources_key`: the S3 key of the custom resources' zip
    (default: `custom-resources.zip` in the artifact folder). `deploy_time_ms`: what
    `forceDeploy` writes (default `timestamp_ms`). Raises ShipwayError naming the key of
    anything not supported.
    """
    resolved: dict[str, Any] = copy.deepcopy(dict(definition.resolved))
    functions = functions_of(resolved)
    _check(source, resolved, functions)
    provider: dict[str, Any] = resolved.get("provider") or {}
    package = resolved.get("package") or {}
    if not isinstance(package, dict):
        package = {}
    check_keys(
        source,
        "package",
        package,
        ("artifact", "individually", "patterns", "include", "exclude", "excludeDevDependencies"),
    )
    timestamp = 0 if timestamp_ms is None else int(timestamp_ms)
    ctx = Context(
        source=source,
        service=definition.service,
        stage=definition.stage,
        region=definition.region,
        provider=provider,
        functions=make_function_infos(definition.service, definition.stage, provider, functions),
        instance_id=str(timestamp),
        deploy_time_ms=timestamp if deploy_time_ms is None else int(deploy_time_ms),
    )
    directory = (
        posixpath.dirname(artifact_key) if artifact_key else artifact_directory(ctx, timestamp)
    )
    bucket_name = deployment_bucket_name(provider) or deployment_bucket
    ctx.custom_resources_code = {
        "S3Bucket": bucket_name or {"Ref": naming.DEPLOYMENT_BUCKET},
        "S3Key": custom_resources_key or f"{directory}/{naming.CUSTOM_RESOURCES_ARTIFACT}",
    }
    compile_core(ctx, deployment_bucket)
    compile_iam(ctx)
    compiled_layers = compile_layers(
        ctx,
        service_layers(source, resolved),
        directory=directory,
        bucket_name=bucket_name,
        code=layer_artifacts or {},
        keys=layer_keys or {},
    )
    compile_functions(
        ctx,
        package=package,
        artifact_key=artifact_key,
        timestamp_ms=timestamp,
        code_sha256=code_sha256,
        bucket_override=deployment_bucket,
        layers=compiled_layers,
    )
    for compiler in COMPILERS.values():
        compiler(ctx)
    compile_plugin_tracing(ctx, _plugins(resolved))  # its hook: package:compileEvents
    compile_function_roles(ctx, _plugins(resolved), resolved.get("custom"))

    # add-export-name-for-outputs.js (before the user's resources are merged)
    for key, output in ctx.outputs.items():
        if "Export" not in output:
            output["Export"] = {"Name": f"sls-{ctx.service}-{ctx.stage}-{key}"}

    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": DESCRIPTION,
        "Resources": ctx.resources,
        "Outputs": ctx.outputs,
    }
    user = _resources(source, resolved.get("resources"))
    extensions = user.pop("extensions", None)
    user = {k: v for k, v in user.items() if v is not None}
    lodash_merge(template, user)
    if extensions:
        _extend(source, template["Resources"], extensions)
    for resource in template["Resources"].values():
        if isinstance(resource, dict) and isinstance(resource.get("Properties"), dict):
            _strip_nulls(resource["Properties"])
    out: dict[str, Any] = json_ready(template)  # `.nan` is null, as the Framework writes it
    return out


def _extend(source: str, resources: dict[str, Any], extensions: Mapping[str, Any]) -> None:
    """merge-custom-provider-resources.js `resources.extensions`."""
    for name, definition in extensions.items():
        if name not in resources:
            raise ShipwayError(
                f"cannot extend `{name}`: no such resource in the generated stack",
                Where(source, key=f"resources.extensions.{name}"),
            )
        target = resources[name]
        for attribute, value in (definition or {}).items():
            if attribute in (
                "Condition",
                "CreationPolicy",
                "DeletionPolicy",
                "UpdatePolicy",
                "UpdateReplacePolicy",
            ):
                target[attribute] = value
            elif attribute in ("Properties", "Metadata"):
                target.setdefault(attribute, {}).update(value)
            elif attribute == "DependsOn":
                current = target.get("DependsOn") or []
                target["DependsOn"] = [current] if isinstance(current, str) else list(current)
                target["DependsOn"].extend(value)
            else:
                refuse(unsupported(source, f"resources.extensions.{name}.{attribute}"))


def _strip_nulls(value: dict[str, Any]) -> None:
    for key in [k for k, v in value.items() if v is None]:
        del value[key]
    for item in value.values():
        if isinstance(item, dict):
            _strip_nulls(item)
        elif isinstance(item, list):
            for element in item:
                if isinstance(element, dict):
                    _strip_nulls(element)
