"""shipway.yml: schema, discovery, environments — errors name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.config.project import environment_for_branch, load_project
from shipway.errors import ConfigErrors, ShipwayError
from tests.conftest import EXAMPLE, write_files

SLS = (
    "service: {name}\nprovider:\n  name: aws\n  runtime: python3.11\n"
    "functions:\n  f:\n    handler: h.f\n"
)


def project(tmp_path: Path, shipway_yml: str, services: dict[str, str] | None = None) -> Path:
    files = {"shipway.yml": shipway_yml}
    for folder, name in (services or {"services/a": "a", "services/b": "b"}).items():
        files[f"{folder}/serverless.yml"] = SLS.format(name=name)
    write_files(tmp_path, files)
    return tmp_path


def errors_of(root: Path) -> list[ShipwayError]:
    with pytest.raises(ConfigErrors) as info:
        load_project(root)
    return info.value.errors


def test_example_loads_with_dependencies_first() -> None:
    p = load_project(EXAMPLE)
    assert p.name == "ledger"
    assert [s.name for s in p.services] == ["accounts", "payments", "notifications"]
    payments = p.service("payments")
    assert payments.depends_on == ("accounts",)
    assert payments.shared == ("libs/common",)
    assert payments.buildspec == "buildspec.yml"
    # `${cf:payments-<stage>.PaymentsTableName}`: deployed after payments, implied
    assert p.service("notifications").depends_on == ("payments",)
    assert p.service("accounts").buildspec is None
    assert set(p.environments) == {"dev", "qa", "prod"}
    assert p.environments["prod"].params == {"LOG_LEVEL": "warning"}
    assert p.build.concurrency == 4 and p.build.timeout_s == 600


def test_unknown_key_names_line_and_key(tmp_path: Path) -> None:
    root = project(
        tmp_path, "project: x\nenvironments:\n  dev:\n    branch: dev\n    targte: local\n"
    )
    [error] = errors_of(root)
    assert error.where is not None
    assert (error.where.file, error.where.line, error.where.key) == (
        "shipway.yml",
        5,
        "environments.dev.targte",
    )
    assert "unknown key `targte`" in error.message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "project: Bad_Name\nbuild:\n  concurrency: many\nenvironments:\n  dev:\n    mode: fast\n",
    )
    found = {(e.where.line, e.where.key) for e in errors_of(root) if e.where}
    assert (1, "project") in found
    assert (3, "build.concurrency") in found
    assert (6, "environments.dev.mode") in found
    assert (5, "environments.dev.branch") in found  # missing: points at the environment


def test_branch_bound_to_two_environments(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "project: x\nenvironments:\n  dev:\n    branch: main\n  prod:\n    branch: main\n",
    )
    [error] = errors_of(root)
    assert error.where is not None and error.where.line == 6
    assert "already bound to environment `dev`" in error.message


def test_depends_on_missing_service(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "project: x\nservices:\n  - services/*\n  - path: services/b\n    depends_on: [nope]\n"
        "environments:\n  dev:\n    branch: dev\n",
    )
    [error] = errors_of(root)
    assert error.where is not None
    assert error.where.line == 5 and error.where.key == "services[1].depends_on"
    assert "`nope`" in error.message and "known: a, b" in error.message


def test_depends_on_cycle(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "project: x\nservices:\n  - path: services/a\n    depends_on: [b]\n"
        "  - path: services/b\n    depends_on: [a]\nenvironments:\n  dev:\n    branch: dev\n",
    )
    [error] = errors_of(root)
    assert "cycle" in error.message and "a -> b -> a" in error.message


def test_cf_reference_implies_dependency(tmp_path: Path) -> None:
    root = project(tmp_path, "project: x\nenvironments:\n  dev:\n    branch: dev\n")
    (root / "services/a/serverless.yml").write_text(
        SLS.format(name="a") + "custom:\n  url: ${cf:b-${sls:stage}.ServiceEndpoint}\n"
    )
    p = load_project(root)
    assert [s.name for s in p.services] == ["b", "a"]
    assert p.service("a").depends_on == ("b",)


def test_duplicate_service_names(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "project: x\nenvironments:\n  dev:\n    branch: dev\n",
        {"services/a": "same", "services/b": "same"},
    )
    [error] = errors_of(root)
    assert "used by both `services/a` and `services/b`" in error.message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ShipwayError, match=r"no shipway\.yml"):
        load_project(tmp_path)


def test_service_path_without_serverless_yml(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "project: x\nservices:\n  - path: services/zzz\nenvironments:\n  dev:\n    branch: dev\n",
    )
    [error] = errors_of(root)
    assert error.where is not None and error.where.line == 3
    assert "`services/zzz` has no serverless.yml" in error.message


def test_aws_target_and_approval_parse(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "project: x\nenvironments:\n  prod:\n    branch: main\n"
        "    target: {aws: {region: eu-west-2, profile: prod}}\n"
        "    approval: {before: deploy, approvers: [lead], timeout: 72h}\n"
        "  hotfix:\n    branch: 'hotfix/*'\n",
    )
    p = load_project(root)
    prod = p.environments["prod"]
    assert prod.target.kind == "aws" and prod.target.region == "eu-west-2"  # type: ignore[union-attr]
    assert prod.approval is not None and prod.approval.timeout_s == 72 * 3600
    assert environment_for_branch(p.environments, "hotfix/login") == p.environments["hotfix"]
    assert environment_for_branch(p.environments, "main") == prod
    assert environment_for_branch(p.environments, "feature/x") is None


def test_bad_region_names_key(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "project: x\nenvironments:\n  qa:\n    branch: qa\n"
        "    target:\n      aws:\n        region: mars\n",
    )
    [error] = errors_of(root)
    assert error.where is not None
    assert (error.where.line, error.where.key) == (7, "environments.qa.target.aws.region")


def test_environment_names_and_count_are_checked_where_written(tmp_path: Path) -> None:
    root = project(tmp_path, "project: x\nenvironments:\n  Dev:\n    branch: d\n")
    [error] = errors_of(root)
    assert error.where is not None and (error.where.line, error.where.key) == (
        3,
        "environments.Dev",
    )
    (tmp_path / "shipway.yml").write_text("project: x\nenvironments: {}\n")
    [error] = errors_of(root)
    assert "at least one environment" in error.message


def test_an_environment_named_as_a_server_path_is_refused_where_written(tmp_path: Path) -> None:
    # /hooks/git is the push trigger's route: an environment `hooks` would be shadowed
    root = project(
        tmp_path, "project: x\nenvironments:\n  dev: {branch: dev}\n  hooks:\n    branch: h\n"
    )
    [error] = errors_of(root)
    assert error.where is not None and (error.where.line, error.where.key) == (
        4,
        "environments.hooks",
    )
    assert "server's own" in error.message
