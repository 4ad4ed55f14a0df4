"""The CodePipeline export's template, as a team would check it before `aws cloudformation
deploy`: cfn-lint clean for every source and approval, the stages in the local engine's
order, the environment's mode, branch and paths, and roles that each do one thing."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from shipway.config.project import load_project
from shipway.errors import ShipwayError
from shipway.export import ExportOptions, pipeline_template
from shipway.model import ApprovalPolicy, AwsTarget, Environment, Project, Service
from shipway.synth.lint import lint
from tests.conftest import EXAMPLE


def _ledger_prod(**changes: Any) -> tuple[Project, Environment]:
    project = load_project(EXAMPLE)
    env = replace(project.environments["prod"], target=AwsTarget("eu-west-2"), **changes)
    return project, env


def _actions(template: dict[str, Any]) -> list[tuple[str, str]]:
    stages = template["Resources"]["Pipeline"]["Properties"]["Stages"]
    return [(s["Name"], a["ActionTypeId"]["Provider"]) for s in stages for a in s["Actions"]]


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    props = resource["Properties"]
    if "PolicyDocument" in props:
        found: list[dict[str, Any]] = props["PolicyDocument"]["Statement"]
        return found
    return [s for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def _actions_allowed(template: dict[str, Any], names: list[str]) -> set[str]:
    out: set[str] = set()
    for name in names:
        for statement in _statements(template["Resources"][name]):
            action = statement.get("Action", [])
            out |= {action} if isinstance(action, str) else set(action)
    return out


@pytest.mark.parametrize("source", ["codecommit", "github", "s3"])
@pytest.mark.parametrize("before", [None, "build", "deploy"])
def test_every_source_and_approval_passes_cfn_lint_in_the_engines_order(
    source: str, before: str | None
) -> None:
    approval = ApprovalPolicy(before, (), 7200) if before else None  # type: ignore[arg-type]
    project, env = _ledger_prod(approval=approval, mode="queued")
    template = pipeline_template(project, env, ExportOptions(source, "1.2.3"))  # type: ignore[arg-type]
    assert lint(template) == []
    provider = {"codecommit": "CodeCommit", "github": "CodeStarSourceConnection", "s3": "S3"}
    expected = [("Source", provider[source]), ("Build", "CodeBuild"), ("Deploy", "CodeBuild")]
    if before:
        expected.insert(1 if before == "build" else 2, (f"Approve{before.capitalize()}", "Manual"))
    assert _actions(template) == expected
    pipeline = template["Resources"]["Pipeline"]["Properties"]
    assert pipeline["PipelineType"] == "V2" and pipeline["ExecutionMode"] == "QUEUED"
    if before:
        stage = next(s for s in pipeline["Stages"] if s["Name"].startswith("Approve"))
        action = stage["Actions"][0]
        assert action["TimeoutInMinutes"] == 120  # the environment's 2 h
        shown = "#{BuildVariables.SHIPWAY_PLAN}" if before == "deploy" else "SourceVariables"
        assert shown in action["Configuration"]["CustomData"]
    # GitHub pushes start it through the V2 trigger; CodeCommit and S3 through EventBridge
    assert ("Triggers" in pipeline) == (source == "github")
    assert ("StartRule" in template["Resources"]) == (source != "github")
    assert "shipway==1.2.3" in json.dumps(template["Parameters"]["ShipwayRequirement"])


def test_the_trigger_filters_the_environments_branch_and_paths() -> None:
    project, env = _ledger_prod(
        branch="release/*", paths_include=("services/**",), paths_exclude=("**/*.md",)
    )
    template = pipeline_template(project, env, ExportOptions("github", "1"))
    assert lint(template) == []
    (trigger,) = template["Resources"]["Pipeline"]["Properties"]["Triggers"]
    assert trigger["GitConfiguration"]["Push"] == [
        {
            "Branches": {"Includes": ["release/*"]},
            "FilePaths": {"Includes": ["services/**"], "Excludes": ["**/*.md"]},
        }
    ]
    assert template["Resources"]["Pipeline"]["Properties"]["ExecutionMode"] == "SUPERSEDED"


def test_only_the_deploy_project_may_deploy_and_only_the_environments_stacks() -> None:
    project, env = _ledger_prod(stage="Prod")
    template = pipeline_template(project, env, ExportOptions("codecommit", "1"))
    build = _actions_allowed(template, ["BuildRole"])
    policies = [
        k for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::ManagedPolicy"
    ]
    deploy = _actions_allowed(template, ["DeployRole", *policies])
    assert "cloudformation:CreateStack" in deploy and "iam:PassRole" in deploy
    assert not {a for a in build if not a.startswith(("logs:", "s3:Get", "s3:Put", "s3:List"))} - {
        "cloudformation:DescribeStacks",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "codecommit:GitPull",
    }
    stacks = next(
        s
        for p in policies
        for s in _statements(template["Resources"][p])
        if s.get("Sid") == "Stacks"
    )
    arns = [r["Fn::Sub"] for r in stacks["Resource"]]
    assert [a.rsplit(":stack/", 1)[1] for a in arns] == [
        "accounts-Prod/*",
        "payments-Prod/*",
        "notifications-Prod/*",
    ]
    assert all("*" not in a.split(":stack/")[1].split("/")[0] for a in arns)
    wildcard = [
        s for r in template["Resources"].values() for s in _statements(r) if s.get("Action") == "*"
    ]
    assert wildcard == []


def test_a_large_environment_is_scoped_by_its_stage_and_says_so() -> None:
    project, env = _ledger_prod()
    services = tuple(
        Service(f"svc{n:03d}", f"services/svc{n:03d}", "serverless.yml", None) for n in range(200)
    )
    template = pipeline_template(replace(project, services=services), env, ExportOptions())
    assert lint(template) == []
    (note,) = template["Metadata"]["Shipway"]["Notes"]
    assert "`*-prod`" in note and "200 services" in note
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            size = len(json.dumps(resource["Properties"]["PolicyDocument"], separators=(",", ":")))
            assert size <= 6144


def test_a_local_environment_is_refused_by_name() -> None:
    project = load_project(EXAMPLE)
    with pytest.raises(ShipwayError, match="environment `dev` deploys to the local target"):
        pipeline_template(project, project.environments["dev"], ExportOptions())


def test_more_path_globs_than_a_trigger_holds_are_said() -> None:
    project, env = _ledger_prod(paths_include=tuple(f"services/s{n}/**" for n in range(10)))
    template = pipeline_template(project, env, ExportOptions("github", "1"))
    assert lint(template) == []
    (trigger,) = template["Resources"]["Pipeline"]["Properties"]["Triggers"]
    assert len(trigger["GitConfiguration"]["Push"][0]["FilePaths"]["Includes"]) == 8
    (note,) = template["Metadata"]["Shipway"]["Notes"]
    assert "the first 8 of the 10 `paths.include` globs" in note
