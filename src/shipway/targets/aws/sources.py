"""The resolver's AWS-backed sources, as the Serverless Framework v3 answers them.

`aws_sources(client)` gives the `sources` mapping for `Resolver` / `load_service`:

- `${ssm:/path}`, `${ssm(region):/path}`, params `raw` and `noDecrypt`
  (lib/configuration/variables/sources/instance-dependent/get-ssm.js): a String is its
  text; a StringList a list (its text with `raw`); a SecureString is decrypted, and parsed
  as JSON when it starts with `{` (unless `raw`). The v1/v2 suffixes `~true` and `~split`
  are accepted and dropped: what they asked for is v3's default, and `~` cannot be part
  of a parameter name.
- `${cf:stack.Output}`, `${cf(region):stack.Output}` (get-cf.js).
- `${s3:bucket/key}`: the object's text (get-s3.js).
- `${aws:accountId}` (STS); `${aws:region}` stays the resolver's own.

A missing parameter, stack, output or key is "no value" (so a fallback applies), as in
v3; access denied and other AWS errors stop the variable with a message naming it. The
region is the variable's `(region)` param, else the service's (`--region`,
`provider.region`, us-east-1). Each lookup is made once per `aws_sources()` mapping: make
one per resolution.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

from shipway.config.variables import Absent, SourceCall, SourceFn
from shipway.errors import ShipwayError
from shipway.limits import REGION_PATTERN
from shipway.targets.aws.client import AwsClient, SsmParameter

__all__ = ["AwsSources", "ParameterReader", "aws_sources"]

_SSM_FLAGS = frozenset({"raw", "noDecrypt"})
_LEGACY_SSM_SUFFIXES = ("~true", "~split")
_REGION = re.compile(REGION_PATTERN)


class ParameterReader(Protocol):
    """Where `${ssm:}` reads: AWS (`AwsClient`), or the local emulator's parameter store."""

    def ssm_parameter(
        self, name: str, decrypt: bool = True, region: str | None = None
    ) -> SsmParameter | None: ...


def aws_sources(
    client: AwsClient,
    on_secret: Callable[[str], None] | None = None,
    parameters: ParameterReader | None = None,
) -> dict[str, SourceFn]:
    """`ssm`, `cf`, `s3` and `aws` sources over `client`, with a fresh lookup cache.
    `on_secret` is told every decrypted SecureString value (to be masked); `parameters`:
    where `${ssm:}` reads, when not `client`."""
    return AwsSources(client, on_secret, parameters).mapping()


class AwsSources:
    """The AWS sources of one resolution; every AWS answer (or error) is kept."""

    def __init__(
        self,
        client: AwsClient,
        on_secret: Callable[[str], None] | None = None,
        parameters: ParameterReader | None = None,
    ) -> None:
        self.client = client
        self.parameters: ParameterReader = parameters or client
        self.on_secret = on_secret
        self._cache: dict[tuple[Any, ...], Any] = {}

    def mapping(self) -> dict[str, SourceFn]:
        return {"ssm": self.ssm, "cf": self.cf, "s3": self.s3, "aws": self.aws}

    # ------------------------------------------------------------------ sources

    def ssm(self, call: SourceCall) -> Any:
        name = _address(call, "a parameter name: `${ssm:/path/to/param}`")
        for suffix in _LEGACY_SSM_SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        flags = {p for p in call.params if isinstance(p, str) and p in _SSM_FLAGS}
        rest = [p for p in call.params if p is not None and p not in _SSM_FLAGS]
        region = _region(call, rest)
        decrypt = "noDecrypt" not in flags
        param: SsmParameter | None = self._once(
            ("ssm", region, name, decrypt),
            lambda: self.parameters.ssm_parameter(name, decrypt, region=region),
        )
        if param is None:
            missing = getattr(self.parameters, "missing", None)  # the reader's own words
            if missing is not None:
                return Absent(missing(name, region))
            return Absent(f"SSM parameter `{name}` does not exist in {region}")
        raw = "raw" in flags
        if param.type == "SecureString" and decrypt and self.on_secret is not None:
            self.on_secret(param.value)
        if param.type == "StringList":
            return param.value if raw else param.value.split(",")
        if param.type == "SecureString" and not raw and param.value.startswith("{"):
            try:
                parsed = json.loads(param.value)
            except ValueError:
                return param.value
            if self.on_secret is not None:  # a JSON secret's fields are secrets too
                for leaf in _strings(parsed):
                    self.on_secret(leaf)
            return parsed
        return param.value

    def cf(self, call: SourceCall) -> Any:
        address = _address(call, "`<stack-name>.<output-id>`")
        stack, dot, output = address.partition(".")
        if not dot:
            raise ShipwayError(
                f"unsupported `cf` address `{address}`: expected `<stack-name>.<output-id>`"
            )
        region = _region(call, [p for p in call.params if p is not None])
        outputs: dict[str, str] | None = self._once(
            ("cf", region, stack), lambda: self.client.stack_outputs(stack, region=region)
        )
        if outputs is None:
            return Absent(f"stack `{stack}` does not exist in {region}")
        if output not in outputs:
            return Absent(f"stack `{stack}` ({region}) has no output `{output}`")
        return outputs[output]

    def s3(self, call: SourceCall) -> Any:
        address = _address(call, "`<bucket-name>/<key>`")
        bucket, slash, key = address.partition("/")
        if not slash:
            raise ShipwayError(f"unsupported `s3` address `{address}`: expected `<bucket>/<key>`")
        region = _checked_region(call.resolver.region, "`provider.region`")
        body: str | None = self._once(
            ("s3", bucket, key), lambda: self.client.s3_object(bucket, key, region=region)
        )
        if body is None:
            return Absent(f"S3 object `s3://{bucket}/{key}` does not exist")
        return body

    def aws(self, call: SourceCall) -> Any:
        address = _address(call, "an address (`region` or `accountId`)")
        if address == "accountId":
            account: str = self._once(("aws", "accountId"), self.client.account_id)
            return account
        if address == "region":
            return call.resolver.region
        raise ShipwayError(f"unsupported `aws` address `{address}` (use `region` or `accountId`)")

    # ------------------------------------------------------------------ cache

    def _once(self, key: tuple[Any, ...], fetch: Callable[[], Any]) -> Any:
        if key in self._cache:
            found = self._cache[key]
        else:
            try:
                found = fetch()
            except ShipwayError as exc:
                found = exc
            self._cache[key] = found
        if isinstance(found, ShipwayError):
            raise found
        return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _address(call: SourceCall, what: str) -> str:
    if not call.address:
        raise ShipwayError(f"`{call.type}` needs {what}")
    return call.address


def _region(call: SourceCall, params: list[Any]) -> str:
    if params:
        region = params[0]
        if not isinstance(region, str) or not region:
            raise ShipwayError(f"`{call.type}` region must be a string, not {region!r}")
        return _checked_region(region, f"the `{call.type}(region)` param")
    return _checked_region(call.resolver.region, "`provider.region`")


def _checked_region(region: str, what: str) -> str:
    """A region checked before any AWS call (botocore refuses a malformed one itself,
    with an error of its own)."""
    if not _REGION.match(region):
        raise ShipwayError(f"{what} `{region[:60]}` is not an AWS region (`eu-west-2`)")
    return region
