"""The dashboard's system checks (ids listed in docs/dashboard.rst)."""

import pytest
from django.core.checks import Error
from django.core.checks.registry import registry
from django.test import override_settings

from esi_dashboard.checks import check_dashboard


def ids(messages):
    return [m.id for m in messages]


def test_configured_site_passes():
    assert check_dashboard() == []


def test_registered():
    assert check_dashboard in registry.get_checks()


def test_needs_the_admin_and_django_tables2(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_tables2"]
    messages = check_dashboard()
    assert ids(messages) == ["esi_dashboard.E001"] and isinstance(messages[0], Error)
    assert "django_tables2" in messages[0].msg


@pytest.mark.parametrize(
    "value",
    [None, ["esi-mail.read_mail.v1"], {"": "esi-mail.read_mail.v1"}, {"app": 5}, {"app": ["ok", 5]}, {3: "x"}],
)
def test_required_scopes_must_map_labels_to_scopes(value):
    with override_settings(ESI_DASHBOARD_REQUIRED_SCOPES=value):
        assert ids(check_dashboard()) == ["esi_dashboard.E002"]


@pytest.mark.parametrize("value", [{}, {"app": "a b"}, {"app": ["a", "b"]}, {"app": ("a",)}])
def test_required_scopes_accepted(value):
    with override_settings(ESI_DASHBOARD_REQUIRED_SCOPES=value):
        assert check_dashboard() == []


@pytest.mark.parametrize("value", [0, -1, 1001, "50", 2.5, True, None])
def test_page_size(value):
    with override_settings(ESI_DASHBOARD_PAGE_SIZE=value):
        assert ids(check_dashboard()) == ["esi_dashboard.E003"]


@pytest.mark.parametrize("value", [0, -5, 1441, "5", 2.5, None, False])
def test_count_interval(value):
    with override_settings(ESI_DASHBOARD_COUNT_INTERVAL=value):
        assert ids(check_dashboard()) == ["esi_dashboard.E005"]


@pytest.mark.parametrize("value", [1, 5, 1440])
def test_count_interval_accepted(value):
    with override_settings(ESI_DASHBOARD_COUNT_INTERVAL=value):
        assert check_dashboard() == []


def test_needs_django_q(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_q"]
    messages = check_dashboard()
    assert ids(messages) == ["esi_dashboard.E001"] and "django_q" in messages[0].msg
