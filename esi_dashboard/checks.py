"""System checks of the dashboard, with the ids listed in ``docs/dashboard.rst``:

- ``esi_dashboard.E001``: ``django.contrib.admin``, ``django_tables2`` or ``django_q`` is
  not installed (the pages live in the admin, draw their tables with django-tables2 and
  start django-q2 tasks).
- ``esi_dashboard.E002``: ``ESI_DASHBOARD_REQUIRED_SCOPES`` is not a mapping of labels to
  scopes.
- ``esi_dashboard.E003``: ``ESI_DASHBOARD_PAGE_SIZE`` is not an integer from 1 to 1000.
- ``esi_dashboard.E005``: ``ESI_DASHBOARD_COUNT_INTERVAL`` is not an integer from 1 to
  1440 minutes. (``esi_dashboard.E004`` checked ``ESI_DASHBOARD_COVERAGE_MAX_AGE``, which the
  schedule replaced before 0.1.0; it is retired, not reused.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Error, register

from . import app_settings


@register()
def check_dashboard(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """esi_dashboard.E001 to E003 and E005."""
    messages: list[CheckMessage] = []
    missing = [app for app in ("django.contrib.admin", "django_tables2", "django_q") if not apps.is_installed(app)]
    if missing:
        messages.append(
            Error(
                f"esi_dashboard needs {', '.join(missing)} in INSTALLED_APPS.",
                hint=(
                    "The dashboard's pages are admin views, draw their tables with django-tables2 "
                    "and run refreshes and scope counts as django-q2 tasks."
                ),
                id="esi_dashboard.E001",
            )
        )
    scopes = app_settings.ESI_DASHBOARD_REQUIRED_SCOPES
    if not _valid_required_scopes(scopes):
        messages.append(
            Error(
                "ESI_DASHBOARD_REQUIRED_SCOPES must map labels to scopes.",
                hint=(
                    'For example {"corporation audit task": ["esi-wallet.read_corporation_wallets.v1"]}; '
                    "each value a list of scope names or a space-delimited string."
                ),
                obj=repr(scopes)[:100],
                id="esi_dashboard.E002",
            )
        )
    size = app_settings.ESI_DASHBOARD_PAGE_SIZE
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000:
        messages.append(
            Error(
                "ESI_DASHBOARD_PAGE_SIZE must be an integer from 1 to 1000.",
                hint="It is the number of rows on each page of the dashboard's tables (default 50).",
                obj=repr(size)[:100],
                id="esi_dashboard.E003",
            )
        )
    interval = app_settings.ESI_DASHBOARD_COUNT_INTERVAL
    if isinstance(interval, bool) or not isinstance(interval, int) or not 1 <= interval <= 1440:
        messages.append(
            Error(
                "ESI_DASHBOARD_COUNT_INTERVAL must be an integer from 1 to 1440 (minutes).",
                hint="It is how often the schedule esi_dashboard:counts counts tokens and scopes (default 5).",
                obj=repr(interval)[:100],
                id="esi_dashboard.E005",
            )
        )
    return messages


def _valid_required_scopes(value: Any) -> bool:
    if not isinstance(value, Mapping):
        return False
    for label, scopes in value.items():
        if not isinstance(label, str) or not label:
            return False
        if isinstance(scopes, str):
            continue
        if not isinstance(scopes, (list, tuple, set, frozenset)) or not all(isinstance(s, str) for s in scopes):
            return False
    return True
