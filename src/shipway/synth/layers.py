"""The service's own Lambda layers (`layers:`), as the Framework v3.40.0 compiles them.

Follows lib/plugins/aws/package/compile/layers.js: one `AWS::Lambda::LayerVersion`
`<Name>LambdaLayer` per layer (its zip under the artifact folder as `<name>.zip`), its
`LayerVersionPermission`s for `allowedAccounts`, and three outputs: the version's ARN
(`…QualifiedArn`), the layer's hash and its S3 key. The hash is the Framework's: sha1 of
the resource's JSON (without the S3 key) followed by the zip's bytes; the zip is read
when one is given (the deploy), else the hash is of the JSON alone (validate, `synth`).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.config.files import climbs_out
from shipway.errors import ShipwayError, Where
from shipway.model import LayerArtifact
from shipway.synth import naming
from shipway.synth.context import Context, check_keys
from shipway.synth.jsutil import js_stringify

__all__ = [
    "LAYER_KEYS",
    "CompiledLayer",
    "compile_layers",
    "layer_sources",
    "service_layers",
]

#: the keys of `layers.<name>` (the Framework's schema knows no others)
LAYER_KEYS = (
    "path",
    "name",
    "description",
    "licenseInfo",
    "compatibleRuntimes",
    "compatibleArchitectures",
    "retain",
    "allowedAccounts",
    "package",
)
_PACKAGE_KEYS = ("patterns", "include", "exclude", "artifact")
_LAYER_KEY = re.compile(r"\A[A-Za-z0-9_-]+\Z")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class CompiledLayer:
    """What a function's version hash needs of a layer it references by `Ref`."""

    name: str  # the key under `layers:`
    properties: Mapping[str, Any]  # the resource's Properties, without Content.S3Key
    sha256_b64: str  # the zip's sha256 as the Framework writes it (base64)
    # the zip's path as the Framework names it, which orders the layers in a version hash
    artifact_path: str = ""


def service_layers(source: str, resolved: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The service's `layers:` checked: a mapping of mappings, each with a `path` inside
    the service folder; `package.artifact` (a prebuilt zip) is refused."""
    value = resolved.get("layers")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ShipwayError("`layers` must be a mapping of layer names", Where(source, key="layers"))
    out: dict[str, dict[str, Any]] = {}
    for name, spec in value.items():
        base = f"layers.{name}"
        if not _LAYER_KEY.match(str(name)):
            raise ShipwayError(
                f"layer name `{name}` may hold only letters, digits, `-` and `_`",
                Where(source, key=base),
            )
        if not isinstance(spec, dict):
            raise ShipwayError(f"layer `{name}` must be a mapping", Where(source, key=base))
        check_keys(source, base, spec, LAYER_KEYS)
        package = spec.get("package") or {}
        check_keys(source, f"{base}.package", package, _PACKAGE_KEYS)
        artifact = package.get("artifact")
        if artifact is not None:
            if (
                not isinstance(artifact, str)
                or "://" in artifact
                or climbs_out(artifact.replace("\\", "/"))
            ):
                raise ShipwayError(
                    f"layer `{name}`: `package.artifact` must be a zip's path inside the "
                    "service folder (S3 locations are not supported)",
                    Where(source, key=f"{base}.package.artifact"),
                )
            out[str(name)] = spec
            continue
        path = spec.get("path")
        if not isinstance(path, str) or not path.strip():
            raise ShipwayError(
                f"layer `{name}` needs a `path`: the folder (relative to the service) it zips",
                Where(source, key=f"{base}.path"),
            )
        if climbs_out(path.replace("\\", "/")):
            raise ShipwayError(
                f"layer `{name}`: `path` `{path}` leaves the service folder",
                Where(source, key=f"{base}.path"),
            )
        for key in ("patterns", "include", "exclude"):
            items = package.get(key)
            if items is not None and not (
                isinstance(items, list) and all(isinstance(i, str) for i in items)
            ):
                raise ShipwayError(
                    f"`{base}.package.{key}` must be a list of strings",
                    Where(source, key=f"{base}.package.{key}"),
                )
        out[str(name)] = spec
    return out


def layer_artifact(spec: Mapping[str, Any]) -> str | None:
    """A layer's prebuilt zip (`package.artifact`), relative to the service, if it has one."""
    package = spec.get("package")
    artifact = package.get("artifact") if isinstance(package, dict) else None
    return str(artifact) if artifact else None


def layer_sources(
    source: str, resolved: Mapping[str, Any]
) -> tuple[tuple[str, str, tuple[str, ...], str | None], ...]:
    """(name, path, include patterns, prebuilt zip) of every layer, for the build: the
    service's `package.patterns` / `include`, then the layer's, then its `exclude` negated
    (package-service.js resolveFilePathsLayer; its default excludes are the build's). A
    layer with `package.artifact` is that zip, as the build left it."""
    package = resolved.get("package") if isinstance(resolved.get("package"), dict) else {}
    assert isinstance(package, dict)
    service = [*(package.get("exclude") or [])]
    service_includes = [*(package.get("include") or []), *(package.get("patterns") or [])]
    out: list[tuple[str, str, tuple[str, ...], str | None]] = []
    for name, spec in service_layers(source, resolved).items():
        artifact = layer_artifact(spec)
        if artifact is not None:
            out.append((name, "", (), artifact.replace("\\", "/").removeprefix("./")))
            continue
        own = spec.get("package") or {}
        excludes = [*service, *(own.get("exclude") or [])]
        patterns = [p[1:] if p.startswith("!") else "!" + p for p in excludes]
        patterns += [*service_includes, *(own.get("include") or []), *(own.get("patterns") or [])]
        path = str(spec["path"]).replace("\\", "/").strip("/") or "."
        out.append((name, path, tuple(str(p) for p in patterns), None))
    return tuple(out)


def _zip_name(name: str, spec: Mapping[str, Any]) -> str:
    artifact = layer_artifact(spec)
    return artifact.replace("\\", "/").rsplit("/", 1)[-1] if artifact else f"{name}.zip"


def _sort_key(name: str, spec: Mapping[str, Any]) -> str:
    """The Framework sorts `<service>/.serverless/<name>.zip` (absolute) and prebuilt zips
    as written: built ones start with `/` and share their folder."""
    return layer_artifact(spec) or f"/.serverless/{name}.zip"


def _sha1_after(prefix: bytes, path: Path | None) -> str:
    digest = hashlib.sha1(prefix)  # the Framework's content hash, not for security
    if path is not None:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(block)
    return digest.hexdigest()


def compile_layers(
    ctx: Context,
    layers: Mapping[str, Mapping[str, Any]],
    *,
    directory: str,
    bucket_name: str | None,
    code: Mapping[str, LayerArtifact],
    keys: Mapping[str, str],
) -> dict[str, CompiledLayer]:
    """Add every layer's resources and outputs to `ctx`; return them by logical ID (what
    a function's `{Ref: …}` may name). `code`: the built zips by layer name; `keys`: S3
    keys to use instead of `<directory>/<name>.zip`."""
    compiled: dict[str, CompiledLayer] = {}
    for name, spec in layers.items():
        content: dict[str, Any] = {
            "S3Bucket": bucket_name if bucket_name else {"Ref": naming.DEPLOYMENT_BUCKET},
            "S3Key": keys.get(name, f"{directory}/{_zip_name(name, spec)}"),
        }
        props: dict[str, Any] = {"Content": content, "LayerName": spec.get("name") or name}
        for key, prop in (
            ("description", "Description"),
            ("licenseInfo", "LicenseInfo"),
            ("compatibleRuntimes", "CompatibleRuntimes"),
            ("compatibleArchitectures", "CompatibleArchitectures"),
        ):
            if spec.get(key):
                props[prop] = spec[key]
        resource: dict[str, Any] = {"Type": "AWS::Lambda::LayerVersion", "Properties": props}
        hashed = copy.deepcopy(resource)
        del hashed["Properties"]["Content"]["S3Key"]
        artifact = code.get(name)
        sha = _sha1_after(js_stringify(hashed).encode(), artifact.path if artifact else None)
        logical_id = naming.lambda_layer_logical_id(name)
        if spec.get("retain"):
            logical_id += sha
            resource["DeletionPolicy"] = "Retain"
        ctx.resources[logical_id] = resource
        for account in spec.get("allowedAccounts") or []:
            permission: dict[str, Any] = {
                "Type": "AWS::Lambda::LayerVersionPermission",
                "Properties": {
                    "Action": "lambda:GetLayerVersion",
                    "LayerVersionArn": {"Ref": logical_id},
                    "Principal": account,
                },
            }
            permission_id = naming.lambda_layer_permission(name, str(account))
            if spec.get("retain"):
                permission_id += sha
                permission["DeletionPolicy"] = "Retain"
            ctx.resources[permission_id] = permission
        ctx.outputs[naming.lambda_layer_output(name)] = {
            "Description": "Current Lambda layer version",
            "Value": {"Ref": logical_id},
        }
        ctx.outputs[naming.lambda_layer_hash_output(name)] = {
            "Description": "Current Lambda layer hash",
            "Value": sha,
        }
        ctx.outputs[naming.lambda_layer_s3_key_output(name)] = {
            "Description": "Current Lambda layer S3Key",
            "Value": content["S3Key"],
        }
        empty = base64.b64encode(hashlib.sha256(b"").digest()).decode()
        zip_sha = base64.b64encode(bytes.fromhex(artifact.sha256)).decode() if artifact else empty
        compiled[logical_id] = CompiledLayer(
            name, hashed["Properties"], zip_sha, _sort_key(name, spec)
        )
    return compiled
