"""A repository that keeps serverless-compose.yml: `shipway init` writes shipway.yml from
it, a run on the local target deploys in Compose's order with its params, and a param of
a sibling's output is read on the local AWS emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import commit_all, git
from tests.integration.cli import serving, shipway

HANDLER = (
    "import os\n\ndef f(event, context):\n"
    "    return {'table': os.environ.get('TABLE'), 'stage': os.environ.get('STAGE')}\n"
)


def service(name: str, env: str = "") -> str:
    return (
        f"service: {name}\nprovider:\n  name: aws\n  runtime: python3.12\n"
        + (f"  environment:\n{env}" if env else "")
        + "functions:\n  f:\n    handler: h.f\n"
    )


COMPOSE = """\
services:
  web:
    path: apps/web
    dependsOn: api
  api:
    path: apps/api
    config: serverless.api.yml
    dependsOn:
      - db
    params:
      table: orders-${sls:stage}
  db:
    path: apps/db
"""

FILES = {
    "serverless-compose.yml": COMPOSE,
    # alphabetical order (api, db, web) is not the deploy order (db, api, web)
    "apps/db/serverless.yml": service("db"),
    "apps/db/h.py": HANDLER,
    "apps/api/serverless.api.yml": service(
        "api", "    TABLE: ${param:table}\n    STAGE: ${sls:stage}\n"
    ),
    "apps/api/h.py": HANDLER,
    "apps/web/serverless.yml": service("web"),
    "apps/web/h.py": HANDLER,
}


def test_init_from_compose_then_a_local_run_in_its_order(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(FILES)
    proc = shipway("init", repo=repo)
    assert proc.returncode == 0, proc.stderr
    text = (repo / "shipway.yml").read_text()
    assert (
        "services:\n"
        "  - path: apps/db\n"
        "  - path: apps/api\n"
        "    config: serverless.api.yml\n"
        "    depends_on: [db]\n"
        "  - path: apps/web\n"
        "    depends_on: [api]\n"
    ) in text
    checked = shipway("validate", repo=repo)
    assert checked.returncode == 0, checked.stderr
    rows = [line.split() for line in checked.stdout.splitlines()]
    assert [r[0] for r in rows] == ["db", "api", "web"]
    assert rows[1][-1] == "db" and rows[2][-1] == "api"  # depends on

    commit_all(repo, "shipway.yml from Compose")
    git(repo, "branch", "-f", "dev", "main")
    run = shipway("run", "dev", "--json", repo=repo)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["state"] == "succeeded"
    record = json.loads((repo / ".shipway/records/dev/1/record.json").read_text())
    assert [(s["name"], s["depends_on"]) for s in record["services"]] == [
        ("db", []),
        ("api", ["db"]),
        ("web", ["api"]),
    ]
    # Compose's param, resolved for the stage, reached the function
    called = shipway("invoke", "api.f", "--env", "dev", repo=repo)
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout) == {"table": "orders-dev", "stage": "dev"}


def test_compose_alone_is_the_service_list(make_repo: Callable[..., Path]) -> None:
    shipway_yml = "project: shop\nenvironments:\n  dev:\n    branch: dev\n"
    repo = make_repo({**FILES, "shipway.yml": shipway_yml})
    checked = shipway("validate", repo=repo)
    assert checked.returncode == 0, checked.stderr
    assert [line.split()[0] for line in checked.stdout.splitlines()] == ["db", "api", "web"]


def test_a_sibling_output_param_is_read_on_the_local_emulator(
    make_repo: Callable[..., Path],
) -> None:
    """Compose's `${db.TableName}`: `validate` needs no AWS for it, and the function gets
    the table's name on the local AWS emulator."""
    compose = COMPOSE.replace("orders-${sls:stage}", "${db.TableName}")
    table = (
        "resources:\n  Resources:\n    Orders:\n      Type: AWS::DynamoDB::Table\n"
        "      Properties:\n        AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n"
        "        KeySchema: [{AttributeName: id, KeyType: HASH}]\n"
        "        BillingMode: PAY_PER_REQUEST\n"
        "  Outputs:\n    TableName: {Value: {Ref: Orders}}\n"
    )
    shipway_yml = "project: shop\nenvironments:\n  dev:\n    branch: dev\n"
    repo = make_repo(
        {
            **FILES,
            "serverless-compose.yml": compose,
            "shipway.yml": shipway_yml,
            "apps/db/serverless.yml": service("db") + table,
        }
    )
    checked = shipway("validate", repo=repo)
    assert checked.returncode == 0, checked.stderr
    git(repo, "branch", "-f", "dev", "main")
    with serving(repo):
        run = shipway("run", "dev", repo=repo)
        assert run.returncode == 0, run.stderr
        called = shipway("invoke", "api.f", "--env", "dev", repo=repo)
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout)["table"].startswith("db-dev-Orders-")
