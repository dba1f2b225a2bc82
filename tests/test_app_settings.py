from typing import Any

import pytest
import requests
from django.test import override_settings

from esi import app_settings

#: Every module-level ``ESI_*`` name of django-esi 7.0.1's ``esi/app_settings.py``.
DJANGO_ESI_7_NAMES = (
    "ESI_SSO_CLIENT_ID",
    "ESI_SSO_CLIENT_SECRET",
    "ESI_SSO_CALLBACK_URL",
    "ESI_API_DATASOURCE",
    "ESI_API_VERSION",
    "ESI_ALWAYS_CREATE_TOKEN",
    "ESI_CACHE_RESPONSE",
    "ESI_INFO_LOGGING_ENABLED",
    "ESI_LOG_LEVEL_LIBRARIES",
    "ESI_DEBUG_RESPONSE_CONTENT_LOGGING",
    "ESI_USER_CONTACT_EMAIL",
    "ESI_CONNECTION_POOL_MAXSIZE",
    "ESI_CONNECTION_ERROR_MAX_RETRIES",
    "ESI_SERVER_ERROR_MAX_RETRIES",
    "ESI_SERVER_ERROR_BACKOFF_FACTOR",
    "ESI_REQUESTS_CONNECT_TIMEOUT",
    "ESI_REQUESTS_READ_TIMEOUT",
    "ESI_API_URL",
    "ESI_OAUTH_URL",
    "ESI_OAUTH_LOGIN_URL",
    "ESI_TOKEN_URL",
    "ESI_TOKEN_VERIFY_URL",
    "ESI_TOKEN_JWK_SET_URL",
    "ESI_TOKEN_VALID_DURATION",
    "ESI_SPEC_CACHE_DURATION",
    "ESI_TOKEN_JWT_AUDIENCE",
    "ESI_LANGUAGES",
)

#: Every module-level ``ESI_*`` name of django-esi 10.0.0's ``esi/app_settings.py``.
DJANGO_ESI_10_NAMES = (
    "ESI_SSO_CLIENT_ID",
    "ESI_SSO_CLIENT_SECRET",
    "ESI_SSO_CALLBACK_URL",
    "ESI_ALWAYS_CREATE_TOKEN",
    "ESI_CACHE_RESPONSE",
    "ESI_USER_CONTACT_EMAIL",
    "ESI_CONNECTION_POOL_MAX_CONNECTIONS",
    "ESI_CONNECTION_POOL_MAX_KEEPALIVE",
    "ESI_CONNECTION_POOL_KEEPALIVE_EXPIRY",
    "ESI_SERVER_ERROR_MAX_RETRIES",
    "ESI_SERVER_ERROR_WAIT_EXPONENT",
    "ESI_SSO_USER_AGENT",
    "ESI_SSO_MAX_RETRIES",
    "ESI_SSO_WAIT_EXPONENT",
    "ESI_SSO_MAX_RETRY_AFTER",
    "ESI_REQUESTS_CONNECT_TIMEOUT",
    "ESI_REQUESTS_READ_TIMEOUT",
    "ESI_REQUESTS_WRITE_TIMEOUT",
    "ESI_REQUESTS_POOL_TIMEOUT",
    "ESI_API_URL",
    "ESI_OAUTH_URL",
    "ESI_OAUTH_LOGIN_URL",
    "ESI_TOKEN_URL",
    "ESI_TOKEN_JWK_SET_URL",
    "ESI_TOKEN_VALID_DURATION",
    "ESI_TOKEN_JWT_AUDIENCE",
    "ESI_LANGUAGES",
)

#: The defaults django-esi documents (its ``app_settings`` is its settings reference), as
#: our module returns them when the project sets nothing.
DJANGO_ESI_DEFAULTS: dict[str, Any] = {
    "ESI_SSO_CLIENT_ID": None,
    "ESI_SSO_CLIENT_SECRET": None,
    "ESI_SSO_CALLBACK_URL": None,
    "ESI_API_DATASOURCE": "tranquility",
    "ESI_API_VERSION": "latest",
    "ESI_ALWAYS_CREATE_TOKEN": False,
    "ESI_CACHE_RESPONSE": True,
    "ESI_INFO_LOGGING_ENABLED": False,
    "ESI_LOG_LEVEL_LIBRARIES": "INFO",
    "ESI_DEBUG_RESPONSE_CONTENT_LOGGING": True,
    "ESI_USER_CONTACT_EMAIL": None,
    "ESI_CONNECTION_POOL_MAXSIZE": 10,
    "ESI_CONNECTION_ERROR_MAX_RETRIES": 3,
    "ESI_SERVER_ERROR_MAX_RETRIES": 3,
    "ESI_SERVER_ERROR_BACKOFF_FACTOR": 0.2,
    "ESI_REQUESTS_CONNECT_TIMEOUT": 5,
    # django-esi 10's value; 7 had 30, but ESI cuts requests off at 10 s.
    "ESI_REQUESTS_READ_TIMEOUT": 10,
    "ESI_TOKEN_VALID_DURATION": 1170,
    "ESI_SPEC_CACHE_DURATION": 3600,
    "ESI_TOKEN_JWT_AUDIENCE": "EVE Online",
    # django-esi 10's list; 7 had "en-us" and lacked "es".
    "ESI_LANGUAGES": ["en", "de", "fr", "ja", "ru", "zh", "ko", "es"],
    "ESI_CONNECTION_POOL_MAX_CONNECTIONS": 100,
    "ESI_CONNECTION_POOL_MAX_KEEPALIVE": 20,
    "ESI_CONNECTION_POOL_KEEPALIVE_EXPIRY": 5,
    "ESI_SERVER_ERROR_WAIT_EXPONENT": 1,
    "ESI_SSO_USER_AGENT": None,
    "ESI_SSO_MAX_RETRIES": 3,
    "ESI_SSO_WAIT_EXPONENT": 1,
    "ESI_SSO_MAX_RETRY_AFTER": 60,
    "ESI_REQUESTS_WRITE_TIMEOUT": 5,
    "ESI_REQUESTS_POOL_TIMEOUT": 5,
    "ESI_OAUTH_URL": "https://login.eveonline.com/v2/oauth",
    "ESI_TOKEN_URL": "https://login.eveonline.com/v2/oauth/token",
    "ESI_TOKEN_VERIFY_URL": "https://login.eveonline.com/v2/oauth/verify",
    "ESI_TOKEN_JWK_SET_URL": "https://login.eveonline.com/oauth/jwks",
    # The same endpoints as django-esi's "https://esi.evetech.net/" and
    # ".../v2/oauth/authorize/", written without the trailing slash.
    "ESI_API_URL": "https://esi.evetech.net",
    "ESI_OAUTH_LOGIN_URL": "https://login.eveonline.com/v2/oauth/authorize",
}

#: The project settings django-esi reads to compute its module names.
SOURCE_SETTINGS = (
    "ESI_SSO_BASE_URL",
    "ESI_SSO_LOGIN_URL",
    "ESI_CODE_EXCHANGE_URL",
    "ESI_TOKEN_EXCHANGE_URL",
)


@pytest.fixture
def unset(settings):
    """No ``ESI_*`` setting of django-esi in the project: every name falls back to its default."""
    for name in (*DJANGO_ESI_DEFAULTS, *SOURCE_SETTINGS):
        if hasattr(settings, name):
            delattr(settings, name)
    return settings


def test_the_defaults_table_covers_both_versions():
    assert set(DJANGO_ESI_DEFAULTS) == set(DJANGO_ESI_7_NAMES) | set(DJANGO_ESI_10_NAMES)


@pytest.mark.parametrize("name", sorted(set(DJANGO_ESI_7_NAMES) | set(DJANGO_ESI_10_NAMES)))
def test_every_django_esi_name_imports_with_its_documented_default(unset, name):
    # What ``from esi.app_settings import <name>`` runs.
    module = __import__("esi.app_settings", fromlist=[name])
    assert getattr(module, name) == DJANGO_ESI_DEFAULTS[name]
    assert name in dir(app_settings)


def test_django_esi_urls_follow_the_emulator(emulator):
    meta = requests.get(f"{emulator.url}/.well-known/oauth-authorization-server", timeout=5).json()
    assert app_settings.ESI_OAUTH_URL == f"{emulator.url}/v2/oauth"
    assert app_settings.ESI_OAUTH_LOGIN_URL == meta["authorization_endpoint"]
    assert app_settings.ESI_TOKEN_URL == meta["token_endpoint"]
    assert app_settings.ESI_TOKEN_JWK_SET_URL == meta["jwks_uri"]
    assert app_settings.ESI_TOKEN_VERIFY_URL == f"{emulator.url}/v2/oauth/verify"
    keys = requests.get(app_settings.ESI_TOKEN_JWK_SET_URL, timeout=5).json()["keys"]
    assert {key["kid"] for key in keys} == {"JWT-Signature-Key", "JWT-Signature-Key-ES256"}


def test_token_exchange_url_overrides_the_verify_url(settings):
    settings.ESI_TOKEN_EXCHANGE_URL = "https://sso.example/verify"
    assert app_settings.ESI_TOKEN_VERIFY_URL == "https://sso.example/verify"


def test_settings_are_read_lazily():
    assert app_settings.ESI_SSO_CLIENT_ID == "test-client-id"
    with override_settings(ESI_SSO_CLIENT_ID="other", ESI_ALWAYS_CREATE_TOKEN=True):
        assert app_settings.ESI_SSO_CLIENT_ID == "other"
        assert app_settings.ESI_ALWAYS_CREATE_TOKEN is True
    assert app_settings.ESI_SSO_CLIENT_ID == "test-client-id"


def test_sso_urls_derive_from_the_base_url():
    assert app_settings.sso_authorize_url() == "https://login.eveonline.com/v2/oauth/authorize"
    assert app_settings.sso_token_url() == "https://login.eveonline.com/v2/oauth/token"
    assert app_settings.sso_revoke_url() == "https://login.eveonline.com/v2/oauth/revoke"
    assert app_settings.sso_jwks_url() == "https://login.eveonline.com/oauth/jwks"
    assert app_settings.sso_issuers() == ("https://login.eveonline.com", "login.eveonline.com")
    with override_settings(ESI_SSO_BASE_URL="http://127.0.0.1:8001/"):
        assert app_settings.sso_token_url() == "http://127.0.0.1:8001/v2/oauth/token"
        assert app_settings.sso_issuers() == ("http://127.0.0.1:8001", "127.0.0.1:8001")
        assert app_settings.ESI_TOKEN_URL == "http://127.0.0.1:8001/v2/oauth/token"


def test_django_esi_style_base_url_is_accepted():
    with override_settings(ESI_SSO_BASE_URL="https://login.eveonline.com/v2/oauth"):
        assert app_settings.sso_base_url() == "https://login.eveonline.com"
        assert app_settings.ESI_OAUTH_LOGIN_URL == "https://login.eveonline.com/v2/oauth/authorize"


def test_explicit_endpoint_overrides_win():
    with override_settings(ESI_SSO_LOGIN_URL="https://sso.example/auth", ESI_CODE_EXCHANGE_URL="https://sso.example/tok"):
        assert app_settings.sso_authorize_url() == "https://sso.example/auth"
        assert app_settings.sso_token_url() == "https://sso.example/tok"


def test_api_url_trailing_slash_is_dropped():
    with override_settings(ESI_API_URL="https://esi.evetech.net/"):
        assert app_settings.esi_api_url() == "https://esi.evetech.net"


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError):
        app_settings.ESI_NOT_A_SETTING  # noqa: B018
    assert "ESI_SSO_CLIENT_ID" in dir(app_settings)


class TestLibraryLogLevel:
    def test_follows_the_setting(self, settings):
        import logging

        from esi.apps import LIBRARIES

        settings.ESI_LOG_LEVEL_LIBRARIES = "WARNING"
        assert all(logging.getLogger(name).level == logging.WARNING for name in LIBRARIES)
        settings.ESI_LOG_LEVEL_LIBRARIES = "debug"
        assert logging.getLogger("urllib3").level == logging.DEBUG
        settings.ESI_LOG_LEVEL_LIBRARIES = logging.ERROR
        assert logging.getLogger("bravado_core").level == logging.ERROR

    @pytest.mark.parametrize("bad", ["LOUD", "", None, 1.5, ["INFO"]])
    def test_a_bad_level_is_a_clear_error(self, bad):
        from django.core.exceptions import ImproperlyConfigured
        from django.test import override_settings

        with pytest.raises(ImproperlyConfigured, match="ESI_LOG_LEVEL_LIBRARIES"):
            with override_settings(ESI_LOG_LEVEL_LIBRARIES=bad):
                pass
