"""The gate is read from the control branch: a pushed commit that drops its environment's
approval, lists its author as an approver or renames the control branch changes nothing
until that shipway.yml is on the control branch. And the git reads behind it are bounded:
no symlink followed, no oversized file read, no credentials in an error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from shipway.config.governing import governing_config
from shipway.errors import ConfigErrors, ShipwayError
from shipway.limits import MAX_CONFIG_BYTES
from shipway.source.refs import changed_files, default_branch, fetch_ref, ls_remote, read_at
from tests.conftest import commit_all, git, write_files

GATED = (
    "project: p\nenvironments:\n"
    "  dev:\n    branch: dev\n"
    "  prod:\n    branch: prod\n    approval: {before: deploy, approvers: [alice]}\n"
)
OPEN = "project: p\nenvironments:\n  dev:\n    branch: dev\n  prod:\n    branch: prod\n"


def _repo(tmp_path: Path, text: str = GATED) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_files(repo, {"shipway.yml": text})
    commit_all(repo, "gate")
    return repo


def _governing(repo: Path, commit: str) -> tuple[dict[str, object], str, bool]:
    gov = governing_config(lambda ref, path: read_at(repo, ref, path), commit, "main")
    return dict(gov.environments), gov.ref, gov.fallback


def test_a_push_that_drops_prods_approval_does_not_loosen_the_gate(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "dev")
    (repo / "shipway.yml").write_text(
        OPEN.replace("prod:\n", "prod:\n    approval: {before: deploy, approvers: [mallory]}\n")
    )
    pushed = commit_all(repo, "loosen")
    envs, ref, fallback = _governing(repo, pushed)
    prod = envs["prod"]
    assert ref == "refs/heads/main" and not fallback
    assert prod.approval is not None and prod.approval.approvers == ("alice",)  # type: ignore[attr-defined]
    # once the change is on main (after review), it governs
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "dev")
    envs, _, _ = _governing(repo, pushed)
    assert envs["prod"].approval.approvers == ("mallory",)  # type: ignore[attr-defined]


def test_control_branch_is_followed_from_the_default_branch_only(tmp_path: Path) -> None:
    repo = _repo(tmp_path, OPEN + "control_branch: config\n")
    git(repo, "checkout", "-q", "-b", "config")
    (repo / "shipway.yml").write_text(GATED + "control_branch: elsewhere\n")
    commit_all(repo, "config branch")
    git(repo, "checkout", "-q", "-b", "dev")
    (repo / "shipway.yml").write_text(OPEN + "control_branch: dev\n")
    pushed = commit_all(repo, "points the control branch at itself")
    envs, ref, _ = _governing(repo, pushed)
    assert ref == "refs/heads/config"  # neither dev's nor config's own control_branch
    assert envs["prod"].approval is not None  # type: ignore[attr-defined]


def test_a_missing_control_branch_leaves_the_default_branch_governing(tmp_path: Path) -> None:
    repo = _repo(tmp_path, GATED + "control_branch: nowhere\n")
    _, ref, fallback = _governing(repo, git(repo, "rev-parse", "HEAD"))
    assert ref == "refs/heads/main" and not fallback


def test_a_fresh_repository_is_governed_by_the_commit_that_adds_shipway(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "dev")
    write_files(repo, {"shipway.yml": OPEN})
    sha = commit_all(repo, "first")
    envs, ref, fallback = _governing(repo, sha)
    assert fallback and ref == sha and set(envs) == {"dev", "prod"}


def test_a_broken_gate_on_the_control_branch_stops_runs_naming_the_branch(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path, "project: p\nenvironments:\n  prod:\n    branch: prod\n    bogus: 1\n")
    with pytest.raises(ConfigErrors) as raised:
        _governing(repo, git(repo, "rev-parse", "HEAD"))
    assert any("(at main)" in (e.where.file if e.where else "") for e in raised.value.errors)
    assert any("bogus" in str(e) for e in raised.value.errors)


@pytest.mark.parametrize("value", ["'release/*'", "''"])
def test_control_branch_must_name_one_branch(tmp_path: Path, value: str) -> None:
    # '' once reached git as `refs/heads/`: an error naming no file (found by bench/fuzz.py)
    repo = _repo(tmp_path, OPEN + f"control_branch: {value}\n")
    with pytest.raises(ConfigErrors) as raised:
        _governing(repo, git(repo, "rev-parse", "HEAD"))
    error = raised.value.errors[0]
    assert "control_branch" in str(error) and error.where is not None
    assert error.where.file == "shipway.yml (at main)" and error.where.line


def test_read_at_refuses_symlinks_folders_and_oversized_files(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    os.symlink("/etc/passwd", repo / "link.yml")
    (repo / "big.yml").write_bytes(b"a" * (MAX_CONFIG_BYTES + 1))
    (repo / "folder").mkdir()
    (repo / "folder/x").write_text("x")
    sha = commit_all(repo, "hostile")
    assert read_at(repo, sha, "shipway.yml") == GATED.encode()
    assert read_at(repo, sha, "absent.yml") is None
    assert read_at(repo, "refs/heads/nope", "shipway.yml") is None
    for path, why in (("link.yml", "symlink"), ("folder", "not a file"), ("big.yml", "limit")):
        with pytest.raises(ShipwayError, match=why) as raised:
            read_at(repo, sha, path)
        assert str(raised.value).startswith(f"{path} (at {sha}):")  # the file, where it is
    with pytest.raises(ShipwayError) as raised:
        read_at(repo, "refs/heads/main", "big.yml")
    assert str(raised.value).startswith("big.yml (at main): the file is")
    for ref in ("HEAD~1", "--output=/tmp/x", "main"):
        with pytest.raises(ShipwayError, match="not a ref name"):
            read_at(repo, ref, "shipway.yml")
    for path in ("../outside", "/etc/passwd", "-p"):
        with pytest.raises(ShipwayError, match="not a repository path"):
            read_at(repo, sha, path)


def test_changed_files_of_an_update_a_new_branch_and_a_root_commit(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    root = git(repo, "rev-parse", "HEAD")
    write_files(repo, {"services/a/x.py": "1", "services/b/y.py": "2"})
    first = commit_all(repo, "two")
    (repo / "services/a/x.py").write_text("changed")
    second = commit_all(repo, "one")
    assert changed_files(repo, first, second) == ["services/a/x.py"]
    assert sorted(changed_files(repo, "0" * 40, first)) == ["services/a/x.py", "services/b/y.py"]
    assert changed_files(repo, "f" * 40, root) == ["shipway.yml"]  # an unknown old: a root
    with pytest.raises(ShipwayError, match="not a commit sha"):
        changed_files(repo, root, "main")


def test_default_branch_is_a_bare_repositorys_head(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    git(bare, "symbolic-ref", "HEAD", "refs/heads/trunk")
    assert default_branch(bare) == "trunk"
    assert default_branch(repo) == "main"  # a checkout's HEAD is whatever is checked out


def test_ls_remote_and_fetch_ref_from_a_file_url(tmp_path: Path) -> None:
    upstream = _repo(tmp_path)
    git(upstream, "branch", "dev")
    head = git(upstream, "rev-parse", "HEAD")
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    url = f"file://{upstream}"
    assert ls_remote(url) == {"main": head, "dev": head}
    assert fetch_ref(server, url, "dev") == head
    assert git(server, "rev-parse", "refs/heads/dev") == head


def test_remote_errors_never_quote_credentials_and_odd_transports_are_refused(
    tmp_path: Path,
) -> None:
    secret = "s3cr3t-pa55"
    with pytest.raises(ShipwayError) as raised:
        ls_remote(f"http://deployer:{secret}@127.0.0.1:1/repo.git", timeout=20)
    assert secret not in str(raised.value) and "***@" in str(raised.value)
    marker = tmp_path / "ran"
    with pytest.raises(ShipwayError):
        ls_remote(f"ext::sh -c touch% {marker}")
    assert not marker.exists()
    for url in ("-uhack", "file:///x\nmore", ""):
        with pytest.raises(ShipwayError, match="not a git URL"):
            ls_remote(url)


def test_a_remote_that_hangs_is_given_up_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a git "server" that never answers: the upload-pack command sleeps
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nsleep 60\n")
    hang.chmod(0o755)
    upstream = _repo(tmp_path)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(hang))
    with pytest.raises(ShipwayError, match="longer than"):
        ls_remote(f"ssh://127.0.0.1{upstream}", timeout=1)
    assert subprocess.run(["pgrep", "-f", str(hang)], capture_output=True).returncode == 1
