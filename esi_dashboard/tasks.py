"""Background tasks of the dashboard, run by django-q2
(``async_task("esi_dashboard.tasks.count_scopes")``), and the schedule that runs the counts.
Each task returns a summary dict, which django-q2 stores as the task's result."""

from __future__ import annotations

from typing import Any

from .models import CoverageCount, HealthCount


def count_tokens() -> dict[str, Any]:
    """Count tokens by state for the token health page (:meth:`HealthCount.take`).

    Returns:
        ``{"total": n, "valid": n, "expiring": n, "expired": n, "unrefreshable": n,
        "failing": n, "backing_off": n, "seconds": s}``.
    """
    count = HealthCount.take()
    fields = ("total", "valid", "expiring", "expired", "unrefreshable", "failing", "backing_off", "seconds")
    return {name: getattr(count, name) for name in fields}


def count_scopes() -> dict[str, Any]:
    """Count who holds which scope for the scope coverage page (:meth:`CoverageCount.take`).

    Returns:
        ``{"scopes": n, "tokens": n, "characters": n, "users": n, "seconds": s}``.
    """
    count = CoverageCount.take()
    return {
        "scopes": count.scopes.count(),
        "tokens": count.tokens,
        "characters": count.characters,
        "users": count.users,
        "seconds": count.seconds,
    }


def count_all() -> dict[str, Any]:
    """Both counts, one after the other: what the schedule ``esi_dashboard:counts`` runs.

    Returns:
        ``{"tokens": <count_tokens' summary>, "scopes": <count_scopes' summary>}``.
    """
    return {"tokens": count_tokens(), "scopes": count_scopes()}
