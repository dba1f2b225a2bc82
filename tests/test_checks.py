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


# -- the values of every ESI_* setting (esi.E006 to esi.E011) ---------------------------------


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        # The values the issue reproduced, then one of each kind per rule.
        ("ESI_REFRESH_JOURNAL_CACHE_ALIAS", "nope", "esi.E008"),
        ("ESI_CACHE_RESPONSE", "no", "esi.E006"),
        ("ESI_CLEANUP_SUBSET_FRACTION", 0, "esi.E007"),
        ("ESI_RESPONSE_CACHE_ALIAS", "nope", "esi.E008"),
        ("ESI_BUDGET_CACHE_ALIAS", None, "esi.E006"),
        ("ESI_ALWAYS_CREATE_TOKEN", 1, "esi.E006"),
        ("ESI_SSO_USE_PKCE", "False", "esi.E006"),
        ("ESI_VALIDATE_RESPONSES", None, "esi.E006"),
        ("ESI_CONNECTION_POOL_MAXSIZE", 0, "esi.E007"),
        ("ESI_CONNECTION_POOL_MAXSIZE", 2.5, "esi.E006"),
        ("ESI_CONNECTION_POOL_MAXSIZE", True, "esi.E006"),
        ("ESI_SERVER_ERROR_MAX_RETRIES", -1, "esi.E007"),
        ("ESI_CONNECTION_ERROR_MAX_RETRIES", "3", "esi.E006"),
        ("ESI_REQUESTS_READ_TIMEOUT", 0, "esi.E007"),
        ("ESI_REQUESTS_CONNECT_TIMEOUT", float("nan"), "esi.E007"),
        ("ESI_REQUESTS_TOTAL_TIMEOUT", float("inf"), "esi.E007"),
        ("ESI_REQUESTS_WRITE_TIMEOUT", -5, "esi.E007"),
        ("ESI_SERVER_ERROR_BACKOFF_FACTOR", "0.2", "esi.E006"),
        ("ESI_MAX_RESPONSE_BYTES", 0, "esi.E007"),
        ("ESI_RESPONSE_CACHE_MAX_BYTES", 1.5, "esi.E006"),
        ("ESI_PAGE_CONCURRENCY", 0, "esi.E007"),
        ("ESI_MAX_PAGES", -1, "esi.E007"),
        ("ESI_REFRESH_BREAKER_RATIO", 1.5, "esi.E007"),
        ("ESI_REFRESH_BREAKER_WINDOW", 0, "esi.E007"),
        ("ESI_REFRESH_TIME_LIMIT", "48", "esi.E006"),
        ("ESI_REFRESH_CONCURRENCY", 0, "esi.E007"),
        ("ESI_REFRESH_JOURNAL_TIMEOUT", 0, "esi.E007"),
        ("ESI_SSO_JWKS_CACHE_TIMEOUT", 0, "esi.E007"),
        ("ESI_SSO_VIEW_TIMEOUT", 0, "esi.E007"),
        ("ESI_STATS_RETENTION_HOURS", 0, "esi.E007"),
        ("ESI_TOKEN_VALID_DURATION", "1170", "esi.E006"),
        ("ESI_ERROR_LIMIT_BEHAVIOUR", "sleep", "esi.E009"),
        ("ESI_RATE_LIMIT_BEHAVIOUR", "WAIT", "esi.E009"),
        ("ESI_API_DATASOURCE", "", "esi.E010"),
        ("ESI_API_DATASOURCE", "tranquility\r\nX-Evil: 1", "esi.E010"),
        ("ESI_SSO_USER_AGENT", "app\n", "esi.E010"),
        ("ESI_USER_CONTACT_EMAIL", 42, "esi.E006"),
        ("ESI_TOKEN_JWT_AUDIENCE", None, "esi.E006"),
        ("ESI_COMPATIBILITY_DATE", "2026-13-01", "esi.E010"),
        ("ESI_COMPATIBILITY_DATE", 20260804, "esi.E006"),
        ("ESI_LANGUAGES", [], "esi.E006"),
        ("ESI_LANGUAGES", "en", "esi.E006"),
        ("ESI_LANGUAGES", ["en", ""], "esi.E010"),
        ("ESI_SPEC_FILE", "/no/such/spec.json", "esi.E011"),
        ("ESI_SPEC_FILE", 5, "esi.E006"),
    ],
)
def test_a_bad_setting_value_is_an_error(settings, name, value, check_id):
    from esi.checks import check_setting_values

    setattr(settings, name, value)
    messages = check_setting_values()
    assert ids(messages) == [check_id] and isinstance(messages[0], Error)
    assert messages[0].msg.startswith(f"{name} must be ") and repr(value) in messages[0].msg
    assert messages[0].hint


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ESI_REQUESTS_READ_TIMEOUT", 2.5),
        ("ESI_REQUESTS_WRITE_TIMEOUT", None),
        ("ESI_REFRESH_TIME_LIMIT", None),
        ("ESI_REFRESH_TIME_LIMIT", 0),
        ("ESI_LOG_LEVEL_LIBRARIES", "warning"),
        ("ESI_LOG_LEVEL_LIBRARIES", 30),
        ("ESI_COMPATIBILITY_DATE", "2025-12-16"),
        ("ESI_SSO_CLIENT_SECRET", None),
        ("ESI_LANGUAGES", ("en", "de")),
        ("ESI_REFRESH_BREAKER_RATIO", 1),
    ],
)
def test_good_setting_values_pass(settings, name, value):
    from esi.checks import check_setting_values

    setattr(settings, name, value)
    assert check_setting_values() == []


def test_a_date_and_a_readable_spec_file_pass(settings, tmp_path):
    import datetime

    from esi.checks import check_setting_values

    spec = tmp_path / "spec.json"
    spec.write_text("{}")
    settings.ESI_COMPATIBILITY_DATE = datetime.date(2025, 12, 16)
    settings.ESI_SPEC_FILE = spec
    assert check_setting_values() == []


@pytest.mark.parametrize("value", ["LOUD", None, 2.5, True, ["INFO"]])
def test_a_bad_log_level_is_an_error(value):
    """Applying the setting refuses such a value at once (ImproperlyConfigured): only the
    rule itself can be tried here."""
    from esi.checks import SETTING_RULES

    assert SETTING_RULES["ESI_LOG_LEVEL_LIBRARIES"].problem(value) == (
        "esi.E009",
        "a logging level, such as 'INFO' or 'WARNING', or its number",
    )


def test_every_setting_has_a_rule_and_every_default_passes():
    from esi import app_settings
    from esi.checks import SETTING_RULES, check_setting_values

    assert set(SETTING_RULES) == set(app_settings.DEFAULTS)
    assert check_setting_values() == []


@pytest.mark.parametrize("name", ["ESI_SSO_LOGIN_URL", "ESI_CODE_EXCHANGE_URL", "ESI_TOKEN_EXCHANGE_URL"])
@pytest.mark.parametrize("value", ["login.eveonline.com/v2/oauth/token", "", 5])
def test_endpoint_overrides_must_be_absolute_when_set(settings, name, value):
    setattr(settings, name, value)
    messages = check_endpoint_settings()
    assert ids(messages) == ["esi.E003"] and name in messages[0].msg
    setattr(settings, name, "https://login.example/v2/oauth/token")
    assert check_endpoint_settings() == []
