"""buildspec `env.parameter-store` / `env.secrets-manager` entries -> what to fetch.

Pure: no I/O. `shipway.config.buildspec` re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shipway.model import BuildSpec

__all__ = ["SecretRef", "parse_secret_reference", "secret_references"]


@dataclass(frozen=True)
class SecretRef:
    """One `env.parameter-store` / `env.secrets-manager` entry: what to fetch, and for which
    variable. `name` is the parameter's name (or ARN), or the secret's name or ARN."""

    env_name: str
    kind: Literal["parameter-store", "secrets-manager"]
    name: str
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None


_ARN_PARTS = 7  # arn:partition:secretsmanager:region:account:secret:name-suffix


def parse_secret_reference(env_name: str, reference: str) -> SecretRef:
    """`secret-id:json-key:version-stage:version-id` (all but secret-id optional; empty
    fields mean "not given"). A secret-id may be an ARN, whose own colons are kept.
    Raises ValueError with a one-line reason."""
    text = reference.strip()
    if text.startswith("arn:"):
        parts = text.split(":")
        if len(parts) < _ARN_PARTS:
            raise ValueError(
                f"`{reference}` is not a secret ARN "
                "(arn:<partition>:secretsmanager:<region>:<account>:secret:<name>)"
            )
        secret_id, rest = ":".join(parts[:_ARN_PARTS]), parts[_ARN_PARTS:]
    else:
        secret_id, *rest = text.split(":")
    if not secret_id:
        raise ValueError(f"`{reference}` has no secret-id before the first `:`")
    if len(rest) > 3:
        raise ValueError(
            f"`{reference}` has {len(rest) + 1} fields; expected at most 4: "
            "secret-id:json-key:version-stage:version-id"
        )
    json_key, stage, version_id = (*rest, "", "", "")[:3]
    return SecretRef(
        env_name=env_name,
        kind="secrets-manager",
        name=secret_id,
        json_key=json_key or None,
        version_stage=stage or None,
        version_id=version_id or None,
    )


def secret_references(spec: BuildSpec) -> list[SecretRef]:
    """What the pipeline must fetch before the build: parameter-store entries first, then
    secrets-manager entries, each in file order. Pure: no I/O."""
    out = [
        SecretRef(env_name=k, kind="parameter-store", name=v)
        for k, v in spec.parameter_store.items()
    ]
    out += [parse_secret_reference(k, v) for k, v in spec.secrets_manager.items()]
    return out
