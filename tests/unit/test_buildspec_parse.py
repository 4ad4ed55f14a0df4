"""parse_buildspec: shapes, values and every-problem-at-once errors with file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shipway.config.buildspec import parse_buildspec
from shipway.errors import ConfigErrors, ShipwayError
from tests.conftest import CORPUS as SHARED_CORPUS

CORPUS = SHARED_CORPUS / "buildspecs"
NAME = "services/api/buildspec.yml"


def _parse(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    f = tmp_path / "buildspec.yml"
    f.write_text(textwrap.dedent(text).lstrip())
    return parse_buildspec(f, NAME)


def _errors(tmp_path: Path, text: str) -> list[ShipwayError]:
    with pytest.raises(ConfigErrors) as info:
        _parse(tmp_path, text)
    return info.value.errors


def test_full_spec(tmp_path: Path) -> None:
    spec = _parse(
        tmp_path,
        """
        version: 0.2
        run-as: root
        env:
          shell: bash
          variables:
            NAME: api
            PORT: 8080
            DEBUG: no
            RATIO: 0.5
          parameter-store:
            DB_PASSWORD: /api/db
          secrets-manager:
            TOKEN: prod/api:token
          exported-variables: [IMAGE_TAG]
          git-credential-helper: yes
        phases:
          install:
            runtime-versions:
              python: 3.12
              nodejs: 20
            commands:
              - pip install -r requirements.txt
              # a comment
              -   # an empty item
          build:
            on-failure: CONTINUE
            commands:
              - |
                echo multi
                echo line
            finally:
              - echo done
        reports:
          junit:
            files: ['report.xml']
            file-format: JUNITXML
        artifacts:
          files: ['**/*']
          base-directory: dist
          discard-paths: yes
          exclude-paths: ['**/*.md']
          name: api.zip
          secondary-artifacts:
            docs:
              files: [docs/**/*]
        cache:
          paths: ['node_modules/**/*']
        """,
    )
    assert spec.file == NAME and spec.version == "0.2" and spec.shell == "bash"
    assert spec.variables == {"NAME": "api", "PORT": "8080", "DEBUG": "false", "RATIO": "0.5"}
    assert spec.parameter_store == {"DB_PASSWORD": "/api/db"}
    assert spec.secrets_manager == {"TOKEN": "prod/api:token"}
    assert spec.exported_variables == ("IMAGE_TAG",)
    assert [p.name for p in spec.phases] == ["install", "build"]
    install, build = spec.phases
    assert install.commands == ("pip install -r requirements.txt",)
    assert install.runtime_versions == {"python": "3.12", "nodejs": "20"}
    assert build.commands == ("echo multi\necho line\n",)
    assert build.finally_commands == ("echo done",)
    assert build.on_failure == "CONTINUE"
    assert spec.artifacts is not None
    assert spec.artifacts.files == ("**/*",) and spec.artifacts.base_directory == "dist"
    assert spec.artifacts.discard_paths is True
    assert spec.artifacts.exclude_paths == ("**/*.md",)
    assert spec.artifacts.name == "api.zip"
    assert set(spec.secondary_artifacts) == {"docs"}
    assert spec.cache_paths == ("node_modules/**/*",)
    assert spec.raw["reports"]["junit"]["file-format"] == "JUNITXML"
    assert spec.run_as == "root"


def test_phases_in_codebuild_order_whatever_the_file_order(tmp_path: Path) -> None:
    spec = _parse(
        tmp_path,
        """
        version: "0.2"
        phases:
          post_build: {commands: [echo c]}
          build: {commands: [echo b]}
          install: {commands: [echo a]}
        """,
    )
    assert [p.name for p in spec.phases] == ["install", "build", "post_build"]


def test_unknown_key_names_line_and_suggests(tmp_path: Path) -> None:
    errors = _errors(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            comands:
              - echo hi
        """,
    )
    assert len(errors) == 1
    e = errors[0]
    assert e.where is not None and (e.where.file, e.where.line) == (NAME, 4)
    assert e.where.key == "phases.build.comands"
    assert "unknown key `comands`" in e.message and e.hint == "did you mean `commands`?"
    assert str(e).startswith(f"{NAME}:4: `phases.build.comands`: unknown key")


def test_wrong_types_all_reported(tmp_path: Path) -> None:
    errors = _errors(
        tmp_path,
        """
        version: 0.2
        env:
          variables: [A, B]
          shell: zsh
        phases:
          prebuild:
            commands: [echo]
          build:
            commands: echo hi
            on-failure: SOMETIMES
        artifacts:
          discard-paths: maybe
        """,
    )
    got = {(e.where.line if e.where else None, e.message.split(";")[0]) for e in errors}
    assert got == {
        (3, "expected a mapping, got a list"),
        (4, "unsupported shell `zsh`"),
        (6, "unknown key `prebuild`"),
        (9, "expected a list of commands, got a string"),
        (10, "unknown on-failure `SOMETIMES`"),
        (11, "missing `files` (the list of paths to put in the artifact)"),
        (12, "expected yes or no, got a string"),
    }


def test_mapping_as_command(tmp_path: Path) -> None:
    errors = _errors(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - echo ok
              - echo Result: done
        """,
    )
    assert len(errors) == 1
    e = errors[0]
    assert e.where is not None and e.where.line == 6 and e.where.key == "phases.build.commands[1]"
    assert "got a mapping" in e.message and e.hint is not None and "quote" in e.hint


def test_version_checked(tmp_path: Path) -> None:
    errors = _errors(tmp_path, "version: 0.3\nphases: {build: {commands: [x]}}\n")
    assert errors[0].where is not None and errors[0].where.line == 1
    assert "unsupported buildspec version `0.3`" in errors[0].message
    missing = _errors(tmp_path, "phases: {build: {commands: [x]}}\n")
    assert "missing `version`" in missing[0].message


def test_runtime_versions_only_in_install(tmp_path: Path) -> None:
    errors = _errors(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            runtime-versions: {python: 3.12}
            commands: [x]
        """,
    )
    assert errors[0].where is not None and errors[0].where.line == 4
    assert "unknown key `runtime-versions`" in errors[0].message


def test_null_variable_and_bad_names(tmp_path: Path) -> None:
    errors = _errors(
        tmp_path,
        """
        version: 0.2
        env:
          variables:
            EMPTY:
            1BAD: x
        phases:
          build: {commands: [x]}
        """,
    )
    assert [e.where.line for e in errors if e.where] == [4, 5]


def test_version_01_environment_variables(tmp_path: Path) -> None:
    spec = _parse(
        tmp_path,
        """
        version: 0.1
        environment_variables:
          plaintext:
            A: "1"
        phases:
          build:
            commands: [echo $A]
        """,
    )
    assert spec.version == "0.1" and spec.variables == {"A": "1"}


def test_empty_and_non_mapping(tmp_path: Path) -> None:
    for text in ("", "- a\n- b\n"):
        errors = _errors(tmp_path, text)
        assert errors[0].where is not None and errors[0].where.line == 1


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    with pytest.raises(ShipwayError) as info:
        _parse(tmp_path, "version: 0.2\nphases:\n  build:\n    commands: [a\n")
    assert info.value.where is not None and info.value.where.line is not None


def test_corpus(tmp_path: Path) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent")
    ok: list[str] = []
    failed: dict[str, ConfigErrors] = {}
    for f in sorted(CORPUS.glob("*.yml")):
        try:
            parse_buildspec(f, f.name)
            ok.append(f.name)
        except ConfigErrors as exc:
            failed[f.name] = exc
    assert len(ok) == 29, sorted(failed)
    assert sorted(failed) == [
        "aws-samples__aws-serverless-samfarm__api_buildspec.yml",  # version 0.0 (pre-release)
        "aws-samples__codepipeline-nested-cfn__cfn-nested-repo_buildspec.yml",  # commands: str
    ]
    for name, exc in failed.items():
        for e in exc.errors:
            assert e.where is not None and e.where.file == name and e.where.line is not None
    samfarm = failed["aws-samples__aws-serverless-samfarm__api_buildspec.yml"].errors
    assert (samfarm[0].where and samfarm[0].where.line) == 1
    assert "unsupported buildspec version `0.0`" in samfarm[0].message
    nested = failed["aws-samples__codepipeline-nested-cfn__cfn-nested-repo_buildspec.yml"].errors
    assert len(nested) == 1 and nested[0].where is not None
    assert (nested[0].where.line, nested[0].where.key) == (21, "phases.install.commands")


def test_artifact_paths_longer_than_a_file_name_can_be_are_refused_where_written(
    tmp_path: Path,
) -> None:
    # found by bench/fuzz.py (seed 8, case 98730): a 300-byte base-directory passed
    # validate and ended `shipway run` in OSError "File name too long"
    long = "l" * 300
    errors = _errors(
        tmp_path,
        f"""
        version: 0.2
        phases: {{build: {{commands: [echo hi]}}}}
        artifacts:
          base-directory: {long}
          files: ["dist/{long}"]
        """,
    )
    assert [e.where.key for e in errors if e.where] == [
        "artifacts.base-directory",
        "artifacts.files",
    ]
    assert all("longer than 255 bytes" in e.message for e in errors)
    assert all(e.where and e.where.line == 4 + i for i, e in enumerate(errors))
