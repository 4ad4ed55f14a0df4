"""`AwsClient`: the one module that imports boto3.

A small typed surface over the AWS calls Shipway makes, with:
- retries of throttling (and transient 5xx) errors, exponential backoff through an
  injected `sleep` (botocore's own retries are off, so tests control time);
- `ShipwayError`s that name the parameter, stack, bucket or secret, the region, and what
  to do (access denied, bad credentials, no credentials, unreachable endpoint);
- "not found" as `None` where the Framework treats it as "no value" (SSM parameter,
  stack or output, S3 key).

`endpoint_url=None` lets boto3 read `AWS_ENDPOINT_URL` (tests point it at moto's server).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from shipway.errors import ShipwayError
from shipway.targets.aws import errors
from shipway.targets.aws.errors import AwsError
from shipway.targets.aws.event_source_calls import EventSourceCalls
from shipway.targets.aws.s3_calls import S3Calls
from shipway.targets.aws.stack_calls import CloudFormationCalls
from shipway.targets.aws.stage_calls import ApiGatewayCalls

__all__ = ["AwsClient", "SsmParameter"]

T = TypeVar("T")


@dataclass(frozen=True)
class SsmParameter:
    """An SSM parameter as GetParameter returns it: `type` is String, StringList or
    SecureString; `value` is the text (decrypted when asked)."""

    name: str
    type: str
    value: str


class AwsClient(CloudFormationCalls, S3Calls, ApiGatewayCalls, EventSourceCalls):
    """AWS calls for one account, with `region` the default for every call.

    `sleep` is called between retries (inject a fake in tests); `attempts` is the total
    number of tries of a throttled call.
    """

    def __init__(
        self,
        region: str,
        profile: str | None = None,
        endpoint_url: str | None = None,
        *,
        role_arn: str | None = None,
        credentials: tuple[str, str] | None = None,
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[float], float] | None = None,
        attempts: int = 6,
        base_delay: float = 0.25,
        max_delay: float = 8.0,
    ) -> None:
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.role_arn = role_arn
        self._credentials = credentials  # (key id, secret): the local emulator's, never AWS's
        self._sleep = sleep or time.sleep
        # the real clock gets jitter (many callers throttled together must not retry in step)
        self._jitter = jitter or (None if sleep else _upper_half_jitter)
        self._attempts = max(1, attempts)
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._config = Config(
            retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=60
        )

    @property
    def sleep(self) -> Callable[[float], None]:
        """The pause between polls and retries (injected in tests)."""
        return self._sleep

    # ------------------------------------------------------------------ calls

    def ssm_parameter(
        self, name: str, decrypt: bool = True, region: str | None = None
    ) -> SsmParameter | None:
        """An SSM parameter, or None when it does not exist."""
        region = region or self.region
        what = f"SSM parameter `{name}` (region {region})"
        ssm = self._client("ssm", region)
        try:
            out = self._call(what, lambda: ssm.get_parameter(Name=name, WithDecryption=decrypt))
        except AwsError as exc:
            if _code(exc) == "ParameterNotFound":
                return None
            raise _failure(exc, what, "ssm:GetParameter") from None
        param = out["Parameter"]
        return SsmParameter(name, str(param["Type"]), str(param["Value"]))

    def put_parameter(self, name: str, value: str, type_: str, region: str | None = None) -> None:
        """Writes (or overwrites) an SSM parameter."""
        region = region or self.region
        what = f"SSM parameter `{name}` (region {region})"
        ssm = self._client("ssm", region)
        try:
            self._call(
                what,
                lambda: ssm.put_parameter(Name=name, Value=value, Type=type_, Overwrite=True),
            )
        except AwsError as exc:
            raise _failure(exc, what, "ssm:PutParameter", "write") from None

    def delete_parameter(self, name: str, region: str | None = None) -> bool:
        """Deletes an SSM parameter; False when there was none."""
        region = region or self.region
        what = f"SSM parameter `{name}` (region {region})"
        ssm = self._client("ssm", region)
        try:
            self._call(what, lambda: ssm.delete_parameter(Name=name))
        except AwsError as exc:
            if _code(exc) == "ParameterNotFound":
                return False
            raise _failure(exc, what, "ssm:DeleteParameter", "delete") from None
        return True

    def stack_outputs(self, stack: str, region: str | None = None) -> dict[str, str] | None:
        """A CloudFormation stack's outputs (key -> value), or None when no such stack."""
        region = region or self.region
        what = f"CloudFormation stack `{stack}` (region {region})"
        cfn = self._client("cloudformation", region)
        try:
            out = self._call(what, lambda: cfn.describe_stacks(StackName=stack))
        except AwsError as exc:
            if _code(exc) == "ValidationError" and "does not exist" in _message(exc):
                return None
            raise _failure(exc, what, "cloudformation:DescribeStacks") from None
        stacks = out.get("Stacks") or []
        if not stacks:
            return None
        return {
            str(o["OutputKey"]): str(o.get("OutputValue", ""))
            for o in stacks[0].get("Outputs") or []
        }

    def stack_output(self, stack: str, output: str, region: str | None = None) -> str | None:
        """One output of a stack; None when the stack or the output does not exist."""
        outputs = self.stack_outputs(stack, region)
        return None if outputs is None else outputs.get(output)

    def account_id(self) -> str:
        """The account of the credentials in use (STS GetCallerIdentity)."""
        sts = self._client("sts", self.region)
        what = "the AWS account id"
        try:
            out = self._call(what, lambda: sts.get_caller_identity())
        except AwsError as exc:
            raise _failure(exc, what, "sts:GetCallerIdentity") from None
        return str(out["Account"])

    def s3_object(self, bucket: str, key: str, region: str | None = None) -> str | None:
        """An S3 object's body as text (UTF-8), or None when the key does not exist."""
        region = region or self.region
        what = f"S3 object `s3://{bucket}/{key}`"
        s3 = self._client("s3", region)

        def get() -> bytes:
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body

        try:
            data = self._call(what, get)
        except AwsError as exc:
            if _code(exc) == "NoSuchKey":
                return None
            if _code(exc) == "NoSuchBucket":
                raise ShipwayError(f"bucket `{bucket}` does not exist (reading {what})") from None
            raise _failure(exc, what, "s3:GetObject") from None
        return data.decode("utf-8", errors="replace")

    def secret_value(
        self,
        secret_id: str,
        json_key: str | None = None,
        version_stage: str | None = None,
        version_id: str | None = None,
        region: str | None = None,
    ) -> str:
        """A Secrets Manager secret (or one key of its JSON), as CodeBuild's
        `secrets-manager` reads `secret-id:json-key:version-stage:version-id`."""
        region = region or self.region
        what = f"secret `{secret_id}` (region {region})"
        secrets = self._client("secretsmanager", region)
        kwargs: dict[str, str] = {"SecretId": secret_id}
        if version_stage:
            kwargs["VersionStage"] = version_stage
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            out = self._call(what, lambda: secrets.get_secret_value(**kwargs))
        except AwsError as exc:
            if _code(exc) == "ResourceNotFoundException":
                version = version_stage or version_id
                at = f" at version `{version}`" if version else ""
                raise ShipwayError(
                    f"{what} does not exist{at}",
                    hint="check the secret's name or ARN and the region",
                ) from None
            raise _failure(exc, what, "secretsmanager:GetSecretValue") from None
        text = out.get("SecretString")
        if text is None:
            binary = out.get("SecretBinary") or b""
            text = binary.decode("utf-8", errors="replace")
        if json_key is None:
            return str(text)
        try:
            document = json.loads(text)
        except ValueError:
            raise ShipwayError(f"{what} is not JSON, so it has no key `{json_key}`") from None
        if not isinstance(document, dict) or json_key not in document:
            raise ShipwayError(f"{what} has no JSON key `{json_key}`")
        value = document[json_key]
        return value if isinstance(value, str) else json.dumps(value)

    # ------------------------------------------------------------------ identity

    def caller_identity(self) -> tuple[str, str]:
        """(account, ARN) of the credentials in use: the first call of a deploy, so
        missing or wrong credentials stop it before anything is touched."""
        sts = self._client("sts", self.region)
        what = "the account to deploy to (sts:GetCallerIdentity)"
        try:
            out = self._call(what, lambda: sts.get_caller_identity())
        except AwsError as exc:
            raise _failure(exc, what, "sts:GetCallerIdentity") from None
        return str(out["Account"]), str(out.get("Arn", ""))

    def check_account(self, expected: str | None) -> str:
        """The account in use; a ShipwayError when `expected` is given and differs."""
        account, arn = self.caller_identity()
        if expected and account != expected:
            raise ShipwayError(
                f"the AWS credentials in use ({arn or account}) are for account {account}, "
                f"not {expected}",
                hint="use the profile or role of the environment's account, or fix `account`",
            )
        return account

    # ------------------------------------------------------------------ internals

    def _new_session(self) -> Any:
        """The profile's session (or the standard chain's); with `role_arn`, a session on
        the role's temporary credentials, assumed once through STS."""
        if self._credentials is not None:
            key, secret = self._credentials
            return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret)
        session = boto3.session.Session(profile_name=self.profile)
        if not self.role_arn:
            return session
        sts = session.client(
            "sts", region_name=self.region, endpoint_url=self.endpoint_url, config=self._config
        )
        what = f"role `{self.role_arn}`"
        try:
            out = self._call(
                what,
                lambda: sts.assume_role(RoleArn=self.role_arn, RoleSessionName="shipway"),
                verb="assume",
            )
        except AwsError as exc:
            raise _failure(exc, what, "sts:AssumeRole", "assume") from None
        creds = out["Credentials"]
        return boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            found = self._clients.get((service, region))
            if found is not None:
                return found
            try:
                if self._session is None:
                    self._session = self._new_session()
                client = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    config=self._config,
                )
            except ProfileNotFound:
                raise ShipwayError(
                    f"AWS profile `{self.profile}` is not configured",
                    hint="check ~/.aws/config or the environment's `profile`",
                ) from None
            except NoRegionError:
                raise ShipwayError("no AWS region given", hint="set `provider.region`") from None
            self._clients[(service, region)] = client
            return client

    def _delay(self, attempt: int) -> float:
        """Exponential backoff; with jitter (a random point in its upper half) unless the
        caller injected `sleep` without `jitter`, so tests see exact delays."""
        delay = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
        return self._jitter(delay) if self._jitter else delay

    def _call(self, what: str, fn: Callable[[], T], verb: str = "read") -> T:
        """`fn()`, retried on throttling; any other refusal raises `AwsError`."""
        for attempt in range(1, self._attempts + 1):
            try:
                return fn()
            except ClientError as exc:
                if not errors.retryable(exc.response):
                    raise AwsError(exc.response, exc.operation_name) from None
                if attempt == self._attempts:
                    raise ShipwayError(
                        f"AWS kept refusing to {verb} {what} ({_code(exc)}) after {attempt} tries",
                        hint="the account is being throttled; try again in a minute",
                    ) from None
                self._sleep(self._delay(attempt))
            except (NoCredentialsError, PartialCredentialsError):
                raise ShipwayError(
                    f"no AWS credentials to {verb} {what}",
                    hint="set the environment's `profile` or `role_arn`, AWS_PROFILE, or "
                    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
                ) from None
            except EndpointConnectionError as exc:
                raise ShipwayError(f"cannot reach AWS to {verb} {what}: {exc}") from None
            except BotoCoreError as exc:
                raise ShipwayError(f"cannot {verb} {what}: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover


def _upper_half_jitter(delay: float) -> float:
    return delay * (0.5 + random.random() / 2)


def _code(exc: Any) -> str:
    return errors.code(exc.response)


def _message(exc: Any) -> str:
    return errors.message(exc.response)


def _failure(exc: Any, what: str, action: str, verb: str = "read") -> ShipwayError:
    return errors.failure(exc.response, what, action, verb)
