"""One description of what guards a route, whichever API it is on (for the local runtime).

`route_authorizer(definition, function, index)` reads an event's authorizer as the
Framework does (authorizers.py, http_api_authorizers.py) and answers an `AuthorizerView`.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shipway.config.authorizers import RestAuthorizer, rest_authorizer
from shipway.config.http_api_authorizers import (
    HttpApiRouteAuthorizer,
    http_api_authorizers,
    http_api_route_authorizer,
)
from shipway.config.service_check import functions_of
from shipway.model import ServiceDefinition

__all__ = ["AuthorizerView", "Kind", "http_event_indexes", "route_authorizer"]

Kind = Literal["lambda-token", "lambda-request", "jwt", "cognito", "iam", "external"]


@dataclass(frozen=True)
class AuthorizerView:
    """What guards one route, whichever API it is on (for the local runtime).

    kind: `lambda-token` / `lambda-request` (a Lambda authorizer), `jwt`, `cognito`, `iam`,
    or `external` (an `authorizerId` / `id` of an authorizer made elsewhere).
    identity_sources are as written: `method.request.header.X` (REST) or
    `$request.header.X` (HTTP API). ttl_seconds 0 means no caching; when none is written it
    is 300 on a REST API (API Gateway's documented default) and 0 on an HTTP API (its API
    reference states no default, and the Framework asks for an identity source only when a
    TTL is set: caching without one cannot key the cache).
    """

    kind: Kind
    api: Literal["http", "httpApi"]
    name: str | None
    function: str | None  # the authorizer function in this service
    function_arn: Any  # a Lambda authorizer outside this service
    identity_sources: tuple[Any, ...]  # strings, or a CloudFormation function as written
    identity_validation_expression: str | None
    ttl_seconds: int
    issuer: Any
    audience: tuple[Any, ...]
    scopes: tuple[Any, ...]
    payload_version: str | None  # HTTP API Lambda authorizers: `1.0` or `2.0`
    simple_responses: bool
    provider_arns: tuple[Any, ...]  # Cognito user pools
    config_key: str | None = None  # HTTP API: its key under `provider.httpApi.authorizers`


def route_authorizer(
    definition: ServiceDefinition, function: str, index: int, source: str = "serverless.yml"
) -> AuthorizerView | None:
    """The authorizer of `functions.<function>.events[<index>]`, or None when it has none.

    Raises ShipwayError (naming the key) for an authorizer the Framework would refuse.
    """
    resolved = definition.resolved
    functions = functions_of(resolved)
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


def http_event_indexes(definition: ServiceDefinition, function: str) -> list[int]:
    """The indexes of `functions.<function>.events` that are `http` / `httpApi` events."""
    events = (functions_of(definition.resolved).get(function) or {}).get("events") or []
    return [
        i
        for i, event in enumerate(events if isinstance(events, list) else [])
        if isinstance(event, dict) and len(event) == 1 and next(iter(event)) in ("http", "httpApi")
    ]


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
        identity_sources=auth.identity_source if auth else (),
        identity_validation_expression=None,
        ttl_seconds=(auth.result_ttl or 0) if auth else 0,
        issuer=auth.issuer_url if auth and kind == "jwt" else None,
        audience=auth.audience if auth and kind == "jwt" else (),
        scopes=route.scopes or (),
        payload_version=auth.payload_version if auth and kind == "lambda-request" else None,
        simple_responses=bool(auth.simple_responses) if auth else False,
        provider_arns=(),
        config_key=auth.key if auth else None,
    )
