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
- ``esi.E012``: ``ESI_SSO_MAX_CONCURRENT_REFRESHES`` or ``ESI_SSO_REFRESH_SLOT_WAIT`` is
  malformed.
- ``esi.W012``: the cap on concurrent EVE SSO refreshes lives in a per-process cache while
  ``DEBUG`` is off, so it does not hold across processes.
- ``esi.W013``: ``django_q`` is not installed, so nothing schedules the cleanup tasks.
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


#: Cache backends whose entries one process cannot see from another.
_PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register()
def check_refresh_limit(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """esi.E012 / esi.W012: the site-wide cap on EVE SSO refreshes (:mod:`esi.sso_limit`)."""
    cap = app_settings.ESI_SSO_MAX_CONCURRENT_REFRESHES
    wait = app_settings.ESI_SSO_REFRESH_SLOT_WAIT
    problems = []
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= 1000):
        problems.append(f"ESI_SSO_MAX_CONCURRENT_REFRESHES must be None or an integer from 0 to 1000, not {cap!r}.")
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not wait > 0:
        problems.append(f"ESI_SSO_REFRESH_SLOT_WAIT must be a positive number of seconds, not {wait!r}.")
    if problems:
        return [
            Error(problem, hint="See the settings page of the documentation.", id="esi.E012")
            for problem in problems
        ]
    backend = settings.CACHES.get(app_settings.ESI_BUDGET_CACHE_ALIAS, {}).get("BACKEND", "")
    if cap and not settings.DEBUG and backend in _PER_PROCESS_CACHES:
        return [
            Warning(
                f"ESI_SSO_MAX_CONCURRENT_REFRESHES caps EVE SSO refreshes per process only: the cache "
                f"{app_settings.ESI_BUDGET_CACHE_ALIAS!r} (ESI_BUDGET_CACHE_ALIAS) is not shared between processes.",
                hint="Point ESI_BUDGET_CACHE_ALIAS at a shared cache such as Redis (django-redis).",
                id="esi.W012",
            )
        ]
    return []


@register()
def check_django_q(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """esi.W013: without django-q2 the ``esi:`` schedules are never created."""
    from django.apps import apps

    if apps.is_installed("django_q"):
        return []
    return [
        Warning(
            "django_q is not in INSTALLED_APPS: nothing schedules esi's cleanup tasks (expired "
            "tokens are refreshed only when used, pending EVE SSO logins are never deleted).",
            hint=(
                'Add "django_q" to INSTALLED_APPS and run a cluster (manage.py qcluster), or '
                "schedule esi.tasks.cleanup_token_subset and esi.tasks.cleanup_callbackredirect "
                "with Celery beat and silence esi.W013."
            ),
            id="esi.W013",
        )
    ]
