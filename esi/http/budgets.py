"""The budget gate the ESI transport calls around every request: the error limit and the
rate-limit buckets, shared by every process of a site through the Django cache.

The transport calls :func:`before_request` before it sends anything, and
:func:`after_response` after every answer (including 304s and errors, and with status ``0``
when no answer came: a timeout or a connection error).

What ESI enforces (CCP, developers.eveonline.com/docs/services/esi/):

- **Error limit** ("Best practices: error limit"): at most 100 non-2xx/3xx answers per 60 s
  window for everything behind one IP, timeouts included; the headers
  ``X-ESI-Error-Limit-Remain`` and ``X-ESI-Error-Limit-Reset`` (seconds to the window's end)
  report it. Past the limit every route answers ``420`` until the window resets.
- **Rate limits** ("Rate limiting"): floating-window token buckets, one per rate-limit group
  and ``applicationID:characterID`` (the source IP on public routes). A 2xx costs 2 tokens,
  3xx 1, 4xx 5, 5xx 0; spent tokens come back one window after they were spent. Headers
  ``X-Ratelimit-Group``, ``X-Ratelimit-Limit`` (``150/15m``), ``X-Ratelimit-Remaining`` and
  ``X-Ratelimit-Used`` (tokens this request cost); over the limit ESI answers ``429`` with
  ``Retry-After`` in seconds. Some game-server limits answer 429 without these headers.

How the state is kept cheap (architecture decision 7: shared state lives in the Django cache,
alias ``ESI_BUDGET_CACHE_ALIAS``):

- Each process keeps a local copy; the common path (no limit near, copy fresh) touches no
  cache at all.
- :func:`before_request` reads the shared error limit and the shared map of blocked buckets
  (one ``get_many``) at most every ``ESI_BUDGET_SYNC_INTERVAL`` seconds, and on every call
  while the local copy says the error limit is near the threshold or the bucket is nearly
  empty.
- :func:`after_response` writes the error limit only when ``remain``, the window or the 420
  flag changes; a 420 or a 429 (or a bucket estimated empty) is written at once. Other bucket
  changes (``Remaining`` moves on almost every answer, but only the dashboard reads it) are
  written together, at most once per sync interval. The last change of a burst therefore
  reaches the cache with the next answer or sync after the interval.
- Read-modify-write of a shared key takes a lock made with ``cache.add`` (atomic on
  django-redis, memcached and locmem). If the lock is not free within 50 ms the update goes
  ahead without it: a lost update is corrected by the next change. Merges only ever keep
  the more cautious value (fewer errors left, a later block), so processes converge.
- locmem has no cross-process state at all: with it each process keeps its own budget.
  That is the fallback, and the reason django-redis is the production cache.
- Cache failures are logged and ignored (:func:`esi.http.stats.shared_cache`, which both
  modules use): the gate then works from local knowledge.

Pacing before the 429 (CCP asks clients to slow down as a bucket nears empty): once an
answer reports a bucket's ``Remaining`` at or below ``ESI_RATE_LIMIT_PACE_BELOW`` of its
limit or ``ESI_RATE_LIMIT_PACE_TOKENS`` tokens (the larger), the bucket is *paced* for every
process for a window (a shared map, read with the sync). Unpaced requests are counted in
flight by their own process only, except a process's first requests on a bucket, which are
counted for every process: the site's requests in flight on one bucket should cost less
than that threshold (``PACE_TOKENS`` 100: 50 requests), or a few 429s can still come at the
switch. A paced
request first claims the cost of a 2xx from a shared counter of the tokens the site may
still spend (``cache.decr``, atomic on django-redis and locmem), and waits while the claim
would take the counter below zero. The counter is

    last ``Remaining`` - reserve (``ESI_RATE_LIMIT_RESERVE`` of the limit)
    - tokens claimed by requests still in flight
    + our tokens that came back since that ``Remaining`` was read

Every paced answer sets it again from its ``Remaining`` (under the bucket's lock, by a
relative ``incr`` so that claims made meanwhile stay counted; an answer to a request sent
before the last setting answer came may only lower it); a waiting process credits the
tokens its own earlier spends gave back (they return one window after they were spent). A
process killed with a claim in flight holds those tokens until the in-flight count expires
(two minutes without a paced answer). Without answers for a whole window the counter expires
and the next claim starts from a full bucket: every token spent before has come back.
Inside a django-q2 or Celery task, waits longer than ``ESI_TASK_MAX_WAIT`` raise
(``ESIBucketLimitException`` / ``ESIErrorLimitException`` with ``reset``) instead of holding
the worker, so that the task decorators can retry later.

Test seams: ``_now`` (the clock, epoch seconds) and ``_sleep`` (how waiting is done) are
module attributes read at call time, so tests replace them to run without real waiting.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import functools
import logging
import math
import os
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from django.core.cache import BaseCache
from django.core.exceptions import ImproperlyConfigured

from esi import app_settings
from esi.errors import DjangoEsiException, ESIBucketLimitException, ESIErrorLimitException

from . import stats

logger = logging.getLogger(__name__)


#: The clock (epoch seconds) and the way to wait; tests replace both.
_now: Callable[[], float] = time.time
_sleep: Callable[[float], None] = time.sleep

#: Waits end this many seconds (uniformly drawn) after the reset: ESI rounds the reset to
#: whole seconds, and threads that wait for the same reset should not all fire at once.
_JITTER = (0.25, 1.0)
#: What a 2xx costs, the dearest answer a request can hope for (CCP, "Rate limiting").
_COST_2XX = 2
#: Token costs by status class (CCP, "Rate limiting"), used when ``X-Ratelimit-Used`` is absent.
_COSTS = {2: 2, 3: 1, 4: 5, 5: 0}
#: Without ``X-ESI-Error-Limit-Reset`` a 420 blocks for a whole error window (60 s).
_DEFAULT_420_RESET = 60.0
#: Without ``Retry-After`` a 429 blocks its bucket for this long.
_DEFAULT_RETRY_AFTER = 60.0
#: Observations of one error window differ by ESI's rounding and by latency; reset times
#: further apart than this belong to different windows (windows are 60 s long).
_SAME_WINDOW = 5.0
#: Within this many errors above the threshold, or tokens of an empty bucket, every request
#: re-reads the shared state, so that processes see each other's spending at once.
_NEAR_ERRORS = 10
_NEAR_TOKENS = 10
#: Bucket snapshots (and their index entries) stay in the cache this long after a write.
_BUCKET_TTL = 2 * 3600
#: The error-limit state stays this long after its window ended, for the dashboard.
_ERROR_TTL = 3600
#: Our own spends kept per bucket for the refill estimate (every spend costs >= 1 token).
_MAX_SPENDS = 4096
#: Header values beyond these are garbage (the error window is 60 s; a day for Retry-After).
_MAX_COUNT = 1_000_000
_MAX_ERROR_RESET = 3600.0
_MAX_RETRY_AFTER = 86400.0
_MAX_WINDOW = 7 * 86400
_LOCK_WAIT = 0.05
_LOCK_TTL = 2
#: How often idle local buckets are forgotten, and how long past their window they idle.
_PRUNE_INTERVAL = 300

_KEY = "esi:budget:"
_ERROR_KEY = _KEY + "error"
_BLOCKED_KEY = _KEY + "blocked"
_INDEX_KEY = _KEY + "buckets"
_BUCKET_KEY = _KEY + "bucket:"
_PACED_KEY = _KEY + "paced"
#: + bucket key + ":avail" (tokens left to claim), ":inflight" (claimed, unanswered),
#: ":seen" ((epoch received, epoch sent) of the answer that last set ":avail").
_PACE_KEY = _KEY + "pace:"
#: The in-flight count expires this long after the last paced answer (a killed process's
#: claims are held until then).
_INFLIGHT_TTL = 120
#: A waiting claim looks again at least this often (seconds), and at most this rarely.
_PACE_POLL = (0.05, 5.0)
#: Jitter added to a pacing wait (seconds): short, since tokens come back one by one.
_PACE_JITTER = (0.0, 0.05)

# ASCII only: ``\d`` would accept other scripts' digits, which ESI never sends.
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_LIMIT = re.compile(r"(\d{1,9})/(\d{1,6})([smhd])", re.ASCII)
_SECONDS = re.compile(r"\d{1,12}(?:\.\d{1,6})?", re.ASCII)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _setting(name: str) -> Any:
    """A setting, read at call time (defaults in ``esi.app_settings.DEFAULTS``)."""
    return getattr(app_settings, name)


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorLimitState:
    """The error limit as last reported by ESI.

    ``remain``: errors left in the window; ``reset_at``: epoch seconds at which the window
    ends; ``blocked``: a 420 was seen in this window; ``updated_at``: epoch seconds of the
    newest answer that reported it.
    """

    remain: int
    reset_at: float
    blocked: bool
    updated_at: float


@dataclasses.dataclass(frozen=True, slots=True)
class BucketState:
    """One rate-limit bucket as last reported by ESI.

    ``group`` is the rate-limit group (``operation:<name>`` for a 429 on an operation with
    no group); ``character_id`` is ``None`` for the public (per-IP) bucket. ``limit`` (tokens)
    and ``window_seconds`` come from ``X-Ratelimit-Limit`` and are ``None`` until seen;
    ``remaining`` and ``used`` (tokens the last request cost) from ``X-Ratelimit-Remaining``
    and ``X-Ratelimit-Used``. ``blocked_until`` (epoch seconds) is set by a 429 or by the
    estimate of an empty bucket's refill; ``updated_at`` is the epoch of the newest answer.
    """

    group: str
    character_id: int | None
    limit: int | None
    window_seconds: int | None
    remaining: int | None
    used: int | None
    blocked_until: float | None
    updated_at: float


class _Bucket:
    """Local, mutable state of one bucket (guarded by ``_lock``)."""

    __slots__ = (
        "group",
        "character_id",
        "limit",
        "window",
        "remaining",
        "used",
        "blocked_until",
        "updated_at",
        "spends",
        "indexed_until",
    )

    def __init__(self, group: str, character_id: int | None) -> None:
        self.group = group
        self.character_id = character_id
        self.limit: int | None = None
        self.window: int | None = None
        self.remaining: int | None = None
        self.used: int | None = None
        self.blocked_until: float | None = None
        self.updated_at = 0.0
        # (epoch, tokens) of our own spends still inside the window, oldest first.
        self.spends: deque[tuple[float, int]] = deque(maxlen=_MAX_SPENDS)
        self.indexed_until = 0.0

    def state(self) -> BucketState:
        return BucketState(
            self.group,
            self.character_id,
            self.limit,
            self.window,
            self.remaining,
            self.used,
            self.blocked_until,
            self.updated_at,
        )


# Process-local state. Mutations hold ``_lock``; before_request reads without it (single
# reads of a reference or a dict entry are atomic), which keeps the common path lock-free.
_lock = threading.Lock()
_error: ErrorLimitState | None = None
_blocked: dict[str, float] = {}  # bucket key -> epoch until which it is blocked
_buckets: dict[str, _Bucket] = {}
_near: set[str] = set()  # bucket keys whose last known Remaining is low
_dirty: set[str] = set()  # bucket keys changed since they were last written
_op_groups: dict[str, str] = {}  # operation -> group ESI reported for it
_paced: dict[str, float] = {}  # bucket key -> epoch until which it is paced
_credited: dict[str, float] = {}  # bucket key -> newest return epoch this process credited
_unclaimed: dict[str, int] = {}  # bucket key -> this process's unpaced requests in flight
_synced_at = -math.inf
_flushed_at = -math.inf
_pruned_at = -math.inf


# --------------------------------------------------------------------------- the gate


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    """Tokens a paced request took from its bucket's shared counter (see the module's
    pacing notes): ``key`` is the bucket key, ``tokens`` what was claimed (``0`` for a
    request on a bucket that is not paced: it is counted in flight in this process only),
    ``sent_at`` the epoch of the claim. Give it back to :func:`after_response` (or
    :func:`release`)."""

    key: str
    tokens: int
    sent_at: float


def before_request(
    *, group: str | None, character_id: int | None, operation: str | None = None
) -> Claim | None:
    """Wait, or raise, while the error limit or the request's rate-limit bucket is spent.

    ``group`` is the operation's ``x-rate-limit`` group from the spec (``None`` if it has
    none); ``character_id`` the token's character for authenticated calls (``None``: the
    public, per-IP bucket); ``operation`` the operation id, which lets the gate use the
    group ESI reported for the operation when the spec names none or another, and honour a
    429 on an operation without a group.

    The error limit stops every request while a 420 was seen in the current window, or
    while ``remain`` is at or below ``ESI_ERROR_LIMIT_THRESHOLD``. A bucket stops its
    requests while a 429 blocks it (``Retry-After``), or while its last ``Remaining`` is
    below the cost of a 2xx and its tokens are estimated to come back later (see
    :func:`after_response`). A paced bucket (nearly empty, see the module's notes) also
    waits until the site has the tokens of a 2xx to spend above the reserve, and returns
    the :class:`Claim` on them, which the caller hands to :func:`after_response` (or to
    :func:`release` if it sends nothing after all). A request on a bucket that is not
    paced is still counted in flight, so that the counter starts below what is in flight
    when the bucket becomes paced: in the shared count while this process has seen no
    answer of the bucket (its first requests), else in this process only (a claim of no
    tokens, no cache I/O). A request without a bucket gets ``None``.

    With ``ESI_ERROR_LIMIT_BEHAVIOUR`` / ``ESI_RATE_LIMIT_BEHAVIOUR`` ``"wait"`` (default) it
    sleeps until the reset plus 0.25-1 s of jitter; a wait beyond
    ``ESI_ERROR_LIMIT_MAX_WAIT`` / ``ESI_RATE_LIMIT_MAX_WAIT`` seconds (in total for this
    call) raises instead; inside a django-q2 or Celery task the cap is at most
    ``ESI_TASK_MAX_WAIT``.

    Raises:
        ESIErrorLimitException: the error limit is spent; ``reset`` is the seconds left.
        ESIBucketLimitException: the bucket is spent; ``bucket`` is ``"<group>:<character
            id or public>"``, ``reset`` the seconds left.
        ImproperlyConfigured: a behaviour setting is neither ``"wait"`` nor ``"raise"``.
    """
    name = (
        (_op_groups.get(operation) if operation else None)
        or group
        or (f"operation:{operation}" if operation else None)
    )
    key = None if name is None else _bucket_key(name, character_id)
    waited_error = waited_bucket = 0.0
    while True:
        now = _now()
        error = _live_error(now)
        threshold = _setting("ESI_ERROR_LIMIT_THRESHOLD") if error is not None else 0
        if (
            now - _synced_at >= _setting("ESI_BUDGET_SYNC_INTERVAL")
            or (error is not None and (error.blocked or error.remain <= threshold + _NEAR_ERRORS))
            or key in _near
        ):
            _sync(now)
            error = _live_error(now)
            threshold = _setting("ESI_ERROR_LIMIT_THRESHOLD")
        if error is not None and (error.blocked or error.remain <= threshold):
            waited_error += _hold(
                "ESI_ERROR_LIMIT_BEHAVIOUR",
                "ESI_ERROR_LIMIT_MAX_WAIT",
                error.reset_at - now,
                waited_error,
                ESIErrorLimitException,
            )
            continue
        if key is None or name is None:
            return None
        until = _blocked.get(key)
        if until is not None and until > now:
            waited_bucket += _hold(
                "ESI_RATE_LIMIT_BEHAVIOUR",
                "ESI_RATE_LIMIT_MAX_WAIT",
                until - now,
                waited_bucket,
                functools.partial(ESIBucketLimitException, key),
            )
            continue
        if _paced.get(key, -math.inf) <= now:
            bucket = _buckets.get(key)
            if bucket is None or bucket.limit is None:
                # Nothing known yet (the first requests of this process): counted in flight
                # for every process, since they may be what empties a small bucket.
                registered = _register(key, now)
                if registered is _PACED_ELSEWHERE:
                    # Another process paces it and its tokens are claimed: claim like it.
                    with _lock:
                        _paced[key] = max(_paced.get(key, -math.inf), now + _DEFAULT_RETRY_AFTER)
                    continue
                if isinstance(registered, Claim):
                    return registered
            with _lock:
                _unclaimed[key] = _unclaimed.get(key, 0) + 1
            return Claim(key, 0, now)
        claim, wait = _claim(key, name, character_id, now)
        if claim is not None or wait <= 0:
            return claim
        waited_bucket += _hold(
            "ESI_RATE_LIMIT_BEHAVIOUR",
            "ESI_RATE_LIMIT_MAX_WAIT",
            wait,
            waited_bucket,
            functools.partial(ESIBucketLimitException, key),
            jitter=_PACE_JITTER,
        )


def _live_error(now: float) -> ErrorLimitState | None:
    """The local error limit, if its window has not ended (an ended window gates nothing)."""
    error = _error
    return error if error is not None and error.reset_at > now else None


def _hold(
    behaviour_name: str,
    max_wait_name: str,
    left: float,
    waited: float,
    error: Callable[[float], DjangoEsiException],
    jitter: tuple[float, float] = _JITTER,
) -> float:
    """Sleep until ``left`` seconds have passed (plus ``jitter``) and return the time slept,
    or raise ``error(left)`` (``left`` is the exception's ``reset``) when the behaviour is
    ``"raise"`` or the wait would take this call's waiting past the cap (``max_wait_name``,
    or ``ESI_TASK_MAX_WAIT`` if lower while a task runs: see :func:`in_task`)."""
    behaviour = _setting(behaviour_name)
    if behaviour not in ("wait", "raise"):
        raise ImproperlyConfigured(f'{behaviour_name} must be "wait" or "raise", not {behaviour!r}')
    cap = float(_setting(max_wait_name))
    task_cap = _setting("ESI_TASK_MAX_WAIT")
    if task_cap is not None and task_cap < cap and in_task():
        cap = float(task_cap)
    if behaviour == "raise" or waited + left > cap:
        raise error(left)
    pause = min(left + random.uniform(*jitter), cap - waited)
    logger.info("ESI budget spent (%s): waiting %.1f s", behaviour_name, pause)
    _sleep(pause)
    return pause


def after_response(
    *,
    status: int,
    headers: Mapping[str, str],
    group: str | None,
    character_id: int | None,
    operation: str,
    claim: Claim | None = None,
) -> None:
    """Record what an ESI answer says about the error limit and the rate-limit bucket.

    ``status`` is the HTTP status, or ``0`` when no answer came (timeout, connection error:
    ESI counts those against the error limit, so the local ``remain`` drops by one).
    ``headers`` is any mapping; names are matched case-insensitively. ``group``,
    ``character_id`` and ``operation`` are those given to :func:`before_request`, ``claim``
    what it returned: its tokens stop counting as in flight.

    Read: ``X-ESI-Error-Limit-Remain`` / ``-Reset`` (seconds to the window's end); a 420
    blocks every request until that reset, or for 60 s without it. ``X-Ratelimit-Group``,
    ``-Limit`` (``<tokens>/<n><s|m|h|d>``), ``-Remaining``, ``-Used``; a 429 blocks the
    bucket for ``Retry-After`` seconds (an HTTP date is accepted too), or 60 s without it.

    Refill estimate: when ``Remaining`` drops below 2 (the cost of a 2xx), the bucket is
    blocked until enough tokens come back. Tokens spent at ``t`` come back at
    ``t + window``. This process knows only its own spends (``X-Ratelimit-Used``, or the
    cost of the status), so it takes the time at which its own oldest spends in the window
    add up to the missing tokens; anyone else's spends only return tokens sooner, so the
    estimate is never early. Without enough own spends it assumes the worst: one full
    window from now.

    Never raises for bad input: a malformed, negative, non-finite or absurdly large header
    value is ignored (logged at debug level), and cache failures are logged.

    Pacing: an answer reporting ``Remaining`` at or below ``ESI_RATE_LIMIT_PACE_BELOW`` of
    the limit (or ``ESI_RATE_LIMIT_PACE_TOKENS``) paces the bucket (for every process); an
    answer on a paced bucket sets the shared counter of tokens left to claim from its
    ``Remaining``.

    Also feeds :mod:`esi.http.stats`: the error-limit timeline and the 420/429 events.
    """
    now = _now()
    lowered = {str(name).lower(): value for name, value in headers.items()}
    _observe_error_limit(status, lowered, now, group, character_id, operation)
    if claim is not None and not claim.tokens:
        _unclaim(claim)
        claim = None
    paced = _observe_rate_limit(status, lowered, now, group, character_id, operation)
    if paced is not None or claim is not None:
        _settle(paced, claim, now)


def _observe_error_limit(
    status: int,
    headers: dict[str, Any],
    now: float,
    group: str | None,
    character_id: int | None,
    operation: str,
) -> None:
    global _error
    remain = _count(headers, "x-esi-error-limit-remain")
    reset = _seconds(headers, "x-esi-error-limit-reset", _MAX_ERROR_RESET)
    seen: ErrorLimitState | None = None
    if status == 420:
        reset = _DEFAULT_420_RESET if reset is None else reset
        seen = ErrorLimitState(0, now + reset, True, now)
        logger.warning("ESI error limit exceeded (420 on %s): blocked for %.0f s", operation, reset)
        stats.record_event(
            status=420,
            operation=operation,
            group=group,
            character_id=character_id,
            retry_after=reset,
            at=now,
        )
    elif remain is not None and reset is not None:
        seen = ErrorLimitState(remain, now + reset, False, now)
    if seen is not None:
        stats.record_error_limit(seen.remain, at=now)
    with _lock:
        before = _error
        if seen is None and status == 0 and before is not None and before.reset_at > now:
            seen = ErrorLimitState(max(0, before.remain - 1), before.reset_at, before.blocked, now)
        if seen is None:
            return
        _error = _merge(before, seen)
        changed = _differs(before, _error)
    if changed:
        _publish_error()


def _observe_rate_limit(
    status: int,
    headers: dict[str, Any],
    now: float,
    group: str | None,
    character_id: int | None,
    operation: str,
) -> tuple[str, int, int, int] | None:
    """Update the local bucket (and the shared state when due); returns ``(bucket key,
    remaining, limit, window)`` when the answer reported a bucket that is (now) paced."""
    global _flushed_at
    header_group = _group(headers)
    limit = _limit(headers)
    remaining = _count(headers, "x-ratelimit-remaining")
    used = _count(headers, "x-ratelimit-used")
    if status != 429 and (header_group, limit, remaining, used) == (None, None, None, None):
        return None
    # The same order as before_request: what ESI said, the spec, then the operation itself.
    name = (
        header_group
        or (_op_groups.get(operation) if operation else None)
        or group
        or (f"operation:{operation}" if operation else None)
    )
    retry_after = _retry_after(headers, now) if status == 429 else None
    if status == 429:
        logger.warning(
            "ESI rate limit hit (429 on %s, group %s, character %s): retry after %s s",
            operation,
            name,
            character_id,
            retry_after,
        )
        stats.record_event(
            status=429,
            operation=operation,
            group=name,
            character_id=character_id,
            retry_after=retry_after,
            at=now,
        )
    if name is None:
        return None
    key = _bucket_key(name, character_id)
    blocked: dict[str, float] = {}
    paced: dict[str, float] = {}
    settle: tuple[str, int, int, int] | None = None
    with _lock:
        if header_group is not None and operation:
            _op_groups[operation] = header_group
        bucket = _buckets.get(key)
        if bucket is None:
            bucket = _buckets[key] = _Bucket(name, character_id)
        if limit is not None:
            bucket.limit, bucket.window = limit
        if remaining is not None:
            bucket.remaining = remaining
        if used is not None:
            bucket.used = used
        bucket.updated_at = now
        spent = used if used is not None else _COSTS.get(status // 100, 0)
        if spent and status != 429:
            bucket.spends.append((now, spent))
        until = None
        if status == 429:
            until = now + (_DEFAULT_RETRY_AFTER if retry_after is None else retry_after)
        elif bucket.window is not None:
            while bucket.spends and bucket.spends[0][0] <= now - bucket.window:
                bucket.spends.popleft()
            if remaining is not None and remaining < _COST_2XX:
                until = _tokens_back_at(bucket.spends, _COST_2XX - remaining, bucket.window, now)
        if until is not None and until > _blocked.get(key, -math.inf):
            bucket.blocked_until = _blocked[key] = blocked[key] = until
        if bucket.remaining is not None and bucket.remaining <= _NEAR_TOKENS:
            _near.add(key)
        else:
            _near.discard(key)
        if status != 429 and remaining is not None and bucket.limit is not None and bucket.window is not None:
            if remaining <= _pace_threshold(bucket.limit):
                # Paced for a window (its tokens may not come back sooner); published when
                # new, and again once half of the period is gone.
                paced_for = float(bucket.window)
                if _paced.get(key, -math.inf) < now + paced_for / 2:
                    paced[key] = now + paced_for
                _paced[key] = max(_paced.get(key, -math.inf), now + paced_for)
            if _paced.get(key, -math.inf) > now:
                settle = (key, remaining, bucket.limit, bucket.window)
        _dirty.add(key)
        if not blocked and not paced and now - _flushed_at < _setting("ESI_BUDGET_SYNC_INTERVAL"):
            return settle
        _flushed_at = now
        snapshots = {k: _buckets[k].state() for k in _dirty}
        _dirty.clear()
        unindexed = [k for k in snapshots if _buckets[k].indexed_until < now + _BUCKET_TTL / 2]
    _write_buckets(snapshots, unindexed, blocked, now, paced)
    return settle


def _tokens_back_at(
    spends: deque[tuple[float, int]], needed: int, window: int, now: float
) -> float:
    """When our own ``spends`` in the window give back ``needed`` tokens (the estimate
    described in :func:`after_response`), or a full window from now."""
    returned = 0
    for at, tokens in spends:
        returned += tokens
        if returned >= needed:
            return at + window
    return now + window


def _bucket_key(group: str, character_id: int | None) -> str:
    return f"{group}:{'public' if character_id is None else character_id}"


# --------------------------------------------------------------------------- pacing


def _pace_threshold(limit: int) -> float:
    """``Remaining`` at or below which a bucket of ``limit`` tokens is paced: the larger of
    ``ESI_RATE_LIMIT_PACE_BELOW`` of the limit and ``ESI_RATE_LIMIT_PACE_TOKENS`` tokens
    (``-1``, nothing, when both are 0: pacing is off)."""
    below, tokens = _setting("ESI_RATE_LIMIT_PACE_BELOW"), _setting("ESI_RATE_LIMIT_PACE_TOKENS")
    if not below and not tokens:
        return -1
    return max(below * limit, tokens)


def _reserve(limit: int) -> int:
    """Tokens of a bucket of ``limit`` tokens kept unspent: ``ESI_RATE_LIMIT_RESERVE`` of
    it, rounded up, and at least the cost of one 2xx unless the setting is 0 (a margin of
    less than one request would be no margin: answers can be counted by ESI in another
    order than they arrive)."""
    fraction = float(_setting("ESI_RATE_LIMIT_RESERVE"))
    return max(_COST_2XX, math.ceil(limit * fraction)) if fraction > 0 else 0


def _pace_keys(key: str) -> tuple[str, str, str]:
    base = _PACE_KEY + key
    return base + ":avail", base + ":inflight", base + ":seen"


def _local_bucket(cache: BaseCache, key: str, name: str, character_id: int | None) -> _Bucket | None:
    """This process's bucket ``key`` with its limit known, from the shared snapshot if this
    process has not seen an answer of it (another process paced it)."""
    bucket = _buckets.get(key)
    if bucket is not None and bucket.limit is not None and bucket.window is not None:
        return bucket
    state = _decode_bucket(cache.get(_BUCKET_KEY + key))
    if state is None or state.limit is None or state.window_seconds is None:
        return None
    with _lock:
        bucket = _buckets.get(key)
        if bucket is None:
            bucket = _buckets[key] = _Bucket(name, character_id)
        if bucket.limit is None or bucket.window is None:
            bucket.limit, bucket.window = state.limit, state.window_seconds
            if bucket.updated_at < state.updated_at:
                bucket.remaining, bucket.updated_at = state.remaining, state.updated_at
    return bucket


def _returned(bucket: _Bucket, after: float, now: float) -> int:
    """Tokens our own spends of ``bucket`` gave back in ``(after, now]``."""
    window = bucket.window or 0
    with _lock:
        return sum(tokens for at, tokens in bucket.spends if after < at + window <= now)


def _next_return(bucket: _Bucket, now: float) -> float | None:
    """Epoch at which the next of our own spends of ``bucket`` gives its tokens back."""
    window = bucket.window or 0
    with _lock:
        return min((at + window for at, _ in bucket.spends if at + window > now), default=None)


def _claim(key: str, name: str, character_id: int | None, now: float) -> tuple[Claim | None, float]:
    """Claim the cost of a 2xx from the paced bucket ``key``: ``(claim, 0.0)``, or ``(None,
    seconds to wait)`` when the site has no tokens to spend above the reserve (after
    crediting what our own spends gave back), or ``(None, 0.0)`` when pacing cannot work
    (limit unknown, cache failure): the request then goes as without pacing."""
    avail_key, inflight_key, seen_key = _pace_keys(key)
    with stats.shared_cache() as cache:
        bucket = _local_bucket(cache, key, name, character_id)
        if bucket is None:
            return None, 0.0
        window, limit = cast(int, bucket.window), cast(int, bucket.limit)
        taken = _take(cache, avail_key)
        if taken is None:
            _seed(cache, bucket, key, now)
            taken = _take(cache, avail_key)
            if taken is None:  # evicted at once: go unpaced this time
                return None, 0.0
        if not taken:
            with _locked(cache, avail_key) as held:
                # Unlocked, a credit could count what a concurrent answer counts: skip it.
                seen = _decode_seen(cache.get(seen_key)) if held else None
                since = max(seen[0] if seen else -math.inf, _credited.get(key, -math.inf))
                credit = _returned(bucket, since, now) if held else 0
                if credit:
                    try:
                        cache.incr(avail_key, credit)
                        _credited[key] = now
                    except (ValueError, TypeError):
                        credit = 0  # expired meanwhile: the next claim seeds it
            taken = bool(credit) and bool(_take(cache, avail_key))
        if taken:
            _count_in_flight(cache, inflight_key)
            return Claim(key, _COST_2XX, now), 0.0
        comes_back = _next_return(bucket, now)
        poll = min(max(window * _COST_2XX / limit, _PACE_POLL[0]), _PACE_POLL[1])
        return None, poll if comes_back is None else min(max(comes_back - now, _PACE_POLL[0]), poll)
    return None, 0.0


#: What :func:`_register` returns when another process paces the bucket and no tokens are left.
_PACED_ELSEWHERE = object()


def _register(key: str, now: float) -> Claim | object | None:
    """A request on a bucket this process knows nothing of: if another process paces it
    (there is a counter), claim from that counter, or return :data:`_PACED_ELSEWHERE` when
    it has no tokens left (the caller then waits like a paced request); otherwise count the
    request in flight for every process, so that the first answer's counter leaves room for
    it. ``None`` if the cache failed."""
    avail_key, inflight_key, _ = _pace_keys(key)
    with stats.shared_cache() as cache:
        # Counted first: a counter made after this sees it in flight (see _start_counter).
        _count_in_flight(cache, inflight_key)
        if _take(cache, avail_key) is False:
            _release(cache, Claim(key, _COST_2XX, now))
            return _PACED_ELSEWHERE
        return Claim(key, _COST_2XX, now)
    return None


def _start_counter(cache: BaseCache, key: str, tokens: int, inflight_read: Any, window: int) -> bool:
    """Create the counter of bucket ``key`` (if none exists) at ``tokens`` less what was in
    flight when ``inflight_read`` was read; then subtract what was counted in flight since,
    by a request that may have looked for the counter before it existed and gone without
    taking from it. Returns whether this call created it."""
    avail_key, inflight_key, _ = _pace_keys(key)
    if not cache.add(avail_key, tokens - _in_flight(inflight_read, key), timeout=window):
        return False
    later = _in_flight(cache.get(inflight_key), key) - _in_flight(inflight_read, key)
    if later > 0:
        cache.decr(avail_key, later)
    return True


def _count_in_flight(cache: BaseCache, inflight_key: str) -> None:
    try:
        cache.incr(inflight_key, _COST_2XX)
    except (ValueError, TypeError):
        if not cache.add(inflight_key, _COST_2XX, timeout=_INFLIGHT_TTL):
            cache.set(inflight_key, _COST_2XX, timeout=_INFLIGHT_TTL)  # not a number


def _take(cache: BaseCache, avail_key: str) -> bool | None:
    """Take the cost of a 2xx from the counter: ``True``, ``False`` (too few left: nothing
    taken), or ``None`` when there is no counter (a value that is not a number is dropped)."""
    try:
        left = cache.decr(avail_key, _COST_2XX)
    except ValueError:
        return None
    except TypeError:  # not a number: someone else's value
        cache.delete(avail_key)
        return None
    if left >= 0:
        return True
    try:
        cache.incr(avail_key, _COST_2XX)  # not taken after all
    except (ValueError, TypeError):
        pass  # expired meanwhile: the next claim seeds it again
    return False


def _seed(cache: BaseCache, bucket: _Bucket, key: str, now: float) -> None:
    """Start the counter of paced bucket ``key`` from this process's last ``Remaining`` of
    it (plus what our spends gave back since), or from a full bucket when that is older than
    a window; less the reserve and the tokens in flight. ``add``: a concurrent seed wins."""
    _, inflight_key, seen_key = _pace_keys(key)
    limit, window = cast(int, bucket.limit), cast(int, bucket.window)
    if bucket.remaining is not None and now - bucket.updated_at < window:
        tokens = bucket.remaining + _returned(bucket, bucket.updated_at, now)
        read_at = bucket.updated_at
    else:
        tokens, read_at = limit, now
    if _start_counter(cache, key, min(tokens, limit) - _reserve(limit), cache.get(inflight_key), window):
        # Our returns up to now are in the seed: credits start after now.
        cache.set(seen_key, (now, read_at), timeout=window)


def _settle(paced: tuple[str, int, int, int] | None, claim: Claim | None, now: float) -> None:
    """After an answer: the claim's tokens are no longer in flight, and an answer on a paced
    bucket sets its counter from ``Remaining`` (see the module's notes). An answer to a
    request sent before the answer that last set the counter came may only lower it: ESI
    may have counted that request before the other one, which is no longer in flight."""
    with stats.shared_cache() as cache:
        if claim is not None and (paced is None or paced[0] != claim.key):
            _release(cache, claim)
            claim = None
        if paced is None:
            return
        key, remaining, limit, window = paced
        avail_key, inflight_key, seen_key = _pace_keys(key)
        sent_at = claim.sent_at if claim is not None else now
        if claim is not None:
            _release(cache, claim)
        with _locked(cache, avail_key) as held:
            if not held:
                # A relative update racing another would count twice: the next answer sets
                # it. The counter still lives on: answers are coming.
                cache.touch(avail_key, window)
                return
            values = cache.get_many([avail_key, inflight_key, seen_key])
            fresh = remaining - _reserve(limit) - _in_flight(values.get(inflight_key), key)
            current = values.get(avail_key)
            seen = _decode_seen(values.get(seen_key))
            if not isinstance(current, int):
                if current is not None:
                    cache.delete(avail_key)  # not a number: someone else's value
                if not _start_counter(cache, key, remaining - _reserve(limit), values.get(inflight_key), window):
                    return  # a claim seeded it meanwhile
            elif seen is None or sent_at >= seen[0] or fresh < current:
                try:
                    if fresh != current:
                        cache.incr(avail_key, fresh - current)
                except ValueError:  # expired since the read
                    cache.add(avail_key, fresh, timeout=window)
                cache.touch(avail_key, window)
            else:
                return
            cache.set(seen_key, (now, sent_at), timeout=window)
            cache.touch(inflight_key, _INFLIGHT_TTL)


def _release(cache: BaseCache, claim: Claim) -> None:
    inflight_key = _pace_keys(claim.key)[1]
    try:
        cache.decr(inflight_key, claim.tokens)
    except (ValueError, TypeError):
        pass  # expired (or not a number): nothing is counted in flight any more


def release(claim: Claim | None) -> None:
    """Give back a claim whose request was never sent: its tokens stop counting as in
    flight (they stay spent until the next answer sets the counter again)."""
    if claim is not None and not claim.tokens:
        _unclaim(claim)
    elif claim is not None:
        with stats.shared_cache() as cache:
            _release(cache, claim)


def _unclaim(claim: Claim) -> None:
    with _lock:
        left = _unclaimed.get(claim.key, 0) - 1
        if left > 0:
            _unclaimed[claim.key] = left
        else:
            _unclaimed.pop(claim.key, None)


def _in_flight(shared: Any, key: str) -> int:
    """Tokens in flight on bucket ``key``: the shared count of claims (``shared``, as read
    from the cache) and this process's unpaced requests, each at the cost of a 2xx."""
    claimed = shared if isinstance(shared, int) and shared > 0 else 0
    return claimed + _COST_2XX * _unclaimed.get(key, 0)


def _decode_seen(value: Any) -> tuple[float, float] | None:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return float(value[0]), float(value[1])
    return None


def page_window(*, group: str | None, character_id: int | None, operation: str | None, wanted: int) -> int:
    """How many pages of ``operation`` to have in flight at once: ``wanted`` (the
    ``ESI_PAGE_CONCURRENCY``), but no more than the 2xx answers the bucket's last known
    ``Remaining`` pays for above the reserve while it is paced (at least 1): a small bucket
    is not emptied by one fan-out. Local knowledge only; no cache I/O."""
    name = (_op_groups.get(operation) if operation else None) or group
    if name is None:
        return wanted
    key = _bucket_key(name, character_id)
    bucket = _buckets.get(key)
    if _paced.get(key, -math.inf) <= _now() or bucket is None or bucket.remaining is None or bucket.limit is None:
        return wanted
    return max(1, min(wanted, (bucket.remaining - _reserve(bucket.limit)) // _COST_2XX))


def in_task() -> bool:
    """Whether this thread runs a django-q2 task or a Celery task in a worker (not a task
    object called directly). Never imports Celery."""
    from esi import task_engines

    if task_engines.current_django_q_task() is not None:
        return True
    celery = sys.modules.get("celery")
    current = getattr(celery, "current_task", None) if celery is not None else None
    if not current:
        return False
    request = getattr(current, "request", None)
    return request is not None and not getattr(request, "called_directly", True)


# --------------------------------------------------------------------------- merging


def _merge(a: ErrorLimitState | None, b: ErrorLimitState | None) -> ErrorLimitState | None:
    """Combine two reports: the later window wins; in one window, the fewest errors left."""
    if a is None or b is None:
        return a or b
    if abs(a.reset_at - b.reset_at) > _SAME_WINDOW:
        return a if a.reset_at > b.reset_at else b
    return ErrorLimitState(
        min(a.remain, b.remain),
        max(a.reset_at, b.reset_at),
        a.blocked or b.blocked,
        max(a.updated_at, b.updated_at),
    )


def _differs(a: ErrorLimitState | None, b: ErrorLimitState | None) -> bool:
    """Whether ``b`` says something ``a`` does not: other remain, window or 420 flag."""
    if a is None or b is None:
        return a is not b
    return (
        a.remain != b.remain
        or a.blocked != b.blocked
        or abs(a.reset_at - b.reset_at) > _SAME_WINDOW
    )


def _decode_error(value: Any) -> ErrorLimitState | None:
    """A shared error-limit record, or ``None`` for anything else (absent, other version)."""
    try:
        remain, reset_at, blocked, updated_at = value
        return ErrorLimitState(int(remain), float(reset_at), bool(blocked), float(updated_at))
    except (TypeError, ValueError):
        return None


def _decode_bucket(value: Any) -> BucketState | None:
    """A shared bucket snapshot, or ``None`` for anything else."""
    if isinstance(value, tuple) and len(value) == len(dataclasses.fields(BucketState)):
        return BucketState(*value)
    return None


# --------------------------------------------------------------------------- the shared cache


@contextmanager
def _locked(cache: BaseCache, name: str) -> Iterator[bool]:
    """Hold the cross-process lock of key ``name``, made with ``cache.add`` (atomic in
    django-redis, memcached and locmem). After 50 ms of waiting the block runs without it;
    it gets whether the lock is held."""
    lock = name + ":lock"
    deadline = time.monotonic() + _LOCK_WAIT
    held = cache.add(lock, 1, timeout=_LOCK_TTL)
    while not held and time.monotonic() < deadline:
        # A real sleep, not _sleep: tests replace _sleep to observe budget waits only.
        time.sleep(0.002)
        held = cache.add(lock, 1, timeout=_LOCK_TTL)
    if not held:
        logger.debug("ESI budgets: %s busy, updating without it", lock)
    try:
        yield bool(held)
    finally:
        if held:
            cache.delete(lock)


def _sync(now: float) -> None:
    """Merge the shared error limit and blocked buckets into the local copy."""
    global _synced_at, _error
    _synced_at = now
    with stats.shared_cache() as cache:
        values = cache.get_many([_ERROR_KEY, _BLOCKED_KEY, _PACED_KEY])
        shared_error = _decode_error(values.get(_ERROR_KEY))
        with _lock:
            _error = _merge(_error, shared_error)
            for local, shared in ((_blocked, values.get(_BLOCKED_KEY)), (_paced, values.get(_PACED_KEY))):
                if isinstance(shared, dict):
                    for key, until in shared.items():
                        if isinstance(until, (int, float)) and until > local.get(key, -math.inf):
                            local[key] = until
                for key in [key for key, until in local.items() if until <= now]:
                    del local[key]
    if now - _pruned_at >= _PRUNE_INTERVAL:
        _prune(now)


def _prune(now: float) -> None:
    """Forget local buckets idle for a whole window: all their tokens are back, so they no
    longer gate anything (sites with many characters would otherwise grow without end)."""
    global _pruned_at
    with _lock:
        _pruned_at = now
        for key in [
            key
            for key, bucket in _buckets.items()
            if now - bucket.updated_at > (bucket.window or 0) + _PRUNE_INTERVAL
            and key not in _dirty
            and key not in _blocked
        ]:
            del _buckets[key]
            _near.discard(key)


def _publish_error() -> None:
    """Merge the local error limit into the shared one (and learn what others saw)."""
    global _error
    with stats.shared_cache() as cache, _locked(cache, _ERROR_KEY):
        shared = _decode_error(cache.get(_ERROR_KEY))
        with _lock:
            _error = merged = _merge(_error, shared)
        if merged is not None:
            timeout = max(1, math.ceil(merged.reset_at - _now())) + _ERROR_TTL
            cache.set(_ERROR_KEY, dataclasses.astuple(merged), timeout=timeout)


def _write_buckets(
    snapshots: dict[str, BucketState],
    unindexed: list[str],
    blocked: dict[str, float],
    now: float,
    paced: dict[str, float] | None = None,
) -> None:
    """Write bucket snapshots; add blocks to the shared blocked map, paced buckets to the
    paced map, and new buckets to the index that :func:`rate_limits` reads."""
    with stats.shared_cache() as cache:
        cache.set_many(
            {_BUCKET_KEY + key: dataclasses.astuple(state) for key, state in snapshots.items()},
            timeout=_BUCKET_TTL,
        )
        if blocked:
            _update_map(cache, _BLOCKED_KEY, blocked, now)
        if paced:
            _update_map(cache, _PACED_KEY, paced, now)
        if unindexed:
            _update_map(cache, _INDEX_KEY, dict.fromkeys(unindexed, now + _BUCKET_TTL), now)
            with _lock:
                for key in unindexed:
                    _buckets[key].indexed_until = now + _BUCKET_TTL


def _update_map(cache: BaseCache, name: str, entries: dict[str, float], now: float) -> None:
    """Merge ``{key: expiry epoch}`` into the shared map ``name``: later expiry wins, expired
    entries are dropped, and the key lives as long as its last entry."""
    with _locked(cache, name):
        current = cache.get(name)
        merged = {
            key: until
            for key, until in (current if isinstance(current, dict) else {}).items()
            if until > now
        }
        for key, until in entries.items():
            if until > merged.get(key, -math.inf):
                merged[key] = until
        if merged:
            cache.set(name, merged, timeout=max(1, math.ceil(max(merged.values()) - now)))


# --------------------------------------------------------------------------- readers


def error_limit() -> ErrorLimitState | None:
    """The error limit as every process sees it (shared state merged with this process's),
    or ``None`` if no answer has reported it yet (or its record expired, an hour after the
    window). Reads the cache: meant for the dashboard, not for the request path."""
    with stats.shared_cache() as cache:
        return _merge(_error, _decode_error(cache.get(_ERROR_KEY)))
    return _error


def error_limit_wait() -> float:
    """Seconds until the error limit lets requests through again: ``0.0`` unless a 420 was
    seen in the current window or ``remain`` is at or below ``ESI_ERROR_LIMIT_THRESHOLD``,
    as :func:`before_request` decides, from the state every process shares."""
    state = error_limit()
    now = _now()
    if state is None or state.reset_at <= now:
        return 0.0
    if state.blocked or state.remain <= _setting("ESI_ERROR_LIMIT_THRESHOLD"):
        return state.reset_at - now
    return 0.0


def rate_limits() -> list[BucketState]:
    """Every bucket seen by any process in the last two hours, sorted by group, the public
    bucket before per-character ones. Reads the cache: meant for the dashboard."""
    found: dict[str, BucketState] = {}
    blocked: dict[str, float] = {}
    with stats.shared_cache() as cache:
        index = cache.get(_INDEX_KEY)
        keys = list(index) if isinstance(index, dict) else []
        values = cache.get_many([_BLOCKED_KEY, *(_BUCKET_KEY + key for key in keys)])
        shared_blocked = values.pop(_BLOCKED_KEY, None)
        if isinstance(shared_blocked, dict):
            blocked.update(shared_blocked)
        for value in values.values():
            state = _decode_bucket(value)
            if state is not None:
                found[_bucket_key(state.group, state.character_id)] = state
    with _lock:
        for key, bucket in _buckets.items():
            if key not in found or bucket.updated_at >= found[key].updated_at:
                found[key] = bucket.state()
        for key, until in _blocked.items():
            blocked[key] = max(until, blocked.get(key, -math.inf))
    states = [
        dataclasses.replace(state, blocked_until=blocked[key])
        if blocked.get(key, -math.inf) > (state.blocked_until or -math.inf)
        else state
        for key, state in found.items()
    ]
    return sorted(states, key=lambda s: (s.group, s.character_id is not None, s.character_id or 0))


def reset() -> None:
    """Forget every budget: the shared state (error limit, blocked map, indexed buckets) and
    this process's copy. For tests and the admin. Other processes keep what they know
    locally: their blocks and error window still run out on their own."""
    with stats.shared_cache() as cache:
        index = cache.get(_INDEX_KEY)
        keys = set(index) if isinstance(index, dict) else set()
        keys.update(_buckets)
        cache.delete_many(
            [
                _ERROR_KEY,
                _BLOCKED_KEY,
                _INDEX_KEY,
                _PACED_KEY,
                *(_BUCKET_KEY + k for k in keys),
                *(_PACE_KEY + k + suffix for k in keys for suffix in (":avail", ":inflight", ":seen")),
            ]
        )
    _forget_local_state()


def _forget_local_state() -> None:
    """Drop this process's copy (as a freshly started process has none)."""
    global _error, _synced_at, _flushed_at, _pruned_at
    with _lock:
        _error = None
        _blocked.clear()
        _buckets.clear()
        _near.clear()
        _dirty.clear()
        _op_groups.clear()
        _paced.clear()
        _credited.clear()
        _unclaimed.clear()
        _synced_at = _flushed_at = _pruned_at = -math.inf


# --------------------------------------------------------------------------- header parsing


def _count(headers: dict[str, Any], name: str) -> int | None:
    """A non-negative integer header, or ``None`` (absent or malformed)."""
    value = headers.get(name)
    if value is None:
        return None
    text = str(value).strip()
    if text.isascii() and text.isdigit() and len(text) <= 9 and int(text) <= _MAX_COUNT:
        return int(text)
    logger.debug("ESI budgets: ignoring malformed %s header %r", name, value)
    return None


def _seconds(headers: dict[str, Any], name: str, ceiling: float) -> float | None:
    """A non-negative number of seconds up to ``ceiling``, or ``None``."""
    value = headers.get(name)
    if value is None:
        return None
    text = str(value).strip()
    if _SECONDS.fullmatch(text) and float(text) <= ceiling:
        return float(text)
    logger.debug("ESI budgets: ignoring malformed %s header %r", name, value)
    return None


def _retry_after(headers: dict[str, Any], now: float) -> float | None:
    """``Retry-After`` in seconds: CCP sends seconds; RFC 9110 also allows an HTTP date."""
    value = headers.get("retry-after")
    if value is None:
        return None
    text = str(value).strip()
    if _SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)  # RFC 9110 dates are GMT
        seconds = -1.0 if when is None else max(0.0, when.timestamp() - now)
    if 0 <= seconds <= _MAX_RETRY_AFTER:
        return seconds
    logger.debug("ESI budgets: ignoring malformed retry-after header %r", value)
    return None


def _group(headers: dict[str, Any]) -> str | None:
    value = headers.get("x-ratelimit-group")
    if value is None:
        return None
    text = str(value).strip()
    if _GROUP.fullmatch(text):
        return text
    logger.debug("ESI budgets: ignoring malformed x-ratelimit-group header %r", value)
    return None


def _limit(headers: dict[str, Any]) -> tuple[int, int] | None:
    """``X-Ratelimit-Limit`` as ``(tokens, window seconds)``: ``150/15m`` is ``(150, 900)``."""
    value = headers.get("x-ratelimit-limit")
    if value is None:
        return None
    found = _LIMIT.fullmatch(str(value).strip())
    if found:
        tokens, window = int(found[1]), int(found[2]) * _UNITS[found[3]]
        if 0 < tokens <= _MAX_COUNT and 0 < window <= _MAX_WINDOW:
            return tokens, window
    logger.debug("ESI budgets: ignoring malformed x-ratelimit-limit header %r", value)
    return None


def _after_fork() -> None:
    """A lock held by another thread at fork time would stay held in the child forever."""
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
