"""The source stage: exports hold the commit's files and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipway.errors import ShipwayError
from shipway.source.git import branch_head, export_commit, repository_root, resolve_commit
from tests.conftest import commit_all, git


def test_export_ignores_uncommitted_and_untracked_files(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"a.txt": "committed\n", "bin/run.sh": "#!/bin/sh\necho hi\n"})
    (repo / "bin/run.sh").chmod(0o755)
    sha = commit_all(repo, "exec bit")
    (repo / "a.txt").write_text("edited, not committed\n")
    (repo / "untracked.txt").write_text("never exported\n")
    dest = tmp_path / "export"
    export_commit(repo, sha, dest)
    assert (dest / "a.txt").read_text() == "committed\n"
    assert not (dest / "untracked.txt").exists()
    assert (dest / "bin/run.sh").stat().st_mode & 0o111


def test_branch_head_and_resolve(make_repo: Callable[..., Path]) -> None:
    repo = make_repo({"a": "1"}, branches=("dev",))
    git(repo, "checkout", "-q", "dev")
    (repo / "a").write_text("2")
    dev_sha = commit_all(repo, "on dev")
    assert branch_head(repo, "dev") == dev_sha
    assert branch_head(repo, "main") != dev_sha
    assert resolve_commit(repo, dev_sha[:8]) == dev_sha
    with pytest.raises(ShipwayError, match="branch `nope` does not exist"):
        branch_head(repo, "nope")
    with pytest.raises(ShipwayError, match="is not a commit"):
        resolve_commit(repo, "deadbeef")


def test_repository_root_of_a_subfolder(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    repo = make_repo({"x/y.txt": "1"})
    assert repository_root(repo / "x") == repo.resolve()
    with pytest.raises(ShipwayError, match="not inside a git repository"):
        repository_root(tmp_path)
