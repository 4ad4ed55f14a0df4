"""Authorizers on the local gateway, over real HTTP on 127.0.0.1 with real worker processes:
Lambda TOKEN / REQUEST authorizers (REST), HTTP API request authorizers (simple responses)
and JWT authorizers (a JWKS generated here), `aws_iam`, and an authorizer by ARN."""

from __future__ import annotations

import hashlib
import http.client
import json
import stat
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shipway.model import Artifact, Event, Function, HttpRoute, ServiceDefinition
from shipway.targets.local.target import LocalTarget
from tests.integration.gatewaykit import running_gateway

HANDLERS = """
import json, os

def _count(name):
    with open(os.environ["COUNT_FILE"], "a") as f:
        f.write(name + "\\n")

def token(event, context):
    tok = event["authorizationToken"]
    _count("token:" + tok)
    if tok == "fail":
        raise Exception("Unauthorized")
    if tok == "boom":
        raise RuntimeError("the authorizer is broken")
    if tok == "nested":
        return {"principalId": "u", "policyDocument": _policy(event, "Allow"),
                "context": {"deep": {"a": 1}}}
    effect = "Deny" if tok == "deny" else "Allow"
    return {"principalId": "user-" + tok, "policyDocument": _policy(event, effect),
            "context": {"tenant": "acme", "level": 3, "admin": False}}

def _policy(event, effect):
    arn = event["methodArn"]
    stage_root = "/".join(arn.split("/")[:2])  # arn:...:api/stage
    return {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": stage_root + "/GET/*"}]}

def request(event, context):
    headers = {k.lower(): v for k, v in event["headers"].items()}
    _count("request:" + headers.get("x-api-key", ""))
    ok = headers.get("x-api-key") == "k1" and (
        event["queryStringParameters"] or {}).get("team") == "blue"
    return {"principalId": "svc", "policyDocument": _policy(event, "Allow" if ok else "Deny"),
            "context": {"type": event["type"], "path": event["path"]}}

def simple(event, context):
    _count("simple:" + ",".join(event["identitySource"]))
    return {"isAuthorized": event["identitySource"] == ["letmein"],
            "context": {"who": "simple", "n": 1, "type": event["type"]}}

def v1(event, context):
    _count("v1:" + event["identitySource"])
    ok = event["version"] == "1.0" and event["type"] == "REQUEST" and "methodArn" in event
    return {"principalId": "v1", "context": {"payload": event["version"]},
            "policyDocument": _policy(event, "Allow" if ok else "Deny")}

def echo(event, context):
    rc = event["requestContext"]
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"authorizer": rc.get("authorizer"),
                                "identity": (rc.get("identity") or {}).get("accessKey")})}
"""


def artifact(tmp: Path, name: str) -> Artifact:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zi = zipfile.ZipInfo("handlers/app.py")
        zi.external_attr = (stat.S_IFREG | 0o644) << 16
        zf.writestr(zi, HANDLERS)
    data = path.read_bytes()
    return Artifact(name, path, hashlib.sha256(data).hexdigest(), len(data))


def F(name: str, handler: str, count: Path, *events: tuple[str, dict[str, Any]]) -> Function:
    routes = tuple(
        HttpRoute(
            "http" if kind == "http" else "httpApi",
            str(cfg["method"]).upper(),
            "/" + str(cfg["path"]).strip("/"),
        )
        for kind, cfg in events
    )
    return Function(
        name=name,
        handler=f"handlers/app.{handler}",
        runtime="python3.11",
        timeout=5,
        memory_size=128,
        environment={"COUNT_FILE": str(count)},
        events=tuple(Event(kind, cfg) for kind, cfg in events),
        routes=routes,
    )


def definition(name: str, functions: tuple[Function, ...], **resolved: Any) -> ServiceDefinition:
    # the resolved document, as loading keeps it: the authorizers are read from it
    resolved.setdefault(
        "functions",
        {
            f.name: {"handler": f.handler, "events": [{e.type: e.config} for e in f.events]}
            for f in functions
        },
    )
    return ServiceDefinition(
        service=name,
        stage="dev",
        region="us-east-1",
        runtime="python3.11",
        functions=functions,
        resolved=resolved,
    )


KID = "test-key"
POOL_ARN = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Pool1"
POOL_ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1"
ISSUER = "https://issuer.example.com/"


@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any]:
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return good, other


def jwks_of(key: Any) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [public | {"kid": KID, "use": "sig", "alg": "RS256"}]}


def token_for(key: Any, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "my-api", "sub": "alice", "iat": now, "exp": now + 600}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": KID})


def release(state: Path, tmp: Path, count: Path, jwks_file: Path) -> None:
    jwks = json.loads(jwks_file.read_text())  # what `${file(./jwks.json)}` resolves to
    rest = definition(
        "rest",
        (
            F("auth", "token", count),
            F("reqauth", "request", count),
            F(
                "private",
                "echo",
                count,
                ("http", {"method": "get", "path": "private", "authorizer": "auth"}),
                (
                    "http",
                    {
                        "method": "get",
                        "path": "nocache",
                        "authorizer": {"name": "auth", "resultTtlInSeconds": 0},
                    },
                ),
                (
                    "http",
                    {
                        "method": "get",
                        "path": "checked",
                        "authorizer": {
                            "name": "auth",
                            "identityValidationExpression": "^[a-z0-9]+$",
                        },
                    },
                ),
                (
                    "http",
                    {
                        "method": "get",
                        "path": "teams/{team}",
                        "authorizer": {
                            "name": "reqauth",
                            "type": "request",
                            "identitySource": "method.request.header.X-Api-Key, "
                            "method.request.querystring.team",
                        },
                    },
                ),
                ("http", {"method": "post", "path": "private", "authorizer": "auth"}),
                ("http", {"method": "get", "path": "signed", "authorizer": "aws_iam"}),
                (
                    "http",
                    {
                        "method": "get",
                        "path": "sibling",
                        "authorizer": {
                            "arn": "arn:aws:lambda:us-east-1:123456789012:function:gate-dev-check"
                        },
                    },
                ),
                (
                    "http",
                    {
                        "method": "get",
                        "path": "elsewhere",
                        "authorizer": "arn:aws:lambda:us-east-1:123456789012:function:other-x",
                    },
                ),
                ("http", {"method": "get", "path": "open"}),
                (
                    "http",
                    {
                        "method": "get",
                        "path": "pool",
                        "authorizer": {"name": "pool", "arn": POOL_ARN, "scopes": ["admin"]},
                    },
                ),
            ),
        ),
        custom={"shipway": {"jwks": {"pool": jwks}}},
    )
    api = definition(
        "api",
        (
            F("simple", "simple", count),
            F("v1", "v1", count),
            F(
                "echo",
                "echo",
                count,
                ("httpApi", {"method": "GET", "path": "/simple", "authorizer": {"name": "lam"}}),
                ("httpApi", {"method": "GET", "path": "/jwt", "authorizer": {"name": "jwt"}}),
                (
                    "httpApi",
                    {
                        "method": "GET",
                        "path": "/admin",
                        "authorizer": {"name": "jwt", "scopes": ["admin"]},
                    },
                ),
                ("httpApi", {"method": "GET", "path": "/nokeys", "authorizer": {"name": "nokeys"}}),
                ("httpApi", {"method": "GET", "path": "/iam", "authorizer": {"type": "aws_iam"}}),
                ("httpApi", {"method": "GET", "path": "/v1", "authorizer": {"name": "v1"}}),
            ),
        ),
        provider={
            "httpApi": {
                "authorizers": {
                    "lam": {
                        "type": "request",
                        "functionName": "simple",
                        "enableSimpleResponses": True,
                        "identitySource": "$request.header.X-Pass",
                        "resultTtlInSeconds": 300,
                    },
                    "jwt": {
                        "identitySource": "$request.header.Authorization",
                        "issuerUrl": ISSUER,
                        "audience": ["my-api"],
                    },
                    "nokeys": {
                        "identitySource": "$request.header.Authorization",  # schema: required
                        "issuerUrl": "https://nowhere.example.com/",
                        "audience": "x",
                    },
                    "v1": {
                        "type": "request",
                        "functionName": "v1",
                        "payloadVersion": "1.0",
                        "identitySource": ["$request.header.X-Pass"],
                    },
                }
            }
        },
        custom={"shipway": {"jwks": {ISSUER: jwks}}},
    )
    gate = definition("gate", (F("check", "token", count),))
    LocalTarget(state).release(
        "dev",
        1,
        "commit1",
        [
            (rest, artifact(tmp, "rest")),
            (api, artifact(tmp, "api")),
            (gate, artifact(tmp, "gate")),
        ],
    )


Reply = tuple[int, dict[str, str], Any]


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def __call__(self, method: str, path: str, **headers: str) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
            res = conn.getresponse()
            body = res.read()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, json.loads(body)
        finally:
            conn.close()


@pytest.fixture
def served(tmp_path: Path, keys: tuple[Any, Any]) -> Iterator[tuple[Client, Path]]:
    state = tmp_path / "state"
    count = tmp_path / "invocations.txt"
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(jwks_of(keys[0])))
    release(state, tmp_path / "zips", count, jwks_file)
    with running_gateway(state) as port:
        yield Client(port), count


def calls(count: Path) -> list[str]:
    return count.read_text().split() if count.exists() else []


def test_token_authorizer_allows_and_passes_its_context(served: tuple[Client, Path]) -> None:
    client, count = served
    status, _, body = client("GET", "/dev/rest/private", Authorization="alice")
    assert status == 200
    auth = body["authorizer"]
    assert auth["principalId"] == "user-alice"
    assert (auth["tenant"], auth["level"], auth["admin"]) == ("acme", "3", "false")
    assert calls(count) == ["token:alice"]


def test_token_authorizer_deny_missing_failed(served: tuple[Client, Path]) -> None:
    client, count = served
    status, headers, body = client("GET", "/dev/rest/private", Authorization="deny")
    assert status == 403
    assert body == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }
    assert headers["x-amzn-errortype"] == "AccessDeniedException"
    # the policy allows GET only: POST on the same path is an implicit deny
    status, _, body = client("POST", "/dev/rest/private", Authorization="bob")
    assert (status, body) == (403, {"Message": "User is not authorized to access this resource"})
    before = len(calls(count))
    assert client("GET", "/dev/rest/private")[:3:2] == (401, {"message": "Unauthorized"})
    assert len(calls(count)) == before  # no identity: the authorizer is not run
    assert client("GET", "/dev/rest/private", Authorization="fail")[::2] == (
        401,
        {"message": "Unauthorized"},
    )
    status, headers, body = client("GET", "/dev/rest/private", Authorization="boom")
    assert (status, body) == (500, {"message": None})
    assert headers["x-amzn-errortype"] == "AuthorizerConfigurationException"
    assert client("GET", "/dev/rest/nocache", Authorization="nested")[0] == 500
    # identityValidationExpression: a mismatch is 401 without running the authorizer
    before = len(calls(count))
    assert client("GET", "/dev/rest/checked", Authorization="NOT-valid")[0] == 401
    assert len(calls(count)) == before
    assert client("GET", "/dev/rest/checked", Authorization="valid1")[0] == 200


def test_token_authorizer_result_is_cached_by_its_ttl(served: tuple[Client, Path]) -> None:
    client, count = served
    for _ in range(3):
        assert client("GET", "/dev/rest/private", Authorization="carol")[0] == 200
    assert calls(count).count("token:carol") == 1
    for _ in range(2):
        assert client("GET", "/dev/rest/nocache", Authorization="dave")[0] == 200
    assert calls(count).count("token:dave") == 2  # resultTtlInSeconds: 0


def test_request_authorizer_reads_header_and_query(served: tuple[Client, Path]) -> None:
    client, _ = served
    status, _, body = client("GET", "/dev/rest/teams/blue?team=blue", X_Api_Key="k1")
    assert status == 200
    assert body["authorizer"]["principalId"] == "svc"
    assert body["authorizer"]["type"] == "REQUEST"
    assert body["authorizer"]["path"] == "/teams/blue"
    assert client("GET", "/dev/rest/teams/red?team=red", X_Api_Key="k1")[0] == 403
    assert client("GET", "/dev/rest/teams/blue", X_Api_Key="k1")[0] == 401  # no query


def test_open_route_needs_nothing(served: tuple[Client, Path]) -> None:
    client, count = served
    status, _, body = client("GET", "/dev/rest/open")
    assert status == 200 and body["authorizer"] is None
    assert calls(count) == []


def test_aws_iam_needs_a_signed_request(served: tuple[Client, Path]) -> None:
    client, _ = served
    status, _, body = client("GET", "/dev/rest/signed")
    assert (status, body) == (403, {"message": "Missing Authentication Token"})
    signed = "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20260101/us-east-1/execute-api/aws4_request"
    status, _, body = client("GET", "/dev/rest/signed", Authorization=signed)
    assert status == 200 and body["identity"] == "AKIDLOCAL"
    assert client("GET", "/dev/api/iam")[::2] == (403, {"message": "Forbidden"})
    status, _, body = client("GET", "/dev/api/iam", Authorization=signed)
    assert status == 200 and body["authorizer"] == {"iam": {"accessKey": "AKIDLOCAL"}}


def test_authorizer_by_arn_runs_the_sibling_service_function(
    served: tuple[Client, Path],
) -> None:
    client, count = served
    status, _, body = client("GET", "/dev/rest/sibling", Authorization="erin")
    assert status == 200 and body["authorizer"]["principalId"] == "user-erin"
    assert calls(count) == ["token:erin"]
    status, headers, _ = client("GET", "/dev/rest/elsewhere", Authorization="erin")
    assert status == 500
    assert "not deployed locally" in headers["x-shipway-error"]


def test_http_api_simple_response_authorizer(served: tuple[Client, Path]) -> None:
    client, count = served
    status, _, body = client("GET", "/dev/api/simple", X_Pass="letmein")
    assert status == 200
    assert body["authorizer"] == {"lambda": {"who": "simple", "n": 1, "type": "REQUEST"}}
    assert client("GET", "/dev/api/simple", X_Pass="letmein")[0] == 200
    assert calls(count).count("simple:letmein") == 1  # cached for 300 s
    assert client("GET", "/dev/api/simple", X_Pass="nope")[::2] == (
        403,
        {"message": "Forbidden"},
    )
    assert client("GET", "/dev/api/simple")[::2] == (401, {"message": "Unauthorized"})


def test_jwt_authorizer(served: tuple[Client, Path], keys: tuple[Any, Any]) -> None:
    client, _ = served
    good, other = keys

    def get(path: str, token: str) -> Reply:
        return client("GET", path, Authorization=f"Bearer {token}")

    status, _, body = get("/dev/api/jwt", token_for(good, scope="read admin"))
    assert status == 200
    assert body["authorizer"]["jwt"]["claims"]["sub"] == "alice"
    assert body["authorizer"]["jwt"]["scopes"] == ["read", "admin"]
    # no `aud`: `client_id` stands for it, as API Gateway accepts access tokens
    assert get("/dev/api/jwt", token_for(good, aud=None, client_id="my-api"))[0] == 200
    for bad in (
        token_for(good, exp=int(time.time()) - 10),  # expired
        token_for(good, aud="someone-else"),
        token_for(good, iss="https://evil.example.com/"),
        token_for(other),  # signed by a key that is not in the JWKS
        "not-a-jwt",
    ):
        status, headers, body = get("/dev/api/jwt", bad)
        assert (status, body) == (401, {"message": "Unauthorized"})
        assert headers["www-authenticate"].startswith("Bearer")
    assert client("GET", "/dev/api/jwt")[0] == 401
    # scopes: any one of the route's suffices; none is 403
    assert get("/dev/api/admin", token_for(good, scope="admin"))[0] == 200
    assert get("/dev/api/admin", token_for(good, scope="read"))[::2] == (
        403,
        {"message": "Forbidden"},
    )
    # an authorizer with no JWKS configured refuses every token
    assert get("/dev/api/nokeys", token_for(good))[0] == 401


def test_http_api_payload_1_0_authorizer(served: tuple[Client, Path]) -> None:
    client, count = served
    status, _, body = client("GET", "/dev/api/v1", X_Pass="abc")
    assert status == 200 and body["authorizer"] == {"lambda": {"payload": "1.0"}}
    assert calls(count) == ["v1:abc"]
    assert client("GET", "/dev/api/v1")[0] == 401


def test_cognito_user_pool_authorizer(served: tuple[Client, Path], keys: tuple[Any, Any]) -> None:
    client, _ = served
    good, other = keys
    access = token_for(good, iss=POOL_ISSUER, aud=None, client_id="app", scope="admin")
    status, _, body = client("GET", "/dev/rest/pool", Authorization=access)
    assert status == 200 and body["authorizer"]["claims"]["client_id"] == "app"
    for bad in (
        token_for(good, iss=POOL_ISSUER, scope="read"),  # not the route's scope
        token_for(good, scope="admin"),  # another issuer
        token_for(other, iss=POOL_ISSUER, scope="admin"),  # not the pool's key
    ):
        assert client("GET", "/dev/rest/pool", Authorization=bad)[::2] == (
            401,
            {"message": "Unauthorized"},
        )
