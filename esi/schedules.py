"""django-q2 schedules for the cleanup tasks, created and kept up to date by one idempotent
function, :func:`ensure_schedules`, which runs after ``migrate`` and from
``manage.py esi_schedules``.

``ESI_SCHEDULES`` maps a task of :mod:`esi.tasks` to ``{"minutes": N}`` (every N minutes,
aligned to UTC: an hourly task runs at minute 0 UTC, every 4 hours at 00:00, 04:00, ... UTC),
to ``{"cron": "..."}`` (a cron expression in UTC; it needs the ``croniter`` package), or to
``None`` (no schedule). A site's dict is merged over the defaults key by key: a task it does
not name keeps its default schedule, and ``None`` turns a default schedule off.

django-q2 evaluates cron in the cluster's time zone (``Q_CLUSTER["time_zone"]``, else
``TIME_ZONE``) and has no per-schedule zone, so cron entries are refused unless that zone is
UTC; a translated expression would drift by an hour at every daylight-saving change.

Schedules are named ``esi:<task>``. Every ``esi:`` schedule that the setting does not ask for
(a task turned off, a name from an older release, a duplicate) is deleted; schedules without
the prefix are never touched.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from . import app_settings

PREFIX = "esi:"
# The tasks a schedule can run: those that need no argument.
TASKS = ("cleanup_callbackredirect", "cleanup_token_subset", "cleanup_token")
# IANA names of UTC, tzdata's backward-compatible links included.
UTC_ZONES = frozenset(
    {
        "UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu",
        "GMT", "Etc/GMT", "GMT0", "Etc/GMT0", "GMT+0", "Etc/GMT+0", "GMT-0", "Etc/GMT-0",
        "Greenwich", "Etc/Greenwich",
    }
)


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


def configured() -> dict[str, Any]:
    """``ESI_SCHEDULES`` merged over its default, key by key: ``{task: spec}``.

    A task the site's dict does not name keeps its default spec, so
    ``{"cleanup_token": {"minutes": 1440}}`` adds a daily full run to the two default
    schedules; ``{"cleanup_token_subset": None}`` turns the hourly subset run off.

    Raises:
        ImproperlyConfigured: ``ESI_SCHEDULES`` is not a dict.
    """
    site = app_settings.ESI_SCHEDULES
    if not isinstance(site, dict):
        raise ImproperlyConfigured("ESI_SCHEDULES must be a dict of task name to schedule")
    return {**app_settings.DEFAULTS["ESI_SCHEDULES"], **site}


def cluster_time_zone() -> str | None:
    """The time zone django-q2 evaluates cron in: ``Q_CLUSTER["time_zone"]``, else
    ``TIME_ZONE`` (django_q.conf.Conf.TIME_ZONE). With ``USE_TZ = False`` django-q2 uses the
    process's local time, which Django sets to ``TIME_ZONE``; ``None`` when that is unset."""
    if not settings.USE_TZ:
        return settings.TIME_ZONE or None
    q_cluster = getattr(settings, "Q_CLUSTER", None) or {}
    return q_cluster.get("time_zone", settings.TIME_ZONE)


def _valid_cron(task: str, expression: Any) -> str:
    if not isinstance(expression, str):
        raise ImproperlyConfigured(f"ESI_SCHEDULES[{task!r}]['cron'] must be a string")
    try:
        from croniter import croniter
    except ImportError:
        raise ImproperlyConfigured(
            f"ESI_SCHEDULES[{task!r}] uses cron, which needs the croniter package (pip install croniter)"
        ) from None
    if not croniter.is_valid(expression):
        raise ImproperlyConfigured(f"ESI_SCHEDULES[{task!r}]['cron'] is not a valid cron expression: {expression!r}")
    return expression


def validated() -> dict[str, dict[str, Any] | None]:
    """:func:`configured` checked entry by entry: ``{schedule name: Schedule fields or None}``.

    The cron time-zone rule is left to :func:`desired` (and to the system check ``esi.E005``).

    Raises:
        ImproperlyConfigured: ``ESI_SCHEDULES`` is not a dict, names an unknown task or
            ``refresh_tokens``, or has a malformed entry (minutes outside 1 to 32767, a
            cron expression croniter rejects, cron without croniter installed).
    """
    Schedule = _schedule_model()
    result: dict[str, dict[str, Any] | None] = {}
    for task, spec in configured().items():
        if task == "refresh_tokens":
            raise ImproperlyConfigured(
                "ESI_SCHEDULES: refresh_tokens cannot be scheduled: it refreshes the token_ids it "
                "is given, and a schedule has none. Schedule cleanup_token_subset or cleanup_token."
            )
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
            fields = {"schedule_type": Schedule.CRON, "minutes": None, "cron": _valid_cron(task, spec["cron"])}
        result[name] = {"func": f"esi.tasks.{task}", **fields}
    return result


def cron_outside_utc(schedules: dict[str, dict[str, Any] | None]) -> list[str]:
    """The names of the cron schedules in ``schedules`` (as :func:`validated` returns them)
    when the cluster's time zone is not UTC, else ``[]``."""
    if cluster_time_zone() in UTC_ZONES:
        return []
    return sorted(name for name, fields in schedules.items() if fields is not None and fields["cron"])


def desired() -> dict[str, dict[str, Any] | None]:
    """``ESI_SCHEDULES`` merged over its default and validated:
    ``{schedule name: Schedule fields or None}``, one entry per task of :data:`TASKS` at least.

    Raises:
        ImproperlyConfigured: as :func:`validated`, or a cron entry while the cluster's time
            zone (:func:`cluster_time_zone`) is not UTC.
    """
    result = validated()
    cron = cron_outside_utc(result)
    if cron:
        raise ImproperlyConfigured(
            f"ESI_SCHEDULES uses cron for {', '.join(cron)}, which django-q2 would evaluate in "
            f"{cluster_time_zone() or 'local time'}, not UTC. Set Q_CLUSTER['time_zone'] = 'UTC', "
            "or use {'minutes': N} (aligned to UTC)."
        )
    return result


def _next_run(fields: dict[str, Any], now: datetime.datetime) -> datetime.datetime:
    if fields["minutes"]:
        return _aligned_next_run(fields["minutes"], now)
    from croniter import croniter

    # The cluster evaluates later runs in its time zone, which desired() has checked is UTC.
    return croniter(fields["cron"], now.astimezone(datetime.UTC)).get_next(datetime.datetime)


def ensure_schedules(using: str = DEFAULT_DB_ALIAS) -> ScheduleChanges:
    """Create, update or remove the ``esi:`` schedules to match ``ESI_SCHEDULES``.

    The desired set is ``ESI_SCHEDULES`` merged over its default (:func:`desired`). Every
    other schedule whose name starts with ``esi:`` is deleted: a task set to ``None``, a task
    name no longer scheduled (from an older release), a second row of the same name.
    Schedules without the prefix are never touched. Idempotent: a second call changes
    nothing, and an unchanged schedule keeps its ``next_run``.

    Args:
        using: the database alias.

    Returns:
        The schedule names, by what happened to them.

    Raises:
        ImproperlyConfigured: ``ESI_SCHEDULES`` is invalid (see :func:`desired`); nothing is
            changed then.
    """
    Schedule = _schedule_model()
    wanted = {name: fields for name, fields in desired().items() if fields is not None}
    changes = ScheduleChanges()
    now = timezone.now()
    with transaction.atomic(using=using):
        existing: dict[str, Any] = {}
        for schedule in Schedule.objects.using(using).filter(name__startswith=PREFIX).order_by("pk"):
            if schedule.name in wanted and schedule.name not in existing:
                existing[schedule.name] = schedule
            else:
                schedule.delete()
                changes.removed.append(schedule.name)
        for name, fields in wanted.items():
            current = existing.get(name)
            if current is None:
                schedule = Schedule(name=name, repeats=-1, next_run=_next_run(fields, now), **fields)
                schedule.full_clean()
                schedule.save(using=using)
                changes.created.append(name)
            elif any(getattr(current, key) != value for key, value in fields.items()):
                for key, value in fields.items():
                    setattr(current, key, value)
                current.next_run = _next_run(fields, now)
                current.full_clean()
                current.save(using=using)
                changes.updated.append(name)
            else:
                changes.unchanged.append(name)
    changes.removed.sort()
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
