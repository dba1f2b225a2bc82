"""Admin dashboard for django-esi-ng: token health, scope coverage and ESI budgets."""
from __future__ import annotations

from django.apps import AppConfig


class EsiDashboardConfig(AppConfig):
    name = "esi_dashboard"
    label = "esi_dashboard"
    verbose_name = "ESI dashboard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.apps import apps
        from django.db.models.signals import post_migrate

        from esi.signals import token_deleted

        from . import checks  # noqa: F401  (registers the system checks)
        from .receivers import record_deletion

        token_deleted.connect(record_deletion, dispatch_uid="esi_dashboard_record_deletion")
        if apps.is_installed("django_q"):
            from .schedules import post_migrate_handler

            post_migrate.connect(post_migrate_handler, sender=self, dispatch_uid="esi_dashboard_schedules")
