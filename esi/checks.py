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
- ``esi.E006``: an ``ESI_*`` setting has the wrong type (``"no"`` for a boolean, a string
  for a number, a float where a whole number is needed).
- ``esi.E007``: a number setting is outside its range (``ESI_CLEANUP_SUBSET_FRACTION = 0``,
  a negative timeout, ``nan``).
- ``esi.E008``: a cache alias setting names no cache of ``CACHES``.
- ``esi.E009``: a setting is not one of the values it accepts (``ESI_*_BEHAVIOUR``,
  ``ESI_LOG_LEVEL_LIBRARIES``).
- ``esi.E010``: a text setting is malformed: empty, a line break in a value sent as an HTTP
  header, a compatibility date that is not ``YYYY-MM-DD``, a language list with a non-code.
- ``esi.E011``: ``ESI_SPEC_FILE`` names no readable file.

Every ``ESI_*`` setting has a rule in :data:`SETTING_RULES` (the tests hold the table to
``esi.app_settings.DEFAULTS``); settings with checks of their own above say so there.
- ``esi.W012``: the cap on concurrent EVE SSO refreshes lives in a per-process cache while
  ``DEBUG`` is off, so it does not hold across processes.
- ``esi.W013``: ``django_q`` is not installed, so nothing schedules the cleanup tasks.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
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


#: Endpoint overrides that may stay unset (``None``), else absolute URLs like the two above.
_OPTIONAL_URLS = ("ESI_SSO_LOGIN_URL", "ESI_CODE_EXCHANGE_URL", "ESI_TOKEN_EXCHANGE_URL")


#: django-esi's name of :func:`check_sso_settings`.
check_sso_application_settings = check_sso_settings


@register()
def check_endpoint_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """esi.E003, for the two origins and the optional endpoint overrides."""
    return [
        Error(
            f"{name} must be an absolute http(s) URL, not {getattr(app_settings, name)!r}.",
            hint="Leave it unset for CCP's servers, or point it at the emulator's URL.",
            id="esi.E003",
        )
        for name in ("ESI_SSO_BASE_URL", "ESI_API_URL", *_OPTIONAL_URLS)
        if not _is_absolute_http_url(getattr(app_settings, name))
        and not (name in _OPTIONAL_URLS and getattr(app_settings, name) is None)
    ]


# --------------------------------------------------------------------------- setting values


class Rule:
    """What one setting's value must be. :meth:`problem` returns ``(check id, what the
    value must be)`` for a value that breaks it, or ``None``."""

    def problem(self, value: Any) -> tuple[str, str] | None:
        raise NotImplementedError


class CheckedElsewhere(Rule):
    """A setting another check of this module validates (``check`` names it)."""

    def __init__(self, check: str) -> None:
        self.check = check

    def problem(self, value: Any) -> tuple[str, str] | None:
        return None


class Boolean(Rule):
    def problem(self, value: Any) -> tuple[str, str] | None:
        return None if isinstance(value, bool) else ("esi.E006", "True or False")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Number(Rule):
    """A number of ``low`` (``above``: more than ``low``) to ``high``; ``whole`` for an
    ``int``; ``optional`` allows ``None``."""

    def __init__(
        self,
        low: float = 0,
        high: float | None = None,
        *,
        above: bool = False,
        whole: bool = False,
        optional: bool = False,
        unit: str = "",
    ) -> None:
        self.low, self.high, self.above, self.whole, self.optional = low, high, above, whole, optional
        self.unit = unit

    def describe(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        bound = f"above {self.low:g}" if self.above else f"at least {self.low:g}"
        if self.high is not None:
            bound = f"from {self.low:g} to {self.high:g}"
        text = f"{kind}{' of ' + self.unit if self.unit else ''} {bound}"
        return text + (" (or None)" if self.optional else "")

    def problem(self, value: Any) -> tuple[str, str] | None:
        if value is None and self.optional:
            return None
        if not _is_number(value) or (self.whole and not isinstance(value, int)):
            return "esi.E006", self.describe()
        if not math.isfinite(value) or value < self.low or (self.above and value == self.low):
            return "esi.E007", self.describe()
        if self.high is not None and value > self.high:
            return "esi.E007", self.describe()
        return None


class Text(Rule):
    """A string: ``optional`` allows ``None``; ``header`` refuses line breaks and other
    control characters (the value goes into an HTTP header or a URL)."""

    def __init__(self, *, optional: bool = False, header: bool = True) -> None:
        self.optional, self.header = optional, header

    def problem(self, value: Any) -> tuple[str, str] | None:
        if value is None and self.optional:
            return None
        if not isinstance(value, str):
            return "esi.E006", "a string" + (" (or None)" if self.optional else "")
        if not value.strip():
            return "esi.E010", "a string that is not empty" + (" (or None)" if self.optional else "")
        if self.header and any(ord(c) < 32 or ord(c) == 127 for c in value):
            return "esi.E010", "a string without line breaks or other control characters"
        return None


class Choice(Rule):
    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def problem(self, value: Any) -> tuple[str, str] | None:
        return None if value in self.choices else ("esi.E009", f"one of {', '.join(map(repr, self.choices))}")


class LogLevel(Rule):
    def problem(self, value: Any) -> tuple[str, str] | None:
        if isinstance(value, int) and not isinstance(value, bool):
            return None
        if isinstance(value, str) and isinstance(logging.getLevelName(value.upper()), int):
            return None
        return "esi.E009", "a logging level, such as 'INFO' or 'WARNING', or its number"


class CacheAlias(Rule):
    def problem(self, value: Any) -> tuple[str, str] | None:
        if not isinstance(value, str):
            return "esi.E006", "the name of a cache in CACHES"
        if value not in getattr(settings, "CACHES", {}):
            return "esi.E008", f"the name of a cache in CACHES ({', '.join(map(repr, settings.CACHES))})"
        return None


class CompatibilityDate(Rule):
    def problem(self, value: Any) -> tuple[str, str] | None:
        from .clients import is_compatibility_date

        if value is None or isinstance(value, datetime.date):
            return None
        if not isinstance(value, str):
            return "esi.E006", "a date, a 'YYYY-MM-DD' string or None"
        return None if is_compatibility_date(value) else ("esi.E010", "a date written 'YYYY-MM-DD' (or None)")


class Languages(Rule):
    def problem(self, value: Any) -> tuple[str, str] | None:
        if not isinstance(value, (list, tuple)) or not value:
            return "esi.E006", "a list of ESI language codes, such as ['en', 'de']"
        if not all(isinstance(code, str) and code.strip() and code.isascii() for code in value):
            return "esi.E010", "a list of ESI language codes, such as ['en', 'de']"
        return None


class SpecFile(Rule):
    def problem(self, value: Any) -> tuple[str, str] | None:
        if value is None:
            return None
        if not isinstance(value, (str, os.PathLike)):
            return "esi.E006", "the path of an ESI spec file (or None)"
        if os.path.isfile(value) and os.access(value, os.R_OK):
            return None
        return "esi.E011", "the path of a readable ESI spec file (or None)"


SECONDS = "seconds"

#: The rule of every ``ESI_*`` setting of ``esi.app_settings.DEFAULTS``.
SETTING_RULES: dict[str, Rule] = {
    "ESI_SSO_CLIENT_ID": Text(optional=True),
    "ESI_SSO_CLIENT_SECRET": Text(optional=True),
    "ESI_SSO_CALLBACK_URL": CheckedElsewhere("esi.E002"),
    "ESI_ALWAYS_CREATE_TOKEN": Boolean(),
    "ESI_API_DATASOURCE": Text(),
    "ESI_API_VERSION": Text(),
    "ESI_CACHE_RESPONSE": Boolean(),
    "ESI_INFO_LOGGING_ENABLED": Boolean(),
    "ESI_LOG_LEVEL_LIBRARIES": LogLevel(),
    "ESI_DEBUG_RESPONSE_CONTENT_LOGGING": Boolean(),
    "ESI_USER_CONTACT_EMAIL": Text(optional=True),
    "ESI_CONNECTION_POOL_MAXSIZE": Number(1, whole=True),
    "ESI_CONNECTION_ERROR_MAX_RETRIES": Number(0, whole=True),
    "ESI_SERVER_ERROR_MAX_RETRIES": Number(0, whole=True),
    "ESI_SERVER_ERROR_BACKOFF_FACTOR": Number(0, unit=SECONDS),
    "ESI_REQUESTS_CONNECT_TIMEOUT": Number(0, above=True, unit=SECONDS),
    "ESI_REQUESTS_READ_TIMEOUT": Number(0, above=True, unit=SECONDS),
    "ESI_REQUESTS_TOTAL_TIMEOUT": Number(0, above=True, unit=SECONDS),
    "ESI_MAX_RESPONSE_BYTES": Number(1, whole=True, unit="bytes"),
    "ESI_RESPONSE_CACHE_MAX_BYTES": Number(0, whole=True, unit="bytes"),
    "ESI_CONNECTION_POOL_MAX_CONNECTIONS": Number(1, whole=True),
    "ESI_CONNECTION_POOL_MAX_KEEPALIVE": Number(0, whole=True),
    "ESI_CONNECTION_POOL_KEEPALIVE_EXPIRY": Number(0, unit=SECONDS),
    "ESI_SERVER_ERROR_WAIT_EXPONENT": Number(0),
    "ESI_REQUESTS_WRITE_TIMEOUT": Number(0, above=True, optional=True, unit=SECONDS),
    "ESI_REQUESTS_POOL_TIMEOUT": Number(0, above=True, optional=True, unit=SECONDS),
    "ESI_SSO_USER_AGENT": Text(optional=True),
    "ESI_SSO_MAX_RETRIES": Number(0, whole=True),
    "ESI_SSO_WAIT_EXPONENT": Number(0),
    "ESI_SSO_MAX_RETRY_AFTER": Number(0, unit=SECONDS),
    "ESI_SSO_VIEW_TIMEOUT": Number(0, above=True, unit=SECONDS),
    "ESI_SSO_MAX_CONCURRENT_REFRESHES": Number(0, 1000, whole=True, optional=True),
    "ESI_SSO_REFRESH_SLOT_WAIT": Number(0, above=True, unit=SECONDS),
    "ESI_API_URL": CheckedElsewhere("esi.E003"),
    "ESI_SSO_BASE_URL": CheckedElsewhere("esi.E003"),
    "ESI_SSO_LOGIN_URL": CheckedElsewhere("esi.E003"),
    "ESI_CODE_EXCHANGE_URL": CheckedElsewhere("esi.E003"),
    "ESI_TOKEN_EXCHANGE_URL": CheckedElsewhere("esi.E003"),
    "ESI_TOKEN_VALID_DURATION": Number(1, whole=True, unit=SECONDS),
    "ESI_TOKEN_JWT_AUDIENCE": Text(),
    "ESI_SSO_USE_PKCE": Boolean(),
    "ESI_SSO_JWKS_CACHE_TIMEOUT": Number(1, whole=True, unit=SECONDS),
    "ESI_SPEC_CACHE_DURATION": Number(1, whole=True, unit=SECONDS),
    "ESI_LANGUAGES": Languages(),
    "ESI_SPEC_FILE": SpecFile(),
    "ESI_COMPATIBILITY_DATE": CompatibilityDate(),
    "ESI_RESPONSE_CACHE_ALIAS": CacheAlias(),
    "ESI_PAGE_CONCURRENCY": Number(1, whole=True),
    "ESI_MAX_PAGES": Number(1, whole=True),
    "ESI_VALIDATE_RESPONSES": Boolean(),
    "ESI_FAST_JSONSCHEMA_IMPORT": Boolean(),
    "ESI_ERROR_LIMIT_THRESHOLD": Number(0, whole=True),
    "ESI_ERROR_LIMIT_BEHAVIOUR": Choice("wait", "raise"),
    "ESI_ERROR_LIMIT_MAX_WAIT": Number(0, unit=SECONDS),
    "ESI_RATE_LIMIT_BEHAVIOUR": Choice("wait", "raise"),
    "ESI_RATE_LIMIT_MAX_WAIT": Number(0, unit=SECONDS),
    "ESI_RATE_LIMIT_PACE_BELOW": Number(0, 1),
    "ESI_RATE_LIMIT_PACE_TOKENS": Number(0, whole=True),
    "ESI_RATE_LIMIT_RESERVE": Number(0, 0.5),
    "ESI_TASK_MAX_WAIT": Number(0, optional=True, unit=SECONDS),
    "ESI_BUDGET_CACHE_ALIAS": CacheAlias(),
    "ESI_BUDGET_SYNC_INTERVAL": Number(0, unit=SECONDS),
    "ESI_STATS_FLUSH_INTERVAL": Number(0, unit=SECONDS),
    "ESI_STATS_RETENTION_HOURS": Number(0, above=True, unit="hours"),
    "ESI_REFRESH_CONCURRENCY": Number(1, whole=True),
    "ESI_REFRESH_BACKOFF_BASE": Number(0, unit=SECONDS),
    "ESI_REFRESH_BACKOFF_MAX": Number(0, unit=SECONDS),
    "ESI_REFRESH_BREAKER_MIN_ATTEMPTS": Number(1, whole=True),
    "ESI_REFRESH_BREAKER_RATIO": Number(0, 1),
    "ESI_REFRESH_BREAKER_WINDOW": Number(1, whole=True),
    "ESI_REFRESH_TIME_LIMIT": Number(0, optional=True, unit=SECONDS),
    "ESI_REFRESH_JOURNAL_CACHE_ALIAS": CacheAlias(),
    "ESI_REFRESH_JOURNAL_TIMEOUT": Number(1, whole=True, unit=SECONDS),
    "ESI_CLEANUP_SUBSET_FRACTION": Number(1, whole=True),
    "ESI_SCHEDULES": CheckedElsewhere("esi.E004"),
}

_HINTS = {
    "esi.E006": "Use a value of the type in the docs' settings page, for example True rather than 'yes'.",
    "esi.E007": "See the setting's range in the docs' settings page, or leave it unset for the default.",
    "esi.E008": "Name a cache of CACHES, or leave it unset for 'default'.",
    "esi.E009": "Use one of the values the docs' settings page lists.",
    "esi.E010": "Correct the value, or leave it unset for the default.",
    "esi.E011": "Point it at an ESI spec (manage.py esi_update_spec downloads one), or leave it unset.",
}


@register()
def check_setting_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """esi.E006 to esi.E011: every ``ESI_*`` setting against its rule in
    :data:`SETTING_RULES`. A bad value is reported by name with what it must be; nothing
    at run time second-guesses it (``ESI_CACHE_RESPONSE = "no"`` is true to Python)."""
    messages: list[CheckMessage] = []
    for name, rule in SETTING_RULES.items():
        value = getattr(app_settings, name)
        found = rule.problem(value)
        if found is not None:
            check_id, expected = found
            messages.append(Error(f"{name} must be {expected}, not {value!r}.", hint=_HINTS[check_id], id=check_id))
    return messages


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


#: Cache backends whose entries one process cannot see from another.
_PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register()
def check_refresh_limit(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """esi.W012: the site-wide cap on EVE SSO refreshes (:mod:`esi.sso_limit`) kept in a
    cache that processes do not share. (Malformed values are ``check_setting_values``'.)"""
    cap = app_settings.ESI_SSO_MAX_CONCURRENT_REFRESHES
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
