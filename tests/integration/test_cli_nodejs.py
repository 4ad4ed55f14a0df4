"""A Node.js monorepo through the CLI as a user runs it: `validate` says what the local runtime
cannot run before any request, and `shipway run` builds (npm, esbuild) and deploys Node.js
services that `shipway invoke` then runs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from shipway.build import esbuild
from tests.conftest import commit_all, git
from tests.functional.test_build_node import node_project
from tests.integration.cli import shipway

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node/npm not installed"
)

SHIPWAY_YML = "project: shop\nenvironments:\n  dev:\n    branch: dev\n    target: local\n"


def sls(name: str, runtime: str, functions: str, extra: str = "") -> str:
    return (
        f"service: {name}\nframeworkVersion: '3'\n{extra}"
        f"provider:\n  name: aws\n  runtime: {runtime}\nfunctions:\n{functions}"
    )


def test_validate_warns_about_runtimes_the_local_runtime_cannot_run(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(
        {
            "shipway.yml": SHIPWAY_YML,
            "services/billing/serverless.yml": sls(
                "billing",
                "java17",
                "  charge:\n    handler: com.shop.Charge::handle\n"
                "  refund:\n    handler: com.shop.Refund::handle\n"
                "  edge:\n    handler: bootstrap\n    runtime: provided.al2\n",
            ),
            "services/web/serverless.yml": sls("web", "python3.11", "  home:\n    handler: h.f\n"),
        }
    )
    proc = shipway("validate", repo=repo)
    assert proc.returncode == 0, proc.stderr
    assert (
        "warning: services/billing/serverless.yml: the local runtime cannot run java17: only "
        "python3.x and nodejs functions run locally (their requests would fail) "
        "(functions `charge`, `refund`)"
    ) in proc.stderr
    assert "the local runtime cannot run provided.al2" in proc.stderr
    assert "services/web" not in proc.stderr


def test_validate_names_an_unsupported_custom_esbuild_key(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        {
            "shipway.yml": SHIPWAY_YML,
            "services/api/serverless.yml": sls(
                "api",
                "nodejs18.x",
                "  hello:\n    handler: src/handler.main\n",
                "plugins:\n  - serverless-esbuild\ncustom:\n  esbuild:\n    bundle: true\n"
                "    plugins: ./esbuild-plugins.js\n",
            ),
            "services/api/src/handler.ts": "export const main = async () => 1;\n",
        }
    )
    proc = shipway("validate", repo=repo)
    assert proc.returncode == 2
    assert (
        "error: services/api/serverless.yml:8: `custom.esbuild.plugins`: this setting is not "
        "supported by Shipway's esbuild build"
    ) in proc.stderr


@needs_node
def test_run_builds_and_deploys_node_services_that_invoke_then_runs(
    make_repo: Callable[..., Path],
) -> None:
    if esbuild.find_esbuild(Path("/nonexistent")) is None:
        pytest.skip(f"esbuild is not installed (CI sets {esbuild.ENV_VAR}): {esbuild.INSTALL_HINT}")
    repo = make_repo(
        {
            "shipway.yml": SHIPWAY_YML,
            ".gitignore": ".shipway/\nnode_modules/\n",
            "services/orders/serverless.yml": sls(
                "orders",
                "nodejs18.x",
                "  list:\n    handler: handlers/orders.list\n"
                "    events:\n      - httpApi: GET /orders\n",
            ),
            "services/orders/handlers/orders.js": (
                "const greet = require('greet');\n"
                "module.exports.list = async (event, context) => ({\n"
                "  statusCode: 200, body: greet(context.functionName),\n"
                "});\n"
            ),
            "services/typed/serverless.yml": sls(
                "typed",
                "nodejs20.x",
                "  total:\n    handler: src/total.main\n",
                "plugins:\n  - serverless-esbuild\n",
            ),
            "services/typed/src/total.ts": (
                "type Line = { price: number; qty: number };\n"
                "export const main = async (event: { lines: Line[] }) =>\n"
                "  ({ total: event.lines.reduce(\n"
                "    (s: number, l: Line) => s + l.price * l.qty, 0) });\n"
            ),
        },
        branches=(),
    )
    node_project(repo / "services" / "orders")
    commit_all(repo, "a local npm dependency, pinned by its lockfile")
    git(repo, "branch", "dev")
    proc = shipway("run", "dev", "--json", repo=repo, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = json.loads(proc.stdout)
    assert run["state"] == "succeeded"
    out = shipway("invoke", "orders.list", "--env", "dev", repo=repo)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"statusCode": 200, "body": "hello orders-dev-list"}
    payload = json.dumps({"lines": [{"price": 2.5, "qty": 4}, {"price": 1, "qty": 3}]})
    out = shipway("invoke", "typed.total", "--env", "dev", "--data", payload, repo=repo)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"total": 13}
