"""`provider.logs.httpApi`: the HTTP API's access log group and format (http-api.js)."""

from __future__ import annotations

import json
from typing import Any

from shipway.synth.context import Context, check_keys

__all__ = ["access_log_format", "http_api_log_group"]

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


def http_api_log_group(ctx: Context) -> dict[str, Any]:
    props: dict[str, Any] = {"LogGroupName": f"/aws/http-api/{ctx.service}-{ctx.stage}"}
    if ctx.provider.get("logRetentionInDays"):
        props["RetentionInDays"] = ctx.provider["logRetentionInDays"]
    if ctx.provider.get("logDataProtectionPolicy"):
        props["DataProtectionPolicy"] = ctx.provider["logDataProtectionPolicy"]
    return {"Type": "AWS::Logs::LogGroup", "Properties": props}
