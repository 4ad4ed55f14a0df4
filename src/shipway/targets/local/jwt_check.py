"""JWT authorizers (HTTP API `jwt`, REST Cognito user pools): a token checked as API Gateway
checks it, against the keys of a JWKS the user configured (nothing is ever fetched).

API Gateway's checks: a `kid` naming an RSA key of the issuer's JWKS, the signature, `iss`,
`aud` (or `client_id` when there is no `aud`) among the authorizer's audiences, `exp`, `nbf`
and `iat`; then the route's scopes (`scope` / `scp`), any one of which suffices.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jwt

_RSA = ("RS256", "RS384", "RS512")


class Rejected(Exception):
    def __init__(self, reason: str, scope: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason  # for the `www-authenticate` header and the log, never the token
        self.scope = scope  # the token is good but lacks the route's scopes


def _key(jwks: Mapping[str, Any], header: Mapping[str, Any]) -> Any:
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict)]
    kid = header.get("kid")
    found = [k for k in keys if k.get("kid") == kid] if kid is not None else keys[:1]
    if not found:
        raise Rejected("signing key not found in the authorizer's JWKS")
    try:
        return jwt.PyJWK(found[0]).key
    except (jwt.PyJWTError, ValueError, TypeError) as e:
        raise Rejected(f"unusable key in the authorizer's JWKS: {e}") from None


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    scope = claims.get("scope", claims.get("scp"))
    if isinstance(scope, str):
        return scope.split()
    if isinstance(scope, list):
        return [str(s) for s in scope]
    return []


def verify(spec: Mapping[str, Any], token: str, now: float | None = None) -> dict[str, Any]:
    """The token's claims, or Rejected saying why."""
    jwks = spec.get("jwks")
    if not isinstance(jwks, Mapping):
        raise Rejected("no JWKS is configured for this authorizer (custom.shipway.jwks)")
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Rejected("the token is not a JWT") from None
    if header.get("alg") not in _RSA:
        raise Rejected(f"signing algorithm {header.get('alg')!r} is not an RSA algorithm")
    issuer = spec.get("issuer") or None
    options: dict[str, Any] = {"verify_aud": False, "require": ["exp"]}
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _key(jwks, header),
            algorithms=list(_RSA),
            issuer=issuer,
            options=options,  # type: ignore[arg-type]
        )
    except jwt.ExpiredSignatureError:
        raise Rejected("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise Rejected("the token is not valid yet") from None
    except jwt.InvalidIssuerError:
        raise Rejected("the token's issuer is not the authorizer's") from None
    except jwt.InvalidSignatureError:
        raise Rejected("the token's signature is invalid") from None
    except jwt.PyJWTError as e:
        raise Rejected(f"the token is invalid: {e}") from None
    audience = [str(a) for a in spec.get("audience") or []]
    if audience:
        aud = claims.get("aud", claims.get("client_id"))
        given = aud if isinstance(aud, list) else [aud]
        if not any(str(a) in audience for a in given if a is not None):
            raise Rejected("the token's audience is not the authorizer's")
    wanted = [str(s) for s in spec.get("route_scopes") or spec.get("scopes") or []]
    if wanted and not set(wanted) & set(token_scopes(claims)):
        raise Rejected("the token lacks the route's scopes", scope=True)
    return claims


def claim_text(value: Any) -> str:
    """A claim as API Gateway passes it on: text, arrays as `[a b]`."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(claim_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


__all__ = ["Rejected", "claim_text", "token_scopes", "verify"]
