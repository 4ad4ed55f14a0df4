"""A REST API stage's tracing, metrics, logs and tags, set after the deploy as the
Framework's update-stage.js sets them: against moto's server, read back with GetStage."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from shipway.model import AwsTarget as AwsConfig
from shipway.model import DeployAction, ServiceOutcome
from shipway.targets.aws.client import AwsClient
from shipway.targets.aws.deployer import Deployer
from shipway.targets.aws.release import deploy_release
from shipway.targets.aws.target import AwsTarget
from tests.integration.awskit import (
    HANDLER,
    FailingClient,
    make_service,
    request,
    serverless_yml,
)
from tests.moto import REGION

pytestmark = pytest.mark.usefixtures("aws_env")

TRACED = """\
tracing:
  apiGateway: true
apiGateway:
  metrics: true
stackTags: {owner: payments}
tags: {team: pay, tier: 1}
"""


def stage_of(api: str = "dev-hello", name: str = "dev") -> dict[str, Any]:
    apigw = boto3.client("apigateway", region_name=REGION)
    (api_id,) = [a["id"] for a in apigw.get_rest_apis()["items"] if a["name"] == api]
    out: dict[str, Any] = apigw.get_stage(restApiId=api_id, stageName=name)
    return out


def target() -> AwsTarget:
    return AwsTarget(AwsConfig(region=REGION), client=AwsClient(REGION))


def test_tracing_metrics_and_tags_are_set_on_the_stage_after_the_deploy(tmp_path: Path) -> None:
    item = make_service(tmp_path, "hello", yml=serverless_yml("hello", TRACED))
    done = Deployer(AwsClient(REGION)).deploy(item)

    assert done.outcome is ServiceOutcome.DEPLOYED
    stage = stage_of()
    assert stage["tracingEnabled"] is True
    assert stage["methodSettings"]["*/*"]["metricsEnabled"] is True
    # provider.tags over provider.stackTags, as strings (JavaScript's String())
    assert stage["tags"] == {"owner": "payments", "team": "pay", "tier": "1"}


def test_a_setting_changed_alone_is_applied_though_the_template_is_the_same(
    tmp_path: Path,
) -> None:
    first = make_service(tmp_path, "hello", yml=serverless_yml("hello", TRACED))
    Deployer(AwsClient(REGION)).deploy(first)
    off = TRACED.replace("apiGateway: true", "apiGateway: false")
    second = make_service(tmp_path, "hello", yml=serverless_yml("hello", off))
    assert second.template == first.template  # serverless package writes none of it

    aws = target()
    plan = aws.plan(request(second))
    assert plan.changes[0].action is DeployAction.DEPLOY
    assert plan.changes[0].reason == "API stage settings changed"
    result = aws.apply(plan, request(second), 2)

    assert result.ok and result.services[0].outcome is ServiceOutcome.DEPLOYED
    assert stage_of()["tracingEnabled"] is False
    assert aws.plan(request(second)).changes[0].action is DeployAction.UNCHANGED


def test_a_tag_taken_out_of_the_config_is_taken_off_the_stage(tmp_path: Path) -> None:
    Deployer(AwsClient(REGION)).deploy(
        make_service(tmp_path, "hello", yml=serverless_yml("hello", TRACED))
    )
    fewer = make_service(
        tmp_path, "hello", yml=serverless_yml("hello", TRACED.replace(", tier: 1", ""))
    )
    Deployer(AwsClient(REGION)).deploy(fewer)
    assert stage_of()["tags"] == {"owner": "payments", "team": "pay"}


def test_a_failed_release_puts_the_stage_settings_back(tmp_path: Path) -> None:
    first = make_service(tmp_path / "v1", "hello", yml=serverless_yml("hello", TRACED))
    other = make_service(tmp_path / "v1", "other")
    assert deploy_release(Deployer(AwsClient(REGION)), request(first, other)).ok
    assert stage_of()["tracingEnabled"] is True

    off = TRACED.replace("apiGateway: true", "apiGateway: false")
    second = make_service(tmp_path / "v2", "hello", yml=serverless_yml("hello", off))
    changed = make_service(tmp_path / "v2", "other", files={"handler.py": HANDLER + "# v2\n"})
    changed = replace(changed, depends_on=("hello",))
    result = deploy_release(Deployer(FailingClient("other-dev")), request(second, changed))

    assert not result.ok
    hello = next(s for s in result.services if s.service == "hello")
    assert hello.outcome is ServiceOutcome.ROLLED_BACK
    assert "stage settings" in hello.message
    assert stage_of()["tracingEnabled"] is True


LOGGED = """\
logs:
  restApi:
    roleManagedExternally: true
    format: '$context.requestId $context.status'
    level: ERROR
"""


def test_rest_api_access_logs_go_to_the_stacks_log_group_when_the_role_is_external(
    tmp_path: Path,
) -> None:
    item = make_service(tmp_path, "hello", yml=serverless_yml("hello", LOGGED))
    done = Deployer(AwsClient(REGION)).deploy(item)

    assert done.outcome is ServiceOutcome.DEPLOYED
    logs = boto3.client("logs", region_name=REGION)
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/api-gateway/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/api-gateway/hello-dev"]
    stage = stage_of()
    access = stage["accessLogSettings"]
    assert access["destinationArn"].endswith(":log-group:/aws/api-gateway/hello-dev")
    assert access["format"] == "$context.requestId $context.status"
    assert stage["methodSettings"]["*/*"]["loggingLevel"] == "ERROR"
    assert stage["methodSettings"]["*/*"]["dataTraceEnabled"] is True
