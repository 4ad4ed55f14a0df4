"""shipway.yml's `environments.<env>.stage` and `releases.keep`: parsed into the model,
used wherever the stage is derived, bad values named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.config.project import load_project
from shipway.errors import ConfigErrors, ShipwayError
from shipway.pipeline.plan import plan_run
from tests.conftest import write_files

SLS = (
    "service: {name}\nprovider:\n  name: aws\n  runtime: python3.11\n"
    "  environment:\n    STAGE_SEEN: ${{sls:stage}}\n    OPT_SEEN: ${{opt:stage}}\n"
    "functions:\n  f:\n    handler: h.f\n"
)


def project(tmp_path: Path, shipway_yml: str) -> Path:
    write_files(
        tmp_path,
        {"shipway.yml": shipway_yml, "services/a/serverless.yml": SLS.format(name="a")},
    )
    return tmp_path


def errors_of(root: Path) -> list[ShipwayError]:
    with pytest.raises(ConfigErrors) as info:
        load_project(root)
    return info.value.errors


def test_stage_defaults_to_the_environment_name_and_keeps_its_case(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "project: x\nenvironments:\n  dev: {branch: dev}\n"
        "  prod:\n    branch: main\n    stage: Prod\n"
        "    target: {aws: {region: eu-west-2}}\n",
    )
    p = load_project(root)
    assert p.environments["dev"].stage == "dev"
    assert p.environments["prod"].stage == "Prod"
    assert p.releases_keep == 20


def test_the_stage_is_what_the_serverless_yml_sees(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "project: x\nenvironments:\n  prod:\n    branch: main\n    stage: Prod\n",
    )
    plan = plan_run(root, "prod", "0" * 40)
    definition = plan.service("a").definition
    assert definition.stage == "Prod"
    env = definition.functions[0].environment
    assert (env["STAGE_SEEN"], env["OPT_SEEN"]) == ("Prod", "Prod")


@pytest.mark.parametrize("stage", ["prod_1", "Prod!", "", "a b", "x" * 200])
def test_a_stage_the_framework_refuses_names_line_and_key(tmp_path: Path, stage: str) -> None:
    root = project(
        tmp_path,
        f"project: x\nenvironments:\n  prod:\n    branch: main\n    stage: '{stage}'\n",
    )
    [error] = errors_of(root)
    assert error.where is not None
    assert (error.where.file, error.where.line, error.where.key) == (
        "shipway.yml",
        5,
        "environments.prod.stage",
    )
    assert "stage name" in error.message


def test_releases_keep_parses(tmp_path: Path) -> None:
    root = project(
        tmp_path, "project: x\nreleases: {keep: 3}\nenvironments:\n  dev: {branch: dev}\n"
    )
    assert load_project(root).releases_keep == 3


@pytest.mark.parametrize("keep", ["0", "-1", "true", "'5'", "2.5", "1" * 400])
def test_bad_releases_keep_names_line_and_key(tmp_path: Path, keep: str) -> None:
    root = project(
        tmp_path,
        f"project: x\nenvironments:\n  dev: {{branch: dev}}\nreleases:\n  keep: {keep}\n",
    )
    [error] = errors_of(root)
    assert error.where is not None
    assert (error.where.file, error.where.line, error.where.key) == (
        "shipway.yml",
        5,
        "releases.keep",
    )
