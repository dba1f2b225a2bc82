"""The ``ESI_DASHBOARD_*`` settings, read lazily (``override_settings`` works)::

    from esi_dashboard import app_settings
    app_settings.ESI_DASHBOARD_REQUIRED_SCOPES

Documented in ``docs/settings.rst``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # {source label: scopes (a list or a space-delimited string)}: scopes the site needs that
    # no decorated view or ESI call has asked for yet (a task that has not run, another app).
    "ESI_DASHBOARD_REQUIRED_SCOPES": {},
    # Rows per page of the dashboard's tables.
    "ESI_DASHBOARD_PAGE_SIZE": 50,
    # Minutes between two counts of the schedule esi_dashboard:counts (token health and
    # scope coverage); a page whose count is older than that (plus a minute) asks for one.
    "ESI_DASHBOARD_COUNT_INTERVAL": 5,
}


def __getattr__(name: str) -> Any:
    if name in DEFAULTS:
        return getattr(settings, name, DEFAULTS[name])
    raise AttributeError(f"module 'esi_dashboard.app_settings' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *DEFAULTS])
