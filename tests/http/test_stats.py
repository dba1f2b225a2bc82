"""Statistics for the dashboard: counters and their flushing, the error-limit timeline,
the 420/429 events, and their sharing between processes through the cache."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.cache import caches

from esi.http import budgets, guard, stats

from .conftest import T0, Clock


def shared_counts() -> dict[str, int | None]:
    """The flushed counters alone, as another process would read them."""
    return {name: caches["default"].get(stats._COUNTER_KEY + name) for name in stats._CATEGORIES}


def record(
    status: int = 200, *, from_cache: bool = False, operation: str = "get_op", elapsed: float = 0.1
) -> None:
    stats.record_response(status=status, operation=operation, from_cache=from_cache, elapsed=elapsed)


# --------------------------------------------------------------------------- counters


def test_each_call_counts_in_one_category(clock: Clock) -> None:
    record(from_cache=True)
    record(from_cache=True, status=200)
    record(200)
    record(201)
    record(304)
    for status in (0, 403, 404, 420, 502):
        record(status)
    assert stats.cache_counts() == {"hits": 2, "misses": 2, "not_modified": 1, "errors": 5}


def test_counts_flush_after_the_interval(clock: Clock, settings: Any) -> None:
    settings.ESI_STATS_FLUSH_INTERVAL = 10
    record()
    clock.now += 9.9
    record()
    assert shared_counts()["misses"] is None
    clock.now += 0.1
    record()
    assert shared_counts()["misses"] == 3
    assert stats.cache_counts()["misses"] == 3


def test_counts_flush_every_thousand_calls(clock: Clock) -> None:
    for _ in range(999):
        record(from_cache=True)
    assert shared_counts()["hits"] is None
    assert stats.cache_counts()["hits"] == 999
    record(from_cache=True)
    assert shared_counts()["hits"] == 1000
    for _ in range(999):
        record(from_cache=True)
    assert shared_counts()["hits"] == 1000
    assert stats.cache_counts()["hits"] == 1999


def test_totals_add_every_process_and_survive_a_restart(clock: Clock) -> None:
    record(200)
    record(404)
    stats.flush()
    stats._after_fork()  # a new process: nothing unflushed, the shared totals remain
    assert stats.cache_counts() == {"hits": 0, "misses": 1, "not_modified": 0, "errors": 1}
    record(304)
    assert stats.cache_counts() == {"hits": 0, "misses": 1, "not_modified": 1, "errors": 1}


def test_a_forked_child_does_not_count_the_parents_calls_again(clock: Clock) -> None:
    record(200)
    stats._after_fork()
    stats.flush()
    assert shared_counts()["misses"] is None


def test_operations_are_counted(clock: Clock) -> None:
    record(200, operation="get_a", elapsed=0.25)
    record(404, operation="get_a", elapsed=0.5)
    stats.flush()
    record(200, operation="get_b", elapsed=0.125)
    record(200, operation="get_b", from_cache=True)
    assert stats.operation_counts() == {
        "get_a": {"calls": 2, "errors": 1, "seconds": 0.75},
        "get_b": {"calls": 1, "errors": 0, "seconds": 0.125},
    }


def test_a_lost_operation_name_comes_back_with_the_next_flush(clock: Clock) -> None:
    record(operation="get_a")
    stats.flush()
    caches["default"].set(stats._OPERATIONS_KEY, set())  # another process overwrote the list
    record(operation="get_a")
    stats.flush()
    assert stats.operation_counts()["get_a"]["calls"] == 2


def test_a_failed_flush_keeps_the_counts(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    guard.reset()  # no warning in the last minute
    record(200)
    stats.record_error_limit(50)
    backend = type(caches["default"])
    original = backend.incr

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache down")

    monkeypatch.setattr(backend, "incr", broken)
    stats.flush()
    assert shared_counts()["misses"] is None
    assert any(r.levelname == "WARNING" for r in caplog.records)
    monkeypatch.setattr(backend, "incr", original)
    caplog.clear()
    stats.flush()
    assert shared_counts()["misses"] == 1
    assert stats.error_limit_timeline() == [(T0 // 60 * 60, 50)]


def test_counting_from_many_threads_loses_nothing(settings: Any) -> None:
    settings.ESI_STATS_FLUSH_INTERVAL = 0.001  # flush all the time, from every thread

    def work() -> None:
        for n in range(500):
            record(304 if n % 2 else 200)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats.cache_counts() == {"hits": 0, "misses": 2000, "not_modified": 2000, "errors": 0}
    stats.flush()
    assert shared_counts()["not_modified"] == 2000


# --------------------------------------------------------------------------- timeline


def test_timeline_keeps_the_lowest_remain_per_minute(clock: Clock) -> None:
    minute = T0 // 60 * 60
    for offset, remain in [(0, 90), (10, 70), (20, 80), (60, 100), (130, 40)]:
        stats.record_error_limit(remain, at=minute + offset)
    stats.flush()
    stats.record_error_limit(60, at=minute + 30)  # unflushed, lower than the stored 70
    clock.now = minute + 130
    assert stats.error_limit_timeline() == [(minute, 60), (minute + 60, 100), (minute + 120, 40)]


def test_timeline_is_fed_by_the_budgets(clock: Clock) -> None:
    for remain in ("100", "97", "99"):
        budgets.after_response(
            status=200,
            headers={"X-ESI-Error-Limit-Remain": remain, "X-ESI-Error-Limit-Reset": "30"},
            group=None,
            character_id=None,
            operation="get_op",
        )
    budgets.after_response(status=420, headers={}, group=None, character_id=None, operation="get_op")
    assert stats.error_limit_timeline() == [(T0 // 60 * 60, 0)]


def test_timeline_keeps_only_the_retention(clock: Clock, settings: Any) -> None:
    settings.ESI_STATS_RETENTION_HOURS = 2
    start = T0 // 60 * 60
    stats.record_error_limit(10, at=start)
    stats.record_error_limit(20, at=start + 3600)
    stats.flush()
    clock.now = start + 2 * 3600 - 1
    assert stats.error_limit_timeline(hours=6) == [(start, 10), (start + 3600, 20)]  # capped at 2 h
    assert stats.error_limit_timeline(hours=1) == [(start + 3600, 20)]
    clock.now += 1
    assert stats.error_limit_timeline(hours=6) == [(start + 3600, 20)]
    assert stats.error_limit_timeline(hours=1) == []
    stats.record_error_limit(5, at=start)  # older than the retention: never written
    stats.flush()
    assert caches["default"].get(stats._MINUTE_KEY + str(int(start))) == 10


# --------------------------------------------------------------------------- events


def event(n: int, status: int = 429) -> dict[str, Any]:
    return {
        "status": status,
        "operation": f"op{n}",
        "group": "g",
        "character_id": n,
        "retry_after": 1.0,
    }


def test_the_last_hundred_events_are_kept_newest_first(clock: Clock) -> None:
    for n in range(105):
        clock.now = T0 + n
        stats.record_event(**event(n))
    events = stats.recent_events()
    assert len(events) == 100
    assert [e["character_id"] for e in events] == list(range(104, 4, -1))
    assert events[0] == {"time": T0 + 104, **event(104)}
    assert [e["character_id"] for e in stats.recent_events(limit=3)] == [104, 103, 102]
    assert len(stats.recent_events(limit=500)) == 100


def test_events_come_from_the_budgets(clock: Clock) -> None:
    budgets.after_response(
        status=420, headers={"X-ESI-Error-Limit-Reset": "12"}, group="g", character_id=1, operation="get_a"
    )
    budgets.after_response(
        status=429,
        headers={"retry-after": "3", "x-ratelimit-group": "mail"},
        group=None,
        character_id=2,
        operation="post_mail",
    )
    assert stats.recent_events() == [
        {
            "time": T0,
            "status": 429,
            "operation": "post_mail",
            "group": "mail",
            "character_id": 2,
            "retry_after": 3.0,
        },
        {
            "time": T0,
            "status": 420,
            "operation": "get_a",
            "group": "g",
            "character_id": 1,
            "retry_after": 12.0,
        },
    ]


def test_no_events_yet() -> None:
    assert stats.recent_events() == []


def test_reset_forgets_everything(clock: Clock) -> None:
    record(200, operation="get_a")
    stats.flush()
    record(404)
    stats.record_error_limit(3)
    stats.record_event(**event(1))
    stats.reset()
    assert stats.cache_counts() == {"hits": 0, "misses": 0, "not_modified": 0, "errors": 0}
    assert stats.operation_counts() == {}
    assert stats.error_limit_timeline() == []
    assert stats.recent_events() == []


def test_calls_are_counted_by_operation_and_status(clock: Clock) -> None:
    record(200, operation="get_a")
    record(420, operation="get_a")
    stats.flush()
    record(200, operation="get_a")
    record(418, operation="get_a")  # not a status ESI answers with: counted by its class
    record(0, operation="get_b")  # no answer
    record(200, operation="get_b", from_cache=True)  # a cache hit is not a network call
    assert stats.status_counts() == {"get_a": {"200": 2, "420": 1, "4xx": 1}, "get_b": {"none": 1}}
    assert stats.operation_counts()["get_a"] == {"calls": 4, "errors": 2, "seconds": 0.4}
    stats.reset()
    assert stats.status_counts() == {}
