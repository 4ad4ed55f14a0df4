"""Services for the AWS target's tests: a serverless.yml on disk, resolved, zipped and
synthesized as the pipeline does, ready to hand to the target as a `DeployInput`."""

from __future__ import annotations

import textwrap
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from shipway.archive import sha256_of
from shipway.config.serverless import load_service
from shipway.model import Artifact, DeployInput, DeployRequest, StackEvent, code_key
from shipway.synth.template import synthesize
from shipway.targets.aws.client import AwsClient
from shipway.targets.aws.custom_resources import custom_resources_zip
from shipway.targets.aws.types import StackInfo
from tests.moto import REGION

HANDLER = "def hello(event, context):\n    return {'statusCode': 200, 'body': 'v1'}\n"


def serverless_yml(
    name: str, provider: str = "", functions: str | None = None, tail: str = ""
) -> str:
    """A service's serverless.yml; `provider`: extra provider keys (YAML lines, not
    indented); `tail`: extra top-level sections."""
    functions = functions or textwrap.dedent(
        """\
        functions:
          hello:
            handler: handler.hello
            environment: {GREETING: hi}
            events:
              - http: GET hello
        """
    )
    return (
        textwrap.dedent(
            f"""\
            service: {name}
            provider:
              name: aws
              runtime: python3.12
              region: us-east-1
              stage: dev
            """
        )
        + textwrap.indent(textwrap.dedent(provider), "  ")
        + functions
        + textwrap.dedent(tail)
    )


def make_service(
    root: Path,
    name: str,
    *,
    stage: str = "dev",
    yml: str | None = None,
    files: Mapping[str, str] | None = None,
    depends_on: tuple[str, ...] = (),
) -> DeployInput:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "serverless.yml").write_text(yml or serverless_yml(name), encoding="utf-8")
    definition = load_service(folder, f"{name}/serverless.yml", stage=stage, env={}, params={})
    files = files or {"handler.py": HANDLER}
    zip_path = root / f"{name}-{stage}.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        for rel, text in sorted(files.items()):
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, text)
    sha = sha256_of(zip_path)
    artifact = Artifact(name, zip_path, sha, zip_path.stat().st_size)
    handlers = custom_resources_zip().sha256  # as pipeline.deploy.template_for keys them
    template = synthesize(
        definition,
        artifact_key=code_key(name, stage, sha),
        code_sha256=sha,
        custom_resources_key=code_key(name, stage, handlers),
    )
    return DeployInput(definition, artifact, depends_on, template)


def request(*services: DeployInput, env: str = "dev", force: bool = False) -> DeployRequest:
    return DeployRequest(env=env, commit="c0ffee", services=tuple(services), force=force)


REASON = "Resource handler returned message: MemorySize 99999 is not valid"


class FailingClient(AwsClient):
    """The real client, but the stacks named fail their change set as CloudFormation
    reports a failed resource (moto never fails one)."""

    def __init__(self, *failing: str) -> None:
        super().__init__(REGION)
        self.failing = set(failing)
        self.failed: dict[str, list[StackEvent]] = {}
        self.executed: list[str] = []

    def execute_change_set(self, stack: str, name: str) -> None:
        if stack not in self.failing:
            self.executed.append(stack)
            super().execute_change_set(stack, name)
            return
        first = super().describe_stack(stack)
        update = first is not None and first.status != "REVIEW_IN_PROGRESS"
        op = "UPDATE" if update else "CREATE"
        rollback = "UPDATE_ROLLBACK" if update else "ROLLBACK"

        def event(logical: str, kind: str, status: str, reason: str = "") -> StackEvent:
            return StackEvent(stack, uuid.uuid4().hex, logical, kind, status, reason)

        self.failed[stack] = [
            event(stack, "AWS::CloudFormation::Stack", f"{op}_IN_PROGRESS"),
            event("HelloLambdaFunction", "AWS::Lambda::Function", f"{op}_IN_PROGRESS"),
            event("HelloLambdaFunction", "AWS::Lambda::Function", f"{op}_FAILED", REASON),
            event(stack, "AWS::CloudFormation::Stack", f"{rollback}_IN_PROGRESS"),
            event(stack, "AWS::CloudFormation::Stack", f"{rollback}_COMPLETE"),
        ]

    def describe_stack(self, stack: str) -> StackInfo | None:
        info = super().describe_stack(stack)
        if info is not None and stack in self.failed:
            return replace(info, status=self.failed[stack][-1].status)
        return info

    def stack_events(self, stack: str, since: str | None) -> list[StackEvent]:
        if stack not in self.failed:
            return super().stack_events(stack, since)
        ids = [e.event_id for e in self.failed[stack]]
        start = ids.index(since) + 1 if since in ids else 0
        return self.failed[stack][start:]

    def latest_event_id(self, stack: str) -> str | None:
        return super().latest_event_id(stack)
