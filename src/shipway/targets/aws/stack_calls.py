"""CloudFormation calls of `AwsClient`: stacks, change sets, events, bounded waiters.

No boto3 here: `AwsClient._call` runs the botocore call, retries throttling and turns a
refusal into `AwsError`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from shipway.errors import ShipwayError
from shipway.model import ResourceChange, StackEvent
from shipway.targets.aws.calls import CallsBase
from shipway.targets.aws.errors import AwsError, failure
from shipway.targets.aws.types import ChangeSetInfo, StackInfo

__all__ = ["CAPABILITIES", "CloudFormationCalls"]

#: what a Serverless Framework stack may create (IAM roles with names)
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")


def _json(template: Mapping[str, Any]) -> str:
    return json.dumps(template, separators=(",", ":"))


def _tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _event(stack: str, raw: Mapping[str, Any]) -> StackEvent:
    stamp = raw.get("Timestamp")
    return StackEvent(
        stack=stack,
        event_id=str(raw.get("EventId", "")),
        logical_id=str(raw.get("LogicalResourceId", "")),
        resource_type=str(raw.get("ResourceType", "")),
        status=str(raw.get("ResourceStatus", "")),
        reason=str(raw.get("ResourceStatusReason") or ""),
        timestamp=float(stamp.timestamp()) if stamp is not None else 0.0,
    )


class CloudFormationCalls(CallsBase):
    def describe_stack(self, stack: str) -> StackInfo | None:
        """The stack's status and outputs, or None when it does not exist (or was deleted)."""
        what = f"CloudFormation stack `{stack}` (region {self.region})"
        cfn = self._client("cloudformation", self.region)
        try:
            out = self._call(what, lambda: cfn.describe_stacks(StackName=stack))
        except AwsError as exc:
            if exc.not_found():
                return None
            raise failure(exc.response, what, "cloudformation:DescribeStacks") from None
        stacks = out.get("Stacks") or []
        if not stacks or stacks[0].get("StackStatus") == "DELETE_COMPLETE":
            return None
        raw = stacks[0]
        return StackInfo(
            name=str(raw["StackName"]),
            stack_id=str(raw.get("StackId", "")),
            status=str(raw["StackStatus"]),
            reason=str(raw.get("StackStatusReason") or ""),
            outputs={
                str(o["OutputKey"]): str(o.get("OutputValue", "")) for o in raw.get("Outputs") or []
            },
        )

    def create_stack(self, stack: str, template: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """Starts creating `stack` from `template`; returns its id (wait_for_stack next)."""
        what = f"stack `{stack}` (region {self.region})"
        cfn = self._client("cloudformation", self.region)
        try:
            out = self._call(
                what,
                lambda: cfn.create_stack(
                    StackName=stack,
                    TemplateBody=_json(template),
                    Capabilities=list(CAPABILITIES),
                    Tags=_tags(tags),
                ),
                verb="create",
            )
        except AwsError as exc:
            raise failure(exc.response, what, "cloudformation:CreateStack", "create") from None
        return str(out.get("StackId", ""))

    def update_stack(
        self,
        stack: str,
        template: Mapping[str, Any],
        tags: Mapping[str, str],
        template_url: str | None = None,
    ) -> bool:
        """Starts updating `stack` directly (`deploymentMethod: direct`); False when
        CloudFormation says there is nothing to update."""
        what = f"stack `{stack}` (region {self.region})"
        cfn = self._client("cloudformation", self.region)
        source = (
            {"TemplateURL": template_url} if template_url else {"TemplateBody": _json(template)}
        )
        try:
            self._call(
                what,
                lambda: cfn.update_stack(
                    StackName=stack, Capabilities=list(CAPABILITIES), Tags=_tags(tags), **source
                ),
                verb="update",
            )
        except AwsError as exc:
            if exc.code == "ValidationError" and "No updates are to be performed" in exc.message:
                return False
            raise failure(exc.response, what, "cloudformation:UpdateStack", "update") from None
        return True

    def delete_stack(self, stack: str) -> None:
        what = f"stack `{stack}` (region {self.region})"
        cfn = self._client("cloudformation", self.region)
        try:
            self._call(what, lambda: cfn.delete_stack(StackName=stack), verb="delete")
        except AwsError as exc:
            raise failure(exc.response, what, "cloudformation:DeleteStack", "delete") from None

    def get_template(self, stack: str) -> dict[str, Any] | None:
        """The stack's current template (as JSON data), or None when it has none."""
        what = f"the template of stack `{stack}`"
        cfn = self._client("cloudformation", self.region)
        try:
            out = self._call(what, lambda: cfn.get_template(StackName=stack))
        except AwsError as exc:
            if exc.not_found():
                return None
            raise failure(exc.response, what, "cloudformation:GetTemplate") from None
        body = out.get("TemplateBody")
        if isinstance(body, str):  # botocore decodes JSON bodies; YAML ones stay text
            try:
                body = json.loads(body)
            except ValueError:
                return None
        return json.loads(json.dumps(body)) if isinstance(body, dict) else None

    def create_change_set(
        self,
        stack: str,
        name: str,
        template: Mapping[str, Any],
        tags: Mapping[str, str],
        *,
        create: bool = False,
        template_url: str | None = None,
    ) -> None:
        """A change set `name` on `stack` (CREATE when `create`, else UPDATE); a template
        too large for a request body is passed as `template_url` (an S3 https URL)."""
        what = f"change set `{name}` of stack `{stack}`"
        cfn = self._client("cloudformation", self.region)
        source = (
            {"TemplateURL": template_url} if template_url else {"TemplateBody": _json(template)}
        )
        capabilities = list(CAPABILITIES)
        if template.get("Transform"):
            capabilities.append("CAPABILITY_AUTO_EXPAND")
        try:
            self._call(
                what,
                lambda: cfn.create_change_set(
                    StackName=stack,
                    ChangeSetName=name,
                    ChangeSetType="CREATE" if create else "UPDATE",
                    Capabilities=capabilities,
                    Tags=_tags(tags),
                    **source,
                ),
                verb="create",
            )
        except AwsError as exc:
            raise failure(exc.response, what, "cloudformation:CreateChangeSet", "create") from None

    def describe_change_set(self, stack: str, name: str) -> ChangeSetInfo:
        """The change set's status and every change (all pages)."""
        what = f"change set `{name}` of stack `{stack}`"
        cfn = self._client("cloudformation", self.region)
        changes: list[ResourceChange] = []
        token: str | None = None
        while True:
            kwargs: dict[str, str] = {"StackName": stack, "ChangeSetName": name}
            if token:
                kwargs["NextToken"] = token
            try:
                page = functools.partial(cfn.describe_change_set, **kwargs)
                out = self._call(what, page)
            except AwsError as exc:
                raise failure(exc.response, what, "cloudformation:DescribeChangeSet") from None
            for change in out.get("Changes") or []:
                rc = change.get("ResourceChange") or {}
                changes.append(
                    ResourceChange(
                        action=str(rc.get("Action", "")),
                        logical_id=str(rc.get("LogicalResourceId", "")),
                        resource_type=str(rc.get("ResourceType", "")),
                        replacement=str(rc.get("Replacement") or ""),
                    )
                )
            token = out.get("NextToken")
            if not token:
                break
        return ChangeSetInfo(
            name=name,
            stack=stack,
            status=str(out.get("Status", "")),
            reason=str(out.get("StatusReason") or ""),
            execution_status=str(out.get("ExecutionStatus") or ""),
            changes=tuple(changes),
        )

    def execute_change_set(self, stack: str, name: str) -> None:
        what = f"change set `{name}` of stack `{stack}`"
        cfn = self._client("cloudformation", self.region)
        try:
            self._call(
                what,
                lambda: cfn.execute_change_set(StackName=stack, ChangeSetName=name),
                verb="execute",
            )
        except AwsError as exc:
            raise failure(
                exc.response, what, "cloudformation:ExecuteChangeSet", "execute"
            ) from None

    def delete_change_set(self, stack: str, name: str) -> None:
        what = f"change set `{name}` of stack `{stack}`"
        cfn = self._client("cloudformation", self.region)
        try:
            self._call(
                what,
                lambda: cfn.delete_change_set(StackName=stack, ChangeSetName=name),
                verb="delete",
            )
        except AwsError as exc:
            if exc.code == "ChangeSetNotFound":
                return
            raise failure(exc.response, what, "cloudformation:DeleteChangeSet", "delete") from None

    def stack_events(self, stack: str, since: str | None) -> list[StackEvent]:
        """The stack's events newer than the event `since` (all of them when None), oldest
        first. The API lists newest first, so pages are read until `since` is met."""
        what = f"the events of stack `{stack}`"
        cfn = self._client("cloudformation", self.region)
        newest_first: list[StackEvent] = []
        token: str | None = None
        while True:
            kwargs: dict[str, str] = {"StackName": stack}
            if token:
                kwargs["NextToken"] = token
            try:
                page = functools.partial(cfn.describe_stack_events, **kwargs)
                out = self._call(what, page)
            except AwsError as exc:
                if exc.not_found():
                    return []
                raise failure(exc.response, what, "cloudformation:DescribeStackEvents") from None
            for raw in out.get("StackEvents") or []:
                event = _event(stack, raw)
                if since is not None and event.event_id == since:
                    return newest_first[::-1]
                newest_first.append(event)
            token = out.get("NextToken")
            if not token:
                return newest_first[::-1]

    def latest_event_id(self, stack: str) -> str | None:
        """The newest event of the stack: the marker before an operation starts."""
        what = f"the events of stack `{stack}`"
        cfn = self._client("cloudformation", self.region)
        try:
            out = self._call(what, lambda: cfn.describe_stack_events(StackName=stack))
        except AwsError as exc:
            if exc.not_found():
                return None
            raise failure(exc.response, what, "cloudformation:DescribeStackEvents") from None
        events = out.get("StackEvents") or []
        return str(events[0]["EventId"]) if events else None

    def wait_for_stack(
        self,
        stack: str,
        on_poll: Callable[[], None] | None = None,
        timeout_s: float = 3600.0,
        first_delay: float = 0.1,
        max_delay: float = 5.0,
    ) -> StackInfo | None:
        """Polls the stack until no operation is in progress (None once deleted), calling
        `on_poll` after each look. Bounded: the pauses (the injected `sleep`) add up to at
        most `timeout_s`, then a ShipwayError says the stack is still busy."""
        waited, delay = 0.0, first_delay
        while True:
            info = self.describe_stack(stack)
            if on_poll is not None:
                on_poll()
            if info is None or not info.in_progress:
                return info
            if waited >= timeout_s:
                raise ShipwayError(
                    f"stack `{stack}` is still {info.status} after {int(waited)} s",
                    hint="look at the stack's events in the CloudFormation console; run "
                    "again once it has finished",
                )
            self._sleep(delay)
            waited += delay
            delay = min(max_delay, delay * 2)

    def wait_for_change_set(
        self, stack: str, name: str, timeout_s: float = 600.0, max_delay: float = 5.0
    ) -> ChangeSetInfo:
        """Polls until the change set is created (or failed), bounded like wait_for_stack."""
        waited, delay = 0.0, 0.05
        while True:
            info = self.describe_change_set(stack, name)
            if not info.pending:
                return info
            if waited >= timeout_s:
                raise ShipwayError(
                    f"change set `{name}` of stack `{stack}` still {info.status} after "
                    f"{int(waited)} s"
                )
            self._sleep(delay)
            waited += delay
            delay = min(max_delay, delay * 2)
