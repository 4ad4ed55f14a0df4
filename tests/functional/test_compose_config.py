"""serverless-compose.yml read as Compose v3 reads it: the services it lists become
Shipway's (or add to shipway.yml's), `dependsOn` orders them, its params reach
`${param:}`; each bad file is an error naming the file, line and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shipway.config.compose import read_compose
from shipway.config.project import load_project
from shipway.errors import ConfigErrors, ShipwayError
from shipway.model import LocalTarget
from shipway.pipeline.plan import load_definition, service_env
from tests.conftest import CORPUS, write_files

SHIPWAY = "project: shop\nenvironments:\n  dev:\n    branch: dev\n"


def sls(name: str, env: str = "") -> str:
    return (
        f"service: {name}\nprovider:\n  name: aws\n  runtime: python3.12\n"
        + (f"  environment:\n{env}" if env else "")
        + "functions:\n  f:\n    handler: h.f\n"
    )


def shop(compose: str, shipway: str = SHIPWAY, **extra: str) -> dict[str, str]:
    files = {
        "shipway.yml": shipway,
        "serverless-compose.yml": compose,
        "database/serverless.yml": sls("shop-db"),
        "api/serverless-api.yml": sls("shop-api", "    TABLE: ${param:tableName}\n"),
        "web/serverless.yml": sls("shop-web"),
    }
    files.update(extra)
    return files


COMPOSE = """\
services:
  web:
    path: web
    dependsOn: api
  api:
    path: ./api/
    config: serverless-api.yml
    params:
      tableName: ${database.TableName}
      prefix: shop-${sls:stage}
  database:
    path: database
"""


def errors_of(root: Path) -> list[ShipwayError]:
    with pytest.raises(ConfigErrors) as caught:
        load_project(root)
    return caught.value.errors


def test_services_default_to_composes_in_dependency_order(tmp_path: Path) -> None:
    write_files(tmp_path, shop(COMPOSE))
    project = load_project(tmp_path)
    assert [s.name for s in project.services] == ["shop-db", "shop-api", "shop-web"]
    by = {s.name: s for s in project.services}
    # `${database.TableName}` makes `database` a dependency, as Compose reads it
    assert by["shop-api"].depends_on == ("shop-db",)
    assert by["shop-web"].depends_on == ("shop-api",)
    assert (by["shop-api"].path, by["shop-api"].config_file) == ("api", "serverless-api.yml")
    assert by["shop-api"].config_path == "api/serverless-api.yml"
    # the sibling's output is read as its stack's, `<service>-<stage>`
    assert dict(by["shop-api"].params) == {
        "tableName": "${cf:shop-db-${sls:stage}.TableName}",
        "prefix": "shop-${sls:stage}",
    }


def test_shipway_yml_services_take_composes_depends_on_and_params(tmp_path: Path) -> None:
    listed = SHIPWAY.replace(
        "environments:",
        "services:\n  - database\n  - web\n  - path: api\n    config: serverless-api.yml\n"
        "environments:",
    )
    write_files(tmp_path, shop(COMPOSE, listed))
    by = {s.name: s for s in load_project(tmp_path).services}
    assert by["shop-web"].depends_on == ("shop-api",)
    assert by["shop-api"].depends_on == ("shop-db",)
    assert dict(by["shop-api"].params)["prefix"] == "shop-${sls:stage}"


def test_a_compose_service_shipway_yml_does_not_list_is_an_error(tmp_path: Path) -> None:
    listed = SHIPWAY.replace(
        "environments:",
        "services:\n  - web\n  - path: api\n    config: serverless-api.yml\nenvironments:",
    )
    write_files(tmp_path, shop(COMPOSE, listed))
    (error,) = errors_of(tmp_path)
    assert (error.where.file, error.where.line, error.where.key) == (
        "serverless-compose.yml",
        11,
        "services.database",
    )
    assert "Compose service `database` (`database`) is not one of shipway.yml's" in error.message
    assert error.hint and "remove `services:`" in error.hint


def test_config_conflict_between_the_two_files_is_an_error(tmp_path: Path) -> None:
    listed = SHIPWAY.replace(
        "environments:", "services:\n  - database\n  - web\n  - api\nenvironments:"
    )
    files = shop(COMPOSE, listed, **{"api/serverless.yml": sls("shop-api2")})
    write_files(tmp_path, files)
    (error,) = errors_of(tmp_path)
    assert (error.where.line, error.where.key) == (7, "services.api.config")
    assert "Compose reads `api/serverless-api.yml`, shipway.yml `api/serverless.yml`" in str(error)


BAD = [
    (
        "services:\n  a:\n    path: ../outside\n",
        3,
        "services.a.path",
        "leads outside the repository",
    ),
    ("services:\n  a:\n    path: /etc\n", 3, "services.a.path", "leads outside the repository"),
    ("services:\n  a:\n    path: nowhere\n", 3, "services.a.path", "is not a folder"),
    ("services:\n  a:\n    path: empty\n", 3, "services.a.path", "`empty` has no serverless.yml"),
    ("services:\n  a:\n    path: .\n", 3, "services.a.path", "the repository's root"),
    ("services:\n  a:\n    config: x.yml\n", 2, "services.a", "needs a `path`"),
    (
        "services:\n  a:\n    path: one\n    dependsOn:\n      - b\n      - nope\n  b:\n"
        "    path: two\n",
        6,
        "services.a.dependsOn[1]",
        "`dependsOn` names `nope`, which is not a service here",
    ),
    (
        "services:\n  a:\n    path: one\n    params:\n      x: ${ghost.Url}\n",
        5,
        "services.a.params.x",
        "names `ghost`, which is not a service here",
    ),
    (
        "services:\n  a:\n    path: one\n    dependsOn: b\n  b:\n    path: two\n"
        "    params:\n      u: ${a.Url}\n",
        4,
        "services.a.dependsOn",
        "in a cycle: a -> b -> a",
    ),
    (
        "services:\n  a:\n    path: one\n    region: eu-west-1\n",
        4,
        "services.a.region",
        "not supported",
    ),
    (
        "services:\n  a:\n    path: one\n    cachePatterns: [x]\n",
        4,
        "services.a.cachePatterns",
        "unknown key",
    ),
    (
        "provider:\n  name: aws\nservices:\n  a:\n    path: one\n",
        1,
        "provider",
        "serverless.yml setting",
    ),
    ("state: {backend: s3}\nservices:\n  a:\n    path: one\n", 1, "state", "remote `state`"),
    (
        "services:\n  a:\n    path: one\n    params:\n      s: ${opt:stage}\n",
        5,
        "services.a.params.s",
        "does not resolve the `opt` source",
    ),
    (
        "services:\n  a:\n    path: one\n    params:\n      s: ${self:stage}\n",
        5,
        "services.a.params.s",
        "does not resolve the `self` source",
    ),
    (
        "services:\n  a:\n    path: one\n    params:\n      s: {x: 1}\n",
        5,
        "services.a.params.s",
        "a text, not a mapping",
    ),
    (
        "services:\n  a:\n    path: one\n    config: serverless.json\n",
        4,
        "services.a.config",
        "is not YAML",
    ),
    (
        "services:\n  a:\n    path: one\n  b:\n    path: one/\n",
        5,
        "services.b.path",
        "also the path of service `a`",
    ),
    ("services: []\n", 1, "services", "must be a mapping of services"),
    ("stage: dev\nservices:\n  a:\n    path: one\n", 1, "stage", "the stage is the environment's"),
]


@pytest.mark.parametrize(("compose", "line", "key", "message"), BAD)
def test_bad_compose_files_name_the_line_and_key(
    tmp_path: Path, compose: str, line: int, key: str, message: str
) -> None:
    write_files(
        tmp_path,
        {
            "shipway.yml": SHIPWAY,
            "serverless-compose.yml": compose,
            "one/serverless.yml": sls("one"),
            "two/serverless.yml": sls("two"),
            "empty/readme.txt": "no service here\n",
        },
    )
    errors = errors_of(tmp_path)
    found = [e for e in errors if e.where and e.where.key == key]
    assert found, [str(e) for e in errors]
    assert found[0].where is not None and found[0].where.file == "serverless-compose.yml"
    assert found[0].where.line == line and message in found[0].message, str(found[0])


def test_code_compose_files_are_refused_and_json_is_read(tmp_path: Path) -> None:
    write_files(tmp_path, {"serverless-compose.ts": "export default {}\n"})
    with pytest.raises(ShipwayError) as caught:
        read_compose(tmp_path)
    assert "`serverless-compose.ts` is code" in str(caught.value)
    write_files(
        tmp_path,
        {
            "serverless-compose.json": '{"services": {"a": {"path": "one"}}}',
            "one/serverless.yml": sls("one"),
        },
    )
    compose = read_compose(tmp_path)  # .json comes before .ts in Compose's order
    assert compose is not None and [s.path for s in compose.services] == ["one"]


def test_params_reach_param_variables_under_the_environments_own(tmp_path: Path) -> None:
    compose = COMPOSE.replace("${database.TableName}", "orders-${sls:stage}")
    env_params = SHIPWAY + "    params:\n      other: 1\n"
    # Compose's `--param` comes before the service file's own `params:`, as in the Framework
    api_file = sls("shop-api", "    TABLE: ${param:tableName}\n") + (
        "params:\n  dev:\n    tableName: from-file\n  default:\n    tableName: default\n"
    )
    write_files(tmp_path, shop(compose, env_params, **{"api/serverless-api.yml": api_file}))
    project = load_project(tmp_path)
    env = project.environments["dev"]
    api = next(s for s in project.services if s.name == "shop-api")
    definition = load_definition(tmp_path, env, api, service_env(tmp_path, env, api))
    assert definition.functions[0].environment["TABLE"] == "orders-dev"
    # the environment's params win: they may stand in for what Compose gives
    overriding = SHIPWAY + "    params:\n      tableName: fixed\n"
    write_files(tmp_path, {"shipway.yml": overriding})
    project = load_project(tmp_path)
    env = project.environments["dev"]
    definition = load_definition(tmp_path, env, api, service_env(tmp_path, env, api))
    assert definition.functions[0].environment["TABLE"] == "fixed"


def test_a_sibling_output_on_the_local_target_says_what_is_needed(tmp_path: Path) -> None:
    write_files(tmp_path, shop(COMPOSE))
    project = load_project(tmp_path)
    env = project.environments["dev"]
    assert isinstance(env.target, LocalTarget)
    api = next(s for s in project.services if s.name == "shop-api")
    with pytest.raises(ConfigErrors) as caught:
        load_definition(tmp_path, env, api, service_env(tmp_path, env, api))
    (error,) = caught.value.errors
    assert error.where is not None
    assert (error.where.file, error.where.line, error.where.key) == (
        "serverless-compose.yml",
        9,
        "services.api.params.tableName",
    )
    assert "reads output `TableName` of service `database`'s stack" in error.message
    assert "local target, which has no stack outputs" in error.message
    assert error.hint and "environments.dev.params.tableName" in error.hint


# --------------------------------------------------------------------------- the corpus

MONOREPOS = CORPUS / "monorepos"


@pytest.mark.skipif(not MONOREPOS.is_dir(), reason="corpus absent")
def test_the_corpus_compose_files(tmp_path: Path) -> None:
    files = sorted(MONOREPOS.glob("*/serverless-compose.yml"))
    assert len(files) >= 5
    read = {}
    for path in files:
        try:
            compose = read_compose(path.parent)
        except ConfigErrors as exc:
            # refused only for what Compose v3 refuses too, each naming its line and key
            for e in exc.errors:
                assert e.where is not None and e.where.line and e.where.key, str(e)
                assert e.where.key == "stage" or "`self` source" in e.message, str(e)
            continue
        assert compose is not None
        read[path.parent.name] = compose
    assert len(read) >= 5
    example = read["serverless__compose-example"].by_key()
    assert example["producer"].depends_on == ("resources",)
    mcr = read["Enterprise-CMCS__macpro-mdct-mcr"].by_key()
    assert set(mcr["ui-src"].depends_on) == {"app-api", "ui-auth", "ui"}
    sfoe = read["SFOE__EnergyDashboard-Backend"].by_key()
    assert sfoe["service-energy-dashboard-api"].config == "serverless-api.yml"

    # a repository that keeps Compose as its service list: its services, in order
    repo = tmp_path / "example"
    shutil.copytree(MONOREPOS / "serverless__compose-example", repo, symlinks=True)
    (repo / "shipway.yml").write_text(SHIPWAY)
    names = [s.name for s in load_project(repo).services]
    assert names[0] == "components-example-resources" and len(names) == 3


def test_env_variables_in_params_see_the_dotenv_layers(tmp_path: Path) -> None:
    compose = COMPOSE.replace("${database.TableName}", "${env:SHOP_TABLE}-${sls:stage}")
    write_files(tmp_path, shop(compose, **{".env": "SHOP_TABLE=from-dotenv\n"}))
    project = load_project(tmp_path)
    env = project.environments["dev"]
    api = next(s for s in project.services if s.name == "shop-api")
    definition = load_definition(tmp_path, env, api, service_env(tmp_path, env, api))
    assert definition.functions[0].environment["TABLE"] == "from-dotenv-dev"
    # a variable Compose names but nothing sets: the error names Compose's key
    write_files(tmp_path, {".env": "OTHER=1\n"})
    with pytest.raises(ConfigErrors) as caught:
        load_definition(tmp_path, env, api, service_env(tmp_path, env, api))
    (error,) = caught.value.errors
    assert error.where is not None
    assert (error.where.file, error.where.key) == (
        "serverless-compose.yml",
        "services.api.params.tableName",
    )
    assert error.where.line == 9 and "SHOP_TABLE" in error.message


def test_a_sibling_that_does_not_load_leaves_one_error_not_a_crash(tmp_path: Path) -> None:
    compose = (
        "services:\n  a:\n    path: x/../one\n    params:\n      u: ${b.Url}\n  b:\n    path: two\n"
    )
    write_files(
        tmp_path,
        {
            "shipway.yml": SHIPWAY,
            "serverless-compose.yml": compose,
            "one/serverless.yml": sls("one"),
            "two/serverless.yml": sls("two").replace("service: two", "service: 2bad"),
        },
    )
    (error,) = errors_of(tmp_path)
    assert error.where is not None
    assert (error.where.file, error.where.key) == ("two/serverless.yml", "service")
    assert "is not valid" in error.message
