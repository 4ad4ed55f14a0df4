"""The Serverless Framework v3 variable resolver, one rule at a time (real files)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from shipway.config.variables import (
    Resolver,
    SourceCall,
    VariableSyntaxError,
    coerce_string,
    parse_variables,
)
from shipway.config.yamlsrc import parse_yaml
from shipway.errors import ConfigErrors

YML = "serverless.yml"


def resolve(
    text: str,
    tmp_path: Path,
    *,
    options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    sources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    doc = parse_yaml(text, YML)
    return Resolver(
        doc,
        display=YML,
        service_dir=tmp_path,
        options=options,
        env=env or {},
        params=params,
        sources=sources,
        instance_id="42",
    ).resolve()


def errors_of(text: str, tmp_path: Path, **kw: Any) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        resolve(text, tmp_path, **kw)
    return [str(e) for e in info.value.errors]


# --------------------------------------------------------------------------- parser


def test_parse_nested_and_fallbacks() -> None:
    (var,) = parse_variables("${self:custom.${sls:stage}.x}") or []
    assert var.sources[0].type == "self"
    assert var.sources[0].address is not None
    assert var.sources[0].address.variables is not None
    (var,) = parse_variables("${env:A, self:b, 'lit'}") or []
    assert [s.type for s in var.sources] == ["env", "self", None]
    assert var.sources[2].value == "lit"


def test_parse_leaves_foreign_syntax_alone() -> None:
    assert parse_variables("${AWS::Region}-${Foo}-${foo}-$x") is None
    assert parse_variables("plain") is None
    (var,) = parse_variables("!${AWS::Partition}${aws:region}") or []
    assert var.text == "${aws:region}"


def test_parse_errors() -> None:
    with pytest.raises(VariableSyntaxError):
        parse_variables("${self:custom.x")
    with pytest.raises(VariableSyntaxError):
        parse_variables("${self:a, foo}")
    with pytest.raises(VariableSyntaxError):
        parse_variables("${self:a.${Foo}}")


def test_coerce_string_like_javascript() -> None:
    assert coerce_string([1, 2, 3]) == "1,2,3"
    assert coerce_string(True) == "true"
    assert coerce_string(1.0) == "1"
    assert coerce_string(1.5) == "1.5"
    assert coerce_string({"a": 1}) is None
    assert coerce_string(None) is None


# --------------------------------------------------------------------------- rules


def test_self_nested_reference(tmp_path: Path) -> None:
    out = resolve(
        """
service: s
custom:
  dev: {table: users-dev}
  prod: {table: users-prod}
  table: ${self:custom.${sls:stage}.table}
""",
        tmp_path,
        options={"stage": "prod"},
    )
    assert out["custom"]["table"] == "users-prod"


def test_fallbacks_literals_and_empty_string(tmp_path: Path) -> None:
    out = resolve(
        """
a: ${env:MISSING, 'single'}
b: ${env:MISSING, "dou\\"ble"}
c: ${env:MISSING, 123}
d: ${env:MISSING, 1.5}
e: ${env:EMPTY, 'fallback'}
f: ${env:MISSING, self:custom.absent, self:custom.x}
g: ${self:custom.nothing, 'was null'}
h: ${env:MISSING, true}
custom:
  x: from-self
  nothing: null
""",
        tmp_path,
        env={"EMPTY": ""},
    )
    assert out["a"] == "single"
    assert out["b"] == 'dou"ble'
    assert out["c"] == 123
    assert out["d"] == 1.5
    assert out["e"] == ""  # an empty string is a value
    assert out["f"] == "from-self"
    assert out["g"] == "was null"
    assert out["h"] is True


def test_whole_value_keeps_type_interpolation_stringifies(tmp_path: Path) -> None:
    out = resolve(
        """
custom:
  obj: {a: 1, b: [x, y]}
  list: [1, 2, 3]
  num: 7
  flag: false
whole_obj: ${self:custom.obj}
whole_list: ${self:custom.list}
whole_num: ${self:custom.num}
text: "n=${self:custom.num} l=${self:custom.list} f=${self:custom.flag}"
""",
        tmp_path,
    )
    assert out["whole_obj"] == {"a": 1, "b": ["x", "y"]}
    assert out["whole_list"] == [1, 2, 3]
    assert out["whole_num"] == 7
    assert out["text"] == "n=7 l=1,2,3 f=false"


def test_object_inside_string_is_an_error(tmp_path: Path) -> None:
    (err,) = errors_of("custom: {o: {a: 1}}\nx: pre-${self:custom.o}\n", tmp_path)
    assert err.startswith("serverless.yml:2: `x`:")
    assert "cannot be part of a string" in err


def test_self_whole_document_and_arrays(tmp_path: Path) -> None:
    out = resolve(
        """
service: s
custom:
  list: [a, b, c]
  second: ${self:custom.list.1}
  copy: ${self:service}
""",
        tmp_path,
    )
    assert out["custom"]["second"] == "b"
    doc = parse_yaml("service: s\ncustom: {x: 1}\n", YML)
    r = Resolver(doc, display=YML, service_dir=tmp_path)
    assert r.lookup([]) == {"service": "s", "custom": {"x": 1}}
    # inside the document, the whole document includes the property itself (as in v3)
    (err,) = errors_of("service: s\nother:\n  all: ${self:}\n", tmp_path)
    assert "circular reference" in err


def test_file_yaml_json_whole_and_nested_variables(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "dev.yml").write_text(
        "table: t-${self:service}\nnested: {deep: 5}\nevents:\n  - schedule: rate(1 hour)\n"
    )
    (tmp_path / "values.json").write_text(json.dumps({"a": {"b": "json-b"}}))
    (tmp_path / "note.txt").write_text("plain text")
    out = resolve(
        """
service: svc
custom:
  whole: ${file(conf/${sls:stage}.yml)}
  table: ${file(./conf/dev.yml):table}
  deep: ${file(conf/dev.yml):nested.deep}
  json: ${file(values.json):a.b}
  text: ${file(note.txt)}
  missing: ${file(nope.yml):x, 'default'}
functions:
  f:
    handler: h.main
    events: ${file(conf/dev.yml):events}
""",
        tmp_path,
    )
    c = out["custom"]
    assert c["whole"]["table"] == "t-svc"  # the file's own ${} resolved, self = main doc
    assert c["table"] == "t-svc"
    assert c["deep"] == 5
    assert c["json"] == "json-b"
    assert c["text"] == "plain text"
    assert c["missing"] == "default"
    assert out["functions"]["f"]["events"] == [{"schedule": "rate(1 hour)"}]


def test_missing_file_without_fallback(tmp_path: Path) -> None:
    (err,) = errors_of("custom:\n  x: ${file(var/dev.yml):k}\n", tmp_path)
    assert err.startswith("serverless.yml:2: `custom.x`:")
    assert "var/dev.yml` does not exist" in err


def test_opt_and_sls_stage_precedence(tmp_path: Path) -> None:
    text = "provider:\n  stage: from-provider\nx: ${sls:stage}\ny: ${opt:stage, 'none'}\n"
    assert resolve(text, tmp_path, options={"stage": "cli"})["x"] == "cli"
    out = resolve(text, tmp_path)
    assert out["x"] == "from-provider"
    assert out["y"] == "none"
    assert resolve("x: ${sls:stage}\n", tmp_path)["x"] == "dev"
    assert resolve("x: ${sls:instanceId}\n", tmp_path)["x"] == "42"
    out = resolve("x: ${opt:region}\n", tmp_path, options={"region": "eu-west-1"})
    assert out["x"] == "eu-west-1"


def test_provider_stage_and_region_defaults_for_self(tmp_path: Path) -> None:
    out = resolve("x: ${opt:stage, self:provider.stage}\ny: ${self:provider.region}\n", tmp_path)
    assert out == {"x": "dev", "y": "us-east-1"}


def test_env_is_exactly_the_given_mapping(tmp_path: Path) -> None:
    out = resolve("x: ${env:A}\ny: ${env:B, 'b'}\n", tmp_path, env={"A": "a"})
    assert out == {"x": "a", "y": "b"}


def test_param_precedence(tmp_path: Path) -> None:
    text = """
params:
  default: {a: default-a, b: default-b, c: default-c}
  prod: {b: prod-b}
x: ${param:a}
y: ${param:b}
z: ${param:c}
"""
    out = resolve(text, tmp_path, options={"stage": "prod"}, params={"c": "given-c"})
    assert (out["x"], out["y"], out["z"]) == ("default-a", "prod-b", "given-c")
    out = resolve(text, tmp_path, options={"param": ["a=cli-a"]})
    assert out["x"] == "cli-a"


def test_str_to_bool(tmp_path: Path) -> None:
    out = resolve(
        """
a: ${strToBool(true)}
b: ${strToBool(FALSE)}
c: ${strToBool(1)}
d: ${strToBool(0)}
e: ${strToBool(${env:FLAG})}
""",
        tmp_path,
        env={"FLAG": "true"},
    )
    assert out == {"a": True, "b": False, "c": True, "d": False, "e": True}
    (err,) = errors_of("a: ${strToBool(maybe)}\n", tmp_path)
    assert "strToBool" in err


def test_aws_region_and_foreign_sub(tmp_path: Path) -> None:
    out = resolve(
        "provider: {region: eu-west-1}\nd: !Sub ${aws:region}-${AWS::Partition}\n", tmp_path
    )
    assert out["d"] == {"Fn::Sub": "eu-west-1-${AWS::Partition}"}


def test_cycle_error_names_file_line_and_key(tmp_path: Path) -> None:
    errs = errors_of("custom:\n  a: ${self:custom.b}\n  b: ${self:custom.a}\n", tmp_path)
    assert len(errs) == 1
    assert errs[0].startswith("serverless.yml:2: `custom.a`: circular reference")
    errs = errors_of("custom:\n  a: ${self:custom}\n", tmp_path)
    assert "circular reference" in errs[0]


def test_unknown_source_and_aws_sources(tmp_path: Path) -> None:
    errs = errors_of(
        """
provider:
  environment:
    A: ${vault:x}
    DB_URL: ${ssm:/db/url}
    ACCOUNT: ${aws:accountId}
""",
        tmp_path,
    )
    assert errs[0] == (
        "serverless.yml:4: `provider.environment.A`: `${vault:x}`: unknown variable source `vault`"
    )
    assert errs[1] == (
        "serverless.yml:5: `provider.environment.DB_URL`: `${ssm:/db/url}` needs AWS access "
        "(source `ssm`), which this target does not have"
    )
    assert "needs AWS access" in errs[2]


def test_pluggable_sources(tmp_path: Path) -> None:
    seen: list[SourceCall] = []

    def ssm(call: SourceCall) -> Any:
        seen.append(call)
        return {"/db/url": "postgres://x"}.get(call.address or "")

    def aws(call: SourceCall) -> Any:
        return "123456789012"

    out = resolve(
        "a: ${ssm:/db/url}\nb: ${ssm:/nope, 'fb'}\nc: ${aws:accountId}\nd: ${aws:region}\n",
        tmp_path,
        sources={"ssm": ssm, "aws": aws},
    )
    assert out == {"a": "postgres://x", "b": "fb", "c": "123456789012", "d": "us-east-1"}
    assert seen[0].key == "a"
    assert seen[0].variable == "${ssm:/db/url}"


def test_missing_value_error(tmp_path: Path) -> None:
    (err,) = errors_of("service: s\nprovider:\n  environment:\n    X: ${env:NOPE}\n", tmp_path)
    assert err.startswith("serverless.yml:4: `provider.environment.X`: `${env:NOPE}` has no value")
    assert "NOPE" in err


def test_error_in_fallback_stops_resolution(tmp_path: Path) -> None:
    (err,) = errors_of("x: ${sls:bogus, 'fb'}\n", tmp_path)
    assert "unsupported `sls` address" in err


def test_dependents_of_a_failed_value_are_not_reported_twice(tmp_path: Path) -> None:
    errs = errors_of("a: ${env:NOPE}\nb: ${self:a}\nc: x-${self:a}\n", tmp_path)
    assert len(errs) == 1


def test_env_value_with_variable_is_resolved_again(tmp_path: Path) -> None:
    out = resolve("service: s\nx: ${env:A}\n", tmp_path, env={"A": "${self:service}"})
    assert out["x"] == "s"
    errs = errors_of("x: ${env:A}\n", tmp_path, env={"A": "${env:A}"})
    assert "nested too deep" in errs[0]


def test_speed_fifty_documents(tmp_path: Path) -> None:
    body = "\n".join(
        f"  k{i}: ${{self:custom.base}}-${{sls:stage}}-${{env:E, 'd'}}-{i}" for i in range(100)
    )
    text = f"service: s\ncustom:\n  base: b\n{body}\n"
    start = time.perf_counter()
    for _ in range(50):
        out = resolve(text, tmp_path)
    assert out["custom"]["k99"] == "b-dev-d-99"
    assert time.perf_counter() - start < 1.0


def test_forward_reference_to_object_resolved_once(tmp_path: Path) -> None:
    (tmp_path / "f.yml").write_text("k: v\nn: ${self:custom.z}\n")
    out = resolve("custom:\n  a: ${self:custom.b}\n  b: ${file(f.yml)}\n  z: zed\n", tmp_path)
    assert out["custom"]["a"] == {"k": "v", "n": "zed"}
    assert out["custom"]["b"] == {"k": "v", "n": "zed"}


def test_legacy_self_placeholder_in_a_dotenv_value(tmp_path: Path) -> None:
    # The corpus case self/placeholder-in-resolved-value: the `.env` value keeps
    # `${self:service}` (python-dotenv expands only `${NAME}`) and the resolver resolves it.
    # v3's dotenv-expand would mangle it into `..._:service}`; Shipway resolves it instead.
    env = {"ENV_VAR_WITH_PLACEHOLDER": "some_value_with_placeholder_${self:service}"}
    out = resolve(
        "service: resolvers-self-test\nname: ${env:ENV_VAR_WITH_PLACEHOLDER}\n", tmp_path, env=env
    )
    assert out["name"] == "some_value_with_placeholder_resolvers-self-test"


def test_any_option_instance_id_and_unknown_source_key_path(tmp_path: Path) -> None:
    out = resolve(
        "a: ${opt:infraStage}\nb: ${opt:alias, 'none'}\nc: id-${sls:instanceId}\n",
        tmp_path,
        options={"infraStage": "blue"},
    )
    assert out == {"a": "blue", "b": "none", "c": "id-42"}
    (err,) = errors_of("custom:\n  deep:\n    x: pre-${vault:secret/x}\n", tmp_path)
    assert err.startswith("serverless.yml:3: `custom.deep.x`:")
    assert "unknown variable source `vault`" in err
