"""What the local gateway enforces for each `http` / `httpApi` route, as plain data kept in
release.json. The settings are read once, by shipway.config.authorizer_view (the parser
synthesis uses too); this module only adds what is local: the JSON spec, the JWKS of
`custom.shipway.jwks`, the refusals of what 127.0.0.1 cannot enforce, and the notes.

One spec per route (None: an open route). Kinds:

* `lambda`: a function of the service (`function`) or, by ARN, of a sibling service of the
  same environment (`physical`: the deployed name `<service>-<stage>-<function>`);
  `api` is `rest` (TOKEN / REQUEST) or `httpApi` (REQUEST, payload 1.0 / 2.0, simple
  responses); `identity`: the identity sources; `ttl`: the cache lifetime.
* `jwt`: an HTTP API JWT authorizer, or a REST Cognito user pool authorizer (verified as the
  JWT its tokens are); the keys come from `custom.shipway.jwks.<authorizer or issuer>`.
* `iam`: `aws_iam`; the local runtime needs a SigV4-signed request but checks no signature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shipway.config.authorizer_view import AuthorizerView, http_event_indexes, route_authorizer
from shipway.errors import ShipwayError, Where
from shipway.model import Function, ServiceDefinition

Spec = dict[str, Any]

_COGNITO_ARN = re.compile(r"^arn:aws[\w-]*:cognito-idp:([\w-]+):\d+:userpool/([\w-]+_\w+)$")
_LAMBDA_ARN = re.compile(r"^arn:aws[\w-]*:lambda:[\w-]+:\d+:function:([\w-]+)(?::[\w$-]+)?$")
_REST_SOURCE = re.compile(r"^method\.request\.(header|querystring)\.(.+)$")
_HTTP_API_SOURCE = re.compile(r"^\$request\.(header|querystring)\.(.+)$")
_DEFAULT_IDENTITY = [["header", "Authorization"]]


class AuthorizerError(ShipwayError):
    pass


def _fail(key: str, message: str, hint: str | None = None) -> AuthorizerError:
    return AuthorizerError(message, Where("serverless.yml", key=key), hint)


def _sources(key: str, values: tuple[Any, ...], api: str) -> list[list[str]]:
    """Identity sources as [where, name] pairs: `header` / `querystring`."""
    pattern = _REST_SOURCE if api == "rest" else _HTTP_API_SOURCE
    out: list[list[str]] = []
    for text in (t.strip() for v in values for t in str(v).split(",") if t.strip()):
        found = pattern.match(text)
        if not found:
            example = (
                "method.request.header.Authorization"
                if api == "rest"
                else "$request.header.Authorization"
            )
            raise _fail(
                f"{key}.identitySource",
                f"identity source `{text}`: the local runtime reads request headers and query "
                f"strings only (e.g. `{example}`)",
            )
        out.append([found.group(1), found.group(2)])
    return out


def _jwks(definition: ServiceDefinition, *names: Any) -> Any:
    """The JWKS configured for the first of `names` (authorizer name, ARN, issuer) or None."""
    custom = definition.resolved.get("custom")
    shipway = custom.get("shipway") if isinstance(custom, Mapping) else None
    table = shipway.get("jwks") if isinstance(shipway, Mapping) else None
    if not isinstance(table, Mapping):
        return None
    for name in names:
        doc = table.get(name) if isinstance(name, str) and name else None
        if doc is None:
            continue
        if not (isinstance(doc, Mapping) and isinstance(doc.get("keys"), list)):
            raise _fail(
                f"custom.shipway.jwks.{name}",
                "must be a JWKS document (`{keys: [...]}`)",
                hint="point it at a file: `${file(./jwks.json)}`",
            )
        return dict(doc)
    return None


def _lambda_target(view: AuthorizerView) -> dict[str, str]:
    """The authorizer function: of this service, or by ARN a deployed name locally."""
    if view.function is not None:
        return {"function": view.function}
    arn = view.function_arn
    found = _LAMBDA_ARN.match(arn) if isinstance(arn, str) else None
    if found is None:
        return {"physical": "", "arn": str(arn)}  # unknown locally: refused at request time
    return {"physical": found.group(1), "arn": str(arn)}


def _scopes(view: AuthorizerView) -> list[str]:
    return [str(s) for s in view.scopes]


def _rest_spec(definition: ServiceDefinition, key: str, view: AuthorizerView) -> Spec:
    label = str(view.name or "authorizer")
    if view.kind == "cognito":
        arn = view.provider_arns[0] if view.provider_arns else None
        pool = _COGNITO_ARN.match(arn) if isinstance(arn, str) else None
        issuer = (
            f"https://cognito-idp.{pool.group(1)}.amazonaws.com/{pool.group(2)}" if pool else ""
        )
        return {
            "kind": "jwt",
            "api": "rest",
            "name": label,
            "issuer": issuer,
            "audience": [],
            "identity": _sources(key, view.identity_sources, "rest") or _DEFAULT_IDENTITY,
            "scopes": _scopes(view),
            "jwks": _jwks(definition, label, arn, issuer),
        }
    rtype = "REQUEST" if view.kind == "lambda-request" else "TOKEN"
    identity = _sources(key, view.identity_sources, "rest")
    if rtype == "TOKEN" and len(identity) != 1:
        raise _fail(f"{key}.identitySource", "a TOKEN authorizer reads one header")
    validation = view.identity_validation_expression
    if validation is not None:
        try:
            re.compile(validation)
        except re.error as e:
            raise _fail(
                f"{key}.identityValidationExpression", f"not a regular expression: {e}"
            ) from None
    return {
        "kind": "lambda",
        "api": "rest",
        "type": rtype,
        "name": label,
        **_lambda_target(view),
        "identity": identity,
        "validation": validation,
        "ttl": view.ttl_seconds,
    }


def _http_api_spec(definition: ServiceDefinition, key: str, view: AuthorizerView) -> Spec:
    name = str(view.config_key or view.name)
    at = f"provider.httpApi.authorizers.{name}"
    if view.kind == "lambda-request":
        version = str(view.payload_version or "2.0")
        if version not in ("1.0", "2.0"):
            raise _fail(f"{at}.payloadVersion", "must be `1.0` or `2.0`")
        return {
            "kind": "lambda",
            "api": "httpApi",
            "type": "REQUEST",
            "name": name,
            **_lambda_target(view),
            "identity": _sources(at, view.identity_sources, "httpApi"),
            "ttl": view.ttl_seconds,
            "simple": view.simple_responses,
            "payload": version,
        }
    issuer = str(view.issuer or "")
    return {
        "kind": "jwt",
        "api": "httpApi",
        "name": name,
        "issuer": issuer,
        "audience": [str(a) for a in view.audience if a is not None],
        "identity": _sources(at, view.identity_sources, "httpApi") or _DEFAULT_IDENTITY,
        "scopes": _scopes(view),
        "jwks": _jwks(definition, name, view.name, issuer),
    }


def route_authorizers(definition: ServiceDefinition, fn: Function) -> list[Spec | None]:
    """One spec (or None) per route of `fn`, in the order of `fn.routes`."""
    out: list[Spec | None] = []
    for index in http_event_indexes(definition, fn.name):
        view = route_authorizer(definition, fn.name, index)
        if view is None:
            out.append(None)
            continue
        key = f"functions.{fn.name}.events[{index}].{view.api}.authorizer"
        api = "rest" if view.api == "http" else "httpApi"
        if view.kind == "iam":
            out.append({"kind": "iam", "api": api})
        elif view.kind == "external":
            what = "an `authorizerId`" if api == "rest" else "an authorizer `id`"
            raise _fail(
                key,
                f"{what} (an authorizer outside the stack) has no local "
                "meaning: the local runtime cannot run it",
            )
        elif api == "rest":
            out.append(_rest_spec(definition, key, view))
        else:
            out.append(_http_api_spec(definition, key, view))
    if not out:  # routes given without their events (built in code): nothing to enforce
        return [None] * len(fn.routes)
    if len(out) != len(fn.routes):  # the routes are read from the same events, in order
        raise ShipwayError(f"function `{fn.name}`: its routes and events disagree")
    return out


def _where(spec: Spec) -> str:
    return f"authorizer `{spec.get('name', 'aws_iam')}`"


def local_notes(definition: ServiceDefinition) -> list[str]:
    """What the local runtime does differently from AWS with this service's authorizers."""
    notes: list[str] = []
    for fn in definition.functions:
        for route, spec in zip(fn.routes, route_authorizers(definition, fn), strict=True):
            at = f"`{fn.name}` {route.method} {route.path}"
            if spec is None:
                continue
            if spec["kind"] == "iam":
                notes.append(
                    f"{at}: `aws_iam` locally needs a SigV4-signed request (an "
                    "`Authorization: AWS4-HMAC-SHA256 ...` header) but checks neither the "
                    "signature nor IAM policies"
                )
            elif spec["kind"] == "jwt" and spec.get("jwks") is None:
                names = " or ".join(f"`{n}`" for n in (spec["name"], spec["issuer"]) if n)
                notes.append(
                    f"{at}: {_where(spec)} has no JWKS for the local runtime, which answers "
                    f"401 to every request: under `custom.shipway.jwks`, give {names} the "
                    "issuer's keys, e.g. `${file(./jwks.json)}` (nothing is fetched)"
                )
            elif spec["kind"] == "jwt" and not spec["issuer"]:
                notes.append(
                    f"{at}: {_where(spec)}'s user pool is not an ARN: the local runtime "
                    "checks the tokens' signature and expiry, not their issuer"
                )
            elif spec["kind"] == "lambda" and "physical" in spec:
                notes.append(
                    f"{at}: {_where(spec)} is a function by ARN ({spec['arn']}): the local "
                    "runtime runs it when a service of the same environment deployed it "
                    "under that name, and answers 500 otherwise"
                )
    return notes


def check_authorizers(definition: ServiceDefinition, source: str) -> list[str]:
    """ShipwayError (naming `source` and the key) for an authorizer the local runtime cannot
    enforce; otherwise the notes `local_notes` gives."""
    try:
        return local_notes(definition)
    except ShipwayError as exc:  # the view's refusals and the local ones name serverless.yml
        where = exc.where
        if where is None:
            raise
        raise ShipwayError(
            exc.message, Where(source, key=where.key if where else None), exc.hint
        ) from None


__all__ = ["Spec", "check_authorizers", "local_notes", "route_authorizers"]
