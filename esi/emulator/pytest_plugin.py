"""pytest fixtures running one EVE SSO v2 + ESI emulator per test session.

Enable in a ``conftest.py``::

    pytest_plugins = ["esi.emulator.pytest_plugin"]

Fixtures:

``esi_emulator``
    The session's :class:`~esi.emulator.Emulator`, reset (``reset(sso=True)``) before each
    test that uses it, together with this process's ESI state
    (:func:`~esi.emulator.testing.reset_esi_state`: stored responses, budgets,
    statistics). Its EVE SSO client is ``test-client-id`` / ``test-client-secret``.
``esi_emulator_settings``
    The same emulator, with pytest-django's ``settings`` pointing ``ESI_SSO_BASE_URL`` and
    ``ESI_API_URL`` at it and ``ESI_SSO_CLIENT_ID`` / ``ESI_SSO_CLIENT_SECRET`` set to its
    client.
``esi_emulator_session``
    The session-wide emulator without the per-test reset.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .server import Emulator
from .testing import reset_esi_state

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"


@pytest.fixture(scope="session")
def esi_emulator_session() -> Iterator[Emulator]:
    """One emulator for the whole session, served from a daemon thread."""
    emulator = Emulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def esi_emulator(esi_emulator_session: Emulator) -> Emulator:
    """The session's emulator, back to a fresh state for this test, and no stored
    responses or budgets left over from earlier tests."""
    esi_emulator_session.reset(sso=True)
    reset_esi_state()
    return esi_emulator_session


@pytest.fixture
def esi_emulator_settings(esi_emulator: Emulator, settings: Any) -> Emulator:
    """The emulator, with the Django settings of this test pointing at it."""
    settings.ESI_SSO_BASE_URL = esi_emulator.url
    settings.ESI_API_URL = esi_emulator.url
    settings.ESI_SSO_CLIENT_ID = esi_emulator.sso.client_id
    settings.ESI_SSO_CLIENT_SECRET = esi_emulator.sso.client_secret
    return esi_emulator
