from django.test import override_settings

from esi import app_settings


def test_defaults_match_django_esi():
    with override_settings():
        from django.conf import settings

        for name in ("ESI_SSO_CLIENT_ID", "ESI_API_DATASOURCE", "ESI_CACHE_RESPONSE"):
            if hasattr(settings, name):
                delattr(settings, name)
        assert app_settings.ESI_SSO_CLIENT_ID is None
        assert app_settings.ESI_API_DATASOURCE == "tranquility"
        assert app_settings.ESI_CACHE_RESPONSE is True
    assert app_settings.ESI_API_VERSION == "latest"
    assert app_settings.ESI_ALWAYS_CREATE_TOKEN is False
    assert app_settings.ESI_SERVER_ERROR_BACKOFF_FACTOR == 0.2
    assert app_settings.ESI_SERVER_ERROR_WAIT_EXPONENT == 1
    assert app_settings.ESI_CONNECTION_POOL_MAXSIZE == 10
    assert app_settings.ESI_CONNECTION_POOL_MAX_CONNECTIONS == 100
    assert app_settings.ESI_LOG_LEVEL_LIBRARIES == "INFO"
    assert app_settings.ESI_INFO_LOGGING_ENABLED is False


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
    import pytest

    with pytest.raises(AttributeError):
        app_settings.ESI_NOT_A_SETTING  # noqa: B018
    assert "ESI_SSO_CLIENT_ID" in dir(app_settings)
