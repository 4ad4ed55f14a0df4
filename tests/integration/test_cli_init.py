"""`shipway init` writes a working shipway.yml and git-ignores the state."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import commit_all, git
from tests.integration.cli import shipway

SLS = (
    "service: {name}\nprovider:\n  name: aws\n  runtime: python3.11\n"
    "functions:\n  f:\n    handler: h.f\n"
)


def test_init_then_validate(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        {
            "services/alpha/serverless.yml": SLS.format(name="alpha"),
            "services/beta/serverless.yml": SLS.format(name="beta"),
            "services/alpha/h.py": "def f(e, c):\n    return 1\n",
            "services/beta/h.py": "def f(e, c):\n    return 2\n",
        }
    )
    proc = shipway("init", repo=repo)
    assert proc.returncode == 0, proc.stderr
    text = (repo / "shipway.yml").read_text()
    assert "  - services/*" in text and "branch: main" in text
    assert ".shipway/" in (repo / ".gitignore").read_text().splitlines()
    validated = shipway("validate", repo=repo)
    assert validated.returncode == 0, validated.stderr
    assert [line.split()[0] for line in validated.stdout.splitlines()] == ["alpha", "beta"]
    again = shipway("init", repo=repo)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_commands_outside_a_repository_fail_clearly(tmp_path: Path) -> None:
    proc = shipway("validate", repo=tmp_path)
    assert proc.returncode == 2
    assert "not inside a git repository" in proc.stderr and "Traceback" not in proc.stderr


def test_init_makes_a_valid_project_name_from_any_folder(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        {
            "svc/serverless.yml": SLS.format(name="alpha"),
            "svc/h.py": "def f(e, c):\n    return 1\n",
        },
        name="Acme__Serverless_Enterprise-Boilerplate-For-Python-Services",
    )
    assert shipway("init", repo=repo).returncode == 0
    first = (repo / "shipway.yml").read_text().splitlines()[0]
    assert first == "project: acme-serverless-enterprise-boilerplate-f"
    proc = shipway("validate", repo=repo)
    assert proc.returncode == 0, proc.stderr


def test_a_one_service_repository_runs_from_its_root(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        {
            "serverless.yml": SLS.format(name="solo"),
            "h.py": "def f(e, c):\n    return {'solo': True}\n",
        }
    )
    assert shipway("init", repo=repo).returncode == 0
    assert "  - .\n" in (repo / "shipway.yml").read_text()
    proc = shipway("run", "dev", repo=repo)
    assert proc.returncode == 2 and "has no shipway.yml" in proc.stderr  # not committed yet
    commit_all(repo, "shipway.yml")
    git(repo, "branch", "-f", "dev")
    assert shipway("run", "dev", repo=repo).returncode == 0
    out = shipway("invoke", "f", "--env", "dev", repo=repo)
    assert out.returncode == 0 and '"solo": true' in out.stdout


def test_no_service_at_all_is_an_error(make_repo: Callable[..., Path]) -> None:
    repo = make_repo({"shipway.yml": "project: empty\nenvironments:\n  dev:\n    branch: dev\n"})
    proc = shipway("validate", repo=repo)
    assert proc.returncode == 2
    assert "no service found: `services/*` match no folder with a serverless.yml" in proc.stderr


def test_a_broken_shipway_yml_still_gets_its_root_service_checked(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(
        {
            "shipway.yml": "project: solo\nservices: [.]\nbuild: {concurency: 2}\n"
            "environments:\n  dev: {branch: dev}\n",
            "serverless.yml": SLS.format(name="solo") + "custom:\n  x: ${self:custom.nope}\n",
            "h.py": "def f(e, c):\n    return 1\n",
        }
    )
    proc = shipway("validate", repo=repo)
    assert proc.returncode == 2
    assert "unknown key `concurency`" in proc.stderr
    assert "custom.x" in proc.stderr  # the root service was checked in the same pass
