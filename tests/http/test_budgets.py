"""The budget gate: error limit, rate-limit buckets, sharing between processes, and cost.

Most tests run on a fake clock (``budgets._now``) whose ``sleep`` (``budgets._sleep``) only
advances it, so waits are observed without waiting. Two "processes" are simulated by
dropping the module's local state between a write and a read; one test starts a real
subprocess when ``REDIS_URL`` is set.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from requests.structures import CaseInsensitiveDict

from esi.errors import ESIBucketLimitException, ESIErrorLimitException
from esi.http import budgets, guard, stats

ROOT = Path(__file__).resolve().parents[2]
from .conftest import T0, Clock
CACHE_METHODS = (
    "get",
    "get_many",
    "set",
    "set_many",
    "add",
    "delete",
    "delete_many",
    "incr",
    "decr",
    "has_key",
    "touch",
    "get_or_set",
    "clear",
)


@pytest.fixture
def raising(settings: Any) -> None:
    settings.ESI_ERROR_LIMIT_BEHAVIOUR = "raise"
    settings.ESI_RATE_LIMIT_BEHAVIOUR = "raise"


def respond(
    status: int = 200,
    headers: Mapping[str, Any] | None = None,
    *,
    group: str | None = None,
    character_id: int | None = None,
    operation: str = "get_op",
    claim: budgets.Claim | None = None,
) -> None:
    budgets.after_response(
        status=status,
        headers=headers or {},
        group=group,
        character_id=character_id,
        operation=operation,
        claim=claim,
    )


def errors(remain: Any, reset: Any) -> dict[str, str]:
    return {"X-ESI-Error-Limit-Remain": remain, "X-ESI-Error-Limit-Reset": reset}


def rate(
    group: str = "char-location", remaining: int = 100, used: int = 2, limit: str = "150/15m"
) -> dict[str, str]:
    return {
        "X-Ratelimit-Group": group,
        "X-Ratelimit-Limit": limit,
        "X-Ratelimit-Remaining": str(remaining),
        "X-Ratelimit-Used": str(used),
    }


def error_state() -> budgets.ErrorLimitState:
    state = budgets.error_limit()
    assert state is not None
    return state


def bucket(group: str, character_id: int | None = None) -> budgets.BucketState:
    (found,) = [s for s in budgets.rate_limits() if (s.group, s.character_id) == (group, character_id)]
    return found


@contextmanager
def cache_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record every call to the budget cache's backend (all instances, all threads); a call
    a backend makes to itself (locmem's ``get_many`` calls ``get``) is not counted again."""
    calls: list[str] = []
    inside = threading.local()
    backend = type(caches["default"])
    with monkeypatch.context() as patch:
        for name in CACHE_METHODS:
            original = getattr(backend, name)

            def counted(
                self: Any, *args: Any, _name: str = name, _original: Any = original, **kwargs: Any
            ) -> Any:
                if getattr(inside, "depth", 0) == 0:
                    calls.append(_name)
                inside.depth = getattr(inside, "depth", 0) + 1
                try:
                    return _original(self, *args, **kwargs)
                finally:
                    inside.depth -= 1

            patch.setattr(backend, name, counted)
        yield calls


# --------------------------------------------------------------------------- header parsing


@pytest.mark.parametrize(
    "names",
    [
        ("X-ESI-Error-Limit-Remain", "X-ESI-Error-Limit-Reset"),
        ("x-esi-error-limit-remain", "x-esi-error-limit-reset"),
        ("X-Esi-Error-Limit-Remain", "X-ESI-ERROR-LIMIT-RESET"),
    ],
)
@pytest.mark.parametrize("mapping", [dict, CaseInsensitiveDict])
def test_error_limit_headers_are_matched_case_insensitively(
    clock: Clock, names: tuple[str, str], mapping: type
) -> None:
    budgets.after_response(
        status=200,
        headers=mapping({names[0]: "42", names[1]: "30"}),
        group=None,
        character_id=None,
        operation="op",
    )
    state = budgets.error_limit()
    assert state == budgets.ErrorLimitState(remain=42, reset_at=T0 + 30, blocked=False, updated_at=T0)


def test_rate_limit_headers_are_parsed(clock: Clock) -> None:
    respond(
        headers={k.lower(): v for k, v in rate("market", remaining=148, used=2, limit="3600/1h").items()},
        character_id=7,
    )
    assert budgets.rate_limits() == [budgets.BucketState("market", 7, 3600, 3600, 148, 2, None, T0)]


GARBAGE = ["abc", "-5", "", "  ", "1e3", "0x10", "5.5.5", "nan", "inf", "99999999999999999999999", "١٢", None]


@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_error_limit_values_are_ignored(
    clock: Clock, caplog: pytest.LogCaptureFixture, value: Any
) -> None:
    caplog.set_level("DEBUG", logger="esi.http.budgets")
    headers = {} if value is None else errors(value, "30")
    respond(headers=headers)
    respond(headers={} if value is None else errors("50", value))
    assert budgets.error_limit() is None
    if value is not None:
        assert "ignoring malformed" in caplog.text


@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_keeps_what_was_known(clock: Clock, value: Any) -> None:
    respond(headers=errors("80", "30") | rate(remaining=100))
    headers = dict.fromkeys([*errors(0, 0), *rate()], value) if value is not None else {}
    respond(headers=headers, group="char-location")
    assert error_state().remain == 80
    assert bucket("char-location").remaining == 100
    assert bucket("char-location").limit == 150


@pytest.mark.parametrize(
    "limit",
    ["150", "150/", "/15m", "150/15", "150/15x", "0/15m", "-1/15m", "150/0m", "1.5/15m", "150/15 m m"],
)
def test_malformed_limit_is_ignored(clock: Clock, limit: str) -> None:
    respond(headers=rate(limit=limit))
    assert bucket("char-location").limit is None
    assert bucket("char-location").window_seconds is None


@pytest.mark.parametrize("value", [42, b"42", 4.0, object()])
def test_non_string_header_values_never_raise(clock: Clock, value: Any) -> None:
    respond(
        status=429,
        headers={"X-ESI-Error-Limit-Remain": value, "Retry-After": value, "X-Ratelimit-Limit": value},
    )


def test_huge_error_limit_reset_is_ignored(clock: Clock) -> None:
    respond(headers=errors("5", "4000"))
    assert budgets.error_limit() is None


def test_retry_after_may_be_an_http_date(clock: Clock, raising: None) -> None:
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(T0 + 45))
    respond(status=429, headers={"Retry-After": when}, group="g")
    with pytest.raises(ESIBucketLimitException) as caught:
        budgets.before_request(group="g", character_id=None)
    assert caught.value.reset == pytest.approx(45)


# --------------------------------------------------------------------------- error limit


def test_common_path_sends_at_once(clock: Clock) -> None:
    respond(headers=errors("100", "50"))
    budgets.before_request(group="g", character_id=1)
    assert clock.sleeps == []


def test_near_the_threshold_waits_for_the_reset(clock: Clock, settings: Any) -> None:
    settings.ESI_ERROR_LIMIT_THRESHOLD = 5
    respond(headers=errors("6", "1"))
    budgets.before_request(group=None, character_id=None)
    assert clock.sleeps == []
    respond(headers=errors("5", "1"))
    budgets.before_request(group=None, character_id=None)
    (waited,) = clock.sleeps
    assert 1.25 <= waited <= 2.0
    budgets.before_request(group=None, character_id=None)
    assert len(clock.sleeps) == 1


def test_waiting_really_sleeps() -> None:
    """The one test that waits on the real clock: about one second, bounded loosely."""
    respond(headers=errors("0", "1"))
    started = time.monotonic()
    budgets.before_request(group=None, character_id=None)
    assert 1.0 <= time.monotonic() - started < 10


def test_raise_behaviour_raises_with_the_seconds_left(clock: Clock, raising: None) -> None:
    respond(headers=errors("10", "30"))
    with pytest.raises(ESIErrorLimitException) as caught:
        budgets.before_request(group="g", character_id=None)
    assert caught.value.reset == pytest.approx(30)
    assert clock.sleeps == []


def test_a_wait_beyond_the_cap_raises(clock: Clock, settings: Any) -> None:
    settings.ESI_ERROR_LIMIT_MAX_WAIT = 20
    respond(headers=errors("3", "21"))
    with pytest.raises(ESIErrorLimitException) as caught:
        budgets.before_request(group=None, character_id=None)
    assert caught.value.reset == pytest.approx(21)
    assert clock.sleeps == []


def test_the_cap_bounds_all_waits_of_one_call(clock: Clock, settings: Any) -> None:
    settings.ESI_ERROR_LIMIT_MAX_WAIT = 20
    respond(status=420, headers=errors("0", "12"))
    # Another 420 arrives while this call sleeps: a second wait of 12 s would pass the cap.
    clock.on_sleep.append(lambda: respond(status=420, headers=errors("0", "12")))
    with pytest.raises(ESIErrorLimitException):
        budgets.before_request(group=None, character_id=None)
    assert len(clock.sleeps) == 1


def test_a_420_blocks_every_group_and_character_until_the_reset(clock: Clock, raising: None) -> None:
    respond(headers=errors("100", "20") | rate("a", 100))
    respond(status=420, headers=errors("0", "20"), group="a", character_id=1)
    for group, character_id in [("a", 1), ("b", 2), (None, None), ("a", None)]:
        with pytest.raises(ESIErrorLimitException) as caught:
            budgets.before_request(group=group, character_id=character_id)
        assert caught.value.reset == pytest.approx(20)
    clock.now += 20
    budgets.before_request(group="a", character_id=1)
    assert error_state().blocked is True
    assert [e["status"] for e in stats.recent_events()] == [420]


def test_a_420_without_reset_blocks_for_a_minute(clock: Clock) -> None:
    respond(status=420)
    budgets.before_request(group="g", character_id=None)
    (waited,) = clock.sleeps
    assert 60.25 <= waited <= 61.0


def test_a_timeout_counts_against_the_error_limit(clock: Clock) -> None:
    respond(headers=errors("20", "30"))
    respond(status=0)
    respond(status=0)
    assert error_state().remain == 18
    budgets.reset()
    respond(status=0)  # no window known: nothing to count against
    assert budgets.error_limit() is None


def test_one_window_keeps_the_lowest_remain_and_a_new_window_replaces_it(clock: Clock) -> None:
    respond(headers=errors("40", "30"))
    clock.now += 1
    respond(headers=errors("45", "29"))  # answered by ESI before the 40, arrived after it
    assert error_state().remain == 40
    clock.now += 30
    respond(headers=errors("100", "60"))
    assert budgets.error_limit() == budgets.ErrorLimitState(100, clock.now + 60, False, clock.now)


def test_an_ended_window_gates_nothing(clock: Clock, raising: None) -> None:
    respond(headers=errors("0", "5"))
    clock.now += 5
    budgets.before_request(group=None, character_id=None)


def test_unknown_behaviour_is_a_configuration_error(clock: Clock, settings: Any) -> None:
    settings.ESI_ERROR_LIMIT_BEHAVIOUR = "sleep"
    respond(status=420)
    with pytest.raises(ImproperlyConfigured, match="ESI_ERROR_LIMIT_BEHAVIOUR"):
        budgets.before_request(group=None, character_id=None)


# --------------------------------------------------------------------------- rate limits


def test_a_429_blocks_only_its_group_and_character(clock: Clock, raising: None) -> None:
    respond(status=429, headers=rate("mail", 0, 0) | {"Retry-After": "30"}, group="mail", character_id=1)
    with pytest.raises(ESIBucketLimitException) as caught:
        budgets.before_request(group="mail", character_id=1)
    assert caught.value.bucket == "mail:1"
    assert caught.value.reset == pytest.approx(30)
    budgets.before_request(group="mail", character_id=2)
    budgets.before_request(group="mail", character_id=None)
    budgets.before_request(group="wallet", character_id=1)
    clock.now += 30
    budgets.before_request(group="mail", character_id=1)
    (event,) = stats.recent_events()
    assert event == {
        "time": T0,
        "status": 429,
        "operation": "get_op",
        "group": "mail",
        "character_id": 1,
        "retry_after": 30.0,
    }


def test_a_429_waits_for_retry_after(clock: Clock) -> None:
    respond(status=429, headers={"Retry-After": "7"}, group="mail", character_id=1)
    budgets.before_request(group="mail", character_id=1)
    (waited,) = clock.sleeps
    assert 7.25 <= waited <= 8.0


def test_a_429_beyond_the_rate_limit_cap_raises(clock: Clock, settings: Any) -> None:
    settings.ESI_RATE_LIMIT_MAX_WAIT = 10
    respond(status=429, headers={"Retry-After": "11"}, group="mail")
    with pytest.raises(ESIBucketLimitException) as caught:
        budgets.before_request(group="mail", character_id=None)
    assert caught.value.bucket == "mail:public"
    assert clock.sleeps == []


def test_a_429_without_retry_after_blocks_for_a_minute(clock: Clock, raising: None) -> None:
    respond(status=429, group="mail", character_id=3)
    with pytest.raises(ESIBucketLimitException) as caught:
        budgets.before_request(group="mail", character_id=3)
    assert caught.value.reset == pytest.approx(60)


def test_public_and_character_buckets_are_kept_apart(clock: Clock) -> None:
    respond(headers=rate("universe", 140), group="universe")
    respond(headers=rate("universe", 90), group="universe", character_id=5)
    respond(headers=rate("universe", 80), group="universe", character_id=3)
    assert [(s.group, s.character_id, s.remaining) for s in budgets.rate_limits()] == [
        ("universe", None, 140),
        ("universe", 3, 80),
        ("universe", 5, 90),
    ]


def test_an_empty_bucket_waits_until_our_oldest_spend_returns(clock: Clock, raising: None) -> None:
    respond(headers=rate("g", 10, 2), group="g", character_id=1)
    clock.now += 100
    respond(headers=rate("g", 5, 5), group="g", character_id=1)
    clock.now += 100
    respond(headers=rate("g", 1, 2), group="g", character_id=1)
    # One token is missing; the first spend (2 tokens, at T0) comes back at T0 + 15 min.
    with pytest.raises(ESIBucketLimitException) as caught:
        budgets.before_request(group="g", character_id=1)
    assert caught.value.reset == pytest.approx(900 - 200)
    assert bucket("g", 1).blocked_until == pytest.approx(T0 + 900)
    budgets.before_request(group="g", character_id=2)


def test_the_estimate_counts_enough_tokens_and_only_spends_inside_the_window(
    clock: Clock, raising: None
) -> None:
    respond(headers=rate("g", 100, 2, "100/1m"), group="g")
    clock.now += 61  # the first spend has come back already
    respond(headers=rate("g", 50, 1, "100/1m"), group="g")
    clock.now += 10
    respond(headers=rate("g", 0, 1, "100/1m"), group="g")
    # Two tokens are missing: the 1-token spends at T0+61 and T0+71 give them back at T0+131.
    with pytest.raises(ESIBucketLimitException) as caught:
        budgets.before_request(group="g", character_id=None)
    assert caught.value.reset == pytest.approx(60)


def test_an_empty_bucket_without_own_spends_assumes_a_full_window(clock: Clock, raising: None) -> None:
    respond(headers=rate("g", 0, 0, "150/15m"), group="g")
    with pytest.raises(ESIBucketLimitException) as caught:
        budgets.before_request(group="g", character_id=None)
    assert caught.value.reset == pytest.approx(900)


def test_without_used_the_cost_of_the_status_is_assumed(clock: Clock, raising: None) -> None:
    headers = rate("g", 100, 0, "100/1m")
    del headers["X-Ratelimit-Used"]
    respond(404, headers, group="g")  # 4xx: 5 tokens
    clock.now += 30
    headers["X-Ratelimit-Remaining"] = "0"
    respond(304, headers, group="g")  # 3xx: 1 token; two are missing, the 404 returns five
    with pytest.raises(ESIBucketLimitException) as caught:
        budgets.before_request(group="g", character_id=None)
    assert caught.value.reset == pytest.approx(30)


def test_a_later_answer_never_shortens_a_block(clock: Clock, raising: None) -> None:
    respond(status=429, headers={"Retry-After": "30"}, group="g")
    respond(headers=rate("g", 100), group="g")
    with pytest.raises(ESIBucketLimitException):
        budgets.before_request(group="g", character_id=None)


def test_the_group_esi_reports_overrides_the_spec(clock: Clock, raising: None) -> None:
    respond(status=429, headers=rate("mail", 0, 0) | {"Retry-After": "30"}, group=None, operation="post_mail")
    with pytest.raises(ESIBucketLimitException) as caught:
        budgets.before_request(group=None, character_id=None, operation="post_mail")
    assert caught.value.bucket == "mail:public"


def test_a_429_on_an_operation_without_group_blocks_that_operation(clock: Clock, raising: None) -> None:
    respond(status=429, headers={"Retry-After": "5"}, operation="post_mail", character_id=9)
    with pytest.raises(ESIBucketLimitException) as caught:
        budgets.before_request(group=None, character_id=9, operation="post_mail")
    assert caught.value.bucket == "operation:post_mail:9"
    budgets.before_request(group=None, character_id=9, operation="get_mail")


def test_idle_buckets_are_forgotten_locally(clock: Clock) -> None:
    respond(headers=rate("g", 100, 2, "10/1m"), group="g")
    clock.now += 60 + budgets._PRUNE_INTERVAL + 1
    budgets.before_request(group=None, character_id=None)
    assert budgets._buckets == {}
    assert bucket("g").remaining == 100  # the dashboard still has the shared copy


# --------------------------------------------------------------------------- sharing


def test_another_process_sees_the_error_limit(clock: Clock, raising: None) -> None:
    respond(headers=errors("3", "30"))
    budgets._forget_local_state()
    with pytest.raises(ESIErrorLimitException):
        budgets.before_request(group=None, character_id=None)


def test_another_process_sees_a_429(clock: Clock, raising: None) -> None:
    respond(status=429, headers={"Retry-After": "30"}, group="g", character_id=1)
    budgets._forget_local_state()
    with pytest.raises(ESIBucketLimitException):
        budgets.before_request(group="g", character_id=1)
    budgets.before_request(group="g", character_id=2)


def test_processes_merge_what_they_saw(clock: Clock) -> None:
    respond(headers=errors("50", "30"))
    budgets._forget_local_state()
    respond(headers=errors("60", "29"))  # the same window, seen by another process
    assert error_state().remain == 50
    budgets._forget_local_state()
    assert error_state().remain == 50


def test_a_process_picks_up_shared_changes_after_the_sync_interval(clock: Clock, raising: None) -> None:
    respond(headers=errors("90", "50"))
    budgets.before_request(group=None, character_id=None)
    # Another process writes a 420 (simulated by writing the shared key as it would).
    caches["default"].set(budgets._ERROR_KEY, (0, T0 + 50, True, T0))
    budgets.before_request(group=None, character_id=None)  # within the interval: not seen
    clock.now += 1
    with pytest.raises(ESIErrorLimitException):
        budgets.before_request(group=None, character_id=None)


def test_dashboard_lists_buckets_of_every_process(clock: Clock) -> None:
    respond(headers=rate("a", 10), group="a", character_id=1)
    budgets._forget_local_state()
    respond(headers=rate("b", 20), group="b")
    assert [(s.group, s.character_id, s.remaining) for s in budgets.rate_limits()] == [
        ("a", 1, 10),
        ("b", None, 20),
    ]


def test_reset_forgets_shared_and_local_state(clock: Clock) -> None:
    respond(status=420)
    respond(status=429, headers=rate("g", 0), group="g")
    budgets.reset()
    assert budgets.error_limit() is None
    assert budgets.rate_limits() == []


def test_a_lock_held_elsewhere_delays_an_update_only_briefly(clock: Clock) -> None:
    lock = budgets._ERROR_KEY + ":lock"
    caches["default"].add(lock, "another process", timeout=30)
    started = time.monotonic()
    respond(status=420)
    assert time.monotonic() - started < 5  # about 50 ms, then the update goes ahead
    budgets._forget_local_state()
    assert error_state().blocked
    assert caches["default"].get(lock) == "another process"  # not ours to release


def test_shared_values_of_another_shape_are_ignored(clock: Clock) -> None:
    cache = caches["default"]
    cache.set_many(
        {
            budgets._ERROR_KEY: "garbage",
            budgets._BLOCKED_KEY: ["garbage"],
            budgets._INDEX_KEY: {"g:public": T0 + 60},
            budgets._BUCKET_KEY + "g:public": (1, 2),
        }
    )
    budgets.before_request(group="g", character_id=None)
    assert budgets.error_limit() is None
    assert budgets.rate_limits() == []


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a cache shared by processes)")
def test_a_420_in_a_real_subprocess_stops_this_process(raising: None) -> None:
    code = (
        "import django; django.setup()\n"
        "from esi.http import budgets\n"
        "budgets.after_response(status=420, headers={'X-ESI-Error-Limit-Reset': '30'},"
        " group=None, character_id=None, operation='get_child')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    with pytest.raises(ESIErrorLimitException) as caught:
        budgets.before_request(group="g", character_id=None)
    assert caught.value.reset is not None
    assert 20 < caught.value.reset <= 30
    assert stats.recent_events()[0]["operation"] == "get_child"


# --------------------------------------------------------------------------- cost and threads


def test_the_common_path_does_no_cache_io(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    respond(headers=errors("100", "50") | rate("g", 140), group="g", character_id=1)
    budgets.before_request(group="g", character_id=1)
    with cache_calls(monkeypatch) as calls:
        for n in range(500):
            clock.now += 0.001
            budgets.before_request(group="g", character_id=1)
            # Above 100 tokens: not paced (pacing has tests of its own).
            respond(headers=errors("100", "50") | rate("g", 140 - n % 30), group="g", character_id=1)
        assert calls == []
        clock.now += 1
        budgets.before_request(group="g", character_id=1)
        assert calls == ["get_many"]  # the periodic sync: one round trip
        respond(headers=errors("100", "49") | rate("g", 120), group="g", character_id=1)
        assert calls == ["get_many", "set_many"]  # the changed bucket, written once


def test_the_common_path_is_cheap(clock: Clock) -> None:
    """Generous bound (the path costs about 10 us): it catches accidental cache I/O."""
    headers = CaseInsensitiveDict(errors("100", "50") | rate("g", 140) | {"Content-Type": "application/json"})
    respond(headers=headers, group="g", character_id=1)
    started = time.perf_counter()
    for _ in range(2000):
        budgets.before_request(group="g", character_id=1)
        budgets.after_response(status=200, headers=headers, group="g", character_id=1, operation="op")
    assert (time.perf_counter() - started) / 2000 < 0.001


def test_many_threads_agree(settings: Any) -> None:
    settings.ESI_RATE_LIMIT_BEHAVIOUR = "raise"
    settings.ESI_ERROR_LIMIT_THRESHOLD = 0
    failures: list[BaseException] = []
    remains: list[int] = []
    start = threading.Barrier(16)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        try:
            for n in range(200):
                remain = rng.randint(5, 100)
                remains.append(remain)
                character = rng.randint(1, 4)
                claim = budgets.before_request(group="g", character_id=character)
                respond(
                    headers=errors(str(remain), "50") | rate("g", rng.randint(50, 150)),
                    group="g",
                    character_id=character,
                    claim=claim,
                )
                if (seed, n) == (3, 50):
                    respond(429, rate("g", 0, 0) | {"Retry-After": "30"}, group="g", character_id=99)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert error_state().remain == min(remains)
    assert [(s.character_id, bool(s.blocked_until)) for s in budgets.rate_limits()] == [
        (1, False),
        (2, False),
        (3, False),
        (4, False),
        (99, True),
    ]
    budgets._forget_local_state()
    assert error_state().remain == min(remains)
    with pytest.raises(ESIBucketLimitException):
        budgets.before_request(group="g", character_id=99)


def test_a_broken_cache_never_breaks_a_call(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, raising: None
) -> None:
    guard.reset()  # no warning in the last minute
    backend = type(caches["default"])

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache down")

    for name in CACHE_METHODS:
        monkeypatch.setattr(backend, name, broken)
    respond(status=429, headers={"Retry-After": "5"}, group="g")
    respond(status=420)
    with pytest.raises(ESIErrorLimitException):  # local knowledge still gates
        budgets.before_request(group="g", character_id=None)
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and r.exc_info]
    assert len(warnings) == 1  # then quiet for a minute
    monkeypatch.undo()
    caplog.clear()
