from __future__ import annotations

from django.apps import AppConfig


class EsiDashboardConfig(AppConfig):
    name = "esi_dashboard"
    label = "esi_dashboard"
    verbose_name = "ESI dashboard"
    default_auto_field = "django.db.models.BigAutoField"
