"""The ``ESI_*`` settings, read lazily.

Every name django-esi 7 and 10 document is here with the same default and meaning, plus the
settings this package adds. Values are read from ``django.conf.settings`` at first access
and kept until a setting changes (Django's ``setting_changed`` signal, which
``override_settings`` sends), so ``override_settings`` works in tests::

    from esi import app_settings
    app_settings.ESI_SSO_CLIENT_ID          # the site's value, or the default

The URLs of EVE SSO and ESI derive from two settings, ``ESI_SSO_BASE_URL`` and ``ESI_API_URL``,
so a stand-in server (the emulator) can serve both. See ``docs/settings.rst`` for every setting.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # EVE SSO application (https://developers.eveonline.com/applications)
    "ESI_SSO_CLIENT_ID": None,
    "ESI_SSO_CLIENT_SECRET": None,
    "ESI_SSO_CALLBACK_URL": None,
    # Behaviour
    "ESI_ALWAYS_CREATE_TOKEN": False,
    "ESI_API_DATASOURCE": "tranquility",
    "ESI_API_VERSION": "latest",
    "ESI_CACHE_RESPONSE": True,
    "ESI_INFO_LOGGING_ENABLED": False,
    "ESI_LOG_LEVEL_LIBRARIES": "INFO",
    "ESI_DEBUG_RESPONSE_CONTENT_LOGGING": True,
    "ESI_USER_CONTACT_EMAIL": None,
    # Transport, requests-era names (django-esi 7)
    "ESI_CONNECTION_POOL_MAXSIZE": 10,
    "ESI_CONNECTION_ERROR_MAX_RETRIES": 3,
    "ESI_SERVER_ERROR_MAX_RETRIES": 3,
    "ESI_SERVER_ERROR_BACKOFF_FACTOR": 0.2,
    "ESI_REQUESTS_CONNECT_TIMEOUT": 5,
    # ESI cuts requests to the game server off at 10 s (django-esi 10; 7 used 30 s).
    "ESI_REQUESTS_READ_TIMEOUT": 10,
    # The whole of one call, retries included: the read timeout bounds each read only.
    "ESI_REQUESTS_TOTAL_TIMEOUT": 30,
    # The largest ESI body read (the largest real ones, /markets/prices and
    # /industry/systems, are one or two MB), and the largest kept in the response cache.
    "ESI_MAX_RESPONSE_BYTES": 16 * 1024 * 1024,
    "ESI_RESPONSE_CACHE_MAX_BYTES": 4 * 1024 * 1024,
    # Transport, httpx-era names (django-esi 10)
    "ESI_CONNECTION_POOL_MAX_CONNECTIONS": 100,
    "ESI_CONNECTION_POOL_MAX_KEEPALIVE": 20,
    "ESI_CONNECTION_POOL_KEEPALIVE_EXPIRY": 5,
    "ESI_SERVER_ERROR_WAIT_EXPONENT": 1,
    "ESI_REQUESTS_WRITE_TIMEOUT": 5,
    "ESI_REQUESTS_POOL_TIMEOUT": 5,
    "ESI_SSO_USER_AGENT": None,
    "ESI_SSO_MAX_RETRIES": 3,
    "ESI_SSO_WAIT_EXPONENT": 1,
    "ESI_SSO_MAX_RETRY_AFTER": 60,
    # How long a view waits for EVE SSO in all (token refreshes, the code exchange).
    "ESI_SSO_VIEW_TIMEOUT": 5,
    # Endpoints
    "ESI_API_URL": "https://esi.evetech.net",
    "ESI_SSO_BASE_URL": "https://login.eveonline.com",
    "ESI_SSO_LOGIN_URL": None,
    "ESI_CODE_EXCHANGE_URL": None,
    "ESI_TOKEN_EXCHANGE_URL": None,
    # Tokens
    "ESI_TOKEN_VALID_DURATION": 1170,
    "ESI_TOKEN_JWT_AUDIENCE": "EVE Online",
    "ESI_SSO_USE_PKCE": False,
    "ESI_SSO_JWKS_CACHE_TIMEOUT": 3600,
    "ESI_SPEC_CACHE_DURATION": 3600,
    "ESI_LANGUAGES": ["en", "de", "fr", "ja", "ru", "zh", "ko", "es"],
    # ESI client (esi.clients)
    "ESI_SPEC_FILE": None,
    "ESI_COMPATIBILITY_DATE": None,
    "ESI_RESPONSE_CACHE_ALIAS": "default",
    "ESI_PAGE_CONCURRENCY": 8,
    "ESI_MAX_PAGES": 1000,
    "ESI_VALIDATE_RESPONSES": False,
    "ESI_FAST_JSONSCHEMA_IMPORT": True,
    # ESI budgets (esi.http.budgets, esi.http.stats)
    "ESI_ERROR_LIMIT_THRESHOLD": 10,
    "ESI_ERROR_LIMIT_BEHAVIOUR": "wait",
    "ESI_ERROR_LIMIT_MAX_WAIT": 65,
    "ESI_RATE_LIMIT_BEHAVIOUR": "wait",
    "ESI_RATE_LIMIT_MAX_WAIT": 60,
    # Pacing before the 429 (esi.http.budgets): a bucket whose Remaining is at or below this
    # fraction of its limit, or this many tokens, is paced (both 0: pacing off); the reserve
    # is the fraction of the limit kept unspent.
    "ESI_RATE_LIMIT_PACE_BELOW": 0.5,
    "ESI_RATE_LIMIT_PACE_TOKENS": 100,
    "ESI_RATE_LIMIT_RESERVE": 0.05,
    # Inside a django-q2 or Celery task, budget waits longer than this raise (the task
    # decorators retry later) rather than hold the worker; None: the caps above only.
    "ESI_TASK_MAX_WAIT": 10,
    "ESI_BUDGET_CACHE_ALIAS": "default",
    "ESI_BUDGET_SYNC_INTERVAL": 1.0,
    "ESI_STATS_FLUSH_INTERVAL": 10,
    "ESI_STATS_RETENTION_HOURS": 6,
    # Background refresh (esi.tasks)
    # 16: twice the rate of 8, and more adds little (bench/refresh_tokens.py --concurrency).
    "ESI_REFRESH_CONCURRENCY": 16,
    # EVE SSO refresh requests in flight across every process sharing ESI_BUDGET_CACHE_ALIAS
    # (esi.sso_limit); None or 0 for no cap. Waiting longer than the second is transient.
    "ESI_SSO_MAX_CONCURRENT_REFRESHES": 16,
    "ESI_SSO_REFRESH_SLOT_WAIT": 30,
    "ESI_REFRESH_BACKOFF_BASE": 60,
    "ESI_REFRESH_BACKOFF_MAX": 6 * 3600,
    "ESI_REFRESH_BREAKER_MIN_ATTEMPTS": 5,
    "ESI_REFRESH_BREAKER_RATIO": 0.5,
    "ESI_REFRESH_BREAKER_WINDOW": 20,
    "ESI_REFRESH_TIME_LIMIT": None,
    "ESI_REFRESH_JOURNAL_CACHE_ALIAS": "default",
    "ESI_REFRESH_JOURNAL_TIMEOUT": 30 * 24 * 3600,
    "ESI_CLEANUP_SUBSET_FRACTION": 48,
    # A site's dict is merged over this one key by key (esi.schedules.configured).
    "ESI_SCHEDULES": {
        "cleanup_callbackredirect": {"minutes": 240},
        "cleanup_token_subset": {"minutes": 60},
        "cleanup_token": None,
    },
}


#: Values read so far: a read on the path of every ESI call costs a dict lookup instead
#: of a trip through Django's LazySettings. Emptied whenever a setting changes.
_values: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    try:
        return _values[name]
    except KeyError:
        pass
    if name in DEFAULTS:
        value = getattr(settings, name, DEFAULTS[name])
    elif name in _DERIVED:
        value = _DERIVED[name]()
    else:
        raise AttributeError(f"module 'esi.app_settings' has no attribute {name!r}")
    _values[name] = value
    return value


def _forget(**kwargs: Any) -> None:
    """``setting_changed`` receiver: ``override_settings`` and the tests' ``settings``
    fixture change settings at run time; derived values depend on several, so forget all."""
    _values.clear()


setting_changed.connect(_forget, dispatch_uid="esi_app_settings_values")


def __dir__() -> list[str]:
    return sorted([*globals(), *DEFAULTS, *_DERIVED])


def sso_base_url() -> str:
    """The EVE SSO origin, without a trailing slash, e.g. ``https://login.eveonline.com``.

    django-esi's ``ESI_SSO_BASE_URL`` pointed at ``<origin>/v2/oauth``; that form is accepted
    and reduced to the origin so old settings files keep working.
    """
    base = str(__getattr__("ESI_SSO_BASE_URL")).rstrip("/")
    if base.endswith("/v2/oauth"):
        base = base[: -len("/v2/oauth")]
    return base


def sso_authorize_url() -> str:
    """EVE SSO v2 authorize endpoint (``ESI_SSO_LOGIN_URL`` overrides)."""
    return __getattr__("ESI_SSO_LOGIN_URL") or f"{sso_base_url()}/v2/oauth/authorize"


def sso_token_url() -> str:
    """EVE SSO v2 token endpoint (``ESI_CODE_EXCHANGE_URL`` overrides)."""
    return __getattr__("ESI_CODE_EXCHANGE_URL") or f"{sso_base_url()}/v2/oauth/token"


def sso_revoke_url() -> str:
    """EVE SSO v2 revoke endpoint."""
    return f"{sso_base_url()}/v2/oauth/revoke"


def sso_jwks_url() -> str:
    """EVE SSO JSON Web Key Set."""
    return f"{sso_base_url()}/oauth/jwks"


def sso_issuers() -> tuple[str, str]:
    """The accepted ``iss`` claims: the origin and its bare host.

    CCP documents both ``https://login.eveonline.com`` and ``login.eveonline.com``
    (developers.eveonline.com, "SSO: Validating JWT tokens").
    """
    base = sso_base_url()
    return base, urlsplit(base).netloc


def esi_api_url() -> str:
    """The ESI root, without a trailing slash, e.g. ``https://esi.evetech.net``."""
    return str(__getattr__("ESI_API_URL")).rstrip("/")


_DERIVED = {
    # django-esi's derived names, kept readable for code that imported them.
    "ESI_OAUTH_URL": lambda: f"{sso_base_url()}/v2/oauth",
    "ESI_OAUTH_LOGIN_URL": sso_authorize_url,
    "ESI_TOKEN_URL": sso_token_url,
    "ESI_TOKEN_JWK_SET_URL": sso_jwks_url,
    # django-esi 7's token verify endpoint (deprecated there, gone in 10); nothing here calls
    # it, since access tokens are verified locally against the JWKS.
    "ESI_TOKEN_VERIFY_URL": lambda: (
        __getattr__("ESI_TOKEN_EXCHANGE_URL") or f"{sso_base_url()}/v2/oauth/verify"
    ),
}
