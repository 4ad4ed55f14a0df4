"""What a service build needs around it: its buildspec's secrets fetched from AWS, and
its artifacts moved into the content-addressed artifact store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from shipway.config.buildspec import secret_references
from shipway.errors import ShipwayError, Where
from shipway.model import Artifact, BuildResult, BuildSpec
from shipway.pipeline.paths import StatePaths

__all__ = ["fetch_build_secrets", "store_artifact"]


def _move(paths: StatePaths, service: str, path: Path, sha256: str) -> Path:
    dest = paths.artifact(service, sha256)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        path.unlink(missing_ok=True)
    else:
        path.replace(dest)
    return dest


def _into_store(paths: StatePaths, art: Artifact) -> Artifact:
    """Move a fresh artifact (and its layers' zips) into the content-addressed store (same
    bytes, same name)."""
    layers = tuple(
        replace(layer, path=_move(paths, art.service, layer.path, layer.sha256))
        for layer in art.layers
    )
    return replace(art, path=_move(paths, art.service, art.path, art.sha256), layers=layers)


def store_artifact(paths: StatePaths, result: BuildResult) -> BuildResult:
    """The result with its artifact (and secondary artifacts) in the artifact store."""
    assert result.artifact is not None
    return replace(
        result,
        artifact=_into_store(paths, result.artifact),
        secondary={k: _into_store(paths, a) for k, a in result.secondary.items()},
    )


def fetch_build_secrets(spec: BuildSpec | None, region: str, profile: str | None) -> dict[str, str]:
    """The values of a buildspec's `env.parameter-store` / `env.secrets-manager`, from AWS
    (boto3 is loaded only when a buildspec declares some)."""
    refs = secret_references(spec) if spec else []
    if not refs:
        return {}
    from shipway.targets.aws.client import AwsClient

    client = AwsClient(region, profile)
    values: dict[str, str] = {}
    for ref in refs:
        if ref.kind == "parameter-store":
            parameter = client.ssm_parameter(ref.name, decrypt=True)
            if parameter is None:
                raise ShipwayError(
                    f"parameter `{ref.name}` (for `{ref.env_name}`) does not exist in {region}",
                    Where(
                        spec.file if spec else "buildspec.yml",
                        None,
                        f"env.parameter-store.{ref.env_name}",
                    ),
                )
            values[ref.env_name] = parameter.value
        else:
            values[ref.env_name] = client.secret_value(
                ref.name, ref.json_key, ref.version_stage, ref.version_id
            )
    return values
