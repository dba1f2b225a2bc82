"""Which ESI scopes the site asks for, and who asks: the dashboard compares them with the
scopes the stored tokens hold.

Two kinds of source record here:

- **Views.** :func:`esi.decorators.token_required`, :func:`~esi.decorators.tokens_required`
  and :func:`~esi.decorators.single_use_token` call :func:`register` when they decorate a
  view, with the view's dotted path as the source. That happens at import, in every
  process, so this record is kept in process memory.
- **ESI calls.** The client calls :func:`record_operation` before each authenticated request.
  An operation's scopes reach the shared cache (``ESI_BUDGET_CACHE_ALIAS``, through
  :func:`esi.http.stats.shared_cache`) the first time a process calls it and then at most
  once an hour, so that the calls django-q2 workers make show up in the web process.
  Operations not called for a week drop out.

Code that needs scopes without a decorator or a call (a management command, a task that has
not run yet) may call :func:`register` itself, for example from an ``AppConfig.ready()``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .http.stats import shared_cache
from .managers import process_scopes

#: The cache key holding ``{operation: (scopes, epoch last recorded)}``.
_OPERATIONS_KEY = "esi:required-scopes:operations"
#: An operation not called for this long (seconds) is no longer listed.
_OPERATION_TTL = 7 * 86400
#: A process re-records an operation it keeps calling at most this often (seconds), so its
#: entry stays within the TTL.
_RECORD_EVERY = 3600
#: The source label of operations the client called.
OPERATION_SOURCE = "ESI operation {}"

#: The clock (epoch seconds); tests replace it.
_now: Callable[[], float] = time.time

_lock = threading.Lock()
_registered: dict[str, set[str]] = {}  # scope -> sources (views, apps)
_recorded_at: dict[str, float] = {}  # operation -> epoch this process last recorded it
_operations: dict[str, tuple[str, ...]] = {}  # operation -> scopes, this process's calls


def register(scopes: Any, source: str) -> None:
    """Note that ``source`` (a view's dotted path, an app label: any short text) needs
    ``scopes`` (a list of names or a space-delimited string; empty registers nothing).
    Registering the same pair again changes nothing."""
    names = process_scopes(scopes)
    if not names:
        return
    with _lock:
        for name in names:
            _registered.setdefault(name, set()).add(source)


def record_operation(operation: Any) -> None:
    """Note that the ESI operation ``operation`` (an :class:`esi.openapi.Operation`: its
    ``name`` and ``scopes``) is being called. Operations without scopes are ignored.

    The common case, an operation this process recorded within the hour, costs a dict
    lookup. Otherwise the shared entry is read and written (one ``get`` and one ``set``);
    two processes writing at once may lose one of the two entries until its next record.
    A cache failure is logged and ignored.
    """
    name = operation.name
    now = _now()
    last = _recorded_at.get(name)
    if last is not None and now - last < _RECORD_EVERY:
        return
    scopes = tuple(sorted(operation.scopes))
    with _lock:
        _recorded_at[name] = now
        if scopes:
            _operations[name] = scopes
    if not scopes:
        return
    with shared_cache() as cache:
        stored = _live(cache.get(_OPERATIONS_KEY), now)
        stored[name] = (scopes, now)
        cache.set(_OPERATIONS_KEY, stored, timeout=_OPERATION_TTL)


def _live(stored: Any, now: float) -> dict[str, tuple[tuple[str, ...], float]]:
    """The well-formed entries of a stored mapping that are younger than the TTL."""
    if not isinstance(stored, Mapping):
        return {}
    live = {}
    for name, entry in stored.items():
        if (
            isinstance(name, str)
            and isinstance(entry, tuple)
            and len(entry) == 2
            and isinstance(entry[0], tuple)
            and isinstance(entry[1], (int, float))
            and now - entry[1] < _OPERATION_TTL
        ):
            live[name] = entry
    return live


def required_scopes() -> dict[str, frozenset[str]]:
    """Every scope something asked for, mapped to who asked: ``{scope: frozenset of
    sources}``. Sources are registered labels (``"myapp.views.notifications"``) and
    ``"ESI operation <name>"`` for operations the client called, in this process or, through
    the shared cache, in any other within the last week. Reads the cache once."""
    with _lock:
        merged = {scope: set(sources) for scope, sources in _registered.items()}
        operations = dict(_operations)
    with shared_cache() as cache:
        for name, (scopes, _) in _live(cache.get(_OPERATIONS_KEY), _now()).items():
            operations.setdefault(name, scopes)
    for name, scopes in operations.items():
        for scope in scopes:
            merged.setdefault(scope, set()).add(OPERATION_SOURCE.format(name))
    return {scope: frozenset(sources) for scope, sources in merged.items()}


def reset() -> None:
    """Forget the recorded operations, this process's and the shared ones (for tests).
    Registrations stay: decorators made them at import and would not make them again."""
    with _lock:
        _recorded_at.clear()
        _operations.clear()
    with shared_cache() as cache:
        cache.delete(_OPERATIONS_KEY)
