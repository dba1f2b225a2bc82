from __future__ import annotations

from django.apps import AppConfig


class EsiConfig(AppConfig):
    name = "esi"
    label = "esi"
    verbose_name = "EVE Swagger Interface"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from django.apps import apps
        from django.db.models.signals import post_migrate

        import logging

        from . import app_settings, checks  # noqa: F401  (checks registers the system checks)

        for library in ("bravado_core", "swagger_spec_validator", "urllib3", "oauthlib", "requests_oauthlib"):
            logging.getLogger(library).setLevel(str(app_settings.ESI_LOG_LEVEL_LIBRARIES))

        if apps.is_installed("django_q"):
            from .schedules import post_migrate_handler

            post_migrate.connect(post_migrate_handler, sender=self, dispatch_uid="esi_schedules")
