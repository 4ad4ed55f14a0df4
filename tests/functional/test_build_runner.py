"""run_build with real shells and real files: one test per CodeBuild rule."""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import pytest

from shipway.model import JobState
from tests.functional.buildkit import build, buildspec, output, running, zip_names


def test_variable_carries_across_commands_and_phases(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install:
            commands:
              - PLAIN=one
              - export EXPORTED=two
          build:
            commands:
              - echo "got $PLAIN $EXPORTED"
              - sh -c 'echo "child sees $PLAIN"'
        artifacts: {files: ['**/*']}
        """,
    )
    assert result.state is JobState.SUCCEEDED, result.error
    assert "got one two" in output(log)
    assert "child sees one" in output(log)


def test_cd_carries_across_commands(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        phases:
          pre_build:
            commands:
              - mkdir -p sub/deeper && cd sub/deeper
          build:
            commands:
              - pwd
              - cd "$CODEBUILD_SRC_DIR"
              - pwd
        artifacts: {files: ['**/*']}
        """,
    )
    assert result.state is JobState.SUCCEEDED, result.error
    out = output(log)
    ws = tmp_path / "ws"
    assert out[0] == str(ws / "services" / "svc" / "sub" / "deeper")
    assert out[1] == str(ws)


def test_build_starts_in_service_dir_with_codebuild_vars(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        buildspec(
            "pwd", 'echo "$CODEBUILD_SRC_DIR|$CODEBUILD_BUILD_ID|$CODEBUILD_BUILD_SUCCEEDING"'
        ),
    )
    assert result.state is JobState.SUCCEEDED
    ws = tmp_path / "ws"
    assert output(log) == [str(ws / "services" / "svc"), f"{ws}|svc:1|1"]


def test_env_precedence_spec_then_env_then_build_vars(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        env:
          variables:
            A: from-spec
            B: from-spec
            C: from-spec
            N: 10
            T: yes
        phases:
          build:
            commands:
              - echo "$A $B $C $N $T"
        artifacts: {files: ['**/*']}
        """,
        env={"B": "from-env", "SHIPWAY_SERVICE": "from-env"},
    )
    assert result.state is JobState.SUCCEEDED
    assert output(log) == ["from-spec from-env from-spec 10 true"]


def test_function_does_not_carry(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        buildspec("greet() { echo hello; }; greet", "greet", artifacts=None),
    )
    assert result.state is JobState.FAILED
    assert output(log)[0] == "hello"
    assert result.error is not None and "command `greet` exited 127" in result.error


def test_set_e_does_not_carry(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        buildspec("set -e", "false; echo still-running"),
    )
    assert result.state is JobState.SUCCEEDED, result.error
    assert "still-running" in output(log)


def test_multiline_block_status_is_last_line(tmp_path: Path) -> None:
    ok, _ = build(
        tmp_path / "a",
        """
        version: 0.2
        phases:
          build:
            commands:
              - |
                false
                true
        artifacts: {files: ['**/*']}
        """,
    )
    assert ok.state is JobState.SUCCEEDED
    bad, _ = build(
        tmp_path / "b",
        """
        version: 0.2
        phases:
          build:
            commands:
              - |
                true
                false
        """,
    )
    assert bad.state is JobState.FAILED


def test_first_failure_stops_phase_and_finally_runs(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - echo one
              - exit 3
              - echo never
            finally:
              - echo cleanup
        """,
    )
    assert result.state is JobState.FAILED
    assert output(log) == ["one", "cleanup"]
    assert result.error == "phase BUILD: command `exit 3` exited 3"
    assert result.artifact is None


def test_build_failure_runs_post_build_with_succeeding_0(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - npm-that-does-not-exist test
          post_build:
            commands:
              - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
        artifacts: {files: ['**/*']}
        """,
    )
    assert result.state is JobState.FAILED
    assert "succeeding=0" in output(log)
    assert result.error == "phase BUILD: command `npm-that-does-not-exist test` exited 127"
    assert result.artifact is None
    assert "Phase complete: BUILD State: FAILED" in log
    assert "Phase complete: POST_BUILD State: SUCCEEDED" in log


def test_install_failure_skips_later_phases(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install:
            commands:
              - exit 1
            finally:
              - echo install-finally
          pre_build:
            commands: [echo pre]
          build:
            commands: [echo build]
          post_build:
            commands: [echo post]
        """,
    )
    assert result.state is JobState.FAILED
    assert output(log) == ["install-finally"]
    assert result.error == "phase INSTALL: command `exit 1` exited 1"
    assert "Entering phase BUILD" not in log


def test_on_failure_continue_goes_on_but_build_fails(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        phases:
          pre_build:
            on-failure: CONTINUE
            commands:
              - exit 2
          build:
            commands:
              - echo "build ran, succeeding=$CODEBUILD_BUILD_SUCCEEDING"
        artifacts: {files: ['**/*']}
        """,
    )
    assert result.state is JobState.FAILED
    assert output(log) == ["build ran, succeeding=0"]
    assert result.error == "phase PRE_BUILD: command `exit 2` exited 2"
    assert result.artifact is None


def test_on_failure_retry_reruns_phase(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            on-failure: RETRY-2
            commands:
              - echo x >> attempts.txt
              - test "$(wc -l < attempts.txt)" -ge 3
        artifacts: {files: ['attempts.txt']}
        """,
    )
    assert result.state is JobState.SUCCEEDED, result.error
    assert log.count("Retrying phase BUILD") == 2


def test_timeout_kills_process_group(tmp_path: Path) -> None:
    # a sleep no other test starts: found by its command line, since inside the build
    # sandbox a process id is not the one this machine sees
    started = time.monotonic()
    result, _ = build(
        tmp_path,
        buildspec("sleep 30.0417 & sleep 30.0418", artifacts=None),
        timeout=1.0,
    )
    assert time.monotonic() - started < 10
    assert result.state is JobState.TIMED_OUT
    assert result.error is not None and "timed out" in result.error
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not running("sleep 30.041"):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the background child survived the timeout")


def test_secrets_masked_in_log(tmp_path: Path) -> None:
    secret = "s3cr3t-value-123"
    result, log = build(
        tmp_path,
        buildspec(
            'echo "token is $API_TOKEN"',
            "printf 's3cr3t-'; sleep 0.2; printf 'value-123 end\\n'",
            'echo "$API_TOKEN" >&2',
            "exit 4 # $API_TOKEN",
            artifacts=None,
        ),
        env={"API_TOKEN": secret},
        secrets=frozenset({secret}),
    )
    assert secret not in log
    assert "token is ***" in output(log)
    assert "*** end" in output(log)
    assert output(log).count("***") == 1
    assert result.state is JobState.FAILED


def test_parameter_store_values_are_masked_and_required(tmp_path: Path) -> None:
    text = """
        version: 0.2
        env:
          parameter-store:
            DB_PASSWORD: /app/db/password
        phases:
          build:
            commands:
              - echo "pw=$DB_PASSWORD"
        artifacts: {files: ['**/*']}
        """
    result, log = build(tmp_path / "a", text, env={"DB_PASSWORD": "hunter22"})
    assert result.state is JobState.SUCCEEDED
    assert "pw=***" in output(log) and "hunter22" not in log
    missing, _ = build(tmp_path / "b", text)
    assert missing.state is JobState.FAILED
    assert missing.error is not None and "`DB_PASSWORD`" in missing.error


def test_exported_variables_captured(tmp_path: Path) -> None:
    result, _ = build(
        tmp_path,
        """
        version: 0.2
        env:
          exported-variables: [IMAGE_TAG, STAGE_URL, NEVER_SET]
        phases:
          build:
            commands:
              - IMAGE_TAG=v1.2
          post_build:
            commands:
              - export STAGE_URL="https://x.example/$IMAGE_TAG"
        artifacts: {files: ['**/*']}
        """,
    )
    assert result.state is JobState.SUCCEEDED
    assert dict(result.exported) == {"IMAGE_TAG": "v1.2", "STAGE_URL": "https://x.example/v1.2"}


def test_version_01_fresh_shell_each_command(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.1
        environment_variables:
          plaintext:
            GREETING: hi
        phases:
          build:
            commands:
              - X=1; mkdir -p d; cd d
              - echo "[$X] $(basename $(pwd)) $GREETING"
        artifacts: {files: ['**/*']}
        """,
    )
    assert result.state is JobState.SUCCEEDED
    assert output(log) == ["[] svc hi"]


def test_bash_shell(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        """
        version: 0.2
        env: {shell: bash}
        phases:
          build:
            commands:
              - arr=(a b c); echo "${#arr[@]} $BASH_VERSION" | cut -c1
        artifacts: {files: ['**/*']}
        """,
    )
    assert result.state is JobState.SUCCEEDED, result.error
    assert output(log) == ["3"]


def test_log_markers(tmp_path: Path) -> None:
    _, log = build(
        tmp_path,
        buildspec("echo hi"),
    )
    agent = [ln for ln in log.splitlines() if ln.startswith("[Container] ")]
    assert any(ln.endswith("Entering phase BUILD") for ln in agent)
    assert any(ln.endswith("Running command echo hi") for ln in agent)
    assert any(ln.endswith("Phase complete: BUILD State: SUCCEEDED") for ln in agent)
    stamp = re.compile(r"\[Container\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3} ")
    assert all(stamp.match(ln) for ln in agent)


def test_stdin_is_not_read(tmp_path: Path) -> None:
    result, log = build(
        tmp_path,
        buildspec('cat; echo "read done"'),
        timeout=10,
    )
    assert result.state is JobState.SUCCEEDED
    assert output(log) == ["read done"]


def test_background_process_does_not_hang_build(tmp_path: Path) -> None:
    started = time.monotonic()
    result, _ = build(
        tmp_path,
        buildspec("sleep 20 &", "echo next"),
        timeout=30,
    )
    assert result.state is JobState.SUCCEEDED
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------- artifacts


def test_artifacts_base_directory_discard_and_exclude(tmp_path: Path) -> None:
    result, _ = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p dist/lib dist/tests && echo a > dist/app.py && echo b > dist/lib/util.py
              - echo t > dist/tests/test_app.py && echo m > dist/lib/notes.md
        artifacts:
          base-directory: dist
          files: ['**/*']
          exclude-paths: ['tests/**', '**/*.md']
        """,
    )
    assert result.state is JobState.SUCCEEDED, result.error
    assert zip_names(result) == ["app.py", "lib/util.py"]

    flat, _ = build(
        tmp_path / "flat",
        """
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p out/a/b && echo 1 > out/a/one.txt && echo 2 > out/a/b/two.txt
        artifacts:
          files: ['out/**/*.txt']
          discard-paths: yes
        """,
    )
    assert flat.state is JobState.SUCCEEDED, flat.error
    assert zip_names(flat) == ["one.txt", "two.txt"]


def test_artifacts_base_directory_glob_and_variables(tmp_path: Path) -> None:
    result, _ = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p build-1234/pkg && echo a > build-1234/pkg/x.py
              - OUT=pkg
        artifacts:
          base-directory: build-*
          files: ['$OUT/*.py']
        """,
    )
    assert result.state is JobState.SUCCEEDED, result.error
    assert zip_names(result) == ["pkg/x.py"]


def test_artifacts_no_match_fails(tmp_path: Path) -> None:
    result, _ = build(
        tmp_path,
        buildspec("echo hi", artifacts="{files: ['dist/**/*']}"),
    )
    assert result.state is JobState.FAILED
    assert result.error is not None and "no matching artifact paths" in result.error


def test_default_build_patterns(tmp_path: Path) -> None:
    files = {
        "handler.py": "x",
        "lib/util.py": "x",
        "serverless.yml": "service: svc",
        ".env": "A=1",
        ".env.dev": "A=1",
        ".gitignore": "x",
        ".git/config": "x",
        ".serverless/old.zip": "x",
        "tests/test_handler.py": "x",
        "tests/fixtures/keep.json": "x",
        "node_modules/dep/index.js": "x",
        "requirements.txt": "# nothing to install\n\n",
        "notes.custom": "x",
    }
    result, _ = build(
        tmp_path,
        None,
        files=files,
        patterns=("!tests/**", "tests/fixtures/**", "!node_modules/**", "!*.custom"),
        exclude_files=("serverless.yml",),
    )
    assert result.state is JobState.SUCCEEDED, result.error
    assert zip_names(result) == [
        "handler.py",
        "lib/util.py",
        "requirements.txt",
        "tests/fixtures/keep.json",
    ]


def _wheel(dest: Path) -> Path:
    """A minimal pure-Python wheel, written by hand (pip installs it without network)."""
    whl = dest / "localmod-1.0-py3-none-any.whl"
    dest.mkdir(parents=True, exist_ok=True)
    files = {
        "localmod/__init__.py": "VALUE = 7\n",
        "localmod-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: localmod\nVersion: 1.0\n",
        "localmod-1.0.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{n},,\n" for n in files) + "localmod-1.0.dist-info/RECORD,,\n"
    files["localmod-1.0.dist-info/RECORD"] = record
    with zipfile.ZipFile(whl, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return whl


def test_default_build_installs_requirements(tmp_path: Path) -> None:
    whl = _wheel(tmp_path / "ws" / "wheels")  # inside the workspace: the build sees it
    result, log = build(
        tmp_path,
        None,
        files={"handler.py": "import localmod\n", "requirements.txt": f"{whl}\n"},
    )
    assert result.state is JobState.SUCCEEDED, log
    names = zip_names(result)
    assert "localmod/__init__.py" in names
    assert "handler.py" in names and "requirements.txt" in names


def test_default_build_pip_failure_reported(tmp_path: Path) -> None:
    result, _ = build(
        tmp_path,
        None,
        files={"handler.py": "x", "requirements.txt": f"{tmp_path}/does-not-exist\n"},
    )
    assert result.state is JobState.FAILED
    assert result.error == "phase BUILD: command `pip install -r requirements.txt` exited 1"


def test_same_inputs_same_zip_bytes(tmp_path: Path) -> None:
    spec = buildspec(
        "mkdir -p bin && printf '#!/bin/sh\\necho hi\\n' > bin/run && chmod +x bin/run",
        "echo data > data.txt",
    )
    first, _ = build(tmp_path / "one", spec)
    time.sleep(1.1)  # different mtimes on disk
    second, _ = build(tmp_path / "two", spec)
    assert first.artifact is not None and second.artifact is not None
    assert first.artifact.path.read_bytes() == second.artifact.path.read_bytes()
    assert first.artifact.sha256 == second.artifact.sha256
    with zipfile.ZipFile(first.artifact.path) as zf:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
    assert modes["bin/run"] == 0o755
    assert modes["data.txt"] == 0o644


def test_many_trivial_builds_are_fast(tmp_path: Path) -> None:
    spec = buildspec("echo ok")
    started = time.monotonic()
    for i in range(20):
        result, _ = build(tmp_path / str(i), spec)
        assert result.state is JobState.SUCCEEDED
    assert time.monotonic() - started < 10


def test_an_endless_output_line_is_logged_in_bounded_pieces(tmp_path: Path) -> None:
    # one 3 MB line without a newline: logged in pieces, not held in memory whole
    spec = buildspec("head -c 3000000 /dev/zero | tr '\\0' a", artifacts=None)
    result, log = build(tmp_path, spec)
    assert result.state is JobState.SUCCEEDED, log[-500:]
    pieces = [line for line in log.splitlines() if "aaaa" in line]
    assert len(pieces) >= 3
    assert max(len(p) for p in pieces) <= (1 << 20) + 40  # a piece, and its timestamp
    assert sum(p.count("a") for p in pieces) == 3_000_000
