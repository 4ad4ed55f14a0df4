"""Fixtures of the fuzz tests: the engine imported once, so forked children start warm."""

from __future__ import annotations

import pytest

from tests.fuzz import runner


@pytest.fixture(scope="session", autouse=True)
def _warm() -> None:
    runner.preload()
