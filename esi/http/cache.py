"""The ESI response cache, in the Django cache.

CCP ("ESI best practices: caching"): do not request a route again before its ``Expires`` /
``Cache-Control: max-age`` runs out; keep the ``ETag`` and send it as ``If-None-Match``; a
``304 Not Modified`` means the stored body is still current. POST routes may answer without
``Expires``: those are never stored with a negative lifetime.

An entry is ``{"status", "headers", "body", "etag", "expires"}`` (``expires`` in epoch
seconds). It stays in the cache for ``ETAG_RETENTION`` seconds after it expires, so a stale
entry can still be revalidated with its ETag.
"""

from __future__ import annotations

import hashlib
import time
from email.utils import parsedate_to_datetime
from typing import Any

from django.core.cache import caches

from esi import app_settings

#: Seconds a stale entry (and its ETag) is kept for revalidation.
ETAG_RETENTION = 24 * 3600

#: Response headers kept with a cached body (what callers of ``also_return_response`` read).
KEPT_HEADERS = ("Content-Type", "ETag", "Expires", "Last-Modified", "Cache-Control", "X-Pages")


def cache_key(
    method: str,
    url: str,
    query: list[tuple[str, str]],
    body: bytes | None,
    language: str | None,
    owner: str | None,
) -> str:
    """The cache key of one request: method, URL, query (order-insensitive), body, language,
    and for authenticated operations the owner (the token's character), so one
    character's data is never served to another token."""
    digest = hashlib.sha256()
    for part in (method, url, repr(sorted(query)), language or "", owner or ""):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body or b"")
    return "esi:response:" + digest.hexdigest()


def _cache() -> Any:
    return caches[app_settings.ESI_RESPONSE_CACHE_ALIAS]


def clear() -> None:
    """Delete every stored ESI response (for tests): the ``esi:response:*`` keys on
    django-redis, the whole ``ESI_RESPONSE_CACHE_ALIAS`` cache on other backends, which
    cannot delete by pattern."""
    cache = _cache()
    delete_pattern = getattr(cache, "delete_pattern", None)
    if delete_pattern is not None:
        delete_pattern("esi:response:*")
    else:
        cache.clear()


def get(key: str) -> dict[str, Any] | None:
    """The stored entry, fresh or stale, or ``None``."""
    entry = _cache().get(key)
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
    """Keep a response until ``expires`` plus :data:`ETAG_RETENTION` (nothing is stored
    when it has neither a lifetime nor an ETag)."""
    now = time.time()
    etag = headers.get("ETag")
    if expires is None and not etag:
        return
    fresh_for = max(0.0, (expires or now) - now)
    entry = {
        "status": status,
        "headers": {name: headers[name] for name in KEPT_HEADERS if name in headers},
        "body": body,
        "etag": etag,
        "expires": expires or now,
    }
    _cache().set(key, entry, int(fresh_for) + ETAG_RETENTION)


def renew(key: str, entry: dict[str, Any], headers: Any, expires: float | None) -> dict[str, Any]:
    """After a 304: the stored body with the new lifetime (and any new header values)."""
    entry = {**entry, "headers": {**entry["headers"]}}
    for name in KEPT_HEADERS:
        if name in headers and name != "X-Pages":
            entry["headers"][name] = headers[name]
    entry["etag"] = headers.get("ETag") or entry["etag"]
    entry["expires"] = expires or time.time()
    fresh_for = max(0.0, entry["expires"] - time.time())
    _cache().set(key, entry, int(fresh_for) + ETAG_RETENTION)
    return entry
