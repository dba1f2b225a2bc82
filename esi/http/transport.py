"""Sending ESI requests: one ``requests.Session`` per process, retries with backoff, the
response cache, and the error-limit and rate-limit budgets.

Retries (CCP "ESI best practices"): connection errors, timeouts and 502 / 503 / 504 are
retried with exponential backoff; nothing else is (a 4xx will not change, and counts
against the error limit). A 429 is retried once its ``Retry-After`` has passed if that is
short; a 420 is never retried (the budget gate then holds every request until the error
window resets).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from esi import app_settings
from esi._json import loads
from esi.errors import connection_error, http_error
from esi.signals import esi_request_statistics

from . import budgets, stats

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
                adapter = HTTPAdapter(
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


@dataclass
class EsiResponse:
    """An ESI answer, from the network or the cache: what ``also_return_response`` gives.

    ``headers`` is a case-insensitive mapping; ``from_cache`` is ``True`` when nothing was
    sent (a fresh cache hit) and ``not_modified`` when ESI answered 304 to a revalidation.
    """

    status_code: int
    headers: CaseInsensitiveDict[str]
    content: bytes
    from_cache: bool = False
    not_modified: bool = False
    elapsed: float = 0.0

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


def _read_body(answer: requests.Response) -> bytes:
    """The whole body of a streamed answer, in one read.

    requests' ``Response.content`` reads in 10 KB chunks, 25 reads for a page of market
    orders; one ``raw.read()`` costs a quarter of that. Reading to the end hands the
    connection back to the pool; a failed read closes it, so a broken connection is
    never reused.
    """
    try:
        return answer.raw.read(decode_content=True) or b""
    except BaseException:
        answer.close()
        raise


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

    Returns:
        The response (2xx or 304).

    Raises:
        HTTPError subclasses (``esi.errors``): for other statuses, after retries.
        ESIConnectionError: ESI could not be reached (connection error, timeout) after retries.
        ESIErrorLimitException / ESIBucketLimitException: the budget gate refused to send.
    """
    server_retries = int(app_settings.ESI_SERVER_ERROR_MAX_RETRIES if retries is None else retries)
    connection_retries = int(app_settings.ESI_CONNECTION_ERROR_MAX_RETRIES if retries is None else retries)
    throttled_retry = True
    attempt = 0
    while True:
        budgets.before_request(group=group, character_id=character_id, operation=operation)
        started = time.perf_counter()
        try:
            answer = session().request(
                method,
                url,
                params=query,
                headers=headers,
                data=body,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
            content = _read_body(answer)
        except _TRANSPORT_ERRORS as exc:
            budgets.after_response(status=0, headers={}, group=group, character_id=character_id, operation=operation)
            stats.record_response(status=0, operation=operation, from_cache=False, elapsed=time.perf_counter() - started)
            if attempt < connection_retries:
                time.sleep(_backoff(attempt))
                attempt += 1
                continue
            raise connection_error(f"ESI unreachable for {operation}: {exc}") from exc
        elapsed = time.perf_counter() - started
        status = answer.status_code
        budgets.after_response(
            status=status, headers=answer.headers, group=group, character_id=character_id, operation=operation
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
        if status in RETRY_STATUSES and attempt < server_retries:
            time.sleep(_backoff(attempt))
            attempt += 1
            continue
        if status == 429 and throttled_retry:
            # The gate now knows the bucket is empty and waits (or raises) as configured.
            throttled_retry = False
            continue
        raise http_error(status, answer.headers, content.decode("utf-8", errors="replace"), operation=operation)


def _after_fork() -> None:
    """A forked child (gunicorn ``--preload``, a django-q2 worker) must not share the
    parent's pooled connections, nor inherit a lock another thread held at fork time."""
    global _session, _session_lock
    _session = None
    _session_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
