"""Names and durations keep their limits; real names keep working."""

from __future__ import annotations

import pytest

from shipway.config.durations import parse_duration
from shipway.config.names import (
    branch_problem,
    environment_problem,
    function_name_problem,
    service_path_problem,
    stack_name_problem,
)


@pytest.mark.parametrize(
    "branch", ["main", "dev", "feature/*", "hotfix/[0-9]*", "release/1.2", "user/a-b_c", "v?"]
)
def test_real_branch_names_and_patterns_pass(branch: str) -> None:
    assert branch_problem(branch) is None


@pytest.mark.parametrize(
    "branch",
    [
        "dev^",
        "dev~1",
        "main..dev",
        "a:b",
        "-x",
        "a b",
        "a\tb",
        "a\\b",
        "x@{1}",
        "@",
        "HEAD",
        "/a",
        "a/",
        "a//b",
        "a.",
        "a/.b",
        "a.lock",
        "a/b.lock/c",
        "x" * 300,
    ],
)
def test_refs_that_are_not_branch_names_are_refused(branch: str) -> None:
    problem = branch_problem(branch)
    assert problem is not None and "is not a branch name" in problem


def test_environment_names() -> None:
    assert environment_problem("prod-acme") is None
    assert "the limit is 40" in (environment_problem("e" * 41) or "")
    assert "lower-case" in (environment_problem("Prod") or "")
    for reserved in ("api", "docs", "hooks", "metrics", "healthz"):
        assert "server's own" in (environment_problem(reserved) or ""), reserved
    assert environment_problem("api-gateway") is None


def test_service_paths() -> None:
    assert service_path_problem("services/*") is None
    assert "longer than 255 bytes" in (service_path_problem("services/" + "a" * 300) or "")
    assert "the limit is 512" in (service_path_problem("/".join(["a" * 200] * 3)) or "")


def test_stack_and_function_names() -> None:
    assert stack_name_problem("api-dev") is None
    assert "allows 128" in (stack_name_problem("a" * 129) or "")
    assert "start with a letter" in (stack_name_problem("1api-dev") or "")
    assert function_name_problem("api-dev-hello") is None
    assert "allows 64" in (function_name_problem("f" * 65) or "")


def test_durations_have_a_maximum() -> None:
    assert parse_duration("36h", 36 * 3600) == 129600
    with pytest.raises(ValueError, match="at most 36h"):
        parse_duration("37h", 36 * 3600)
    with pytest.raises(ValueError, match="at most 36h"):
        parse_duration(10**400, 36 * 3600)
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration("9" * 400)
