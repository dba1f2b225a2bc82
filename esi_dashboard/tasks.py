"""Background tasks of the dashboard, run by django-q2
(``async_task("esi_dashboard.tasks.count_scopes")``). Each returns a summary dict, which
django-q2 stores as the task's result."""

from __future__ import annotations

from typing import Any

from .models import CoverageCount


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
