"""The django-q2 schedule ``esi_dashboard:counts``: both dashboard counts (token health and
scope coverage) every ``ESI_DASHBOARD_COUNT_INTERVAL`` minutes, aligned to UTC as
:mod:`esi.schedules` aligns its own. Created and kept up to date by :func:`ensure_schedule`
after ``migrate``; idempotent.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from esi.schedules import _aligned_next_run

from . import app_settings

NAME = "esi_dashboard:counts"
FUNC = "esi_dashboard.tasks.count_all"


def ensure_schedule(using: str = DEFAULT_DB_ALIAS) -> str:
    """Create or update the schedule :data:`NAME` (and delete duplicates of it).

    Returns:
        ``"created"``, ``"updated"`` or ``"unchanged"``.

    Raises:
        ValueError: ``ESI_DASHBOARD_COUNT_INTERVAL`` is not an integer from 1 to 1440
            (the system check ``esi_dashboard.E005`` reports it first).
    """
    from django_q.models import Schedule

    minutes = app_settings.ESI_DASHBOARD_COUNT_INTERVAL
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 1440:
        raise ValueError(f"ESI_DASHBOARD_COUNT_INTERVAL must be 1 to 1440 minutes, not {minutes!r}")
    with transaction.atomic(using=using):
        rows = list(Schedule.objects.using(using).filter(name=NAME).order_by("pk"))
        for extra in rows[1:]:
            extra.delete()
        current = rows[0] if rows else None
        if current is not None and (current.func, current.schedule_type, current.minutes) == (
            FUNC,
            Schedule.MINUTES,
            minutes,
        ):
            return "unchanged"
        fields = {"func": FUNC, "schedule_type": Schedule.MINUTES, "minutes": minutes, "cron": None, "repeats": -1}
        next_run = _aligned_next_run(minutes, timezone.now())
        if current is None:
            Schedule.objects.using(using).create(name=NAME, next_run=next_run, **fields)
            return "created"
        for key, value in fields.items():
            setattr(current, key, value)
        current.next_run = next_run
        current.save(using=using)
        return "updated"


def post_migrate_handler(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """Connected to ``post_migrate`` by the app config: the schedule, once django-q2's
    table exists. A bad interval is left to the system check."""
    from django.db import connections
    from django_q.models import Schedule

    if Schedule._meta.db_table not in connections[using].introspection.table_names():
        return
    try:
        ensure_schedule(using=using)
    except ValueError:
        pass
