"""What the pipeline hands a build (it gets a `model.BuildResult` back)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shipway.model import BuildSpec


@dataclass(frozen=True)
class BuildRequest:
    service: str
    service_dir: Path  # the service's folder inside the exported workspace
    workspace: Path  # root of the exported commit (CODEBUILD_SRC_DIR)
    buildspec: BuildSpec | None  # None: the default build
    env: Mapping[str, str]  # layered .env values + run overrides; override env.variables
    build_vars: Mapping[str, str]  # CODEBUILD_*, SHIPWAY_ENV, AWS_REGION …; override all
    package_patterns: tuple[str, ...]  # serverless.yml package.patterns
    exclude_files: tuple[str, ...]  # e.g. the serverless.yml itself, .env files
    out_zip: Path
    log_path: Path
    timeout_s: float
    secrets: frozenset[str] = field(default_factory=frozenset)  # values masked as ***
    # cache.paths are restored from / saved to this folder; None: no cache
    cache_dir: Path | None = None
    # env.parameter-store / env.secrets-manager values the pipeline fetched (name -> value):
    # exported to the commands like env.variables, and always masked
    resolved_secrets: Mapping[str, str] = field(default_factory=dict)
