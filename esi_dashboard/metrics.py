"""What the dashboard's pages show, each figure from one grouped query (never one per row).

Expiry follows :class:`esi.models.Token`: a token's access token expires at ``expires_at``
(the JWT's ``exp``) or, for rows stored by django-esi, at ``created`` plus
``ESI_TOKEN_VALID_DURATION`` seconds, and counts as expired ``EXPIRY_LEEWAY`` (30 s) early.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Case, Count, IntegerField, Max, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from esi import app_settings as esi_settings
from esi.managers import process_scopes
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


def _legacy_lifetime() -> datetime.timedelta:
    return datetime.timedelta(seconds=int(esi_settings.ESI_TOKEN_VALID_DURATION))


def expires_at_most(moment: datetime.datetime) -> Q:
    """Tokens whose access token expires at or before ``moment``."""
    return Q(expires_at__lte=moment) | Q(expires_at__isnull=True, created__lte=moment - _legacy_lifetime())


def expires_after(moment: datetime.datetime) -> Q:
    """Tokens whose access token expires after ``moment``."""
    return Q(expires_at__gt=moment) | Q(expires_at__isnull=True, created__gt=moment - _legacy_lifetime())


def refreshable() -> Q:
    """Tokens with a refresh token (``> ''`` is false for NULL and for the empty string)."""
    return Q(refresh_token__gt="")


#: Before any back-off end the refresh engine can set (they are all after the failure).
_LONG_AGO = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def failing() -> Q:
    """Tokens whose last refresh failed transiently.

    The refresh engine sets ``refresh_backoff_until`` with every failure and clears it with
    ``last_refresh_ok`` on success, so the indexed ``refresh_backoff_until`` narrows the
    search to the few failing tokens instead of reading the whole table. It is asked as a
    range (after :data:`_LONG_AGO`) because SQLite does not answer ``IS NOT NULL`` from an
    index.
    """
    return Q(refresh_backoff_until__gt=_LONG_AGO, last_refresh_ok=False)


def state_filter(state: str, now: datetime.datetime) -> Q:
    """The filter of one :class:`State` at ``now``.

    Raises:
        ValueError: ``state`` is not one of :attr:`State.CHOICES`.
    """
    expired = expires_at_most(now + EXPIRY_LEEWAY)
    if state == State.VALID:
        return expires_after(now + EXPIRING_WITHIN)
    if state == State.EXPIRING:
        return expires_after(now + EXPIRY_LEEWAY) & expires_at_most(now + EXPIRING_WITHIN)
    if state == State.EXPIRED:
        return expired & refreshable()
    if state == State.UNREFRESHABLE:
        return expired & ~refreshable()
    if state == State.FAILING:
        return failing()
    raise ValueError(f"unknown token state {state!r}")


def token_state(token: Token, now: datetime.datetime) -> str:
    """The :class:`State` of one token, computed in Python (the table's column): ``failing``
    if its last refresh failed, else its expiry state."""
    return state_of(
        token.expires, bool(token.refresh_token), token.last_refresh_ok, token.refresh_backoff_until, now
    )


def state_of(
    expires: datetime.datetime,
    has_refresh_token: bool,
    last_refresh_ok: bool | None,
    backoff_until: datetime.datetime | None,
    now: datetime.datetime,
) -> str:
    """:func:`token_state` from the columns it reads."""
    if last_refresh_ok is False and backoff_until is not None:
        return State.FAILING
    if expires <= now + EXPIRY_LEEWAY:
        return State.EXPIRED if has_refresh_token else State.UNREFRESHABLE
    if expires <= now + EXPIRING_WITHIN:
        return State.EXPIRING
    return State.VALID


def legacy_expiry(created: datetime.datetime) -> datetime.datetime:
    """When a token stored by django-esi (without ``expires_at``) expires."""
    return created + _legacy_lifetime()


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


def _bins(now: datetime.datetime, legacy: bool) -> Case:
    """``CASE`` giving the histogram bin of each token's expiry at ``now``: from
    ``expires_at``, and with ``legacy`` also from ``created`` for rows without it."""
    whens = []
    for index, (_, end) in enumerate(HISTOGRAM_BINS):
        if end is None:
            continue
        edge = now + datetime.timedelta(seconds=end)
        whens.append(When(expires_at__lte=edge, then=Value(index)))
        if legacy:
            whens.append(When(expires_at__isnull=True, created__lte=edge - _legacy_lifetime(), then=Value(index)))
    return Case(*whens, default=Value(len(HISTOGRAM_BINS) - 1), output_field=IntegerField())


def _count_bins(queryset: QuerySet[Token], now: datetime.datetime, legacy: bool) -> list[int]:
    counts = [0] * len(HISTOGRAM_BINS)
    # COUNT(*), not COUNT(id): PostgreSQL then answers from the index on expires_at alone.
    rows = queryset.annotate(bin=_bins(now, legacy)).values("bin").annotate(tokens=Count("*")).order_by()
    for row in rows:
        counts[row["bin"]] += row["tokens"]
    return counts


def health_overview(now: datetime.datetime | None = None) -> HealthOverview:
    """Every count of the health page, in four queries.

    The expiry bins come from the index on ``expires_at`` alone (one grouped query) plus
    the rows django-esi stored without it (one more, on ``created``). The tokens without a
    refresh token take one pass over the table (nothing indexes them; they are rare, so
    the pass groups few rows), the failing and backing-off ones a search of the index on
    ``refresh_backoff_until``.
    """
    now = now or timezone.now()
    dated = _count_bins(Token.objects.filter(expires_at__isnull=False), now, legacy=False)
    undated = _count_bins(Token.objects.filter(expires_at__isnull=True), now, legacy=True)
    counts = [a + b for a, b in zip(dated, undated, strict=True)]
    unrefreshable = _count_bins(Token.objects.exclude(refreshable()), now, legacy=True)
    backoff = Token.objects.filter(refresh_backoff_until__gt=_LONG_AGO).aggregate(
        failing=Count("pk", filter=Q(last_refresh_ok=False)),
        backing_off=Count("pk", filter=Q(refresh_backoff_until__gt=now)),
    )
    live = next(i for i, (_, end) in enumerate(HISTOGRAM_BINS) if end is not None and end > _LEEWAY)
    states = {
        State.VALID: sum(counts[live + 1 :]),
        State.EXPIRING: counts[live],
        State.EXPIRED: sum(counts[:live]) - sum(unrefreshable[:live]),
        State.UNREFRESHABLE: sum(unrefreshable[:live]),
        State.FAILING: backoff["failing"],
    }
    bins = []
    start: int | None = None
    for (label, end), count in zip(HISTOGRAM_BINS, counts, strict=True):
        bins.append(HistogramBin(label, start, end, count))
        start = end
    return HealthOverview(
        now=now, total=sum(counts), states=states, backing_off=backoff["backing_off"], histogram=bins
    )


def failing_errors(limit: int = 10) -> list[tuple[str, int]]:
    """The most common last refresh errors of failing tokens: ``[(error, tokens)]``, most
    frequent first (one grouped query)."""
    rows = (
        Token.objects.filter(failing())
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
    """The token table's rows, with their users and scope names prefetched (one query
    each per page of the table). The access token (a JWT of about a kilobyte) is left out,
    and so are the users' rows until the page is chosen: sorting wide rows to find a page
    costs more than the rest of the page."""
    return (
        Token.objects.defer("access_token")
        .prefetch_related("user", Prefetch("scopes", queryset=Scope.objects.only("name").order_by("name")))
    )


# --------------------------------------------------------------------------- scope coverage


@dataclasses.dataclass(frozen=True)
class Totals:
    """How many tokens, distinct characters and distinct users (owners) there are."""

    tokens: int
    characters: int
    users: int


def totals() -> Totals:
    """:class:`Totals`, in one aggregate query."""
    row = Token.objects.aggregate(
        tokens=Count("pk"),
        characters=Count("character_id", distinct=True),
        users=Count("user", distinct=True),
    )
    return Totals(row["tokens"], row["characters"], row["users"])


@dataclasses.dataclass(frozen=True)
class ScopeHolders:
    """How many tokens, distinct characters and distinct users hold the scope ``name``."""

    name: str
    tokens: int
    characters: int
    users: int


def scope_coverage() -> list[ScopeHolders]:
    """Every scope with the tokens, characters and users holding it, in one grouped query
    (scopes no token holds count zero). It joins every token-scope link with its token:
    about a second for 400,000 links, so :class:`esi_dashboard.models.CoverageCount` runs
    it in the background."""
    rows = Scope.objects.values("name").annotate(
        tokens=Count("token"),
        characters=Count("token__character_id", distinct=True),
        users=Count("token__user", distinct=True),
    )
    return [ScopeHolders(r["name"], r["tokens"], r["characters"], r["users"]) for r in rows]


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


def characters_missing(scope: str) -> QuerySet[Any]:
    """Characters with tokens of which none holds ``scope``: rows ``{"character_id",
    "name", "tokens", "users", "last_created"}`` by character ID (one grouped query per
    page: in character ID order the database stops after the page's groups)."""
    holders = Token.objects.filter(scopes__name=scope).values("character_id")
    return (
        Token.objects.exclude(character_id__in=holders)
        .values("character_id")
        .annotate(
            name=Max("character_name"),
            tokens=Count("pk"),
            users=Count("user", distinct=True),
            last_created=Max("created"),
        )
        .order_by("character_id")
    )
