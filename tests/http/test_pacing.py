"""Pacing before the 429: the shared claim on a nearly empty bucket (esi.http.budgets).

Unit tests run on the fake clock of tests/http/conftest.py with the test settings' cache
(Redis when ``REDIS_URL`` is set, else locmem); "another process" is simulated by dropping
the module's local state. Over real HTTP, threads of this process and (with Redis) several
real processes share one small emulator bucket and must never draw a 429.
"""

from __future__ import annotations

import contextvars
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches

from esi import task_engines
from esi.clients import EsiClientProvider
from esi.emulator import Emulator
from esi.errors import ESIBucketLimitException, ESIErrorLimitException
from esi.http import budgets, guard

from .conftest import Clock

ROOT = Path(__file__).resolve().parents[2]
KEY = "g:public"
AVAIL, INFLIGHT, SEEN = budgets._pace_keys(KEY)


def rate(remaining: int, limit: str = "100/60s", used: int = 2, group: str = "g") -> dict[str, str]:
    return {
        "X-Ratelimit-Group": group,
        "X-Ratelimit-Limit": limit,
        "X-Ratelimit-Remaining": str(remaining),
        "X-Ratelimit-Used": str(used),
    }


def answer(remaining: int, claim: budgets.Claim | None = None, status: int = 200, **kwargs: Any) -> None:
    budgets.after_response(
        status=status,
        headers=rate(remaining, **kwargs),
        group="g",
        character_id=None,
        operation="get_op",
        claim=claim,
    )


def ask() -> budgets.Claim | None:
    return budgets.before_request(group="g", character_id=None, operation="get_op")


def shared(key: str) -> Any:
    return caches["default"].get(key)


@pytest.fixture(autouse=True)
def _by_fraction_only(settings: Any) -> None:
    """The unit tests' buckets hold 100 tokens: paced at or below half of them (the
    100-token floor, ESI_RATE_LIMIT_PACE_TOKENS, has a test of its own)."""
    settings.ESI_RATE_LIMIT_PACE_TOKENS = 0


@pytest.fixture
def raising(settings: Any) -> None:
    settings.ESI_RATE_LIMIT_BEHAVIOUR = "raise"


# --------------------------------------------------------------------------- when it paces


def test_a_bucket_above_the_threshold_is_not_paced(clock: Clock) -> None:
    answer(51)  # limit 100, paced at or below 50
    assert ask() == budgets.Claim(KEY, 0, clock.now)  # counted in flight by this process only
    assert shared(AVAIL) is None


def test_requests_of_this_process_in_flight_when_pacing_starts_are_counted(clock: Clock) -> None:
    answer(60)
    unpaced = [ask(), ask(), ask()]
    assert all(claim.tokens == 0 for claim in unpaced)
    answer(50, unpaced[0])  # paced now; two unpaced requests still in flight
    assert ask() is not None
    assert shared(AVAIL) == 50 - 5 - 4 - 2
    budgets.release(unpaced[1])
    answer(46, unpaced[2])
    assert shared(AVAIL) == 46 - 5 - 2


def test_a_low_answer_paces_the_bucket_and_requests_claim_tokens(clock: Clock) -> None:
    answer(50)
    claim = ask()
    assert claim == budgets.Claim(KEY, 2, clock.now)
    # 50 left, reserve 5 % of 100, this claim: 50 - 5 - 2
    assert shared(AVAIL) == 43
    assert shared(INFLIGHT) == 2
    answer(48, claim)
    # The answer sets the counter from its Remaining; nothing is in flight any more.
    assert (shared(AVAIL), shared(INFLIGHT)) == (43, 0)


def test_first_requests_on_an_unknown_bucket_count_in_flight_for_every_process(clock: Clock) -> None:
    first = [ask(), ask()]
    assert [claim.tokens for claim in first] == [2, 2]  # nothing taken: there is no counter yet
    assert shared(INFLIGHT) == 4 and shared(AVAIL) is None
    answer(30, first[0])  # paced; the other first request is still in flight
    budgets._forget_local_state()  # another process: it sees that one in flight too
    late = ask()  # its first request: counted, and taken from the counter without waiting
    assert late.tokens == 2
    assert (shared(AVAIL), shared(INFLIGHT)) == (30 - 5 - 2 - 2, 4)
    answer(29, first[1])
    assert shared(INFLIGHT) == 2


def test_a_new_process_waits_like_the_others_when_their_counter_is_spent(clock: Clock, raising: None) -> None:
    answer(9)  # 4 tokens above the reserve
    ask(), ask()
    budgets._forget_local_state()  # a process started just now: it has not synced nor seen an answer
    budgets._synced_at = clock.now  # (and its first sync has not run yet)
    with pytest.raises(ESIBucketLimitException):
        ask()


def test_pacing_zero_turns_it_off(clock: Clock, settings: Any) -> None:
    settings.ESI_RATE_LIMIT_PACE_BELOW = 0
    answer(10)
    assert ask().tokens == 0
    assert shared(AVAIL) is None


@pytest.mark.parametrize(("tokens", "remaining", "paced"), [(100, 100, True), (100, 101, False), (20, 75, True), (20, 76, False)])
def test_small_buckets_are_paced_below_a_number_of_tokens(
    clock: Clock, settings: Any, tokens: int, remaining: int, paced: bool
) -> None:
    settings.ESI_RATE_LIMIT_PACE_TOKENS = tokens
    answer(remaining, limit="150/15m")  # half of 150 is 75
    assert bool(ask().tokens) is paced


def test_claims_in_flight_count_against_what_an_answer_reports(clock: Clock) -> None:
    answer(20)
    claims = [ask() for _ in range(3)]
    assert shared(INFLIGHT) == 6
    answer(18, claims[0])  # two claims still in flight: 18 - 5 - 4
    assert shared(AVAIL) == 9


def test_the_reserve_is_never_claimed(clock: Clock, raising: None) -> None:
    answer(11)  # 11 - 5 = 6 tokens: three 2xx
    claims = [ask() for _ in range(3)]
    assert all(claims)
    with pytest.raises(ESIBucketLimitException) as caught:
        ask()
    assert caught.value.bucket == KEY
    assert shared(AVAIL) == 0  # the refused claim took nothing


def test_a_waiting_request_goes_once_an_answer_reports_tokens(clock: Clock) -> None:
    answer(9)  # 4 tokens above the reserve
    held = [ask(), ask()]
    assert shared(AVAIL) == 0

    def someone_answers() -> None:
        if len(clock.sleeps) == 1:
            answer(30, held[0])  # tokens came back meanwhile (another process's spend)

    clock.on_sleep.append(someone_answers)
    assert ask() is not None
    assert len(clock.sleeps) == 1 and 0.05 <= clock.sleeps[0] <= 2.6


def test_our_own_spends_come_back_one_window_later(clock: Clock, raising: None) -> None:
    answer(9, used=0)  # (an answer that cost nothing: no spend of ours to come back)
    answer(7, ask())  # our spend of 2 at T0 comes back at T0 + 60
    clock.now += 10
    answer(5, ask())  # at T0 + 10: nothing above the reserve, paced until T0 + 70
    with pytest.raises(ESIBucketLimitException):
        ask()
    clock.now += 50
    # No answer since, but our spend at T0 gave its 2 tokens back: credited, claimed.
    assert ask() is not None
    with pytest.raises(ESIBucketLimitException):
        ask()  # credited once only


def test_a_wait_is_until_our_next_spend_returns_when_that_is_sooner(clock: Clock) -> None:
    answer(9, limit="100/1h", used=0)
    answer(7, ask(), limit="100/1h")  # spent at T0, back at T0 + 3600
    clock.now += 3599
    ask()
    ask()  # the last 2 tokens above the reserve
    clock.on_sleep.append(lambda: None)
    claim = ask()
    assert claim is not None
    assert clock.sleeps == [pytest.approx(1.0, abs=0.06)]


def test_an_answer_to_a_request_sent_before_the_last_answer_only_lowers_the_counter(clock: Clock) -> None:
    answer(40)
    clock.now += 1
    early = ask()
    late = ask()
    clock.now += 1
    answer(36, late)  # 36 - 5 - 2 (early still in flight)
    assert shared(AVAIL) == 29
    answer(38, early)  # sent before that answer came: ESI may not have counted late in it
    assert shared(AVAIL) == 29
    clock.now += 1
    again = ask()
    answer(34, again)  # sent after it: it sets the counter
    assert shared(AVAIL) == 29
    third = ask()
    answer(20, third)  # another spender emptied it: lower news always counts
    assert shared(AVAIL) == 15


def test_a_429_despite_pacing_blocks_the_bucket_and_releases_the_claim(clock: Clock, raising: None) -> None:
    answer(20)
    claim = ask()
    budgets.after_response(
        status=429,
        headers=rate(0) | {"Retry-After": "30"},
        group="g",
        character_id=None,
        operation="get_op",
        claim=claim,
    )
    assert shared(INFLIGHT) == 0
    with pytest.raises(ESIBucketLimitException) as caught:
        ask()
    assert caught.value.reset == pytest.approx(30)


def test_no_answer_releases_the_claim(clock: Clock) -> None:
    answer(20)
    claim = ask()
    budgets.after_response(status=0, headers={}, group="g", character_id=None, operation="get_op", claim=claim)
    assert shared(INFLIGHT) == 0
    budgets.release(ask())
    assert shared(INFLIGHT) == 0
    budgets.release(None)


# --------------------------------------------------------------------------- across processes


def test_another_process_paces_after_its_sync(clock: Clock) -> None:
    answer(20)
    ask()
    budgets._forget_local_state()  # another process, which never saw an answer of this bucket
    claim = ask()  # its first request syncs: the bucket is paced, the limit comes from the snapshot
    assert claim is not None
    assert shared(INFLIGHT) == 4


def test_processes_share_one_counter(clock: Clock, raising: None) -> None:
    answer(13)  # 8 tokens above the reserve
    assert ask() and ask()
    budgets._forget_local_state()
    assert ask() and ask()
    with pytest.raises(ESIBucketLimitException):
        ask()


def test_a_window_without_answers_starts_again_from_a_full_bucket(clock: Clock, raising: None) -> None:
    answer(7)
    ask()
    with pytest.raises(ESIBucketLimitException):
        ask()
    budgets._forget_local_state()
    caches["default"].delete_many([AVAIL, SEEN])  # what the counter's timeout does after 60 s
    clock.now += 61
    answer(7)  # a process whose last answer is from now still says 7: the seed trusts it
    caches["default"].delete_many([AVAIL, SEEN])
    budgets._buckets[KEY].updated_at -= 61  # but one older than a window: a full bucket
    assert ask() is not None
    assert shared(AVAIL) == 100 - 5 - 2 - 2  # one claim of the earlier process is still in flight


@pytest.mark.parametrize(
    ("key", "value"),
    [(AVAIL, "many"), (AVAIL, [1]), (INFLIGHT, "x"), (SEEN, "yesterday"), (SEEN, (1, "x")), (budgets._PACED_KEY, ["g"])],
)
def test_foreign_values_in_the_shared_keys_never_break_a_call(clock: Clock, key: str, value: Any) -> None:
    answer(20)
    caches["default"].set(key, value)
    claim = ask()
    answer(18, claim)
    budgets._forget_local_state()
    budgets.after_response(status=200, headers=rate(16), group="g", character_id=None, operation="get_op")
    ask()


def test_a_broken_cache_sends_unpaced(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    answer(20)
    guard.reset()
    backend = type(caches["default"])

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache down")

    for name in ("decr", "incr", "get", "get_many", "add", "set", "set_many", "touch", "delete"):
        monkeypatch.setattr(backend, name, broken)
    assert ask() is None  # the call goes on, unpaced
    answer(18)
    assert [r for r in caplog.records if r.levelname == "WARNING" and r.exc_info]
    monkeypatch.undo()
    caplog.clear()


# --------------------------------------------------------------------------- fan-out and tasks


def test_page_fan_out_is_bounded_by_what_the_bucket_pays_for(clock: Clock) -> None:
    answer(90)
    assert budgets.page_window(group="g", character_id=None, operation="get_op", wanted=8) == 8
    answer(15)  # paced: (15 - 5) / 2 = 5 pages
    assert budgets.page_window(group="g", character_id=None, operation="get_op", wanted=8) == 5
    answer(5)
    assert budgets.page_window(group="g", character_id=None, operation="get_op", wanted=8) == 1
    assert budgets.page_window(group=None, character_id=None, operation=None, wanted=8) == 8


def test_inside_a_django_q_task_a_long_wait_raises(clock: Clock, settings: Any) -> None:
    settings.ESI_TASK_MAX_WAIT = 10
    answer(0)  # blocks until our spends come back: a full window (60 s) without any
    context = contextvars.copy_context()
    context.run(task_engines._on_pre_execute, None, task={"func": "app.tasks.sync", "args": ()})
    with pytest.raises(ESIBucketLimitException) as caught:
        context.run(ask)
    assert caught.value.reset == pytest.approx(60)
    assert clock.sleeps == []
    # Outside the task the same wait is within ESI_RATE_LIMIT_MAX_WAIT: it waits.
    ask()
    assert clock.sleeps and clock.sleeps[0] >= 60


def test_inside_a_task_a_short_wait_still_waits(clock: Clock, settings: Any) -> None:
    settings.ESI_TASK_MAX_WAIT = 10
    budgets.after_response(
        status=429, headers={"Retry-After": "3"}, group="g", character_id=None, operation="get_op"
    )
    context = contextvars.copy_context()
    context.run(task_engines._on_pre_execute, None, task={"func": "app.tasks.sync"})
    context.run(ask)
    assert clock.sleeps and 3 <= clock.sleeps[0] <= 4


def test_the_task_cap_applies_to_the_error_limit_too(clock: Clock, settings: Any) -> None:
    settings.ESI_TASK_MAX_WAIT = 5
    budgets.after_response(
        status=420, headers={"X-ESI-Error-Limit-Reset": "30"}, group=None, character_id=None, operation="x"
    )
    context = contextvars.copy_context()
    context.run(task_engines._on_pre_execute, None, task={"func": "app.tasks.sync"})
    with pytest.raises(ESIErrorLimitException):
        context.run(ask)


def test_in_task_knows_celery_workers_and_direct_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    assert budgets.in_task() is False

    class Request:
        called_directly = False

    class Task:
        request = Request()

    fake_celery = type(sys)("celery")
    fake_celery.current_task = Task()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "celery", fake_celery)
    assert budgets.in_task() is True
    Request.called_directly = True
    assert budgets.in_task() is False
    fake_celery.current_task = None  # type: ignore[attr-defined]
    assert budgets.in_task() is False


# --------------------------------------------------------------------------- over real HTTP


def _hammer(client: Any, threads: int, seconds: float) -> dict[str, int]:
    counts = {"ok": 0, "raised": 0}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def work() -> None:
        while time.monotonic() < stop:
            try:
                client.Incursions.GetIncursions().result(use_cache=False)
                outcome = "ok"
            except ESIBucketLimitException:
                outcome = "raised"
            with lock:
                counts[outcome] += 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return counts


def test_threads_draining_a_small_bucket_draw_no_429(settings: Any) -> None:
    # A 20-token bucket is under ESI_RATE_LIMIT_PACE_TOKENS (the default, 100, again here):
    # paced from the first answer on.
    settings.ESI_RATE_LIMIT_PACE_TOKENS = 100
    # A margin of 4 tokens, not the default 2 (one request): on a loaded test machine the
    # emulator's threads count concurrent requests in an order of their own (it admits a
    # request, then charges it when it answers), which can take one request more.
    settings.ESI_RATE_LIMIT_RESERVE = 0.2
    with Emulator(rate_limit="20/3s") as emulator:
        settings.ESI_API_URL = emulator.url
        settings.ESI_SSO_BASE_URL = emulator.url
        client = EsiClientProvider().client
        counts = _hammer(client, threads=6, seconds=4)
        statuses = [r.status for r in emulator.requests if r.kind == "esi"]
    assert statuses.count(429) == 0
    # 10 answers per window of 3 s (20 tokens), less the reserve: pacing still gets through.
    assert statuses.count(200) >= 10
    assert counts["ok"] == statuses.count(200)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a cache shared by processes)")
def test_processes_draining_a_small_bucket_draw_no_429() -> None:
    """Three real processes of a site (budgets in the test run's Redis database) with two
    threads each, on one bucket of 30 tokens per 3 s."""
    with Emulator(rate_limit="30/3s") as emulator:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "PACING_EMULATOR_URL": emulator.url,
        }
        code = (
            "import os, sys, json, time, django\n"
            "django.setup()\n"
            "from django.conf import settings\n"
            "settings.ESI_API_URL = settings.ESI_SSO_BASE_URL = os.environ['PACING_EMULATOR_URL']\n"
            "settings.ESI_RATE_LIMIT_RESERVE = 0.2  # 6 tokens (see the threads test)\n"
            "from esi.clients import EsiClientProvider\n"
            "from tests.http.test_pacing import _hammer\n"
            "client = EsiClientProvider().client\n"
            "start = float(sys.argv[1])\n"
            "time.sleep(max(0.0, start - time.time()))\n"
            "print(json.dumps(_hammer(client, threads=2, seconds=5)))\n"
        )
        start = time.time() + 6
        processes = [
            subprocess.Popen([sys.executable, "-c", code, str(start)], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        outputs = [process.communicate(timeout=120)[0] for process in processes]
        assert [process.returncode for process in processes] == [0, 0, 0]
        statuses = [r.status for r in emulator.requests if r.kind == "esi"]
    counts = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    assert statuses.count(429) == 0, [i for i, status in enumerate(statuses) if status == 429]
    assert sum(c["ok"] for c in counts) == statuses.count(200)
    # 15 answers per window of 3 s (30 tokens), less the reserve: pacing still gets through.
    assert statuses.count(200) >= 20
