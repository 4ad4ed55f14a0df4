"""The state one synthesis shares between its compilers (built fresh for every call)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from shipway.errors import ShipwayError, Where
from shipway.synth import naming

__all__ = [
    "Context",
    "FunctionInfo",
    "Unsupported",
    "check_keys",
    "collecting",
    "refuse",
    "unsupported",
]


class Unsupported(ShipwayError):
    """A setting the Framework knows and Shipway does not implement."""


#: while `collecting()`: where refusals go instead of being raised, so that one synthesis
#: lists every key Shipway does not implement (compilers read only the keys they know, so
#: going on past an unknown one is safe)
_refusals: ContextVar[list[ShipwayError] | None] = ContextVar("shipway_refusals", default=None)


@contextmanager
def collecting() -> Iterator[list[ShipwayError]]:
    """Refusals (`refuse`, `check_keys`) made inside are listed, not raised."""
    found: list[ShipwayError] = []
    token = _refusals.set(found)
    try:
        yield found
    finally:
        _refusals.reset(token)


def refuse(error: ShipwayError) -> None:
    """Raise `error`, or list it while `collecting()`."""
    found = _refusals.get()
    if found is None:
        raise error
    found.append(error)


def unsupported(
    source: str, key: str, what: str | None = None, hint: str | None = None
) -> ShipwayError:
    """The error for a key Shipway cannot synthesize (never silently dropped)."""
    message = f"{what or 'this setting'} is not supported by Shipway's CloudFormation synthesis"
    return Unsupported(message, Where(source, key=key), hint=hint)


def check_keys(
    source: str,
    base: str,
    value: Mapping[str, Any],
    allowed: Iterable[str],
    hint: str | None = None,
) -> None:
    if not isinstance(value, Mapping):  # `provider.httpApi: 1`: a mapping was expected
        raise ShipwayError(
            f"`{base}` must be a mapping, not {type(value).__name__}", Where(source, key=base)
        )
    allowed_set = set(allowed)
    for key in value:
        if key not in allowed_set:
            refuse(unsupported(source, f"{base}.{key}" if base else key, hint=hint))


@dataclass
class FunctionInfo:
    key: str  # the name under `functions:`
    spec: dict[str, Any]  # the resolved function mapping
    logical_id: str
    physical_name: str
    role_resource: str | None  # the logical ID of the role it uses inside the stack, if any

    @property
    def arn(self) -> dict[str, Any]:
        return {"Fn::GetAtt": [self.logical_id, "Arn"]}


@dataclass
class Context:
    source: str  # the config file shown in errors
    service: str
    stage: str
    region: str
    provider: dict[str, Any]
    functions: list[FunctionInfo]
    resources: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    instance_id: str = "0"
    #: the `Code` of the Framework's custom-resource functions (custom_resources.py)
    custom_resources_code: dict[str, Any] = field(default_factory=dict)
    #: `ForceDeploy` of `s3: {existing: true, forceDeploy: true}` (the Framework's Date.now())
    deploy_time_ms: int = 0

    def error(self, key: str, what: str | None = None, hint: str | None = None) -> ShipwayError:
        return unsupported(self.source, key, what, hint)

    def invalid(self, key: str, message: str) -> ShipwayError:
        return ShipwayError(message, Where(self.source, key=key))

    def role_statements(self) -> list[Any] | None:
        role = self.resources.get(naming.ROLE)
        if not role:
            return None
        statements: list[Any] = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        return statements
