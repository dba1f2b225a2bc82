"""Shared fixtures of the esi.http tests: a fake clock, and no cache failure swallowed
unnoticed (the root conftest already resets the budgets and stats around each test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from esi.http import budgets, stats

T0 = 1_700_000_000.0


class Clock:
    """A fake clock; ``sleep`` records the wait and moves the clock on."""

    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []
        self.on_sleep: list[Any] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        for hook in self.on_sleep:
            hook()


@pytest.fixture(autouse=True)
def _no_swallowed_cache_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield
    # Cache failures are swallowed and logged with a traceback; none may go unnoticed.
    swallowed = [r for r in caplog.records if r.name.startswith("esi.http") and r.exc_info]
    assert not swallowed, swallowed[0].getMessage()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(budgets, "_now", fake)
    monkeypatch.setattr(budgets, "_sleep", fake.sleep)
    monkeypatch.setattr(stats, "_now", fake)
    return fake
