"""AWS error codes and the messages Shipway gives for them (pure: works on the error
response dict botocore attaches to a ClientError, so no boto3 here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipway.errors import ShipwayError

__all__ = [
    "ACCESS_DENIED",
    "BAD_CREDENTIALS",
    "THROTTLING",
    "TRANSIENT",
    "AwsError",
    "failure",
    "retryable",
]

THROTTLING = frozenset(
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
TRANSIENT = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "AuthorizationErrorException",
        "Forbidden",
    }
)
BAD_CREDENTIALS = frozenset(
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


def code(response: Mapping[str, Any]) -> str:
    return str(response.get("Error", {}).get("Code", ""))


def message(response: Mapping[str, Any]) -> str:
    return str(response.get("Error", {}).get("Message", ""))


def status(response: Mapping[str, Any]) -> int:
    value = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return int(value or 0)


def retryable(response: Mapping[str, Any]) -> bool:
    """Throttling (by code, or CloudFormation's `Throttling: Rate exceeded` message) and
    transient server errors: worth another try after a pause."""
    name = code(response)
    if name in THROTTLING or name in TRANSIENT or status(response) >= 500:
        return True
    return "Rate exceeded" in message(response)


def failure(
    response: Mapping[str, Any], what: str, action: str, verb: str = "read"
) -> ShipwayError:
    """The ShipwayError for a refused call: access denied, bad credentials, or other."""
    name, text = code(response), message(response)
    doing = "reading" if verb == "read" else f"trying to {verb}"
    if name in ACCESS_DENIED or (status(response) == 403 and name not in BAD_CREDENTIALS):
        return ShipwayError(
            f"access denied {doing} {what}: {text or name}",
            hint=f"the credentials in use need `{action}` on it",
        )
    if name in BAD_CREDENTIALS:
        return ShipwayError(
            f"AWS rejected the credentials while {doing} {what}: {text or name}",
            hint="check AWS_PROFILE or the access keys, and that they have not expired",
        )
    return ShipwayError(f"cannot {verb} {what}: {name}: {text}")


class AwsError(Exception):
    """A call AWS refused (not throttling: that is retried): botocore's ClientError,
    carried as its plain response so the modules beside client.py need no botocore."""

    def __init__(self, response: Mapping[str, Any], operation: str = "") -> None:
        super().__init__(f"{code(response)}: {message(response)}")
        self.response = response
        self.operation = operation

    @property
    def code(self) -> str:
        return code(self.response)

    @property
    def message(self) -> str:
        return message(self.response)

    def not_found(self) -> bool:
        """CloudFormation's way of saying "no such stack"."""
        return self.code == "ValidationError" and "does not exist" in self.message
