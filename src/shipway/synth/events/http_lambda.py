"""`http` events with `integration: lambda` (API Gateway's non-proxy `AWS` integration):
request templates, pass-through behaviour, integration and method responses, as
lib/plugins/aws/package/compile/events/api-gateway/lib/{validate,method/integration,
method/responses}.js write them. The proxy integration stays in http.py.
"""

from __future__ import annotations

from typing import Any

from shipway.synth.context import Context, check_keys
from shipway.synth.events.http_lambda_templates import DEFAULT_FORM_TEMPLATE, DEFAULT_JSON_TEMPLATE

__all__ = [
    "AWS",
    "DEFAULT_STATUS_CODES",
    "PROXY",
    "integration_kind",
    "lambda_integration",
    "method_responses",
]

AWS = "AWS"  # `integration: lambda`
PROXY = "AWS_PROXY"  # `integration: lambda-proxy`, the default

DEFAULT_STATUS_CODES: dict[str, dict[str, str]] = {
    "200": {"pattern": ""},
    "400": {"pattern": "[\\s\\S]*\\[400\\][\\s\\S]*"},
    "401": {"pattern": "[\\s\\S]*\\[401\\][\\s\\S]*"},
    "403": {"pattern": "[\\s\\S]*\\[403\\][\\s\\S]*"},
    "404": {"pattern": "[\\s\\S]*\\[404\\][\\s\\S]*"},
    "422": {"pattern": "[\\s\\S]*\\[422\\][\\s\\S]*"},
    "500": {
        "pattern": "[\\s\\S]*(Process\\s?exited\\s?before\\s?completing\\s?request|\\[500\\])"
        "[\\s\\S]*"
    },
    "502": {"pattern": "[\\s\\S]*\\[502\\][\\s\\S]*"},
    "504": {
        "pattern": "([\\s\\S]*\\[504\\][\\s\\S]*)|(.*Task timed out after \\d+\\.\\d+ seconds$)"
    },
}

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


def _status_codes(config: dict[str, Any]) -> dict[str, Any]:
    """validate.js getResponse: the defaults, or the given codes with a default 200."""
    response = config.get("response") or {}
    codes = response.get("statusCodes")
    if not codes:
        return dict(DEFAULT_STATUS_CODES)
    codes = {str(k): v or {} for k, v in codes.items()}
    if not any(c.get("pattern") == "" for c in codes.values()):
        codes["200"] = DEFAULT_STATUS_CODES["200"]
    return codes


def _headers(config: dict[str, Any], cors: dict[str, Any] | None, value: bool) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if cors:
        origin = ",".join(cors["origins"]) if cors.get("origins") else cors.get("origin")
        headers["Access-Control-Allow-Origin"] = True if value else f"'{origin}'"
        if cors.get("allowCredentials"):
            headers["Access-Control-Allow-Credentials"] = True if value else "true"
    for name, given in ((config.get("response") or {}).get("headers") or {}).items():
        headers[name] = True if value else given
    return headers


def lambda_integration(
    config: dict[str, Any], uri: Any, cors: dict[str, Any] | None
) -> dict[str, Any]:
    """The method's `Integration` for `integration: lambda`."""
    request = config.get("request") or {}
    templates: dict[str, Any] = {
        "application/json": DEFAULT_JSON_TEMPLATE,
        "application/x-www-form-urlencoded": DEFAULT_FORM_TEMPLATE,
    }
    for content_type, template in (request.get("template") or {}).items():
        if template is None:
            templates.pop(content_type, None)
        else:
            templates[content_type] = template
    # method/index.js: the authorizer's claims (none here) go where the marker is
    templates = {
        k: v.replace("extraCognitoPoolClaims", "", 1) if isinstance(v, str) else v
        for k, v in templates.items()
    }
    response = config.get("response") or {}
    responses = []
    for code, status in _status_codes(config).items():
        parameters = {
            f"method.response.header.{k}": v for k, v in _headers(config, cors, False).items()
        }
        for name, value in (status.get("headers") or {}).items():
            parameters[f"method.response.header.{name}"] = value
        response_templates: dict[str, Any] = {}
        if response.get("template"):
            response_templates["application/json"] = response["template"]
        if status.get("template"):
            given = status["template"]
            response_templates.update(
                {"application/json": given} if isinstance(given, str) else given
            )
        responses.append(
            {
                "StatusCode": code,
                "SelectionPattern": status.get("pattern") or "",
                "ResponseParameters": parameters,
                "ResponseTemplates": response_templates,
            }
        )
    integration: dict[str, Any] = {
        "IntegrationHttpMethod": "POST",
        "Type": AWS,
        "Uri": uri,
        "PassthroughBehavior": request.get("passThrough") or "NEVER",
        "RequestTemplates": templates or None,
        "IntegrationResponses": responses,
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
    for code, status in _status_codes(config).items():
        parameters = {
            f"method.response.header.{k}": v for k, v in _headers(config, cors, True).items()
        }
        for name in status.get("headers") or {}:
            parameters[f"method.response.header.{name}"] = True
        out.append({"ResponseParameters": parameters, "ResponseModels": {}, "StatusCode": code})
    return out
