"""The test support: the pytest fixtures and the Django TestCase mixin."""

from __future__ import annotations

import unittest

import pytest
import requests
from django.conf import settings as django_settings
from django.test import SimpleTestCase

from esi import app_settings
from esi.emulator.testing import EmulatorTestCaseMixin


# These two run in file order: the first dirties the session emulator, the second sees it clean.
def test_esi_emulator_is_reset_between_tests_first(esi_emulator):
    esi_emulator.faults.add("esi", status=500)
    esi_emulator.sso.transfer_character(2112000001)


def test_esi_emulator_is_reset_between_tests_second(esi_emulator):
    assert esi_emulator.faults.active == []
    assert requests.get(f"{esi_emulator.url}/status").status_code == 200
    assert esi_emulator.sso.character(2112000001).owner_hash == esi_emulator.sso.characters[0].owner_hash
    assert esi_emulator.sso.stats["authorize"] == 0


def test_esi_emulator_settings(esi_emulator_settings):
    assert app_settings.sso_base_url() == esi_emulator_settings.url
    assert app_settings.esi_api_url() == esi_emulator_settings.url
    assert app_settings.sso_token_url() == f"{esi_emulator_settings.url}/v2/oauth/token"
    assert (app_settings.ESI_SSO_CLIENT_ID, app_settings.ESI_SSO_CLIENT_SECRET) == (
        "test-client-id",
        "test-client-secret",
    )


def test_testcase_mixin():
    seen = {}

    class Probe(EmulatorTestCaseMixin, SimpleTestCase):
        esi_emulator_options = {"error_limit": 5}

        def test_one(self):
            self.esi_emulator.faults.add("esi", status=500)
            seen["url"] = self.esi_emulator.url
            seen["settings"] = (django_settings.ESI_API_URL, django_settings.ESI_SSO_BASE_URL)
            seen["client"] = django_settings.ESI_SSO_CLIENT_ID

        def test_two(self):
            response = requests.get(f"{self.esi_emulator.url}/status")
            seen["healthy"] = response.status_code
            seen["limit"] = response.headers["X-ESI-Error-Limit-Remain"]

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(Probe).run(result)
    assert result.wasSuccessful(), result.errors + result.failures
    assert seen["settings"] == (seen["url"], seen["url"])
    assert seen["client"] == "test-client-id"
    assert (seen["healthy"], seen["limit"]) == (200, "5")
    assert getattr(django_settings, "ESI_API_URL", None) != seen["url"]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{seen['url']}/status", timeout=2)


def _dirty_esi_state():
    from esi.http import budgets, stats
    from esi.http import cache as response_cache

    key = response_cache.request_key("GET", "http://esi.test/status", [], {}, None, "public")
    response_cache.store(key, 200, {"ETag": '"x"'}, b"{}", 2**40)
    budgets.after_response(
        status=420,
        headers={"X-ESI-Error-Limit-Remain": "0", "X-ESI-Error-Limit-Reset": "50"},
        group=None,
        character_id=None,
        operation="get_status",
    )
    stats.record_response(status=200, operation="get_status", from_cache=False, elapsed=0.01)
    stats.flush()
    assert response_cache.get(key) is not None
    assert budgets.error_limit() is not None
    return key


def test_reset_esi_state_forgets_stored_responses_budgets_and_statistics():
    from esi.emulator.testing import reset_esi_state
    from esi.http import budgets, stats
    from esi.http import cache as response_cache

    key = _dirty_esi_state()
    reset_esi_state()
    assert response_cache.get(key) is None
    assert budgets.error_limit() is None
    assert stats.operation_counts() == {}


def test_the_esi_emulator_fixture_starts_from_a_clean_esi_state(request):
    from esi.http import budgets
    from esi.http import cache as response_cache

    key = _dirty_esi_state()
    request.getfixturevalue("esi_emulator")
    assert response_cache.get(key) is None
    assert budgets.error_limit() is None
