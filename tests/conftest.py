import pytest
from django.core.cache import cache

pytest_plugins = ["esi.emulator.pytest_plugin"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """A clean cache and clean ESI budgets for every test: a 420 seen by one test must not
    hold the next one's requests."""
    from esi.http import budgets, guard, stats

    cache.clear()
    budgets.reset()
    stats.reset()
    guard.reset()
    yield
    budgets.reset()
    stats.reset()
    cache.clear()


@pytest.fixture
def emulator(esi_emulator_settings, db):
    """The emulator, with the site's ESI_* settings pointing at it and a test database."""
    return esi_emulator_settings
