"""What a stack deploy works with: the client calls it needs, what it remembers of one
deploy (for undoing it), how it fails, and the Framework's stack conventions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shipway.errors import DeployFailed, ShipwayError
from shipway.model import DeployInput, ResourceChange, ServiceOutcome, StackEvent
from shipway.targets.aws.stage_settings import StageApi, StageState
from shipway.targets.aws.types import ChangeSetInfo, StackInfo
from shipway.targets.protocol import EventSink

__all__ = [
    "BUCKET_OUTPUT",
    "Deployed",
    "EventSink",
    "StackApi",
    "StackFailed",
    "StackWatch",
    "canonical",
    "core_template",
    "is_direct",
    "stack_of",
    "stack_tags",
]

BUCKET = "ServerlessDeploymentBucket"
BUCKET_POLICY = "ServerlessDeploymentBucketPolicy"
BUCKET_OUTPUT = "ServerlessDeploymentBucketName"
#: CloudFormation's limit for a TemplateBody; larger templates go through the bucket
MAX_BODY = 51_200


class StackApi(StageApi, Protocol):
    """The `AwsClient` calls a deploy makes (a fake in tests injects failures here)."""

    def account_id(self) -> str: ...

    def describe_stack(self, stack: str) -> StackInfo | None: ...
    def create_stack(
        self, stack: str, template: Mapping[str, Any], tags: Mapping[str, str]
    ) -> str: ...
    def update_stack(
        self,
        stack: str,
        template: Mapping[str, Any],
        tags: Mapping[str, str],
        template_url: str | None = None,
    ) -> bool: ...
    def delete_stack(self, stack: str) -> None: ...
    def get_template(self, stack: str) -> dict[str, Any] | None: ...
    def create_change_set(
        self,
        stack: str,
        name: str,
        template: Mapping[str, Any],
        tags: Mapping[str, str],
        *,
        create: bool = False,
        template_url: str | None = None,
    ) -> None: ...
    def wait_for_change_set(self, stack: str, name: str) -> ChangeSetInfo: ...
    def execute_change_set(self, stack: str, name: str) -> None: ...
    def delete_change_set(self, stack: str, name: str) -> None: ...
    def stack_events(self, stack: str, since: str | None) -> list[StackEvent]: ...
    def latest_event_id(self, stack: str) -> str | None: ...
    def wait_for_stack(
        self, stack: str, on_poll: Callable[[], None] | None = None
    ) -> StackInfo | None: ...
    def object_exists(self, bucket: str, key: str) -> bool: ...
    def put_file(self, bucket: str, key: str, path: Any, sha256_hex: str) -> None: ...
    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...
    def object_url(self, bucket: str, key: str) -> str: ...
    def empty_bucket(self, bucket: str) -> int: ...


@dataclass(frozen=True)
class Deployed:
    """One service done in this run: what `restore` needs to undo it."""

    service: str
    stack: str
    outcome: ServiceOutcome  # DEPLOYED or UNCHANGED
    created: bool  # the stack did not exist before this run
    bucket: str
    previous: Mapping[str, Any] | None  # the live template before this run changed it
    tags: Mapping[str, str]
    direct: bool  # `deploymentMethod: direct`: update_stack instead of change sets
    outputs: Mapping[str, str] = field(default_factory=dict)
    changes: tuple[ResourceChange, ...] = ()
    message: str = ""
    stage: StageState | None = None  # its REST API stage's settings before this run


class StackFailed(DeployFailed):
    """A stack operation ended in a failed state; `event`: the first failed resource."""

    def __init__(
        self,
        message: str,
        stack: str,
        event: StackEvent | None = None,
        created: bool = False,
        bucket: str = "",
    ) -> None:
        super().__init__(message)
        self.stack = stack
        self.event = event
        self.created = created
        self.bucket = bucket


def stack_of(item: DeployInput) -> str:
    return item.stack or f"{item.definition.service}-{item.definition.stage}"


def core_template(template: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Framework's first-deploy template: the deployment bucket, its policy and its
    output, taken from the synthesized template (so `provider.deploymentBucket` settings
    hold); None when the service names its own bucket."""
    resources = template.get("Resources") or {}
    if BUCKET not in resources:
        return None
    core: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": template.get("Description", ""),
        "Resources": {k: resources[k] for k in (BUCKET, BUCKET_POLICY) if k in resources},
        "Outputs": {BUCKET_OUTPUT: {"Value": {"Ref": BUCKET}}},
    }
    return core


def canonical(template: Mapping[str, Any] | None) -> str:
    return json.dumps(template, sort_keys=True, separators=(",", ":"), default=str)


class StackWatch:
    """The stack's new events, passed on as they arrive; remembers the first failure."""

    def __init__(
        self, client: StackApi, service: str, stack: str, marker: str | None, sink: EventSink
    ) -> None:
        self.client, self.service, self.stack = client, service, stack
        self.marker, self.sink = marker, sink
        self.resource_failed: StackEvent | None = None
        self.stack_failed: StackEvent | None = None

    @property
    def first_failed(self) -> StackEvent | None:
        """The first resource that failed, else the stack's own failure event."""
        return self.resource_failed or self.stack_failed

    def poll(self) -> None:
        for event in self.client.stack_events(self.stack, self.marker):
            self.marker = event.event_id
            if event.failed or event.status == "UPDATE_ROLLBACK_IN_PROGRESS":
                if event.resource_type != "AWS::CloudFormation::Stack":
                    self.resource_failed = self.resource_failed or event
                else:
                    self.stack_failed = self.stack_failed or event
            self.sink(self.service, event)


def stack_tags(item: DeployInput) -> dict[str, str]:
    """STAGE plus provider.stackTags, as get-shared-stack-action-params.js."""
    tags = {"STAGE": item.definition.stage}
    provider = item.definition.resolved.get("provider") or {}
    extra = provider.get("stackTags") if isinstance(provider, Mapping) else None
    if isinstance(extra, Mapping):
        lowered = {str(k).lower() for k in extra}
        tags = {k: v for k, v in tags.items() if k.lower() not in lowered}
        tags.update({str(k): str(v) for k, v in extra.items()})
    return tags


def is_direct(item: DeployInput) -> bool:
    """`provider.deploymentMethod: direct` (the Framework v3's default is changesets)."""
    provider = item.definition.resolved.get("provider") or {}
    return isinstance(provider, Mapping) and provider.get("deploymentMethod") == "direct"


def template_of(item: DeployInput) -> Mapping[str, Any]:
    if item.template is None:
        raise ShipwayError(f"service `{item.definition.service}`: no template to deploy")
    return item.template


def bucket_of(info: StackInfo, template: Mapping[str, Any]) -> str:
    found = info.outputs.get(BUCKET_OUTPUT)
    if found:
        return found
    value = ((template.get("Outputs") or {}).get(BUCKET_OUTPUT) or {}).get("Value")
    if isinstance(value, str) and value:
        return value
    raise ShipwayError(f"stack `{info.name}` has no `{BUCKET_OUTPUT}` output")


def change_set_name() -> str:
    return f"shipway-{uuid.uuid4().hex[:16]}"


def failure_text(stack: str, status: str, event: StackEvent | None) -> str:
    """monitor-stack.js: `An error occurred: <LogicalId> - <reason>.`"""
    text = f"stack `{stack}` ended {status}"
    if event is not None:
        reason = event.reason or event.status
        text += f": {event.logical_id} ({event.resource_type}) {event.status}: {reason}"
    return text
