"""One service's stack, deployed the way the Serverless Framework deploys it.

lib/plugins/aws/deploy of the Framework v3: ensure the stack `<service>-<stage>` exists
(a first deploy creates it from the core template: the deployment bucket alone), upload
the code zip, then change the stack through a change set, watching its events
(monitor-stack.js) and failing with the first failed resource. Two differences, both
safer: the zip's key is its content hash (an unchanged zip is never uploaded again), and
a stack whose live template already equals the synthesized one is left alone without a
change set (the Framework's check-for-changes compares hashes in the bucket instead).

`restore` undoes one deploy of this run: the previous template back, or the stack that
this run created deleted.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from shipway.errors import DeployFailed, ShipwayError, WorkFailed
from shipway.model import DeployInput, ResourceChange, ServiceOutcome, code_key
from shipway.targets.aws.custom_resources import custom_resources_zip
from shipway.targets.aws.stacks import (
    BUCKET_OUTPUT,
    MAX_BODY,
    Deployed,
    EventSink,
    StackApi,
    StackFailed,
    StackWatch,
    bucket_of,
    canonical,
    change_set_name,
    core_template,
    failure_text,
    is_direct,
    stack_of,
    stack_tags,
    template_of,
)
from shipway.targets.aws.stage_settings import apply_stage, restore_stage, stage_drift
from shipway.targets.aws.types import StackInfo

__all__ = ["Deployed", "Deployer", "EventSink", "StackApi", "StackFailed", "canonical", "stack_of"]


class Deployer:
    """Deploys and restores single stacks through `client`; `on_event(service, event)`
    receives each stack event as it arrives (called from the deploying thread)."""

    def __init__(
        self,
        client: StackApi,
        on_event: EventSink | None = None,
        account: Callable[[], str] | None = None,
    ) -> None:
        self.client = client
        self.on_event: EventSink = on_event or (lambda service, event: None)
        # the account (for access-log ARNs), asked only when a stage's logs need it
        self.account: Callable[[], str] = account or (lambda: client.account_id())

    # ------------------------------------------------------------------ deploy

    def deploy(self, item: DeployInput, force: bool = False) -> Deployed:
        """The stack deployed, then its REST API stage's settings (see stage_settings)."""
        done = self._deploy_stack(item, force)
        try:
            before, changed = apply_stage(self.client, done.stack, item, self.account)
        except (ShipwayError, WorkFailed) as exc:
            undone = ""
            if done.outcome is ServiceOutcome.DEPLOYED:
                undone = f"; {self.restore(done)}"
            raise DeployFailed(
                f"stack `{done.stack}`: its API stage's settings could not be applied: "
                f"{exc}{undone}"
            ) from exc
        if before is None:
            return done
        done = dataclasses.replace(done, stage=before)
        if changed and done.outcome is ServiceOutcome.UNCHANGED:
            done = dataclasses.replace(
                done, outcome=ServiceOutcome.DEPLOYED, message="API stage settings updated"
            )
        return done

    def _deploy_stack(self, item: DeployInput, force: bool) -> Deployed:
        service, stack = item.definition.service, stack_of(item)
        template = template_of(item)
        tags = stack_tags(item)
        direct = is_direct(item)
        info = self._usable(service, stack, self.client.describe_stack(stack))
        created = info is None
        if info is None:
            if core_template(template) is None:  # the service names its own bucket
                return self._create_whole(item, stack, template, tags)
            info = self._create(service, stack, template, tags)
        bucket = bucket_of(info, template)
        previous = None if created else self.client.get_template(stack)
        if not force and not created and canonical(previous) == canonical(template):
            return Deployed(
                service,
                stack,
                ServiceOutcome.UNCHANGED,
                False,
                bucket,
                previous,
                tags,
                direct,
                info.outputs,
                message="stack already up to date",
            )
        try:
            self._upload(item, template, bucket)
            after, changes = self._change(service, stack, template, tags, bucket, direct=direct)
        except StackFailed as exc:
            exc.created, exc.bucket = created, bucket
            raise
        except Exception as exc:
            if not created:
                raise
            # any other failure after this run created the stack: it is deleted on rollback
            raise StackFailed(f"stack `{stack}`: {exc}", stack, None, True, bucket) from exc
        if after is None:  # an empty change set: nothing to do
            return Deployed(
                service,
                stack,
                ServiceOutcome.UNCHANGED,
                created,
                bucket,
                previous,
                tags,
                direct,
                info.outputs,
                message="no changes",
            )
        return Deployed(
            service,
            stack,
            ServiceOutcome.DEPLOYED,
            created,
            bucket,
            previous,
            tags,
            direct,
            after.outputs,
            changes,
            f"{len(changes)} resource change(s)" if changes else "stack updated",
        )

    def restore(self, done: Deployed) -> str:
        """Undoes `done`: deletes a stack this run created (bucket emptied first), else
        deploys its previous template again (and its API stage's settings). Returns what
        it did, in one line."""
        if done.created:
            self.delete(done.service, done.stack, done.bucket)
            return f"stack `{done.stack}` created by this run deleted"
        if done.previous is None:
            raise ShipwayError(f"no previous template of `{done.stack}` to return to")
        after, _ = self._change(
            done.service, done.stack, done.previous, done.tags, done.bucket, direct=done.direct
        )
        state = "already" if after is None else "returned"
        if done.stage is not None:
            restore_stage(self.client, done.stage)
            return f"stack `{done.stack}` {state} on its previous template and stage settings"
        return f"stack `{done.stack}` {state} on its previous template"

    def delete(self, service: str, stack: str, bucket: str = "") -> None:
        """Deletes the stack, emptying its deployment bucket first (CloudFormation cannot
        delete a bucket that holds objects)."""
        info = self.client.describe_stack(stack)
        if info is None:
            return
        bucket = bucket or info.outputs.get(BUCKET_OUTPUT, "")
        if bucket:
            self.client.empty_bucket(bucket)
        marker = self.client.latest_event_id(stack)
        self.client.delete_stack(stack)
        seen = self._watch(service, stack, marker)
        final = self.client.wait_for_stack(stack, on_poll=seen.poll)
        seen.poll()
        if final is not None:
            raise StackFailed(failure_text(stack, final.status, seen.first_failed), stack)

    # ------------------------------------------------------------------ plan

    def preview(self, item: DeployInput) -> tuple[bool, str, tuple[ResourceChange, ...]]:
        """(changes?, why, the change set's rows) without changing anything: the change set
        made to look is deleted. A stack not yet deployed lists the template's resources."""
        stack = stack_of(item)
        template = template_of(item)
        info = self.client.describe_stack(stack)
        if info is None or info.status in ("ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"):
            adds = tuple(
                ResourceChange("Add", name, str(res.get("Type", "")))
                for name, res in sorted((template.get("Resources") or {}).items())
            )
            return True, "new stack", adds
        self._usable(item.definition.service, stack, info)
        if canonical(self.client.get_template(stack)) == canonical(template):
            if stage_drift(self.client, stack, item, self.account):
                return True, "API stage settings changed", ()
            return False, "stack already up to date", ()
        name = change_set_name()
        url = self._template_url(stack, template, bucket_of(info, template))
        self.client.create_change_set(stack, name, template, stack_tags(item), template_url=url)
        try:
            described = self.client.wait_for_change_set(stack, name)
        finally:
            self.client.delete_change_set(stack, name)
        if described.empty:
            return False, "no changes", ()
        if described.status != "CREATE_COMPLETE":
            raise DeployFailed(f"stack `{stack}`: change set failed: {described.reason}")
        return True, f"{len(described.changes)} resource change(s)", described.changes

    # ------------------------------------------------------------------ steps

    def _usable(self, service: str, stack: str, info: StackInfo | None) -> StackInfo | None:
        """The stack as it can be deployed on; None when it must be (re)created. A stack
        left by a failed first create is deleted here (nothing of it ever worked)."""
        if info is None:
            return None
        if info.status in ("ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"):
            self.delete(service, stack)
            return None
        refuse_unusable(stack, info)
        return info

    def _create_whole(
        self, item: DeployInput, stack: str, template: Mapping[str, Any], tags: dict[str, str]
    ) -> Deployed:
        """A first deploy into a bucket the service names: code first, then one CREATE
        change set with the whole template (create-stack.js's `createLater`)."""
        service = item.definition.service
        bucket = bucket_of(StackInfo(stack, "", "NONE"), template)
        try:
            self._upload(item, template, bucket)
            after, changes = self._change(
                service, stack, template, tags, bucket, create=True, direct=is_direct(item)
            )
        except StackFailed as exc:
            exc.created, exc.bucket = True, ""  # never empty a bucket the stack does not own
            raise
        assert after is not None  # a CREATE change set always holds the resources
        return Deployed(
            service,
            stack,
            ServiceOutcome.DEPLOYED,
            True,
            "",
            None,
            tags,
            is_direct(item),
            after.outputs,
            changes,
            f"stack created, {len(changes)} resource(s)",
        )

    def _create(
        self, service: str, stack: str, template: Mapping[str, Any], tags: Mapping[str, str]
    ) -> StackInfo:
        core = core_template(template)
        assert core is not None
        self.client.create_stack(stack, core, tags)
        seen = self._watch(service, stack, None)
        final = self.client.wait_for_stack(stack, on_poll=seen.poll)
        seen.poll()
        if final is None or final.status != "CREATE_COMPLETE":
            status = final.status if final else "DELETE_COMPLETE"
            raise StackFailed(
                failure_text(stack, status, seen.first_failed), stack, seen.first_failed, True
            )
        return final

    def _upload(self, item: DeployInput, template: Mapping[str, Any], bucket: str) -> None:
        """The service's zip (none for a service with no functions: its stack holds no
        code), its layers' zips and the Framework's custom-resource handlers when the
        template runs them, each under its content-addressed key."""
        definition, artifact = item.definition, item.artifact
        zips = [(layer.path, layer.sha256) for layer in artifact.layers]
        if definition.functions:
            zips.insert(0, (artifact.path, artifact.sha256))
        for path, sha256 in zips:
            key = code_key(definition.service, definition.stage, sha256)
            if not self.client.object_exists(bucket, key):
                self.client.put_file(bucket, key, path, sha256)
        handlers = custom_resources_zip()
        key = code_key(definition.service, definition.stage, handlers.sha256)
        if _names_code(template, key) and not self.client.object_exists(bucket, key):
            self.client.put_bytes(bucket, key, handlers.data, "application/zip")

    def _change(
        self,
        service: str,
        stack: str,
        template: Mapping[str, Any],
        tags: Mapping[str, str],
        bucket: str,
        create: bool = False,
        direct: bool = False,
    ) -> tuple[StackInfo | None, tuple[ResourceChange, ...]]:
        """The stack changed to `template` and watched: (the stack after, the change
        set's rows); (None, ()) when there is nothing to change (the empty change set is
        deleted). `direct`: create_stack / update_stack, as `deploymentMethod: direct`."""
        url = self._template_url(stack, template, bucket)
        marker = None if create else self.client.latest_event_id(stack)
        changes: tuple[ResourceChange, ...] = ()
        if direct and create:
            self.client.create_stack(stack, template, tags)
        elif direct:
            if not self.client.update_stack(stack, template, tags, url):
                return None, ()
        else:
            name = change_set_name()
            self.client.create_change_set(
                stack, name, template, tags, create=create, template_url=url
            )
            described = self.client.wait_for_change_set(stack, name)
            if described.empty:
                self.client.delete_change_set(stack, name)
                return None, ()
            if described.status != "CREATE_COMPLETE":
                self.client.delete_change_set(stack, name)
                raise StackFailed(f"stack `{stack}`: change set failed: {described.reason}", stack)
            changes = described.changes
            self.client.execute_change_set(stack, name)
        seen = self._watch(service, stack, marker)
        final = self.client.wait_for_stack(stack, on_poll=seen.poll)
        seen.poll()
        good = "CREATE_COMPLETE" if create else "UPDATE_COMPLETE"
        if final is None or final.status != good:
            status = final.status if final else "DELETE_COMPLETE"
            raise StackFailed(
                failure_text(stack, status, seen.first_failed), stack, seen.first_failed
            )
        return final, changes

    def _template_url(self, stack: str, template: Mapping[str, Any], bucket: str) -> str | None:
        """Templates over CloudFormation's body limit are read from the bucket."""
        body = json.dumps(template, separators=(",", ":")).encode()
        if len(body) <= MAX_BODY or not bucket:
            return None
        key = f"serverless/{stack}/templates/{uuid.uuid5(uuid.NAMESPACE_URL, body.hex())}.json"
        self.client.put_bytes(bucket, key, body, "application/json")
        return self.client.object_url(bucket, key)

    def _watch(self, service: str, stack: str, marker: str | None) -> StackWatch:
        return StackWatch(self.client, service, stack, marker, self.on_event)


def refuse_unusable(stack: str, info: StackInfo | None) -> None:
    """A ShipwayError (exit 2) for a stack no deploy may touch as it is: one whose rollback
    failed, or that another operation is changing. The release's plan asks it of every
    stack, so such a stack stops the release before any stack is changed."""
    if info is None:
        return
    if info.status == "UPDATE_ROLLBACK_FAILED":
        raise ShipwayError(
            f"stack `{stack}` is UPDATE_ROLLBACK_FAILED: nothing was changed",
            hint="fix the resources named in its events, then continue the rollback "
            f"(`aws cloudformation continue-update-rollback --stack-name {stack}`) "
            "and run again",
        )
    if info.in_progress and info.status != "REVIEW_IN_PROGRESS":
        raise ShipwayError(
            f"stack `{stack}` is {info.status}: another operation is running on it; "
            "nothing was changed",
            hint="wait for it to finish (see the stack's events), then run again",
        )
    if info.status in ("ROLLBACK_FAILED", "DELETE_FAILED"):
        raise ShipwayError(
            f"stack `{stack}` is {info.status}: nothing was changed",
            hint="delete the stack (after fixing what its events name), then run again",
        )


def _names_code(template: Mapping[str, Any], key: str) -> bool:
    """Whether a function of `template` runs the code at `key`."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    return any(
        isinstance(r, Mapping)
        and isinstance(r.get("Properties"), Mapping)
        and isinstance(r["Properties"].get("Code"), Mapping)
        and r["Properties"]["Code"].get("S3Key") == key
        for r in resources.values()
    )
