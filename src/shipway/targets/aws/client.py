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

__all__ = ["AwsClient", "SsmParameter"]

T = TypeVar("T")

_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
_TRANSIENT = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "AuthorizationErrorException",
        "Forbidden",
    }
)
_BAD_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
    }
)


@dataclass(frozen=True)
class SsmParameter:
    """An SSM parameter as GetParameter returns it: `type` is String, StringList or
    SecureString; `value` is the text (decrypted when asked)."""

    name: str
    type: str
    value: str


class AwsClient:
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
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 6,
        base_delay: float = 0.25,
        max_delay: float = 8.0,
    ) -> None:
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self._sleep = sleep
        self._attempts = max(1, attempts)
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

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
        except ClientError as exc:
            if _code(exc) == "ParameterNotFound":
                return None
            raise _failure(exc, what, "ssm:GetParameter") from None
        param = out["Parameter"]
        return SsmParameter(name, str(param["Type"]), str(param["Value"]))

    def stack_outputs(self, stack: str, region: str | None = None) -> dict[str, str] | None:
        """A CloudFormation stack's outputs (key -> value), or None when no such stack."""
        region = region or self.region
        what = f"CloudFormation stack `{stack}` (region {region})"
        cfn = self._client("cloudformation", region)
        try:
            out = self._call(what, lambda: cfn.describe_stacks(StackName=stack))
        except ClientError as exc:
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
        except ClientError as exc:
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
        except ClientError as exc:
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
        except ClientError as exc:
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

    # ------------------------------------------------------------------ internals

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            found = self._clients.get((service, region))
            if found is not None:
                return found
            try:
                if self._session is None:
                    self._session = boto3.session.Session(profile_name=self.profile)
                client = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    config=Config(
                        retries={"total_max_attempts": 1},
                        connect_timeout=10,
                        read_timeout=30,
                    ),
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

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """`fn()`, retried on throttling; ClientError (not retried) propagates."""
        for attempt in range(1, self._attempts + 1):
            try:
                return fn()
            except ClientError as exc:
                code = _code(exc)
                retry = code in _THROTTLING or code in _TRANSIENT or _status(exc) >= 500
                if not retry:
                    raise
                if attempt == self._attempts:
                    raise ShipwayError(
                        f"AWS kept refusing to read {what} ({code}) after {attempt} tries",
                        hint="the account is being throttled; try again in a minute",
                    ) from None
                self._sleep(min(self._max_delay, self._base_delay * 2 ** (attempt - 1)))
            except (NoCredentialsError, PartialCredentialsError):
                raise ShipwayError(
                    f"no AWS credentials to read {what}",
                    hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
                ) from None
            except EndpointConnectionError as exc:
                raise ShipwayError(f"cannot reach AWS to read {what}: {exc}") from None
            except BotoCoreError as exc:
                raise ShipwayError(f"cannot read {what}: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def _status(exc: Any) -> int:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return int(status or 0)


def _failure(exc: Any, what: str, action: str) -> ShipwayError:
    code, message = _code(exc), _message(exc)
    if code in _ACCESS_DENIED or (_status(exc) == 403 and code not in _BAD_CREDENTIALS):
        return ShipwayError(
            f"access denied reading {what}: {message or code}",
            hint=f"the credentials in use need `{action}` on it",
        )
    if code in _BAD_CREDENTIALS:
        return ShipwayError(
            f"AWS rejected the credentials while reading {what}: {message or code}",
            hint="check AWS_PROFILE or the access keys, and that they have not expired",
        )
    return ShipwayError(f"cannot read {what}: {code}: {message}")
