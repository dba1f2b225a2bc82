"""The ESI response cache, in the Django cache.

CCP ("ESI best practices: caching"): do not request a route again before its ``Expires`` /
``Cache-Control: max-age`` runs out; keep the ``ETag`` and send it as ``If-None-Match``; a
``304 Not Modified`` means the stored body is still current. POST routes may answer without
``Expires``: those are never stored with a negative lifetime.

An entry is ``{"status", "headers", "body", "etag", "expires"}`` (``expires`` in epoch
seconds). It stays in the cache for ``ETAG_RETENTION`` seconds after it expires, so a stale
entry can still be revalidated with its ETag. A cache that is down (Redis stopped) is
logged and bypassed: nothing is found, nothing stored (:mod:`esi.http.guard`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from email.utils import parsedate_to_datetime
from typing import Any

from django.core.cache import caches

from esi import app_settings

from . import guard

#: Seconds a stale entry (and its ETag) is kept for revalidation.
ETAG_RETENTION = 24 * 3600

#: Response headers kept with a cached body (what callers of ``also_return_response`` read).
KEPT_HEADERS = ("Content-Type", "ETag", "Expires", "Last-Modified", "Cache-Control", "X-Pages")


#: Request headers that do not change ESI's answer, left out of the cache key: who asks
#: (``User-Agent``; ``Authorization`` stands for the identity, which is in the key) and the
#: conditional headers of a revalidation. Every other header is in the key:
#: ``X-Tenant``, ``X-Compatibility-Date``, ``Accept-Language``, ``Accept`` and the spec's
#: header parameters all select what ESI sends.
UNKEYED_HEADERS = frozenset({"user-agent", "authorization", "if-none-match", "if-modified-since"})


def request_key(
    method: str,
    url: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes | None,
    identity: str,
) -> str:
    """The cache key of a request as it is sent: method, URL, query (order-insensitive),
    the headers that can change the answer (all but :data:`UNKEYED_HEADERS`; names
    case-insensitive, order-insensitive), body, and ``identity``: ``"public"``, or
    ``"character:<id>"`` for a token whose character was verified, so one character's data
    is never served to another token."""
    # On the path of every call, cached or not: one list, one string, one hash. Header names
    # hold no ":" and values no NUL (requests refuses control characters in them).
    keyed = [f"{low}:{value}" for name, value in headers.items() if (low := name.lower()) not in UNKEYED_HEADERS]
    keyed.sort()
    # 128 bits of BLAKE2b: collision-free for any number of keys a site stores, and a
    # short key (backends such as locmem and memcached check every character of it).
    digest = hashlib.blake2b(
        f"{method}\0{url}\0{sorted(query) if query else ''}\0{identity}\0{chr(0).join(keyed)}\0".encode(),
        digest_size=16,
    )
    if body:
        digest.update(body)
    return "esi:response:" + digest.hexdigest()


_PURPOSE = "ESI responses"


def _cache() -> AbstractContextManager[Any]:
    return guard.guarded(app_settings.ESI_RESPONSE_CACHE_ALIAS, _PURPOSE)


def clear() -> None:
    """Delete every stored ESI response (for tests): the ``esi:response:*`` keys on
    django-redis, the whole ``ESI_RESPONSE_CACHE_ALIAS`` cache on other backends, which
    cannot delete by pattern."""
    with _cache() as cache:
        delete_pattern = getattr(cache, "delete_pattern", None)
        if delete_pattern is not None:
            delete_pattern("esi:response:*")
        else:
            cache.clear()


def get(key: str) -> dict[str, Any] | None:
    """The stored entry, fresh or stale, or ``None`` (also when the cache is down)."""
    alias = app_settings.ESI_RESPONSE_CACHE_ALIAS
    try:
        entry = caches[alias].get(key)
    except Exception as exc:  # the cache server: guarded inline, as this runs on every call
        guard.report(alias, _PURPOSE, exc)
        return None
    return entry if isinstance(entry, dict) else None


def expires_at(headers: Any, default_age: int | None, now: float) -> float | None:
    """When a response stops being fresh (epoch seconds): ``Cache-Control: max-age`` wins,
    then ``Expires``, then the spec's cache age (304s have come without ``Expires``).
    ``None`` when nothing says it may be cached."""
    control = headers.get("Cache-Control", "")
    for directive in control.split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() in ("no-store", "no-cache", "private") and not value:
            return None
        if name.lower() == "max-age":
            try:
                return now + max(0, int(value))
            except ValueError:
                break
    expires = headers.get("Expires")
    if expires:
        try:
            return parsedate_to_datetime(expires).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    if default_age is not None:
        return now + default_age
    return None


def store(key: str, status: int, headers: Any, body: bytes, expires: float | None) -> None:
    """Keep a response until ``expires`` plus :data:`ETAG_RETENTION`. Nothing is stored
    when it has neither a lifetime nor an ETag, or when its body is longer than
    ``ESI_RESPONSE_CACHE_MAX_BYTES``; a cache that is down stores nothing."""
    now = time.time()
    etag = headers.get("ETag")
    if (expires is None and not etag) or len(body) > int(app_settings.ESI_RESPONSE_CACHE_MAX_BYTES):
        return
    fresh_for = max(0.0, (expires or now) - now)
    entry = {
        "status": status,
        "headers": {name: headers[name] for name in KEPT_HEADERS if name in headers},
        "body": body,
        "etag": etag,
        "expires": expires or now,
    }
    with _cache() as cache:
        cache.set(key, entry, int(fresh_for) + ETAG_RETENTION)


def renew(key: str, entry: dict[str, Any], headers: Any, expires: float | None) -> dict[str, Any]:
    """After a 304: the stored body with the new lifetime (and any new header values)."""
    entry = {**entry, "headers": {**entry["headers"]}}
    for name in KEPT_HEADERS:
        if name in headers and name != "X-Pages":
            entry["headers"][name] = headers[name]
    entry["etag"] = headers.get("ETag") or entry["etag"]
    entry["expires"] = expires or time.time()
    fresh_for = max(0.0, entry["expires"] - time.time())
    with _cache() as cache:
        cache.set(key, entry, int(fresh_for) + ETAG_RETENTION)
    return entry
