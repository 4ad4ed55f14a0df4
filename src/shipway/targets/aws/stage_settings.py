"""A REST API stage's tracing, logging, metrics and tags, set after the deploy.

`serverless package` writes none of these into the template: the Framework v3 sets them
on the stage with API calls after the stack is deployed (api-gateway/lib/hack/
update-stage.js), and so does Shipway, with the same operations and defaults:

- `provider.tracing.apiGateway` -> `/tracingEnabled`;
- `provider.apiGateway.metrics` -> `/*/*/metrics/enabled`;
- `provider.logs.restApi` (`true` or a mapping) -> access logs to
  `/aws/api-gateway/<service>-<stage>` (the template's `ApiGatewayLogGroup`) in `format`
  (unless `accessLogging: false`), execution logs at `level` (INFO; OFF with
  `executionLogging: false`), `fullExecutionData` as data trace; `false` turns logging off;
- `provider.stackTags` + `provider.tags` -> the stage's tags (others removed, `aws:` kept).

Two differences, both safer: the settings are compared with the live stage and only what
differs is changed (so a stack left unchanged still gets a changed setting, and a deploy
interrupted after its stack is finished on the next run), and the stage's settings before
the change are kept so a rollback puts them back. The Framework also deletes the access
log group when access logging is off; Shipway leaves log groups to the template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shipway.model import DeployInput

__all__ = [
    "REST_API",
    "StageApi",
    "StageSettings",
    "StageState",
    "apply_stage",
    "desired_settings",
    "drift",
    "restore_stage",
    "stage_drift",
]

REST_API = "ApiGatewayRestApi"

#: update-stage.js's defaults
DEFAULT_FORMAT = ", ".join(
    [
        "requestId: $context.requestId",
        "ip: $context.identity.sourceIp",
        "caller: $context.identity.caller",
        "user: $context.identity.user",
        "requestTime: $context.requestTime",
        "httpMethod: $context.httpMethod",
        "resourcePath: $context.resourcePath",
        "status: $context.status",
        "protocol: $context.protocol",
        "responseLength: $context.responseLength",
    ]
)
DEFAULT_LEVEL = "INFO"

_TRACING = "/tracingEnabled"
_METRICS = "/*/*/metrics/enabled"
_DATA_TRACE = "/*/*/logging/dataTrace"
_LEVEL = "/*/*/logging/loglevel"
_ACCESS = "/accessLogSettings"
_ACCESS_ARN = "/accessLogSettings/destinationArn"
_ACCESS_FORMAT = "/accessLogSettings/format"


class StageApi(Protocol):
    def rest_api_id(self, name: str) -> str | None: ...
    def rest_api_stage(self, api_id: str, stage: str) -> dict[str, Any] | None: ...
    def create_rest_api_stage(self, api_id: str, stage: str) -> None: ...
    def update_rest_api_stage(
        self, api_id: str, stage: str, operations: Sequence[Mapping[str, str]]
    ) -> None: ...
    def tag_api_resource(
        self, arn: str, add: Mapping[str, str], remove: Sequence[str] = ()
    ) -> None: ...


@dataclass(frozen=True)
class StageSettings:
    """What a stage should be: patch path -> value (None: `/accessLogSettings` removed),
    and its tags (None: tags are not managed)."""

    stage: str
    values: Mapping[str, str | None] = field(default_factory=dict)
    tags: Mapping[str, str] | None = None


@dataclass(frozen=True)
class StageState:
    """A stage as it was before a deploy changed it (what a rollback restores)."""

    api_id: str
    settings: StageSettings
    region: str


def desired_settings(item: DeployInput, account: Callable[[], str]) -> StageSettings | None:
    """The stage settings the Framework would apply for this service; None when it
    applies none (none configured, or no REST API of this stack). `account` is asked only
    for an access log's ARN."""
    resolved = item.definition.resolved
    provider: Any = resolved.get("provider") or {}
    if not isinstance(provider, Mapping) or not _has_rest_api(item.template or {}):
        return None
    tracing = _section(provider, "tracing").get("apiGateway")
    metrics = _section(provider, "apiGateway").get("metrics")
    logs_section = _section(provider, "logs")
    has_tags = provider.get("tags") is not None or provider.get("stackTags") is not None
    if tracing is None and metrics is None and "restApi" not in logs_section and not has_tags:
        return None
    if logs_section.get("restApi") is None:
        logs_section = {}
    values: dict[str, str | None] = {}
    if tracing is not None:
        values[_TRACING] = _bool(tracing)
    if metrics is not None:
        values[_METRICS] = _bool(metrics)
    if "restApi" in logs_section:
        values.update(_logs(item, account, logs_section["restApi"]))
    tags = None
    if has_tags:
        merged = {**_section(provider, "stackTags"), **_section(provider, "tags")}
        tags = {str(k): _string(v) for k, v in merged.items()}
    return StageSettings(item.definition.stage, values, tags)


def drift(current: Mapping[str, Any] | None, wanted: StageSettings) -> bool:
    """Whether the live stage (GetStage's answer; None: missing) differs from `wanted`."""
    if current is None:
        return True
    return bool(_operations(current, wanted)) or _tag_changes(current, wanted) != ({}, [])


def apply_stage(
    api: StageApi, stack: str, item: DeployInput, account: Callable[[], str]
) -> tuple[StageState | None, bool]:
    """The settings applied to the stack's REST API stage: (the stage as it was, for a
    rollback; whether anything changed). (None, False) when the Framework applies
    nothing here."""
    wanted = desired_settings(item, account)
    if wanted is None:
        return None, False
    api_id = api.rest_api_id(_api_name(item))
    if api_id is None:
        return None, False
    current = api.rest_api_stage(api_id, wanted.stage)
    created = current is None
    if current is None:
        api.create_rest_api_stage(api_id, wanted.stage)
        current = api.rest_api_stage(api_id, wanted.stage) or {}
    region = item.definition.region
    before = StageState(api_id, _snapshot(current, wanted), region)
    changed = _apply(api, api_id, current, wanted, region)
    return before, changed or created


def restore_stage(api: StageApi, state: StageState) -> None:
    """The stage's settings put back as `state` holds them."""
    current = api.rest_api_stage(state.api_id, state.settings.stage)
    if current is not None:
        _apply(api, state.api_id, current, state.settings, state.region)


def stage_drift(api: StageApi, stack: str, item: DeployInput, account: Callable[[], str]) -> bool:
    """Whether a deploy would change the live stage's settings (the plan asks it of a
    stack whose template is unchanged)."""
    wanted = desired_settings(item, account)
    if wanted is None:
        return False
    api_id = api.rest_api_id(_api_name(item))
    if api_id is None:
        return False
    return drift(api.rest_api_stage(api_id, wanted.stage), wanted)


# --------------------------------------------------------------------------- parts


def _apply(
    api: StageApi, api_id: str, current: Mapping[str, Any], wanted: StageSettings, region: str
) -> bool:
    """What differs changed; whether anything did."""
    operations = _operations(current, wanted)
    if operations:
        api.update_rest_api_stage(api_id, wanted.stage, operations)
    add, remove = _tag_changes(current, wanted)
    if add or remove:
        stage = f"/restapis/{api_id}/stages/{wanted.stage}"
        api.tag_api_resource(f"arn:{_partition(region)}:apigateway:{region}::{stage}", add, remove)
    return bool(operations or add or remove)


def _operations(current: Mapping[str, Any], wanted: StageSettings) -> list[dict[str, str]]:
    live = _live(current)
    operations: list[dict[str, str]] = []
    for path, value in wanted.values.items():
        if live.get(path) == value:
            continue
        if value is None:
            operations.append({"op": "remove", "path": path})
        else:
            operations.append({"op": "replace", "path": path, "value": value})
    return operations


def _tag_changes(
    current: Mapping[str, Any], wanted: StageSettings
) -> tuple[dict[str, str], list[str]]:
    """(tags to set, keys to take off): the Framework's handleTags."""
    if wanted.tags is None:
        return {}, []
    live: Mapping[str, str] = current.get("tags") or {}
    remove = sorted(k for k in live if not k.startswith("aws:") and k not in wanted.tags)
    kept = {k: v for k, v in live.items() if not k.startswith("aws:") and k in wanted.tags}
    add = dict(wanted.tags) if kept != dict(wanted.tags) and wanted.tags else {}
    return add, remove


def _snapshot(current: Mapping[str, Any], wanted: StageSettings) -> StageSettings:
    """`current` restricted to what `wanted` changes: the state a rollback returns to."""
    live = _live(current)
    values: dict[str, str | None] = {}
    for path in wanted.values:
        if path.startswith(_ACCESS):
            if live.get(_ACCESS_ARN) is None:
                values[_ACCESS] = None
            else:
                values[_ACCESS_ARN] = live[_ACCESS_ARN]
                values[_ACCESS_FORMAT] = live.get(_ACCESS_FORMAT) or ""
        else:
            values[path] = live.get(path)
    tags = None
    if wanted.tags is not None:
        tags = {k: str(v) for k, v in (current.get("tags") or {}).items()}
    return StageSettings(wanted.stage, values, tags)


def _live(current: Mapping[str, Any]) -> dict[str, str | None]:
    """GetStage's answer as patch path -> value."""
    method: Mapping[str, Any] = (current.get("methodSettings") or {}).get("*/*") or {}
    access: Mapping[str, Any] | None = current.get("accessLogSettings") or None
    return {
        _TRACING: _bool(current.get("tracingEnabled", False)),
        _METRICS: _bool(method.get("metricsEnabled", False)),
        _DATA_TRACE: _bool(method.get("dataTraceEnabled", False)),
        _LEVEL: str(method.get("loggingLevel") or "OFF"),
        _ACCESS: None if access is None else "set",
        _ACCESS_ARN: None if access is None else str(access.get("destinationArn") or ""),
        _ACCESS_FORMAT: None if access is None else str(access.get("format") or ""),
    }


def _logs(item: DeployInput, account: Callable[[], str], logs: Any) -> dict[str, str | None]:
    """update-stage.js's handleLogs."""
    if not logs:
        return {_DATA_TRACE: "false", _LEVEL: "OFF"}
    config: Mapping[str, Any] = logs if isinstance(logs, Mapping) else {}
    values: dict[str, str | None] = {}
    if _default_true(config, "accessLogging"):
        definition = item.definition
        group = f"/aws/api-gateway/{definition.service}-{definition.stage}"
        partition, region = _partition(definition.region), definition.region
        values[_ACCESS_ARN] = f"arn:{partition}:logs:{region}:{account()}:log-group:{group}"
        values[_ACCESS_FORMAT] = str(config.get("format") or DEFAULT_FORMAT)
    else:
        values[_ACCESS] = None
    values[_DATA_TRACE] = _bool(_default_true(config, "fullExecutionData"))
    level = DEFAULT_LEVEL
    if not _default_true(config, "executionLogging"):
        level = "OFF"
    elif config.get("level"):
        level = str(config["level"])
    values[_LEVEL] = level
    return values


def _has_rest_api(template: Mapping[str, Any]) -> bool:
    """The Framework's resolveApiGatewayResource: this stack's one REST API, deployed."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    apis = [k for k, r in resources.items() if _type(r) == "AWS::ApiGateway::RestApi"]
    if apis != [REST_API]:
        return False
    return any(
        _type(r) == "AWS::ApiGateway::Deployment"
        and ((r.get("Properties") or {}).get("RestApiId") or {}) == {"Ref": REST_API}
        for r in resources.values()
    )


def _api_name(item: DeployInput) -> str:
    """The REST API's name in the template (resolveRestApiId: the API is found by it)."""
    resource = (item.template or {}).get("Resources", {}).get(REST_API) or {}
    return str((resource.get("Properties") or {}).get("Name", ""))


def _type(resource: Any) -> str:
    return str(resource.get("Type", "")) if isinstance(resource, Mapping) else ""


def _section(provider: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = provider.get(key)
    return value if isinstance(value, Mapping) else {}


def _default_true(config: Mapping[str, Any], key: str) -> bool:
    value = config.get(key)
    return True if value is None else bool(value)


def _bool(value: Any) -> str:
    return "true" if value else "false"


def _string(value: Any) -> str:
    """JavaScript's String(v) of a YAML scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
