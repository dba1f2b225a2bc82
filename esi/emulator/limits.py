"""ESI's error limit and its floating-window rate limits."""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from .spec import RateLimit

#: The body ESI sends with ``420`` once the error limit is spent (CCP, ESI error limit).
ERROR_LIMITED_MESSAGE = (
    "This software has exceeded the error limit for ESI. If you are a user, please contact the "
    "maintainer of this software. If you are a developer/maintainer, please make a greater "
    "effort in the future to receive valid responses. For tips on how, come have a chat with "
    "us in #3rd-party-dev-and-esi on the EVE Online Discord. https://www.eveonline.com/discord"
)


def rate_limit_cost(status: int) -> int:
    """Tokens a response costs in its rate-limit bucket: 2xx 2, 3xx 1, 4xx other than 429 5,
    429 and 5xx nothing (CCP, "Rate limiting", developers.eveonline.com/docs/services/esi/)."""
    if 200 <= status < 300:
        return 2
    if 300 <= status < 400:
        return 1
    if 400 <= status < 500 and status != 429:
        return 5
    return 0


class ErrorLimit:
    """The legacy ESI error limit: ``limit`` non-2xx/3xx answers per ``window`` seconds.

    The window opens with the first ESI request after a reset and lasts ``window`` seconds;
    once ``remain`` reaches 0 every ESI route answers 420 until it closes (CCP, "Error
    limiting", headers ``X-ESI-Error-Limit-Remain`` / ``X-ESI-Error-Limit-Reset``).
    """

    def __init__(self, limit: int = 100, window: float = 60.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("error_limit must be at least 1 and error_window positive")
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._remain = limit
        self._window_end: float | None = None

    def _roll(self, now: float) -> float:
        if self._window_end is None or now >= self._window_end:
            self._remain = self.limit
            self._window_end = now + self.window
        return self._window_end

    def exhausted(self) -> bool:
        """Whether the limit is spent in the current window."""
        with self._lock:
            self._roll(time.monotonic())
            return self._remain <= 0

    def count(self, status: int | None) -> tuple[int, int]:
        """Count an answer (``None``: a dropped connection, counted like a timeout).

        Returns ``(remain, seconds until the window resets)`` for the headers.
        """
        with self._lock:
            now = time.monotonic()
            end = self._roll(now)
            if (status is None or not 200 <= status < 400) and self._remain > 0:
                self._remain -= 1
            return self._remain, max(0, math.ceil(end - now))

    def state(self) -> tuple[int, int]:
        """``(remain, seconds until the window resets)`` without counting anything."""
        with self._lock:
            now = time.monotonic()
            end = self._roll(now)
            return self._remain, max(0, math.ceil(end - now))

    def reset(self) -> None:
        """Forget the current window."""
        with self._lock:
            self._remain = self.limit
            self._window_end = None


class _Bucket:
    """Spends of one bucket, oldest first, with their running total."""

    __slots__ = ("spends", "used")

    def __init__(self) -> None:
        self.spends: deque[tuple[float, int]] = deque()
        self.used = 0

    def expire(self, window: int, now: float) -> int:
        while self.spends and self.spends[0][0] <= now - window:
            self.used -= self.spends.popleft()[1]
        return self.used


class RateLimiter:
    """Floating-window token buckets, one per rate-limit group and client key.

    The key is ``<client_id>:<character_id>`` for authenticated calls and the client IP
    otherwise (CCP, "Rate limiting", developers.eveonline.com/docs/services/esi/). A bucket
    holds ``max_tokens``; each answer spends :func:`rate_limit_cost` tokens, which come back
    ``window`` seconds later. ``X-Ratelimit-Used`` is what the answer cost. With
    ``enabled`` false nothing is spent and nothing is refused (for benchmarks), but the
    headers are still sent.
    """

    def __init__(self, enabled: bool = True, size: tuple[int, int, str] | None = None) -> None:
        self.enabled = enabled
        #: ``(tokens, window seconds, window label)`` given to every bucket instead of the
        #: spec's ``x-rate-limit`` (``None``: the spec's), for tests and benchmarks.
        self.size = size
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _sized(self, limit: RateLimit) -> RateLimit:
        if self.size is None:
            return limit
        tokens, window, label = self.size
        return RateLimit(limit.group, tokens, window, label)

    def retry_after(self, limit: RateLimit, key: str) -> int | None:
        """Seconds until the bucket has room again, or ``None`` if it has room now."""
        if not self.enabled:
            return None
        limit = self._sized(limit)
        with self._lock:
            now = time.monotonic()
            bucket = self._buckets.setdefault((limit.group, key), _Bucket())
            used = bucket.expire(limit.window, now)
            if used < limit.max_tokens:
                return None
            for stamp, cost in bucket.spends:
                used -= cost
                if used < limit.max_tokens:
                    return max(1, math.ceil(stamp + limit.window - now))
            return limit.window

    def charge(self, limit: RateLimit, key: str, status: int) -> dict[str, str]:
        """Spend the cost of an answer with ``status``; returns the ``X-Ratelimit-*`` headers."""
        limit = self._sized(limit)
        cost = rate_limit_cost(status)
        used = 0
        if self.enabled:
            with self._lock:
                now = time.monotonic()
                bucket = self._buckets.setdefault((limit.group, key), _Bucket())
                if cost:
                    bucket.spends.append((now, cost))
                    bucket.used += cost
                used = bucket.expire(limit.window, now)
        return {
            "X-Ratelimit-Group": limit.group,
            "X-Ratelimit-Limit": limit.limit_header,
            "X-Ratelimit-Remaining": str(max(0, limit.max_tokens - used)),
            "X-Ratelimit-Used": str(cost),
        }

    def reset(self) -> None:
        """Empty every bucket."""
        with self._lock:
            self._buckets.clear()
