"""Reusable checkouts: a slot holds exactly a commit's tracked files, whatever a build left
in it, and bringing it to a commit writes only the files that differ."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from shipway.source.checkouts import CheckoutPool, wipe_idle
from shipway.source.git import export_commit
from tests.conftest import commit_all, git


def _files(root: Path) -> dict[str, str]:
    """Every file and link below `root` (not following links): path -> content or target."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                found[rel] = "-> " + os.readlink(path)
            else:
                mode = "x" if os.stat(path).st_mode & 0o100 else "-"
                found[rel] = mode + Path(path).read_text()
    return found


def test_a_slot_holds_what_an_export_holds(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    repo = make_repo({"a.txt": "one\n", "svc/handler.py": "x = 1\n", "bin/run.sh": "echo\n"})
    (repo / "bin/run.sh").chmod(0o755)
    (repo / "link").symlink_to("a.txt")
    sha = commit_all(repo, "files")
    (repo / "untracked.txt").write_text("never exported\n")
    export_commit(repo, sha, tmp_path / "export")
    pool = CheckoutPool(repo, tmp_path / "slots")
    checkout = pool.take()
    folder = checkout.update(sha)
    assert _files(folder) == _files(tmp_path / "export")
    checkout.release()


def test_what_a_build_left_is_undone_and_nothing_outside_is_touched(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"a.txt": "one\n", "svc/handler.py": "x = 1\n", "svc/lib/util.py": "u\n"})
    first = commit_all(repo, "first")
    (repo / "a.txt").write_text("two\n")
    (repo / "svc/new.py").write_text("new\n")
    git(repo, "rm", "-q", "svc/lib/util.py")
    second = commit_all(repo, "second")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("mine\n")
    export_commit(repo, second, tmp_path / "export")

    pool = CheckoutPool(repo, tmp_path / "slots")
    checkout = pool.take()
    folder = checkout.update(first)
    # what a hostile or messy build leaves behind
    (folder / "a.txt").write_text("tampered\n")
    (folder / "svc/handler.py").unlink()
    (folder / "build-output.zip").write_text("zip\n")
    (folder / "node_modules/pkg").mkdir(parents=True)
    (folder / "node_modules/pkg/index.js").write_text("js\n")
    (folder / ".gitattributes").write_text("* text eol=crlf\n")
    locked = folder / "locked"
    locked.mkdir()
    (locked / "f").write_text("f\n")
    locked.chmod(0)
    (folder / "svc/lib/util.py").unlink()
    (folder / "svc/lib").rmdir()
    (folder / "svc/lib").symlink_to(outside)  # a tracked folder replaced by a link out

    assert checkout.update(second) == folder
    assert _files(folder) == _files(tmp_path / "export")
    assert sorted(p.name for p in outside.iterdir()) == ["keep"]
    assert (outside / "keep").read_text() == "mine\n"
    checkout.release()


def test_an_unchanged_commit_writes_no_file(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    repo = make_repo({f"svc{i}/f{j}.py": f"{i} {j}\n" for i in range(20) for j in range(10)})
    sha = commit_all(repo, "many")
    pool = CheckoutPool(repo, tmp_path / "slots")
    checkout = pool.take()
    folder = checkout.update(sha)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*.py")}
    checkout.release()
    again = pool.take()
    assert again.update(sha) == folder  # the same slot, taken again
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*.py")}
    assert after == before and len(before) == 200
    again.release()


def test_overlapping_users_get_their_own_slot(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"a.txt": "one\n"})
    sha = commit_all(repo, "one")
    pool = CheckoutPool(repo, tmp_path / "slots")
    first, second = pool.take(), pool.take()
    assert first.update(sha) != second.update(sha)
    first.release()
    third = pool.take()
    assert third.folder == first.folder
    third.release()
    second.release()


def test_a_killed_holder_frees_its_slot(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    repo = make_repo({"a.txt": "one\n"})
    sha = commit_all(repo, "one")
    slots = tmp_path / "slots"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from shipway.source.checkouts import CheckoutPool, wipe_idle;"
            f"c = CheckoutPool(Path({str(repo)!r}), Path({str(slots)!r})).take();"
            f"c.update({sha!r}); (c.folder / 'left-by-build').write_text('secret');"
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n"
    pool = CheckoutPool(repo, slots)
    busy = pool.take()
    assert busy.folder.name == "1"  # slot 0 is held
    busy.release()
    holder.kill()
    holder.wait()
    wipe_idle(slots)  # what recovery does: the dead run's build outputs go
    assert not (slots / "0" / "left-by-build").exists()
    free = pool.take()
    assert free.folder.name == "0"
    assert (free.update(sha) / "a.txt").read_text() == "one\n"
    free.release()


def test_the_users_git_settings_and_variables_do_not_steer_it(
    make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo({"a/one.txt": "1\n", "b/two.txt": "2\n"})
    sha = commit_all(repo, "two folders")
    git(repo, "config", "core.sparseCheckout", "true")
    info = repo / ".git/info"
    info.mkdir(exist_ok=True)
    (info / "sparse-checkout").write_text("a/\n")
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "elsewhere.index"))
    pool = CheckoutPool(repo, tmp_path / "slots")
    checkout = pool.take()
    folder = checkout.update(sha)
    assert sorted(_files(folder)) == ["a/one.txt", "b/two.txt"]
    assert not (tmp_path / "elsewhere.index").exists()
    checkout.release()


def test_a_slot_no_one_holds_keeps_no_env_file(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    files = {".env": "K=1\n", ".env.dev": "K=2\n", "svc/.env.qa": "K=3\n", "svc/a.py": "a\n"}
    repo = make_repo(files)
    sha = commit_all(repo, "env files")
    pool = CheckoutPool(repo, tmp_path / "slots", ("**/.env", "**/.env.*"))
    checkout = pool.take()
    folder = checkout.update(sha)
    assert (folder / "svc/.env.qa").read_text() == "K=3\n"
    checkout.release()
    assert sorted(_files(folder)) == ["svc/a.py"]
    again = pool.take()
    assert sorted(_files(again.update(sha))) == sorted(files)  # written again when used
    again.release()
