import pytest
from django.core.checks import Error, Warning
from django.test import override_settings

from esi.checks import check_contact_email, check_endpoint_settings, check_sso_settings


def ids(messages):
    return [m.id for m in messages]


def test_configured_site_passes_every_check():
    assert check_sso_settings() == []
    assert check_endpoint_settings() == []
    assert check_contact_email() == []


@override_settings(ESI_SSO_CLIENT_ID=None, ESI_SSO_CLIENT_SECRET="", DEBUG=False)
def test_missing_sso_settings_is_an_error_without_debug():
    messages = check_sso_settings()
    assert ids(messages) == ["esi.E001"]
    assert isinstance(messages[0], Error)
    assert "ESI_SSO_CLIENT_ID" in messages[0].hint and "ESI_SSO_CLIENT_SECRET" in messages[0].hint


@override_settings(ESI_SSO_CALLBACK_URL=None, DEBUG=True)
def test_missing_sso_settings_is_a_warning_with_debug():
    messages = check_sso_settings()
    assert ids(messages) == ["esi.W001"]
    assert isinstance(messages[0], Warning)


@override_settings(ESI_SSO_CLIENT_SECRET=None, ESI_SSO_USE_PKCE=True)
def test_pkce_clients_need_no_secret():
    assert check_sso_settings() == []


@pytest.mark.parametrize("url", ["/sso/callback/", "sso/callback", "ftp://example.com/cb", "https://"])
def test_callback_url_must_be_absolute(url):
    with override_settings(ESI_SSO_CALLBACK_URL=url):
        assert ids(check_sso_settings()) == ["esi.E002"]


@pytest.mark.parametrize("name", ["ESI_SSO_BASE_URL", "ESI_API_URL"])
def test_endpoints_must_be_absolute(name):
    with override_settings(**{name: "login.eveonline.com"}):
        messages = check_endpoint_settings()
    assert ids(messages) == ["esi.E003"]
    assert name in messages[0].msg


@pytest.mark.parametrize("value", [None, ""])
def test_missing_contact_email_is_a_warning(value):
    with override_settings(ESI_USER_CONTACT_EMAIL=value):
        messages = check_contact_email()
    assert ids(messages) == ["esi.W002"]
    assert isinstance(messages[0], Warning)


def test_checks_are_registered():
    from django.core import checks

    registered = {c.__name__ for c in checks.registry.registry.get_checks()}
    assert {"check_sso_settings", "check_endpoint_settings", "check_contact_email", "check_schedules"} <= registered


def test_cron_schedules_outside_utc_are_an_error(settings):
    from esi.checks import check_schedules

    settings.ESI_SCHEDULES = {"cleanup_token": {"cron": "0 11 * * *"}}
    settings.TIME_ZONE = "Europe/Oslo"
    settings.Q_CLUSTER = {"name": "x", "orm": "default"}
    messages = check_schedules()
    assert ids(messages) == ["esi.E005"] and isinstance(messages[0], Error)
    assert "esi:cleanup_token" in messages[0].msg and "Europe/Oslo" in messages[0].msg
    # The cluster's zone decides, not the site's.
    settings.Q_CLUSTER = {"name": "x", "orm": "default", "time_zone": "Etc/UTC"}
    assert check_schedules() == []
    settings.TIME_ZONE = "UTC"
    settings.Q_CLUSTER = {"name": "x", "orm": "default", "time_zone": "America/New_York"}
    assert "America/New_York" in check_schedules()[0].msg
    settings.ESI_SCHEDULES = {"cleanup_token": {"minutes": 60}}
    assert check_schedules() == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"refresh_tokens": {"minutes": 60}}, "refresh_tokens cannot be scheduled"),
        ({"cleanup_everything": {"minutes": 5}}, "unknown task 'cleanup_everything'"),
        ({"cleanup_token": {"cron": "61 * * * *"}}, "not a valid cron expression"),
        ({"cleanup_token": {"minutes": 0}}, "must be 1 to 32767"),
        ("hourly", "must be a dict"),
    ],
)
def test_invalid_schedules_are_an_error(settings, value, text):
    from esi.checks import check_schedules

    settings.ESI_SCHEDULES = value
    messages = check_schedules()
    assert ids(messages) == ["esi.E004"] and isinstance(messages[0], Error)
    assert text in messages[0].msg


def test_a_cache_that_does_not_answer_is_a_warning(settings):
    from esi.checks import check_caches

    assert check_caches() == []
    settings.CACHES = {
        **settings.CACHES,
        # Nothing listens on port 1: every operation is refused, as with Redis stopped.
        "down": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    settings.ESI_RESPONSE_CACHE_ALIAS = "down"
    settings.ESI_REFRESH_JOURNAL_CACHE_ALIAS = "down"
    messages = check_caches()
    assert ids(messages) == ["esi.W004"] and isinstance(messages[0], Warning)
    assert "'down' (ESI responses, the refresh journal) does not answer: ConnectionError" in messages[0].msg
    assert "budgets" in messages[0].hint
    settings.ESI_RESPONSE_CACHE_ALIAS = "no-such-alias"  # esi.E008's business, not this check's
    assert ids(check_caches()) == ["esi.W004"]
