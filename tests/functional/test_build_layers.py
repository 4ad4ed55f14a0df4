"""A service's layers are zipped from their folders after its build (real shells, real
files), and a service with no functions builds with no code package."""

from __future__ import annotations

import zipfile
from pathlib import Path

from shipway.build.runner import BuildRequest, run_build
from shipway.model import BuildResult, JobState
from tests.functional.buildkit import parse_spec

LAYER = ("deps", "layer", ("!python/skip_*.py",), None)


def _build(
    tmp_path: Path,
    files: dict[str, str],
    spec: str | None = None,
    layers: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = (LAYER,),
    has_functions: bool = True,
) -> tuple[BuildResult, str]:
    service_dir = tmp_path / "ws" / "services" / "svc"
    service_dir.mkdir(parents=True)
    for name, text in files.items():
        (service_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (service_dir / name).write_text(text, encoding="utf-8")
    log = tmp_path / "build.log"
    request = BuildRequest(
        service="svc",
        service_dir=service_dir,
        workspace=tmp_path / "ws",
        buildspec=parse_spec(tmp_path, spec) if spec else None,
        env={},
        build_vars={"CODEBUILD_BUILD_ID": "svc:1"},
        package_patterns=(),
        exclude_files=("serverless.yml",),
        out_zip=tmp_path / "out" / "svc.zip",
        log_path=log,
        timeout_s=60,
        sandbox=False,
        layers=layers,
        has_functions=has_functions,
    )
    return run_build(request), log.read_text(encoding="utf-8")


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_the_layer_is_zipped_after_the_build_and_left_out_of_the_service(tmp_path: Path) -> None:
    spec = """\
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p layer/python/lib
              - echo 'VALUE = 42' > layer/python/lib/shared.py
        """
    result, log = _build(
        tmp_path,
        {
            "serverless.yml": "service: svc\n",
            "app.py": "def handler(e, c):\n    return 1\n",
            "layer/python/skip_me.py": "",
            "layer/python/kept.py": "",
        },
        spec,
    )
    assert result.state is JobState.SUCCEEDED, log
    assert result.artifact is not None
    assert _names(result.artifact.path) == ["app.py"]
    (layer,) = result.artifact.layers
    assert layer.name == "deps"
    assert _names(layer.path) == ["python/kept.py", "python/lib/shared.py"]
    assert "Layer deps: 2 files" in log


def test_layer_zips_are_byte_identical_across_builds(tmp_path: Path) -> None:
    files = {"app.py": "x = 1\n", "layer/python/m.py": "y = 2\n"}
    first, _ = _build(tmp_path / "a", files)
    second, _ = _build(tmp_path / "b", files)
    assert first.artifact and second.artifact
    assert first.artifact.layers[0].sha256 == second.artifact.layers[0].sha256


def test_a_missing_or_empty_layer_folder_fails_the_build_naming_the_layer(tmp_path: Path) -> None:
    result, _ = _build(tmp_path / "a", {"app.py": "x = 1\n"})
    assert result.state is JobState.FAILED
    assert result.error is not None and "layer `deps`" in result.error
    assert "not a folder" in result.error
    result, _ = _build(tmp_path / "b", {"app.py": "x = 1\n", "layer/python/skip_a.py": ""})
    assert result.state is JobState.FAILED
    assert result.error is not None and "no file in `layer`" in result.error


def test_a_service_with_no_functions_builds_an_empty_package(tmp_path: Path) -> None:
    """Its folder holds only serverless.yml: the Framework makes no package for it."""
    result, log = _build(
        tmp_path / "a", {"serverless.yml": "service: svc\n"}, layers=(), has_functions=False
    )
    assert result.state is JobState.SUCCEEDED, log
    assert result.artifact is not None and _names(result.artifact.path) == []
    assert "no functions" in log
    # the same service with functions would be an empty package: still an error
    failed, _ = _build(tmp_path / "b", {"serverless.yml": "service: svc\n"}, layers=())
    assert failed.state is JobState.FAILED
    assert failed.error is not None and "package is empty" in failed.error
    # with a buildspec and no `artifacts`, likewise
    spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built\n"
    result, log = _build(
        tmp_path / "c", {"serverless.yml": "service: svc\n"}, spec, (), has_functions=False
    )
    assert result.state is JobState.SUCCEEDED, log
    assert result.artifact is not None and _names(result.artifact.path) == []


def test_a_prebuilt_layer_zip_is_the_one_the_build_left(tmp_path: Path) -> None:
    spec = """\
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p out/python && echo 'V = 1' > out/python/v.py
              - cd out && python3 -c "import shutil; shutil.make_archive('../vendor', 'zip')"
        """
    result, log = _build(tmp_path, {"app.py": "x = 1\n"}, spec, (("vendor", "", (), "vendor.zip"),))
    assert result.state is JobState.SUCCEEDED, log
    assert result.artifact is not None
    (layer,) = result.artifact.layers
    assert _names(layer.path) == ["python/", "python/v.py"]
    missing, _ = _build(tmp_path / "b", {"app.py": "x = 1\n"}, None, (("v", "", (), "v.zip"),))
    assert missing.error is not None and "`v.zip` is not a zip after the build" in missing.error
