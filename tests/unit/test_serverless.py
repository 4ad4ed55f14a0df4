"""serverless.yml -> ServiceDefinition: the checks, on real files."""

from __future__ import annotations

import glob
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from shipway.config.serverless import find_config, load_service, read_service_name
from shipway.config.variables import SourceCall
from shipway.errors import ConfigErrors, ShipwayError
from shipway.model import Event, HttpRoute, ServiceDefinition
from tests.conftest import CORPUS as SHARED_CORPUS

DISPLAY = "services/accounts/serverless.yml"


def write(tmp_path: Path, text: str, name: str = "serverless.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return tmp_path


def load(tmp_path: Path, text: str, **kw: Any) -> ServiceDefinition:
    write(tmp_path, text)
    kw.setdefault("stage", "dev")
    kw.setdefault("env", {})
    kw.setdefault("params", {})
    return load_service(tmp_path, DISPLAY, **kw)


def problems(tmp_path: Path, text: str, **kw: Any) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load(tmp_path, text, **kw)
    return [str(e) for e in info.value.errors]


GOOD = """
service: accounts
frameworkVersion: '3'
useDotenv: true
provider:
  name: aws
  runtime: python3.11
  region: ${opt:region, 'eu-west-1'}
  stage: ${opt:stage, 'dev'}
  timeout: 10
  environment:
    TABLE: accounts-${sls:stage}
    RETRIES: 3
    DEBUG: false
    REF: !Ref UsersTable
functions:
  get:
    handler: src/handlers.get
    memorySize: 256
    environment:
      TABLE: override
      LEVEL: ${param:LOG_LEVEL}
    events:
      - http: GET accounts/{id}
      - http: {path: /accounts, method: any, cors: true}
      - httpApi: "*"
      - httpApi: {method: '*', path: /items}
      - httpApi: POST /items
      - schedule: rate(1 hour)
      - sqs: {arn: arn:aws:sqs:eu-west-1:1:q}
  worker:
    handler: src/worker.run
    runtime: python3.12
    timeout: 30
package:
  patterns: ['!tests/**', 'src/**']
plugins:
  - serverless-python-requirements
"""


def test_good_service(tmp_path: Path) -> None:
    d = load(tmp_path, GOOD, stage="prod", params={"LOG_LEVEL": "info"})
    assert (d.service, d.stage, d.region, d.runtime) == (
        "accounts",
        "prod",
        "eu-west-1",
        "python3.11",
    )
    get, worker = d.functions
    assert get.name == "get" and get.handler == "src/handlers.get"
    assert (get.runtime, get.timeout, get.memory_size) == ("python3.11", 10, 256)
    assert (worker.runtime, worker.timeout, worker.memory_size) == ("python3.12", 30, 1024)
    assert get.environment == {
        "TABLE": "override",
        "RETRIES": "3",
        "DEBUG": "false",
        "REF": '{"Ref":"UsersTable"}',
        "LEVEL": "info",
    }
    assert worker.environment["TABLE"] == "accounts-prod"
    assert get.routes == (
        HttpRoute("http", "GET", "/accounts/{id}"),
        HttpRoute("http", "ANY", "/accounts"),
        HttpRoute("httpApi", "ANY", "*"),
        HttpRoute("httpApi", "ANY", "/items"),
        HttpRoute("httpApi", "POST", "/items"),
    )
    assert [e.type for e in get.events] == [
        "http",
        "http",
        "httpApi",
        "httpApi",
        "httpApi",
        "schedule",
        "sqs",
    ]
    assert get.events[5] == Event("schedule", "rate(1 hour)")
    assert d.package_patterns == ("!tests/**", "src/**")
    assert d.use_dotenv is True
    assert d.resolved["plugins"] == ("serverless-python-requirements",)
    assert d.resolved["provider"]["stage"] == "prod"
    assert d.resolved["functions"]["get"]["environment"]["LEVEL"] == "info"


def test_defaults(tmp_path: Path) -> None:
    d = load(tmp_path, "service: s\nprovider: {name: aws}\nfunctions:\n  f: {handler: h.f}\n")
    (f,) = d.functions
    assert (f.runtime, f.timeout, f.memory_size) == ("nodejs16.x", 6, 1024)
    assert d.region == "us-east-1"
    assert d.package_patterns == () and d.package_artifact is None
    assert "plugins" not in d.resolved


def test_legacy_package_include_exclude_and_artifact(tmp_path: Path) -> None:
    d = load(
        tmp_path,
        """
        service: s
        provider: {name: aws}
        package:
          exclude: [node_modules/**, tests/**]
          include: [src/**]
          artifact: dist/s.zip
        """,
    )
    assert d.package_patterns == ("!node_modules/**", "!tests/**", "src/**")
    assert d.package_artifact == "dist/s.zip"


def test_every_problem_is_reported(tmp_path: Path) -> None:
    errs = problems(
        tmp_path,
        """
        service: 9lives
        provider:
          name: google
        projectDir: ..
        functions:
          noHandler: {runtime: python3.11}
          image:
            image: 1234.dkr.ecr.eu-west-1.amazonaws.com/x:latest
          badEvent:
            handler: h.f
            timeout: soon
            events:
              - alexaSkill
              - http: GET
        """,
    )
    text = "\n".join(errs)
    assert "serverless.yml:5: `projectDir`: top-level key `projectDir` is not supported" in text
    assert "serverless.yml:2: `service`: service name `9lives` is not valid" in text
    assert "serverless.yml:4: `provider.name`: provider `google` is not supported" in text
    assert "serverless.yml:7: `functions.noHandler`: function `noHandler` needs a `handler`" in text
    assert "`functions.image.image`: container image functions are not supported" in text
    assert "`functions.badEvent.timeout`: `timeout` must be a positive whole number" in text
    assert (
        "serverless.yml:14: `functions.badEvent.events[0]`: the `alexaSkill` event is written "
        "as a bare name"
    ) in text
    assert "`functions.badEvent.events[1].http`" in text
    assert len(errs) == 8


def test_service_required_and_provider_required(tmp_path: Path) -> None:
    errs = problems(tmp_path, "functions: {}\n")
    assert any("`service` is required" in e for e in errs)
    assert any("`provider` is required" in e for e in errs)


def test_old_service_object_form(tmp_path: Path) -> None:
    d = load(tmp_path, "service: {name: old-style}\nprovider: {name: aws}\n")
    assert d.service == "old-style"


def test_resolution_errors_are_listed_with_checks(tmp_path: Path) -> None:
    errs = problems(
        tmp_path,
        """
        service: s
        provider:
          name: aws
          environment:
            DB_URL: ${ssm:/db/url}
            OTHER: ${env:NOT_SET_ANYWHERE_123}
        projectDir: ..
        """,
    )
    assert errs[0] == (
        "services/accounts/serverless.yml:6: `provider.environment.DB_URL`: `${ssm:/db/url}` "
        "needs AWS access (source `ssm`), which this target does not have"
    )
    assert "NOT_SET_ANYWHERE_123" in errs[1]
    assert "top-level key `projectDir` is not supported" in errs[2]
    assert len(errs) == 3


def test_sources_env_precedence_and_use_dotenv_false(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPWAY_T_A", "from-os")
    monkeypatch.setenv("SHIPWAY_T_B", "os-b")
    text = """
    service: s
    provider:
      name: aws
      environment:
        A: ${env:SHIPWAY_T_A}
        B: ${env:SHIPWAY_T_B}
    functions:
      f: {handler: h.f}
    """
    (f,) = load(tmp_path, text, env={"SHIPWAY_T_A": "from-dotenv"}).functions
    assert f.environment == {"A": "from-dotenv", "B": "os-b"}
    text = text.replace("service: s", "service: s\n    useDotenv: false")
    d = load(tmp_path, text, env={"SHIPWAY_T_A": "from-dotenv"})
    assert d.functions[0].environment["A"] == "from-os"
    assert d.use_dotenv is False


def test_pluggable_aws_source(tmp_path: Path) -> None:
    def ssm(call: SourceCall) -> str:
        return f"value-of-{call.address}"

    d = load(
        tmp_path,
        "service: s\nprovider:\n  name: aws\n  environment: {X: '${ssm:/a/b}'}\n"
        "functions: {f: {handler: h.f}}\n",
        sources={"ssm": ssm},
    )
    assert d.functions[0].environment == {"X": "value-of-/a/b"}


def test_find_config(tmp_path: Path) -> None:
    assert find_config(tmp_path) is None
    (tmp_path / "serverless.yaml").write_text("service: s\n")
    assert find_config(tmp_path) == tmp_path / "serverless.yaml"
    other = tmp_path / "ts"
    other.mkdir()
    (other / "serverless.ts").write_text("export default {}\n")
    with pytest.raises(ShipwayError, match=r"`serverless\.ts` is not supported"):
        find_config(other)


def test_read_service_name(tmp_path: Path) -> None:
    path = write(tmp_path, "service: plain\n") / "serverless.yml"
    assert read_service_name(path, DISPLAY) == "plain"
    write(tmp_path, "service: ${self:custom.base}-api\ncustom: {base: shop}\n")
    assert read_service_name(path, DISPLAY) == "shop-api"
    write(tmp_path, "service: {name: legacy}\n")
    assert read_service_name(path, DISPLAY) == "legacy"
    write(tmp_path, "service: x-${opt:stage}\n")
    assert read_service_name(path, DISPLAY, options={"stage": "qa"}) == "x-qa"
    write(tmp_path, "provider: {name: aws}\nservice: bad_name\n")
    with pytest.raises(ShipwayError, match=r"serverless.yml:2: `service`: service name"):
        read_service_name(path, DISPLAY)


def test_fifty_services_under_a_second(tmp_path: Path) -> None:
    dirs = []
    for i in range(50):
        d = tmp_path / f"s{i}"
        d.mkdir()
        write(d, GOOD.replace("service: accounts", f"service: svc{i}"))
        dirs.append(d)
    start = time.perf_counter()
    for d in dirs:
        load_service(d, "x/serverless.yml", stage="dev", env={}, params={"LOG_LEVEL": "x"})
    assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------- corpus

CORPUS = SHARED_CORPUS


def _stub(call: SourceCall) -> str:
    return f"stub-{call.type}-{call.address}"


STUBS = {name: _stub for name in ("ssm", "cf", "s3", "aws")}


@pytest.mark.skipif(not (CORPUS / "serverless-examples").is_dir(), reason="corpus absent")
def test_corpus_services_load() -> None:
    paths = sorted(glob.glob(str(CORPUS / "serverless-examples/aws-*/serverless.yml")))
    paths += sorted(glob.glob(str(CORPUS / "monorepos/**/serverless.yml"), recursive=True))
    loaded, loaded_offline, failures = 0, 0, []
    for raw in paths:
        path = Path(raw)
        display = str(path.relative_to(CORPUS))
        try:
            load_service(path.parent, display, stage="dev", env={}, params={})
            loaded_offline += 1
        except ShipwayError:
            pass
        try:
            load_service(path.parent, display, stage="dev", env={}, params={}, sources=STUBS)
            loaded += 1
        except ShipwayError as exc:
            errors = getattr(exc, "errors", [exc])
            failures.append(f"{display}: {len(errors)} problem(s), first: {errors[0]}")
    print(
        f"\ncorpus serverless.yml: {loaded} of {len(paths)} load with stubbed AWS sources, "
        f"{loaded_offline} with none (no env, no params)"
    )
    for line in failures:
        print("  FAIL", line)
    assert loaded >= 65
    assert loaded_offline >= 30


def test_properties_the_framework_schema_does_not_know_are_left_out(tmp_path: Path) -> None:
    d = load(
        tmp_path,
        """
        service: s
        provider: {name: aws, aliasStage: {name: x}}
        extra: 1
        functions:
          f:
            handler: h.f
            cors: true
            events:
              - carrierPigeon: {}
              - http: {path: /, method: get, bogus: 1}
        """,
    )
    assert d.unknown_keys == (
        "provider.aliasStage",
        "extra",
        "functions.f.cors",
        "functions.f.events[0].carrierPigeon",
        "functions.f.events[1].http.bogus",
    )
    assert "aliasStage" not in d.resolved["provider"] and "extra" not in d.resolved
    assert [e.type for e in d.functions[0].events] == ["http"]


def test_configvalidationmode_error_refuses_unknown_properties(tmp_path: Path) -> None:
    errs = problems(
        tmp_path,
        """
        service: s
        configValidationMode: error
        provider: {name: aws, aliasStage: {name: x}}
        """,
    )
    assert errs == [
        "services/accounts/serverless.yml:4: `provider.aliasStage`: unrecognized property "
        "`aliasStage` (the Serverless Framework's schema does not know it, and "
        "`configValidationMode` is `error`)"
    ]


def test_functions_and_resources_as_lists_are_merged_before_the_schema_check(
    tmp_path: Path,
) -> None:
    (tmp_path / "more.yml").write_text(
        "b:\n  handler: app.b\n  events:\n    - http:\n        path: x\n        method: post\n"
        "        request:\n          schema:\n            application/json: {type: object}\n"
    )
    definition = load(
        tmp_path,
        """
        service: accounts
        provider: {name: aws, runtime: python3.12}
        functions:
          - a: {handler: app.a, memorySize: 256}
          - ${file(more.yml)}
          - a: {timeout: 9}
        resources:
          - Resources: {T: {Type: AWS::SNS::Topic}}
          - Outputs: {O: {Value: x}}
        """,
    )
    functions = definition.resolved["functions"]
    assert functions["a"] == {"handler": "app.a", "memorySize": 256, "timeout": 9}  # deep merge
    assert set(definition.resolved["resources"]) == {"Resources", "Outputs"}
    # `request.schema` is not v3's (`schemas` is): a warning, as the Framework warns of it
    assert definition.unknown_keys == ("functions.b.events[0].http.request.schema",)
    assert "schema" not in functions["b"]["events"][0]["http"]["request"]


def test_a_list_of_functions_holds_only_mappings(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        service: accounts
        provider: {name: aws, runtime: python3.12}
        functions:
          - a: {handler: app.a}
          - just-a-name
        """,
    )
    assert any("`functions[1]`" in p and "must be a mapping" in p for p in found), found
