"""The dashboard's tables (django-tables2). Sorting happens in the database for querysets
and in Python for the short lists (error counts, buckets, events)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import django_tables2 as tables
from django_tables2.data import TableQuerysetData
from django.core.paginator import Paginator
from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince, timeuntil

from esi.models import Token

from . import app_settings
from .metrics import State, token_state

#: The largest page a ``per_page`` parameter may ask for.
MAX_PER_PAGE = 500
_STATE_LABELS = dict(State.CHOICES)


class DashboardTable(tables.Table):
    """The dashboard's look (``esi_dashboard/table.html``) and page size: the
    ``ESI_DASHBOARD_PAGE_SIZE`` setting, or a ``per_page`` parameter from 1 to
    :data:`MAX_PER_PAGE` (anything else gets the setting)."""

    class Meta:
        template_name = "esi_dashboard/table.html"
        attrs = {"class": "esi-table"}

    def paginate(self, paginator_class: Any = Paginator, per_page: Any = None, page: Any = 1, *args: Any, **kwargs: Any) -> Any:
        if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
            per_page = app_settings.ESI_DASHBOARD_PAGE_SIZE
        return super().paginate(paginator_class, min(per_page, MAX_PER_PAGE), page, *args, **kwargs)


def _relative(moment: datetime.datetime | None, now: datetime.datetime) -> str:
    if moment is None:
        return "—"
    if moment > now:
        return f"in {timeuntil(moment, now)}"
    return f"{timesince(moment, now)} ago"


def _admin_url(name: str, *args: Any, current_app: str | None = None) -> str | None:
    try:
        return reverse(name, args=args, current_app=current_app)
    except NoReverseMatch:
        return None


class LateRows(TableQuerysetData):
    """Table data whose pages read their primary keys first and then only their rows.

    Finding a page deep in a large filtered table means walking an index past thousands of
    tokens; reading only the key does that inside the index, where reading whole rows (on
    MariaDB, a kilobyte of access token each) would fetch every row walked past. Two
    queries instead of one; the rows come back in the page's order.
    """

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, slice):
            return super().__getitem__(key)
        ids = list(self.data.values_list("pk", flat=True)[key])
        rows = {row.pk: row for row in self.data.order_by().filter(pk__in=ids)}
        return [rows[pk] for pk in ids if pk in rows]


class TokenTable(DashboardTable):
    """Tokens: character, user, scopes, expiry, state, last refresh and failures.

    The one definition of a token row: the health page renders it (``render_*``) and the
    CSV export writes its values (``value_*``, :meth:`export_header`, :meth:`export_rows`).
    The hidden columns ``last_refresh_at``, ``last_refresh_ok`` and ``last_refresh_error``
    are exported only; ``last_refresh`` is shown only.
    """

    character_name = tables.Column("Character", order_by=("character_name", "pk"))
    character_id = tables.Column("Character ID", order_by=("character_id", "pk"))
    user = tables.Column("User", accessor="user__username", order_by=("user__username", "pk"), default="—")
    scopes = tables.Column("Scopes", empty_values=(), orderable=False)
    expires = tables.Column("Access token expires", accessor="expires_at", order_by=("expires_at", "pk"), empty_values=())
    state = tables.Column("State", empty_values=(), orderable=False)
    last_refresh = tables.Column(
        "Last refresh",
        accessor="last_refresh_at",
        order_by=("last_refresh_at", "pk"),
        empty_values=(),
        exclude_from_export=True,
    )
    last_refresh_at = tables.Column(visible=False, orderable=False)
    last_refresh_ok = tables.Column(visible=False, orderable=False)
    last_refresh_error = tables.Column(visible=False, orderable=False)
    refresh_failures = tables.Column("Failures", order_by=("refresh_failures", "pk"))

    class Meta(DashboardTable.Meta):
        attrs = {"class": "esi-table", "id": "esi-token-table"}
        empty_text = "No token matches."
        order_by = ("character_name",)

    def __init__(self, *args: Any, now: datetime.datetime | None = None, current_app: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        self.current_app = current_app

    def order_expires(self, queryset: Any, is_descending: bool) -> tuple[Any, bool]:
        """By ``expires_at``, with the rows django-esi stored without it (long expired,
        as a rule) first: the same order on every database."""
        field = F("expires_at").desc(nulls_last=True) if is_descending else F("expires_at").asc(nulls_first=True)
        return queryset.order_by(field, "-pk" if is_descending else "pk"), True

    def render_character_name(self, record: Token, value: str) -> str:
        url = _admin_url("admin:esi_token_change", record.pk, current_app=self.current_app)
        return format_html('<a href="{}">{}</a>', url, value) if url else value

    def value_character_name(self, value: str) -> str:
        return value

    def render_scopes(self, record: Token) -> str:
        names = self.value_scopes(record).split()
        if not names:
            return "—"
        shown = ", ".join(names[:3]) + (f", … ({len(names)})" if len(names) > 3 else "")
        return format_html('<span title="{}">{}</span>', " ".join(names), shown)

    def value_scopes(self, record: Token) -> str:
        """Scope names, space separated, in name order (as prefetched by
        :func:`esi_dashboard.metrics.token_rows`)."""
        return " ".join(scope.name for scope in record.scopes.all())

    def render_expires(self, record: Token) -> str:
        expires = record.expires
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            expires.isoformat(),
            expires.strftime("%Y-%m-%d %H:%M:%S UTC"),
            _relative(expires, self.now),
        )

    def value_expires(self, record: Token) -> str:
        return record.expires.isoformat()

    def render_state(self, record: Token) -> str:
        state = token_state(record, self.now)
        return format_html('<span class="esi-state {}">{}</span>', state, _STATE_LABELS[state])

    def value_state(self, record: Token) -> str:
        return token_state(record, self.now)

    def render_last_refresh(self, record: Token) -> str:
        if record.last_refresh_at is None:
            return "never"
        when = _relative(record.last_refresh_at, self.now)
        if record.last_refresh_ok is False:
            return format_html(
                '{} <span class="esi-state failing" title="{}">failed</span>', when, record.last_refresh_error
            )
        return format_html('{} <span class="esi-state valid">ok</span>', when)

    def value_last_refresh_at(self, value: datetime.datetime) -> str:
        return value.isoformat()

    def value_last_refresh_ok(self, value: bool) -> str:
        return str(value).lower()

    def export_header(self) -> list[str]:
        """The names of the exported columns, in the table's order."""
        return [column.name for column in self.columns.iterall() if not column.column.exclude_from_export]

    def export_rows(self) -> Iterator[list[Any]]:
        """Each row's exported values, in :meth:`export_header`'s order (``None`` for an
        empty cell)."""
        rows = self.as_values()
        next(rows)  # the verbose headers
        return rows


class ErrorCountTable(DashboardTable):
    """The last refresh errors of failing tokens, with how many tokens have each."""

    what = tables.Column("Last error")
    tokens = tables.Column("Tokens")

    class Meta(DashboardTable.Meta):
        order_by = ("-tokens",)
        empty_text = "No token is failing."


class DeletionCountTable(DashboardTable):
    """Tokens deleted in the last 24 hours, by reason."""

    what = tables.Column("Reason")
    tokens = tables.Column("Tokens")

    class Meta(DashboardTable.Meta):
        order_by = ("-tokens",)
        empty_text = "No token was deleted."


class ScopeCountTable(DashboardTable):
    """Every scope with the tokens, characters and users holding it (a stored count)."""

    scope = tables.Column("Scope", order_by=("scope",))
    tokens = tables.Column("Tokens", order_by=("tokens", "scope"))
    characters = tables.Column("Characters", order_by=("characters", "scope"))
    users = tables.Column("Users", order_by=("users", "scope"))
    share = tables.Column("Share of characters", empty_values=(), orderable=False)

    class Meta(DashboardTable.Meta):
        attrs = {"class": "esi-table", "id": "esi-scopes"}
        order_by = ("-tokens",)
        empty_text = "No token holds a scope."

    def __init__(self, *args: Any, characters: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.total_characters = characters

    def render_share(self, record: Any) -> str:
        share = record.characters / self.total_characters if self.total_characters else 0.0
        percent = f"{share * 100:.1f}"
        return format_html('<span class="esi-meter"><span style="width: {}%"></span></span> {} %', percent, percent)


class RequiredScopeTable(DashboardTable):
    """The scopes the site asks for, who asks, and how many characters miss each."""

    name = tables.Column("Scope")
    sources = tables.Column("Asked for by", orderable=False)
    tokens = tables.Column("Tokens holding it")
    characters = tables.Column("Characters holding it")
    missing = tables.Column("Characters missing it")

    class Meta(DashboardTable.Meta):
        attrs = {"class": "esi-table", "id": "esi-required"}
        order_by = ("-missing",)
        empty_text = "No view or ESI call has asked for a scope yet."

    def render_sources(self, value: list[str]) -> str:
        return format_html_join(", ", "<code>{}</code>", ((source,) for source in value))

    def render_missing(self, record: Any, value: int) -> str:
        if not value:
            return "0"
        return format_html('<a href="?{}#missing">{}</a>', urlencode({"missing": record["name"]}), value)


class MissingCharacterTable(DashboardTable):
    """Characters with tokens of which none holds the chosen scope."""

    character_id = tables.Column("Character ID", order_by=("character_id",))
    name = tables.Column("Character", order_by=("name", "character_id"))
    tokens = tables.Column("Tokens", order_by=("tokens", "character_id"))
    users = tables.Column("Users", order_by=("users", "character_id"))
    last_created = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Newest token", order_by=("last_created", "character_id"))

    class Meta(DashboardTable.Meta):
        attrs = {"class": "esi-table", "id": "missing"}
        empty_text = "Every character holds it."
        order_by = ("character_id",)


class BucketTable(DashboardTable):
    """Rate-limit buckets: one per group and character (or the public, per-IP bucket)."""

    group = tables.Column("Rate-limit group")
    character = tables.Column("Character", empty_values=(), order_by=("character_id",))
    remaining = tables.Column("Remaining / limit", empty_values=(), order_by=("share",))
    window = tables.Column("Window", empty_values=(), orderable=False)
    used = tables.Column("Last request used", default="—")
    blocked_until = tables.Column("Blocked", empty_values=(), order_by=("blocked_until",))
    updated_at = tables.Column("Updated", empty_values=())

    class Meta(DashboardTable.Meta):
        order_by = ("share",)
        empty_text = "No ESI answer has reported a rate-limit group yet."

    def __init__(self, *args: Any, now: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now

    def render_character(self, record: dict[str, Any]) -> str:
        if record["character_id"] is None:
            return "public (per IP)"
        name = record.get("character_name")
        return f"{name} ({record['character_id']})" if name else str(record["character_id"])

    def render_remaining(self, record: dict[str, Any]) -> str:
        if record["limit"] is None or record["remaining"] is None:
            return "?"
        return f"{record['remaining']} / {record['limit']}"

    def render_window(self, record: dict[str, Any]) -> str:
        seconds = record["window_seconds"]
        return "—" if seconds is None else f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"

    def render_blocked_until(self, record: dict[str, Any]) -> str:
        until = record["blocked_until"]
        if until is None or until <= self.now:
            return "no"
        return format_html('<span class="esi-state failing">{} s more</span>', f"{until - self.now:.0f}")

    def render_updated_at(self, record: dict[str, Any]) -> str:
        return f"{max(0, self.now - record['updated_at']):.0f} s ago"


class EventTable(DashboardTable):
    """Recent 420 (error limit) and 429 (rate limit) answers, newest first."""

    time = tables.Column("When", order_by=("time",))
    status = tables.Column("Status")
    operation = tables.Column("Operation")
    group = tables.Column("Rate-limit group", default="—")
    character_id = tables.Column("Character ID", default="—")
    retry_after = tables.Column("Retry-After", default="—")

    class Meta(DashboardTable.Meta):
        attrs = {"class": "esi-table", "id": "esi-events"}
        order_by = ("-time",)
        empty_text = "No 420 or 429 answer recorded."

    def render_time(self, value: float) -> str:
        return datetime.datetime.fromtimestamp(value, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def render_retry_after(self, value: float) -> str:
        return f"{value:g} s"


class OperationTable(DashboardTable):
    """ESI calls per operation that reached the network (cache hits are not counted)."""

    operation = tables.Column("Operation")
    calls = tables.Column("Requests")
    errors = tables.Column("Errors")
    mean_ms = tables.Column("Mean time (ms)")

    class Meta(DashboardTable.Meta):
        order_by = ("-calls",)
        empty_text = "No ESI request recorded."
