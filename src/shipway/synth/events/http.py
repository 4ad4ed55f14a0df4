"""`http` events: the REST API (lib/plugins/aws/package/compile/events/api-gateway/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shipway.config.authorizers import RestAuthorizer, rest_authorizer
from shipway.synth import naming
from shipway.synth.cfn import DEFAULT_CORS_HEADERS, execute_api_url, invoke_permission
from shipway.synth.context import Context, FunctionInfo, check_keys
from shipway.synth.events.http_api_logs import compile_rest_api_logs
from shipway.synth.events.http_lambda import (
    AWS,
    integration_kind,
    lambda_integration,
    method_responses,
)
from shipway.synth.events.rest_authorizers import compile_rest_authorizer, method_authorization
from shipway.synth.events.rest_resources import predefined_resources, resource_paths
from shipway.synth.jsutil import lodash_merge

__all__ = ["compile_http"]

_EVENT_KEYS = (
    "path",
    "method",
    "cors",
    "private",
    "integration",
    "request",
    "operationId",
    "response",  # `integration: lambda` only (http_lambda.py)
    "authorizer",
)
_APIGW_KEYS = (
    "shouldStartNameWithService",
    "binaryMediaTypes",
    "description",
    "minimumCompressionSize",
    "apiKeySourceType",
    "disableDefaultEndpoint",
    "resourcePolicy",
    "metrics",
    "restApiId",
    "restApiRootResourceId",
    "restApiResources",
)


def _union(*lists: list[Any]) -> list[Any]:
    out: list[Any] = []
    for items in lists:
        for item in items or []:
            if item not in out:
                out.append(item)
    return out


@dataclass
class _Event:
    fn: FunctionInfo
    path: str  # without leading/trailing "/"
    method: str  # lower case
    config: dict[str, Any]
    authorizer: RestAuthorizer | None = None


def _parse(ctx: Context, fn: FunctionInfo, index: int, raw: Any) -> _Event:
    key = f"functions.{fn.key}.events[{index}].http"
    if isinstance(raw, str):
        parts = raw.split(" ")
        method, path = [*parts, ""][:2]
        config: dict[str, Any] = {"method": method, "path": path}
    elif isinstance(raw, dict):
        config = dict(raw)
        check_keys(ctx.source, key, config, _EVENT_KEYS)
    else:
        raise ctx.invalid(key, "an `http` event must be a string or a mapping")
    integration_kind(ctx, key, config)  # AWS_PROXY, or AWS for `integration: lambda`
    path = str(config.get("path", "")).strip()
    if path.startswith("/"):
        path = path[1:]
    if path.endswith("/"):
        path = path[:-1]
    authorizer = rest_authorizer(
        ctx.source,
        f"{key}.authorizer",
        config.get("authorizer"),
        {info.key: info.spec for info in ctx.functions},
    )
    return _Event(fn, path, str(config.get("method", "")).lower(), config, authorizer)


def _cors(event: _Event) -> dict[str, Any]:
    """validate.js getCors."""
    http = event.config
    method = event.method.upper()
    cors: dict[str, Any] = {
        "origin": "*",
        "methods": ["OPTIONS"],
        "headers": list(DEFAULT_CORS_HEADERS),
        "allowCredentials": False,
    }
    if isinstance(http.get("cors"), dict):
        user = http["cors"]
        if user.get("origins"):
            del cors["origin"]
        cors.update(user)
        cors["methods"] = list(cors.get("methods") or [])
        cors["allowCredentials"] = bool(cors.get("allowCredentials"))
        headers = cors.get("headers")
        if headers:
            if isinstance(headers, str):
                cors["headers"] = [headers]
        else:
            cors["headers"] = list(DEFAULT_CORS_HEADERS)
        if "OPTIONS" not in cors["methods"]:
            cors["methods"].append("OPTIONS")
        if method not in cors["methods"]:
            cors["methods"].append(method)
    else:
        cors["methods"].append(method)
    return cors


def _cors_template(origins: list[str]) -> str:
    regexes = [o.replace(".", "[.]").replace("*", ".+", 1) for o in origins]
    matches = " || ".join(f'$origin.matches("{r}")' for r in regexes)
    return (
        '#set($origin = $input.params("Origin"))\n'
        '#if($origin == "") #set($origin = $input.params("origin")) #end\n'
        f"#if({matches}) #set($context.responseOverride.header.Access-Control-Allow-Origin"
        " = $origin) #end"
    )


def compile_http(ctx: Context) -> None:
    events: list[_Event] = []
    preflight: dict[str, dict[str, Any]] = {}
    for fn in ctx.functions:
        for index, item in enumerate(fn.spec.get("events") or []):
            if isinstance(item, dict) and "http" in item:
                event = _parse(ctx, fn, index, item["http"])
                events.append(event)
                if event.config.get("cors"):
                    cors = _cors(event)
                    merged = preflight.get(event.path, {})
                    merged["headers"] = _union(cors["headers"], merged.get("headers", []))
                    merged["methods"] = _union(cors["methods"], merged.get("methods", []))
                    merged["origins"] = _union(cors.get("origins") or [], merged.get("origins", []))
                    merged["origin"] = cors.get("origin")
                    merged["allowCredentials"] = (
                        merged.get("allowCredentials") or cors["allowCredentials"]
                    )
                    for key in ("maxAge", "cacheControl"):
                        if cors.get(key):
                            merged[key] = cors[key]
                    preflight[event.path] = merged
    if not events:
        return
    if not all(c.isalnum() or c in "-_" for c in ctx.stage):
        raise ctx.invalid("stage", f"invalid stage name `{ctx.stage}` for an API Gateway stage")

    apigw = ctx.provider.get("apiGateway") or {}
    check_keys(ctx.source, "provider.apiGateway", apigw, _APIGW_KEYS)
    res = ctx.resources
    external = apigw.get("restApiId")  # a REST API made elsewhere: this stack adds to it
    _check_external(ctx, apigw)
    rest_ref: Any = external or {"Ref": naming.REST_API}
    root_ref: Any = apigw.get("restApiRootResourceId") or {
        "Fn::GetAtt": [naming.REST_API, "RootResourceId"]
    }

    # ---- rest-api.js
    if not external:
        _compile_rest_api(ctx, apigw)

    # ---- resources.js: one resource per path segment (but those given), parents first
    def tree_error(message: str) -> Exception:
        return ctx.invalid("provider.apiGateway.restApiResources", message)

    tree = resource_paths(
        [e.path for e in events if e.path],
        predefined_resources(apigw.get("restApiResources")),
        tree_error,
    )

    def resource_ref(path: str) -> Any:
        if not path:
            return root_ref
        node = tree.get(path)
        if node is None:
            near = [k for k in tree if k.strip("/") == path]
            raise tree_error(
                f"no API Gateway resource for path `{path}`"
                + (
                    f" (`{near[0]}` is given: when every method's resource is given, the "
                    "Framework matches the paths as written, so write it without the `/`)"
                    if near
                    else ""
                )
            )
        return node.resource_id

    def resource_name(path: str) -> str:
        node = tree.get(path) if path else None
        return (node.name or "") if node is not None else ""

    for node in tree.values():
        if node.resource_id:
            continue  # given: a resource of the external REST API
        logical_id = naming.resource_logical_id(node.path)
        node.resource_id = {"Ref": logical_id}
        res[logical_id] = {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "ParentId": node.parent.resource_id if node.parent else root_ref,
                "PathPart": node.part,
                "RestApiId": rest_ref,
            },
        }

    method_ids: list[str] = []
    # ---- cors.js
    for path, cors in preflight.items():
        method_id = naming.method_logical_id(resource_name(path), "options")
        origin = cors.get("origin")
        origins = cors.get("origins") if isinstance(cors.get("origins"), list) else None
        if origin and "," in origin:
            origins = [o.strip() for o in origin.split(",")]
        if origins:
            origin = origins[0]
        headers = {
            "Access-Control-Allow-Origin": f"'{origin}'",
            "Access-Control-Allow-Headers": f"'{','.join(cors['headers'])}'",
            "Access-Control-Allow-Methods": f"'{','.join(cors['methods'])}'",
        }
        if cors.get("allowCredentials"):
            headers["Access-Control-Allow-Credentials"] = "'true'"
        if cors.get("maxAge"):
            headers["Access-Control-Max-Age"] = f"'{cors['maxAge']}'"
        if cors.get("cacheControl"):
            headers["Cache-Control"] = f"'{cors['cacheControl']}'"
        if "ANY" in cors["methods"]:
            headers["Access-Control-Allow-Methods"] = headers[
                "Access-Control-Allow-Methods"
            ].replace("ANY", "DELETE,GET,HEAD,PATCH,POST,PUT", 1)
        method_ids.append(method_id)
        res[method_id] = {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "AuthorizationType": "NONE",
                "HttpMethod": "OPTIONS",
                "MethodResponses": [
                    {
                        "StatusCode": "200",
                        "ResponseParameters": {
                            f"method.response.header.{h}": True for h in headers
                        },
                        "ResponseModels": {},
                    }
                ],
                "RequestParameters": {},
                "Integration": {
                    "Type": "MOCK",
                    "RequestTemplates": {"application/json": "{statusCode:200}"},
                    "ContentHandling": "CONVERT_TO_TEXT",
                    "IntegrationResponses": [
                        {
                            "StatusCode": "200",
                            "ResponseParameters": {
                                f"method.response.header.{h}": v for h, v in headers.items()
                            },
                            "ResponseTemplates": {
                                "application/json": _cors_template(origins) if origins else ""
                            },
                        }
                    ],
                },
                "ResourceId": resource_ref(path),
                "RestApiId": rest_ref,
            },
        }

    # ---- method/index.js
    permissions: list[FunctionInfo] = []
    for event in events:
        http = event.config
        parameters: dict[str, Any] = {}
        request = http.get("request")
        if isinstance(request, dict) and isinstance(request.get("parameters"), dict):
            for key, value in request["parameters"].items():
                if isinstance(value, dict):
                    parameters[key] = value.get("required", True)
                else:
                    parameters[key] = value
        method_id = naming.method_logical_id(resource_name(event.path), event.method)
        method_props: dict[str, Any] = {
            "HttpMethod": event.method.upper(),
            "RequestParameters": parameters,
            "ResourceId": resource_ref(event.path),
            "RestApiId": rest_ref,
        }
        if http.get("operationId"):
            method_props["OperationName"] = http["operationId"]
        method_props["ApiKeyRequired"] = bool(http.get("private"))
        method_props["AuthorizationType"] = "NONE"
        method_props["Integration"] = {
            "IntegrationHttpMethod": "POST",
            "Type": "AWS_PROXY",
            "Uri": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":apigateway:",
                        {"Ref": "AWS::Region"},
                        ":lambda:path/2015-03-31/functions/",
                        event.fn.arn,
                        "/invocations",
                    ],
                ]
            },
        }
        method_props["MethodResponses"] = []
        if integration_kind(ctx, "", http) == AWS:  # non-proxy: http_lambda.py
            lambda_cors = _cors(event) if http.get("cors") else None
            uri = method_props["Integration"]["Uri"]
            method_props["Integration"] = lambda_integration(http, uri, lambda_cors)
            method_props["MethodResponses"] = method_responses(http, lambda_cors)
        method_ids.append(method_id)
        permissions.append(event.fn)
        method: dict[str, Any] = {
            "Type": "AWS::ApiGateway::Method",
            "Properties": method_props,
            "DependsOn": [naming.lambda_api_gateway_permission(event.fn.key)],
        }
        # method/index.js `_.merge`s the authorization in: its DependsOn list replaces the
        # permission's by index, as lodash merges arrays
        lodash_merge(method, method_authorization(event.authorizer))
        res[method_id] = method
        compile_rest_authorizer(res, event.authorizer, rest_ref)

    # ---- deployment.js
    deployment: dict[str, Any] = {"RestApiId": rest_ref, "StageName": ctx.stage}
    if apigw.get("description"):
        deployment["Description"] = apigw["description"]
    res[naming.api_gateway_deployment(ctx.instance_id)] = {
        "Type": "AWS::ApiGateway::Deployment",
        "Properties": deployment,
        "DependsOn": method_ids,
    }
    ctx.outputs["ServiceEndpoint"] = {
        "Description": "URL of the service endpoint",
        "Value": execute_api_url(rest_ref, f"/{ctx.stage}"),
    }

    # ---- permissions.js
    for fn in permissions:
        res[naming.lambda_api_gateway_permission(fn.key)] = invoke_permission(
            fn.arn, rest_ref, "/*/*"
        )

    # ---- stage.js: the access log group (the stage's settings are set after the deploy)
    compile_rest_api_logs(ctx)


def _compile_rest_api(ctx: Context, apigw: dict[str, Any]) -> None:
    """rest-api.js: the service's own REST API."""
    endpoint = str(ctx.provider.get("endpointType") or "EDGE").upper()
    endpoint_config: dict[str, Any] = {"Types": [endpoint]}
    if ctx.provider.get("vpcEndpointIds"):
        endpoint_config["VpcEndpointIds"] = ctx.provider["vpcEndpointIds"]
    props: dict[str, Any] = {
        "Name": ctx.provider.get("apiName")
        or naming.api_gateway_name(
            ctx.service, ctx.stage, bool(apigw.get("shouldStartNameWithService"))
        )
    }
    if apigw.get("binaryMediaTypes"):
        props["BinaryMediaTypes"] = apigw["binaryMediaTypes"]
    if apigw.get("disableDefaultEndpoint") is not None:
        props["DisableExecuteApiEndpoint"] = apigw["disableDefaultEndpoint"]
    props["EndpointConfiguration"] = endpoint_config
    policy = apigw.get("resourcePolicy")
    props["Policy"] = {"Version": "2012-10-17", "Statement": policy} if policy else ""
    if apigw.get("apiKeySourceType"):
        props["ApiKeySourceType"] = str(apigw["apiKeySourceType"]).upper()
    if apigw.get("minimumCompressionSize") is not None:
        props["MinimumCompressionSize"] = apigw["minimumCompressionSize"]
    if apigw.get("description"):
        props["Description"] = apigw["description"]
    ctx.resources[naming.REST_API] = {"Type": "AWS::ApiGateway::RestApi", "Properties": props}


def _check_external(ctx: Context, apigw: dict[str, Any]) -> None:
    """validate.js: what an external REST API (`restApiId`) needs and makes ineffective."""
    if not apigw.get("restApiId"):
        return
    key = "provider.apiGateway"
    if not apigw.get("restApiRootResourceId"):
        raise ctx.invalid(
            f"{key}.restApiRootResourceId",
            "`restApiRootResourceId` is required with `restApiId` (the root resource of the "
            "REST API made elsewhere)",
        )
    for section, key in (("tracing", "apiGateway"), ("logs", "restApi")):
        config = ctx.provider.get(section)
        if isinstance(config, dict) and config.get(key) is not None:
            raise ctx.invalid(
                f"provider.{section}.{key}",
                "with an external REST API (`provider.apiGateway.restApiId`) "
                f"`provider.{section}.{key}` is ineffective: set it on the API's own service",
            )
