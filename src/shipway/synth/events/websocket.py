"""`websocket` events: the WebSocket API (lib/plugins/aws/package/compile/events/websockets/).

The compile steps run in the Framework's order (api, integrations, route responses,
authorizers, permissions, routes, stage, deployment) and resources are merged as lodash's
`_.merge` does, because the deployment's logical ID is the sha256 of the WebSocket part of
the template as `JSON.stringify` writes it: key order matters. That ID is a content hash
already (no deploy time in it), so an unchanged API keeps its deployment.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from shipway.synth import naming
from shipway.synth.cfn import join
from shipway.synth.context import Context, FunctionInfo, check_keys
from shipway.synth.custom_resources import ensure_api_gateway_cloudwatch_role
from shipway.synth.events.http_api_logs import api_log_group
from shipway.synth.jsutil import js_stringify, lodash_merge

__all__ = ["DEFAULT_ROUTE_SELECTION", "compile_websocket", "websocket_routes"]

DEFAULT_ROUTE_SELECTION = "$request.body.action"
DEFAULT_DESCRIPTION = "Serverless Websockets"
DEFAULT_IDENTITY_SOURCE = ("route.request.header.Auth",)
_EVENT_KEYS = ("route", "routeResponseSelectionExpression", "authorizer")
_AUTHORIZER_KEYS = ("name", "arn", "identitySource")
_PROVIDER_STRINGS = (
    "websocketsApiName",
    "websocketsApiRouteSelectionExpression",
    "websocketsDescription",
)
_ROUTE_ID = re.compile(r"^[A-Za-z0-9]+$")


@dataclass
class _Authorizer:
    name: str
    uri: dict[str, Any]
    identity_source: list[Any]
    permission: Any  # a function's logical ID, or the ARN as written


@dataclass
class _Event:
    fn: FunctionInfo
    route: str
    response_selection: str | None = None
    authorizer: _Authorizer | None = None


def _invocation_uri(target: Any) -> dict[str, Any]:
    return join(
        "arn:",
        {"Ref": "AWS::Partition"},
        ":apigateway:",
        {"Ref": "AWS::Region"},
        ":lambda:path/2015-03-31/functions/",
        target,
        "/invocations",
    )


def _name_from_arn(arn: str) -> str:
    return arn.split(":")[-1]


def _authorizer(ctx: Context, key: str, raw: Any) -> _Authorizer:
    by_name = {fn.key: fn for fn in ctx.functions}

    def local(name: str, at: str) -> FunctionInfo:
        fn = by_name.get(name)
        if fn is None:
            raise ctx.invalid(at, f"authorizer function `{name}` is not a function of this service")
        return fn

    if isinstance(raw, str):
        if ":" in raw:
            return _Authorizer(
                _name_from_arn(raw), _invocation_uri(raw), list(DEFAULT_IDENTITY_SOURCE), raw
            )
        fn = local(raw, key)
        return _Authorizer(
            raw, _invocation_uri(fn.arn), list(DEFAULT_IDENTITY_SOURCE), fn.logical_id
        )
    if not isinstance(raw, dict):
        raise ctx.invalid(key, "`authorizer` must be a function name, an ARN or a mapping")
    check_keys(ctx.source, key, raw, _AUTHORIZER_KEYS)
    identity = raw.get("identitySource")
    if identity is not None and not (
        isinstance(identity, list) and all(isinstance(i, str) for i in identity)
    ):
        raise ctx.invalid(f"{key}.identitySource", "`identitySource` must be a list of strings")
    sources = list(identity) if identity else list(DEFAULT_IDENTITY_SOURCE)
    arn = raw.get("arn")
    if arn:
        if isinstance(arn, str):
            name = _name_from_arn(arn)
        elif isinstance(raw.get("name"), str):
            name = raw["name"]
        else:
            raise ctx.invalid(f"{key}.name", 'a non-string "arn" needs to be accompanied by "name"')
        return _Authorizer(name, _invocation_uri(arn), sources, arn)
    if isinstance(raw.get("name"), str):
        fn = local(raw["name"], f"{key}.name")
        return _Authorizer(fn.key, _invocation_uri(fn.arn), sources, fn.logical_id)
    raise ctx.invalid(key, "an `authorizer` needs a `name` or an `arn`")


def _events(ctx: Context) -> list[_Event]:
    events: list[_Event] = []
    seen: dict[str, str] = {}
    for fn in ctx.functions:
        for index, item in enumerate(fn.spec.get("events") or []):
            if not (isinstance(item, dict) and "websocket" in item):
                continue
            key = f"functions.{fn.key}.events[{index}].websocket"
            raw = item["websocket"]
            if isinstance(raw, str):
                event = _Event(fn, raw)
            elif isinstance(raw, dict):
                check_keys(ctx.source, key, raw, _EVENT_KEYS)
                if not isinstance(raw.get("route"), str) or not raw["route"]:
                    raise ctx.invalid(f"{key}.route", "a `websocket` event needs a `route`")
                event = _Event(fn, raw["route"])
                selection = raw.get("routeResponseSelectionExpression")
                if selection is not None:
                    if selection != "$default":
                        raise ctx.invalid(
                            f"{key}.routeResponseSelectionExpression",
                            "`routeResponseSelectionExpression` can only be `$default`",
                        )
                    event.response_selection = selection
                if raw.get("authorizer"):
                    event.authorizer = _authorizer(ctx, f"{key}.authorizer", raw["authorizer"])
            else:
                raise ctx.invalid(key, "a `websocket` event must be a route or a mapping")
            if not _ROUTE_ID.match(naming.websockets_route_key(event.route)):
                raise ctx.invalid(
                    key,
                    f"route `{event.route}` cannot name a CloudFormation resource: use letters, "
                    "digits, `$`, `/`, `-`, `_` and `.`",
                )
            if event.route in seen:
                raise ctx.invalid(
                    key, f"route `{event.route}` is already taken by function `{seen[event.route]}`"
                )
            seen[event.route] = fn.key
            events.append(event)
    return events


def websocket_routes(ctx: Context) -> list[tuple[str, str]]:
    """(route, function) of every `websocket` event, checked as synthesis checks them."""
    return [(e.route, e.fn.key) for e in _events(ctx)]


def _check_provider(ctx: Context) -> None:
    websocket = ctx.provider.get("websocket")
    if websocket is not None:
        check_keys(ctx.source, "provider.websocket", websocket, ("useProviderTags",))
    for key in _PROVIDER_STRINGS:
        if ctx.provider.get(key) is not None and not isinstance(ctx.provider[key], str):
            raise ctx.invalid(f"provider.{key}", f"`{key}` must be a string")


def _pick(resources: dict[str, Any]) -> dict[str, Any]:
    """pick-websockets-template-part.js: the API, what names it in ApiId or DependsOn."""
    token = naming.WEBSOCKETS_API
    picked: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        props = resource.get("Properties")
        api_id = props.get("ApiId") if isinstance(props, dict) else None
        depends = resource.get("DependsOn")
        if (
            logical_id == token
            or (isinstance(api_id, dict) and api_id.get("Ref") == token)
            or (isinstance(depends, list) and token in depends)
        ):
            picked[logical_id] = resource
    return picked


_LOG_KEYS = ("accessLogging", "executionLogging", "fullExecutionData", "format", "level")
_LOG_FORMAT = (
    "$context.identity.sourceIp $context.identity.caller $context.identity.user "
    '[$context.requestTime] "$context.eventType $context.routeKey $context.connectionId" '
    "$context.requestId"
)


def _compile_logs(ctx: Context, stage: dict[str, Any]) -> None:
    """stage.js `provider.logs.websocket`: the stage's route settings and access log, the
    `/aws/websocket/<service>-<stage>` group and the account's CloudWatch role."""
    logs = ctx.provider.get("logs")
    config = logs.get("websocket") if isinstance(logs, dict) else None
    if not config:
        return
    config = config if isinstance(config, dict) else {}
    check_keys(ctx.source, "provider.logs.websocket", config, _LOG_KEYS)

    def on(key: str) -> bool:
        return config.get(key) is None or bool(config[key])

    level = "OFF"
    if on("executionLogging"):
        level = str(config.get("level") or "INFO")
        if level not in ("INFO", "ERROR"):
            raise ctx.invalid(
                "provider.logs.websocket.level", f"`level` is INFO or ERROR, not `{level}`"
            )
    stage["DefaultRouteSettings"] = {
        "DataTraceEnabled": on("fullExecutionData"),
        "LoggingLevel": level,
    }
    if on("accessLogging"):
        group = naming.WEBSOCKETS_LOG_GROUP
        stage["AccessLogSettings"] = {
            "DestinationArn": {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                f":log-group:${{{group}}}"
            },
            "Format": str(config.get("format") or _LOG_FORMAT),
        }
    ctx.resources[naming.WEBSOCKETS_LOG_GROUP] = api_log_group(ctx, "websocket")
    ensure_api_gateway_cloudwatch_role(ctx)


def compile_websocket(ctx: Context) -> None:
    _check_provider(ctx)
    events = _events(ctx)
    if not events:
        return
    res = ctx.resources
    provider = ctx.provider
    apigw = provider.get("apiGateway") if isinstance(provider.get("apiGateway"), dict) else {}
    assert isinstance(apigw, dict)
    external = apigw.get("websocketApiId")
    api_id: Any = external if external else {"Ref": naming.WEBSOCKETS_API}
    description = provider.get("websocketsDescription") or DEFAULT_DESCRIPTION

    # api.js
    if not external:
        props: dict[str, Any] = {
            "Name": provider.get("websocketsApiName")
            or naming.websockets_api_name(ctx.service, ctx.stage),
            "RouteSelectionExpression": provider.get("websocketsApiRouteSelectionExpression")
            or DEFAULT_ROUTE_SELECTION,
            "Description": description,
            "ProtocolType": "WEBSOCKET",
        }
        websocket = provider.get("websocket") or {}
        if provider.get("tags") and websocket.get("useProviderTags"):
            props["Tags"] = dict(provider["tags"])
        lodash_merge(
            res, {naming.WEBSOCKETS_API: {"Type": "AWS::ApiGatewayV2::Api", "Properties": props}}
        )
    # (api.js returns before this for an external API: its functions get no such statement)
    statements = None if external else ctx.role_statements()
    if statements is not None:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["execute-api:ManageConnections"],
                "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:execute-api:*:*:*/@connections/*"}],
            }
        )

    # integrations.js
    for event in events:
        integration = {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": api_id,
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": _invocation_uri(event.fn.arn),
            },
        }
        lodash_merge(res, {naming.websockets_integration(event.fn.key): integration})

    # route-responses.js
    for event in events:
        if event.response_selection:
            res[naming.websockets_route_response(event.route)] = {
                "Type": "AWS::ApiGatewayV2::RouteResponse",
                "Properties": {
                    "ApiId": api_id,
                    "RouteId": {"Ref": naming.websockets_route(event.route)},
                    "RouteResponseKey": "$default",
                },
            }

    # authorizers.js
    for event in events:
        auth = event.authorizer
        if auth is None:
            continue
        authorizer = {
            "Type": "AWS::ApiGatewayV2::Authorizer",
            "Properties": {
                "ApiId": api_id,
                "Name": auth.name,
                "AuthorizerType": "REQUEST",
                "AuthorizerUri": auth.uri,
                "IdentitySource": list(auth.identity_source),
            },
        }
        lodash_merge(res, {naming.websockets_authorizer(auth.name): authorizer})

    # permissions.js
    api_depends = [api_id["Ref"]] if isinstance(api_id, dict) and "Ref" in api_id else []
    for event in events:
        permission = {
            "Type": "AWS::Lambda::Permission",
            "DependsOn": [*api_depends, event.fn.logical_id],
            "Properties": {
                "FunctionName": event.fn.arn,
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
            },
        }
        lodash_merge(res, {naming.websockets_permission(event.fn.key): permission})
        auth = event.authorizer
        if auth is None:
            continue
        depends = list(api_depends)
        auth_props: dict[str, Any] = {
            "Action": "lambda:InvokeFunction",
            "Principal": "apigateway.amazonaws.com",
        }
        if isinstance(auth.permission, dict) or ":" in str(auth.permission):
            auth_props["FunctionName"] = auth.permission
        else:
            auth_fn = next(f for f in ctx.functions if f.key == auth.name)
            auth_props["FunctionName"] = auth_fn.arn
            depends.append(auth.permission)
        lodash_merge(
            res,
            {
                naming.websockets_permission(auth.name): {
                    "Type": "AWS::Lambda::Permission",
                    "DependsOn": depends,
                    "Properties": auth_props,
                }
            },
        )

    # routes.js
    for event in events:
        route_props: dict[str, Any] = {
            "ApiId": api_id,
            "RouteKey": event.route,
            "AuthorizationType": "NONE",
            "Target": {
                "Fn::Join": [
                    "/",
                    ["integrations", {"Ref": naming.websockets_integration(event.fn.key)}],
                ]
            },
        }
        if event.response_selection:
            route_props["RouteResponseSelectionExpression"] = event.response_selection
        if event.authorizer is not None:
            route_props["AuthorizationType"] = "CUSTOM"
            route_props["AuthorizerId"] = {
                "Ref": naming.websockets_authorizer(event.authorizer.name)
            }
        lodash_merge(
            res,
            {
                naming.websockets_route(event.route): {
                    "Type": "AWS::ApiGatewayV2::Route",
                    "Properties": route_props,
                }
            },
        )

    # stage.js
    if not external:
        res[naming.WEBSOCKETS_STAGE] = {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"ApiId": api_id, "StageName": ctx.stage, "Description": description},
        }
        _compile_logs(ctx, res[naming.WEBSOCKETS_STAGE]["Properties"])

    # deployment.js
    depends_on: list[str] = []
    for event in events:
        if event.response_selection:
            depends_on.append(naming.websockets_route_response(event.route))
        depends_on.append(naming.websockets_route(event.route))
    digest = hashlib.sha256(js_stringify(_pick(res)).encode("utf-8")).digest()
    deployment_id = naming.websockets_deployment(base64.b64encode(digest).decode("ascii"))
    deployment_props: dict[str, Any] = {"ApiId": api_id, "Description": description}
    if external:
        deployment_props["StageName"] = ctx.stage
    lodash_merge(
        res,
        {
            deployment_id: {
                "Type": "AWS::ApiGatewayV2::Deployment",
                "DependsOn": depends_on,
                "Properties": deployment_props,
            }
        },
    )
    lodash_merge(
        ctx.outputs,
        {
            "ServiceEndpointWebsocket": {
                "Description": "URL of the service endpoint",
                "Value": join(
                    "wss://",
                    api_id,
                    ".execute-api.",
                    {"Ref": "AWS::Region"},
                    ".",
                    {"Ref": "AWS::URLSuffix"},
                    f"/{ctx.stage}",
                ),
            }
        },
    )
    stage = res.get(naming.WEBSOCKETS_STAGE)
    if isinstance(stage, dict) and isinstance(stage.get("Properties"), dict):
        stage["Properties"]["DeploymentId"] = {"Ref": deployment_id}
