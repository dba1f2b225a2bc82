"""Support for Django ``TestCase`` users: one emulator per test class.

::

    from django.test import TestCase
    from esi.emulator.testing import EmulatorTestCaseMixin

    class LoginTests(EmulatorTestCaseMixin, TestCase):
        def test_login(self):
            self.esi_emulator.esi.set_response("GetStatus", {"players": 1})
            ...

The mixin must come before ``TestCase`` so the emulator runs before ``setUpTestData``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.test import override_settings

from .server import Emulator


def reset_esi_state() -> None:
    """Forget what earlier tests left in this process and its caches: stored ESI responses
    (:func:`esi.http.cache.clear`), the error-limit and rate-limit budgets, the call
    statistics, the access token strings verified so far and when a failing cache was last
    reported. Without it a cached answer, or a 420 that blocks every call until its
    reset, leaks from one test into the next. The pytest fixtures and
    :class:`EmulatorTestCaseMixin` call it before each test."""
    from esi import clients
    from esi.http import budgets, guard, stats
    from esi.http import cache as response_cache

    response_cache.clear()
    budgets.reset()
    stats.reset()
    guard.reset()
    with clients._verified_lock:
        clients._verified.clear()


class EmulatorTestCaseMixin:
    """Start an :class:`~esi.emulator.Emulator` for the test class and point the settings at it.

    ``setUpClass`` starts it and overrides ``ESI_SSO_BASE_URL`` and ``ESI_API_URL`` (its
    :attr:`~esi.emulator.Emulator.url`) and ``ESI_SSO_CLIENT_ID`` /
    ``ESI_SSO_CLIENT_SECRET`` (the site's values, or the emulator's defaults when unset);
    class cleanup stops it. ``setUp`` resets it (``reset(sso=True)``) before every test.
    ``esi_emulator_options`` passes keyword arguments to :class:`~esi.emulator.Emulator`.
    """

    esi_emulator_options: ClassVar[dict[str, Any]] = {}
    esi_emulator: ClassVar[Emulator]

    @classmethod
    def setUpClass(cls) -> None:
        from esi import app_settings

        options: dict[str, Any] = {
            "client_id": app_settings.ESI_SSO_CLIENT_ID or "emulator-client-id",
            "client_secret": app_settings.ESI_SSO_CLIENT_SECRET or "emulator-client-secret",
            **cls.esi_emulator_options,
        }
        cls.esi_emulator = Emulator(**options).start()
        cls.addClassCleanup(cls.esi_emulator.stop)  # type: ignore[attr-defined]
        overrides = override_settings(
            ESI_SSO_BASE_URL=cls.esi_emulator.url,
            ESI_API_URL=cls.esi_emulator.url,
            ESI_SSO_CLIENT_ID=options["client_id"],
            ESI_SSO_CLIENT_SECRET=options["client_secret"],
        )
        overrides.enable()
        cls.addClassCleanup(overrides.disable)  # type: ignore[attr-defined]
        super().setUpClass()  # type: ignore[misc]

    def setUp(self) -> None:
        self.esi_emulator.reset(sso=True)
        reset_esi_state()
        super().setUp()  # type: ignore[misc]
