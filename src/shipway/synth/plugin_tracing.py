"""The serverless-plugin-tracing plugin (v2.0.0, its last release), which Shipway implements
rather than runs.

At `package:compileEvents` (after the Framework compiled the functions) the plugin sets
every function's `TracingConfig` itself: `Active` when the function's `tracing` is `true`
(or `"true"`), or when `provider.tracing` is `true` and the function's is not `false`;
`PassThrough` otherwise. It overwrites what the Framework wrote from
`provider.tracing.lambda`: with the plugin listed, `provider.tracing: {lambda: true}` is
not `true`, so such functions end up `PassThrough`, as they do under the Framework. A
function is found by its physical name; one the plugin cannot find keeps its settings.
"""

from __future__ import annotations

from typing import Any

from shipway.synth.context import Context

__all__ = ["PLUGIN", "compile_plugin_tracing"]

PLUGIN = "serverless-plugin-tracing"


def _on(value: Any) -> bool:
    return value is True or value == "true"


def _off(value: Any) -> bool:
    return value is False or value == "false"


def compile_plugin_tracing(ctx: Context, plugins: list[str]) -> None:
    if PLUGIN not in plugins:
        return
    by_name: dict[str, dict[str, Any]] = {}
    for resource in ctx.resources.values():
        properties = resource.get("Properties") if isinstance(resource, dict) else None
        if resource.get("Type") == "AWS::Lambda::Function" and isinstance(properties, dict):
            name = properties.get("FunctionName")
            if isinstance(name, str):
                by_name[name] = properties
    provider_on = _on(ctx.provider.get("tracing"))
    for fn in ctx.functions:
        properties = by_name.get(fn.physical_name)
        if properties is None:
            continue  # the plugin logs "Tracing NOT SET" and leaves the function alone
        tracing = fn.spec.get("tracing")
        enabled = _on(tracing) or (provider_on and not _off(tracing))
        properties["TracingConfig"] = {"Mode": "Active" if enabled else "PassThrough"}
