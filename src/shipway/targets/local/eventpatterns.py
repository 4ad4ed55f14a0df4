"""EventBridge event patterns: parse them once, match events against them. Pure.

Implements the matchers of EventBridge's content filtering: exact values (strings, numbers
compared as numbers, booleans, null), `prefix`, `suffix`, `equals-ignore-case`,
`anything-but` (a value, a list, or a `prefix` / `suffix` / `equals-ignore-case`), `numeric`
ranges, `exists`, `cidr`, `wildcard`, and `$or`. An array in the event matches when any of its
elements matches. Anything else in a pattern is refused (`PatternError`), never ignored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

__all__ = ["Matcher", "PatternError", "compile_pattern"]

Matcher = Callable[[Any], bool]
_MISSING = object()
_OPERATORS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


class PatternError(ValueError):
    """A pattern EventBridge would refuse, or one with a matcher not implemented here."""


def compile_pattern(pattern: Any, at: str = "pattern") -> Matcher:
    """A function event -> bool for `pattern` (the rule's EventPattern)."""
    if not isinstance(pattern, dict) or not pattern:
        raise PatternError(f"`{at}` must be a non-empty mapping")
    checks: list[Matcher] = []
    for key, value in pattern.items():
        where = f"{at}.{key}"
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise PatternError(f"`{where}` must be a list of at least two patterns")
            checks.append(
                _any_of([compile_pattern(p, f"{where}[{i}]") for i, p in enumerate(value)])
            )
        elif isinstance(value, dict):
            checks.append(_nested(key, compile_pattern(value, where)))
        elif isinstance(value, list):
            checks.append(_field(key, _compile_leaf(value, where)))
        else:
            raise PatternError(f"`{where}` must be a list of values or matchers, not a scalar")
    return lambda event: all(check(event) for check in checks)


def _any_of(alternatives: list[Matcher]) -> Matcher:
    return lambda event: any(a(event) for a in alternatives)


def _nested(key: str, matcher: Matcher) -> Matcher:
    return lambda event: (
        isinstance(event, dict) and isinstance(event.get(key), dict) and matcher(event[key])
    )


def _field(key: str, matcher: Matcher) -> Matcher:
    return lambda event: matcher(event.get(key, _MISSING) if isinstance(event, dict) else _MISSING)


def _compare(op: str, bound: float) -> Callable[[Any], bool]:
    return lambda v: bool(_OPERATORS[op](v, bound))


def _compile_leaf(options: list[Any], at: str) -> Matcher:
    if not options:
        raise PatternError(f"`{at}` must not be an empty list")
    matchers = [_compile_option(o, f"{at}[{i}]") for i, o in enumerate(options)]
    exists = [m for m in matchers if getattr(m, "exists_check", False)]

    def match(value: Any) -> bool:
        if value is _MISSING:
            return any(m(_MISSING) for m in exists)
        if isinstance(value, list):
            return any(m(v) for v in value for m in matchers) or any(m(value) for m in exists)
        return any(m(value) for m in matchers)

    return match


def _equal(expected: Any) -> Matcher:
    if isinstance(expected, bool) or expected is None:
        return lambda v: v is expected or (v == expected and type(v) is type(expected))
    if isinstance(expected, int | float):
        return lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v == expected
    if isinstance(expected, str):
        return lambda v: isinstance(v, str) and v == expected
    raise PatternError(f"`{expected!r}` is not a value a pattern can hold")


def _text(value: Any, at: str) -> str:
    if not isinstance(value, str):
        raise PatternError(f"`{at}` takes a string")
    return value


def _string_matcher(kind: str, operand: Any, at: str) -> Matcher:
    if kind == "prefix" and isinstance(operand, dict):
        if set(operand) != {"equals-ignore-case"}:
            raise PatternError(f"`{at}` takes a string or `equals-ignore-case`")
        low = _text(operand["equals-ignore-case"], at).lower()
        return lambda v: isinstance(v, str) and v.lower().startswith(low)
    if kind == "suffix" and isinstance(operand, dict):
        if set(operand) != {"equals-ignore-case"}:
            raise PatternError(f"`{at}` takes a string or `equals-ignore-case`")
        low = _text(operand["equals-ignore-case"], at).lower()
        return lambda v: isinstance(v, str) and v.lower().endswith(low)
    text = _text(operand, at)
    if kind == "prefix":
        return lambda v: isinstance(v, str) and v.startswith(text)
    if kind == "suffix":
        return lambda v: isinstance(v, str) and v.endswith(text)
    if kind == "equals-ignore-case":
        return lambda v: isinstance(v, str) and v.lower() == text.lower()
    if kind == "wildcard":
        regex = re.compile(".*".join(re.escape(p) for p in text.split("*")), re.DOTALL)
        return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None
    raise PatternError(f"`{at}`: unknown matcher `{kind}`")  # pragma: no cover


def _numeric(operand: Any, at: str) -> Matcher:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise PatternError(f"`{at}` takes [op, number] or [op, number, op, number]")
    tests: list[Callable[[float], bool]] = []
    for op, bound in zip(operand[::2], operand[1::2], strict=True):
        if op not in _OPERATORS or isinstance(bound, bool) or not isinstance(bound, int | float):
            raise PatternError(f"`{at}`: `{op!r} {bound!r}` is not a comparison")
        tests.append(_compare(op, bound))
    return lambda v: (
        isinstance(v, int | float) and not isinstance(v, bool) and all(t(v) for t in tests)
    )


def _cidr(operand: Any, at: str) -> Matcher:
    try:
        network = ipaddress.ip_network(_text(operand, at), strict=False)
    except ValueError as e:
        raise PatternError(f"`{at}`: {e}") from None

    def match(v: Any) -> bool:
        try:
            return isinstance(v, str) and ipaddress.ip_address(v) in network
        except ValueError:
            return False

    return match


def _anything_but(operand: Any, at: str) -> Matcher:
    if isinstance(operand, dict):
        if len(operand) != 1 or next(iter(operand)) not in (
            "prefix",
            "suffix",
            "equals-ignore-case",
        ):
            raise PatternError(
                f"`{at}` takes a value, a list, `prefix`, `suffix` or `equals-ignore-case`"
            )
        ((kind, inner),) = operand.items()
        if kind == "equals-ignore-case" and isinstance(inner, list):
            excluded = [_string_matcher(kind, i, at) for i in inner]
        else:
            excluded = [_string_matcher(kind, inner, at)]
        return lambda v: isinstance(v, str) and not any(m(v) for m in excluded)
    values = operand if isinstance(operand, list) else [operand]
    equal = [_equal(v) for v in values]
    return lambda v: not any(m(v) for m in equal)


def _compile_option(option: Any, at: str) -> Matcher:
    if not isinstance(option, dict):
        return _equal(option)
    if len(option) != 1:
        raise PatternError(f"`{at}` must hold one matcher")
    ((kind, operand),) = option.items()
    where = f"{at}.{kind}"
    if kind in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
        return _string_matcher(kind, operand, where)
    if kind == "anything-but":
        return _anything_but(operand, where)
    if kind == "numeric":
        return _numeric(operand, where)
    if kind == "cidr":
        return _cidr(operand, where)
    if kind == "exists":
        if not isinstance(operand, bool):
            raise PatternError(f"`{where}` takes true or false")

        def exists(v: Any, wanted: bool = operand) -> bool:
            present = v is not _MISSING and not isinstance(v, dict)
            return present == wanted

        exists.exists_check = True  # type: ignore[attr-defined]
        return exists
    raise PatternError(f"`{where}` is not an EventBridge matcher the local runtime implements")
