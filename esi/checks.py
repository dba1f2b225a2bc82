"""System checks for the ``ESI_*`` settings.

Each check has a stable id listed in ``docs/checks.rst``:

- ``esi.E001``: SSO application settings missing while ``DEBUG`` is off.
- ``esi.W001``: the same while ``DEBUG`` is on (SSO will not work, the site still runs).
- ``esi.E002``: ``ESI_SSO_CALLBACK_URL`` is not an absolute ``http(s)`` URL.
- ``esi.E003``: ``ESI_SSO_BASE_URL`` or ``ESI_API_URL`` is not an absolute ``http(s)`` URL.
- ``esi.W002``: ``ESI_USER_CONTACT_EMAIL`` is missing; CCP asks for a contact in the
  User-Agent (developers.eveonline.com, "ESI best practices").
- ``esi.E004``: ``ESI_SCHEDULES`` is malformed, names an unknown task or one that cannot
  be scheduled (``refresh_tokens``).
- ``esi.E005``: an ``ESI_SCHEDULES`` entry uses cron while django-q2 evaluates cron in a
  time zone other than UTC. (``esi.W003`` said so as a warning before 0.1.0; it is retired,
  not reused.)
- ``esi.W004``: a cache this package keeps shared state in does not answer (Redis down):
  ESI responses are not cached, EVE SSO's keys are downloaded for every verification, and
  the budgets are each process's own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from . import app_settings

_SSO_SETTINGS = ("ESI_SSO_CLIENT_ID", "ESI_SSO_CLIENT_SECRET", "ESI_SSO_CALLBACK_URL")


def _is_absolute_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@register(Tags.security)
def check_sso_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """esi.E001 / esi.W001 / esi.E002."""
    messages: list[CheckMessage] = []
    missing = [name for name in _SSO_SETTINGS if not getattr(app_settings, name)]
    if app_settings.ESI_SSO_USE_PKCE and "ESI_SSO_CLIENT_SECRET" in missing:
        # PKCE clients authenticate with a code verifier instead of a secret.
        missing.remove("ESI_SSO_CLIENT_SECRET")
    if missing:
        hint = (
            "Register an application at https://developers.eveonline.com/applications "
            f"and set {', '.join(missing)} in the project settings."
        )
        if settings.DEBUG:
            messages.append(
                Warning(
                    "EVE SSO settings are missing: SSO login will not work.",
                    hint=hint,
                    id="esi.W001",
                )
            )
        else:
            messages.append(
                Error("EVE SSO settings are missing.", hint=hint, id="esi.E001")
            )
    callback = app_settings.ESI_SSO_CALLBACK_URL
    if callback and not _is_absolute_http_url(callback):
        messages.append(
            Error(
                f"ESI_SSO_CALLBACK_URL must be an absolute URL, not {callback!r}.",
                hint=(
                    "Use the full URL registered with the application, for example "
                    "'https://example.com/sso/callback/'."
                ),
                id="esi.E002",
            )
        )
    return messages


@register()
def check_endpoint_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """esi.E003."""
    return [
        Error(
            f"{name} must be an absolute http(s) URL, not {getattr(app_settings, name)!r}.",
            hint="Leave it unset for CCP's servers, or point it at the emulator's URL.",
            id="esi.E003",
        )
        for name in ("ESI_SSO_BASE_URL", "ESI_API_URL")
        if not _is_absolute_http_url(getattr(app_settings, name))
    ]


@register()
def check_contact_email(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """esi.W002."""
    if app_settings.ESI_USER_CONTACT_EMAIL:
        return []
    return [
        Warning(
            "ESI_USER_CONTACT_EMAIL is not set.",
            hint=(
                "CCP asks every application to send a contact email in its User-Agent so "
                "they can reach the operator before blocking it."
            ),
            id="esi.W002",
        )
    ]


@register()
def check_schedules(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """esi.E004 / esi.E005, with the rules :func:`esi.schedules.ensure_schedules` applies,
    so ``migrate`` and ``qcluster`` stop before a schedule that would fail or run at the
    wrong hour. Nothing to check without django-q2."""
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    if not apps.is_installed("django_q"):
        return []
    from . import schedules

    try:
        wanted = schedules.validated()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="ESI_SCHEDULES maps a task of esi.tasks to {'minutes': N}, {'cron': '...'} or None.",
                id="esi.E004",
            )
        ]
    cron = schedules.cron_outside_utc(wanted)
    if not cron:
        return []
    return [
        Error(
            f"ESI_SCHEDULES uses cron for {', '.join(cron)}, which django-q2 would evaluate in "
            f"{schedules.cluster_time_zone() or 'local time'}, not UTC.",
            hint='Set Q_CLUSTER["time_zone"] = "UTC", or use {"minutes": N} (aligned to UTC).',
            id="esi.E005",
        )
    ]


@register(Tags.caches)
def check_caches(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """esi.W004: one read from each cache the package uses (see
    :func:`esi.http.guard.outages`)."""
    from .http import guard

    return [
        Warning(
            f"The cache {outage.alias!r} ({', '.join(outage.purposes)}) does not answer: {outage.error}",
            hint=(
                "ESI calls and logins go on without it: ESI responses are not cached, EVE SSO's "
                "keys are downloaded for every verification, and each process keeps its own ESI "
                "budgets. Start the cache server, or correct its entry in CACHES."
            ),
            id="esi.W004",
        )
        for outage in guard.outages()
    ]
