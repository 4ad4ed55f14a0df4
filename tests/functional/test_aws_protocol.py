"""One protocol, two targets: `select_target` picks by the environment's `target`, and
the local target answers the same plain data (real zips unpacked into a state folder)."""

from __future__ import annotations

from pathlib import Path

from shipway.model import AwsTarget as AwsConfig
from shipway.model import DeployAction, Environment, LocalTarget, ServiceOutcome
from shipway.targets import select_target
from shipway.targets.aws.target import AwsTarget
from shipway.targets.local.adapter import LocalReleases
from tests.integration.awskit import HANDLER, make_service, request


def test_the_target_is_chosen_by_the_environment(tmp_path: Path) -> None:
    aws = Environment("prod", "main", AwsConfig(region="eu-west-2", account="123456789012"))
    local = Environment("dev", "dev", LocalTarget())
    chosen = select_target(aws, tmp_path)
    assert isinstance(chosen, AwsTarget) and chosen.config.region == "eu-west-2"
    assert isinstance(select_target(local, tmp_path), LocalReleases)


def test_the_local_target_plans_applies_and_rolls_back_through_the_protocol(
    tmp_path: Path,
) -> None:
    target = select_target(Environment("dev", "dev", LocalTarget()), tmp_path / "state")
    v1 = request(make_service(tmp_path / "v1", "hello"))
    plan = target.plan(v1)
    assert [(c.service, c.action, c.reason) for c in plan.changes] == [
        ("hello", DeployAction.DEPLOY, "first release")
    ]
    assert target.apply(plan, v1, 1).having(ServiceOutcome.DEPLOYED) == ("hello",)
    assert target.plan(v1).changes[0].action == DeployAction.UNCHANGED
    assert target.reserve("dev", 1) == 2  # release 1's folder exists: never reused
    assert target.reserve("dev", 5) == 5

    v2 = request(make_service(tmp_path / "v2", "hello", files={"handler.py": HANDLER + "#\n"}))
    assert target.apply(target.plan(v2), v2, 2).ok
    back = target.rollback(v1, 3)  # release 1's artifacts, as a new release
    assert back.ok and back.having(ServiceOutcome.DEPLOYED) == ("hello",)
    live = tmp_path / "state/envs/dev/current/hello/handler.py"
    assert live.read_text() == HANDLER


def test_a_local_deploy_that_fails_is_a_result_not_an_exception(tmp_path: Path) -> None:
    target = select_target(Environment("dev", "dev", LocalTarget()), tmp_path / "state")
    broken = request(make_service(tmp_path, "hello", files={"other.py": "x = 1\n"}))
    result = target.apply(target.plan(broken), broken, 1)
    assert not result.ok
    assert result.result("hello").outcome == ServiceOutcome.FAILED
    assert result.error is not None and "no handler" in result.error
    assert not (tmp_path / "state/envs/dev/current").exists()
