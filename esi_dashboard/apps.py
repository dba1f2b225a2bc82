"""Admin dashboard for django-esi-ng: token health, scope coverage and ESI budgets."""
from __future__ import annotations

from django.apps import AppConfig


class EsiDashboardConfig(AppConfig):
    name = "esi_dashboard"
    label = "esi_dashboard"
    verbose_name = "ESI dashboard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from esi.signals import token_deleted

        from . import checks  # noqa: F401  (registers the system checks)
        from .receivers import record_deletion

        token_deleted.connect(record_deletion, dispatch_uid="esi_dashboard_record_deletion")
