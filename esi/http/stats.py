"""What the ESI client did, counted cheaply, for the dashboard.

Recorded:

- **Counters** of every call the transport makes or saves (:func:`record_response`):
  cache hits, misses, 304s and errors, plus per-operation network calls, errors and time.
  Each process counts in memory and adds its counts to the shared cache at most every
  ``ESI_STATS_FLUSH_INTERVAL`` seconds or every 1000 calls, whichever comes first, with
  ``cache.incr`` (atomic in django-redis, memcached and locmem; the database and file
  caches fall back to get and set, which may lose counts when processes flush at once).
  There is no background thread: the call that finds a flush due does it, so a process
  that goes quiet keeps its last counts until its next call, or until it exits.
- **The error-limit timeline**: per minute, the lowest ``X-ESI-Error-Limit-Remain`` seen
  (:func:`record_error_limit`), kept ``ESI_STATS_RETENTION_HOURS`` hours and flushed with
  the counters. Two processes flushing the same minute at the same instant may keep the
  higher of their two values.
- **Recent 420 and 429 answers** (:func:`record_event`): the last 100, written at once
  into a ring of cache keys numbered by an atomic counter, so processes never overwrite
  each other's events.

:mod:`esi.http.budgets` feeds the timeline and the events. Everything lives in the cache
``ESI_BUDGET_CACHE_ALIAS`` (architecture decision 7), through :func:`shared_cache`, which
both modules use. With locmem every process has its own statistics.

Test seam: ``_now`` (the clock, epoch seconds) is read at call time.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from django.core.cache import BaseCache

from esi import app_settings

from . import guard

logger = logging.getLogger(__name__)


_now: Callable[[], float] = time.time

#: A process flushes after this many calls even before the flush interval has passed.
_FLUSH_EVERY = 1000
#: How many 420/429 events are kept.
_EVENTS_KEPT = 100
#: The categories of :func:`cache_counts`, in the order of the dict it returns.
_CATEGORIES = ("hits", "misses", "not_modified", "errors")
#: Per-operation counters: network calls, errors, and total time in milliseconds.
_OPERATION_FIELDS = ("calls", "errors", "ms")
#: Per-operation network calls by status (:func:`status_counts`): the statuses ESI answers
#: with, each counted on its own, any other by its class; ``none`` when no answer came.
_STATUSES = (200, 201, 204, 304, 400, 401, 403, 404, 420, 422, 429, 500, 502, 503, 504)
_STATUS_LABELS = (*map(str, _STATUSES), "2xx", "3xx", "4xx", "5xx", "none")

_KEY = "esi:stats:"
_COUNTER_KEY = _KEY + "count:"
_OPERATIONS_KEY = _KEY + "operations"
_OPERATION_KEY = _KEY + "operation:"
_MINUTE_KEY = _KEY + "error-limit:"
_EVENT_SEQ_KEY = _KEY + "events:seq"
_EVENT_KEY = _KEY + "event:"


def _setting(name: str) -> Any:
    """A setting, read at call time (defaults in ``esi.app_settings.DEFAULTS``)."""
    return getattr(app_settings, name)


# Process-local, unflushed state; guarded by _lock. _flush_lock is held while counts are on
# their way to the cache, so that readers never see them in neither place.
_lock = threading.Lock()
_flush_lock = threading.Lock()
_pending: Counter[str] = Counter()  # "hits", ..., or "<operation>\0<field>" -> delta
_timeline: dict[int, int] = {}  # minute epoch -> lowest remain
_calls = 0
_flushed_at: float | None = None


# --------------------------------------------------------------------------- recording


def record_response(*, status: int, operation: str, from_cache: bool, elapsed: float) -> None:
    """Count one call: ``from_cache`` for an answer served from the cache without a request
    (a hit); otherwise ``status`` is the HTTP status (304 for a revalidated entry, ``0``
    when no answer came) and ``elapsed`` the seconds the request took.

    Categories, one per call: ``hits`` (from cache), ``not_modified`` (304), ``errors``
    (status 0 or >= 400), ``misses`` (any other network answer). Network calls are also
    counted per ``operation``. Costs a dict update; every ``ESI_STATS_FLUSH_INTERVAL``
    seconds or 1000 calls, the calling thread also flushes (cache errors are logged).
    """
    global _calls, _flushed_at
    now = _now()
    error = status == 0 or status >= 400
    with _lock:
        if from_cache:
            _pending["hits"] += 1
        else:
            _pending["not_modified" if status == 304 else "errors" if error else "misses"] += 1
            _pending[f"{operation}\0calls"] += 1
            _pending[f"{operation}\0status:{_status_label(status)}"] += 1
            # A clock step can make elapsed negative (or a caller pass nan): count it as 0.
            _pending[f"{operation}\0ms"] += round(elapsed * 1000) if 0 < elapsed < math.inf else 0
            if error:
                _pending[f"{operation}\0errors"] += 1
        _calls += 1
        if _flushed_at is None:
            _flushed_at = now
        due = _calls >= _FLUSH_EVERY or now - _flushed_at >= _setting("ESI_STATS_FLUSH_INTERVAL")
    if due:
        _flush_unless_busy(now)


def record_error_limit(remain: int, *, at: float | None = None) -> None:
    """Note an ``X-ESI-Error-Limit-Remain`` value seen at epoch ``at`` (default now) for
    the timeline; flushed with the counters."""
    minute = int((_now() if at is None else at) // 60 * 60)
    with _lock:
        if remain < _timeline.get(minute, math.inf):
            _timeline[minute] = remain


def record_event(
    *,
    status: int,
    operation: str,
    group: str | None,
    character_id: int | None,
    retry_after: float | None,
    at: float | None = None,
) -> None:
    """Store a 420 or 429 answer at once (epoch ``at``, default now). ``retry_after`` is the
    seconds ESI asked to wait (``None`` when it did not say)."""
    event = {
        "time": _now() if at is None else at,
        "status": status,
        "operation": operation,
        "group": group,
        "character_id": character_id,
        "retry_after": retry_after,
    }
    with shared_cache() as cache:
        seq = _incr(cache, _EVENT_SEQ_KEY, 1)
        cache.set(_EVENT_KEY + str(seq % _EVENTS_KEPT), (seq, event), timeout=_retention())


def flush() -> None:
    """Add this process's unflushed counts and timeline to the shared cache now."""
    with _flush_lock:
        _flush(_now())


def _flush_unless_busy(now: float) -> None:
    """Flush, unless another thread is flushing: that one takes these counts, or the next
    flush does. A request thread never queues behind another's cache I/O."""
    if _flush_lock.acquire(blocking=False):
        try:
            _flush(now)
        finally:
            _flush_lock.release()


def _flush(now: float) -> None:
    """Move the unflushed state to the cache (caller holds ``_flush_lock``). Whatever could
    not be written goes back to the local state for the next flush."""
    global _pending, _timeline, _calls, _flushed_at
    with _lock:
        pending, _pending = _pending, Counter()
        timeline, _timeline = _timeline, {}
        _calls = 0
        _flushed_at = now
    with shared_cache() as cache:
        operations = {name.split("\0", 1)[0] for name in pending if "\0" in name}
        if operations:
            # Re-read every flush: a name lost to two processes writing the list at once
            # comes back with the next flush of the process that knows it.
            known = _known_operations(cache)
            if not operations <= known:
                cache.set(_OPERATIONS_KEY, known | operations, timeout=None)
        for name in list(pending):
            if pending[name]:
                _incr(cache, _counter_key(name), pending[name])
            del pending[name]
        first = _first_minute(now, _setting("ESI_STATS_RETENTION_HOURS"))
        timeline = {minute: remain for minute, remain in timeline.items() if minute >= first}
        if timeline:
            keys = {_MINUTE_KEY + str(minute): remain for minute, remain in timeline.items()}
            stored = cache.get_many(list(keys))
            lower = {
                key: remain
                for key, remain in keys.items()
                if not isinstance(stored.get(key), int) or remain < stored[key]
            }
            cache.set_many(lower, timeout=_retention())
            timeline = {}
    with _lock:
        _pending.update(pending)
        for minute, remain in timeline.items():
            _timeline[minute] = min(remain, _timeline.get(minute, remain))


def _status_label(status: int) -> str:
    if status in _STATUSES:
        return str(status)
    return f"{status // 100}xx" if 200 <= status < 600 else "none"


def _counter_key(name: str) -> str:
    """The cache key of a pending counter: a category, or ``<operation>\0<field>``."""
    operation, _, field = name.partition("\0")
    return _operation_key(operation, field) if field else _COUNTER_KEY + name


def _operation_key(operation: str, field: str) -> str:
    return f"{_OPERATION_KEY}{operation}:{field}"


def _known_operations(cache: BaseCache) -> set[str]:
    """The operations with shared counters (a set kept in one key, without expiry)."""
    known = cache.get(_OPERATIONS_KEY)
    return set(known) if isinstance(known, (set, frozenset)) else set()


def _incr(cache: BaseCache, key: str, delta: int) -> int:
    """Add ``delta`` to the counter ``key``, creating it (without expiry) if absent."""
    try:
        return cache.incr(key, delta)
    except ValueError:
        if cache.add(key, delta, timeout=None):
            return delta
        return cache.incr(key, delta)


def _retention() -> int:
    return int(_setting("ESI_STATS_RETENTION_HOURS") * 3600)


def _first_minute(now: float, hours: float) -> int:
    """The oldest minute (epoch) of the last ``hours`` hours: ``hours * 60`` minutes, the
    current one included."""
    return int((now - hours * 3600) // 60 * 60) + 60


# --------------------------------------------------------------------------- readers


def cache_counts() -> dict[str, int]:
    """Calls since the counters started, by category, over every process (flushed counts)
    plus this process's unflushed ones: ``{"hits": n, "misses": n, "not_modified": n,
    "errors": n}``."""
    keys = [_COUNTER_KEY + name for name in _CATEGORIES]
    stored: dict[str, Any] = {}
    with _flush_lock:
        with shared_cache() as cache:
            stored = cache.get_many(keys)
        with _lock:
            local = dict(_pending)
    return {
        name: int(stored.get(key) or 0) + local.get(name, 0)
        for name, key in zip(_CATEGORIES, keys, strict=True)
    }


def operation_counts() -> dict[str, dict[str, float]]:
    """Network calls per operation, over every process (as :func:`cache_counts`):
    ``{operation: {"calls": n, "errors": n, "seconds": total seconds}}``."""
    stored: dict[str, Any] = {}
    with _flush_lock:
        with shared_cache() as cache:
            keys = {
                f"{operation}\0{field}": _operation_key(operation, field)
                for operation in _known_operations(cache)
                for field in _OPERATION_FIELDS
            }
            found = cache.get_many(list(keys.values()))
            stored = {name: found[key] for name, key in keys.items() if key in found}
        with _lock:
            local = {name: delta for name, delta in _pending.items() if name.partition("\0")[2] in _OPERATION_FIELDS}
    totals: dict[str, dict[str, float]] = {}
    for name in {*stored, *local}:
        operation, _, field = name.partition("\0")
        counts = totals.setdefault(operation, {"calls": 0, "errors": 0, "seconds": 0.0})
        value = int(stored.get(name) or 0) + local.get(name, 0)
        if field == "ms":
            counts["seconds"] += value / 1000
        else:
            counts[field] += value
    return totals


def status_counts() -> dict[str, dict[str, int]]:
    """Network calls per operation and status, over every process (as :func:`cache_counts`):
    ``{operation: {status: n}}``, ``status`` being ``"200"``, ``"304"``, ``"420"``, ... for
    the statuses ESI answers with, ``"4xx"`` (say) for any other, ``"none"`` when no answer
    came; statuses never seen are left out."""
    fields = [f"status:{label}" for label in _STATUS_LABELS]
    keys: dict[tuple[str, str], str] = {}
    found: dict[str, Any] = {}
    with _flush_lock:
        with shared_cache() as cache:
            keys = {
                (operation, field): _operation_key(operation, field)
                for operation in _known_operations(cache)
                for field in fields
            }
            found = cache.get_many(list(keys.values()))
        with _lock:
            local: dict[tuple[str, str], int] = {
                (name.partition("\0")[0], name.partition("\0")[2]): delta
                for name, delta in _pending.items()
                if name.partition("\0")[2].startswith("status:")
            }
    result: dict[str, dict[str, int]] = {}
    for (operation, field), key in keys.items():
        value = int(found.get(key) or 0) + local.pop((operation, field), 0)
        if value:
            result.setdefault(operation, {})[field[len("status:") :]] = value
    for (operation, field), value in local.items():
        result.setdefault(operation, {})[field[len("status:") :]] = value
    return result


def error_limit_timeline(hours: int = 6) -> list[tuple[float, int]]:
    """``(minute epoch, lowest remain seen in that minute)`` for the last ``hours`` hours
    (at most ``ESI_STATS_RETENTION_HOURS``), oldest first; minutes without an answer that
    reported the error limit are left out."""
    now = _now()
    hours = min(hours, _setting("ESI_STATS_RETENTION_HOURS"))
    first = _first_minute(now, hours)
    minutes = range(first, int(now // 60 * 60) + 60, 60)
    points: dict[int, int] = {}
    with _flush_lock:
        with shared_cache() as cache:
            keys = {minute: _MINUTE_KEY + str(minute) for minute in minutes}
            stored = cache.get_many(list(keys.values()))
            points = {
                minute: stored[key]
                for minute, key in keys.items()
                if isinstance(stored.get(key), int)
            }
        with _lock:
            for minute, remain in _timeline.items():
                if minute >= first:
                    points[minute] = min(remain, points.get(minute, remain))
    return [(float(minute), remain) for minute, remain in sorted(points.items())]


def recent_events(limit: int = 100) -> list[dict[str, Any]]:
    """The newest 420 and 429 answers, newest first, at most ``limit`` (at most 100), each
    ``{"time": epoch, "status": 420 | 429, "operation": str, "group": str | None,
    "character_id": int | None, "retry_after": seconds | None}``."""
    limit = max(0, min(limit, _EVENTS_KEPT))
    with shared_cache() as cache:
        seq = cache.get(_EVENT_SEQ_KEY)
        if not isinstance(seq, int):
            return []
        wanted = range(seq, max(0, seq - limit), -1)
        stored = cache.get_many([_EVENT_KEY + str(n % _EVENTS_KEPT) for n in wanted])
        events = []
        for n in wanted:
            value = stored.get(_EVENT_KEY + str(n % _EVENTS_KEPT))
            # A slot holds the newest event of its number modulo 100; an older or newer one
            # (another process wrote meanwhile, or it expired) is not event n.
            if isinstance(value, tuple) and len(value) == 2 and value[0] == n:
                events.append(value[1])
        return events
    return []


def reset() -> None:
    """Forget every statistic, shared and local (for tests and the admin)."""
    global _calls, _flushed_at
    with _flush_lock:
        with shared_cache() as cache:
            operations = _known_operations(cache)
            now = _now()
            first = _first_minute(now, _setting("ESI_STATS_RETENTION_HOURS"))
            minutes = range(first, int(now // 60 * 60) + 60, 60)
            cache.delete_many(
                [
                    *(_COUNTER_KEY + name for name in _CATEGORIES),
                    *(_operation_key(op, f) for op in operations for f in _OPERATION_FIELDS),
                    *(_operation_key(op, f"status:{label}") for op in operations for label in _STATUS_LABELS),
                    _OPERATIONS_KEY,
                    _EVENT_SEQ_KEY,
                    *(_EVENT_KEY + str(n) for n in range(_EVENTS_KEPT)),
                    *(_MINUTE_KEY + str(minute) for minute in minutes),
                ]
            )
        with _lock:
            _pending.clear()
            _timeline.clear()
            _calls = 0
            _flushed_at = None


# --------------------------------------------------------------------------- the shared cache


def shared_cache() -> AbstractContextManager[BaseCache]:
    """The cache ``ESI_BUDGET_CACHE_ALIAS``, for the state this module and
    :mod:`esi.http.budgets` share between processes (a misconfigured alias raises).

    A cache failure inside the block is logged and swallowed
    (:func:`esi.http.guard.guarded`): statistics and budgets must never break an ESI call;
    the budgets then work from this process's own state.
    """
    return guard.guarded(_setting("ESI_BUDGET_CACHE_ALIAS"), "ESI budgets and statistics")


def _after_fork() -> None:
    """In a forked child: fresh locks (one held at fork time would never be released), and
    no copy of the parent's unflushed counts, which the parent flushes itself."""
    global _lock, _flush_lock, _pending, _timeline, _calls, _flushed_at
    _lock = threading.Lock()
    _flush_lock = threading.Lock()
    _pending = Counter()
    _timeline = {}
    _calls = 0
    _flushed_at = None


os.register_at_fork(after_in_child=_after_fork)
# Short-lived processes (management commands) would otherwise lose their last counts.
atexit.register(lambda: _flush_unless_busy(_now()))
