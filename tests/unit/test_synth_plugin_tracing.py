"""serverless-plugin-tracing, implemented: it sets every function's TracingConfig after the
Framework compiled them, overwriting what `provider.tracing.lambda` wrote (the oracle case
in tests/functional/test_synth_oracle_events.py runs the real plugin)."""

from __future__ import annotations

from typing import Any

from shipway.model import Function, ServiceDefinition
from shipway.synth import synthesize
from shipway.synth.template import support_problems
from shipway.targets.local.notes import local_notes


def _definition(
    provider: dict[str, Any], functions: dict[str, Any], plugin: bool = True
) -> ServiceDefinition:
    doc: dict[str, Any] = {
        "service": "svc",
        "provider": {"name": "aws", "runtime": "python3.12", **provider},
        "functions": functions,
    }
    if plugin:
        doc["plugins"] = ["serverless-plugin-tracing"]
    fns = tuple(Function(name, "app.handler", "python3.12", 6, 1024, {}, ()) for name in functions)
    return ServiceDefinition("svc", "dev", "us-east-1", "python3.12", fns, resolved=doc)


def _modes(definition: ServiceDefinition) -> dict[str, Any]:
    resources = synthesize(definition)["Resources"]
    return {
        key.removesuffix("LambdaFunction"): (r["Properties"].get("TracingConfig") or {}).get("Mode")
        for key, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
    }


def test_provider_true_turns_every_function_on_but_those_that_opt_out() -> None:
    functions = {
        "on": {"handler": "app.handler"},
        "off": {"handler": "app.handler", "tracing": False},
    }
    modes = _modes(_definition({"tracing": True}, functions))
    assert modes == {"On": "Active", "Off": "PassThrough"}


def test_the_plugin_overrides_provider_tracing_lambda() -> None:
    functions = {"a": {"handler": "app.handler"}, "b": {"handler": "app.handler", "tracing": True}}
    assert _modes(_definition({"tracing": {"lambda": True}}, functions, plugin=False)) == {
        "A": "Active",
        "B": "Active",
    }
    # with the plugin, `{lambda: true}` is not `true`: the plugin writes PassThrough
    assert _modes(_definition({"tracing": {"lambda": True}}, functions)) == {
        "A": "PassThrough",
        "B": "Active",
    }


def test_a_function_with_its_own_name_is_found() -> None:
    functions = {"named": {"handler": "app.handler", "name": "custom-name", "tracing": True}}
    assert _modes(_definition({}, functions)) == {"Named": "Active"}


def test_the_plugin_is_accepted_and_its_setting_is_a_local_note() -> None:
    definition = _definition({"tracing": True}, {"f": {"handler": "app.handler"}})
    assert support_problems(definition, "serverless.yml") == []
    (note,) = local_notes(definition)
    assert note.startswith("`provider.tracing`: AWS X-Ray tracing (no local meaning")
