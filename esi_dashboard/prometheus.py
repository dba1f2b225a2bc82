"""Prometheus metrics of ESI and the tokens, for the monitoring a site already runs.

:func:`metrics_view` answers ``GET <admin>/esi_dashboard/dashboard/metrics/`` (URL name
``admin:esi_metrics``) in Prometheus' text format, written by ``prometheus-client``
(``pip install django-esi-ng[metrics]``). Every figure is read at scrape time from where
the site already keeps it, shared by every process: the ESI client's statistics and budgets
in the cache ``ESI_BUDGET_CACHE_ALIAS`` (:mod:`esi.http.stats`, :mod:`esi.http.budgets`),
refresh outcomes counted there by this module's signal receivers, and the newest
:class:`~esi_dashboard.models.HealthCount`. So one scrape of any process sees the whole
site (with a shared cache such as Redis), and nothing needs ``prometheus-client``'s
multi-process mode. A process's last ``ESI_STATS_FLUSH_INTERVAL`` seconds of ESI counts
reach the cache with its next flush.

=============================================  =======  ===========================================
metric                                         type     labels
=============================================  =======  ===========================================
``esi_requests_total``                         counter  ``operation``, ``status`` (``200``,
                                                        ``304``, ``420``, ... or ``none``)
``esi_request_duration_seconds_total``         counter  ``operation``
``esi_calls_total``                            counter  ``result``: ``hit``, ``miss``,
                                                        ``not_modified``, ``error``
``esi_error_limit_remain``                     gauge
``esi_error_limit_reset_seconds``              gauge
``esi_rate_limit_remaining``                   gauge    ``group`` (its emptiest bucket)
``esi_rate_limit_limit``                       gauge    ``group``
``esi_rate_limit_buckets``                     gauge    ``group``
``esi_rate_limit_blocked_buckets``             gauge    ``group``
``esi_token_refreshes_total``                  counter  ``outcome`` (``refreshed``, ``failed``,
                                                        ``deleted``), ``reason``
``esi_tokens``                                 gauge    ``state`` (the health page's states)
``esi_tokens_backing_off``                     gauge
``esi_tokens_counted_timestamp_seconds``       gauge
=============================================  =======  ===========================================
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

from esi.http import budgets, stats

#: The permission a user needs (with ``is_staff``), as for the dashboard's pages.
PERMISSION = "esi_dashboard.view_dashboard"
#: Reasons of ``esi_token_refreshes_total{outcome="deleted"}``; any other counts as ``other``.
DELETION_REASONS = ("invalid_grant", "invalid_token", "owner_changed", "character_changed")
_REFRESH_KEY = "esi_dashboard:refreshes:"
_REFRESH_SERIES = (
    ("refreshed", ""),
    ("failed", ""),
    *(("deleted", reason) for reason in (*DELETION_REASONS, "other")),
)


# --------------------------------------------------------------------------- refresh outcomes


def count_refresh(outcome: str, reason: str = "") -> None:
    """Add one refresh outcome (``refreshed``, ``failed``, ``deleted`` with a ``reason``)
    to the counters in the cache ``ESI_BUDGET_CACHE_ALIAS`` (atomic ``incr`` where the
    cache has it; a cache failure is logged by :func:`esi.http.stats.shared_cache`)."""
    if outcome == "deleted" and reason not in DELETION_REASONS:
        reason = "other"
    key = f"{_REFRESH_KEY}{outcome}:{reason}"
    with stats.shared_cache() as cache:
        try:
            cache.incr(key)
        except ValueError:
            if not cache.add(key, 1, timeout=None):
                cache.incr(key)


def refresh_counts() -> dict[tuple[str, str], int]:
    """``{(outcome, reason): refreshes}`` since the counters started (absent: 0)."""
    keys = {f"{_REFRESH_KEY}{outcome}:{reason}": (outcome, reason) for outcome, reason in _REFRESH_SERIES}
    found: dict[str, Any] = {}
    with stats.shared_cache() as cache:
        found = cache.get_many(list(keys))
    return {series: int(found.get(key) or 0) for key, series in keys.items()}


def on_refreshed(sender: Any, **kwargs: Any) -> None:
    """Receiver of :data:`esi.signals.token_refreshed`."""
    count_refresh("refreshed")


def on_refresh_failed(sender: Any, **kwargs: Any) -> None:
    """Receiver of :data:`esi.signals.token_refresh_failed`."""
    count_refresh("failed")


def on_deleted(sender: Any, reason: str = "", **kwargs: Any) -> None:
    """Receiver of :data:`esi.signals.token_deleted`."""
    count_refresh("deleted", str(reason))


# --------------------------------------------------------------------------- the collector


class EsiCollector:
    """A ``prometheus_client`` collector: every metric of the table in this module's
    docstring, read when collected."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from .models import HealthCount

        requests = CounterMetricFamily(
            "esi_requests", "ESI requests that reached the network, by operation and status.", labels=["operation", "status"]
        )
        for operation, statuses in sorted(stats.status_counts().items()):
            for status, n in sorted(statuses.items()):
                requests.add_metric([operation, status], n)
        yield requests
        duration = CounterMetricFamily(
            "esi_request_duration_seconds", "Time spent in ESI requests, by operation.", labels=["operation"]
        )
        for operation, counts in sorted(stats.operation_counts().items()):
            duration.add_metric([operation], counts["seconds"])
        yield duration
        calls = CounterMetricFamily(
            "esi_calls", "ESI calls by how they were answered: from the cache (hit), by ESI.", labels=["result"]
        )
        for category, n in stats.cache_counts().items():
            calls.add_metric([{"hits": "hit", "misses": "miss", "errors": "error"}.get(category, category)], n)
        yield calls

        error = budgets.error_limit()
        if error is not None:
            yield GaugeMetricFamily(
                "esi_error_limit_remain", "X-ESI-Error-Limit-Remain of ESI's newest answer.", value=error.remain
            )
            yield GaugeMetricFamily(
                "esi_error_limit_reset_seconds",
                "Seconds until ESI's error-limit window resets.",
                value=max(0.0, error.reset_at - time.time()),
            )
        yield from self._rate_limits()

        refreshes = CounterMetricFamily(
            "esi_token_refreshes", "Token refreshes by outcome (and deletions by reason).", labels=["outcome", "reason"]
        )
        for (outcome, reason), n in refresh_counts().items():
            refreshes.add_metric([outcome, reason], n)
        yield refreshes

        count = HealthCount.latest_count()
        if count is not None:
            tokens = GaugeMetricFamily(
                "esi_tokens", "Tokens by state at the newest dashboard count.", labels=["state"]
            )
            for state in ("valid", "expiring", "expired", "unrefreshable", "failing"):
                tokens.add_metric([state], getattr(count, state))
            yield tokens
            yield GaugeMetricFamily(
                "esi_tokens_backing_off", "Tokens background refreshes skip for now.", value=count.backing_off
            )
            yield GaugeMetricFamily(
                "esi_tokens_counted_timestamp_seconds",
                "When the newest dashboard count was taken (Unix time).",
                value=count.counted_at.timestamp(),
            )

    def _rate_limits(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        now = time.time()
        groups: dict[str, list[budgets.BucketState]] = {}
        for bucket in budgets.rate_limits():
            groups.setdefault(bucket.group, []).append(bucket)
        remaining = GaugeMetricFamily(
            "esi_rate_limit_remaining", "Tokens left in the emptiest bucket of a rate-limit group.", labels=["group"]
        )
        limit = GaugeMetricFamily("esi_rate_limit_limit", "Tokens of a full bucket of the group.", labels=["group"])
        count = GaugeMetricFamily("esi_rate_limit_buckets", "Buckets (characters, or public) of the group.", labels=["group"])
        blocked = GaugeMetricFamily(
            "esi_rate_limit_blocked_buckets", "Buckets of the group blocked by a 429 now.", labels=["group"]
        )
        for group, members in sorted(groups.items()):
            known = [b for b in members if b.remaining is not None]
            if known:
                remaining.add_metric([group], min(b.remaining for b in known if b.remaining is not None))
            limits = [b.limit for b in members if b.limit]
            if limits:
                limit.add_metric([group], max(limits))
            count.add_metric([group], len(members))
            blocked.add_metric([group], sum(1 for b in members if b.blocked_until is not None and b.blocked_until > now))
        yield from (remaining, limit, count, blocked)


# --------------------------------------------------------------------------- the view


def _basic_auth_user(request: HttpRequest) -> Any:
    """The active user named by an ``Authorization: Basic`` header whose password checks
    out, else ``None`` (a malformed header is no credentials)."""
    scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    if not colon or not username:
        return None
    return authenticate(request, username=username, password=password)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET``: the metrics in Prometheus' text exposition format.

    Prometheus logs in with HTTP Basic auth (``basic_auth`` in its scrape config) as a
    user who is active staff holding ``esi_dashboard.view_dashboard``; a logged-in admin
    session works too. Answers 401 (with ``WWW-Authenticate``) without valid credentials,
    403 without the permission, 405 for other methods, and 501 when ``prometheus-client``
    is not installed.
    """
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    user = request.user if request.user.is_authenticated else _basic_auth_user(request)
    if user is None:
        response = HttpResponse("Log in with HTTP Basic auth as staff holding esi_dashboard.view_dashboard.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Basic realm="esi_metrics", charset="UTF-8"'
        return response
    if not (user.is_active and user.is_staff and user.has_perm(PERMISSION)):
        return HttpResponse("The user may not read the ESI metrics.\n", status=403, content_type="text/plain")
    try:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    except ImportError:
        return HttpResponse(
            "prometheus-client is not installed: pip install 'django-esi-ng[metrics]'.\n",
            status=501,
            content_type="text/plain",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EsiCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
