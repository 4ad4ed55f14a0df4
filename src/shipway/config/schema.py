"""The shape of `shipway.yml`, as pydantic models (validation only; `project.py` turns a
valid document into `model` values)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from shipway.config.durations import parse_duration
from shipway.config.globs import is_glob
from shipway.config.names import branch_problem
from shipway.limits import (
    MAX_APPROVAL_TIMEOUT_S,
    MAX_BUILD_TIMEOUT_S,
    MAX_POLL_INTERVAL_S,
    MAX_PROJECT_NAME,
    MAX_RELEASES_KEPT,
    NAME_PATTERN,
    REGION_PATTERN,
)

__all__ = ["NAME_PATTERN", "ShipwayFile"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceEntry(_Strict):
    path: str
    config: str | None = None  # the service file's name in `path` (default serverless.yml)
    depends_on: list[str] = Field(default_factory=list)
    shared: list[str] = Field(default_factory=list)


class BuildBlock(_Strict):
    concurrency: int | None = Field(default=None, ge=1, le=256)
    timeout: int = 1800
    sandbox: bool = True  # builds isolated with bubblewrap where it is installed
    network: bool = True  # builds may reach the network (package registries)

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int:
        return parse_duration(value, MAX_BUILD_TIMEOUT_S)  # CodeBuild's maximum


class AwsTargetBlock(_Strict):
    region: str = Field(pattern=REGION_PATTERN)
    profile: str | None = None
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    account: str | None = Field(default=None, pattern=r"^\d{12}$")


class TargetBlock(_Strict):
    aws: AwsTargetBlock | None = None
    local: dict[str, Any] | None = None


class ApprovalBlock(_Strict):
    before: Literal["build", "deploy"]
    approvers: list[str] = Field(default_factory=list)
    timeout: int | None = None

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int | None:
        return None if value is None else parse_duration(value, MAX_APPROVAL_TIMEOUT_S)


class SourceBlock(_Strict):
    git: str | None = None
    s3: str | None = None
    poll: int | None = None

    @field_validator("poll", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int | None:
        return None if value is None else parse_duration(value, MAX_POLL_INTERVAL_S)


class PathsBlock(_Strict):
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class EnvironmentBlock(_Strict):
    branch: str = Field(min_length=1)
    stage: str | None = None  # the Framework's stage name; checked in project.py (names.py)
    target: Literal["local"] | TargetBlock = "local"
    approval: ApprovalBlock | None = None
    mode: Literal["superseded", "queued"] = "superseded"
    notify: list[str] = Field(default_factory=list)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    secrets: list[str] = Field(default_factory=list)
    source: SourceBlock | None = None
    paths: PathsBlock | None = None
    # SERVICE.FUNCTION invoked after each deploy and server start: the emulator's data
    seed: list[str] = Field(default_factory=list, max_length=20)


class ReleasesBlock(_Strict):
    keep: StrictInt = Field(default=20, ge=1, le=MAX_RELEASES_KEPT)


class ShipwayFile(_Strict):
    project: str = Field(pattern=NAME_PATTERN, max_length=MAX_PROJECT_NAME)
    services: list[str | ServiceEntry] = Field(default_factory=lambda: ["services/*"])  # type: ignore[arg-type]
    build: BuildBlock = Field(default_factory=BuildBlock)
    releases: ReleasesBlock = Field(default_factory=ReleasesBlock)
    # the branch whose shipway.yml governs environments and approvals (config/governing.py)
    control_branch: str = "main"
    environments: dict[str, EnvironmentBlock] = Field(min_length=1)

    @field_validator("control_branch")
    @classmethod
    def _branch_name(cls, value: str) -> str:
        problem = branch_problem(value)
        if problem is None and is_glob(value):
            problem = f"`{value[:60]}` is a pattern; `control_branch` names one branch"
        if problem:
            raise ValueError(problem)
        return value
