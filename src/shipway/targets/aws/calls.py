"""The base the AWS call groups share with `AwsClient` (no boto3 here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class CallsBase:
    """What the call groups need of `AwsClient` (which provides it)."""

    region: str
    _sleep: Callable[[float], None]

    def _client(self, service: str, region: str) -> Any:
        raise NotImplementedError

    def _call(self, what: str, fn: Callable[[], T], verb: str = "read") -> T:
        raise NotImplementedError
