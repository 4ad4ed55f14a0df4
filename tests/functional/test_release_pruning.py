"""Releases kept per environment: after 25 releases with the default `releases.keep` (20)
the 20 newest are left, the current one serves, and a service unchanged since release 1
(whose code every later release runs from release 1's folder) still works."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from shipway.app import App
from shipway.model import RunState
from shipway.targets.local.releases import MANIFEST_FILE, ReleaseStore
from tests.conftest import commit_all, git

SHIPWAY_YML = """\
project: prune
build: {sandbox: off}
environments:
  dev: {branch: dev}   # keeps the default 20 releases
"""


def _service(name: str, answer: str) -> dict[str, str]:
    return {
        f"services/{name}/serverless.yml": (
            f"service: {name}\nprovider:\n  name: aws\n  runtime: python3.12\n"
            "functions:\n  f:\n    handler: handler.f\n"
        ),
        f"services/{name}/handler.py": f"def f(event, context):\n    return {answer!r}\n",
    }


def test_25_releases_leave_the_newest_20_and_every_service_still_runs(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(
        {"shipway.yml": SHIPWAY_YML, **_service("steady", "steady"), **_service("busy", "v1")},
        branches=(),
    )
    git(repo, "checkout", "-q", "-b", "dev")
    app = App(repo)
    for n in range(1, 26):
        if n > 1:
            handler = repo / "services/busy/handler.py"
            handler.write_text(f"def f(event, context):\n    return 'v{n}'\n")
            commit_all(repo, f"busy v{n}")
        outcome = app.run("dev")
        assert outcome.run.state == RunState.SUCCEEDED and outcome.run.release == n

    releases = app.store.releases("dev", limit=100)
    assert [r.number for r in releases] == list(range(25, 5, -1))
    gone = app.store.release("dev", 3)
    assert gone is not None and gone[1] == "pruned"
    store = ReleaseStore(app.paths.home, "dev")
    whole = [n for n in store.numbers() if (store.path(n) / MANIFEST_FILE).is_file()]
    assert whole == list(range(6, 26))
    # release 1's folder is no release any more, but holds what every release runs `steady` from
    assert sorted(p.name for p in store.path(1).iterdir()) == ["steady"]
    assert not store.path(2).exists()

    assert app.invoke("busy.f", "dev", {}) == (True, "v25")
    assert app.invoke("steady.f", "dev", {}) == (True, "steady")
    status = app.status("dev")["dev"]
    assert status["release"] == 25
    assert [r.release for r in app.runs("dev", limit=30)] == list(range(25, 0, -1))


def test_releases_keep_from_shipway_yml(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        {
            "shipway.yml": SHIPWAY_YML.replace("build:", "releases: {keep: 2}\nbuild:"),
            **_service("busy", "v1"),
        },
        branches=(),
    )
    git(repo, "checkout", "-q", "-b", "dev")
    app = App(repo)
    for n in range(1, 5):
        (repo / "services/busy/handler.py").write_text(f"def f(e, c):\n    return 'v{n}'\n")
        commit_all(repo, f"v{n}")
        assert app.run("dev").run.release == n
    assert [r.number for r in app.store.releases("dev")] == [4, 3]
    assert ReleaseStore(app.paths.home, "dev").numbers() == [3, 4]
    assert app.invoke("busy.f", "dev", {}) == (True, "v4")
