"""The source protocol (`SourceCall` -> value) and the built-in sources.

Built in: `self`, `opt`, `sls`, `env`, `file`, `param`, `strToBool` and `aws:region`.
Sources that need AWS (`ssm`, `cf`, `s3`, `aws:accountId`) come from
`shipway.targets.aws.sources`, passed to the `Resolver` as `sources`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipway.config.variables.values import coerce_string, split_address, walk
from shipway.errors import ShipwayError

if TYPE_CHECKING:
    from shipway.config.variables.resolve import Resolver

__all__ = ["AWS_SOURCES", "BUILTIN_SOURCES", "Absent", "SourceCall", "SourceFn"]

#: Source types that only an AWS-aware module can answer.
AWS_SOURCES = frozenset({"ssm", "cf", "s3", "aws"})


@dataclass(frozen=True)
class Absent:
    """A source's "no value" with the reason, shown when no fallback applies."""

    reason: str


@dataclass(frozen=True)
class SourceCall:
    """What a source is asked: `${type(params):address}` while resolving `key`."""

    type: str
    address: str | None
    params: tuple[Any, ...]
    variable: str  # the whole `${...}` text, for messages
    key: str  # the key path being resolved, e.g. `provider.environment.DB_URL`
    resolver: Resolver


#: A source: returns the value, or None / `Absent` for "no value" (the next fallback is
#: tried); raises ShipwayError for an error (which stops the variable).
SourceFn = Callable[[SourceCall], Any]


def _need_address(call: SourceCall, what: str) -> str:
    if not call.address:
        raise ShipwayError(f"`{call.type}` needs {what}")
    return call.address


def _self_source(call: SourceCall) -> Any:
    keys = split_address(call.address) if call.address else []
    value = call.resolver.lookup(keys)
    if value is None and keys == ["provider", "stage"]:
        value = call.resolver.options.get("stage") or "dev"  # the Framework's defaults
    elif value is None and keys == ["provider", "region"]:
        value = call.resolver.options.get("region") or "us-east-1"
    if value is None:
        return Absent(f"`{call.address}` is not set in the document")
    return value


def _opt_source(call: SourceCall) -> Any:
    options = call.resolver.options
    if not call.address:
        return dict(options)
    value = options.get(call.address)
    if value is None:
        return Absent(f"option `--{call.address}` is not given")
    return value


def _sls_source(call: SourceCall) -> Any:
    address = _need_address(call, "an address (`stage` or `instanceId`)")
    if address == "stage":
        return call.resolver.stage
    if address == "instanceId":
        return call.resolver.instance_id
    raise ShipwayError(f"unsupported `sls` address `{address}` (use `stage` or `instanceId`)")


def _env_source(call: SourceCall) -> Any:
    name = _need_address(call, "a variable name")
    value = call.resolver.env.get(name)
    if value is None:
        return Absent(f"environment variable `{name}` is not set")
    return value


def _param_source(call: SourceCall) -> Any:
    name = _need_address(call, "a parameter name")
    resolver = call.resolver
    if name in resolver.params and resolver.params[name] is not None:
        return resolver.params[name]
    cli = resolver.options.get("param")
    if cli:
        for item in [cli] if isinstance(cli, str) else list(cli):
            key, sep, value = str(item).partition("=")
            if sep and key.strip() == name:
                return value
    for stage in (resolver.stage, "default"):
        value = resolver.lookup(["params", stage, name])
        if value is not None:
            return value
    return Absent(f"parameter `{name}` is not set")


def _str_to_bool_source(call: SourceCall) -> Any:
    if not call.params or call.params[0] is None:
        raise ShipwayError("`strToBool` needs a value")
    value = call.params[0]
    if isinstance(value, bool):
        return value
    text = coerce_string(value)
    text = (text or "").strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ShipwayError(f"`strToBool` expects true, false, 1 or 0, not {value!r}")


def _file_source(call: SourceCall) -> Any:
    if not call.params or not call.params[0]:
        raise ShipwayError("`file` needs a path: `${file(path.yml):key}`")
    rel = call.params[0]
    if not isinstance(rel, str):
        raise ShipwayError(f"`file` path must be a string, not {rel!r}")
    content = call.resolver.read_file(rel)
    if isinstance(content, Absent) or not call.address:
        return content
    if content is None:
        return Absent(f"file `{call.resolver.file_display(rel)}` is empty")
    value = walk(content, split_address(call.address))
    if value is None:
        shown = call.resolver.file_display(rel)
        return Absent(f"`{call.address}` is not set in `{shown}`")
    return value


def _aws_source(call: SourceCall) -> Any:
    address = _need_address(call, "an address (`region` or `accountId`)")
    if address == "region":
        return call.resolver.region
    if address == "accountId":
        raise ShipwayError("needs AWS access (source `aws`), which this target does not have")
    raise ShipwayError(f"unsupported `aws` address `{address}` (use `region` or `accountId`)")


BUILTIN_SOURCES: dict[str, SourceFn] = {
    "self": _self_source,
    "opt": _opt_source,
    "sls": _sls_source,
    "env": _env_source,
    "file": _file_source,
    "param": _param_source,
    "strToBool": _str_to_bool_source,
    "aws": _aws_source,
}
