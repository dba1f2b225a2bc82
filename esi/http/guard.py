"""The Django caches this package keeps shared state in, used so that their outage never
stops an ESI call or an EVE SSO login.

When the cache server is down (Redis stopped or unreachable), every operation on the cache
raises (``redis.exceptions.ConnectionError`` with django-redis). Code that reads or writes
the response cache, EVE SSO's key set, the budgets or the statistics does it inside
:func:`guarded`, which logs the failure (a warning at most once a minute per cache alias,
debug otherwise) and lets the caller go on without the cache: a response is fetched from
ESI and not stored, the key set is downloaded for each verification, and the budgets work
from the process's own state. :func:`outages` probes the caches for the system check
``esi.W004`` and the dashboard's banner.

An unreachable server fails each operation only after django-redis's socket timeouts, so a
site sets ``SOCKET_CONNECT_TIMEOUT`` and ``SOCKET_TIMEOUT`` in the cache's ``OPTIONS``
(see the docs' operations guide); a stopped server refuses connections at once.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.cache import BaseCache, caches

from esi import app_settings

logger = logging.getLogger(__name__)

#: A failing cache is reported with a warning at most this often (seconds), per alias.
WARN_INTERVAL = 60.0

_lock = threading.Lock()
_warned_at: dict[str, float] = {}


@contextmanager
def guarded(alias: str, purpose: str) -> Iterator[BaseCache]:
    """The Django cache ``alias`` for the block, whose failures are logged and swallowed.

    ``purpose`` names what the cache holds, for the log (``"ESI responses"``). The block
    stops at the failing operation; the caller's code after the ``with`` runs as if the
    cache held nothing. A misconfigured alias raises
    ``django.core.cache.InvalidCacheBackendError`` (system check ``esi.E008`` reports it).
    """
    cache = caches[alias]
    try:
        yield cache
    except Exception as exc:  # the cache server: any client library, any error
        report(alias, purpose, exc)


def report(alias: str, purpose: str, exc: BaseException) -> None:
    """Log a failure of the cache ``alias`` as :func:`guarded` does, for a single operation
    guarded inline (the response cache's read, on the path of every ESI call)."""
    now = time.monotonic()
    with _lock:
        quiet = now - _warned_at.get(alias, -math.inf) < WARN_INTERVAL
        if not quiet:
            _warned_at[alias] = now
    logger.log(
        logging.DEBUG if quiet else logging.WARNING,
        "The cache %r (%s) is unavailable: continuing without it (%s: %s)",
        alias,
        purpose,
        type(exc).__name__,
        exc,
        exc_info=True,
    )


@dataclass(frozen=True)
class Outage:
    """A cache this package uses that did not answer: its ``alias``, what it holds
    (``purposes``, e.g. ``("ESI responses", "ESI budgets and statistics")``) and the
    ``error`` it raised, as text."""

    alias: str
    purposes: tuple[str, ...]
    error: str


def used_caches() -> dict[str, tuple[str, ...]]:
    """The cache aliases this package uses, each with what it holds there."""
    uses = (
        (app_settings.ESI_RESPONSE_CACHE_ALIAS, "ESI responses"),
        (app_settings.ESI_BUDGET_CACHE_ALIAS, "ESI budgets and statistics"),
        ("default", "EVE SSO's signing keys"),
        (app_settings.ESI_REFRESH_JOURNAL_CACHE_ALIAS, "the refresh journal"),
    )
    found: dict[str, tuple[str, ...]] = {}
    for alias, purpose in uses:
        found[str(alias)] = (*found.get(str(alias), ()), purpose)
    return found


def outages() -> list[Outage]:
    """Probe each cache of :func:`used_caches` with one read; the ones that raise.

    Aliases missing from ``CACHES`` are left out (``esi.E008`` reports them). Meant for the
    system check and the dashboard, not for the request path: each probe is a round trip.
    """
    from django.core.cache import InvalidCacheBackendError

    found = []
    for alias, purposes in used_caches().items():
        try:
            caches[alias].get("esi:health-probe")
        except InvalidCacheBackendError:
            continue
        except Exception as exc:  # the cache server: any client library, any error
            found.append(Outage(alias, purposes, f"{type(exc).__name__}: {exc}"))
    return found


def reset() -> None:
    """Forget when warnings were logged (for tests)."""
    with _lock:
        _warned_at.clear()
