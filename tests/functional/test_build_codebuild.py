"""CodeBuild semantics beyond the phase basics: UPLOAD_ARTIFACTS after a failure, secondary
artifacts, runtime-versions, secrets, keys ignored locally, variable precedence.

Real shells, real files; each test names the rule it checks (AWS CodeBuild user guide:
"Build specification reference", "Build phase transitions", "Environment variables in build
environments").
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import pytest

from shipway.build.package import secondary_zip
from shipway.model import BuildResult, JobState
from tests.functional.buildkit import build, buildspec, output, zip_names

# --------------------------------------------------------------------------- UPLOAD_ARTIFACTS


def test_build_failure_still_attempts_upload_artifacts(tmp_path: Path) -> None:
    """ "The UPLOAD_ARTIFACTS phase is always attempted, even if the BUILD phase fails" —
    but a failed build is never deployed: FAILED, no artifact in the result."""
    result, log = build(
        tmp_path,
        buildspec(
            "mkdir -p dist && echo partial > dist/app.txt",
            "exit 5",
            artifacts="{files: ['dist/**/*']}",
        ),
    )
    assert result.state is JobState.FAILED
    assert result.error == "phase BUILD: command `exit 5` exited 5"
    assert result.artifact is None
    assert "Entering phase UPLOAD_ARTIFACTS" in log
    assert "Phase complete: UPLOAD_ARTIFACTS State: SUCCEEDED" in log
    assert "not deployed" in log
    kept = tmp_path / "out" / "svc.zip"  # written for inspection, as CodeBuild uploads it
    with zipfile.ZipFile(kept) as zf:
        assert zf.namelist() == ["dist/app.txt"]
    assert log.index("Phase complete: BUILD State: FAILED") < log.index(
        "Phase complete: UPLOAD_ARTIFACTS"
    )


def test_upload_failure_after_build_failure_keeps_first_error(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        buildspec("exit 2", artifacts="{files: ['dist/**/*']}"),
    )
    assert result.state is JobState.FAILED
    assert result.error == "phase BUILD: command `exit 2` exited 2"
    assert "Phase complete: UPLOAD_ARTIFACTS State: FAILED" in log
    assert "no matching artifact paths found" in log


def test_post_build_failure_still_attempts_upload(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands: [echo ok > out.txt]
          post_build:
            commands: [exit 3]
        artifacts: {files: [out.txt]}
        """,
    )
    assert result.state is JobState.FAILED and result.artifact is None
    assert "Phase complete: UPLOAD_ARTIFACTS State: SUCCEEDED" in log


@pytest.mark.parametrize("phase", ["install", "pre_build"])
def test_install_or_pre_build_failure_skips_upload(tmp_path: Path, phase: str) -> None:
    """An INSTALL / PRE_BUILD failure goes straight to FINALIZING (phase diagram)."""
    result, log = build(
        tmp_path,
        f"""
        version: 0.2
        phases:
          {phase}:
            commands: [exit 1]
          build:
            commands: [echo built > out.txt]
        artifacts: {{files: ['**/*']}}
        """,
    )
    assert result.state is JobState.FAILED
    assert "UPLOAD_ARTIFACTS" not in log
    assert not (tmp_path / "out" / "svc.zip").exists()


def test_successful_build_logs_upload_phase(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        buildspec("echo hi", artifacts="{files: [handler.py]}"),
    )
    assert result.state is JobState.SUCCEEDED and result.artifact is not None
    assert "Phase complete: UPLOAD_ARTIFACTS State: SUCCEEDED" in log


# --------------------------------------------------------------------------- secondary


_SECONDARY = """
    version: 0.2
    phases:
      build:
        commands:
          - mkdir -p dist docs/site && echo app > dist/app.py && echo page > docs/site/index.html
          - echo v1 > VERSION
    artifacts:
      files: ['dist/**/*']
      secondary-artifacts:
        site:
          base-directory: docs/site
          files: ['**/*']
        meta:
          files: [VERSION]
          discard-paths: yes
    """


def test_secondary_artifacts_are_separate_deterministic_zips(tmp_path: Path) -> None:
    one, log = build(tmp_path / "one", _SECONDARY)
    assert one.state is JobState.SUCCEEDED, one.error
    assert isinstance(one, BuildResult)
    assert zip_names(one) == ["dist/app.py"]
    assert sorted(one.secondary) == ["meta", "site"]
    site = one.secondary["site"]
    assert site.path == tmp_path / "one" / "out" / "svc.site.zip"
    assert secondary_zip(tmp_path / "out" / "svc.zip", "meta").name == "svc.meta.zip"
    with zipfile.ZipFile(site.path) as zf:
        assert zf.namelist() == ["index.html"]
    with zipfile.ZipFile(one.secondary["meta"].path) as zf:
        assert zf.read("VERSION") == b"v1\n"
    assert "Secondary artifact site svc.site.zip: 1 files" in log
    two, _ = build(tmp_path / "two", _SECONDARY)
    assert isinstance(two, BuildResult)
    for key in ("site", "meta"):
        assert one.secondary[key].sha256 == two.secondary[key].sha256
    assert one.artifact is not None and two.artifact is not None
    assert one.artifact.sha256 == two.artifact.sha256


def test_secondary_artifact_without_match_fails_the_build(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands: [echo hi]
        artifacts:
          files: [handler.py]
          secondary-artifacts:
            reports:
              files: ['reports/**/*']
        """,
    )
    assert result.state is JobState.FAILED and result.artifact is None
    assert result.error is not None
    assert result.error.startswith("artifacts.secondary-artifacts.reports: no matching")
    assert result.secondary == {}
    assert "Phase complete: UPLOAD_ARTIFACTS State: FAILED" in log


def test_secondary_artifacts_not_returned_when_build_failed(tmp_path: Path) -> None:
    result, _ = build(tmp_path, _SECONDARY.replace("- echo v1 > VERSION", "- exit 9"))
    assert result.state is JobState.FAILED
    assert result.secondary == {}


# --------------------------------------------------------------------------- runtime-versions


def _fake_bin(tmp_path: Path) -> Path:
    """A PATH with `python3` 3.12.1 and `node` v18.1.0 only."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir(parents=True)
    for name, text in {"python3": "Python 3.12.1", "node": "v18.1.0"}.items():
        exe = bin_dir / name
        exe.write_text(f"#!/bin/sh\necho '{text}'\n")
        exe.chmod(0o755)
    return bin_dir


def test_runtime_versions_reported_and_missing_ones_warned(tmp_path: Path) -> None:
    """CodeBuild fails on an unsupported runtime in its managed images; a local machine is
    not such an image, so Shipway reports and warns, and the build goes on."""
    result, log = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install:
            runtime-versions:
              python: 3.12
              nodejs: 20.x
              golang: 1.21
              fortran: 77
            commands: [echo installed]
        artifacts: {files: [handler.py]}
        """,
        env={"PATH": str(_fake_bin(tmp_path))},
    )
    assert result.state is JobState.SUCCEEDED, result.error
    agent = [ln.split(" ", 3)[3] for ln in log.splitlines() if ln.startswith("[Container]")]
    assert "Runtime python 3.12 requested; this machine has python3 3.12.1" in agent
    assert any(
        ln.startswith("Warning: runtime nodejs 20.x requested; this machine has node 18.1.0")
        for ln in agent
    )
    assert any("runtime golang 1.21 requested, but `go` is not installed" in ln for ln in agent)
    assert any(
        ln.startswith("Warning: runtime fortran 77 requested; Shipway cannot") for ln in agent
    )
    assert log.index("Runtime python") < log.index("Entering phase INSTALL")


def test_runtime_versions_match_this_python(tmp_path: Path) -> None:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    bin_dir = Path(sys.executable).parent
    result, log = build(
        tmp_path,
        f"""
        version: 0.2
        phases:
          install:
            runtime-versions: {{python: "{here}"}}
            commands: [echo ok]
        artifacts: {{files: [handler.py]}}
        """,
        env={"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"},
    )
    assert result.state is JobState.SUCCEEDED
    assert f"Runtime python {here} requested; this machine has python3 {here}" in log


# --------------------------------------------------------------------------- secrets


_SECRETS_SPEC = """
    version: 0.2
    env:
      parameter-store:
        DB_PASSWORD: /app/db/password
      secrets-manager:
        API_KEY: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/api-AbCdEf:key"
      exported-variables: [API_KEY, AWS_PROFILE_NAME, PUBLIC]
    phases:
      build:
        commands:
          - echo "db=$DB_PASSWORD api=$API_KEY extra=$EXTRA"
          - export PUBLIC=yes AWS_PROFILE_NAME=dev
    artifacts: {files: [handler.py]}
    """


def test_resolved_secrets_are_exported_masked_and_never_exported(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        _SECRETS_SPEC,
        resolved_secrets={
            "DB_PASSWORD": "hunter22-db",
            "API_KEY": "k-123456789",
            "EXTRA": "extra-secret",
        },
    )
    assert result.state is JobState.SUCCEEDED, result.error
    assert "db=*** api=*** extra=***" in output(log)
    for value in ("hunter22-db", "k-123456789", "extra-secret"):
        assert value not in log
    assert dict(result.exported) == {"PUBLIC": "yes"}
    assert "Exported variable API_KEY is not exported: it holds a secret" in log
    assert "Exported variable AWS_PROFILE_NAME is not exported: it starts with AWS_" in log


def test_missing_secret_fails_before_any_command(tmp_path: Path) -> None:
    result, log = build(tmp_path, _SECRETS_SPEC, resolved_secrets={"DB_PASSWORD": "x-secret"})
    assert result.state is JobState.FAILED
    assert result.error is not None and "`API_KEY`" in result.error
    assert "`DB_PASSWORD`" not in result.error
    assert "Running command" not in log


def test_env_layer_can_supply_a_secret_and_it_is_masked(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        _SECRETS_SPEC,
        env={"DB_PASSWORD": "from-dotenv-1", "API_KEY": "from-dotenv-2"},
    )
    assert result.state is JobState.SUCCEEDED, result.error
    assert "from-dotenv" not in log


# --------------------------------------------------------------------------- ignored keys


def test_keys_ignored_locally_are_logged_once(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        run-as: builder
        env:
          git-credential-helper: yes
        proxy:
          upload-artifacts: yes
        batch:
          fast-fail: true
        reports:
          unit-tests:
            files: [report.xml]
        cache:
          key: deps-$CODEBUILD_RESOLVED_SOURCE_VERSION
          paths: [deps/**/*]
        phases:
          build:
            run-as: other
            commands: [whoami >/dev/null]
        artifacts: {files: [handler.py]}
        """,
    )
    assert result.state is JobState.SUCCEEDED, result.error
    lines = [ln for ln in log.splitlines() if "Ignored locally:" in ln]
    assert len(lines) == 1
    for part in (
        "run-as",
        "env.git-credential-helper",
        "proxy",
        "reports (unit-tests)",
        "batch",
        "cache.key",
    ):
        assert part in lines[0]


# --------------------------------------------------------------------------- precedence


def test_variable_precedence_run_vars_env_spec_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Highest first: run variables, .env layers, buildspec env.variables, the process."""
    for name in ("P1", "P2", "P3", "P4"):
        monkeypatch.setenv(name, "process")
    result, log = build(
        tmp_path,
        """
        version: 0.2
        env:
          variables:
            P2: spec
            P3: spec
            P4: spec
        phases:
          build:
            commands: ['echo "$P1 $P2 $P3 $P4"']
        artifacts: {files: [handler.py]}
        """,
        env={"P3": "dotenv", "P4": "dotenv"},
        build_vars={"P4": "run"},
    )
    assert result.state is JobState.SUCCEEDED, result.error
    assert output(log) == ["process spec dotenv run"]


def test_resolved_secret_sits_between_env_layers_and_spec(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        env:
          variables: {S1: spec, S2: spec}
        phases:
          build:
            commands: ['echo "$S1 $S2"']
        artifacts: {files: [handler.py]}
        """,
        env={"S2": "dotenv"},
        resolved_secrets={"S1": "fetched-1", "S2": "fetched-2"},
    )
    assert result.state is JobState.SUCCEEDED
    assert output(log) == ["*** dotenv"]
