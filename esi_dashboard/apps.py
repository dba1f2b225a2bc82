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

        from esi.signals import token_deleted, token_refresh_failed, token_refreshed

        from . import checks  # noqa: F401  (registers the system checks)
        from .prometheus import on_deleted, on_refresh_failed, on_refreshed
        from .receivers import record_deletion

        token_deleted.connect(record_deletion, dispatch_uid="esi_dashboard_record_deletion")
        token_deleted.connect(on_deleted, dispatch_uid="esi_dashboard_count_deletion")
        token_refreshed.connect(on_refreshed, dispatch_uid="esi_dashboard_count_refresh")
        token_refresh_failed.connect(on_refresh_failed, dispatch_uid="esi_dashboard_count_refresh_failure")
        if apps.is_installed("django_q"):
            from .schedules import post_migrate_handler

            post_migrate.connect(post_migrate_handler, sender=self, dispatch_uid="esi_dashboard_schedules")
