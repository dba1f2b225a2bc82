"""A cap on EVE SSO refreshes in flight across every process of a site.

EVE SSO throttles bursts of concurrent refreshes (ccpgames/sso-issues#58), and a site may run
several django-q2 clusters, web workers and Celery workers that each refresh tokens with
``ESI_REFRESH_CONCURRENCY`` threads. :func:`refresh_slot` holds one of
``ESI_SSO_MAX_CONCURRENT_REFRESHES`` slots kept in the cache ``ESI_BUDGET_CACHE_ALIAS``
while one refresh request is on its way to EVE SSO, so however many processes refresh, no
more than that many requests are in flight at once.

A slot is a cache key taken with ``cache.add`` (atomic in django-redis, memcached and
locmem) and deleted when the request is answered. It also expires after the request's
timeouts plus five seconds, so a process killed while holding one does not keep it. With
Django's locmem cache every process has its own slots: the cap then holds per process only
(see the system check ``esi.W004``).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.cache import caches

from . import app_settings
from .errors import SSOUnavailableError

_KEY = "esi:sso:refresh-slot:"
#: Seconds between two looks for a free slot while every slot is taken (plus jitter).
_POLL = 0.02

#: The clock and the way to wait; tests replace both.
_now: Callable[[], float] = time.monotonic
_sleep: Callable[[float], None] = time.sleep


def limit() -> int | None:
    """``ESI_SSO_MAX_CONCURRENT_REFRESHES`` as a number of slots, or ``None`` for no cap
    (``None`` or 0)."""
    value = app_settings.ESI_SSO_MAX_CONCURRENT_REFRESHES
    return int(value) if value else None


@contextmanager
def refresh_slot(lease: float) -> Iterator[None]:
    """Hold one refresh slot for the block, waiting for one to free up.

    Args:
        lease: seconds after which the slot frees itself if the block never ends (the
            request's connect and read timeouts, plus a margin).

    Raises:
        SSOUnavailableError: no slot came free within ``ESI_SSO_REFRESH_SLOT_WAIT``
            seconds: refreshes elsewhere on the site keep EVE SSO busy. It is transient
            trouble like any other: the token is kept and backed off.
    """
    slots = limit()
    if slots is None:
        yield
        return
    cache = caches[app_settings.ESI_BUDGET_CACHE_ALIAS]
    owner = uuid.uuid4().hex
    deadline = _now() + float(app_settings.ESI_SSO_REFRESH_SLOT_WAIT)
    timeout = max(1, int(lease + 5))
    key = None
    while key is None:
        # Start at a random slot, so that processes do not all queue on the first one.
        start = random.randrange(slots)
        for offset in range(slots):
            candidate = f"{_KEY}{(start + offset) % slots}"
            if cache.add(candidate, owner, timeout=timeout):
                key = candidate
                break
        else:
            if _now() >= deadline:
                raise SSOUnavailableError(
                    f"No EVE SSO refresh slot came free within {app_settings.ESI_SSO_REFRESH_SLOT_WAIT} s: "
                    f"{slots} refreshes are in flight across the site (ESI_SSO_MAX_CONCURRENT_REFRESHES)"
                )
            _sleep(_POLL + random.uniform(0, _POLL))
    try:
        yield
    finally:
        # Only our own slot: after an expired lease the key may be another process's now.
        if cache.get(key) == owner:
            cache.delete(key)


def in_flight() -> int:
    """How many slots are taken now (0 without a cap)."""
    slots = limit()
    if slots is None:
        return 0
    cache = caches[app_settings.ESI_BUDGET_CACHE_ALIAS]
    return len(cache.get_many([f"{_KEY}{i}" for i in range(slots)]))
