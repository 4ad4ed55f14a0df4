"""cache.paths with real files: restore before INSTALL, save after success, never in the
artifact's way."""

from __future__ import annotations

import os
from pathlib import Path

from shipway.model import JobState
from tests.functional.buildkit import build, buildspec

# the "download" runs only when deps/lib.txt is not there yet; $FETCHES counts downloads
_SPEC = """
    version: 0.2
    cache:
      paths:
        - 'deps/**/*'
    phases:
      install:
        commands:
          - |
            test -f deps/lib.txt || {
              echo fetch >> "$FETCHES"
              mkdir -p deps/bin && echo lib > deps/lib.txt && ln -s lib.txt deps/link.txt
              printf '#!/bin/sh\\n' > deps/bin/tool && chmod +x deps/bin/tool
            }
      build:
        commands:
          - echo built > out.txt
    artifacts:
      files: [out.txt, 'deps/**/*', handler.py]
    """


_DEPS_CACHE = "cache: {paths: ['deps/**/*']}"


def _fetches(tmp_path: Path) -> int:
    f = tmp_path / "fetches.log"
    return len(f.read_text().splitlines()) if f.exists() else 0


def test_cache_restored_on_second_build_and_artifact_unchanged(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "svc"
    env = {"FETCHES": str(tmp_path / "fetches.log")}
    # sandbox off: the build counts its fetches in a file outside its workspace
    cold, cold_log = build(tmp_path / "one", _SPEC, env=env, cache_dir=cache, sandbox=False)
    assert cold.state is JobState.SUCCEEDED, cold.error
    assert "Restoring cache: no saved cache yet" in cold_log
    assert "Saving cache: 3 files" in cold_log
    assert (cache / "service" / "deps" / "lib.txt").read_text() == "lib\n"
    warm, warm_log = build(tmp_path / "two", _SPEC, env=env, cache_dir=cache, sandbox=False)
    assert warm.state is JobState.SUCCEEDED, warm.error
    assert _fetches(tmp_path) == 1  # the second build found deps/ restored
    assert "Restoring cache: 3 files restored" in warm_log
    assert warm_log.index("Restoring cache") < warm_log.index("Entering phase INSTALL")
    assert warm_log.index("Saving cache") > warm_log.index("Phase complete: UPLOAD_ARTIFACTS")
    restored = tmp_path / "two" / "ws" / "services" / "svc" / "deps"
    assert os.access(restored / "bin" / "tool", os.X_OK)
    assert (restored / "link.txt").is_symlink()
    # the cache is invisible in the artifact: same bytes, cold or warm
    assert cold.artifact is not None and warm.artifact is not None
    assert cold.artifact.sha256 == warm.artifact.sha256
    assert not [p for p in cache.parent.iterdir() if p.name.startswith(".")]  # no temp dirs


def test_failed_build_does_not_save_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result, log = build(
        tmp_path,
        buildspec("mkdir -p deps && echo x > deps/a", "exit 1", artifacts=None, head=_DEPS_CACHE),
        cache_dir=cache,
    )
    assert result.state is JobState.FAILED
    assert "Restoring cache" in log and "Saving cache" not in log
    assert not cache.exists()


def test_no_cache_dir_means_no_cache(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        buildspec("echo hi", artifacts="{files: [handler.py]}", head=_DEPS_CACHE),
    )
    assert result.state is JobState.SUCCEEDED
    assert "Restoring cache" not in log and "Saving cache" not in log


def test_restore_never_overwrites_source_files(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    spec = buildspec("echo hi", artifacts="{files: [handler.py]}", head="cache: {paths: ['*.py']}")
    first, _ = build(tmp_path / "a", spec, cache_dir=cache, files={"handler.py": "old = 1\n"})
    assert first.state is JobState.SUCCEEDED
    second, log = build(tmp_path / "b", spec, cache_dir=cache, files={"handler.py": "new = 2\n"})
    assert second.state is JobState.SUCCEEDED
    assert (tmp_path / "b" / "ws" / "services" / "svc" / "handler.py").read_text() == "new = 2\n"
    assert "0 files restored, 1 already present and kept" in log


def test_home_and_codebuild_root_paths_and_outside_paths(tmp_path: Path) -> None:
    """`/root/…` is CodeBuild's $HOME; $HOME paths are cached; `/opt/…` is skipped."""
    cache = tmp_path / "cache"
    home = tmp_path / "home"
    spec = """
        version: 0.2
        cache:
          paths:
            - '/root/.cache/pip/**/*'
            - '$HOME/.m2/**/*'
            - '/opt/elsewhere/**/*'
        phases:
          build:
            commands:
              - mkdir -p ~/.cache/pip ~/.m2 && echo w > ~/.cache/pip/wheel && echo j > ~/.m2/a.jar
        artifacts: {files: [handler.py]}
        """
    # sandbox off: a sandboxed build has a HOME of its own (test_build_sandbox covers that)
    result, log = build(
        tmp_path / "a", spec, env={"HOME": str(home)}, cache_dir=cache, sandbox=False
    )
    assert result.state is JobState.SUCCEEDED, result.error
    assert "cache path `/opt/elsewhere/**/*` is outside" in log
    assert (cache / "home" / ".cache" / "pip" / "wheel").read_text() == "w\n"
    assert (cache / "home" / ".m2" / "a.jar").read_text() == "j\n"
    # a new machine (empty home): restored before the build runs
    home2 = tmp_path / "home2"
    again, log2 = build(
        tmp_path / "b",
        spec.replace("- mkdir -p", "- test -f ~/.m2/a.jar && mkdir -p"),
        env={"HOME": str(home2)},
        cache_dir=cache,
        sandbox=False,
    )
    assert again.state is JobState.SUCCEEDED, again.error
    assert (home2 / ".cache" / "pip" / "wheel").read_text() == "w\n"
    assert "2 files restored" in log2


def test_saved_cache_is_replaced_not_merged(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    spec = buildspec(
        "mkdir -p deps && echo x > deps/NAME", artifacts="{files: [handler.py]}", head=_DEPS_CACHE
    )
    build(tmp_path / "a", spec.replace("NAME", "one"), cache_dir=cache)
    build(
        tmp_path / "b",
        spec.replace("NAME", "two").replace("mkdir", "rm -rf deps; mkdir"),
        cache_dir=cache,
    )
    assert sorted(p.name for p in (cache / "service" / "deps").iterdir()) == ["two"]
