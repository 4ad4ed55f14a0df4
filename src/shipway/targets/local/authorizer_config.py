"""The authorizer of each `http` / `httpApi` route, read from the events as the Framework
accepts them, turned into plain data the local gateway enforces (kept in release.json).

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

from shipway.errors import ShipwayError, Where
from shipway.model import Function, ServiceDefinition

Spec = dict[str, Any]

_COGNITO_ARN = re.compile(r"^arn:aws[\w-]*:cognito-idp:([\w-]+):\d+:userpool/([\w-]+_\w+)$")
_LAMBDA_ARN = re.compile(r"^arn:aws[\w-]*:lambda:[\w-]+:\d+:function:([\w-]+)(?::[\w$-]+)?$")
_REST_SOURCE = re.compile(r"^method\.request\.(header|querystring)\.(.+)$")
_HTTP_API_SOURCE = re.compile(r"^\$request\.(header|querystring)\.(.+)$")


class AuthorizerError(ShipwayError):
    pass


def _fail(key: str, message: str, hint: str | None = None) -> AuthorizerError:
    return AuthorizerError(message, Where("serverless.yml", key=key), hint)


def _functions(definition: ServiceDefinition) -> set[str]:
    return {f.name for f in definition.functions}


def _sources(key: str, value: Any, api: str) -> list[list[str]]:
    """Identity sources as [where, name] pairs: `header` / `querystring`."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    pattern = _REST_SOURCE if api == "rest" else _HTTP_API_SOURCE
    out: list[list[str]] = []
    for item in items:
        text = str(item).strip()
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


def _ttl(key: str, value: Any, default: int) -> int:
    if value is None:
        return default
    try:
        ttl = int(value)
    except (TypeError, ValueError):
        raise _fail(f"{key}.resultTtlInSeconds", "must be a number of seconds") from None
    if not 0 <= ttl <= 3600:
        raise _fail(f"{key}.resultTtlInSeconds", "must be between 0 and 3600 seconds")
    return ttl


def _jwks(definition: ServiceDefinition, *names: str) -> Any:
    """The JWKS configured for the first of `names` (authorizer name, issuer URL) or None."""
    custom = definition.resolved.get("custom")
    shipway = custom.get("shipway") if isinstance(custom, Mapping) else None
    table = shipway.get("jwks") if isinstance(shipway, Mapping) else None
    if not isinstance(table, Mapping):
        return None
    for name in names:
        doc = table.get(name) if name else None
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


def _lambda_target(
    definition: ServiceDefinition, key: str, name: str | None, arn: Any
) -> dict[str, str]:
    if name is not None:
        if name not in _functions(definition):
            raise _fail(key, f"authorizer function `{name}` is not a function of this service")
        return {"function": name}
    found = _LAMBDA_ARN.match(str(arn)) if isinstance(arn, str) else None
    if found is None:
        return {"physical": "", "arn": str(arn)}  # unknown locally: refused at request time
    return {"physical": found.group(1), "arn": str(arn)}


def rest_authorizer(definition: ServiceDefinition, key: str, raw: Any) -> Spec | None:
    """The spec of an `http` event's `authorizer:` (as the Framework's getAuthorizer reads it)."""
    if raw is None:
        return None
    key = f"{key}.authorizer"
    name: str | None = None
    arn: Any = None
    options: Mapping[str, Any] = {}
    kind: str | None = None
    if isinstance(raw, str):
        if raw.upper() == "AWS_IAM":
            return {"kind": "iam", "api": "rest"}
        if ":" in raw:
            arn = raw
        else:
            name = raw
    elif isinstance(raw, Mapping):
        options = raw
        kind = str(raw["type"]).upper() if raw.get("type") is not None else None
        if raw.get("authorizerId") is not None:
            raise _fail(
                key,
                "an `authorizerId` (an authorizer outside the stack) has no local "
                "meaning: the local runtime cannot run it",
            )
        if kind == "AWS_IAM":
            return {"kind": "iam", "api": "rest"}
        if raw.get("arn") is not None:
            arn = raw["arn"]
        elif raw.get("name") is not None:
            name = str(raw["name"])
        else:
            raise _fail(key, "give the authorizer a `name` (a function) or an `arn`")
    else:
        raise _fail(key, "must be a function name, an ARN or a mapping")
    label = str(options.get("name") or name or (arn if isinstance(arn, str) else "authorizer"))
    cognito = _COGNITO_ARN.match(arn) if isinstance(arn, str) else None
    if kind == "COGNITO_USER_POOLS" or cognito:
        issuer = (
            f"https://cognito-idp.{cognito.group(1)}.amazonaws.com/{cognito.group(2)}"
            if cognito
            else ""
        )
        scopes = options.get("scopes")
        return {
            "kind": "jwt",
            "api": "rest",
            "name": label,
            "issuer": issuer,
            "audience": [],
            "identity": _sources(key, options.get("identitySource"), "rest")
            or [["header", "Authorization"]],
            "scopes": [str(s) for s in scopes] if isinstance(scopes, list) else [],
            "jwks": _jwks(definition, label, issuer),
        }
    ttl = _ttl(key, options.get("resultTtlInSeconds"), 300)
    rtype = "REQUEST" if kind == "REQUEST" else "TOKEN"
    if kind not in (None, "TOKEN", "REQUEST"):
        raise _fail(f"{key}.type", f"unknown authorizer type `{options.get('type')}`")
    identity = _sources(key, options.get("identitySource"), "rest")
    if not identity and not (rtype == "REQUEST" and ttl == 0):
        identity = [["header", "Authorization"]]  # the Framework's default
    if rtype == "TOKEN" and len(identity) != 1:
        raise _fail(f"{key}.identitySource", "a TOKEN authorizer reads one header")
    validation = options.get("identityValidationExpression")
    if validation is not None:
        try:
            re.compile(str(validation))
        except re.error as e:
            raise _fail(
                f"{key}.identityValidationExpression", f"not a regular expression: {e}"
            ) from None
    return {
        "kind": "lambda",
        "api": "rest",
        "type": rtype,
        "name": label,
        **_lambda_target(definition, key, name, arn),
        "identity": identity,
        "validation": None if validation is None else str(validation),
        "ttl": ttl,
    }


def http_api_authorizer(definition: ServiceDefinition, key: str, raw: Any) -> Spec | None:
    """The spec of an `httpApi` event's `authorizer:` (provider.httpApi.authorizers.<name>)."""
    if raw is None:
        return None
    key = f"{key}.authorizer"
    options: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {"name": raw}
    if options.get("type") == "aws_iam":
        return {"kind": "iam", "api": "httpApi"}
    if options.get("id") is not None:
        raise _fail(
            key,
            "an authorizer `id` (an authorizer outside the stack) has no local "
            "meaning: the local runtime cannot run it",
        )
    name = options.get("name")
    provider = definition.resolved.get("provider")
    http_api = provider.get("httpApi") if isinstance(provider, Mapping) else None
    table = http_api.get("authorizers") if isinstance(http_api, Mapping) else None
    config = table.get(name) if isinstance(table, Mapping) and name is not None else None
    if not isinstance(config, Mapping):
        raise _fail(key, f"authorizer `{name}` is not in `provider.httpApi.authorizers`")
    at = f"provider.httpApi.authorizers.{name}"
    scopes = options.get("scopes")
    if config.get("type") == "request":
        version = str(config.get("payloadVersion") or "2.0")
        if version not in ("1.0", "2.0"):
            raise _fail(f"{at}.payloadVersion", "must be `1.0` or `2.0`")
        target_name = config.get("functionName")
        return {
            "kind": "lambda",
            "api": "httpApi",
            "type": "REQUEST",
            "name": str(name),
            **_lambda_target(
                definition,
                at,
                None if target_name is None else str(target_name),
                config.get("functionArn"),
            ),
            "identity": _sources(at, config.get("identitySource"), "httpApi"),
            "ttl": _ttl(at, config.get("resultTtlInSeconds"), 0),
            "simple": bool(config.get("enableSimpleResponses")),
            "payload": version,
        }
    issuer = str(config.get("issuerUrl") or "")
    audience = config.get("audience")
    return {
        "kind": "jwt",
        "api": "httpApi",
        "name": str(name),
        "issuer": issuer,
        "audience": [
            str(a)
            for a in (audience if isinstance(audience, list) else [audience])
            if a is not None
        ],
        "identity": _sources(at, config.get("identitySource"), "httpApi")
        or [["header", "Authorization"]],
        "scopes": [str(s) for s in scopes] if isinstance(scopes, list) else [],
        "jwks": _jwks(definition, str(name), issuer),
    }


def route_authorizers(definition: ServiceDefinition, fn: Function) -> list[Spec | None]:
    """One spec (or None) per route of `fn`, in the order of `fn.routes`."""
    out: list[Spec | None] = []
    for position, event in enumerate(fn.events):
        if event.type not in ("http", "httpApi"):
            continue
        key = f"functions.{fn.name}.events[{position}].{event.type}"
        raw = event.config.get("authorizer") if isinstance(event.config, Mapping) else None
        if event.type == "http":
            out.append(rest_authorizer(definition, key, raw))
        else:
            out.append(http_api_authorizer(definition, key, raw))
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
    except AuthorizerError as exc:
        where = exc.where
        raise ShipwayError(
            exc.message, Where(source, key=where.key if where else None), exc.hint
        ) from None


__all__ = ["Spec", "check_authorizers", "local_notes", "route_authorizers"]
