"""The environment a build starts with, and the values masked in its log.

Precedence, highest first: Shipway's run variables (`build_vars`: CODEBUILD_*, SHIPWAY_*,
AWS_REGION …), the environment's `.env` layers (`env`), the buildspec (`env.parameter-store`
/ `env.secrets-manager` values the pipeline fetched into `resolved_secrets`, then
`env.variables`), and last this process's own environment. This mirrors CodeBuild, where a
start-build override beats the project, which beats the buildspec, which beats the image.

Every `parameter-store` / `secrets-manager` variable must have a value (fetched, or given by
`.env` / run variables): otherwise the build fails before it starts, naming the keys.
"""

from __future__ import annotations

import os

from shipway.build.errors import BuildFailed
from shipway.build.request import BuildRequest
from shipway.config.buildspec import SecretRef, parse_secret_reference, secret_references

__all__ = ["SecretRef", "build_environment", "parse_secret_reference", "secret_references"]


def secret_names(req: BuildRequest) -> set[str]:
    """The variables whose values are secret (never exported, always masked)."""
    names = set(req.resolved_secrets)
    if req.buildspec is not None:
        names.update(req.buildspec.parameter_store)
        names.update(req.buildspec.secrets_manager)
    return names


def build_environment(req: BuildRequest) -> tuple[dict[str, str], set[str]]:
    """(the starting environment, the values to mask). BuildFailed on a missing secret."""
    spec = req.buildspec
    env = dict(os.environ)
    env["CODEBUILD_SRC_DIR"] = str(req.workspace)
    env["CODEBUILD_BUILD_SUCCEEDING"] = "1"
    if spec is not None:
        env.update(spec.variables)
    env.update(req.resolved_secrets)
    env.update(req.env)
    env.update(req.build_vars)
    masked = set(req.secrets) | set(req.resolved_secrets.values())
    if spec is not None:
        given = {*req.resolved_secrets, *req.env, *req.build_vars}
        declared = [*spec.parameter_store, *spec.secrets_manager]
        missing = [k for k in declared if k not in given]
        if missing:
            raise BuildFailed(
                "env.parameter-store / env.secrets-manager: no value for "
                + ", ".join(f"`{k}`" for k in missing)
                + " (the pipeline fetches them from AWS; locally, set them in the "
                "environment's .env files)"
            )
        masked.update(env[k] for k in declared)
    env.pop("PWD", None)
    env.pop("OLDPWD", None)
    return env, masked
