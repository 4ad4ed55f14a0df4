"""Every logical ID and physical name, as the Framework v3's lib/plugins/aws/lib/naming.js."""

from __future__ import annotations

import re

from shipway.synth.jsutil import upper_first

__all__ = [
    "API_GATEWAY_DEPLOYMENT_PREFIX",
    "DEPLOYMENT_BUCKET",
    "DEPLOYMENT_BUCKET_OUTPUT",
    "DEPLOYMENT_BUCKET_POLICY",
    "HTTP_API",
    "HTTP_API_STAGE",
    "REST_API",
    "REST_API_LOG_GROUP",
    "ROLE",
    "api_gateway_authorizer",
    "api_gateway_deployment",
    "api_gateway_name",
    "bucket_logical_id",
    "function_name",
    "http_api_authorizer",
    "http_api_authorizer_permission",
    "http_api_integration",
    "http_api_name",
    "http_api_permission",
    "http_api_route",
    "lambda_api_gateway_permission",
    "lambda_layer_hash_output",
    "lambda_layer_logical_id",
    "lambda_layer_output",
    "lambda_layer_permission",
    "lambda_layer_s3_key_output",
    "lambda_logical_id",
    "lambda_version_logical_id",
    "lambda_version_output",
    "log_group",
    "log_group_name",
    "method_logical_id",
    "normalize_name",
    "normalize_path",
    "normalize_path_part",
    "normalized_function_name",
    "policy_name",
    "queue_logical_id",
    "resource_logical_id",
    "role_name",
    "s3_permission",
    "schedule_id",
    "schedule_logical_id",
    "schedule_permission",
    "sns_permission",
    "sns_subscription",
    "stack_name",
    "stream_logical_id",
    "topic_logical_id",
]

DEPLOYMENT_BUCKET = "ServerlessDeploymentBucket"
DEPLOYMENT_BUCKET_POLICY = "ServerlessDeploymentBucketPolicy"
DEPLOYMENT_BUCKET_OUTPUT = "ServerlessDeploymentBucketName"
ROLE = "IamRoleLambdaExecution"
REST_API = "ApiGatewayRestApi"
HTTP_API = "HttpApi"
HTTP_API_STAGE = "HttpApiStage"
HTTP_API_LOG_GROUP = "HttpApiLogGroup"
REST_API_LOG_GROUP = "ApiGatewayLogGroup"
API_GATEWAY_DEPLOYMENT_PREFIX = "ApiGatewayDeployment"

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
_VAR = re.compile(r"\{(.*)\}")


# ------------------------------------------------------------------ general


def normalize_name(name: str) -> str:
    return upper_first(name)


def normalize_alnum(name: str) -> str:
    return normalize_name(_NON_ALNUM.sub("", name))


def normalized_function_name(name: str) -> str:
    """getNormalizedResourceName: `-` -> `Dash`, `_` -> `Underscore`, first letter upper."""
    return normalize_name(name.replace("-", "Dash").replace("_", "Underscore"))


def _lodash_capitalize(text: str) -> str:
    return text[:1].upper() + text[1:].lower()


def normalize_path_part(part: str) -> str:
    text = _lodash_capitalize(part).replace("-", "Dash")
    text = _VAR.sub(r"\1Var", text)
    return upper_first(_NON_ALNUM.sub("", text))


def normalize_path(path: str) -> str:
    return "".join(normalize_path_part(p) for p in path.split("/"))


# ------------------------------------------------------------------ stack, role


def stack_name(service: str, stage: str, custom: str | None = None) -> str:
    return custom if custom else f"{service}-{stage}"


def role_name(service: str, stage: str) -> dict[str, object]:
    return {"Fn::Join": ["-", [service, stage, {"Ref": "AWS::Region"}, "lambdaRole"]]}


def policy_name(service: str, stage: str) -> dict[str, object]:
    return {"Fn::Join": ["-", [service, stage, "lambda"]]}


# ------------------------------------------------------------------ functions


def function_name(service: str, stage: str, fn: str) -> str:
    return f"{service}-{stage}-{fn}"


def log_group(fn: str) -> str:
    return f"{normalized_function_name(fn)}LogGroup"


def log_group_name(physical_name: str) -> str:
    return f"/aws/lambda/{physical_name}"


def lambda_logical_id(fn: str) -> str:
    return f"{normalized_function_name(fn)}LambdaFunction"


def lambda_version_logical_id(fn: str, sha: str) -> str:
    return f"{normalized_function_name(fn)}LambdaVersion{_NON_ALNUM.sub('', sha)}"


def lambda_version_output(fn: str) -> str:
    return f"{lambda_logical_id(fn)}QualifiedArn"


# ------------------------------------------------------------------ layers


def lambda_layer_logical_id(layer: str) -> str:
    return f"{normalized_function_name(layer)}LambdaLayer"


def lambda_layer_permission(layer: str, account: str) -> str:
    """As the Framework writes it: only the first `*` is replaced, nothing else."""
    account_part = account.replace("*", "Wild", 1)
    return f"{normalized_function_name(layer)}{account_part}LambdaLayerPermission"


def lambda_layer_output(layer: str) -> str:
    return f"{lambda_layer_logical_id(layer)}QualifiedArn"


def lambda_layer_hash_output(layer: str) -> str:
    return f"{lambda_layer_logical_id(layer)}Hash"


def lambda_layer_s3_key_output(layer: str) -> str:
    return f"{lambda_layer_logical_id(layer)}S3Key"


# ------------------------------------------------------------------ REST API (http)


def api_gateway_name(service: str, stage: str, start_with_service: bool = False) -> str:
    return f"{service}-{stage}" if start_with_service else f"{stage}-{service}"


def api_gateway_deployment(instance_id: str) -> str:
    return f"{API_GATEWAY_DEPLOYMENT_PREFIX}{instance_id}"


def resource_logical_id(path: str) -> str:
    return f"ApiGatewayResource{normalize_path(path)}"


def method_logical_id(resource_name: str, method: str) -> str:
    return f"ApiGatewayMethod{resource_name}{normalize_name(method.lower())}"


def lambda_api_gateway_permission(fn: str) -> str:
    return f"{normalized_function_name(fn)}LambdaPermissionApiGateway"


def api_gateway_authorizer(name: str) -> str:
    return f"{normalized_function_name(name)}ApiGatewayAuthorizer"


# ------------------------------------------------------------------ HTTP API (httpApi)


def http_api_name(service: str, stage: str, start_with_service: bool = False) -> str:
    """The same rule as the REST API's name."""
    return api_gateway_name(service, stage, start_with_service)


def http_api_integration(fn: str) -> str:
    return f"HttpApiIntegration{normalized_function_name(fn)}"


def http_api_route(route_key: str) -> str:
    if route_key == "*":
        return "HttpApiRouteDefault"
    return f"HttpApiRoute{normalize_path(route_key)}"


def http_api_permission(fn: str) -> str:
    return f"{normalized_function_name(fn)}LambdaPermissionHttpApi"


def http_api_authorizer(name: str) -> str:
    return f"HttpApiAuthorizer{normalized_function_name(name)}"


def http_api_authorizer_permission(name: str) -> str:
    return f"{normalized_function_name(name)}LambdaAuthorizerPermissionHttpApi"


# ------------------------------------------------------------------ WebSocket API (websocket)

WEBSOCKETS_API = "WebsocketsApi"
WEBSOCKETS_STAGE = "WebsocketsDeploymentStage"


def websockets_api_name(service: str, stage: str) -> str:
    return f"{stage}-{service}-websockets"


def websockets_route_key(route: str) -> str:
    """getNormalizedWebsocketsRouteKey: `$connect` -> `Sconnect`, `a/b-c_d.e` ->
    `aSlashbDashcUnderscoredPeriode`."""
    return (
        route.replace("$", "S")
        .replace("/", "Slash")
        .replace("-", "Dash")
        .replace("_", "Underscore")
        .replace(".", "Period")
    )


def websockets_route(route: str) -> str:
    return f"{websockets_route_key(route)}WebsocketsRoute"


def websockets_route_response(route: str) -> str:
    return f"{websockets_route(route)}Response"


def websockets_integration(fn: str) -> str:
    return f"{normalized_function_name(fn)}WebsocketsIntegration"


def websockets_permission(fn: str) -> str:
    return f"{normalized_function_name(fn)}LambdaPermissionWebsockets"


def websockets_authorizer(name: str) -> str:
    return f"{normalized_function_name(name)}WebsocketsAuthorizer"


def websockets_deployment(sha: str) -> str:
    return f"WebsocketsDeployment{_NON_ALNUM.sub('', sha)}"


__all__ += [
    "WEBSOCKETS_API",
    "WEBSOCKETS_STAGE",
    "websockets_api_name",
    "websockets_authorizer",
    "websockets_deployment",
    "websockets_integration",
    "websockets_permission",
    "websockets_route",
    "websockets_route_key",
    "websockets_route_response",
]


# ------------------------------------------------------------------ other events


def schedule_id(fn: str) -> str:
    return f"{fn}Schedule"


def schedule_logical_id(fn: str, index: int) -> str:
    return f"{normalized_function_name(fn)}EventsRuleSchedule{index}"


def schedule_permission(fn: str, index: int) -> str:
    return f"{normalized_function_name(fn)}LambdaPermissionEventsRuleSchedule{index}"


def queue_logical_id(fn: str, queue: str) -> str:
    return f"{normalized_function_name(fn)}EventSourceMappingSQS{normalize_alnum(queue)}"


def stream_logical_id(fn: str, stream_type: str, stream: str) -> str:
    return (
        f"{normalized_function_name(fn)}EventSourceMapping"
        f"{normalize_name(stream_type)}{normalize_alnum(stream)}"
    )


def topic_logical_id(topic: str) -> str:
    return f"SNSTopic{normalize_alnum(topic)}"


def sns_subscription(fn: str, topic: str) -> str:
    return f"{normalized_function_name(fn)}SnsSubscription{normalize_alnum(topic)}"


def sns_permission(fn: str, topic: str) -> str:
    return f"{normalized_function_name(fn)}LambdaPermission{normalize_alnum(topic)}SNS"


def bucket_logical_id(bucket: str) -> str:
    return f"S3Bucket{normalize_alnum(bucket)}"


def s3_permission(fn: str, bucket: str) -> str:
    return f"{normalized_function_name(fn)}LambdaPermission{normalize_alnum(bucket)}S3"


# ------------------------------------------------------------------ eventBridge


def eventbridge_bus(bus: str) -> str:
    return f"{normalized_function_name(bus)}EventBridgeEventBus"


def eventbridge_rule(rule_stub: str) -> str:
    return f"{normalize_alnum(rule_stub)}EventBridgeRule"


def eventbridge_permission(fn: str, index: int) -> str:
    return f"{normalized_function_name(fn)}EventBridgeLambdaPermission{index}"


# ------------------------------------------------------------------ custom resources

CUSTOM_RESOURCES_ROLE = "IamRoleCustomResourcesLambdaExecution"
CUSTOM_RESOURCES_ARTIFACT = "custom-resources.zip"
APIGW_CLOUDWATCH_ROLE_RESOURCE = "CustomApiGatewayAccountCloudWatchRole"
WEBSOCKETS_LOG_GROUP = "WebsocketsLogGroup"


def custom_s3_resource(fn: str) -> str:
    """getCustomResourceS3ResourceLogicalId: one `Custom::S3` per function (the `1` stays
    for backwards compatibility)."""
    return f"{normalized_function_name(fn)}CustomS31"


__all__ += [
    "APIGW_CLOUDWATCH_ROLE_RESOURCE",
    "CUSTOM_RESOURCES_ARTIFACT",
    "CUSTOM_RESOURCES_ROLE",
    "WEBSOCKETS_LOG_GROUP",
    "custom_s3_resource",
]
