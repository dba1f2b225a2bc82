"""django-esi 10's task decorators and esi.rate_limiting, on django-q2 (sync runs, as the
test settings' cluster has them) and on Celery (eager runs here; a real worker in
tests/test_celery.py)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.cache import cache
from django.utils import timezone

from esi import rate_limiting
from esi.decorators import esi_rate_limiter_bucketed, rate_limited_task, wait_for_esi_errorlimit_reset
from esi.errors import ESIBucketLimitException, ESIErrorLimitException
from esi.exceptions import TaskBucketLimitException
from esi.http import budgets
from esi.rate_limiting import (
    ESIRateLimitBucket,
    ESIRateLimits,
    TaskRateLimitBucket,
    TaskRateLimits,
    interval_to_seconds,
    limit_to_rate,
    task_bucket_slug_key,
)
from tests import task_functions


@pytest.fixture
def clock(monkeypatch):
    """esi.rate_limiting's clock and sleep under the test's control."""
    now = [1_000_000.0]
    monkeypatch.setattr(rate_limiting, "_now", lambda: now[0])

    def sleep(seconds):
        now[0] += seconds

    monkeypatch.setattr(rate_limiting, "_sleep", sleep)
    return now


class TestRates:
    @pytest.mark.parametrize("text, seconds", [("s", 1), ("15m", 900), ("2h", 7200), ("1d", 86400)])
    def test_intervals(self, text, seconds):
        assert interval_to_seconds(text) == seconds

    @pytest.mark.parametrize("text", ["", "15", "15x", "-1m", "0s", "1.5m", "m5", None])
    def test_bad_intervals(self, text):
        with pytest.raises(ValueError):
            interval_to_seconds(text)

    def test_rates(self):
        assert limit_to_rate("100/15m") == 9.0 and limit_to_rate("10/s") == 0.1
        for bad in ("100", "0/1m", "x/1m", "100/", "-5/1m", "1/0s"):
            with pytest.raises(ValueError):
                limit_to_rate(bad)
        with pytest.raises(ValueError, match="rate"):
            rate_limited_task("fast")

    def test_slug_keys(self):
        assert task_bucket_slug_key("app.update", {"b": 2, "a": {"x": 1}}) == "app.update"
        assert task_bucket_slug_key("app.update", {"b": 2, "a": 1}, restrict_to=["b", "a"]) == "app.update_a-1_b-2"
        with pytest.raises(KeyError):
            task_bucket_slug_key("app.update", {"b": 2}, restrict_to=["c"])


class TestESIRateLimitBucket:
    def test_predefined_buckets_and_choices(self):
        history = ESIRateLimitBucket.MARKET_DATA_HISTORY
        assert (history.slug, history.limit, history.window) == ("market_data_history", 300, 60)
        assert ("character_corporation_history", "Character Corporation History") in ESIRateLimitBucket.choices()
        assert rate_limiting._bucket(("market_data_history", 300, 60)) == history

    @pytest.mark.parametrize("limit, window", [(0, 60), (5, 0), (-1, 60), (1.5, 60), (True, 60)])
    def test_bad_buckets(self, limit, window):
        with pytest.raises(ValueError):
            ESIRateLimitBucket("x", limit, window)

    def test_not_a_bucket(self):
        with pytest.raises(TypeError):
            ESIRateLimits.check_bucket("market_data_history")

    def test_calls_until_empty_then_the_window_resets(self, clock):
        bucket = ESIRateLimitBucket("test_calls", 3, 60)
        assert ESIRateLimits.get_bucket(bucket) == 1  # no window yet
        for left in (2, 1, 0):
            ESIRateLimits.check_decr_bucket(bucket)
            assert ESIRateLimits.get_bucket(bucket) == left
        with pytest.raises(ESIBucketLimitException) as caught:
            ESIRateLimits.check_decr_bucket(bucket)
        assert caught.value.bucket == bucket and 0 < caught.value.reset <= 61
        ESIRateLimits.set_bucket(bucket, 2)
        assert ESIRateLimits.get_bucket(bucket) == 2 and ESIRateLimits.get_timeout(bucket) == 0

    def test_waiting_instead_of_raising(self, clock):
        bucket = ESIRateLimitBucket("test_wait", 1, 60)
        started = clock[0]
        ESIRateLimits.check_decr_bucket(bucket, raise_on_limit=False)
        # The second call sleeps through the reset; the cache's own expiry is real time, so
        # the test ends the window as the expiry would.
        cache.delete_many(["esi:bucket:test_wait"])
        ESIRateLimits.check_decr_bucket(bucket, raise_on_limit=False)
        assert clock[0] == started

    def test_decorator(self, clock):
        bucket = ESIRateLimitBucket("test_decorated", 2, 60)
        calls = []

        @esi_rate_limiter_bucketed(bucket)
        def fetch(n):
            calls.append(n)
            return n

        assert [fetch(1), fetch(2)] == [1, 2]
        with pytest.raises(ESIBucketLimitException):
            fetch(3)
        assert calls == [1, 2]


class TestTaskRateLimits:
    def test_one_run_per_ttl(self, clock):
        bucket = TaskRateLimitBucket.from_rate("app.update", "2/10s")
        assert bucket.ttl == 5.0
        TaskRateLimits.check_bucket(bucket)
        with pytest.raises(TaskBucketLimitException) as caught:
            TaskRateLimits.check_bucket(bucket)
        assert caught.value.reset == 5 and "Retry after 5 seconds" in str(caught.value)
        clock[0] += 5
        TaskRateLimits.check_bucket(bucket)  # its turn, though the cache entry lives on

    def test_bad_buckets(self):
        with pytest.raises(ValueError):
            TaskRateLimitBucket("x", 0, 10)

    def test_racing_threads_get_one_run(self):
        bucket = TaskRateLimitBucket.from_rate("race", "1/30s")
        outcomes = []
        barrier = threading.Barrier(8)

        def run():
            barrier.wait()
            try:
                TaskRateLimits.check_bucket(bucket)
                outcomes.append("ran")
            except TaskBucketLimitException:
                outcomes.append("limited")

        threads = [threading.Thread(target=run) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["limited"] * 7 + ["ran"]


class TestWaitForErrorLimitReset:
    def test_runs_at_once_when_the_limit_is_not_spent(self):
        calls = []
        wait_for_esi_errorlimit_reset()(calls.append)(1)
        assert calls == [1]

    def test_waits_for_the_window_seen_by_the_budgets(self):
        budgets.after_response(
            status=420, headers={"X-ESI-Error-Limit-Remain": "0", "X-ESI-Error-Limit-Reset": "1"},
            group=None, character_id=None, operation="get_status",
        )
        assert budgets.error_limit_wait() > 0
        started = timezone.now()
        assert wait_for_esi_errorlimit_reset(poll_interval=0.1)(lambda: "ran")() == "ran"
        assert timezone.now() - started >= datetime.timedelta(seconds=0.5)
        assert budgets.error_limit_wait() == 0

    def test_waits_while_django_esi_10s_cache_flag_is_set(self):
        cache.set("esi_error_limit_reset", 1, timeout=30)
        threading.Timer(0.3, cache.delete, ["esi_error_limit_reset"]).start()
        assert wait_for_esi_errorlimit_reset(poll_interval=0.05)(lambda: "ran")() == "ran"


class TestRateLimitRetryTaskOnDjangoQ:
    """The test settings run django-q2 in sync mode: async_task runs the task through the
    worker function at once, with django-q2's signals."""

    def test_a_stopped_task_is_scheduled_again_after_the_reset(self, db):
        from django_q.models import Schedule
        from django_q.tasks import async_task, result

        task_id = async_task("tests.task_functions.q_stopped_once", "q1", reset=30)
        deferred = result(task_id)
        schedule = Schedule.objects.get(pk=deferred["schedule_id"])
        assert deferred["deferred"] == 30.0
        assert schedule.func == "tests.task_functions.q_stopped_once" and schedule.schedule_type == Schedule.ONCE
        assert schedule.args == "('q1',)" and schedule.kwargs == "{'reset': 30}"
        assert abs((schedule.next_run - timezone.now()).total_seconds() - 30) < 5
        # What the schedule enqueues when due, as django-q2's scheduler calls it.
        again = async_task(schedule.func, "q1", reset=30)
        assert result(again) == 2

    def test_the_error_limit_too(self, db):
        from django_q.tasks import async_task, result

        assert "deferred" in result(async_task("tests.task_functions.q_stopped_once", "q2", 5, True))

    def test_outside_a_task_the_exception_propagates(self, db):
        with pytest.raises(ESIBucketLimitException):
            task_functions.q_stopped_once("direct")
        assert task_functions.q_stopped_once("direct") == 2

    def test_inside_another_task_the_exception_propagates(self, db):
        from django_q.models import Schedule
        from django_q.tasks import async_task

        # Sync runs raise what the task raised; a worker would record the failure.
        with pytest.raises(ESIBucketLimitException):
            async_task("tests.test_task_decorators.outer_task", "q3")
        assert not Schedule.objects.filter(func__contains="q_stopped_once").exists()


def outer_task(key):
    """A django-q2 task that calls a decorated task function as a helper."""
    return task_functions.q_stopped_once(key)


class TestRateLimitedTaskOnDjangoQ:
    def test_the_second_run_within_the_rate_is_deferred(self, db):
        from django_q.models import Schedule
        from django_q.tasks import async_task, result

        assert isinstance(result(async_task("tests.task_functions.q_limited", 1)), float)
        deferred = result(async_task("tests.task_functions.q_limited", 1))
        assert 0 < deferred["deferred"] <= 2
        assert Schedule.objects.get(pk=deferred["schedule_id"]).args == "(1,)"
        # Another character has a rate of its own.
        assert isinstance(result(async_task("tests.task_functions.q_limited", 2)), float)

    def test_outside_a_task_it_raises(self, db):
        task_functions.q_limited(3)
        with pytest.raises(TaskBucketLimitException):
            task_functions.q_limited(3)

    def test_keys_must_name_arguments(self):
        with pytest.raises(TypeError, match="names no argument"):
            rate_limited_task("1/s", keys=["nope"])(lambda character_id: None)


@pytest.fixture
def eager():
    from tests.celery_app import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager = False


class TestOnCeleryEager:
    """Eager runs retry at once, without the countdown; the countdowns and
    ``rate_limited_task`` (whose eager retry would come too early again) are shown by the
    real worker in tests/test_celery.py."""

    @pytest.mark.parametrize("error_limit", [False, True])
    def test_rate_limit_retry_task_has_celery_retry(self, db, eager, error_limit):
        eager.conf.task_eager_propagates = False  # else eager runs raise Retry to the caller
        outcome = task_functions.celery_stopped_once.apply(args=(f"c-{error_limit}", 7, error_limit))
        assert outcome.state == "SUCCESS" and outcome.get() == 2
        assert cache.get(f"attempts:c-{error_limit}") == 2

    def test_called_directly_the_exception_propagates(self, db, eager):
        with pytest.raises(ESIErrorLimitException):
            task_functions.celery_stopped_once("c3", 1, True)
        assert task_functions.celery_stopped_once("c3", 1, True) == 2
