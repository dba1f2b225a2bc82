"""``Dashboard`` (the permission and the admin entry) and ``TokenDeletion`` (the record of
tokens the refresh engine deleted, for the health page)."""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any, Self

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone


class Dashboard(models.Model):
    """No table: the model that carries the permission ``esi_dashboard.view_dashboard`` and
    puts the dashboard in the admin index (see :mod:`esi_dashboard.admin`)."""

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"


class TokenDeletion(models.Model):
    """One token the refresh engine deleted because EVE SSO said its grant is gone (the
    signal :data:`esi.signals.token_deleted`). Kept :attr:`RETENTION`; older rows are pruned
    while new ones are written (see :meth:`record`)."""

    #: How long a deletion is kept.
    RETENTION = datetime.timedelta(days=7)
    #: A process prunes at most this often, in seconds: a run that deletes a thousand
    #: tokens should not also run a thousand pruning queries.
    PRUNE_EVERY = 600

    token_id = models.IntegerField(help_text="The primary key the token had.")
    character_id = models.IntegerField(help_text="The EVE character of the token.")
    character_name = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The user who owned the token.",
    )
    reason = models.CharField(
        max_length=50,
        help_text=(
            "invalid_grant or invalid_token (EVE SSO's answer), owner_changed or "
            "character_changed."
        ),
    )
    deleted_at = models.DateTimeField(default=timezone.now, db_index=True)

    _pruned_at = -float("inf")
    _prune_lock = threading.Lock()

    class Meta:
        default_permissions = ("view",)
        ordering = ["-deleted_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.character_name} ({self.reason}, {self.deleted_at:%Y-%m-%d %H:%M})"

    @classmethod
    def record(cls, token: Any, token_id: int, reason: str) -> TokenDeletion:
        """Store the deletion of ``token`` (the deleted ``esi.models.Token`` instance, whose
        ``pk`` is already ``None``), and prune rows older than :attr:`RETENTION` if this
        process has not done so within :attr:`PRUNE_EVERY` seconds."""
        deletion = cls.objects.create(
            token_id=token_id,
            character_id=token.character_id,
            character_name=token.character_name[:100],
            user_id=token.user_id,
            reason=str(reason)[:50],
        )
        with cls._prune_lock:
            due = time.monotonic() - TokenDeletion._pruned_at >= cls.PRUNE_EVERY
            if due:
                TokenDeletion._pruned_at = time.monotonic()
        if due:
            cls.prune()
        return deletion

    @classmethod
    def prune(cls) -> int:
        """Delete the rows older than :attr:`RETENTION` in one query; returns how many."""
        deleted, _ = cls.objects.filter(deleted_at__lt=timezone.now() - cls.RETENTION).delete()
        return deleted


class Count(models.Model):
    """What every count of the dashboard has: when it was taken and how long it took; the
    pages read the newest (:meth:`latest_count`)."""

    counted_at = models.DateTimeField(default=timezone.now, db_index=True)
    seconds = models.FloatField(default=0.0, help_text="How long the count took.")

    class Meta:
        abstract = True
        default_permissions = ()
        get_latest_by = "counted_at"

    @classmethod
    def latest_count(cls) -> Self | None:
        """The newest count, or ``None`` before the first."""
        return cls._default_manager.order_by("-counted_at", "-pk").first()


class CoverageCount(Count):
    """One count of who holds which scope (the scope coverage page reads the newest).

    Counting distinct characters and users per scope means joining every token-scope link
    with its token: about a second for 400,000 links on PostgreSQL or SQLite, too slow for
    a page view. :meth:`take` counts in the background (the task
    :func:`esi_dashboard.tasks.count_scopes`); the page shows when the count was taken.
    """

    tokens = models.PositiveIntegerField(default=0)
    characters = models.PositiveIntegerField(default=0, help_text="Distinct characters with a token.")
    users = models.PositiveIntegerField(default=0, help_text="Distinct users owning a token.")

    def __str__(self) -> str:
        return f"scope count of {self.counted_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def take(cls) -> CoverageCount:
        """Count now (two aggregate queries) and delete the older counts. ``counted_at`` is
        when the count started."""
        from .metrics import scope_coverage, totals

        counted_at = timezone.now()
        started = time.monotonic()
        total = totals()
        rows = [(row.name, row.tokens, row.characters, row.users) for row in scope_coverage()]
        with transaction.atomic():
            count = cls.objects.create(
                counted_at=counted_at,
                seconds=round(time.monotonic() - started, 3),
                tokens=total.tokens,
                characters=total.characters,
                users=total.users,
            )
            ScopeCount.objects.bulk_create(
                [
                    ScopeCount(count=count, scope=name, tokens=tokens, characters=characters, users=users)
                    for name, tokens, characters, users in rows
                ]
            )
            # Older counts only: two counts finishing at once must not delete each other's.
            cls.objects.filter(counted_at__lt=count.counted_at).delete()
        return count


class ScopeCount(models.Model):
    """How many tokens, characters and users held one scope at a :class:`CoverageCount`."""

    count = models.ForeignKey(CoverageCount, on_delete=models.CASCADE, related_name="scopes")
    scope = models.CharField(max_length=100)
    tokens = models.PositiveIntegerField()
    characters = models.PositiveIntegerField()
    users = models.PositiveIntegerField()

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["count", "scope"], name="esi_dashboard_scopecount_unique")]

    def __str__(self) -> str:
        return f"{self.scope}: {self.tokens} tokens"


class HealthCount(Count):
    """One count of the token health page: tokens per expiry state, failing and backing off,
    the expiry histogram and the failing tokens' commonest errors (the page reads the newest).

    Counting reads every token (about a second per 1,000,000 tokens on PostgreSQL), too slow
    for a page view on a large site, so the django-q2 schedule ``esi_dashboard:counts``
    takes one every ``ESI_DASHBOARD_COUNT_INTERVAL`` minutes (:meth:`take`, the task
    :func:`esi_dashboard.tasks.count_tokens`); the page shows when it was taken. Expiry
    states are relative to ``counted_at``.
    """

    total = models.PositiveIntegerField(default=0)
    valid = models.PositiveIntegerField(default=0)
    expiring = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0, help_text="Expired and refreshable.")
    unrefreshable = models.PositiveIntegerField(default=0, help_text="Expired without a refresh token.")
    failing = models.PositiveIntegerField(default=0)
    backing_off = models.PositiveIntegerField(default=0)
    histogram = models.JSONField(default=list, help_text="Tokens per bin of metrics.HISTOGRAM_BINS.")
    errors = models.JSONField(default=list, help_text="[[last refresh error, tokens], ...], commonest first.")

    def __str__(self) -> str:
        return f"token count of {self.counted_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def take(cls) -> HealthCount:
        """Count now (two queries: one pass over the tokens, one over the failing ones) and
        delete the older counts. ``counted_at`` is when the count started."""
        from .metrics import failing_errors, health_overview

        started = time.monotonic()
        overview = health_overview()
        errors = failing_errors()
        with transaction.atomic():
            count = cls.objects.create(
                counted_at=overview.now,
                seconds=round(time.monotonic() - started, 3),
                total=overview.total,
                **overview.states,
                backing_off=overview.backing_off,
                histogram=[b.count for b in overview.histogram],
                errors=[[error, n] for error, n in errors],
            )
            cls.objects.filter(counted_at__lt=count.counted_at).delete()
        return count
