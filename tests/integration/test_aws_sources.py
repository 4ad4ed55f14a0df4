"""`${ssm:}`, `${cf:}`, `${s3:}`, `${aws:accountId}` through real boto3 calls to moto's server."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest

from shipway.config.serverless import load_service
from shipway.config.variables import Resolver
from shipway.config.yamlsrc import parse_yaml
from shipway.errors import ConfigErrors, ShipwayError
from shipway.targets.aws.client import AwsClient
from shipway.targets.aws.sources import AwsSources, aws_sources
from tests.moto import ACCOUNT_ID, REGION, moto_post

YML = "serverless.yml"


def resolve(text: str, tmp_path: Path, client: AwsClient | None = None, **kw: Any) -> Any:
    doc = parse_yaml(textwrap.dedent(text), YML)
    sources = aws_sources(client or AwsClient(REGION))
    return Resolver(doc, display=YML, service_dir=tmp_path, sources=sources, **kw).resolve()


def errors_of(text: str, tmp_path: Path, client: AwsClient | None = None) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        resolve(text, tmp_path, client)
    return [str(e) for e in info.value.errors]


def put(name: str, value: str, kind: str = "String", region: str = REGION) -> None:
    boto3.client("ssm", region_name=region).put_parameter(Name=name, Value=value, Type=kind)


STACK_TEMPLATE = {
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs"}}},
    "Outputs": {
        "QueueName": {"Value": {"Fn::GetAtt": ["Queue", "QueueName"]}},
        "Plain": {"Value": "plain-value"},
    },
}


def create_stack(name: str, region: str = REGION) -> None:
    cfn = boto3.client("cloudformation", region_name=region)
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(STACK_TEMPLATE))


# --------------------------------------------------------------------------- ssm


@pytest.mark.usefixtures("aws_env")
def test_ssm_string_stringlist_securestring(tmp_path: Path) -> None:
    put("/app/dev/url", "https://example.com")
    put("/app/dev/hosts", "a,b,c", "StringList")
    put("/app/dev/secret", "s3cret", "SecureString")
    put("/app/dev/creds", '{"user": "u", "n": 1}', "SecureString")
    put("/app/dev/json-text", '{"not": "parsed"}')  # a String is never parsed (v3)
    put("/app/eu", "from-eu", region="eu-west-1")
    out = resolve(
        """
        provider: {name: aws, stage: dev}
        custom:
          url: ${ssm:/app/${self:provider.stage}/url}
          hosts: ${ssm:/app/dev/hosts}
          hostsRaw: ${ssm(raw):/app/dev/hosts}
          hostsLegacy: ${ssm:/app/dev/hosts~split}
          secret: ${ssm:/app/dev/secret}
          secretLegacy: ${ssm:/app/dev/secret~true}
          creds: ${ssm:/app/dev/creds}
          credsRaw: ${ssm(raw):/app/dev/creds}
          text: ${ssm:/app/dev/json-text}
          eu: ${ssm(eu-west-1):/app/eu}
          inString: "url=${ssm:/app/dev/url}"
        """,
        tmp_path,
    )
    c = out["custom"]
    assert c["url"] == "https://example.com"
    assert c["hosts"] == ["a", "b", "c"]
    assert c["hostsRaw"] == "a,b,c"
    assert c["hostsLegacy"] == ["a", "b", "c"]
    assert c["secret"] == "s3cret"
    assert c["secretLegacy"] == "s3cret"
    assert c["creds"] == {"user": "u", "n": 1}
    assert c["credsRaw"] == '{"user": "u", "n": 1}'
    assert c["text"] == '{"not": "parsed"}'
    assert c["eu"] == "from-eu"
    assert c["inString"] == "url=https://example.com"


@pytest.mark.usefixtures("aws_env")
def test_ssm_no_decrypt_returns_the_ciphertext(tmp_path: Path) -> None:
    put("/app/secret", "s3cret", "SecureString")
    out = resolve("x: ${ssm(noDecrypt):/app/secret}\n", tmp_path)
    assert out["x"] != "s3cret" and "s3cret" in out["x"]  # moto's stand-in for ciphertext


@pytest.mark.usefixtures("aws_env")
def test_missing_parameter_takes_the_fallback_or_names_the_key(tmp_path: Path) -> None:
    out = resolve(
        "a: ${ssm:/nope, 'default'}\nb: ${ssm:/nope, env:NOPE, 3}\nc: ${ssm:/nope, self:a}\n",
        tmp_path,
        env={},
    )
    assert out == {"a": "default", "b": 3, "c": "default"}
    (err,) = errors_of("provider:\n  environment:\n    DB: ${ssm:/app/db}\n", tmp_path)
    assert "serverless.yml:3: `provider.environment.DB`" in err
    assert "SSM parameter `/app/db` does not exist in us-east-1" in err


# --------------------------------------------------------------------------- cf, s3, aws


@pytest.mark.usefixtures("aws_env")
def test_cf_outputs_in_the_service_region_and_another(tmp_path: Path) -> None:
    create_stack("shared-dev")
    create_stack("shared-eu", region="eu-west-1")
    out = resolve(
        """
        provider: {name: aws, region: us-east-1}
        custom:
          queue: ${cf:shared-dev.QueueName}
          plain: ${cf:shared-${opt:stage}.Plain}
          eu: ${cf(eu-west-1):shared-eu.Plain}
          noStack: ${cf:missing-stack.Plain, 'fallback'}
          noOutput: ${cf:shared-dev.Missing, 'fallback2'}
        """,
        tmp_path,
        options={"stage": "dev"},
    )
    assert out["custom"] == {
        "queue": "jobs",
        "plain": "plain-value",
        "eu": "plain-value",
        "noStack": "fallback",
        "noOutput": "fallback2",
    }
    errs = errors_of("x: ${cf:shared-dev.Nope}\ny: ${cf:nostack}\n", tmp_path)
    assert any("stack `shared-dev` (us-east-1) has no output `Nope`" in e for e in errs)
    assert any("expected `<stack-name>.<output-id>`" in e for e in errs)


@pytest.mark.usefixtures("aws_env")
def test_s3_object_and_account_id(tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="config-bucket")
    s3.put_object(Bucket="config-bucket", Key="dev/name.txt", Body=b"from s3")
    out = resolve(
        "a: ${s3:config-bucket/dev/name.txt}\nb: ${s3:config-bucket/none, 'no key'}\n"
        "c: ${aws:accountId}\nd: arn:aws:iam::${aws:accountId}:role/x\ne: ${aws:region}\n",
        tmp_path,
    )
    assert out == {
        "a": "from s3",
        "b": "no key",
        "c": ACCOUNT_ID,
        "d": f"arn:aws:iam::{ACCOUNT_ID}:role/x",
        "e": "us-east-1",
    }
    (err,) = errors_of("a: ${s3:no-such-bucket/k}\n", tmp_path)
    assert "bucket `no-such-bucket` does not exist" in err


# --------------------------------------------------------------------------- errors, caching


def test_access_denied_names_the_parameter(
    aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="reader", PolicyName="no-ssm", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    put("/app/secret", "s3cret", "SecureString")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    moto_post(aws_env, "/moto-api/reset-auth", b"0")  # enforce IAM from now on
    try:
        (err,) = errors_of("custom:\n  pw: ${ssm:/app/secret, 'fallback'}\n", tmp_path)
    finally:
        moto_post(aws_env, "/moto-api/reset-auth", b"inf")
    assert "serverless.yml:2: `custom.pw`" in err
    assert "access denied reading SSM parameter `/app/secret` (region us-east-1)" in err
    assert "need `ssm:GetParameter`" in err  # an error stops resolution: no fallback


@pytest.mark.usefixtures("aws_env")
def test_each_lookup_is_made_once_per_resolution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put("/p", "v")
    create_stack("st")
    client = AwsClient(REGION)
    calls: list[str] = []
    for name in ("ssm_parameter", "stack_outputs", "account_id"):
        real = getattr(client, name)

        def counted(*a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            calls.append(_name)
            return _real(*a, **kw)

        monkeypatch.setattr(client, name, counted)
    sources = AwsSources(client).mapping()
    doc = parse_yaml(
        "a: ${ssm:/p}\nb: ${ssm:/p}-x\nc: ${cf:st.Plain}\nd: ${cf:st.QueueName}\n"
        "e: ${aws:accountId}\nf: ${aws:accountId}\ng: ${ssm:/nope, 'x'}\nh: ${ssm:/nope, 'y'}\n",
        YML,
    )
    out = Resolver(doc, display=YML, service_dir=tmp_path, sources=sources).resolve()
    assert out["b"] == "v-x" and out["d"] == "jobs" and out["h"] == "y"
    assert sorted(calls) == ["account_id", "ssm_parameter", "ssm_parameter", "stack_outputs"]


@pytest.mark.usefixtures("aws_env")
def test_load_service_with_aws_sources(tmp_path: Path) -> None:
    put("/svc/dev/table", "orders-dev")
    (tmp_path / "serverless.yml").write_text(
        textwrap.dedent(
            """
            service: orders
            provider:
              name: aws
              runtime: python3.12
              environment:
                TABLE: ${ssm:/svc/${sls:stage}/table}
                ACCOUNT: ${aws:accountId}
            functions:
              api:
                handler: app.handler
            """
        )
    )
    definition = load_service(
        tmp_path,
        "services/orders/serverless.yml",
        stage="dev",
        env={},
        params={},
        sources=aws_sources(AwsClient(REGION)),
    )
    (fn,) = definition.functions
    assert fn.environment == {"TABLE": "orders-dev", "ACCOUNT": ACCOUNT_ID}


# --------------------------------------------------------------------------- the client


@pytest.mark.usefixtures("aws_env")
def test_secret_value_whole_key_and_stage() -> None:
    sm = boto3.client("secretsmanager", region_name=REGION)
    sm.create_secret(Name="app/db", SecretString='{"user": "admin", "port": 5432}')
    client = AwsClient(REGION)
    assert json.loads(client.secret_value("app/db")) == {"user": "admin", "port": 5432}
    assert client.secret_value("app/db", "user") == "admin"
    assert client.secret_value("app/db", "port", version_stage="AWSCURRENT") == "5432"
    with pytest.raises(ShipwayError, match="has no JSON key `nope`"):
        client.secret_value("app/db", "nope")
    with pytest.raises(ShipwayError, match=r"secret `app/missing` .* does not exist"):
        client.secret_value("app/missing")


@pytest.mark.usefixtures("aws_env")
def test_client_direct_calls() -> None:
    put("/a", "1")
    create_stack("st")
    client = AwsClient(REGION)
    param = client.ssm_parameter("/a", decrypt=True)
    assert param is not None and (param.type, param.value) == ("String", "1")
    assert client.ssm_parameter("/missing", decrypt=True) is None
    assert client.stack_output("st", "Plain") == "plain-value"
    assert client.stack_output("st", "Nope") is None
    assert client.stack_output("nostack", "Plain") is None
    assert client.account_id() == ACCOUNT_ID


def test_throttling_is_retried_with_the_injected_sleep() -> None:
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]

    slept: list[float] = []
    client = AwsClient(REGION, sleep=slept.append, attempts=4)

    class FakeSsm:
        calls = 0

        def get_parameter(self, **kw: Any) -> Any:
            FakeSsm.calls += 1
            if FakeSsm.calls < 3:
                error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
                raise ClientError(error, "GetParameter")
            return {"Parameter": {"Type": "String", "Value": "ok"}}

    client._clients[("ssm", REGION)] = FakeSsm()
    param = client.ssm_parameter("/p")
    assert param is not None and param.value == "ok"
    assert slept == [0.25, 0.5]

    FakeSsm.calls = -10  # always throttled now
    slept.clear()
    with pytest.raises(ShipwayError, match=r"kept refusing to read SSM parameter `/p`"):
        client.ssm_parameter("/p")
    assert len(slept) == 3
