"""Authorizers as a user meets them: a serverless.yml with a TOKEN authorizer, a JWT
authorizer whose JWKS is `${file(./jwks.json)}` and one with no JWKS, deployed by
`shipway run` and served by `shipway serve` (real processes, real HTTP)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.cli import serving, shipway

SERVERLESS = """service: api
provider:
  name: aws
  runtime: python3.11
  httpApi:
    authorizers:
      jwtAuth:
        identitySource: $request.header.Authorization
        issuerUrl: https://issuer.example.com/
        audience: [my-api]
      noKeys:
        identitySource: $request.header.Authorization
        issuerUrl: https://nokeys.example.com/
        audience: [x]
custom:
  shipway:
    jwks:
      https://issuer.example.com/: ${file(./jwks.json)}
functions:
  auth:
    handler: handler.auth
  hello:
    handler: handler.hello
    events:
      - http:
          path: hello
          method: get
          authorizer: auth
      - httpApi:
          path: /jwt
          method: get
          authorizer:
            name: jwtAuth
      - httpApi:
          path: /nokeys
          method: get
          authorizer:
            name: noKeys
"""
HANDLER = """import json

def auth(event, context):
    effect = "Allow" if event["authorizationToken"] == "let-me-in" else "Deny"
    return {"principalId": "me", "context": {"plan": "gold"}, "policyDocument": {
        "Statement": [{"Effect": effect, "Action": "execute-api:Invoke", "Resource": "*"}]}}

def hello(event, context):
    return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
"""


def get(url: str, **headers: str) -> tuple[int, Any]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_run_and_serve_enforce_authorizers(make_repo: Callable[..., Path]) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [public | {"kid": "k1", "alg": "RS256"}]}
    repo = make_repo(
        {
            "shipway.yml": "project: demo\nenvironments:\n  dev:\n    branch: dev\n",
            "services/api/serverless.yml": SERVERLESS,
            "services/api/handler.py": HANDLER,
            "services/api/jwks.json": json.dumps(jwks),
        }
    )
    run = shipway("run", "dev", repo=repo)
    assert run.returncode == 0, run.stderr
    out = run.stdout + run.stderr
    # the route that cannot be authorized locally is named, with what it needs
    assert "authorizer `noKeys` has no JWKS" in out and "custom.shipway.jwks" in out
    now = int(time.time())
    claims = {"iss": "https://issuer.example.com/", "aud": "my-api", "sub": "ann"}
    token = jwt.encode(claims | {"exp": now + 300}, key, algorithm="RS256", headers={"kid": "k1"})
    with serving(repo) as (_, url):
        assert get(f"{url}/dev/api/hello") == (401, {"message": "Unauthorized"})
        status, body = get(f"{url}/dev/api/hello", Authorization="nope")
        assert status == 403 and "explicit deny" in body["Message"]
        status, body = get(f"{url}/dev/api/hello", Authorization="let-me-in")
        assert status == 200 and (body["principalId"], body["plan"]) == ("me", "gold")
        status, body = get(f"{url}/dev/api/jwt", Authorization=f"Bearer {token}")
        assert status == 200 and body["jwt"]["claims"]["sub"] == "ann"
        assert get(f"{url}/dev/api/nokeys", Authorization=f"Bearer {token}")[0] == 401
