"""`http` events with `integration: lambda` (API Gateway's non-proxy `AWS` integration):
request templates, pass-through behaviour, integration and method responses, as
lib/plugins/aws/package/compile/events/api-gateway/lib/{validate,method/integration,
method/responses}.js write them. The proxy integration stays in http.py.
"""

from __future__ import annotations

from typing import Any

from shipway.config.lambda_integration import (
    integration_responses,
    pass_through,
    request_templates,
    response_headers,
    status_codes,
)
from shipway.synth.context import Context, check_keys

__all__ = [
    "AWS",
    "PROXY",
    "integration_kind",
    "lambda_integration",
    "method_responses",
]

AWS = "AWS"  # `integration: lambda`
PROXY = "AWS_PROXY"  # `integration: lambda-proxy`, the default

_REQUEST_KEYS = {PROXY: ("parameters",), AWS: ("parameters", "template", "passThrough")}
_RESPONSE_KEYS = ("headers", "template", "statusCodes")


def integration_kind(ctx: Context, key: str, config: dict[str, Any]) -> str:
    """validate.js getIntegration: `lambda` -> AWS, `lambda-proxy` (default) -> AWS_PROXY;
    also checks the request / response settings the integration takes."""
    given = config.get("integration")
    kind = str(given or PROXY).upper().replace("-", "_")
    kind = {"LAMBDA": AWS, "LAMBDA_PROXY": PROXY}.get(kind, kind)
    if kind not in (AWS, PROXY):
        raise ctx.error(f"{key}.integration", f"`integration: {given}`")
    request = config.get("request")
    if isinstance(request, dict):
        check_keys(ctx.source, f"{key}.request", request, _REQUEST_KEYS[kind])
        if isinstance(request.get("template"), str | list):
            raise ctx.invalid(
                f"{key}.request.template", "`request.template` maps content types to templates"
            )
    if "response" in config:
        if kind != AWS:
            raise ctx.invalid(f"{key}.response", "`response` needs `integration: lambda`")
        check_keys(ctx.source, f"{key}.response", config["response"] or {}, _RESPONSE_KEYS)
        for code, status in ((config["response"] or {}).get("statusCodes") or {}).items():
            check_keys(
                ctx.source,
                f"{key}.response.statusCodes.{code}",
                status or {},
                ("pattern", "template", "headers"),
            )
    return kind


def lambda_integration(
    config: dict[str, Any], uri: Any, cors: dict[str, Any] | None
) -> dict[str, Any]:
    """The method's `Integration` for `integration: lambda`."""
    request = config.get("request") or {}
    integration: dict[str, Any] = {
        "IntegrationHttpMethod": "POST",
        "Type": AWS,
        "Uri": uri,
        "PassthroughBehavior": pass_through(config),
        "RequestTemplates": request_templates(config) or None,
        "IntegrationResponses": integration_responses(config, cors),
    }
    parameters = (request.get("parameters") or {}) if isinstance(request, dict) else {}
    mapped = {}
    for location in ("querystrings", "paths", "headers"):
        for name, value in (parameters.get(location) or {}).items():
            key = f"method.request.{location[:-1]}.{name}"
            target = value.get("mappedValue") if isinstance(value, dict) else None
            mapped[f"integration.{key[len('method.') :]}"] = target or key
    if mapped:
        integration["RequestParameters"] = mapped
    return {k: v for k, v in integration.items() if v is not None}


def method_responses(config: dict[str, Any], cors: dict[str, Any] | None) -> list[Any]:
    out = []
    for code, status in status_codes(config).items():
        parameters = {
            f"method.response.header.{k}": v
            for k, v in response_headers(config, cors, True).items()
        }
        for name in status.get("headers") or {}:
            parameters[f"method.response.header.{name}"] = True
        out.append({"ResponseParameters": parameters, "ResponseModels": {}, "StatusCode": code})
    return out
