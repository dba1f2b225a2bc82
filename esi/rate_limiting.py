"""django-esi 10's rate-limit helpers, for apps that import ``esi.rate_limiting``.

Two kinds of limit, as in django-esi 10.0.0:

- :class:`ESIRateLimitBucket`: a client-side budget for ESI routes whose limits ESI does not
  announce in headers (``MARKET_DATA_HISTORY``: 300 calls per 60 s per site), spent by
  ``esi.decorators.esi_rate_limiter_bucketed``. :data:`ESIRateLimits` keeps the remaining
  calls of each bucket in the Django cache the ESI budgets use
  (``ESI_BUDGET_CACHE_ALIAS``), shared by every process of the site.
- :class:`TaskRateLimitBucket`: at most ``limit`` runs of a task per ``window`` (one run per
  ``window / limit`` seconds), for ``esi.decorators.rate_limited_task``. :data:`TaskRateLimits`
  keeps the time of the next allowed run in the same cache.

The ESI rate-limit groups and the error limit that ESI announces in its headers are tracked
by the client itself (:mod:`esi.http.budgets`); ``esi.decorators.wait_for_esi_errorlimit_reset``
reads that.

Unlike django-esi 10, which needs django-redis (``cache.ttl``, ``cache.set(nx=...)``,
``cache.lock``), this works on any Django cache whose ``add`` and ``decr`` are atomic
(django-redis, memcached, locmem, database). locmem is per process.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from esi.exceptions import ESIBucketLimitException, TaskBucketLimitException

logger = logging.getLogger(__name__)

#: Seconds per unit of a rate such as ``100/15m`` (django-esi 10's units).
seconds_per_unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}

#: The clock (epoch seconds) and the way to wait; tests replace both.
_now: Callable[[], float] = time.time
_sleep: Callable[[float], None] = time.sleep


def interval_to_seconds(interval: str) -> int:
    """``"15m"`` -> 900, ``"s"`` -> 1. Raises ``ValueError`` for anything else."""
    text = str(interval).strip()
    unit = text[-1:]
    if unit not in seconds_per_unit:
        raise ValueError(f"an interval is a number and one of s, m, h, d (e.g. '15m'), not {interval!r}")
    count = text[:-1]
    if count and not count.isdigit():
        raise ValueError(f"an interval is a number and one of s, m, h, d (e.g. '15m'), not {interval!r}")
    seconds = (int(count) if count else 1) * seconds_per_unit[unit]
    if seconds <= 0:
        raise ValueError(f"an interval must be positive, not {interval!r}")
    return seconds


def _parse_rate(rate: str) -> tuple[int, int]:
    """``"100/15m"`` -> ``(100, 900)``. Raises ``ValueError`` for anything else."""
    count, sep, interval = str(rate).partition("/")
    if not sep or not count.strip().isdigit() or int(count) <= 0:
        raise ValueError(f"a rate is '<count>/<interval>' with a positive count (e.g. '100/15m'), not {rate!r}")
    return int(count), interval_to_seconds(interval)


def limit_to_rate(rate_limit: str) -> float:
    """Seconds between runs for a rate: ``"100/15m"`` -> 9.0."""
    count, seconds = _parse_rate(rate_limit)
    return seconds / count


def force_string(value: Any) -> Any:
    """django-esi 10's helper: the keys of nested dicts as strings, recursively."""
    if isinstance(value, dict):
        return {force_string(k): force_string(v) for k, v in value.items()}
    if isinstance(value, list):
        return [force_string(v) for v in value]
    return value


def kwargs_to_list(kwargs: Mapping[Any, Any]) -> list[str]:
    """``{"a": 1, "b": 2}`` -> ``["a-1", "b-2"]``, sorted by key."""
    return [f"{k}-{force_string(v)}" for k, v in sorted(kwargs.items(), key=lambda kv: str(kv[0]))]


def task_bucket_slug_key(task: Any, kwargs: Mapping[str, Any], restrict_to: Iterable[str] | None = None) -> str:
    """The bucket name of a task call: the task's name, plus ``key-value`` of the
    arguments named in ``restrict_to`` (one bucket per distinct value), joined by ``_``.
    Raises ``KeyError`` for a name in ``restrict_to`` that is not an argument."""
    keys = [str(task)]
    if restrict_to is not None:
        keys += kwargs_to_list({key: kwargs[key] for key in restrict_to})
    return "_".join(keys)


def _cache() -> Any:
    from django.core.cache import caches

    from esi import app_settings

    return caches[app_settings.ESI_BUDGET_CACHE_ALIAS]


class ESIRateLimitBucket:
    """A client-side budget: ``limit`` calls per ``window`` seconds, named ``slug``.

    ``ESIRateLimitBucket.MARKET_DATA_HISTORY`` and ``CHARACTER_CORPORATION_HISTORY`` are
    django-esi 10's two (300 calls per 60 s). Raises ``ValueError`` for a limit or window
    that is not a positive integer.
    """

    MARKET_DATA_HISTORY: ESIRateLimitBucket
    CHARACTER_CORPORATION_HISTORY: ESIRateLimitBucket

    def __init__(self, slug: str, limit: int, window: int) -> None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise ValueError(f"limit must be a positive integer, not {limit!r}")
        if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
            raise ValueError(f"window must be a positive number of seconds, not {window!r}")
        self.slug = str(slug)
        self.limit = limit
        self.window = window

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """``(slug, label)`` of the predefined buckets, for a form field."""
        return [(b.slug, b.slug.replace("_", " ").title()) for b in (cls.MARKET_DATA_HISTORY, cls.CHARACTER_CORPORATION_HISTORY)]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ESIRateLimitBucket):
            return NotImplemented
        return (self.slug, self.limit, self.window) == (other.slug, other.limit, other.window)

    def __hash__(self) -> int:
        return hash((self.slug, self.limit, self.window))

    def __str__(self) -> str:
        return f"Rate Limit: {self.slug} - {self.limit} in {self.window}Seconds"

    def __repr__(self) -> str:
        return f"ESIRateLimitBucket({self.slug!r}, {self.limit}, {self.window})"


ESIRateLimitBucket.MARKET_DATA_HISTORY = ESIRateLimitBucket("market_data_history", 300, 60)
ESIRateLimitBucket.CHARACTER_CORPORATION_HISTORY = ESIRateLimitBucket("character_corporation_history", 300, 60)


def _bucket(bucket: Any) -> ESIRateLimitBucket:
    # django-esi 10 declared the two buckets as (slug, limit, window) tuples.
    if isinstance(bucket, ESIRateLimitBucket):
        return bucket
    if isinstance(bucket, tuple) and len(bucket) == 3:
        return ESIRateLimitBucket(*bucket)
    raise TypeError(f"expected an ESIRateLimitBucket, not {type(bucket).__name__}")


class ESIRateLimiter:
    """The calls left in each :class:`ESIRateLimitBucket`'s current window, in the cache.

    A window starts with the first call after the last one ended. Every method takes the
    bucket (or django-esi 10's ``(slug, limit, window)`` tuple).
    """

    def _slug_to_key(self, slug: str) -> str:
        return f"esi:bucket:{slug}"

    def init_bucket(self, bucket: Any) -> None:
        """Start a window with ``limit`` calls unless one is running."""
        bucket = _bucket(bucket)
        cache, key = _cache(), self._slug_to_key(bucket.slug)
        reset_at = _now() + bucket.window
        # The reset time first: a window never exists without one.
        cache.add(key + ":reset", reset_at, timeout=bucket.window)
        cache.add(key, bucket.limit, timeout=bucket.window)

    def get_bucket(self, bucket: Any) -> int:
        """Calls left in the window (``1`` when no window is running, as django-esi 10)."""
        value = _cache().get(self._slug_to_key(_bucket(bucket).slug))
        return 1 if value is None else int(value)

    def get_timeout(self, bucket: Any) -> int:
        """Seconds until the window resets when the bucket is empty, else 0."""
        bucket = _bucket(bucket)
        if self.get_bucket(bucket) > 0:
            return 0
        reset_at = _cache().get(self._slug_to_key(bucket.slug) + ":reset")
        left = bucket.window if reset_at is None else float(reset_at) - _now()
        timeout = max(math.ceil(left), 0) + 1
        logger.warning("Rate limit for bucket %r exceeded: wait %s s", bucket.slug, timeout)
        return timeout

    def decr_bucket(self, bucket: Any, delta: int = 1) -> int:
        """Spend ``delta`` calls; returns what is left (a new window if none was running)."""
        bucket = _bucket(bucket)
        key = self._slug_to_key(bucket.slug)
        cache = _cache()
        try:
            return int(cache.decr(key, delta))
        except ValueError:  # the window ended meanwhile
            self.init_bucket(bucket)
            return int(cache.decr(key, delta))

    def set_bucket(self, bucket: Any, new_limit: int = 1) -> None:
        """Set the calls left to ``new_limit`` and start a new window."""
        bucket = _bucket(bucket)
        key = self._slug_to_key(bucket.slug)
        cache = _cache()
        cache.set(key + ":reset", _now() + bucket.window, timeout=bucket.window)
        cache.set(key, int(new_limit), timeout=bucket.window)

    def check_bucket(self, bucket: Any) -> None:
        """Raise :class:`~esi.exceptions.ESIBucketLimitException` (``reset`` in seconds)
        when the bucket is empty."""
        bucket = _bucket(bucket)
        self.init_bucket(bucket)
        timeout = self.get_timeout(bucket)
        if timeout > 0:
            raise ESIBucketLimitException(bucket, timeout)

    def check_decr_bucket(self, bucket: Any, raise_on_limit: bool = True) -> None:
        """Spend one call, or raise / wait for the reset when there is none left.

        With ``raise_on_limit=False`` the caller sleeps until the window resets, then
        spends its call. Raises :class:`~esi.exceptions.ESIBucketLimitException` otherwise.
        """
        bucket = _bucket(bucket)
        while True:
            try:
                self.check_bucket(bucket)
            except ESIBucketLimitException as exc:
                if raise_on_limit:
                    raise
                _sleep(float(exc.reset or bucket.window))
                continue
            if self.decr_bucket(bucket) >= 0:
                return
            # Another process took the last call between the check and the spend.
            if raise_on_limit:
                raise ESIBucketLimitException(bucket, self.get_timeout(bucket))


class TaskRateLimitBucket:
    """At most ``limit`` runs of a task per ``window`` seconds: one run per ``ttl``
    (``window / limit``) seconds. Raises ``ValueError`` for a non-positive limit or window."""

    def __init__(self, slug: str, limit: int, window: int) -> None:
        if limit <= 0 or window <= 0:
            raise ValueError(f"limit and window must be positive, not {limit!r} / {window!r}")
        self.slug = str(slug)
        self.limit = int(limit)
        self.window = window
        self.ttl = window / limit

    @classmethod
    def from_rate(cls, slug: str, rate_string: str) -> TaskRateLimitBucket:
        """A bucket for a rate such as ``"100/15m"`` or ``"10/s"``."""
        limit, window = _parse_rate(rate_string)
        return cls(slug, limit, window)

    def __str__(self) -> str:
        return f"Rate Limit: {self.slug} - {self.limit} in {self.window}Seconds"


class TaskRateLimiter:
    """When each :class:`TaskRateLimitBucket` may run next, in the cache."""

    def _slug_to_key(self, slug: str) -> str:
        return f"task:bucket:{slug}"

    def get_bucket(self, bucket: TaskRateLimitBucket) -> float:
        """Seconds until the bucket may run again (0 when it may run now)."""
        next_run = _cache().get(self._slug_to_key(bucket.slug))
        return 0.0 if next_run is None else max(float(next_run) - _now(), 0.0)

    def set_bucket(self, bucket: TaskRateLimitBucket) -> None:
        """Spend the bucket's run: the next may start ``ttl`` seconds from now."""
        _cache().set(self._slug_to_key(bucket.slug), _now() + bucket.ttl, timeout=math.ceil(bucket.ttl))

    def check_bucket(self, bucket: TaskRateLimitBucket) -> None:
        """Spend a run, or raise :class:`~esi.exceptions.TaskBucketLimitException` with
        ``reset``, the seconds until the next run may start. Atomic across processes
        (``cache.add``): two workers never both get the same run."""
        cache, key = _cache(), self._slug_to_key(bucket.slug)
        if cache.add(key, _now() + bucket.ttl, timeout=math.ceil(bucket.ttl)):
            return
        wait = self.get_bucket(bucket)
        if wait <= 0:
            # The entry outlived its time by the timeout's rounding up: drop it and race
            # for the run again, still through add.
            cache.delete(key)
            if cache.add(key, _now() + bucket.ttl, timeout=math.ceil(bucket.ttl)):
                return
            wait = self.get_bucket(bucket) or 1
        raise TaskBucketLimitException(bucket, math.ceil(wait))


#: The shared limiters, as django-esi 10 named them.
ESIRateLimits = ESIRateLimiter()
TaskRateLimits = TaskRateLimiter()
