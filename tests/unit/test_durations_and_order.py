"""Pure helpers: durations and deploy order."""

from __future__ import annotations

import pytest

from shipway.config.durations import parse_duration
from shipway.config.services import deploy_order, deploy_waves
from shipway.errors import ShipwayError
from shipway.model import Service


def svc(name: str, *deps: str) -> Service:
    return Service(name, f"services/{name}", "serverless.yml", None, deps)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("30m", 1800), ("72h", 259200), ("1d", 86400), (45, 45), ("10", 10)],
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "soon", "-5m", 0, True, "5 weeks"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_dependencies_deploy_first_and_independents_share_a_wave() -> None:
    services = [svc("web", "api"), svc("api", "db"), svc("db"), svc("mail")]
    assert [s.name for s in deploy_order(services)] == ["db", "api", "mail", "web"]
    assert [[s.name for s in w] for w in deploy_waves(services)] == [
        ["db", "mail"],
        ["api"],
        ["web"],
    ]


def test_cycle_is_named() -> None:
    with pytest.raises(ShipwayError, match=r"a -> b -> c -> a"):
        deploy_order([svc("a", "b"), svc("b", "c"), svc("c", "a")])
