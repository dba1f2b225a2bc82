"""Sending ESI requests: one ``requests.Session`` per process, retries with backoff, the
response cache, and the error-limit and rate-limit budgets.

Retries (CCP "ESI best practices"): connection errors, timeouts and 502 / 503 / 504 are
retried with exponential backoff; nothing else is (a 4xx will not change, and counts
against the error limit). A 429 is retried once its ``Retry-After`` has passed if that is
short; a 420 is never retried (the budget gate then holds every request until the error
window resets).

Limits on what a server can make a call cost: every call has a total deadline,
``ESI_REQUESTS_TOTAL_TIMEOUT`` seconds for its attempts and the waits between them
(:mod:`esi.http.deadline`; the read timeout bounds each socket read only), and a body
larger than ``ESI_MAX_RESPONSE_BYTES`` is not read.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from esi import app_settings
from esi._json import loads
from esi.errors import ESIResponseTooLargeError, connection_error, http_error
from esi.signals import esi_request_statistics

from . import budgets, deadline, stats
from . import cache as response_cache

T = TypeVar("T")

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({502, 503, 504})

_session: requests.Session | None = None
_session_lock = threading.Lock()


def session() -> requests.Session:
    """The process's session to ESI (a pool of ``ESI_CONNECTION_POOL_MAXSIZE``)."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                new = requests.Session()
                adapter = deadline.DeadlineAdapter(
                    pool_connections=4, pool_maxsize=int(app_settings.ESI_CONNECTION_POOL_MAXSIZE)
                )
                new.mount("https://", adapter)
                new.mount("http://", adapter)
                # requests re-reads proxy and CA variables from os.environ on every request;
                # read them once instead (a cached call is a few microseconds of work).
                new.proxies.update(requests.utils.get_environ_proxies(app_settings.esi_api_url()))
                new.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
                new.trust_env = False
                _session = new
    return _session


@dataclass(eq=False)
class EsiResponse:
    """An ESI answer, from the network or the cache: what ``also_return_response`` gives.

    ``headers`` is a case-insensitive mapping; ``from_cache`` is ``True`` when nothing was
    sent (a fresh cache hit) and ``not_modified`` when ESI answered 304 to a revalidation.
    """

    status_code: int
    raw_headers: Mapping[str, str]
    content: bytes
    from_cache: bool = False
    not_modified: bool = False
    elapsed: float = 0.0

    @property
    def headers(self) -> CaseInsensitiveDict[str]:
        """The response headers, case-insensitive (made on first use: a cached answer's
        headers are a plain dict, and most callers never read them)."""
        headers = self.raw_headers
        if not isinstance(headers, CaseInsensitiveDict):
            headers = self.raw_headers = CaseInsensitiveDict(headers)
        return headers

    @property
    def text(self) -> str:
        """The body as text (UTF-8; undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON, without the spec's decoding (``date-time`` fields stay
        strings). Raises ``ValueError`` if it is not JSON."""
        return loads(self.content)


def _log(method: str, url: str, status: int, elapsed: float, body: bytes) -> None:
    """``ESI_INFO_LOGGING_ENABLED`` logs every request at INFO; at DEBUG the body follows
    unless ``ESI_DEBUG_RESPONSE_CONTENT_LOGGING`` is off."""
    if app_settings.ESI_INFO_LOGGING_ENABLED:
        logger.info("ESI %s %s -> %s in %.0f ms", method, url, status, elapsed * 1000)
    if logger.isEnabledFor(logging.DEBUG):
        content = body[:2000].decode("utf-8", "replace") if app_settings.ESI_DEBUG_RESPONSE_CONTENT_LOGGING else "(not logged)"
        logger.debug("ESI %s %s -> %s: %s", method, url, status, content)


def _backoff(attempt: int) -> float:
    base = float(app_settings.ESI_SERVER_ERROR_BACKOFF_FACTOR) * float(app_settings.ESI_SERVER_ERROR_WAIT_EXPONENT)
    wait = base * (2**attempt)
    return wait + random.uniform(0, wait / 4)


# What a request or the reading of its body raises when the connection fails: requests'
# own errors, and urllib3's for a body read through ``raw`` (an answer cut short, a read
# timeout, a gzip body that does not decompress).
_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
    urllib3.exceptions.DecodeError,
    urllib3.exceptions.SSLError,
)


def _read_body(answer: requests.Response, limit: int, operation: str) -> bytes:
    """The whole body of a streamed answer, read at once, and at most ``limit`` bytes of it
    (after decompression).

    requests' ``Response.content`` reads in 10 KB chunks, 25 reads for a page of market
    orders; one ``raw.read()`` costs a quarter of that. Reading to the end hands the
    connection back to the pool; a failed or refused read closes it, so a broken
    connection is never reused.

    Raises:
        ESIResponseTooLargeError: ``Content-Length`` or the body itself exceeds ``limit``.
    """
    try:
        declared = answer.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(operation, limit, f"announced {declared} bytes")
        body = answer.raw.read(limit + 1, decode_content=True) or b""
        if len(body) > limit:
            raise _too_large(operation, limit, "sent more")
        # At the end of the body already; this hands the connection back to the pool.
        answer.raw.read()
        return body
    except BaseException:
        answer.close()
        raise


def _too_large(operation: str, limit: int, what: str) -> ESIResponseTooLargeError:
    return ESIResponseTooLargeError(
        f"ESI's answer to {operation} {what}: larger than ESI_MAX_RESPONSE_BYTES ({limit} bytes)", limit
    )


def _wait_within(attempt: int, ends: float) -> bool:
    """Sleep the backoff before retry ``attempt + 1`` if it ends before ``ends`` (a
    monotonic time) with time to spare; ``False`` (no sleep) if it would not."""
    pause = _backoff(attempt)
    if time.monotonic() + pause >= ends:
        return False
    time.sleep(pause)
    return True


def default_timeout() -> tuple[float, float]:
    """``(ESI_REQUESTS_CONNECT_TIMEOUT, ESI_REQUESTS_READ_TIMEOUT)``, in seconds."""
    return float(app_settings.ESI_REQUESTS_CONNECT_TIMEOUT), float(app_settings.ESI_REQUESTS_READ_TIMEOUT)


def _total_timeout(timeout: Any) -> float:
    """The call's total deadline in seconds: ``ESI_REQUESTS_TOTAL_TIMEOUT``, but never less
    than one attempt's own connect plus read timeout, so a caller's longer ``timeout=`` is
    honoured for at least one attempt."""
    total = float(app_settings.ESI_REQUESTS_TOTAL_TIMEOUT)
    if isinstance(timeout, (int, float)):
        return max(total, 2 * float(timeout))
    if isinstance(timeout, tuple) and all(isinstance(t, (int, float)) for t in timeout):
        return max(total, float(sum(timeout)))
    return total


def _bounded(timeout: Any, left: float) -> Any:
    """``timeout`` (seconds, or ``(connect, read)``) with no part beyond ``left`` seconds."""
    if isinstance(timeout, tuple):
        return tuple(left if part is None else min(float(part), left) for part in timeout)
    if isinstance(timeout, (int, float)):
        return min(float(timeout), left)
    return left


def send(
    method: str,
    url: str,
    *,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes | None,
    timeout: Any,
    retries: int | None,
    group: str | None,
    character_id: int | None,
    operation: str,
) -> EsiResponse:
    """Send one request through the budget gate, retrying per the module's rules.

    ``timeout`` is seconds or ``(connect, read)`` for each attempt (``None``:
    ``ESI_REQUESTS_CONNECT_TIMEOUT`` and ``ESI_REQUESTS_READ_TIMEOUT``); the call as a
    whole gets ``ESI_REQUESTS_TOTAL_TIMEOUT`` seconds (at least one attempt's connect plus
    read timeout), not counting waits at the budget gate.

    Returns:
        The response (2xx or 304).

    Raises:
        HTTPError subclasses (``esi.errors``): for other statuses, after retries.
        ESIConnectionError: ESI could not be reached (connection error, timeout) after
            retries, or the total deadline passed.
        ESIResponseTooLargeError: the body is larger than ``ESI_MAX_RESPONSE_BYTES``.
        ESIErrorLimitException / ESIBucketLimitException: the budget gate refused to send.
    """
    if timeout is None:
        timeout = default_timeout()
    server_retries = int(app_settings.ESI_SERVER_ERROR_MAX_RETRIES if retries is None else retries)
    connection_retries = int(app_settings.ESI_CONNECTION_ERROR_MAX_RETRIES if retries is None else retries)
    limit = int(app_settings.ESI_MAX_RESPONSE_BYTES)
    total = _total_timeout(timeout)
    ends = time.monotonic() + total
    throttled_retry = True
    attempt = 0
    while True:
        gate = time.monotonic()
        claim = budgets.before_request(group=group, character_id=character_id, operation=operation)
        ends += time.monotonic() - gate  # the gate's waits have caps of their own
        started = time.perf_counter()
        left = ends - time.monotonic()
        if left <= 0:
            budgets.release(claim)
            raise connection_error(f"ESI gave no complete answer to {operation} within {total:g} s")
        try:
            with deadline.limit(left):
                answer = session().request(
                    method,
                    url,
                    params=query,
                    headers=headers,
                    data=body,
                    timeout=_bounded(timeout, left),
                    allow_redirects=False,
                    stream=True,
                )
                content = _read_body(answer, limit, operation)
        except _TRANSPORT_ERRORS as exc:
            budgets.after_response(
                status=0, headers={}, group=group, character_id=character_id, operation=operation, claim=claim
            )
            stats.record_response(status=0, operation=operation, from_cache=False, elapsed=time.perf_counter() - started)
            if attempt < connection_retries and _wait_within(attempt, ends):
                attempt += 1
                continue
            raise connection_error(f"ESI unreachable for {operation}: {exc}") from exc
        except ESIResponseTooLargeError:
            budgets.after_response(
                status=answer.status_code,
                headers=answer.headers,
                group=group,
                character_id=character_id,
                operation=operation,
                claim=claim,
            )
            elapsed = time.perf_counter() - started
            stats.record_response(status=0, operation=operation, from_cache=False, elapsed=elapsed)
            raise
        elapsed = time.perf_counter() - started
        status = answer.status_code
        budgets.after_response(
            status=status,
            headers=answer.headers,
            group=group,
            character_id=character_id,
            operation=operation,
            claim=claim,
        )
        stats.record_response(status=status, operation=operation, from_cache=False, elapsed=elapsed)
        esi_request_statistics.send(
            sender=EsiResponse,
            operation=operation,
            status_code=status,
            headers=answer.headers,
            latency=elapsed,
            bucket=group or "",
        )
        _log(method, url, status, elapsed, content)
        if status < 400:
            return EsiResponse(status, answer.headers, content, elapsed=elapsed)
        if status in RETRY_STATUSES and attempt < server_retries and _wait_within(attempt, ends):
            attempt += 1
            continue
        if status == 429 and throttled_retry:
            # The gate now knows the bucket is empty and waits (or raises) as configured.
            throttled_retry = False
            continue
        raise http_error(status, answer.headers, content.decode("utf-8", errors="replace"), operation=operation)


@dataclass(slots=True)
class Request:
    """An ESI request as it goes on the wire, and who sends it.

    ``identity`` keys the response cache: ``"public"`` for a request without a token,
    ``"character:<id>"`` for a token whose character was verified (a stored ``Token``, or
    an access token string verified against EVE SSO's keys), ``None`` for credentials
    nobody verified, whose answers are never cached nor served from the cache.
    ``character_id`` chooses the rate-limit bucket (ESI's buckets are per character).
    """

    method: str
    url: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes | None
    identity: str | None
    character_id: int | None = None


def fetch(
    request: Request,
    decode: Callable[[EsiResponse], T],
    *,
    operation: str,
    group: str | None,
    cache_age: int | None,
    timeout: Any,
    retries: int | None,
    use_cache: bool = True,
    use_etag: bool = True,
    store: bool = True,
) -> tuple[T, EsiResponse]:
    """Answer ``request`` from the response cache or from ESI, and decode the answer.

    A fresh stored answer is returned without a request (CCP: never ask again before
    ``Expires``); a stale one with an ETag is revalidated with ``If-None-Match`` and a
    ``304`` returns it. ``decode(response)`` turns the answer into data; only an answer it
    decoded is stored, and only if it is at most ``ESI_RESPONSE_CACHE_MAX_BYTES`` long.
    The cache key is built from the request as sent (see
    :func:`esi.http.cache.request_key`), and only GET and POST are cached.

    ``use_cache=False`` skips the stored copy; ``use_etag=False`` revalidates without its
    ETag; ``store=False`` stores nothing. ``cache_age`` is the spec's ``x-cache-age``
    (seconds), the lifetime of a 304 that says none.

    Raises:
        HTTPNotModified: a 304 with nothing stored (an ``If-Modified-Since`` of the
            caller's). Otherwise what :func:`send` and ``decode`` raise.
    """
    key = entry = None
    headers = request.headers
    if request.identity is not None and request.method in ("GET", "POST") and app_settings.ESI_CACHE_RESPONSE:
        key = response_cache.request_key(
            request.method, request.url, request.query, headers, request.body, request.identity
        )
        # use_cache=False: the stored copy is neither served nor revalidated, so it is read
        # only to answer a 304 to the caller's own If-Modified-Since.
        entry = response_cache.get(key) if use_cache or "If-Modified-Since" in headers else None
        if entry is not None and use_cache:
            if entry["expires"] > time.time():
                stats.record_response(status=entry["status"], operation=operation, from_cache=True, elapsed=0.0)
                cached = EsiResponse(entry["status"], entry["headers"], entry["body"], from_cache=True)
                return decode(cached), cached
            if entry.get("etag") and use_etag:
                headers = {**headers, "If-None-Match": entry["etag"]}
    response = send(
        request.method,
        request.url,
        query=request.query,
        headers=headers,
        body=request.body,
        timeout=timeout,
        retries=retries,
        group=group,
        character_id=request.character_id,
        operation=operation,
    )
    if response.status_code == 304:
        if entry is None or key is None:
            # Only an If-Modified-Since of the caller's (result(last_modified=...)) earns a
            # 304 with nothing stored to answer from; django-esi 10 raises the same.
            raise http_error(304, response.headers, operation=operation)
        revalidated = EsiResponse(
            entry["status"],
            CaseInsensitiveDict({**entry["headers"], **response.headers}),
            entry["body"],
            not_modified=True,
        )
        data = decode(revalidated)
        if store:
            expires = response_cache.expires_at(response.headers, cache_age, time.time())
            response_cache.renew(key, entry, response.headers, expires)
        return data, revalidated
    data = decode(response)
    if store and key is not None and response.status_code < 300:
        expires = response_cache.expires_at(response.headers, None, time.time())
        response_cache.store(key, response.status_code, response.headers, response.content, expires)
    return data, response


def _after_fork() -> None:
    """A forked child (gunicorn ``--preload``, a django-q2 worker) must not share the
    parent's pooled connections, nor inherit a lock another thread held at fork time."""
    global _session, _session_lock
    _session = None
    _session_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
