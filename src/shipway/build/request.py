"""What the pipeline hands a build (it gets a `model.BuildResult` back)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shipway.model import BuildSpec, ServiceDefinition


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
    # the build's scratch space (env dumps, sandbox home, temp files): under the run's
    # folder in the state directory, so a killed run leaves nothing in the system temp
    scratch_dir: Path | None = None
    # removes the scratch folder when the build ends (None: at once, before returning)
    remove_scratch: Callable[[Path], None] | None = None
    sandbox: bool = True  # isolate with bubblewrap where it is installed
    network: bool = True  # the build may reach the network
    # paths the build must never see (the state directory, the source checkout …)
    hidden: tuple[Path, ...] = ()
    # called with the id of every process group the build starts, so that a run whose
    # process was killed can have its builds killed by the next command
    on_spawn: Callable[[int], None] | None = None
    # the service's serverless.yml, resolved: its runtimes choose the default build (npm for
    # a Node.js service, pip otherwise) and its handlers what esbuild builds; None: pip
    definition: ServiceDefinition | None = None
    # the service's `layers:`: (name, folder relative to the service, patterns), zipped
    # after the build; the service's own package leaves their folders out
    # (or, 4th, the zip the build left, for `package.artifact`)
    layers: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = ()
    # False for a service with no functions (resources only): like the Framework, it has
    # no code package (an empty one, which nothing deploys), and that is no failure
    has_functions: bool = True
