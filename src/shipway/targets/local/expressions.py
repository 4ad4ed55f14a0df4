"""Schedule expressions of the local runtime: `rate(...)` and `cron(...)`, and next fire times.

Pure (no threads, no clock). Semantics follow EventBridge scheduled rules:

- `rate(1 minute|hour|day)` / `rate(N minutes|hours|days)`, N > 1 (singular for 1, plural
  otherwise). A rate counts from an anchor (when the release became current): the first fire
  is one period later.
- `cron(minutes hours day-of-month month day-of-week year)`, in UTC. Fields take `,` `-` `*`
  and `/` (not day-of-week), month and day names (`JAN`, `MON`; day-of-week 1-7 = SUN-SAT),
  years 1970-2199. Day-of-month also takes `L`, `L-n`, `LW` and `nW`; day-of-week `L`
  (Saturday), `nL` (last such day of the month) and `n#k` (k-th such day). Exactly one of
  day-of-month and day-of-week is `?`.

Malformed expressions raise `ShipwayError` without a location (`schedules.py` adds it).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shipway.errors import ShipwayError

YEAR_MIN, YEAR_MAX = 1970, 2199
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^rate\((\S+) (\S+)\)$")
_CRON = re.compile(r"^cron\((.*)\)$", re.S)
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}


@dataclass(frozen=True)
class Rate:
    text: str
    seconds: int

    def next_after(self, after: float, anchor: float) -> float:
        """The first `anchor + k * period` (k >= 1) strictly after `after`."""
        if after < anchor:
            return anchor + self.seconds
        k = int((after - anchor) // self.seconds) + 1
        return anchor + k * self.seconds


@dataclass(frozen=True)
class DaySpec:
    """Which days of a month the day-of-month / day-of-week fields select."""

    dom: frozenset[int] | None = None  # plain days of the month
    dom_last: int | None = None  # `L` (0) / `L-n` (n): last day minus n
    dom_weekday: int | None = None  # `nW`: the weekday nearest day n (0: `LW`)
    dow: frozenset[int] | None = None  # plain days of the week, 1-7 = SUN-SAT
    dow_last: int | None = None  # `nL`: the last day-of-week n of the month
    dow_nth: tuple[int, int] | None = None  # `n#k`: the k-th day-of-week n

    def days(self, year: int, month: int) -> list[int]:
        first_dow, last = calendar.monthrange(year, month)  # Monday = 0

        def dow_of(day: int) -> int:  # 1 = Sunday ... 7 = Saturday
            return (first_dow + day - 1 + 1) % 7 + 1

        if self.dom is not None:
            return sorted(d for d in self.dom if d <= last)
        if self.dom_last is not None:
            day = last - self.dom_last
            return [day] if day >= 1 else []
        if self.dom_weekday is not None:
            day = self.dom_weekday or last
            return [_nearest_weekday(day, last, dow_of)] if day <= last else []
        if self.dow is not None:
            return [d for d in range(1, last + 1) if dow_of(d) in self.dow]
        if self.dow_last is not None:
            day = last - (dow_of(last) - self.dow_last) % 7
            return [day]
        if self.dow_nth is not None:
            weekday, nth = self.dow_nth
            day = 1 + (weekday - dow_of(1)) % 7 + 7 * (nth - 1)
            return [day] if day <= last else []
        return []


def _nearest_weekday(day: int, last: int, dow_of: Any) -> int:
    """`nW`: Saturday -> the Friday before, Sunday -> the Monday after, never leaving the
    month (1W on a Saturday is Monday the 3rd; the last day on a Sunday is Friday)."""
    dow = dow_of(day)
    if dow == 7:  # Saturday
        return day - 1 if day > 1 else day + 2
    if dow == 1:  # Sunday
        return day + 1 if day < last else day - 2
    return day


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    days: DaySpec

    def next_after(self, after: float, anchor: float = 0.0) -> float | None:
        """The first matching minute strictly after `after` (epoch seconds), None if none."""
        start = datetime.fromtimestamp(after, UTC).replace(second=0, microsecond=0)
        found = self.next_datetime(start + timedelta(minutes=1))
        return None if found is None else found.timestamp()

    def next_datetime(self, t: datetime) -> datetime | None:
        """The first matching minute at or after `t` (a whole minute, UTC)."""
        year, month, day, hour, minute = t.year, t.month, t.day, t.hour, t.minute
        while True:
            y = _first_at_least(self.years, year)
            if y is None:
                return None
            if y != year:
                year, month, day, hour, minute = y, 1, 1, 0, 0
            m = _first_at_least(self.months, month)
            if m is None:
                year, month, day, hour, minute = year + 1, 1, 1, 0, 0
                continue
            if m != month:
                month, day, hour, minute = m, 1, 0, 0
            d = _first_at_least(tuple(self.days.days(year, month)), day)
            if d is None:
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
                day, hour, minute = 1, 0, 0
                continue
            if d != day:
                day, hour, minute = d, 0, 0
            h = _first_at_least(self.hours, hour)
            if h is None:
                nxt = datetime(year, month, day, tzinfo=UTC) + timedelta(days=1)
                year, month, day, hour, minute = nxt.year, nxt.month, nxt.day, 0, 0
                continue
            if h != hour:
                hour, minute = h, 0
            mi = _first_at_least(self.minutes, minute)
            if mi is None:
                nxt = datetime(year, month, day, hour, tzinfo=UTC) + timedelta(hours=1)
                year, month, day, hour, minute = nxt.year, nxt.month, nxt.day, nxt.hour, 0
                continue
            return datetime(year, month, day, hour, mi, tzinfo=UTC)


def _first_at_least(values: tuple[int, ...], low: int) -> int | None:
    for v in values:  # short, sorted tuples
        if v >= low:
            return v
    return None


Expression = Rate | Cron


def parse_expression(text: Any) -> Expression:
    """`rate(...)` or `cron(...)`; ShipwayError (without a location) when malformed."""
    if not isinstance(text, str):
        raise ShipwayError(f"a schedule expression must be a string, not `{text!r}`")
    text = text.strip()
    if text.startswith("rate("):
        return _parse_rate(text)
    if text.startswith("cron("):
        return _parse_cron(text)
    raise ShipwayError(
        f"`{text}` is not a schedule expression", hint="use `rate(5 minutes)` or `cron(...)`"
    )


def _parse_rate(text: str) -> Rate:
    m = _RATE.match(text)
    if not m:
        raise ShipwayError(
            f"`{text}` is not a rate expression", hint="write `rate(<value> <unit>)`"
        )
    value, unit = m.groups()
    if not value.isdigit() or int(value) < 1 or value != str(int(value)):
        raise ShipwayError(f"`{text}`: the rate must be a positive whole number")
    n = int(value)
    base = unit[:-1] if unit.endswith("s") else unit
    if base not in _UNITS:
        raise ShipwayError(f"`{text}`: the unit must be minutes, hours or days")
    wanted = base if n == 1 else base + "s"
    if unit != wanted:
        raise ShipwayError(
            f"`{text}`: the unit is singular for 1 and plural otherwise",
            hint=f"write `rate({n} {wanted})`",
        )
    return Rate(text, n * _UNITS[base])


def _parse_cron(text: str) -> Cron:
    m = _CRON.match(text)
    fields = m.group(1).split() if m else []
    if len(fields) != 6:
        raise ShipwayError(
            f"`{text}`: a cron expression has six fields",
            hint="minutes hours day-of-month month day-of-week year, e.g. `cron(0 12 * * ? *)`",
        )
    minute, hour, dom, month, dow, year = (f.upper() for f in fields)
    try:
        if (dom == "?") == (dow == "?"):
            raise ValueError("exactly one of day-of-month and day-of-week must be `?`")
        days = _parse_dom(dom) if dow == "?" else _parse_dow(dow)
        return Cron(
            text=text,
            minutes=_parse_field(minute, "minutes", 0, 59),
            hours=_parse_field(hour, "hours", 0, 23),
            months=_parse_field(month, "month", 1, 12, _MONTHS),
            years=_parse_field(year, "year", YEAR_MIN, YEAR_MAX),
            days=days,
        )
    except ValueError as e:
        raise ShipwayError(f"`{text}`: {e}") from None


def _number(token: str, what: str, lo: int, hi: int, names: dict[str, int] | None) -> int:
    if names and token in names:
        return names[token]
    if not (token.isascii() and token.isdigit()):
        raise ValueError(f"`{token}` is not a valid {what} value")
    value = int(token)
    if not lo <= value <= hi:
        raise ValueError(f"{what} `{token}` is out of range {lo}-{hi}")
    return value


def _parse_field(
    text: str,
    what: str,
    lo: int,
    hi: int,
    names: dict[str, int] | None = None,
    steps: bool = True,
) -> tuple[int, ...]:
    values: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        if slash and not steps:
            raise ValueError(f"`/` is not allowed in the {what} field")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"`{item}`: the {what} step must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _number(a, what, lo, hi, names), _number(b, what, lo, hi, names)
            if start > end:
                raise ValueError(
                    f"the {what} range `{base}` runs backwards "
                    f"(write two ranges: `{a}-{hi},{lo}-{b}`)"
                )
        else:
            start = _number(base, what, lo, hi, names)
            end = hi if slash else start
        values.update(range(start, end + 1, step))
    return tuple(sorted(values))


def _parse_dom(text: str) -> DaySpec:
    what = "day-of-month"
    special = any(c in text for c in "LW")
    if special and ("," in text or "/" in text or "*" in text):
        raise ValueError(f"`{text}`: `L` and `W` stand alone in the {what} field")
    if text == "L":
        return DaySpec(dom_last=0)
    if text == "LW":
        return DaySpec(dom_weekday=0)
    if text.startswith("L-"):
        offset = text[2:]
        if not offset.isdigit() or int(offset) > 30:
            raise ValueError(f"`{text}`: write `L-n` with n from 0 to 30")
        return DaySpec(dom_last=int(offset))
    if text.endswith("W"):
        return DaySpec(dom_weekday=_number(text[:-1], what, 1, 31, None))
    if special:
        raise ValueError(f"`{text}` is not a valid {what} value")
    return DaySpec(dom=frozenset(_parse_field(text, what, 1, 31)))


def _parse_dow(text: str) -> DaySpec:
    what = "day-of-week"
    if ("#" in text or text.endswith("L")) and any(c in text for c in ",-*"):
        raise ValueError(f"`{text}`: `L` and `#` stand alone in the {what} field")
    if text == "L":
        return DaySpec(dow=frozenset({7}))  # the last day of the week: Saturday
    if "#" in text:
        day, _, nth = text.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise ValueError(f"`{text}`: the number after `#` must be 1 to 5")
        return DaySpec(dow_nth=(_number(day, what, 1, 7, _DAYS), int(nth)))
    if text.endswith("L"):
        return DaySpec(dow_last=_number(text[:-1], what, 1, 7, _DAYS))
    return DaySpec(dow=frozenset(_parse_field(text, what, 1, 7, _DAYS, steps=False)))


__all__ = [
    "Cron",
    "DaySpec",
    "Expression",
    "Rate",
    "parse_expression",
]
