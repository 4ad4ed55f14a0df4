"""API access logs: `provider.logs.httpApi` (http-api.js) and `provider.logs.restApi`
(api-gateway/lib/stage.js): their log groups, the HTTP API's format, the REST API's keys."""

from __future__ import annotations

import json
from typing import Any

from shipway.synth import naming
from shipway.synth.context import Context, check_keys
from shipway.synth.custom_resources import ensure_api_gateway_cloudwatch_role

__all__ = [
    "access_log_format",
    "api_log_group",
    "compile_rest_api_logs",
    "rest_api_access_logs_on",
]

#: `provider.logs.restApi` keys (stage.js and update-stage.js read them)
_REST_API_LOG_KEYS = (
    "accessLogging",
    "executionLogging",
    "format",
    "fullExecutionData",
    "level",
    "role",
    "roleManagedExternally",
)

_DEFAULT_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
    },
    separators=(",", ":"),
)


def access_log_format(ctx: Context, external_id: Any) -> str | None:
    logs = ctx.provider.get("logs")
    config = logs.get("httpApi") if isinstance(logs, dict) else None
    if not config:
        return None
    if external_id:
        raise ctx.invalid(
            "provider.logs.httpApi", "cannot set up access logs of an external HTTP API"
        )
    if isinstance(config, dict):
        check_keys(ctx.source, "provider.logs.httpApi", config, ("format",))
        if config.get("format"):
            return str(config["format"])
    return _DEFAULT_FORMAT


def api_log_group(ctx: Context, kind: str) -> dict[str, Any]:
    """`/aws/<kind>/<service>-<stage>`, kept as long as the provider's log retention says."""
    props: dict[str, Any] = {"LogGroupName": f"/aws/{kind}/{ctx.service}-{ctx.stage}"}
    if ctx.provider.get("logRetentionInDays"):
        props["RetentionInDays"] = ctx.provider["logRetentionInDays"]
    if ctx.provider.get("logDataProtectionPolicy"):
        props["DataProtectionPolicy"] = ctx.provider["logDataProtectionPolicy"]
    return {"Type": "AWS::Logs::LogGroup", "Properties": props}


def rest_api_access_logs_on(config: Any) -> bool:
    """`provider.logs.restApi` turns access logs on (stage.js: `accessLogging` defaults to on)."""
    if not config:
        return False
    if not isinstance(config, dict):
        return True
    return config.get("accessLogging") is None or bool(config["accessLogging"])


def compile_rest_api_logs(ctx: Context) -> None:
    """stage.js: with access logs on, the REST API's log group and the account's CloudWatch
    role (a custom resource, unless `roleManagedExternally`); the stage's own settings are
    applied after the deploy (targets/aws/stage_settings.py), as the Framework's updateStage."""
    logs = ctx.provider.get("logs")
    config = logs.get("restApi") if isinstance(logs, dict) else None
    if isinstance(config, dict):
        check_keys(ctx.source, "provider.logs.restApi", config, _REST_API_LOG_KEYS)
    if rest_api_access_logs_on(config):
        ctx.resources[naming.REST_API_LOG_GROUP] = api_log_group(ctx, "api-gateway")
        ensure_api_gateway_cloudwatch_role(ctx)
