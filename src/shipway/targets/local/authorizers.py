"""Authorizers at request time: a protected route's request is let through, with what the
authorizer said as `requestContext.authorizer`, or answered as API Gateway answers.

* missing identity source (or a TOKEN not matching `identityValidationExpression`): 401
  `{"message":"Unauthorized"}` without running the authorizer; so is a Lambda authorizer
  that fails with the error message `Unauthorized`, and a rejected JWT.
* REST policy: an explicit Deny of the method ARN is 403 `{"Message":"User is not authorized
  to access this resource with an explicit deny"}`, no Allow 403 `{"Message":"User is not
  authorized to access this resource"}`; HTTP API: 403 `{"message":"Forbidden"}`.
* the authorizer failed otherwise or answered something malformed: REST 500
  `{"message": null}` (AuthorizerConfigurationException), HTTP API 500.

A Lambda authorizer's answer is cached per identity for its `resultTtlInSeconds` (the policy
is cached, and evaluated against each request's method ARN, as API Gateway does).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from shipway.targets.local import apigw
from shipway.targets.local.jwt_check import Rejected, claim_text, token_scopes, verify
from shipway.targets.local.workers import InvokeResult

Spec = dict[str, Any]
#: runs (env, service, function, event) in the current release of env; None when it has no
#: such function (no service: `function` is a deployed name, `<service>-<stage>-<function>`)
Invoke = Callable[[str, str, str, dict[str, Any]], Awaitable[InvokeResult | None]]
#: (env, release folder, service, region) of the request
Where = tuple[str, str, str, str]

_CACHE_KEPT = 4096
_SIGV4 = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=([A-Z0-9]+)/")


@dataclass(frozen=True)
class Verdict:
    reply: apigw.Reply | None = None  # the refusal; None: let the request through
    why: str | None = None  # for x-shipway-error (never a token)
    context: dict[str, Any] | None = None  # requestContext.authorizer
    access_key: str | None = None  # aws_iam: the signer's access key


_EXPLICIT = "User is not authorized to access this resource with an explicit deny"
_DENIED = "AccessDeniedException"
_REST: dict[str, tuple[int, dict[str, Any], str]] = {
    "unauthorized": (401, {"message": "Unauthorized"}, "UnauthorizedException"),
    "denied": (403, {"Message": "User is not authorized to access this resource"}, _DENIED),
    "explicit": (403, {"Message": _EXPLICIT}, _DENIED),
    "error": (500, {"message": None}, "AuthorizerConfigurationException"),
}
_HTTP_API: dict[str, tuple[int, dict[str, Any]]] = {
    "unauthorized": (401, {"message": "Unauthorized"}),
    "denied": (403, {"message": "Forbidden"}),
    "explicit": (403, {"message": "Forbidden"}),
    "error": (500, {"message": "Internal Server Error"}),
}


def _reply(api: str, outcome: str) -> apigw.Reply:
    """API Gateway's answer for `outcome`: unauthorized, denied, explicit (deny), error."""
    if api == "rest":
        status, doc, kind = _REST[outcome]
        return apigw.json_reply(status, doc, [("x-amzn-ErrorType", kind)])
    status, doc = _HTTP_API[outcome]
    return apigw.json_reply(status, doc)


def _refuse(api: str, outcome: str, why: str) -> Verdict:
    return Verdict(_reply(api, outcome), why)


def _identity(spec: Spec, info: apigw.RequestInfo) -> list[str] | None:
    """The identity sources' values, or None when one is missing or empty."""
    values: list[str] = []
    query: dict[str, str] | None = None
    for where, name in spec.get("identity") or []:
        if where == "header":
            value = apigw._header(info.headers, name)
        else:
            if query is None:
                query = dict(parse_qsl(info.query, keep_blank_values=True))
            value = query.get(name)
        if not value:
            return None
        values.append(value)
    return values


def _glob(pattern: str, text: str) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text) is not None


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def evaluate(policy: Any, method_arn: str) -> str:
    """`allow`, `deny` (an explicit Deny) or `none` (no Allow) of a policy for `method_arn`."""
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for st in statements if isinstance(statements, list) else []:
        if not isinstance(st, dict):
            continue
        actions = _as_list(st.get("Action", "*"))
        if not any(_glob(a.lower(), "execute-api:invoke") for a in actions):
            continue
        if not any(_glob(r, method_arn) for r in _as_list(st.get("Resource", ""))):
            continue
        effect = str(st.get("Effect", "")).lower()
        if effect == "deny":
            return "deny"
        allowed = allowed or effect == "allow"
    return "allow" if allowed else "none"


class Authorizers:
    """The gateway's authorizer step, with the authorizers' result cache."""

    def __init__(self, invoke: Invoke) -> None:
        self._invoke = invoke
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}

    async def check(
        self,
        spec: Spec,
        info: apigw.RequestInfo,
        match: apigw.RouteMatch,
        event: dict[str, Any],
        where: Where,
    ) -> Verdict:
        api = spec.get("api", "rest")
        kind = spec.get("kind")
        if kind == "iam":
            signed = _SIGV4.match(apigw._header(info.headers, "authorization") or "")
            if signed is None:
                if api == "rest":
                    return Verdict(apigw.not_found("http"), "aws_iam: the request is not signed")
                return _refuse(api, "denied", "aws_iam: the request is not signed")
            key = signed.group(1)
            context = None if api == "rest" else {"iam": {"accessKey": key}}
            return Verdict(context=context, access_key=key)
        values = _identity(spec, info)
        if values is None and spec.get("identity"):
            return _refuse(api, "unauthorized", "identity source missing")
        if kind == "jwt":
            return self._jwt(spec, (values or [""])[0])
        return await self._lambda(spec, info, match, event, values or [], where)

    def _jwt(self, spec: Spec, token: str) -> Verdict:
        api = spec.get("api", "rest")
        try:
            claims = verify(spec, token)
        except Rejected as e:
            outcome = "denied" if e.scope and api != "rest" else "unauthorized"
            verdict = _refuse(api, outcome, e.reason)
            if verdict.reply is not None and api != "rest":
                error = "insufficient_scope" if e.scope else "invalid_token"
                header = f'Bearer scope="" error="{error}" error_description="{e.reason}"'
                verdict.reply.headers.append(("www-authenticate", header))
            return verdict
        text = {k: claim_text(v) for k, v in claims.items()}
        if api == "rest":
            return Verdict(context={"claims": text})
        scopes = token_scopes(claims) or None
        return Verdict(context={"jwt": {"claims": text, "scopes": scopes}})

    async def _lambda(
        self,
        spec: Spec,
        info: apigw.RequestInfo,
        match: apigw.RouteMatch,
        event: dict[str, Any],
        values: list[str],
        where: Where,
    ) -> Verdict:
        api = spec.get("api", "rest")
        env, release, service, region = where
        stage = info.stage if api == "rest" else "$default"
        arn = (
            f"arn:aws:execute-api:{region}:{apigw.ACCOUNT_ID}:local/{stage}/"
            f"{info.method.upper()}{unquote(info.path)}"
        )
        if spec.get("type") == "TOKEN":
            pattern = spec.get("validation")
            if pattern and not re.fullmatch(pattern, values[0]):
                return _refuse(api, "unauthorized", "identityValidationExpression not matched")
        ttl = int(spec.get("ttl") or 0)
        key = (release, service, spec.get("name"), spec.get("function"), tuple(values))
        cached = self._cache.get(key) if ttl else None
        started = time.monotonic()
        if cached is not None and cached[0] > started:
            answer = cached[1]
        else:
            doc = self._event(spec, info, match, event, values, arn)
            result = await self._run(spec, env, service, doc)
            if isinstance(result, Verdict):
                return result
            answer = result
            if ttl:
                if len(self._cache) >= _CACHE_KEPT:
                    self._cache.clear()
                self._cache[key] = (started + ttl, answer)
        latency = int((time.monotonic() - started) * 1000)
        return self._decide(spec, answer, arn, latency)

    def _event(
        self,
        spec: Spec,
        info: apigw.RequestInfo,
        match: apigw.RouteMatch,
        event: dict[str, Any],
        values: list[str],
        arn: str,
    ) -> dict[str, Any]:
        if spec.get("type") == "TOKEN":
            return {"type": "TOKEN", "authorizationToken": values[0], "methodArn": arn}
        if spec.get("api") == "rest":
            doc = {k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")}
            return {"type": "REQUEST", "methodArn": arn, **doc}
        if spec.get("payload") == "1.0":
            doc = apigw.rest_event(info, match)
            doc.pop("body", None)
            doc.pop("isBase64Encoded", None)
            joined = ",".join(values)
            return {
                "version": "1.0",
                "type": "REQUEST",
                "methodArn": arn,
                "identitySource": joined,
                "authorizationToken": joined,
                **doc,
            }
        doc = {k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")}
        return {**doc, "type": "REQUEST", "routeArn": arn, "identitySource": values}

    async def _run(self, spec: Spec, env: str, service: str, event: dict[str, Any]) -> Any:
        """The authorizer function's answer, or the Verdict refusing the request."""
        api = spec.get("api", "rest")
        target = spec.get("function")
        name = str(target or spec.get("physical") or "")
        result = await self._invoke(env, service if target else "", name, event) if name else None
        if result is None:
            return _refuse(api, "error", f"authorizer `{spec.get('name')}` is not deployed locally")
        if not result.ok:
            if result.error_message == "Unauthorized":
                return _refuse(api, "unauthorized", "the authorizer answered Unauthorized")
            return _refuse(api, "error", f"the authorizer failed: {result.error_type}")
        return result.result

    def _decide(self, spec: Spec, answer: Any, arn: str, latency: int) -> Verdict:
        api = spec.get("api", "rest")
        if api == "httpApi" and spec.get("simple"):
            if not isinstance(answer, dict) or not isinstance(answer.get("isAuthorized"), bool):
                return _refuse(api, "error", "the authorizer's answer has no boolean isAuthorized")
            if not answer["isAuthorized"]:
                return _refuse(api, "denied", "the authorizer answered isAuthorized: false")
            context = answer.get("context")
            return Verdict(context={"lambda": context if isinstance(context, dict) else None})
        if not isinstance(answer, dict) or not answer.get("principalId"):
            return _refuse(api, "error", "the authorizer's answer has no principalId")
        decision = evaluate(answer.get("policyDocument"), arn)
        if decision != "allow":
            outcome = "explicit" if decision == "deny" else "denied"
            return _refuse(api, outcome, f"the policy does not allow {arn}")
        context = answer.get("context") or {}
        if not isinstance(context, dict) or not all(
            isinstance(v, str | int | float | bool) for v in context.values()
        ):
            return _refuse(api, "error", "the authorizer's context has non-scalar values")
        if api == "httpApi":
            return Verdict(context={"lambda": context})
        text = {k: claim_text(v) for k, v in context.items()}
        principal = str(answer["principalId"])
        return Verdict(context={"principalId": principal, "integrationLatency": latency, **text})


def apply(verdict: Verdict, event: dict[str, Any]) -> None:
    """What the authorizer said, into the handler's event."""
    request_context = event["requestContext"]
    if verdict.context is not None:
        request_context["authorizer"] = verdict.context
    if verdict.access_key is not None and "identity" in request_context:
        request_context["identity"]["accessKey"] = verdict.access_key


__all__ = ["Authorizers", "Verdict", "apply", "evaluate"]
