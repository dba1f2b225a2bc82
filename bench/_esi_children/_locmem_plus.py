"""Django's locmem cache plus the django-redis calls django-esi 10.0.0 makes.

django-esi 10.0.0 depends on django-redis and calls ``cache.set(..., nx=True)``,
``cache.ttl()``, ``cache.expire()`` and ``cache.lock()``, which LocMemCache lacks. The
benchmark gives it this backend (a settings change, not a code change) so that all three
libraries use the same in-process cache: a Redis server would add a network round trip to
its cache reads that the other two do not pay.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache


class LocMemPlusCache(LocMemCache):
    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None,
            nx: bool = False, **kwargs: Any) -> Any:
        if nx:
            return self.add(key, value, timeout, version)
        super().set(key, value, timeout, version)
        return True

    def ttl(self, key: Any, version: Any = None) -> int | None:
        """Seconds left: ``None`` for no expiry, 0 for a missing key (django-redis semantics)."""
        internal = self.make_and_validate_key(key, version=version)
        with self._lock:
            if internal not in self._cache or self._has_expired(internal):
                return 0
            expires = self._expire_info.get(internal)
        return None if expires is None else max(0, int(expires - time.time()))

    def expire(self, key: Any, timeout: Any, version: Any = None) -> bool:
        return self.touch(key, timeout, version)

    def lock(self, key: Any, timeout: Any = None, **kwargs: Any) -> threading.Lock:
        with _locks_guard:
            return _locks.setdefault(key, threading.Lock())


_locks: dict[Any, threading.Lock] = {}
_locks_guard = threading.Lock()
