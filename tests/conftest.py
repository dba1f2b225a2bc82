import pytest
from django.core.cache import cache

pytest_plugins = ["esi.emulator.pytest_plugin"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """A clean cache and clean ESI budgets for every test: a 420 seen by one test must not
    hold the next one's requests."""
    from esi.http import budgets, guard, stats

    empty_cache()
    budgets.reset()
    stats.reset()
    guard.reset()
    yield
    budgets.reset()
    stats.reset()
    empty_cache()


def empty_cache():
    """Delete this test run's keys: with django-redis those under the run's ``KEY_PREFIX``
    (tests/settings.py), never another run's or a site's; locmem is the process's own."""
    delete_pattern = getattr(cache, "delete_pattern", None)
    if delete_pattern is not None:
        delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture
def emulator(esi_emulator_settings, db):
    """The emulator, with the site's ESI_* settings pointing at it and a test database."""
    return esi_emulator_settings
