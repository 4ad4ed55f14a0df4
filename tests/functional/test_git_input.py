"""Git input from the user: `--commit` is one commit, a branch is a branch name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipway.errors import ShipwayError
from shipway.source.git import branch_head, is_ancestor, resolve_commit
from tests.conftest import commit_all, git
from tests.integration.cli import one_service_files, shipway

FAST = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n"


def _two_commits(make_repo: Callable[..., Path]) -> tuple[Path, str, str]:
    repo = make_repo({"a": "1"}, branches=())
    first = git(repo, "rev-parse", "HEAD")
    (repo / "a").write_text("2")
    second = commit_all(repo, "second")
    git(repo, "branch", "dev")
    return repo, first, second


@pytest.mark.parametrize(
    "ref", ["main..dev", "main...dev", "dev^", "dev~1", "dev@{1}", "main:a", "^main", "a b"]
)
def test_commit_must_be_one_revision(make_repo: Callable[..., Path], ref: str) -> None:
    repo, _, _ = _two_commits(make_repo)
    with pytest.raises(ShipwayError, match=r"--commit `.*` is not a single commit"):
        resolve_commit(repo, ref)


@pytest.mark.parametrize("ref", ["-h", "--output=/tmp/x", "--all"])
def test_commit_cannot_be_an_option(make_repo: Callable[..., Path], ref: str) -> None:
    repo, _, _ = _two_commits(make_repo)
    with pytest.raises(ShipwayError, match="is not a single commit"):
        resolve_commit(repo, ref)


def test_commit_takes_branches_tags_and_shas(make_repo: Callable[..., Path]) -> None:
    repo, first, second = _two_commits(make_repo)
    git(repo, "tag", "-a", "v1", "-m", "v1", first)  # annotated: peeled to its commit
    assert resolve_commit(repo, "dev") == second
    assert resolve_commit(repo, "v1") == first
    assert resolve_commit(repo, first[:8]) == first
    assert resolve_commit(repo, first.upper()) == first
    assert resolve_commit(repo, "refs/heads/main") == second
    assert resolve_commit(repo, "HEAD") == second


def test_branch_head_takes_only_a_branch_name(make_repo: Callable[..., Path]) -> None:
    repo, _, second = _two_commits(make_repo)
    assert branch_head(repo, "dev") == second
    for name in ("dev^", "dev~1", "main..dev", "-dev", "dev@{1}", "HEAD^"):
        with pytest.raises(ShipwayError, match="is not a branch name"):
            branch_head(repo, name)
    git(repo, "tag", "release", second)
    with pytest.raises(ShipwayError, match="branch `release` does not exist"):
        branch_head(repo, "release")  # a tag is not a branch


def test_is_ancestor(make_repo: Callable[..., Path]) -> None:
    repo, first, second = _two_commits(make_repo)
    assert is_ancestor(repo, first, second)
    assert not is_ancestor(repo, second, first)
    assert not is_ancestor(repo, first, "0" * 40)
    assert not is_ancestor(repo, "--help", second)


def test_cli_names_the_commit_option(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(one_service_files(FAST))
    for ref in ("main..dev", "--output=x", "dev^"):
        proc = shipway("run", "dev", f"--commit={ref}", repo=repo)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert f"error: --commit `{ref}` is not a single commit" in proc.stderr
    assert not (repo / "x").exists()
    assert shipway("runs", "--json", repo=repo).stdout.strip() == "[]"
