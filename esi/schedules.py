"""django-q2 schedules for the cleanup tasks, created and kept up to date by one idempotent
function, :func:`ensure_schedules`, which runs after ``migrate`` and from
``manage.py esi_schedules``.

``ESI_SCHEDULES`` maps a task of :mod:`esi.tasks` to ``{"minutes": N}`` (every N minutes,
aligned to UTC: an hourly task runs at minute 0 UTC, every 4 hours at 00:00, 04:00, ... UTC),
to ``{"cron": "..."}`` (django-q2 evaluates cron in ``Q_CLUSTER["time_zone"]``, default
``TIME_ZONE``; set it to ``"UTC"`` for UTC; cron needs the ``croniter`` package), or to
``None`` (no schedule). Schedules are named ``esi:<task>``; nothing else is ever touched.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from . import app_settings

PREFIX = "esi:"
TASKS = ("cleanup_callbackredirect", "cleanup_token_subset", "cleanup_token", "refresh_tokens")


@dataclass
class ScheduleChanges:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _schedule_model() -> Any:
    from django_q.models import Schedule

    return Schedule


def _aligned_next_run(minutes: int, now: datetime.datetime) -> datetime.datetime:
    """The next multiple of ``minutes`` since midnight UTC after ``now``."""
    midnight = now.astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - midnight).total_seconds() // 60
    return midnight + datetime.timedelta(minutes=(elapsed // minutes + 1) * minutes)


def desired() -> dict[str, dict[str, Any] | None]:
    """``ESI_SCHEDULES`` validated: ``{schedule name: Schedule fields or None}``.

    Raises:
        ImproperlyConfigured: an unknown task or a malformed entry.
    """
    configured = app_settings.ESI_SCHEDULES
    if not isinstance(configured, dict):
        raise ImproperlyConfigured("ESI_SCHEDULES must be a dict of task name to schedule")
    Schedule = _schedule_model()
    result: dict[str, dict[str, Any] | None] = {}
    for task, spec in configured.items():
        if task not in TASKS:
            raise ImproperlyConfigured(f"ESI_SCHEDULES: unknown task {task!r}; known: {', '.join(TASKS)}")
        name = PREFIX + task
        if spec is None:
            result[name] = None
            continue
        if not isinstance(spec, dict) or len(spec) != 1 or len(spec.keys() & {"minutes", "cron"}) != 1:
            raise ImproperlyConfigured(f"ESI_SCHEDULES[{task!r}] must be {{'minutes': N}}, {{'cron': '...'}} or None")
        if "minutes" in spec:
            minutes = spec["minutes"]
            if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 32767:
                raise ImproperlyConfigured(f"ESI_SCHEDULES[{task!r}]['minutes'] must be 1 to 32767")
            fields = {"schedule_type": Schedule.MINUTES, "minutes": minutes, "cron": None}
        else:
            fields = {"schedule_type": Schedule.CRON, "minutes": None, "cron": str(spec["cron"])}
        result[name] = {"func": f"esi.tasks.{task}", **fields}
    return result


def ensure_schedules(using: str = DEFAULT_DB_ALIAS) -> ScheduleChanges:
    """Create, update or remove the ``esi:`` schedules to match ``ESI_SCHEDULES``.

    Idempotent: a second call changes nothing. An unchanged schedule keeps its ``next_run``.
    """
    Schedule = _schedule_model()
    changes = ScheduleChanges()
    now = timezone.now()
    with transaction.atomic(using=using):
        existing = {s.name: s for s in Schedule.objects.using(using).filter(name__startswith=PREFIX)}
        for name, fields in desired().items():
            current = existing.get(name)
            if fields is None:
                if current is not None:
                    current.delete()
                    changes.removed.append(name)
                continue
            if current is None:
                schedule = Schedule(name=name, repeats=-1, **fields)
                schedule.next_run = (
                    _aligned_next_run(fields["minutes"], now) if fields["minutes"] else schedule.calculate_next_run()
                )
                schedule.full_clean()
                schedule.save(using=using)
                changes.created.append(name)
            elif any(getattr(current, key) != value for key, value in fields.items()):
                for key, value in fields.items():
                    setattr(current, key, value)
                current.next_run = (
                    _aligned_next_run(fields["minutes"], now) if fields["minutes"] else current.calculate_next_run()
                )
                current.full_clean()
                current.save(using=using)
                changes.updated.append(name)
            else:
                changes.unchanged.append(name)
    return changes


def remove_schedules(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Delete every ``esi:`` schedule; returns their names."""
    schedules = _schedule_model().objects.using(using).filter(name__startswith=PREFIX)
    names = sorted(schedules.values_list("name", flat=True))
    schedules.delete()
    return names


def post_migrate_handler(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """Connected to ``post_migrate`` by the app config when django-q2 is installed."""
    from django.db import connections

    if _schedule_model()._meta.db_table in connections[using].introspection.table_names():
        ensure_schedules(using=using)
