"""API authorizers as the Serverless Framework v3.40.0 reads them, as plain data.

`http` events: lib/plugins/aws/package/compile/events/api-gateway/lib/validate.js
(`getAuthorizer`); `httpApi` events: http-api.js (`resolveConfiguration`). Synthesis turns
these into CloudFormation; the local runtime reads `route_authorizer`, the one description
of what guards a route. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shipway.errors import ShipwayError, Where
from shipway.model import ServiceDefinition

__all__ = [
    "DEFAULT_REST_IDENTITY_SOURCE",
    "AuthorizerView",
    "HttpApiAuthorizer",
    "HttpApiRouteAuthorizer",
    "RestAuthorizer",
    "http_api_authorizers",
    "http_api_route_authorizer",
    "is_cognito_arn",
    "rest_authorizer",
    "route_authorizer",
]

DEFAULT_REST_IDENTITY_SOURCE = "method.request.header.Authorization"
_COGNITO_ARN = re.compile(r"^arn:[a-zA-Z-]*:cognito-idp")
_REST_KEYS = (
    "name",
    "arn",
    "type",
    "authorizerId",
    "identitySource",
    "identityValidationExpression",
    "resultTtlInSeconds",
    "scopes",
    "managedExternally",
)
_JWT_KEYS = ("type", "name", "identitySource", "issuerUrl", "audience")
_REQUEST_KEYS = (
    "type",
    "name",
    "functionName",
    "functionArn",
    "managedExternally",
    "resultTtlInSeconds",
    "enableSimpleResponses",
    "payloadVersion",
    "identitySource",
)
_ROUTE_KEYS = ("id", "name", "scopes", "type")

Kind = Literal["lambda-token", "lambda-request", "jwt", "cognito", "iam", "external"]


def _unsupported(source: str, key: str, hint: str | None = None) -> ShipwayError:
    return ShipwayError(
        "this setting is not supported by Shipway's CloudFormation synthesis",
        Where(source, key=key),
        hint=hint,
    )


def _invalid(source: str, key: str, message: str) -> ShipwayError:
    return ShipwayError(message, Where(source, key=key))


def _check_keys(source: str, base: str, value: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in value:
        if key not in allowed:
            raise _unsupported(source, f"{base}.{key}")


def is_cognito_arn(value: Any) -> bool:
    return isinstance(value, str) and bool(_COGNITO_ARN.match(value))


def _name_from_arn(arn: str) -> str:
    """naming.js extractAuthorizerNameFromArn: the part after the last `-` of the name."""
    return arn.split(":")[-1].split("-")[-1]


def _lambda_arn(function: str) -> dict[str, Any]:
    """resolve-lambda-target.js, without aliases (Shipway refuses provisioned concurrency)."""
    upper = function.replace("-", "Dash").replace("_", "Underscore")
    return {"Fn::GetAtt": [f"{upper[:1].upper()}{upper[1:]}LambdaFunction", "Arn"]}


# --------------------------------------------------------------------------- http (REST)


@dataclass(frozen=True)
class RestAuthorizer:
    """validate.js getAuthorizer's result; `None` fields are the Framework's `undefined`."""

    type: str | None  # as written (`token`, `REQUEST`, `COGNITO_USER_POOLS`, `AWS_IAM` …)
    name: str | None
    arn: Any  # a string ARN, a CloudFormation function, or the function's Fn::GetAtt
    function: str | None  # the authorizer function of this service, when named
    authorizer_id: Any
    result_ttl: int | None
    identity_source: str | None
    identity_validation_expression: str | None
    scopes: tuple[Any, ...] | None
    managed_externally: bool

    @property
    def is_iam(self) -> bool:
        return self.type == "AWS_IAM"

    @property
    def is_cognito(self) -> bool:
        return (self.type or "").upper() == "COGNITO_USER_POOLS" or is_cognito_arn(self.arn)


def rest_authorizer(
    source: str, key: str, raw: Any, functions: Mapping[str, Any]
) -> RestAuthorizer | None:
    """An `http` event's `authorizer:` (at `key`), or None when it has none."""
    if not raw:
        return None
    type_: str | None = None
    name: str | None = None
    arn: Any = None
    function: str | None = None
    authorizer_id: Any = None
    ttl: int | None = None
    identity: str | None = None
    expression: str | None = None
    scopes: tuple[Any, ...] | None = None
    managed = False
    if isinstance(raw, str):
        if raw.upper() == "AWS_IAM":
            type_ = "AWS_IAM"
        elif ":" not in raw:
            function = name = raw
        else:
            arn, name = raw, _name_from_arn(raw)
    elif isinstance(raw, dict):
        _check_keys(source, key, raw, _REST_KEYS)
        raw_type = raw.get("type")
        if raw_type is not None and not isinstance(raw_type, str):
            raise _invalid(source, f"{key}.type", "`type` must be a string")
        if raw_type and raw.get("authorizerId"):
            type_, authorizer_id = raw_type, raw["authorizerId"]
        elif raw_type and raw_type.upper() == "AWS_IAM":
            type_ = "AWS_IAM"
        elif raw.get("arn"):
            arn = raw["arn"]
            if isinstance(raw.get("name"), str):
                name = raw["name"]
            elif isinstance(arn, str):
                name = _name_from_arn(arn)
            else:
                raise _invalid(
                    source,
                    f"{key}.name",
                    "an authorizer given by a CloudFormation `arn` needs a `name`",
                )
        elif raw.get("name"):
            function = name = str(raw["name"])
        else:
            raise _invalid(source, key, "an authorizer needs a function `name` or an `arn`")
        if not type_:
            type_ = raw_type
        if type_ and type_.upper() not in (
            "TOKEN",
            "REQUEST",
            "COGNITO_USER_POOLS",
            "AWS_IAM",
            "CUSTOM",
        ):
            raise _invalid(
                source,
                f"{key}.type",
                f"unknown authorizer type `{type_}` (token, request, cognito_user_pools, aws_iam)",
            )
        ttl = _ttl(source, key, raw.get("resultTtlInSeconds"))
        if raw.get("scopes") is not None:
            if not isinstance(raw["scopes"], list):
                raise _invalid(source, f"{key}.scopes", "`scopes` must be a list")
            scopes = tuple(raw["scopes"])
        identity = _optional_str(source, f"{key}.identitySource", raw.get("identitySource"))
        expression = _optional_str(
            source, f"{key}.identityValidationExpression", raw.get("identityValidationExpression")
        )
        managed = bool(raw.get("managedExternally"))
    else:
        raise _invalid(source, key, "`authorizer` must be a string or a mapping")
    if (type_ or "").upper() == "CUSTOM" and not authorizer_id:
        raise _invalid(source, f"{key}.type", "`type: custom` needs the `authorizerId` it names")
    if function is not None and function not in functions:
        raise _invalid(source, key, f"authorizer function `{function}` is not in this service")
    if not identity and not ((type_ or "").upper() == "REQUEST" and ttl == 0):
        identity = DEFAULT_REST_IDENTITY_SOURCE
    if function is not None:
        arn = _lambda_arn(function)
    return RestAuthorizer(
        type_, name, arn, function, authorizer_id, ttl, identity, expression, scopes, managed
    )


def _ttl(source: str, key: str, value: Any) -> int:
    """`Number.parseInt(value, 10)`, 300 when it is not a number."""
    if isinstance(value, bool) or value is None:
        return 300
    match = re.match(r"^\s*([+-]?\d+)", str(value))
    ttl = int(match.group(1)) if match else 300
    if not 0 <= ttl <= 3600:
        raise _invalid(source, f"{key}.resultTtlInSeconds", "must be between 0 and 3600")
    return ttl


def _optional_str(source: str, key: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid(source, key, "must be a string")
    return value


# --------------------------------------------------------------------------- httpApi


@dataclass(frozen=True)
class HttpApiAuthorizer:
    """One entry of `provider.httpApi.authorizers`, as http-api.js keeps it."""

    key: str  # the name under `authorizers:` (what events refer to)
    name: str  # `name:` or the key: the resource's Name and logical ID
    type: str | None  # `request`, `jwt` or None (JWT)
    identity_source: tuple[Any, ...]
    issuer_url: Any
    audience: tuple[Any, ...]
    function: str | None
    function_arn: Any
    managed_externally: bool
    result_ttl: int | None
    simple_responses: bool | None
    payload_version: str

    @property
    def is_request(self) -> bool:
        return self.type == "request"


def _as_tuple(value: Any) -> tuple[Any, ...]:
    """http-api.js toSet: a list (or one item), duplicates removed, order kept."""
    items = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return tuple(out)


def http_api_authorizers(
    source: str, config: Mapping[str, Any], functions: Mapping[str, Any]
) -> dict[str, HttpApiAuthorizer]:
    """`provider.httpApi.authorizers` (config is `provider.httpApi`)."""
    raw = config.get("authorizers")
    base = "provider.httpApi.authorizers"
    if not raw:
        return {}
    if not isinstance(raw, dict):
        raise _invalid(source, base, "`authorizers` must be a mapping of names to authorizers")
    if config.get("id"):
        raise _invalid(source, base, "authorizers cannot be set up for an external HTTP API (`id`)")
    out: dict[str, HttpApiAuthorizer] = {}
    for key, spec in raw.items():
        at = f"{base}.{key}"
        if not isinstance(spec, dict):
            raise _invalid(source, at, "an authorizer must be a mapping")
        kind = spec.get("type")
        if kind == "request":
            _check_keys(source, at, spec, _REQUEST_KEYS)
            has_arn, has_name = bool(spec.get("functionArn")), bool(spec.get("functionName"))
            if has_arn == has_name:
                raise _invalid(source, at, "set one of `functionName` or `functionArn` (not both)")
            if has_name and spec["functionName"] not in functions:
                raise _invalid(
                    source,
                    f"{at}.functionName",
                    f"function `{spec['functionName']}` is not in this service",
                )
            if spec.get("resultTtlInSeconds") and not spec.get("identitySource"):
                raise _invalid(
                    source,
                    f"{at}.identitySource",
                    "`identitySource` is required when `resultTtlInSeconds` is not 0",
                )
        elif kind in (None, "jwt"):
            _check_keys(source, at, spec, _JWT_KEYS)
            for required in ("identitySource", "issuerUrl", "audience"):
                if spec.get(required) in (None, "", []):
                    raise _invalid(
                        source, f"{at}.{required}", f"a JWT authorizer needs `{required}`"
                    )
        else:
            raise _invalid(source, f"{at}.type", f"unknown authorizer type `{kind}` (jwt, request)")
        ttl = spec.get("resultTtlInSeconds")
        bad_ttl = isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 3600
        if ttl is not None and bad_ttl:
            raise _invalid(
                source, f"{at}.resultTtlInSeconds", "must be a whole number from 0 to 3600"
            )
        identity = spec.get("identitySource") or []
        out[str(key)] = HttpApiAuthorizer(
            key=str(key),
            name=str(spec.get("name") or key),
            type=kind,
            identity_source=tuple(identity) if isinstance(identity, list) else (identity,),
            issuer_url=spec.get("issuerUrl"),
            audience=_as_tuple(spec.get("audience")),
            function=spec.get("functionName"),
            function_arn=spec.get("functionArn"),
            managed_externally=bool(spec.get("managedExternally")),
            result_ttl=ttl,
            simple_responses=spec.get("enableSimpleResponses"),
            payload_version=str(spec.get("payloadVersion") or "2.0"),
        )
    return out


@dataclass(frozen=True)
class HttpApiRouteAuthorizer:
    """An `httpApi` event's `authorizer:`: a configured one, `aws_iam`, or an external `id`."""

    type: str | None  # `request`, `jwt`, `aws_iam` or None
    authorizer: HttpApiAuthorizer | None
    external_id: Any
    scopes: tuple[Any, ...] | None


def http_api_route_authorizer(
    source: str,
    key: str,
    raw: Any,
    authorizers: Mapping[str, HttpApiAuthorizer],
    external_api: bool,
) -> HttpApiRouteAuthorizer | None:
    if not raw:
        return None
    if isinstance(raw, dict):
        _check_keys(source, key, raw, _ROUTE_KEYS)
        spec = raw
    elif isinstance(raw, str):
        spec = {"name": raw}
    else:
        raise _invalid(source, key, "`authorizer` must be a name or a mapping")
    name, scopes, ext_id, kind = (
        spec.get("name"),
        spec.get("scopes"),
        spec.get("id"),
        spec.get("type"),
    )
    if kind not in (None, "request", "jwt", "aws_iam"):
        raise _invalid(
            source, f"{key}.type", f"unknown authorizer type `{kind}` (request, jwt, aws_iam)"
        )
    if scopes is not None and not isinstance(scopes, list):
        raise _invalid(source, f"{key}.scopes", "`scopes` must be a list")
    if kind != "aws_iam" and not ext_id and not name:
        raise _invalid(source, key, "an authorizer needs a `name` (or an `id`)")
    if kind == "aws_iam" and (name or ext_id or scopes):
        raise _invalid(source, key, "an `aws_iam` authorizer takes no other setting")
    scope_set = _as_tuple(scopes) if scopes else None
    if ext_id:
        if not external_api:
            raise _invalid(
                source,
                f"{key}.id",
                "an external authorizer `id` needs an external HTTP API (`provider.httpApi.id`)",
            )
        return HttpApiRouteAuthorizer(kind, None, ext_id, scope_set)
    if kind == "aws_iam":
        return HttpApiRouteAuthorizer(kind, None, None, None)
    found = authorizers.get(str(name))
    if found is None:
        raise _invalid(
            source, key, f"authorizer `{name}` is not configured in `provider.httpApi.authorizers`"
        )
    return HttpApiRouteAuthorizer(found.type, found, None, scope_set)


# --------------------------------------------------------------------------- one view


@dataclass(frozen=True)
class AuthorizerView:
    """What guards one route, whichever API it is on (for the local runtime).

    kind: `lambda-token` / `lambda-request` (a Lambda authorizer), `jwt`, `cognito`, `iam`,
    or `external` (an `authorizerId` / `id` of an authorizer made elsewhere).
    identity_sources are as written: `method.request.header.X` (REST) or
    `$request.header.X` (HTTP API). ttl_seconds 0 means no caching.
    """

    kind: Kind
    api: Literal["http", "httpApi"]
    name: str | None
    function: str | None  # the authorizer function in this service
    function_arn: Any  # a Lambda authorizer outside this service
    identity_sources: tuple[str, ...]
    identity_validation_expression: str | None
    ttl_seconds: int
    issuer: Any
    audience: tuple[Any, ...]
    scopes: tuple[Any, ...]
    payload_version: str | None  # HTTP API Lambda authorizers: `1.0` or `2.0`
    simple_responses: bool
    provider_arns: tuple[Any, ...]  # Cognito user pools


def route_authorizer(
    definition: ServiceDefinition, function: str, index: int, source: str = "serverless.yml"
) -> AuthorizerView | None:
    """The authorizer of `functions.<function>.events[<index>]`, or None when it has none.

    Raises ShipwayError (naming the key) for an authorizer the Framework would refuse.
    """
    resolved = definition.resolved
    functions = _functions(resolved)
    events = (functions.get(function) or {}).get("events") or []
    event = events[index] if 0 <= index < len(events) else None
    if not isinstance(event, dict):
        return None
    key = f"functions.{function}.events[{index}]"
    if isinstance(event.get("http"), dict):
        rest = rest_authorizer(
            source, f"{key}.http.authorizer", event["http"].get("authorizer"), functions
        )
        return _rest_view(rest) if rest else None
    if isinstance(event.get("httpApi"), dict):
        config = (resolved.get("provider") or {}).get("httpApi") or {}
        configured = http_api_authorizers(source, config, functions)
        route = http_api_route_authorizer(
            source,
            f"{key}.httpApi.authorizer",
            event["httpApi"].get("authorizer"),
            configured,
            bool(config.get("id")),
        )
        return _http_api_view(route) if route else None
    return None


def _functions(resolved: Mapping[str, Any]) -> dict[str, Any]:
    """`functions:` as a mapping (the Framework also takes a list of mappings, merged)."""
    value = resolved.get("functions") or {}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for part in value:
            if isinstance(part, dict):
                merged.update(part)
        return merged
    return dict(value) if isinstance(value, dict) else {}


def _rest_view(auth: RestAuthorizer) -> AuthorizerView:
    kind: Kind
    upper = (auth.type or "").upper()
    if auth.is_iam:
        kind = "iam"
    elif auth.authorizer_id:
        kind = "external"
    elif auth.is_cognito:
        kind = "cognito"
    elif upper == "REQUEST":
        kind = "lambda-request"
    else:
        kind = "lambda-token"
    lambda_kind = kind in ("lambda-token", "lambda-request")
    return AuthorizerView(
        kind=kind,
        api="http",
        name=auth.name,
        function=auth.function,
        function_arn=auth.arn if lambda_kind and auth.function is None else None,
        identity_sources=tuple(
            s.strip() for s in (auth.identity_source or "").split(",") if s.strip()
        )
        if kind not in ("iam", "external")
        else (),
        identity_validation_expression=auth.identity_validation_expression,
        ttl_seconds=300 if auth.result_ttl is None else auth.result_ttl,
        issuer=None,
        audience=(),
        scopes=tuple(auth.scopes or ()),
        payload_version=None,
        simple_responses=False,
        provider_arns=(auth.arn,) if kind == "cognito" else (),
    )


def _http_api_view(route: HttpApiRouteAuthorizer) -> AuthorizerView:
    auth = route.authorizer
    kind: Kind
    if route.type == "aws_iam":
        kind = "iam"
    elif auth is None:
        kind = "external"
    elif auth.is_request:
        kind = "lambda-request"
    else:
        kind = "jwt"
    return AuthorizerView(
        kind=kind,
        api="httpApi",
        name=auth.name if auth else None,
        function=auth.function if auth else None,
        function_arn=auth.function_arn if auth else None,
        identity_sources=tuple(str(s) for s in auth.identity_source) if auth else (),
        identity_validation_expression=None,
        ttl_seconds=(auth.result_ttl or 0) if auth else 0,
        issuer=auth.issuer_url if auth and kind == "jwt" else None,
        audience=auth.audience if auth and kind == "jwt" else (),
        scopes=route.scopes or (),
        payload_version=auth.payload_version if auth and kind == "lambda-request" else None,
        simple_responses=bool(auth.simple_responses) if auth else False,
        provider_arns=(),
    )
