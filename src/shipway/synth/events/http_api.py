"""`httpApi` events: the HTTP API (lib/plugins/aws/package/compile/events/http-api.js)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shipway.config.http_api_authorizers import (
    HttpApiRouteAuthorizer,
    http_api_authorizers,
    http_api_route_authorizer,
)
from shipway.synth import naming
from shipway.synth.cfn import DEFAULT_CORS_HEADERS, execute_api_url, invoke_permission
from shipway.synth.context import Context, FunctionInfo, check_keys
from shipway.synth.events.http_api_authorizers import compile_http_api_authorizers, route_auth
from shipway.synth.events.http_api_logs import access_log_format, api_log_group

__all__ = ["compile_http_api"]

_METHODS = ("ANY", "GET", "POST", "PUT", "PATCH", "OPTIONS", "HEAD", "DELETE")
_METHOD_PATH = re.compile(r"^(?:\*|(" + "|".join(_METHODS) + r") (\/\S*))$", re.IGNORECASE)
_PROVIDER_KEYS = (
    "name",
    "cors",
    "payload",
    "metrics",
    "disableDefaultEndpoint",
    "shouldStartNameWithService",
    "id",
    "authorizers",
)


def _as_list(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def compile_http_api(ctx: Context) -> None:
    config = ctx.provider.get("httpApi") or {}
    check_keys(ctx.source, "provider.httpApi", config, _PROVIDER_KEYS)
    cors: dict[str, Any] | None = None
    fill_methods = False
    user_cors = config.get("cors")
    external_id = config.get("id")  # a shared HTTP API made elsewhere: routes attach to it
    access_log = access_log_format(ctx, external_id)
    if user_cors and external_id:
        raise ctx.invalid("provider.httpApi.cors", "cannot set CORS of an external HTTP API")
    if user_cors:
        cors = {}
        if user_cors is True:
            cors.update(
                allowedOrigins=["*"],
                allowedHeaders=list(DEFAULT_CORS_HEADERS),
                allowedMethods=["*"],
            )
            fill_methods = True
        else:
            check_keys(
                ctx.source,
                "provider.httpApi.cors",
                user_cors,
                (
                    "allowedOrigins",
                    "allowedHeaders",
                    "allowedMethods",
                    "allowCredentials",
                    "exposedResponseHeaders",
                    "maxAge",
                ),
            )
            cors["allowedOrigins"] = (
                _as_list(user_cors["allowedOrigins"]) if user_cors.get("allowedOrigins") else ["*"]
            )
            cors["allowedHeaders"] = (
                _as_list(user_cors["allowedHeaders"])
                if user_cors.get("allowedHeaders")
                else list(DEFAULT_CORS_HEADERS)
            )
            if user_cors.get("allowedMethods"):
                cors["allowedMethods"] = _as_list(user_cors["allowedMethods"])
            else:
                fill_methods = True
            if user_cors.get("allowCredentials"):
                cors["allowCredentials"] = True
            if user_cors.get("exposedResponseHeaders"):
                cors["exposedResponseHeaders"] = _as_list(user_cors["exposedResponseHeaders"])
            cors["maxAge"] = user_cors.get("maxAge")
        if fill_methods:
            cors["allowedMethods"] = ["OPTIONS"]

    function_specs = {info.key: info.spec for info in ctx.functions}
    authorizers = http_api_authorizers(ctx.source, config, function_specs)
    routes: dict[str, FunctionInfo] = {}
    route_authorizers: dict[str, HttpApiRouteAuthorizer | None] = {}
    for fn in ctx.functions:
        for index, item in enumerate(fn.spec.get("events") or []):
            if not (isinstance(item, dict) and "httpApi" in item):
                continue
            key = f"functions.{fn.key}.events[{index}].httpApi"
            raw = item["httpApi"]
            method: Any = None
            route_auth_config: HttpApiRouteAuthorizer | None = None
            if isinstance(raw, dict):
                check_keys(ctx.source, key, raw, ("method", "path", "authorizer"))
                method, path = raw.get("method"), raw.get("path")
                route_auth_config = http_api_route_authorizer(
                    ctx.source,
                    f"{key}.authorizer",
                    raw.get("authorizer"),
                    authorizers,
                    bool(config.get("id")),
                )
            else:
                text = str(raw)
                if text == "*":
                    path = "*"
                else:
                    match = _METHOD_PATH.match(text)
                    if not match:
                        raise ctx.invalid(key, f"`httpApi: {text}` must be `METHOD /path` or `*`")
                    method, path = match.group(1), match.group(2)
            path = str(path)
            if path == "*":
                if method and method != "*":
                    raise ctx.invalid(key, "a `*` path takes no method")
                route_key = "*"
                resolved_method = "ANY"
            else:
                if not method:
                    raise ctx.invalid(key, "an `httpApi` event needs a `method`")
                method = str(method).upper()
                if method == "*":
                    method = "ANY"
                elif method not in _METHODS:
                    raise ctx.invalid(key, f"unknown HTTP method `{method}`")
                resolved_method = method
                route_key = f"{method} {path}"
                if route_key in routes:
                    raise ctx.invalid(key, f"duplicate route `{route_key}`")
            routes[route_key] = fn
            route_authorizers[route_key] = route_auth_config
            if fill_methods and cors is not None:
                wanted = (
                    [m for m in _METHODS if m != "ANY"]
                    if resolved_method == "ANY"
                    else [resolved_method]
                )
                for m in wanted:
                    if m not in cors["allowedMethods"]:
                        cors["allowedMethods"].append(m)
    if not routes:
        return

    res = ctx.resources
    api_ref: Any = external_id or {"Ref": naming.HTTP_API}
    if access_log:
        res[naming.HTTP_API_LOG_GROUP] = api_log_group(ctx, "http-api")
    if not external_id:
        _compile_api(ctx, config, cors, api_ref, access_log)
    _compile_routes(ctx, config, routes, api_ref, authorizers, route_authorizers)


def _compile_api(
    ctx: Context,
    config: dict[str, Any],
    cors: dict[str, Any] | None,
    api_ref: Any,
    access_log: str | None,
) -> None:
    res = ctx.resources
    props: dict[str, Any] = {
        "Name": str(config["name"])
        if config.get("name")
        else naming.http_api_name(
            ctx.service, ctx.stage, bool(config.get("shouldStartNameWithService"))
        ),
        "ProtocolType": "HTTP",
    }
    if config.get("disableDefaultEndpoint") is not None:
        props["DisableExecuteApiEndpoint"] = config["disableDefaultEndpoint"]
    tags = ctx.provider.get("tags")
    if tags:
        props["Tags"] = dict(tags)
    if cors is not None:
        cors_config: dict[str, Any] = {
            "AllowCredentials": cors.get("allowCredentials"),
            "AllowHeaders": list(cors["allowedHeaders"]),
            "AllowMethods": list(cors["allowedMethods"]),
            "AllowOrigins": list(cors["allowedOrigins"]),
            "ExposeHeaders": cors.get("exposedResponseHeaders"),
            "MaxAge": cors.get("maxAge"),
        }
        props["CorsConfiguration"] = {k: v for k, v in cors_config.items() if v is not None}
    res[naming.HTTP_API] = {"Type": "AWS::ApiGatewayV2::Api", "Properties": props}

    stage: dict[str, Any] = {
        "ApiId": api_ref,
        "StageName": "$default",
        "AutoDeploy": True,
        "DefaultRouteSettings": {"DetailedMetricsEnabled": bool(config.get("metrics", False))},
    }
    if tags:
        stage["Tags"] = dict(tags)
    res[naming.HTTP_API_STAGE] = {"Type": "AWS::ApiGatewayV2::Stage", "Properties": stage}
    if access_log:
        stage["AccessLogSettings"] = {
            "DestinationArn": {"Fn::GetAtt": [naming.HTTP_API_LOG_GROUP, "Arn"]},
            "Format": access_log,
        }
        res[naming.HTTP_API_STAGE]["DependsOn"] = naming.HTTP_API_LOG_GROUP
    ctx.outputs["HttpApiId"] = {"Description": "Id of the HTTP API", "Value": api_ref}
    ctx.outputs["HttpApiUrl"] = {
        "Description": "URL of the HTTP API",
        "Value": execute_api_url(api_ref),
    }


def _compile_routes(
    ctx: Context,
    config: dict[str, Any],
    routes: dict[str, FunctionInfo],
    api_ref: Any,
    authorizers: Mapping[str, Any],
    route_authorizers: Mapping[str, HttpApiRouteAuthorizer | None],
) -> None:
    res = ctx.resources
    compile_http_api_authorizers(res, authorizers.values(), api_ref)
    for route_key, fn in routes.items():
        permission_id = naming.http_api_permission(fn.key)
        if permission_id not in res:
            res[permission_id] = invoke_permission(fn.arn, api_ref, "/*")
        integration_id = naming.http_api_integration(fn.key)
        if integration_id not in res:
            fn_http_api = fn.spec.get("httpApi") if isinstance(fn.spec.get("httpApi"), dict) else {}
            assert isinstance(fn_http_api, dict)
            res[integration_id] = {
                "Type": "AWS::ApiGatewayV2::Integration",
                "Properties": {
                    "ApiId": api_ref,
                    "IntegrationType": "AWS_PROXY",
                    "IntegrationUri": fn.arn,
                    "PayloadFormatVersion": str(
                        fn_http_api.get("payload") or config.get("payload") or "2.0"
                    ),
                    "TimeoutInMillis": 30000,
                },
            }
        res[naming.http_api_route(route_key)] = {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": api_ref,
                "RouteKey": "$default" if route_key == "*" else route_key,
                "Target": {"Fn::Join": ["/", ["integrations", {"Ref": integration_id}]]},
            },
            "DependsOn": integration_id,
        }
        route_authorizer = route_authorizers[route_key]
        if route_authorizer is not None:
            res[naming.http_api_route(route_key)]["Properties"].update(route_auth(route_authorizer))
