"""What a package may hold: symlinks are followed only while they stay inside the service
folder, and artifact paths never leave it."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from shipway.build.errors import BuildFailed
from shipway.build.package import zip_files
from shipway.errors import ConfigErrors
from shipway.model import JobState
from tests.functional.buildkit import build, buildspec, parse_spec, zip_names

SERVICE = ("ws", "services", "svc")


def _service(tmp_path: Path) -> Path:
    path = tmp_path.joinpath(*SERVICE)
    path.mkdir(parents=True)
    (path / "handler.py").write_text("def main(e, c):\n    return 1\n")
    return path


def _refused(tmp_path: Path, spec: str | None, *needles: str, **kw: object) -> str:
    result, log = build(tmp_path, spec, **kw)  # type: ignore[arg-type]
    assert result.state is JobState.FAILED, log
    assert result.artifact is None
    assert result.error is not None
    for needle in needles:
        assert needle in result.error, result.error
    assert "Traceback" not in log
    return result.error


def test_default_build_refuses_a_folder_link_leaving_the_service(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    (svc / "etcdir").symlink_to("/etc")
    error = _refused(tmp_path, None, "`etcdir`", "/etc", "outside the service folder")
    assert "shadow" not in error
    assert not (tmp_path / "out" / "svc.zip").exists()


def test_default_build_refuses_a_file_link_leaving_the_service(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    (tmp_path / "ws" / "secret.txt").write_text("top secret\n")
    (svc / "x").symlink_to("../../secret.txt")
    _refused(tmp_path, None, "`x`", "../../secret.txt")


def test_links_inside_the_service_are_packaged_with_their_content(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    (svc / "lib").mkdir()
    (svc / "lib" / "util.py").write_text("X = 1\n")
    (svc / "alias.py").symlink_to("handler.py")
    (svc / "libdir").symlink_to("lib")
    (svc / "loop").symlink_to(".")  # a loop: listed once, never followed round
    (svc / "a").symlink_to("b")
    (svc / "b").symlink_to("a")  # a loop between two links: a broken link, skipped
    first, log = build(tmp_path, None)
    assert first.state is JobState.SUCCEEDED, log
    names = zip_names(first)
    assert {"alias.py", "libdir/util.py", "lib/util.py", "handler.py"} <= set(names)
    assert "a" not in names and "b" not in names
    with zipfile.ZipFile(tmp_path / "out" / "svc.zip") as zf:
        assert zf.read("alias.py") == (svc / "handler.py").read_bytes()
    again, _ = build(tmp_path, None)  # same files, same bytes
    assert first.artifact is not None and again.artifact is not None
    assert again.artifact.sha256 == first.artifact.sha256


def test_an_excluded_link_leaving_the_service_is_not_an_error(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    (svc / ".venv").mkdir()
    (svc / ".venv" / "python").symlink_to("/usr/bin/env")
    (svc / "tools").symlink_to("/usr/share")
    result, log = build(tmp_path, None, patterns=("!.venv/**", "!tools/**"))
    assert result.state is JobState.SUCCEEDED, log
    assert zip_names(result) == ["handler.py"]


def test_package_patterns_build_refuses_a_link_its_commands_made(tmp_path: Path) -> None:
    _service(tmp_path)
    _refused(tmp_path, buildspec("ln -s /etc/passwd pw", artifacts=None), "`pw`", "/etc/passwd")


def test_artifacts_files_refuse_a_link_leaving_the_service(tmp_path: Path) -> None:
    _service(tmp_path)
    spec = buildspec(
        "mkdir -p dist && cp handler.py dist/ && ln -s /etc dist/etc",
        artifacts="{files: ['**/*'], base-directory: dist}",
    )
    _refused(tmp_path, spec, "`dist/etc`", "outside the service folder")


@pytest.mark.parametrize(
    ("artifacts", "key", "line"),
    [
        ("{files: ['**/*'], base-directory: ../..}", "artifacts.base-directory", 6),
        ("{files: ['**/*'], base-directory: /etc}", "artifacts.base-directory", 6),
        ("{files: ['**/*'], base-directory: '../*'}", "artifacts.base-directory", 6),
        ("{files: ['../../**']}", "artifacts.files", 6),
        ("{files: ['/etc/passwd']}", "artifacts.files", 6),
        ("{files: ['**/*'], exclude-paths: ['../x']}", "artifacts.exclude-paths", 6),
        (
            "{files: [handler.py], secondary-artifacts: {extra: {files: ['**/*'], "
            "base-directory: ../../..}}}",
            "artifacts.secondary-artifacts.extra.base-directory",
            6,
        ),
    ],
)
def test_artifact_paths_leaving_the_service_are_configuration_errors(
    tmp_path: Path, artifacts: str, key: str, line: int
) -> None:
    # written in the buildspec: `validate` refuses it, naming the line, before any build
    with pytest.raises(ConfigErrors) as caught:
        parse_spec(tmp_path, buildspec("true", artifacts=artifacts))
    [error] = caught.value.errors
    assert error.where is not None
    assert (error.where.key, error.where.line) == (key, line)
    assert "leaves the service folder" in error.message


@pytest.mark.parametrize(
    ("artifacts", "key"),
    [
        ("{files: ['**/*'], base-directory: $OUT}", "artifacts.base-directory `$OUT`"),
        ("{files: ['$OUT/**']}", "artifacts.files `../../**`"),
    ],
)
def test_artifact_paths_that_leave_once_expanded_fail_the_build(
    tmp_path: Path, artifacts: str, key: str
) -> None:
    # only the build knows what a variable holds: it refuses the expanded path
    _service(tmp_path)
    spec = buildspec("true", artifacts=artifacts)
    _refused(tmp_path, spec, key, "leaves the service folder", env={"OUT": "../.."})


def test_base_directory_that_is_a_link_leaving_the_service_is_refused(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    (svc / "dist").symlink_to("/etc")
    spec = buildspec("true", artifacts="{files: ['**/*'], base-directory: dist}")
    _refused(tmp_path, spec, "artifacts.base-directory `dist`", "symlink")


def test_base_directory_may_be_a_sibling_folder_inside_the_service(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    (svc / "build").mkdir()
    (svc / "build" / "app.py").write_text("A = 1\n")
    os.symlink("build", svc / "dist")
    spec = buildspec("true", artifacts="{files: ['**/*'], base-directory: dist}")
    result, log = build(tmp_path, spec)
    assert result.state is JobState.SUCCEEDED, log
    assert zip_names(result) == ["app.py"]


# --------------------------------------------------------------------------- cache.paths

_NODE_CACHE = "cache: {paths: ['node_modules/**/*']}"


def test_cache_restore_never_writes_through_a_link_leaving_the_workspace(
    tmp_path: Path,
) -> None:
    cache, victim = tmp_path / "cache", tmp_path / "victim"
    victim.mkdir()
    make = "mkdir -p node_modules/pkg && echo cached > node_modules/pkg/index.js"
    first, log = build(
        tmp_path / "a",
        buildspec(make, artifacts="{files: [handler.py]}", head=_NODE_CACHE),
        cache_dir=cache,
    )
    assert first.state is JobState.SUCCEEDED, log
    assert (cache / "service" / "node_modules" / "pkg" / "index.js").is_file()
    # the next commit has node_modules as a link out of the workspace
    svc = _service(tmp_path / "b")
    (svc / "node_modules").symlink_to(victim)
    again, log = build(
        tmp_path / "b",
        buildspec("true", artifacts="{files: [handler.py]}", head=_NODE_CACHE),
        cache_dir=cache,
    )
    assert again.state is JobState.SUCCEEDED, log
    assert list(victim.iterdir()) == []  # nothing written through the link
    assert "cache restore skipped below `node_modules`" in log
    assert "0 files restored" in log


def test_cache_save_never_reads_through_a_link_leaving_the_workspace(tmp_path: Path) -> None:
    cache, victim = tmp_path / "cache", tmp_path / "victim"
    (victim / "pkg").mkdir(parents=True)
    (victim / "pkg" / "secret.txt").write_text("outside\n")
    svc = _service(tmp_path)
    (svc / "node_modules").symlink_to(victim)
    spec = buildspec(
        "true",
        artifacts="{files: [handler.py]}",
        head="cache: {paths: ['node_modules/pkg/**/*']}",
    )
    result, log = build(tmp_path, spec, cache_dir=cache)
    assert result.state is JobState.SUCCEEDED, log
    assert "not saved" in log
    assert not [p for p in cache.rglob("*") if p.name == "secret.txt"]


def test_a_service_folder_that_is_a_link_leaving_the_commit_is_not_built(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "handler.py").write_text("def main(e, c):\n    return 1\n")
    (tmp_path / "ws" / "services").mkdir(parents=True)
    (tmp_path / "ws" / "services" / "svc").symlink_to(elsewhere)
    error = _refused(
        tmp_path,
        buildspec("touch built-here"),
        "service folder `services/svc`",
        "leaves the commit",
        files={},
    )
    assert "refused" in error
    assert sorted(p.name for p in elsewhere.iterdir()) == ["handler.py"]  # nothing ran there


def test_packaging_rereads_nothing_swapped_for_a_link_or_a_fifo(tmp_path: Path) -> None:
    """Between the check and the zip a sibling build (same workspace) may swap a chosen file
    for a link out or a FIFO: the zip step checks the file it actually opened."""
    svc = _service(tmp_path)
    outside = tmp_path / "secret.txt"
    outside.write_text("secret\n")
    (svc / "swapped.py").symlink_to(outside)
    os.mkfifo(svc / "pipe.py")
    for name in ("swapped.py", "pipe.py"):
        with pytest.raises(BuildFailed, match=f"`{name}`"):
            zip_files("svc", {name: svc / name}, tmp_path / "out.zip", (svc,))
    assert not (tmp_path / "out.zip").exists()
    assert not list(tmp_path.glob("*.partial"))
    art = zip_files("svc", {"handler.py": svc / "handler.py"}, tmp_path / "out.zip", (svc,))
    assert art.path.is_file()


def test_an_absolute_base_directory_inside_the_service_is_allowed(tmp_path: Path) -> None:
    # `base-directory: $CODEBUILD_SRC_DIR/services/svc/dist`, as CodeBuild samples write it
    svc = _service(tmp_path)
    spec = buildspec(
        "mkdir -p dist && cp handler.py dist/",
        artifacts="{files: ['**/*'], base-directory: $OUT}",
    )
    result, log = build(tmp_path, spec, env={"OUT": str(svc / "dist")})
    assert result.state is JobState.SUCCEEDED, log
    assert zip_names(result) == ["handler.py"]
