"""`schedule` events of the local runtime: expressions, next fire times, the events sent."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shipway.errors import ShipwayError
from shipway.targets.local.eventpaths import parse_path
from shipway.targets.local.expressions import Cron, Rate, parse_expression
from shipway.targets.local.schedules import (
    parse_schedules,
    scheduled_event,
    target_input,
)


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def fires(expr: str, start: str, n: int) -> list[str]:
    cron = parse_expression(expr)
    assert isinstance(cron, Cron)
    t: float | None = ts(start)
    out = []
    for _ in range(n):
        assert t is not None
        t = cron.next_after(t)
        if t is None:
            out.append("never")
            break
        out.append(datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %a %H:%M"))
    return out


# --------------------------------------------------------------------------- rate


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(12 hours)", 43200),
        ("rate(1 day)", 86400),
        ("rate(10 days)", 864000),
    ],
)
def test_rate_expressions(text: str, seconds: int) -> None:
    assert parse_expression(text) == Rate(text, seconds)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("rate(1 minutes)", "singular for 1"),
        ("rate(5 minute)", "write `rate(5 minutes)`"),
        ("rate(2 day)", "plural"),
        ("rate(0 minutes)", "positive"),
        ("rate(-1 minutes)", "positive"),
        ("rate(01 minutes)", "positive"),
        ("rate(5 weeks)", "minutes, hours or days"),
        ("rate(5  minutes)", "not a rate"),
        ("rate(5minutes)", "not a rate"),
        ("every 5 minutes", "not a schedule expression"),
    ],
)
def test_wrong_rates_are_refused(text: str, why: str) -> None:
    with pytest.raises(ShipwayError, match=why.replace("(", r"\(").replace(")", r"\)")):
        parse_expression(text)


def test_rate_counts_from_its_anchor() -> None:
    rate = Rate("rate(1 minute)", 60)
    assert rate.next_after(1000.0, 1000.0) == 1060.0  # the first fire one period later
    assert rate.next_after(1059.9, 1000.0) == 1060.0
    assert rate.next_after(1060.0, 1000.0) == 1120.0
    assert rate.next_after(1000.0 + 3600 + 5, 1000.0) == 1000.0 + 3660  # late: no catch-up


# --------------------------------------------------------------------------- cron


def test_cron_basic_and_steps() -> None:
    assert fires("cron(0 12 * * ? *)", "2024-01-01T12:00:00", 2) == [
        "2024-01-02 Tue 12:00",
        "2024-01-03 Wed 12:00",
    ]
    assert fires("cron(0/15 * * * ? *)", "2024-12-31T23:50:00", 3) == [
        "2025-01-01 Wed 00:00",
        "2025-01-01 Wed 00:15",
        "2025-01-01 Wed 00:30",
    ]
    assert fires("cron(5-20/10 8,17 ? JAN-FEB MON-FRI *)", "2024-02-29T17:10:00", 3) == [
        "2024-02-29 Thu 17:15",
        "2025-01-01 Wed 08:05",
        "2025-01-01 Wed 08:15",
    ]
    assert fires("cron(0 10 ? * mon-fri *)", "2024-01-05T10:00:00", 2) == [
        "2024-01-08 Mon 10:00",
        "2024-01-09 Tue 10:00",
    ]
    # strictly after, at minute granularity
    assert fires("cron(* * * * ? *)", "2024-01-01T00:00:30", 1) == ["2024-01-01 Mon 00:01"]


def test_cron_last_day_and_leap_years() -> None:
    assert fires("cron(0 0 L * ? *)", "2024-01-15T00:00:00", 4) == [
        "2024-01-31 Wed 00:00",
        "2024-02-29 Thu 00:00",
        "2024-03-31 Sun 00:00",
        "2024-04-30 Tue 00:00",
    ]
    assert fires("cron(0 0 L FEB ? *)", "2023-01-01T00:00:00", 2) == [
        "2023-02-28 Tue 00:00",
        "2024-02-29 Thu 00:00",
    ]
    assert fires("cron(0 0 29 2 ? *)", "2024-03-01T00:00:00", 2) == [
        "2028-02-29 Tue 00:00",
        "2032-02-29 Sun 00:00",
    ]
    assert fires("cron(0 0 29 2 ? 2097-2199)", "2097-01-01T00:00:00", 1) == [
        "2104-02-29 Fri 00:00"  # 2100 is not a leap year
    ]
    assert fires("cron(0 0 L-2 * ? *)", "2024-02-01T00:00:00", 2) == [
        "2024-02-27 Tue 00:00",
        "2024-03-29 Fri 00:00",
    ]
    assert fires("cron(0 0 31 * ? *)", "2024-04-01T00:00:00", 1) == ["2024-05-31 Fri 00:00"]


def test_cron_nearest_weekday() -> None:
    # 2024-06-01 is a Saturday: 1W does not leave the month (Monday the 3rd)
    assert fires("cron(0 0 1W * ? *)", "2024-05-02T00:00:00", 2) == [
        "2024-06-03 Mon 00:00",
        "2024-07-01 Mon 00:00",
    ]
    # 2024-06-15 is a Saturday -> Friday; 2024-09-15 a Sunday -> Monday
    assert fires("cron(0 0 15W * ? *)", "2024-06-01T00:00:00", 4) == [
        "2024-06-14 Fri 00:00",
        "2024-07-15 Mon 00:00",
        "2024-08-15 Thu 00:00",
        "2024-09-16 Mon 00:00",
    ]
    # 2024-03-31 is a Sunday: the last weekday is Friday the 29th
    assert fires("cron(0 0 LW * ? *)", "2024-03-01T00:00:00", 2) == [
        "2024-03-29 Fri 00:00",
        "2024-04-30 Tue 00:00",
    ]
    # 2024-03-31 on a Sunday with 31W: Friday 29th (not April 1st); April has no 31st
    assert fires("cron(0 0 31W * ? *)", "2024-03-01T00:00:00", 2) == [
        "2024-03-29 Fri 00:00",
        "2024-05-31 Fri 00:00",
    ]


def test_cron_day_of_week_l_and_hash() -> None:
    assert fires("cron(30 9 ? * 6L *)", "2024-01-01T00:00:00", 3) == [
        "2024-01-26 Fri 09:30",
        "2024-02-23 Fri 09:30",
        "2024-03-29 Fri 09:30",
    ]
    assert fires("cron(30 9 ? * FRI#3 *)", "2024-01-01T00:00:00", 2) == [
        "2024-01-19 Fri 09:30",
        "2024-02-16 Fri 09:30",
    ]
    # a fifth Monday only in some months
    assert fires("cron(0 0 ? * 2#5 *)", "2024-01-01T00:00:00", 3) == [
        "2024-01-29 Mon 00:00",
        "2024-04-29 Mon 00:00",
        "2024-07-29 Mon 00:00",
    ]
    assert fires("cron(0 0 ? * L *)", "2024-01-01T00:00:00", 1) == ["2024-01-06 Sat 00:00"]
    assert fires("cron(0 0 ? * 1 *)", "2024-01-01T00:00:00", 1) == ["2024-01-07 Sun 00:00"]


def test_cron_year_field_and_never() -> None:
    assert fires("cron(0 0 * * ? 2025-2026)", "2020-06-01T00:00:00", 1) == ["2025-01-01 Wed 00:00"]
    assert fires("cron(0 0 31 12 ? 2026)", "2026-12-31T00:00:00", 1) == ["never"]
    assert fires("cron(0 0 1 1 ? 2030/50)", "2031-01-01T00:00:00", 1) == ["2080-01-01 Mon 00:00"]
    started = time.perf_counter()
    assert fires("cron(0 0 30 FEB ? *)", "1970-01-01T00:00:00", 1) == ["never"]
    assert fires("cron(0 0 ? 2 2#5 2027-2199)", "2027-01-01T00:00:00", 1) == [
        "2044-02-29 Mon 00:00"
    ]
    assert time.perf_counter() - started < 0.5


def _naive(
    minutes: set[int], hours: set[int], doms: set[int], dows: set[int]
) -> Callable[[datetime], bool]:
    def match(t: datetime) -> bool:
        dow = (t.weekday() + 1) % 7 + 1
        return t.minute in minutes and t.hour in hours and t.day in doms and dow in dows

    return match


@pytest.mark.parametrize(
    ("expr", "minutes", "hours", "doms", "dows"),
    [
        ("cron(7,37 */5 * * ? *)", {7, 37}, set(range(0, 24, 5)), set(range(1, 32)), None),
        ("cron(0-10/3 22 ? * SAT,SUN *)", {0, 3, 6, 9}, {22}, None, {1, 7}),
        ("cron(59 23 1-3,30 * ? *)", {59}, {23}, {1, 2, 3, 30}, None),
    ],
)
def test_cron_against_brute_force(
    expr: str,
    minutes: set[int],
    hours: set[int],
    doms: set[int] | None,
    dows: set[int] | None,
) -> None:
    match = _naive(minutes, hours, doms or set(range(1, 32)), dows or set(range(1, 8)))
    cron = parse_expression(expr)
    assert isinstance(cron, Cron)
    t = datetime(2024, 2, 20, tzinfo=UTC)
    expected: list[datetime] = []
    probe = t + timedelta(minutes=1)
    while len(expected) < 40:
        if match(probe):
            expected.append(probe)
        probe += timedelta(minutes=1)
    got = []
    now = t.timestamp()
    for _ in range(40):
        nxt = cron.next_after(now)
        assert nxt is not None
        got.append(datetime.fromtimestamp(nxt, UTC))
        now = nxt
    assert got == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("cron(0 12 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 12 ? * ? *)", "exactly one of"),
        ("cron(0 12 * * ?)", "six fields"),
        ("cron(60 * * * ? *)", "out of range 0-59"),
        ("cron(0 24 * * ? *)", "out of range 0-23"),
        ("cron(0 0 32 * ? *)", "out of range 1-31"),
        ("cron(0 0 * 13 ? *)", "out of range 1-12"),
        ("cron(0 0 ? * 8 *)", "out of range 1-7"),
        ("cron(0 0 * * ? 1969)", "out of range 1970-2199"),
        ("cron(0 0 ? * 1/2 *)", "`/` is not allowed in the day-of-week"),
        ("cron(0 22-2 * * ? *)", "runs backwards"),
        ("cron(0 0 1,LW * ? *)", "stand alone"),
        ("cron(0 0 1-5W * ? *)", "not a valid day-of-month"),
        ("cron(0 0 ? * 2#6 *)", "1 to 5"),
        ("cron(0 0 ? * 2#1,3#1 *)", "stand alone"),
        ("cron(0 0 ? * FUNDAY *)", "not a valid day-of-week"),
        ("cron(*/0 * * * ? *)", "positive"),
        ("cron(0 0 L-31 * ? *)", "L-n"),
    ],
)
def test_wrong_crons_are_refused(text: str, why: str) -> None:
    with pytest.raises(ShipwayError, match=why):
        parse_expression(text)


# --------------------------------------------------------------------------- schedule events


def test_parse_schedules_forms_and_numbering() -> None:
    rules = parse_schedules(
        "my-fn",
        [
            "rate(5 minutes)",
            {"rate": ["rate(1 hour)", "cron(0 12 * * ? *)"], "enabled": False},
            {"rate": "rate(2 days)", "input": {"a": 1}, "name": "nightly", "description": "d"},
        ],
    )
    assert [(r.index, r.number, r.expression.text, r.enabled) for r in rules] == [
        (0, 1, "rate(5 minutes)", True),
        (1, 2, "rate(1 hour)", False),
        (1, 3, "cron(0 12 * * ? *)", False),
        (2, 4, "rate(2 days)", True),
    ]
    assert rules[0].logical_id() == "MyDashfnEventsRuleSchedule1"
    assert rules[0].rule_name("svc", "dev") == "svc-dev-MyDashfnEventsRuleSchedule1"
    assert rules[3].rule_name("svc", "dev") == "nightly"
    assert rules[3].input == {"a": 1} and rules[3].has_input
    assert not rules[0].has_input


@pytest.mark.parametrize(
    ("config", "why"),
    [
        ({"rate": "rate(5 minute)"}, r"schedule event 1: `rate`: .*rate\(5 minutes\)"),
        ({"rate": ["rate(1 hour)", "rate(2 hour)"]}, r"schedule event 1: `rate\[1\]`"),
        ({"enabled": True}, "schedule event 1: `rate` is missing"),
        ({"rate": []}, "`rate` is missing"),
        ({"rate": "rate(1 hour)", "enabled": "no"}, "`enabled` must be true or false"),
        ({"rate": "rate(1 hour)", "timezone": "UTC"}, "`timezone` is not supported"),
        ({"rate": "rate(1 hour)", "method": "scheduler"}, "`method: scheduler`"),
        ({"rate": "rate(1 hour)", "input": "not json"}, "`input` is not valid JSON"),
        ({"rate": "rate(1 hour)", "inputPath": "detail"}, "`inputPath`"),
        ({"rate": "rate(1 hour)", "input": {}, "inputPath": "$"}, "cannot be used together"),
        ({"rate": "rate(1 hour)", "inputTransformer": {}}, "`inputTemplate`"),
        (
            {"rate": "rate(1 hour)", "inputTransformer": {"inputTemplate": "x", "bad": 1}},
            r"`inputTransformer\.bad`",
        ),
        (
            {
                "rate": "rate(1 hour)",
                "inputTransformer": {"inputTemplate": "x", "inputPathsMap": {"t": "time"}},
            },
            r"`inputTransformer\.inputPathsMap\.t`",
        ),
        ({"rate": ["rate(1 hour)", "rate(2 hours)"], "name": "x"}, "single `rate`"),
        (42, "an expression or a mapping"),
    ],
)
def test_bad_schedule_events_name_function_and_index(config: object, why: str) -> None:
    with pytest.raises(ShipwayError, match=rf"function `tick`, schedule event 1.*{why}|{why}"):
        parse_schedules("tick", ["rate(1 minute)", config])
    with pytest.raises(ShipwayError) as info:
        parse_schedules("tick", ["rate(1 minute)", config])
    assert str(info.value).startswith("function `tick`, schedule event 1: ")


def test_scheduled_event_and_inputs() -> None:
    (plain,) = parse_schedules("tick", ["rate(1 minute)"])
    event = scheduled_event(
        plain,
        service="svc",
        stage="dev",
        region="eu-west-1",
        time=ts("2024-05-06T07:08:09.7"),
        event_id="id-1",
    )
    assert event == {
        "version": "0",
        "id": "id-1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": "2024-05-06T07:08:09Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:000000000000:rule/svc-dev-TickEventsRuleSchedule1"],
        "detail": {},
    }
    assert target_input(plain, event, "r") is event

    configs = [
        {"rate": "rate(1 hour)", "input": {"k": [1, 2]}},
        {"rate": "rate(1 hour)", "input": '{"from": "text"}'},
        {"rate": "rate(1 hour)", "input": {"body": '{"x": 1}', "other": "y"}},
        {"rate": "rate(1 hour)", "input": {"falsy": False}, "enabled": True},
        {"rate": "rate(1 hour)", "inputPath": "$.detail"},
        {"rate": "rate(1 hour)", "inputPath": "$.resources[0]"},
        {"rate": "rate(1 hour)", "inputPath": "$['detail-type']"},
        {"rate": "rate(1 hour)", "inputPath": "$.nothing.here"},
        {"rate": "rate(1 hour)", "inputPath": "$"},
    ]
    rules = parse_schedules("tick", configs)
    got = [target_input(r, event, "r") for r in rules]
    assert got == [
        {"k": [1, 2]},
        {"from": "text"},
        {"body": {"x": 1}, "other": "y"},
        {"falsy": False},
        {},
        event["resources"][0],
        "Scheduled Event",
        None,
        event,
    ]


def test_input_transformer() -> None:
    (rule,) = parse_schedules(
        "tick",
        [
            {
                "rate": "rate(1 hour)",
                "inputTransformer": {
                    "inputPathsMap": {"time": "$.time", "src": "$.source", "res": "$.resources"},
                    "inputTemplate": (
                        '{"at": <time>, "msg": "from <src> at <time> \\"q\\"", "r": <res>,'
                        ' "rule": "<aws.events.rule-name>", "keep": "<unknown>"}'
                    ),
                },
            }
        ],
    )
    event = {"time": "2024-01-01T00:00:00Z", "source": "aws.events", "resources": ["arn:x"]}
    assert target_input(rule, event, "the-rule") == {
        "at": "2024-01-01T00:00:00Z",
        "msg": 'from aws.events at 2024-01-01T00:00:00Z "q"',
        "r": ["arn:x"],
        "rule": "the-rule",
        "keep": "<unknown>",
    }
    (text_rule,) = parse_schedules(
        "tick",
        [
            {
                "rate": "rate(1 hour)",
                "inputTransformer": {
                    "inputPathsMap": {"s": "$.source"},
                    "inputTemplate": "plain <s> text",
                },
            }
        ],
    )
    assert target_input(text_rule, event, "r") == 'plain "aws.events" text'


def test_parse_path() -> None:
    assert parse_path("$") == ()
    assert parse_path("$.detail.a-b[2]['x y']") == ("detail", "a-b", 2, "x y")
    for bad in ("detail", "$..x", "$.a[", "$[*]", 3):
        with pytest.raises(ValueError):
            parse_path(bad)


def test_every_name_is_accepted() -> None:
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
    for m, d in itertools.product(months, days):
        cron = parse_expression(f"cron(0 0 ? {m} {d} *)")
        assert isinstance(cron, Cron)
        assert cron.months == (months.index(m) + 1,)
