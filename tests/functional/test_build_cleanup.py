"""A build's scratch folder: removed at once by default, or handed to the run's remover,
which removes it in its own thread and is waited for before the deploy."""

from __future__ import annotations

from pathlib import Path

from shipway.build.cleanup import LaterRemover
from shipway.model import JobState
from tests.functional.buildkit import build, buildspec


def test_a_build_hands_its_scratch_folder_to_the_remover(tmp_path: Path) -> None:
    scratch = tmp_path / "run" / "scratch" / "svc"
    handed: list[Path] = []
    result, log = build(
        tmp_path,
        buildspec("echo tmp > $TMPDIR/t", artifacts=None),
        scratch_dir=scratch,
        remove_scratch=handed.append,
    )
    assert result.state is JobState.SUCCEEDED, log
    assert handed == [scratch]
    assert scratch.is_dir()  # left for the remover
    remover = LaterRemover()
    remover.remove(scratch)
    remover.close()  # waits until every folder handed over is gone
    assert not scratch.exists()


def test_the_remover_removes_every_folder_before_close_returns(tmp_path: Path) -> None:
    folders = [tmp_path / f"f{n}" / "deep" for n in range(50)]
    for f in folders:
        f.mkdir(parents=True)
        (f / "file").write_text("x")
    remover = LaterRemover()
    for f in folders:
        remover.remove(f.parent)
    remover.close()
    assert list(tmp_path.iterdir()) == []
