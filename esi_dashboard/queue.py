"""The django-q2 tasks the dashboard enqueues, and what became of them.

Every task a staff user starts from the admin (the token list's action "Refresh selected
tokens", the health page's "Refresh expired tokens", a scope count) is remembered in their
session (:func:`esi.admin.remember_task`); the pages show the outcome of those tasks, read
from django-q2's results, and poll for the ones still pending. A session only ever sees the
tasks it started.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from esi.admin import TASKS_SESSION_KEY, remember_task

from . import app_settings

#: django-q2 task ids are uuid4 hex strings.
TASK_ID = re.compile(r"[0-9a-f]{32}")
#: The cache key (plus the task) naming the count task last enqueued, so that page views do
#: not enqueue one each while it waits for a worker.
_COUNT_KEY = "esi_dashboard:count-task"
#: A queued count older than this (seconds) is presumed lost and may be queued again.
_COUNT_PENDING_FOR = 900


@dataclasses.dataclass(frozen=True)
class TaskOutcome:
    """A remembered task: ``state`` is ``"pending"`` (queued or running), ``"done"`` or
    ``"failed"``; ``summary`` says what it did (or why it failed) in one line."""

    id: str
    label: str
    queued_at: datetime.datetime | None
    state: str
    summary: str
    stopped: datetime.datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "state": self.state,
            "summary": self.summary,
            "stopped": self.stopped.isoformat() if self.stopped else None,
        }


def enqueue(request: HttpRequest, func: str, label: str, *args: Any) -> str:
    """Enqueue ``func`` (a dotted path) with ``args`` on django-q2, remember it in the
    session, and return the task id."""
    task_id = _enqueue(func, *args)
    remember_task(request, task_id, label)
    return task_id


def _enqueue(func: str, *args: Any) -> str:
    from django_q.tasks import async_task

    return str(async_task(func, *args, group="esi:dashboard"))


def session_tasks(request: HttpRequest) -> list[dict[str, Any]]:
    """The session's remembered tasks (well-formed entries only), newest first."""
    entries = request.session.get(TASKS_SESSION_KEY, [])
    if not isinstance(entries, list):
        return []
    return [
        entry
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("id"), str) and TASK_ID.fullmatch(entry["id"])
    ]


def outcomes(entries: Iterable[Mapping[str, Any]]) -> list[TaskOutcome]:
    """The :class:`TaskOutcome` of each entry (``{"id", "label", "queued_at"}``), in order:
    one query for all of them (or one cache read each when django-q2 keeps results in the
    cache, ``Q_CLUSTER["cached"]``)."""
    entries = list(entries)
    found = _results([entry["id"] for entry in entries])
    result = []
    for entry in entries:
        task = found.get(entry["id"])
        queued = entry.get("queued_at")
        queued_at = (
            datetime.datetime.fromtimestamp(queued, tz=datetime.UTC) if isinstance(queued, (int, float)) else None
        )
        if task is None:
            state, summary, stopped = "pending", "Waiting for a django-q2 worker", None
        elif task.success:
            state, summary, stopped = "done", describe(task.result), task.stopped
        else:
            state, summary, stopped = "failed", _failure(task.result), task.stopped
        result.append(TaskOutcome(entry["id"], str(entry.get("label", "Task")), queued_at, state, summary, stopped))
    return result


def _results(ids: list[str]) -> dict[str, Any]:
    if not ids:
        return {}
    from django_q.conf import Conf
    from django_q.models import Task
    from django_q.tasks import fetch

    if Conf.CACHED:
        return {task_id: task for task_id in ids if (task := fetch(task_id)) is not None}
    return {task.id: task for task in Task.objects.filter(id__in=ids)}


def describe(result: Any) -> str:
    """One line about a task's result: the summary of a refresh run
    (:meth:`esi.refresh.RunSummary.as_dict`) or of a scope count, else its text."""
    if isinstance(result, Mapping):
        if "refreshed" in result and "total" in result:
            deleted = result.get("deleted", 0)
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(result.get("deleted_by_reason", {}).items()))
            text = (
                f"{result['total']} token(s): {result.get('refreshed', 0)} refreshed, "
                f"{result.get('already_fresh', 0)} already fresh, {deleted} deleted"
                f"{f' ({reasons})' if reasons else ''}, {result.get('kept', 0)} kept, "
                f"{result.get('skipped', 0)} skipped, {result.get('missing', 0)} missing "
                f"in {result.get('seconds', 0)} s"
            )
            if result.get("breaker_tripped"):
                text += "; stopped early: EVE SSO failed most refreshes"
            return text
        if "valid" in result and "total" in result and "seconds" in result:
            return f"Counted {result['total']} token(s) by state in {result['seconds']} s"
        if "scopes" in result and "seconds" in result:
            return (
                f"Counted {result['scopes']} scope(s) over {result.get('tokens', 0)} token(s) "
                f"in {result['seconds']} s"
            )
    return str(result)[:300]


def _failure(result: Any) -> str:
    """The last line of a failed task's traceback (django-q2 stores the error text)."""
    lines = [line for line in str(result or "").splitlines() if line.strip()]
    return f"Failed: {lines[-1][:300]}" if lines else "Failed"


#: The counts a page may ask for when its last one is late: ``{task: label}``.
COUNTS = {
    "esi_dashboard.tasks.count_tokens": "Token count",
    "esi_dashboard.tasks.count_scopes": "Scope count",
}


def request_count(func: str) -> str:
    """The id of a pending count by ``func`` (one of :data:`COUNTS`), enqueuing one unless
    one is still waiting (for at most 15 minutes, per cache). Not remembered in the
    session: nobody asked for it (the page says it is queued).

    Raises:
        ValueError: ``func`` is not one of :data:`COUNTS`.
    """
    if func not in COUNTS:
        raise ValueError(f"not a count task: {func!r}")
    key = f"{_COUNT_KEY}:{func}"
    pending = cache.get(key)
    if isinstance(pending, str) and TASK_ID.fullmatch(pending) and pending not in _results([pending]):
        return pending
    task_id = _enqueue(func)
    cache.set(key, task_id, timeout=_COUNT_PENDING_FOR)
    return task_id


def count_is_late(counted_at: datetime.datetime | None) -> bool:
    """Whether a count taken at ``counted_at`` (``None``: never) is older than the schedule
    ``esi_dashboard:counts`` allows: ``ESI_DASHBOARD_COUNT_INTERVAL`` minutes plus one
    minute for the count itself and the cluster's polling."""
    age = count_age(counted_at)
    return age is None or age > 60 * (float(app_settings.ESI_DASHBOARD_COUNT_INTERVAL) + 1)


def count_age(counted_at: datetime.datetime | None) -> float | None:
    """Seconds since a count was taken, or ``None`` without one."""
    return None if counted_at is None else (timezone.now() - counted_at).total_seconds()
