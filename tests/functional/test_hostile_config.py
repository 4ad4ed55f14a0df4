"""Hostile commits through the CLI, as a user meets them: every bad file is exit status 2
with `file:line: key`, never a traceback or a crash, and nothing outside the repository
is read."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.conftest import commit_all
from tests.integration.cli import shipway

SHIPWAY_YML = "project: demo\nenvironments:\n  dev:\n    branch: dev\n"
SLS = (
    "service: api\nprovider:\n  name: aws\n  runtime: python3.12\n"
    "functions:\n  hello:\n    handler: handler.main\n"
)

MakeRepo = Callable[..., Path]


def _repo(make_repo: MakeRepo, extra: Mapping[str, str] | None = None, **files: str) -> Path:
    content = {
        "shipway.yml": SHIPWAY_YML,
        "services/api/serverless.yml": SLS,
        "services/api/handler.py": "def main(e, c):\n    return {}\n",
    }
    content.update(files)
    content.update(extra or {})
    return make_repo(content)


def _fails(proc: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    for text in expected:
        assert text in proc.stderr, proc.stderr
    return proc.stderr


def test_deep_yaml_in_every_file_is_exit_2_with_file_and_line(make_repo: MakeRepo) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    repo = _repo(
        make_repo,
        {
            "shipway.yml": SHIPWAY_YML + f"x: {deep}\n",
            "services/api/serverless.yml": SLS + f"custom:\n  x: {deep}\n",
            "services/api/buildspec.yml": f"version: 0.2\nbatch: {deep}\n",
        },
    )
    err = _fails(shipway("validate", repo=repo), "nested deeper than 100 levels")
    assert "shipway.yml:5:" in err
    assert "services/api/serverless.yml:9:" in err
    assert "services/api/buildspec.yml:2:" in err


def test_an_alias_bomb_is_exit_2(make_repo: MakeRepo) -> None:
    lines = ["custom:", '  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"  l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    repo = _repo(make_repo, {"services/api/serverless.yml": SLS + "\n".join(lines) + "\n"})
    _fails(shipway("validate", repo=repo), "services/api/serverless.yml:", "aliases expanded")


def test_file_variables_cannot_read_outside_the_repository(make_repo: MakeRepo) -> None:
    sls = SLS + "custom:\n  stolen: ${file(/etc/passwd)}\n  up: ${file(../../../x.yml)}\n"
    repo = _repo(make_repo, {"services/api/serverless.yml": sls})
    for command in (
        ["validate"],
        ["print", "api", "--env", "dev"],
        ["synth", "api", "--env", "dev"],
    ):
        proc = shipway(*command, repo=repo)
        _fails(proc, "services/api/serverless.yml:9: `custom.stolen`", "outside the repository")
        assert "root:" not in proc.stdout + proc.stderr


def test_committed_symlinks_leaving_the_repository_are_refused(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    (outside / "svc").mkdir(parents=True)
    (outside / "svc/serverless.yml").write_text(SLS.replace("service: api", "service: evil"))
    (outside / "secret.env").write_text("STOLEN_TOKEN=canary-123\n")
    repo = _repo(make_repo)
    (repo / "services/evil").symlink_to(outside / "svc")
    (repo / ".env").symlink_to(outside / "secret.env")
    commit_all(repo, "hostile links")
    err = _fails(
        shipway("validate", repo=repo),
        "`services/evil` is a symlink that leads outside the repository",
        ".env: `.env` leads outside the repository",
    )
    assert "canary-123" not in err


def test_a_symlinked_shipway_yml_leaving_the_repository_is_refused(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    (tmp_path / "elsewhere.yml").write_text(SHIPWAY_YML)
    repo = _repo(make_repo)
    (repo / "shipway.yml").unlink()
    (repo / "shipway.yml").symlink_to(tmp_path / "elsewhere.yml")
    commit_all(repo, "linked")
    _fails(shipway("validate", repo=repo), "shipway.yml", "leads outside the repository")


def test_long_names_are_exit_2_at_validate(make_repo: MakeRepo) -> None:
    long = "a" * 300
    repo = _repo(
        make_repo,
        {
            "shipway.yml": (
                "project: demo\nservices:\n  - services/*\n"
                f"  - services/{long}\nenvironments:\n  dev:\n    branch: dev\n"
                f"  {'e' * 300}:\n    branch: other\n"
            ),
            "services/api/serverless.yml": SLS.replace("service: api", f"service: s{long}"),
        },
    )
    _fails(
        shipway("validate", repo=repo),
        "shipway.yml:4: `services[1]`: the folder name",
        "shipway.yml:8: `environments.eeee",
        "the limit is 40",
    )


def test_stack_and_function_names_keep_aws_limits(make_repo: MakeRepo) -> None:
    name = "s" + "x" * 126  # the stack `<name>-dev` is 131 characters
    repo = _repo(
        make_repo,
        {
            "services/api/serverless.yml": SLS.replace("service: api", f"service: {name}"),
            "services/b/serverless.yml": SLS.replace("service: api", "service: b").replace(
                "hello:", "h" * 70 + ":"
            ),
        },
    )
    _fails(
        shipway("validate", repo=repo),
        "services/api/serverless.yml:1: `service`: the stack name",
        "CloudFormation allows 128",
        "services/b/serverless.yml:6: `functions.hhhh",
        "Lambda allows 64",
    )


def test_an_overlong_timeout_is_exit_2_at_validate(make_repo: MakeRepo) -> None:
    yml = "project: demo\nbuild:\n  timeout: " + "9" * 400 + "\n" + SHIPWAY_YML.split("\n", 1)[1]
    repo = _repo(make_repo, {"shipway.yml": yml})
    _fails(shipway("validate", repo=repo), "shipway.yml:3: `build.timeout`: at most 36h is allowed")


@pytest.mark.parametrize("branch", ["dev^", "main..dev", "-x", "a b", "feature/x.lock", "x@{1}"])
def test_a_branch_must_be_a_branch_name(make_repo: MakeRepo, branch: str) -> None:
    repo = _repo(
        make_repo, {"shipway.yml": SHIPWAY_YML.replace("branch: dev", f"branch: '{branch}'")}
    )
    _fails(
        shipway("validate", repo=repo),
        f"shipway.yml:4: `environments.dev.branch`: `{branch}` is not a branch name",
    )


def test_region_and_tags_errors_before_any_aws_call(make_repo: MakeRepo) -> None:
    sls = SLS.replace(
        "runtime: python3.12", "runtime: python3.12\n  region: not a region!\n  tags: [a]"
    )
    repo = _repo(make_repo, {"services/api/serverless.yml": sls + "custom:\n  p: ${ssm:/x}\n"})
    _fails(
        shipway("validate", repo=repo),
        "`custom.p`",
        "`provider.region` `not a region!` is not an AWS region",
        "services/api/serverless.yml:6: `provider.tags`: expected a mapping",
    )
    repo2 = make_repo(
        {
            "shipway.yml": SHIPWAY_YML,
            "services/api/serverless.yml": SLS.replace(
                "runtime: python3.12", "runtime: python3.12\n  tags: [a]"
            ),
        },
        name="tags",
    )
    _fails(shipway("synth", "api", "--env", "dev", repo=repo2), "`provider.tags`")


def test_nan_prints_as_null_in_json(make_repo: MakeRepo) -> None:
    repo = _repo(
        make_repo, {"services/api/serverless.yml": SLS + "custom:\n  n: .nan\n  i: -.inf\n"}
    )
    proc = shipway("print", "api", "--env", "dev", "--format", "json", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert '"n": null' in proc.stdout and '"i": null' in proc.stdout


def test_a_nul_byte_in_dotenv_is_exit_2_at_validate(make_repo: MakeRepo) -> None:
    repo = _repo(make_repo, {".env.dev": "OK=1\nBAD=a\0b\n"})
    _fails(shipway("validate", repo=repo), ".env.dev:2: `BAD`: a NUL byte")


@pytest.mark.parametrize("tag", ["!!float nope", "!!int x", "!!timestamp nope", "!!bool maybe"])
def test_bad_tags_are_exit_2(make_repo: MakeRepo, tag: str) -> None:
    repo = _repo(make_repo, {"services/api/serverless.yml": SLS + f"custom:\n  x: {tag}\n"})
    _fails(shipway("validate", repo=repo), "services/api/serverless.yml:9:", "is not a valid")
