"""What the dashboard's pages show, each figure from one grouped query (never one per row).

Expiry, refresh tokens and failing refreshes follow the rules of
:class:`esi.managers.TokenQueryset` (``expires_by``, ``has_refresh_token``, ``is_failing``):
a token's access token expires at ``expires_at`` (the JWT's ``exp``) or, for rows stored by
django-esi, at ``created`` plus ``ESI_TOKEN_VALID_DURATION`` seconds, and counts as expired
``EXPIRY_LEEWAY`` (30 s) early.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db import connection
from django.utils import timezone

from esi.managers import TokenQueryset, process_scopes
from esi.models import EXPIRY_LEEWAY, Scope, Token
from esi.required_scopes import required_scopes

from . import app_settings
from .models import TokenDeletion

#: "Expiring" means the access token expires within this long (and has not yet).
EXPIRING_WITHIN = datetime.timedelta(minutes=5)
#: The label of scopes listed in ``ESI_DASHBOARD_REQUIRED_SCOPES``.
SETTINGS_SOURCE = "settings: {}"


class State:
    """The states a token can be in, as used by the health counts and the table's filter.

    The first four partition every token by its access token's expiry; ``failing`` (the
    last refresh failed) cuts across them.
    """

    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    UNREFRESHABLE = "unrefreshable"
    FAILING = "failing"

    CHOICES = [
        (VALID, "Valid"),
        (EXPIRING, "Expiring within 5 minutes"),
        (EXPIRED, "Expired, refreshable"),
        (UNREFRESHABLE, "Expired, not refreshable"),
        (FAILING, "Failing refresh"),
    ]


def state_filter(state: str, now: datetime.datetime) -> Q:
    """The filter of one :class:`State` at ``now``, from :class:`TokenQueryset`'s rules.

    Raises:
        ValueError: ``state`` is not one of :attr:`State.CHOICES`.
    """
    expired = TokenQueryset.expires_by(now + EXPIRY_LEEWAY)
    if state == State.VALID:
        return TokenQueryset.expires_later_than(now + EXPIRING_WITHIN)
    if state == State.EXPIRING:
        return TokenQueryset.expires_later_than(now + EXPIRY_LEEWAY) & TokenQueryset.expires_by(now + EXPIRING_WITHIN)
    if state == State.EXPIRED:
        return expired & TokenQueryset.has_refresh_token()
    if state == State.UNREFRESHABLE:
        return expired & ~TokenQueryset.has_refresh_token()
    if state == State.FAILING:
        return TokenQueryset.is_failing()
    raise ValueError(f"unknown token state {state!r}")


def token_state(token: Token, now: datetime.datetime) -> str:
    """The :class:`State` of one token (the table's column), the same rules as
    :func:`state_filter` read from the model: ``failing`` if its last refresh failed, else
    its expiry state."""
    if token.failing:
        return State.FAILING
    expires = token.expires
    if expires <= now + EXPIRY_LEEWAY:
        return State.EXPIRED if token.can_refresh else State.UNREFRESHABLE
    if expires <= now + EXPIRING_WITHIN:
        return State.EXPIRING
    return State.VALID


# --------------------------------------------------------------------------- token health


@dataclasses.dataclass(frozen=True)
class HistogramBin:
    """One bar of the expiry histogram: tokens whose access token expires within
    ``(start, end]`` seconds from now (negative: in the past; ``None``: unbounded)."""

    label: str
    start: int | None
    end: int | None
    count: int

    @property
    def expired(self) -> bool:
        """Whether the bin holds expired tokens (it ends at the expiry leeway or before)."""
        return self.end is not None and self.end <= _LEEWAY


_LEEWAY = int(EXPIRY_LEEWAY.total_seconds())

#: ``(label, end)`` of each bin in seconds from now, oldest expiry first; each bin starts
#: where the previous one ends. The edge at ``EXPIRY_LEEWAY`` separates expired tokens from
#: live ones and the one at five minutes "expiring" from "valid", so the bins add up to the
#: state counts. Access tokens live 20 minutes: every live token is in the last five bins.
HISTOGRAM_BINS: list[tuple[str, int | None]] = [
    ("> 30 d ago", -30 * 86400),
    ("7-30 d ago", -7 * 86400),
    ("1-7 d ago", -86400),
    ("1-24 h ago", -3600),
    ("< 1 h ago", _LEEWAY),
    ("< 5 min", int(EXPIRING_WITHIN.total_seconds())),
    ("5-10 min", 600),
    ("10-15 min", 900),
    ("15-20 min", 1200),
    ("> 20 min", None),
]


@dataclasses.dataclass(frozen=True)
class HealthOverview:
    """The health page's counts at ``now``: ``states`` maps each :class:`State` to a number
    of tokens; ``backing_off`` counts tokens that background refreshes skip until their
    back-off ends; ``histogram`` follows :data:`HISTOGRAM_BINS`."""

    now: datetime.datetime
    total: int
    states: dict[str, int]
    backing_off: int
    histogram: list[HistogramBin]


def _bins(now: datetime.datetime) -> Case:
    """``CASE`` giving the histogram bin of each token's expiry at ``now``."""
    whens = [
        When(TokenQueryset.expires_by(now + datetime.timedelta(seconds=end)), then=Value(index))
        for index, (_, end) in enumerate(HISTOGRAM_BINS)
        if end is not None
    ]
    return Case(*whens, default=Value(len(HISTOGRAM_BINS) - 1), output_field=IntegerField())


def health_overview(now: datetime.datetime | None = None) -> HealthOverview:
    """Every count of the health page, in one pass over the tokens grouped by expiry bin
    and by whether a refresh token is stored (at most twenty groups). It reads every token,
    so :meth:`esi_dashboard.models.HealthCount.take` runs it in the background."""
    now = now or timezone.now()
    rows = (
        Token.objects.annotate(
            bin=_bins(now),
            refreshable=Case(
                When(TokenQueryset.has_refresh_token(), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
        .values("bin", "refreshable")
        .annotate(
            tokens=Count("*"),
            failing=Count("pk", filter=TokenQueryset.is_failing()),
            backing_off=Count("pk", filter=Q(refresh_backoff_until__gt=now)),
        )
        .order_by()
    )
    counts = [0] * len(HISTOGRAM_BINS)
    unrefreshable = [0] * len(HISTOGRAM_BINS)
    failing = backing_off = 0
    for row in rows:
        counts[row["bin"]] += row["tokens"]
        if not row["refreshable"]:
            unrefreshable[row["bin"]] += row["tokens"]
        failing += row["failing"]
        backing_off += row["backing_off"]
    live = next(i for i, (_, end) in enumerate(HISTOGRAM_BINS) if end is not None and end > _LEEWAY)
    states = {
        State.VALID: sum(counts[live + 1 :]),
        State.EXPIRING: counts[live],
        State.EXPIRED: sum(counts[:live]) - sum(unrefreshable[:live]),
        State.UNREFRESHABLE: sum(unrefreshable[:live]),
        State.FAILING: failing,
    }
    return HealthOverview(
        now=now, total=sum(counts), states=states, backing_off=backing_off, histogram=_histogram(counts)
    )


def overview_of(count: Any) -> HealthOverview:
    """The :class:`HealthOverview` a stored :class:`esi_dashboard.models.HealthCount`
    holds (all zeros at now for ``None``, before the first count)."""
    if count is None:
        return HealthOverview(
            now=timezone.now(),
            total=0,
            states={state: 0 for state, _ in State.CHOICES},
            backing_off=0,
            histogram=_histogram([0] * len(HISTOGRAM_BINS)),
        )
    counts = list(count.histogram)
    if len(counts) != len(HISTOGRAM_BINS):  # taken by a release with other bins
        counts = [0] * len(HISTOGRAM_BINS)
    return HealthOverview(
        now=count.counted_at,
        total=count.total,
        states={state: getattr(count, state) for state, _ in State.CHOICES},
        backing_off=count.backing_off,
        histogram=_histogram(counts),
    )


def _histogram(counts: list[int]) -> list[HistogramBin]:
    bins = []
    start: int | None = None
    for (label, end), count in zip(HISTOGRAM_BINS, counts, strict=True):
        bins.append(HistogramBin(label, start, end, count))
        start = end
    return bins


def failing_errors(limit: int = 10) -> list[tuple[str, int]]:
    """The most common last refresh errors of failing tokens: ``[(error, tokens)]``, most
    frequent first (one grouped query)."""
    rows = (
        Token.objects.failing()
        .values("last_refresh_error")
        .annotate(tokens=Count("pk"))
        .order_by("-tokens", "last_refresh_error")[:limit]
    )
    return [(row["last_refresh_error"] or "(no message)", row["tokens"]) for row in rows]


def deletions_by_reason(hours: int = 24, now: datetime.datetime | None = None) -> list[tuple[str, int]]:
    """Tokens the refresh engine deleted in the last ``hours`` hours, by reason:
    ``[(reason, tokens)]``, most frequent first (one grouped query)."""
    since = (now or timezone.now()) - datetime.timedelta(hours=hours)
    rows = (
        TokenDeletion.objects.filter(deleted_at__gte=since)
        .values("reason")
        .annotate(tokens=Count("pk"))
        .order_by("-tokens", "reason")
    )
    return [(row["reason"], row["tokens"]) for row in rows]


def token_rows() -> QuerySet[Token]:
    """The token table's rows with their users (joined) and scope names (prefetched: one
    query per page). The access token (a JWT of about a kilobyte) is left out. The table
    finds a page's primary keys first (:class:`esi_dashboard.tables.LateRows`), so the join
    with the users only ever reads the rows of one page."""
    return (
        Token.objects.defer("access_token")
        .select_related("user")
        .prefetch_related(Prefetch("scopes", queryset=Scope.objects.only("name").order_by("name")))
    )


# --------------------------------------------------------------------------- scope coverage


@dataclasses.dataclass(frozen=True)
class Totals:
    """How many tokens, distinct characters and distinct users (owners) there are."""

    tokens: int
    characters: int
    users: int


def totals() -> Totals:
    """:class:`Totals`, one aggregate query per figure: each reads one narrow index
    (``character_id``, ``user_id``) instead of every token's row, which on MariaDB holds the
    kilobyte of the access token."""
    return Totals(
        Token.objects.count(),
        Token.objects.values("character_id").distinct().count(),
        Token.objects.exclude(user=None).values("user_id").distinct().count(),
    )


@dataclasses.dataclass(frozen=True)
class ScopeHolders:
    """How many tokens, distinct characters and distinct users hold the scope ``name``."""

    name: str
    tokens: int
    characters: int
    users: int


def scope_coverage() -> list[ScopeHolders]:
    """Every scope with the tokens, characters and users holding it (scopes no token holds
    count zero), in three grouped queries over the token-scope links: tokens per scope,
    then distinct characters and distinct users per scope, each joined to one narrow index
    of the tokens. One query counting all three read every token's row (with its access
    token): 5.5 minutes for 4,000,000 links on MariaDB. It still reads every link, so
    :class:`esi_dashboard.models.CoverageCount` runs it in the background."""
    links = Token.scopes.through.objects.values("scope_id").order_by()

    def per_scope(count: Count) -> dict[int, int]:
        return {row["scope_id"]: row["n"] for row in links.annotate(n=count)}

    tokens = per_scope(Count("*"))
    characters = per_scope(Count("token__character_id", distinct=True))
    users = per_scope(Count("token__user_id", distinct=True))
    return [
        ScopeHolders(name, tokens.get(pk, 0), characters.get(pk, 0), users.get(pk, 0))
        for pk, name in Scope.objects.values_list("pk", "name")
    ]


def site_required_scopes() -> dict[str, frozenset[str]]:
    """:func:`esi.required_scopes.required_scopes` plus ``ESI_DASHBOARD_REQUIRED_SCOPES``:
    ``{scope: sources}``. The root URLconf is imported first, so that every decorated view
    it reaches has registered its scopes."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports the views)
    merged = {scope: set(sources) for scope, sources in required_scopes().items()}
    configured = app_settings.ESI_DASHBOARD_REQUIRED_SCOPES
    if isinstance(configured, Mapping):
        for label, scopes in configured.items():
            for scope in process_scopes(scopes):
                merged.setdefault(scope, set()).add(SETTINGS_SOURCE.format(label))
    return {scope: frozenset(sources) for scope, sources in merged.items()}


@dataclasses.dataclass(frozen=True)
class RequiredScope:
    """A scope the site asks for: who asks (``sources``), how many tokens and characters
    hold it, and how many characters with tokens hold none with it (``missing``)."""

    name: str
    sources: list[str]
    tokens: int
    characters: int
    missing: int


def required_coverage(
    required: Mapping[str, Iterable[str]], coverage: Iterable[Any], total: Totals
) -> list[RequiredScope]:
    """Join the required scopes with rows of :func:`scope_coverage` (no query). Sorted by
    the number of characters missing the scope, most first."""
    held = {row.name: row for row in coverage}
    rows = []
    for name, sources in required.items():
        row = held.get(name)
        characters = row.characters if row is not None else 0
        rows.append(
            RequiredScope(
                name=name,
                sources=sorted(sources),
                tokens=row.tokens if row is not None else 0,
                characters=characters,
                missing=max(0, total.characters - characters),
            )
        )
    return sorted(rows, key=lambda r: (-r.missing, r.name))


def probe(queryset: QuerySet[Any], related: QuerySet[Any], *, present: bool) -> QuerySet[Any]:
    """``queryset`` narrowed to the rows for which ``related`` (a queryset correlated to them
    with ``OuterRef``) has a row (``present``) or none, as a scalar subquery that reads at
    most one row of ``related``.

    For MariaDB: it turns ``EXISTS``, ``NOT EXISTS``, ``IN`` and joins into semi-joins that
    first collect every match (hundreds of thousands of rows at a million tokens) and then
    sort them; a scalar subquery it cannot flatten keeps it walking an index in the page's
    order, stopping after the page (tens of seconds against tens of milliseconds).
    """
    first = Subquery(related.values("pk")[:1])
    return queryset.alias(related_probe=first).filter(related_probe__isnull=not present)


def characters_missing(scope: str) -> QuerySet[Any]:
    """Characters with tokens of which none holds ``scope``: rows ``{"character_id",
    "name", "tokens", "users", "last_created"}`` by character ID (one grouped query per
    page: in character ID order the database stops after the page's groups)."""
    holders = Token.objects.filter(character_id=OuterRef("character_id"), scopes__name=scope)
    # Per character, not NOT IN: the database then walks the character_id index and stops
    # after a page of characters instead of first collecting every holder of the scope.
    if connection.vendor == "mysql":
        lacking = probe(Token.objects.all(), holders, present=False)
    else:
        lacking = Token.objects.filter(~Exists(holders))
    return (
        lacking.values("character_id")
        .annotate(
            name=Max("character_name"),
            tokens=Count("pk"),
            users=Count("user", distinct=True),
            last_created=Max("created"),
        )
        .order_by("character_id")
    )
