"""What `integration: lambda` (API Gateway's non-proxy `AWS` integration) does with a
request and with the function's answer, as the Framework configures it
(lib/plugins/aws/package/compile/events/api-gateway/lib/{validate,method/integration,
method/responses}.js): its request templates, pass-through behaviour and integration
responses. Synthesis writes them into the template (synth/events/http_lambda.py); the local
runtime applies the same ones to its requests (targets/local/lambda_integration.py).
"""

from __future__ import annotations

from typing import Any

from shipway.config.lambda_templates import DEFAULT_FORM_TEMPLATE, DEFAULT_JSON_TEMPLATE

__all__ = [
    "DEFAULT_STATUS_CODES",
    "integration_responses",
    "pass_through",
    "request_templates",
    "response_headers",
    "status_codes",
]

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


def status_codes(config: dict[str, Any]) -> dict[str, Any]:
    """validate.js getResponse: the defaults, or the given codes with a default 200."""
    response = config.get("response") or {}
    codes = response.get("statusCodes")
    if not codes:
        return dict(DEFAULT_STATUS_CODES)
    codes = {str(k): v or {} for k, v in codes.items()}
    if not any(c.get("pattern") == "" for c in codes.values()):
        codes["200"] = DEFAULT_STATUS_CODES["200"]
    return codes


def response_headers(
    config: dict[str, Any], cors: dict[str, Any] | None, value: bool
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if cors:
        origin = ",".join(cors["origins"]) if cors.get("origins") else cors.get("origin")
        headers["Access-Control-Allow-Origin"] = True if value else f"'{origin}'"
        if cors.get("allowCredentials"):
            headers["Access-Control-Allow-Credentials"] = True if value else "true"
    for name, given in ((config.get("response") or {}).get("headers") or {}).items():
        headers[name] = True if value else given
    return headers


def pass_through(config: dict[str, Any]) -> str:
    request = config.get("request") or {}
    return str(request.get("passThrough") or "NEVER") if isinstance(request, dict) else "NEVER"


def request_templates(config: dict[str, Any]) -> dict[str, Any]:
    """Content type -> request template: the Framework's defaults for JSON and forms, with
    the event's own (`null` removes a default)."""
    request = config.get("request") or {}
    templates: dict[str, Any] = {
        "application/json": DEFAULT_JSON_TEMPLATE,
        "application/x-www-form-urlencoded": DEFAULT_FORM_TEMPLATE,
    }
    given = request.get("template") if isinstance(request, dict) else None
    for content_type, template in (given or {}).items():
        if template is None:
            templates.pop(content_type, None)
        else:
            templates[content_type] = template
    # method/index.js: the authorizer's claims (none here) go where the marker is
    return {
        k: v.replace("extraCognitoPoolClaims", "", 1) if isinstance(v, str) else v
        for k, v in templates.items()
    }


def integration_responses(config: dict[str, Any], cors: dict[str, Any] | None) -> list[Any]:
    """The integration responses: per status code its selection pattern (matched against a
    failed function's `errorMessage`), header mappings and response templates."""
    response = config.get("response") or {}
    responses = []
    for code, status in status_codes(config).items():
        parameters = {
            f"method.response.header.{k}": v
            for k, v in response_headers(config, cors, False).items()
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
    return responses
