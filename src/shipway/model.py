"""The nouns of Shipway: frozen data, no I/O.

The user's files become these values (`config/`), pure stages turn them into plans
(`pipeline/`, `synth/`), and the modules that own an outside system carry the plans out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

# --------------------------------------------------------------------------- project


@dataclass(frozen=True)
class LocalTarget:
    kind: Literal["local"] = "local"


@dataclass(frozen=True)
class AwsTarget:
    region: str
    profile: str | None = None
    role_arn: str | None = None
    account: str | None = None
    kind: Literal["aws"] = "aws"


Target = LocalTarget | AwsTarget


@dataclass(frozen=True)
class ApprovalPolicy:
    before: Literal["build", "deploy"]
    approvers: tuple[str, ...] = ()
    timeout_s: int | None = None


@dataclass(frozen=True)
class Environment:
    name: str
    branch: str  # a branch name or a glob (`hotfix/*`)
    target: Target
    # the Framework's stage name (`${sls:stage}`, stacks `<service>-<stage>`); "" means the
    # environment's name, which __post_init__ puts in its place
    stage: str = ""
    approval: ApprovalPolicy | None = None
    mode: Literal["superseded", "queued"] = "superseded"
    notify: tuple[str, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # extra keys declared secret
    source: Mapping[str, Any] | None = None
    paths_include: tuple[str, ...] = ()
    paths_exclude: tuple[str, ...] = ()
    # SERVICE.FUNCTION of a local environment, invoked once its stacks are on the emulator
    seed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.stage:
            object.__setattr__(self, "stage", self.name)


@dataclass(frozen=True)
class Service:
    """A folder with a serverless.yml. `name` is its `service:` value."""

    name: str
    path: str  # posix path relative to the repository root, e.g. "services/accounts"
    config_file: str  # "serverless.yml" (or .yaml), relative to `path`
    buildspec: str | None  # "buildspec.yml" relative to `path`, or None for the default build
    depends_on: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    # `${param:}` values serverless-compose.yml gives it (name, text with variables)
    params: tuple[tuple[str, str], ...] = ()

    @property
    def config_path(self) -> str:
        """The serverless.yml, relative to the repository root (as messages name it)."""
        return f"{self.path}/{self.config_file}"

    @property
    def buildspec_path(self) -> str | None:
        return f"{self.path}/{self.buildspec}" if self.buildspec else None


@dataclass(frozen=True)
class BuildSettings:
    concurrency: int
    timeout_s: int
    sandbox: bool = True  # isolate builds with bubblewrap where it is installed
    network: bool = True  # builds may reach the network


@dataclass(frozen=True)
class Project:
    name: str
    root: Path
    services: tuple[Service, ...]  # in deploy order (dependencies first), then by name
    environments: Mapping[str, Environment]
    build: BuildSettings
    releases_keep: int = 20  # `releases: {keep: N}`: releases kept per environment

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)


# --------------------------------------------------------------------------- serverless.yml


@dataclass(frozen=True)
class HttpRoute:
    """An `http` (REST, payload v1) or `httpApi` (HTTP API, payload v2) event."""

    kind: Literal["http", "httpApi"]
    method: str  # upper case; "ANY" for any method
    path: str  # always starts with "/", e.g. "/accounts/{id}"; "*" for the httpApi catch-all


@dataclass(frozen=True)
class Event:
    """Any event, as resolved config (`type` is the key: http, httpApi, schedule, sqs …)."""

    type: str
    config: Any


@dataclass(frozen=True)
class Function:
    name: str  # the key under `functions:`
    handler: str  # "path/module.function"
    runtime: str
    timeout: int  # seconds
    memory_size: int  # MB
    environment: Mapping[str, str]  # provider.environment merged with the function's
    events: tuple[Event, ...] = ()
    routes: tuple[HttpRoute, ...] = ()


@dataclass(frozen=True)
class ServiceDefinition:
    """A serverless.yml with every variable resolved, for one environment (stage)."""

    service: str
    stage: str
    region: str
    runtime: str
    functions: tuple[Function, ...]
    package_patterns: tuple[str, ...] = ()
    package_artifact: str | None = None
    use_dotenv: bool = True
    resolved: Mapping[str, Any] = field(default_factory=dict)  # the whole resolved document
    # the key paths the Framework's schema does not know, left out of `resolved` (warnings)
    unknown_keys: tuple[str, ...] = ()


# --------------------------------------------------------------------------- runs


class RunState(StrEnum):
    QUEUED = "queued"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self not in (RunState.QUEUED, RunState.AWAITING_APPROVAL, RunState.RUNNING)


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"


class Stage(StrEnum):
    SOURCE = "source"
    APPROVAL = "approval"
    BUILD = "build"
    DEPLOY = "deploy"
    VERIFY = "verify"


class StageState(StrEnum):
    """A stage of a persisted run (a row of the store's `stages` table)."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"  # an approval stage waiting for a person
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def done(self) -> bool:
        return self in (StageState.SUCCEEDED, StageState.SKIPPED)


@dataclass(frozen=True)
class StageRun:
    run_id: str
    stage: Stage
    state: StageState
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "state": self.state.value,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
        }


@dataclass(frozen=True)
class Approval:
    """A run's request for a person's decision, and the decision once made."""

    run_id: str
    before: Literal["build", "deploy"]
    approvers: tuple[str, ...]
    requested_at: float
    expires_at: float | None
    decision: str | None = None  # approved | rejected | expired | superseded | cancelled
    decided_by: str | None = None
    comment: str | None = None
    decided_at: float | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)  # what the run would do

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "approvers": list(self.approvers),
            "requested_at": self.requested_at,
            "expires_at": self.expires_at,
            "decision": self.decision,
            "decided_by": self.decided_by,
            "comment": self.comment,
            "decided_at": self.decided_at,
            "summary": dict(self.summary),
        }


@dataclass(frozen=True)
class LayerArtifact:
    """A built Lambda layer of a service (`layers.<name>`): a deterministic zip of its
    `path` folder, made after the service's build."""

    name: str  # the key under `layers:`
    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class Artifact:
    """A built service package: a deterministic zip and its sha256, and its layers' zips.
    A service with no functions has an empty package (its stack holds no code)."""

    service: str
    path: Path
    sha256: str
    size: int
    layers: tuple[LayerArtifact, ...] = ()


@dataclass(frozen=True)
class BuildResult:
    service: str
    state: JobState
    seconds: float
    artifact: Artifact | None = None
    error: str | None = None  # what failed, in one line
    exported: Mapping[str, str] = field(default_factory=dict)  # exported-variables
    secondary: Mapping[str, Artifact] = field(default_factory=dict)  # secondary-artifacts


@dataclass(frozen=True)
class Run:
    id: str
    env: str
    commit: str
    state: RunState
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    trigger: str = "cli"
    error: str | None = None
    release: int | None = None
    actor: str | None = None  # who started it (a token's user, `local:<os user>`, a hook)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "env": self.env,
            "commit": self.commit,
            "state": self.state.value,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "trigger": self.trigger,
            "error": self.error,
            "release": self.release,
            "actor": self.actor,
        }


@dataclass(frozen=True)
class Job:
    """One service's work in one stage of a run."""

    run_id: str
    stage: Stage
    service: str
    state: JobState
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    log_path: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "service": self.service,
            "state": self.state.value,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            **{
                k: v
                for k, v in self.detail.items()
                if k
                in (
                    "message",
                    "reused_from",
                    "artifact_sha256",
                    "exported",
                    "seconds",
                    "outcome",  # a deploy job's ServiceOutcome (deployed, rolled_back …)
                    "stack",  # an aws deploy job's stack
                )
            },
        }


class DeployAction(StrEnum):
    DEPLOY = "deploy"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ServiceChange:
    """What a deploy will do to one service, and why."""

    service: str
    action: DeployAction
    reason: str
    # the change set's rows (aws targets' plans; empty for the local target)
    resource_changes: tuple[ResourceChange, ...] = ()


@dataclass(frozen=True)
class DeployPlan:
    """A target's plan for one release: printable (dry run) or carried out."""

    env: str
    commit: str
    changes: tuple[ServiceChange, ...]  # in deploy order

    def change(self, service: str) -> ServiceChange:
        return next(c for c in self.changes if c.service == service)

    @property
    def deployed(self) -> tuple[str, ...]:
        return tuple(c.service for c in self.changes if c.action == DeployAction.DEPLOY)


@dataclass(frozen=True)
class ReleasedService:
    name: str
    commit: str
    artifact_sha256: str


@dataclass(frozen=True)
class Release:
    env: str
    number: int
    run_id: str
    commit: str
    created_at: float
    services: tuple[ReleasedService, ...]


# --------------------------------------------------------------------------- buildspec.yml


@dataclass(frozen=True)
class Phase:
    """One buildspec phase (install, pre_build, build, post_build)."""

    name: str
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    on_failure: str | None = None  # ABORT | CONTINUE | RETRY[-n][-regex]
    run_as: str | None = None
    runtime_versions: Mapping[str, str] = field(default_factory=dict)  # install phase only


@dataclass(frozen=True)
class ArtifactSpec:
    files: tuple[str, ...]
    base_directory: str | None = None
    discard_paths: bool = False
    exclude_paths: tuple[str, ...] = ()
    name: str | None = None


@dataclass(frozen=True)
class BuildSpec:
    """A buildspec.yml (AWS CodeBuild format), parsed and checked."""

    file: str  # path relative to the repository root, for messages
    version: str  # "0.1" or "0.2"
    phases: tuple[Phase, ...]  # in CodeBuild's order, only those present
    shell: str | None = None  # env.shell: None means sh
    variables: Mapping[str, str] = field(default_factory=dict)
    parameter_store: Mapping[str, str] = field(default_factory=dict)
    secrets_manager: Mapping[str, str] = field(default_factory=dict)
    exported_variables: tuple[str, ...] = ()
    run_as: str | None = None
    artifacts: ArtifactSpec | None = None
    secondary_artifacts: Mapping[str, ArtifactSpec] = field(default_factory=dict)
    cache_paths: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)  # keys kept for later stages (reports…)


# --------------------------------------------------------------------------- targets
# Plain data the target protocol (targets/protocol.py) takes and returns.


def code_key(service: str, stage: str, sha256: str) -> str:
    """The deployment bucket key of a service zip: content-addressed, so an unchanged zip
    is never uploaded twice and a template names exactly the code it deploys."""
    return f"serverless/{service}/{stage}/code-artifacts/{sha256}.zip"


@dataclass(frozen=True)
class ResourceChange:
    """One row of a CloudFormation change set."""

    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str = ""  # True | False | Conditional ("" when not a Modify)

    def as_dict(self) -> dict[str, str]:
        return {
            "action": self.action,
            "logical_id": self.logical_id,
            "resource_type": self.resource_type,
            "replacement": self.replacement,
        }


@dataclass(frozen=True)
class StackEvent:
    """One CloudFormation stack event, as the progress rows show it."""

    stack: str
    event_id: str
    logical_id: str
    resource_type: str
    status: str
    reason: str = ""
    timestamp: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status.endswith("FAILED")

    def line(self) -> str:
        text = f"{self.status} - {self.resource_type} - {self.logical_id}"
        return f"{text}: {self.reason}" if self.reason and self.failed else text


@dataclass(frozen=True)
class DeployInput:
    """One service of a release as a target receives it. `template`: the synthesized
    CloudFormation template, its code keys `code_key(service, stage, artifact.sha256)`
    (aws targets; the local target ignores it)."""

    definition: ServiceDefinition
    artifact: Artifact
    depends_on: tuple[str, ...] = ()
    template: Mapping[str, Any] | None = None
    stack: str = ""  # the stack name (`<service>-<stage>` unless provider.stackName)


@dataclass(frozen=True)
class DeployRequest:
    """A release to plan or apply: every service, in deploy order (dependencies first)."""

    env: str
    commit: str
    services: tuple[DeployInput, ...]
    force: bool = False

    def service(self, name: str) -> DeployInput:
        return next(s for s in self.services if s.definition.service == name)


class ServiceOutcome(StrEnum):
    DEPLOYED = "deployed"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"  # deployed in this run, then returned to its previous state
    ROLLBACK_FAILED = "rollback_failed"
    NOT_STARTED = "not_started"  # a failure elsewhere stopped the run before it


@dataclass(frozen=True)
class ServiceResult:
    service: str
    outcome: ServiceOutcome
    stack: str = ""
    message: str = ""
    outputs: Mapping[str, str] = field(default_factory=dict)
    changes: tuple[ResourceChange, ...] = ()
    failed_event: StackEvent | None = None  # the first failed resource, on failure
    created: bool = False  # the stack did not exist before this run

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "outcome": self.outcome.value,
            "stack": self.stack,
            "message": self.message,
            "outputs": dict(self.outputs),
            "changes": [c.as_dict() for c in self.changes],
        }


@dataclass(frozen=True)
class ApplyResult:
    """What a target did with a release: all services or none."""

    env: str
    ok: bool
    services: tuple[ServiceResult, ...]
    error: str | None = None

    def result(self, service: str) -> ServiceResult:
        return next(s for s in self.services if s.service == service)

    def having(self, outcome: ServiceOutcome) -> tuple[str, ...]:
        return tuple(s.service for s in self.services if s.outcome == outcome)
