"""The dashboard's admin views. :class:`esi_dashboard.admin.DashboardAdmin` routes them and
wraps each in ``AdminSite.admin_view`` (active staff only, CSRF, no caching); each view
then checks its own permission.

- ``esi_dashboard.view_dashboard``: the three pages, the CSV export, a scope count.
- ``esi.change_token`` as well: "Refresh expired tokens" (as for the token list's action).
"""

from __future__ import annotations

import csv
import datetime
import time
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView
from django_tables2 import LazyPaginator, RequestConfig, SingleTableMixin

from esi import app_settings as esi_settings
from esi.http import budgets, guard, stats
from esi.models import Scope, Token

from . import app_settings, charts, metrics, queue
from .forms import TokenFilterForm
from .models import CoverageCount, Dashboard, HealthCount, ScopeCount
from .tables import (
    BucketTable,
    DeletionCountTable,
    ErrorCountTable,
    EventTable,
    LateRows,
    MissingCharacterTable,
    OperationTable,
    RequiredScopeTable,
    ScopeCountTable,
    TokenTable,
)

VIEW_PERMISSION = "esi_dashboard.view_dashboard"
REFRESH_PERMISSION = "esi.change_token"
#: The pages, for the tabs: (URL name, title).
PAGES = [
    ("esi_dashboard_health", "Token health"),
    ("esi_dashboard_scopes", "Scope coverage"),
    ("esi_dashboard_budgets", "ESI budgets"),
]


def _pagination() -> dict[str, Any]:
    return {"per_page": app_settings.ESI_DASHBOARD_PAGE_SIZE}


def _configure(request: HttpRequest, table: Any) -> Any:
    """Sort and paginate a secondary table of a page from the request (its own prefix)."""
    return RequestConfig(request, paginate=_pagination()).configure(table)


class DashboardMixin:
    """Permission check and the admin's context (``each_context``, title, tabs)."""

    model_admin: Any = None
    permission = VIEW_PERMISSION
    title = ""
    url_name = ""
    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(self.permission):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def current_count(self, model: Any, func: str) -> tuple[Any, str | None]:
        """The newest count of ``model`` (:class:`HealthCount` or :class:`CoverageCount`),
        and the id of the count task by ``func`` queued when it is late (see
        :func:`queue.count_is_late`), else ``None``. With a synchronous django-q2 (tests,
        the demo) the new count is returned at once."""
        count = model.latest_count()
        if not queue.count_is_late(count.counted_at if count else None):
            return count, None
        task_id = queue.request_count(func)
        return model.latest_count() or count, task_id

    def count_context(self, count: Any, recount_task: str | None) -> dict[str, Any]:
        """What ``esi_dashboard/includes/count.html`` shows about a count."""
        return {
            "count": count,
            "count_late": count is not None and queue.count_is_late(count.counted_at),
            "count_interval": app_settings.ESI_DASHBOARD_COUNT_INTERVAL,
            "recount_task": recount_task,
        }

    def admin_context(self) -> dict[str, Any]:
        site = self.model_admin.admin_site
        return {
            **site.each_context(self.request),
            "title": self.title,
            "opts": Dashboard._meta,
            "pages": [(name, title, name == self.url_name) for name, title in PAGES],
            "can_refresh": self.request.user.has_perm(REFRESH_PERMISSION),
            # Redis down: say what the site runs without (the system check esi.W004).
            "cache_outages": guard.outages(),
        }


def _filtered_tokens(request: HttpRequest, now: datetime.datetime) -> tuple[TokenFilterForm, QuerySet[Token]]:
    """The token table's filter form bound to the request, and the tokens it selects."""
    scopes = dict(Scope.objects.order_by("name").values_list("name", "pk"))
    form = TokenFilterForm(request.GET, scopes)
    return form, form.filter(metrics.token_rows(), now)


class HealthView(DashboardMixin, SingleTableMixin, TemplateView):
    """Token health: state counts, failing errors, deletions, the expiry histogram and the
    token table (filters ``user``, ``character``, ``scope``, ``state``; ``sort``, ``page``,
    ``per_page``)."""

    template_name = "esi_dashboard/health.html"
    title = "Token health"
    url_name = "esi_dashboard_health"
    table_class = TokenTable

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.now = timezone.now()
        self.form, self.rows = _filtered_tokens(request, self.now)
        self.count, self.recount_task = self.current_count(HealthCount, "esi_dashboard.tasks.count_tokens")
        return super().get(request, *args, **kwargs)

    def get_table_data(self) -> Any:
        return LateRows(self.rows)

    def get_table_kwargs(self) -> dict[str, Any]:
        return {"now": self.now, "current_app": self.model_admin.admin_site.name}

    def get_table_pagination(self, table: Any) -> dict[str, Any]:
        # No COUNT(*) of the selected tokens: a page reads one row past its end to know
        # whether another follows.
        return {**_pagination(), "paginator_class": LazyPaginator}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        overview = metrics.overview_of(self.count)
        errors = ErrorCountTable(
            [{"what": error, "tokens": n} for error, n in (self.count.errors if self.count else [])], prefix="errors-"
        )
        deleted = metrics.deletions_by_reason(24, self.now)
        deletions = DeletionCountTable([{"what": reason, "tokens": n} for reason, n in deleted], prefix="deleted-")
        bars = [
            charts.Bar(
                b.label,
                b.count,
                "expired" if b.expired else "live",
                f"{b.count} token(s) whose access token {'expired' if b.expired else 'expires'} {b.label}",
            )
            for b in overview.histogram
        ]
        query = self.request.GET.copy()
        for name in ("page", "per_page"):
            query.pop(name, None)
        context.update(
            self.admin_context(),
            **self.count_context(self.count, self.recount_task),
            overview=overview,
            states=[(state, label, overview.states[state]) for state, label in metrics.State.CHOICES],
            deleted_total=sum(n for _, n in deleted),
            can_view_deletions=self.request.user.has_perm("esi_dashboard.view_tokendeletion"),
            errors_table=_configure(self.request, errors),
            deletions_table=_configure(self.request, deletions),
            histogram=charts.histogram(bars, "Tokens by access token expiry"),
            filter_form=self.form,
            export_query=query.urlencode(),
        )
        return context


class ExportView(DashboardMixin, View):
    """GET ``tokens.csv``: every token the health page's filters select, in its table's
    order (``sort``), as CSV with the columns of :meth:`TokenTable.export_header`
    (``character_name, character_id, user, scopes`` (space separated), ``expires`` (ISO
    8601), ``state, last_refresh_at, last_refresh_ok, last_refresh_error,
    refresh_failures``). Streamed: 1000 tokens (with their users) per query, plus one for
    their scopes."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> StreamingHttpResponse:
        now = timezone.now()
        _, rows = _filtered_tokens(request, now)
        table = TokenTable(rows, now=now)
        RequestConfig(request, paginate=False).configure(table)
        response = StreamingHttpResponse(_csv_rows(table, now), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="esi-tokens-{now:%Y%m%d-%H%M%S}.csv"'
        return response


class _Echo:
    def write(self, value: str) -> str:
        return value


#: Spreadsheets run cells that start with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


#: Rows the export reads per query.
_CSV_CHUNK = 1000


def _csv_rows(table: TokenTable, now: datetime.datetime) -> Iterator[str]:
    """The CSV lines of ``table``'s tokens, in its order: the ordered queryset is read 1000
    tokens at a time (users joined, scope names prefetched per chunk) and each chunk is
    written through a :class:`TokenTable` of its own, so that the export's values are the
    table's."""
    writer = csv.writer(_Echo())
    yield writer.writerow(table.export_header())
    chunk: list[Token] = []
    for token in table.data.data.iterator(chunk_size=_CSV_CHUNK):
        chunk.append(token)
        if len(chunk) == _CSV_CHUNK:
            yield from _csv_chunk(writer, chunk, now)
            chunk = []
    yield from _csv_chunk(writer, chunk, now)


def _csv_chunk(writer: Any, chunk: list[Token], now: datetime.datetime) -> Iterator[str]:
    for values in TokenTable(chunk, now=now, order_by=()).export_rows():
        yield writer.writerow([_cell(value) for value in values])


class ScopesView(DashboardMixin, SingleTableMixin, TemplateView):
    """Scope coverage: who holds each scope (from the newest :class:`CoverageCount`), the
    scopes the site asks for, and with ``?missing=<scope>`` the characters missing one."""

    template_name = "esi_dashboard/scopes.html"
    title = "Scope coverage"
    url_name = "esi_dashboard_scopes"
    table_class = ScopeCountTable

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.count, self.recount_task = self.current_count(CoverageCount, "esi_dashboard.tasks.count_scopes")
        return super().get(request, *args, **kwargs)

    def get_table_data(self) -> Any:
        if self.count is None:
            return ScopeCount.objects.none()
        return self.count.scopes.all()

    def get_table_kwargs(self) -> dict[str, Any]:
        return {"characters": self.count.characters if self.count else 0}

    def get_table_pagination(self, table: Any) -> dict[str, Any]:
        return _pagination()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        required = metrics.site_required_scopes()
        held = list(self.count.scopes.filter(scope__in=list(required))) if self.count and required else []
        total = (
            metrics.Totals(self.count.tokens, self.count.characters, self.count.users)
            if self.count
            else metrics.Totals(0, 0, 0)
        )
        rows = [
            {"name": r.name, "sources": r.sources, "tokens": r.tokens, "characters": r.characters, "missing": r.missing}
            for r in metrics.required_coverage(required, [_Held(h) for h in held], total)
        ]
        missing = self.request.GET.get("missing", "")
        missing_table = None
        unknown_scope = False
        if missing:
            if missing in required or Scope.objects.filter(name=missing).exists():
                missing_table = RequestConfig(
                    self.request, paginate={**_pagination(), "paginator_class": LazyPaginator}
                ).configure(MissingCharacterTable(metrics.characters_missing(missing), prefix="missing-"))
            else:
                unknown_scope = True
        context.update(
            self.admin_context(),
            **self.count_context(self.count, self.recount_task),
            required_table=_configure(self.request, RequiredScopeTable(rows, prefix="required-")),
            missing_scope=missing,
            missing_table=missing_table,
            unknown_scope=unknown_scope,
        )
        return context


class _Held:
    """A stored :class:`ScopeCount` in the shape :func:`metrics.required_coverage` reads."""

    def __init__(self, row: ScopeCount) -> None:
        self.name = row.scope
        self.tokens = row.tokens
        self.characters = row.characters


class BudgetsView(DashboardMixin, SingleTableMixin, TemplateView):
    """ESI budgets: the error limit now and over the last hours, the rate-limit buckets,
    recent 420 and 429 answers, cache hits and per-operation requests."""

    template_name = "esi_dashboard/budgets.html"
    title = "ESI budgets"
    url_name = "esi_dashboard_budgets"
    table_class = BucketTable

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.now = time.time()
        self.buckets = budgets.rate_limits()
        return super().get(request, *args, **kwargs)

    def get_table_data(self) -> Any:
        rows = []
        for b in self.buckets:
            known = b.limit and b.remaining is not None
            rows.append(
                {
                    "group": b.group,
                    "character_id": b.character_id,
                    "character_name": None,
                    "limit": b.limit,
                    "remaining": b.remaining,
                    "window_seconds": b.window_seconds,
                    "used": b.used,
                    "blocked_until": b.blocked_until,
                    "updated_at": b.updated_at,
                    "share": b.remaining / b.limit if known else -1.0,  # type: ignore[operator]
                }
            )
        return rows

    def get_table_kwargs(self) -> dict[str, Any]:
        return {"now": self.now}

    def get_table_pagination(self, table: Any) -> dict[str, Any]:
        return _pagination()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = [row.record for row in context["table"].page.object_list if row.record["character_id"] is not None]
        if page:
            names = dict(
                Token.objects.filter(character_id__in={row["character_id"] for row in page})
                .values_list("character_id", "character_name")
                .distinct()
            )
            for row in page:
                row["character_name"] = names.get(row["character_id"])
        error = budgets.error_limit()
        hours = esi_settings.ESI_STATS_RETENTION_HOURS
        threshold = int(esi_settings.ESI_ERROR_LIMIT_THRESHOLD)
        counts = stats.cache_counts()
        calls = sum(counts.values())
        operations = [
            {
                "operation": name,
                "calls": int(op["calls"]),
                "errors": int(op["errors"]),
                "mean_ms": round(1000 * op["seconds"] / op["calls"], 1) if op["calls"] else 0.0,
            }
            for name, op in stats.operation_counts().items()
        ]
        context.update(
            self.admin_context(),
            error=error,
            error_reset_in=max(0.0, error.reset_at - self.now) if error else None,
            error_window_over=bool(error and error.reset_at <= self.now),
            threshold=threshold,
            hours=hours,
            timeline=charts.timeline(
                stats.error_limit_timeline(hours),
                self.now - hours * 3600,
                self.now,
                f"Lowest error-limit remain per minute, last {hours} h",
                threshold=threshold,
            ),
            gauges=charts.gauges(_group_gauges(self.buckets, self.now), "Remaining tokens per rate-limit group"),
            events_table=_configure(self.request, EventTable(stats.recent_events(100), prefix="events-")),
            operations_table=_configure(self.request, OperationTable(operations, prefix="operations-")),
            cache=counts,
            calls=calls,
            hit_percent=round(100 * counts["hits"] / calls, 1) if calls else None,
            saved_percent=round(100 * (counts["hits"] + counts["not_modified"]) / calls, 1) if calls else None,
        )
        return context


def _group_gauges(buckets: list[budgets.BucketState], now: float) -> list[charts.Gauge]:
    """One gauge per rate-limit group: its emptiest bucket (lowest ``remaining / limit``),
    with how many buckets the group has."""
    groups: dict[str, list[budgets.BucketState]] = {}
    for bucket in buckets:
        groups.setdefault(bucket.group, []).append(bucket)
    gauges = []
    for group, members in sorted(groups.items()):
        def share(b: budgets.BucketState) -> float:
            return b.remaining / b.limit if b.limit and b.remaining is not None else 2.0

        worst = min(members, key=share)
        who = "public" if worst.character_id is None else f"character {worst.character_id}"
        blocked = worst.blocked_until is not None and worst.blocked_until > now
        gauges.append(
            charts.Gauge(
                label=group,
                remaining=worst.remaining,
                limit=worst.limit,
                detail=f"{group}: {len(members)} bucket(s); emptiest is {who}"
                + (f", blocked {worst.blocked_until - now:.0f} s more" if blocked else ""),  # type: ignore[operator]
                blocked=blocked,
            )
        )
    return gauges


class RefreshExpiredView(DashboardMixin, View):
    """POST: enqueue :func:`esi.tasks.cleanup_token` (every expired, refreshable token that
    is not backing off) and go back to the health page with a message."""

    permission = REFRESH_PERMISSION
    http_method_names = ["post"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def post(self, request: HttpRequest) -> HttpResponse:
        label = "Refresh of expired tokens"
        task_id = queue.enqueue(request, "esi.tasks.cleanup_token", label)
        messages.success(request, f"{label} queued as task {task_id}.")
        return HttpResponseRedirect(
            reverse("admin:esi_dashboard_health", current_app=self.model_admin.admin_site.name)
        )


class CountView(DashboardMixin, View):
    """POST: enqueue a count now (``func``, one of :data:`queue.COUNTS`) and go back to the
    page that shows it (the URL name ``page``)."""

    http_method_names = ["post"]
    func = "esi_dashboard.tasks.count_scopes"
    page = "esi_dashboard_scopes"

    def post(self, request: HttpRequest) -> HttpResponse:
        label = queue.COUNTS[self.func]
        task_id = queue.enqueue(request, self.func, label)
        messages.success(request, f"{label} queued as task {task_id}.")
        return HttpResponseRedirect(reverse(f"admin:{self.page}", current_app=self.model_admin.admin_site.name))


class TaskStatusView(DashboardMixin, View):
    """GET ``tasks/<task id>/``: ``{"id", "label", "state", "summary", "stopped"}`` of a task
    this session started (404 for any other id). Staff only, like every admin view; no
    dashboard permission needed, so the token list can show its action's outcome."""

    http_method_names = ["get"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return View.dispatch(self, request, *args, **kwargs)

    def get(self, request: HttpRequest, task_id: str) -> HttpResponse:
        entries = [entry for entry in queue.session_tasks(request) if entry["id"] == task_id]
        if not entries:
            raise Http404("No such task in this session")
        return JsonResponse(queue.outcomes(entries)[0].as_json())
