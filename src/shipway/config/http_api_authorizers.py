"""`httpApi` authorizers as the Serverless Framework v3.40.0 reads them, as plain data.

lib/plugins/aws/package/compile/events/http-api.js (`resolveConfiguration`): the
authorizers of `provider.httpApi.authorizers` and a route's `authorizer:`. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipway.config.authorizers import check_keys, invalid

__all__ = [
    "HttpApiAuthorizer",
    "HttpApiRouteAuthorizer",
    "http_api_authorizers",
    "http_api_route_authorizer",
]

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
        raise invalid(source, base, "`authorizers` must be a mapping of names to authorizers")
    if config.get("id"):
        raise invalid(source, base, "authorizers cannot be set up for an external HTTP API (`id`)")
    out: dict[str, HttpApiAuthorizer] = {}
    for key, spec in raw.items():
        at = f"{base}.{key}"
        if not isinstance(spec, dict):
            raise invalid(source, at, "an authorizer must be a mapping")
        kind = spec.get("type")
        if kind == "request":
            check_keys(source, at, spec, _REQUEST_KEYS)
            has_arn, has_name = bool(spec.get("functionArn")), bool(spec.get("functionName"))
            if has_arn == has_name:
                raise invalid(source, at, "set one of `functionName` or `functionArn` (not both)")
            if has_name and spec["functionName"] not in functions:
                raise invalid(
                    source,
                    f"{at}.functionName",
                    f"function `{spec['functionName']}` is not in this service",
                )
            if spec.get("resultTtlInSeconds") and not spec.get("identitySource"):
                raise invalid(
                    source,
                    f"{at}.identitySource",
                    "`identitySource` is required when `resultTtlInSeconds` is not 0",
                )
        elif kind in (None, "jwt"):
            check_keys(source, at, spec, _JWT_KEYS)
            for required in ("identitySource", "issuerUrl", "audience"):
                if spec.get(required) in (None, "", []):
                    raise invalid(
                        source, f"{at}.{required}", f"a JWT authorizer needs `{required}`"
                    )
        else:
            raise invalid(source, f"{at}.type", f"unknown authorizer type `{kind}` (jwt, request)")
        ttl = spec.get("resultTtlInSeconds")
        bad_ttl = isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 3600
        if ttl is not None and bad_ttl:
            raise invalid(
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
        check_keys(source, key, raw, _ROUTE_KEYS)
        spec = raw
    elif isinstance(raw, str):
        spec = {"name": raw}
    else:
        raise invalid(source, key, "`authorizer` must be a name or a mapping")
    name, scopes, ext_id, kind = (
        spec.get("name"),
        spec.get("scopes"),
        spec.get("id"),
        spec.get("type"),
    )
    if kind not in (None, "request", "jwt", "aws_iam"):
        raise invalid(
            source, f"{key}.type", f"unknown authorizer type `{kind}` (request, jwt, aws_iam)"
        )
    if scopes is not None and not isinstance(scopes, list):
        raise invalid(source, f"{key}.scopes", "`scopes` must be a list")
    if kind != "aws_iam" and not ext_id and not name:
        raise invalid(source, key, "an authorizer needs a `name` (or an `id`)")
    if kind == "aws_iam" and (name or ext_id or scopes):
        raise invalid(source, key, "an `aws_iam` authorizer takes no other setting")
    scope_set = _as_tuple(scopes) if scopes else None
    if ext_id:
        if not external_api:
            raise invalid(
                source,
                f"{key}.id",
                "an external authorizer `id` needs an external HTTP API (`provider.httpApi.id`)",
            )
        return HttpApiRouteAuthorizer(kind, None, ext_id, scope_set)
    if kind == "aws_iam":
        return HttpApiRouteAuthorizer(kind, None, None, None)
    found = authorizers.get(str(name))
    if found is None:
        raise invalid(
            source, key, f"authorizer `{name}` is not configured in `provider.httpApi.authorizers`"
        )
    return HttpApiRouteAuthorizer(found.type, found, None, scope_set)
