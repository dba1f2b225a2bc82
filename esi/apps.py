from __future__ import annotations

import logging
from typing import Any

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured

#: The libraries under the ESI client and EVE SSO whose loggers ``ESI_LOG_LEVEL_LIBRARIES``
#: sets.
LIBRARIES = ("bravado_core", "swagger_spec_validator", "urllib3", "oauthlib", "requests_oauthlib")


def apply_library_log_level(**kwargs: Any) -> None:
    """Set ``ESI_LOG_LEVEL_LIBRARIES`` on the libraries' loggers; run at start-up and again
    whenever the setting changes (``override_settings``, ``setting_changed``).

    Raises:
        ImproperlyConfigured: the value is not a logging level name or number.
    """
    if kwargs.get("setting", "ESI_LOG_LEVEL_LIBRARIES") != "ESI_LOG_LEVEL_LIBRARIES":
        return
    from . import app_settings

    level = app_settings.ESI_LOG_LEVEL_LIBRARIES
    try:
        for library in LIBRARIES:
            logging.getLogger(library).setLevel(level if isinstance(level, int) else str(level).upper())
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"ESI_LOG_LEVEL_LIBRARIES must be a logging level such as 'INFO' or 'WARNING', not {level!r}"
        ) from exc


class EsiConfig(AppConfig):
    name = "esi"
    label = "esi"
    verbose_name = "EVE Swagger Interface"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from django.apps import apps
        from django.core.signals import setting_changed
        from django.db.models.signals import post_migrate

        from . import checks  # noqa: F401  (checks registers the system checks)

        apply_library_log_level()
        setting_changed.connect(apply_library_log_level, dispatch_uid="esi_library_log_level")

        if apps.is_installed("django_q"):
            from .schedules import post_migrate_handler
            from .task_engines import connect_django_q_signals

            post_migrate.connect(post_migrate_handler, sender=self, dispatch_uid="esi_schedules")
            connect_django_q_signals()
