"""Layers on the local target, end to end: a real repository, `App.run`, real builds, the
gateway over real HTTP. The handler imports modules that live only in layers: its own
service's (one the build filled) and a sibling service's (named by `${cf:…}`). The
sibling has no functions, and a third service holds resources only."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipway.app import App
from shipway.model import RunState
from shipway.web.serve import GatewayServer
from tests.conftest import commit_all, git, write_files

EXTERNAL = "arn:aws:lambda:us-east-1:123456789012:layer:someone-elses:4"

FILES = {
    "shipway.yml": (
        "project: layered\nbuild: {sandbox: off}\n"
        "environments:\n  dev: {branch: dev, target: local}\n"
    ),
    "services/base/serverless.yml": (
        "service: base\nprovider: {name: aws, runtime: python3.11}\n"
        "layers:\n  shared:\n    path: layer\n    name: base-shared\n"
    ),
    "services/base/layer/python/shared_lib.py": 'WHO = "sibling layer"\n',
    "services/tables/serverless.yml": (
        "service: tables\nprovider: {name: aws, runtime: python3.11}\n"
        "resources:\n  Resources:\n    Jobs:\n      Type: AWS::SQS::Queue\n"
    ),
    "services/api/serverless.yml": """\
service: api
provider: {name: aws, runtime: python3.11}
layers:
  deps:
    path: deps
functions:
  hello:
    handler: app.hello
    layers:
      - Ref: DepsLambdaLayer
      - ${cf:base-dev.SharedLambdaLayerQualifiedArn}
    events:
      - http: GET /hello
  bare:
    handler: app.bare
    layers:
      - EXTERNAL_ARN
    events:
      - http: GET /bare
""".replace("EXTERNAL_ARN", EXTERNAL),
    "services/api/buildspec.yml": (
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - mkdir -p deps/python\n"
        "      - echo 'BUILT = \"by the build\"' > deps/python/built_mod.py\n"
    ),
    "services/api/deps/python/lib/python3.11/site-packages/sitepkg.py": 'WHERE = "site"\n',
    "services/api/app.py": """\
import json

def hello(event, context):
    import built_mod, shared_lib, sitepkg
    return {"statusCode": 200, "body": json.dumps(
        {"own": built_mod.BUILT, "sibling": shared_lib.WHO, "site": sitepkg.WHERE})}

def bare(event, context):
    try:
        import built_mod  # noqa: F401 - not one of this function's layers
    except ImportError as exc:
        return {"statusCode": 200, "body": f"no layer: {exc.name}"}
    return {"statusCode": 500, "body": "saw a layer it does not use"}
""",
}


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.fixture
def served(make_repo: Callable[..., Path]) -> Iterator[tuple[Path, App, int]]:
    repo = make_repo(FILES)
    git(repo, "checkout", "-q", "dev")
    app = App(repo)
    outcome = app.run("dev")
    assert outcome.run.state is RunState.SUCCEEDED, outcome.run.error
    server = GatewayServer(repo / ".shipway", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        try:
            if _get(server.port, "/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.02)
    yield repo, app, server.port
    server.stop()
    thread.join(10)


def test_a_handler_imports_its_own_and_a_sibling_services_layer(
    served: tuple[Path, App, int],
) -> None:
    repo, _, port = served
    status, body = _get(port, "/dev/api/hello")
    assert status == 200, body
    assert json.loads(body) == {"own": "by the build", "sibling": "sibling layer", "site": "site"}
    # a function without those layers does not see them
    assert _get(port, "/dev/api/bare") == (200, "no layer: built_mod")
    manifest = json.loads((repo / ".shipway/envs/dev/current/release.json").read_text())
    services = manifest["services"]
    assert services["tables"]["functions"] == {} and services["base"]["functions"] == {}
    assert set(services["base"]["layers"]) == {"shared"}
    assert services["api"]["functions"]["hello"]["layers"] == ["api/deps", "base/shared"]


def test_a_changed_sibling_layer_reaches_the_function(served: tuple[Path, App, int]) -> None:
    repo, app, port = served
    assert _get(port, "/dev/api/hello")[0] == 200  # a warm worker with the old layer
    write_files(repo, {"services/base/layer/python/shared_lib.py": 'WHO = "new sibling"\n'})
    commit_all(repo, "the sibling's layer changes")
    outcome = app.run("dev")
    assert outcome.run.state is RunState.SUCCEEDED, outcome.run.error
    status, body = _get(port, "/dev/api/hello")
    assert status == 200 and json.loads(body)["sibling"] == "new sibling"


def test_validate_and_run_warn_about_a_layer_the_local_runtime_cannot_provide(
    served: tuple[Path, App, int],
) -> None:
    _, app, _ = served
    summaries = {s.name: s for s in app.validate()}
    (warning,) = [w for w in summaries["api"].warnings if "layer" in w]
    assert EXTERNAL in warning and "function `bare`" in warning
    assert "cannot provide it" in warning and "fails to import" in warning
    jobs = [j for j in app.store.jobs(app.store.runs(env="dev")[0].id) if j.service == "api"]
    (deploy,) = [j for j in jobs if j.stage.value == "deploy"]
    assert EXTERNAL in str(deploy.detail["message"])  # `run` says the same
    assert "cannot provide it" in str(deploy.detail["message"])
