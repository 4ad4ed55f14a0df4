"""`shipway invoke --data`: any event text is a clear answer, bounded in size and nesting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipway.cli.main import parse_event
from shipway.errors import ShipwayError
from tests.integration.cli import one_service_files, shipway, shipway_json

BUILD = (
    "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n"
    "artifacts:\n  files: [handler.py]\n"
)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import commit_all, git, write_files

    repo = tmp_path_factory.mktemp("invoke") / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    files = one_service_files(BUILD, "echo")
    files["services/echo/handler.py"] = "def f(event, context):\n    return event\n"
    write_files(repo, files)
    commit_all(repo, "echo")
    git(repo, "branch", "dev")
    assert shipway_json("run", "dev", repo=repo)["state"] == "succeeded"
    return repo


def test_a_real_event_reaches_the_function(deployed: Path) -> None:
    event = {"a": [1, {"b": "c"}], "nested": [[[["ok"]]]]}
    proc = shipway("invoke", "f", "--env", "dev", "--data", json.dumps(event), repo=deployed)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == event


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("[" * 60_000 + "]" * 60_000, "--data nests 60000 levels deep"),
        ('{"a":' * 5_000 + "1" + "}" * 5_000, "--data nests 5000 levels deep"),
        ("[" * 101 + "]" * 101, "an event may nest at most 100"),
        ("NaN", "--data is not valid JSON"),
        ("1e99999", "--data is not valid JSON"),
        ('"\\ud800"', "--data is not valid JSON"),
        ("{bad", "--data is not valid JSON"),
    ],
    ids=["deep-list", "deep-object", "101-levels", "nan", "huge-number", "surrogate", "bad"],
)
def test_hostile_events_are_refused(deployed: Path, data: str, message: str) -> None:
    proc = shipway("invoke", "f", "--env", "dev", "--data", data, repo=deployed)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and message in proc.stderr


def test_an_event_is_bounded_in_size() -> None:
    # more than a command line holds: an event this large comes from a file or the API
    with pytest.raises(ShipwayError, match="an event is at most 6291456 bytes"):
        parse_event('"' + "x" * (6 * 1024 * 1024) + '"')
    assert parse_event('"' + "x" * (1024 * 1024) + '"') == "x" * (1024 * 1024)
