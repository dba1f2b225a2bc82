"""esi.required_scopes: what views and ESI calls ask for, kept for the dashboard (the
registry lives in esi; its tests are here with the page that reads it)."""

import pytest
from django.core.cache import caches

from esi import required_scopes
from esi.decorators import single_use_token, token_required, tokens_required
from esi.http import stats

from ..factories import MAIL, NOTIFICATIONS


class Operation:
    def __init__(self, name, scopes):
        self.name = name
        self.scopes = scopes
        self.reads = 0

    def __getattribute__(self, attribute):
        if attribute == "scopes":
            object.__getattribute__(self, "__dict__")["reads"] += 1
        return object.__getattribute__(self, attribute)


@pytest.fixture
def registered(monkeypatch):
    """An empty registry of views for this test (the real one holds tests/urls.py's)."""
    monkeypatch.setattr(required_scopes, "_registered", {})
    return required_scopes._registered


def view(request, token):
    return None


def test_each_decorator_registers_with_the_views_dotted_path(registered):
    token_required(scopes=NOTIFICATIONS)(view)
    tokens_required(scopes=[MAIL, NOTIFICATIONS])(view)
    single_use_token(scopes=f"{MAIL}  {NOTIFICATIONS}")(view)
    source = f"{__name__}.view"
    assert required_scopes.required_scopes() == {NOTIFICATIONS: frozenset({source}), MAIL: frozenset({source})}


def test_no_scopes_registers_nothing(registered):
    token_required()(view)
    required_scopes.register([], "nothing")
    assert required_scopes.required_scopes() == {}


def test_register_by_hand(registered):
    required_scopes.register(MAIL, "my app: nightly mail task")
    required_scopes.register([MAIL], "my app: nightly mail task")
    assert required_scopes.required_scopes() == {MAIL: frozenset({"my app: nightly mail task"})}


def test_a_recorded_operation_reaches_the_shared_cache(registered):
    operation = Operation("get_characters_character_id_mail", [MAIL])
    required_scopes.record_operation(operation)
    with stats.shared_cache() as cache:
        stored = cache.get(required_scopes._OPERATIONS_KEY)
    assert stored["get_characters_character_id_mail"][0] == (MAIL,)
    # Another process sees it: forget this process's copy.
    required_scopes._operations.clear()
    assert required_scopes.required_scopes() == {MAIL: frozenset({"ESI operation get_characters_character_id_mail"})}


def test_recording_again_within_the_hour_costs_a_lookup(registered, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(required_scopes, "_now", lambda: clock[0])
    operation = Operation("get_characters_character_id_mail", [MAIL])
    required_scopes.record_operation(operation)
    caches["default"].delete(required_scopes._OPERATIONS_KEY)
    for _ in range(100):
        required_scopes.record_operation(operation)
    assert operation.reads == 1
    assert caches["default"].get(required_scopes._OPERATIONS_KEY) is None
    clock[0] += required_scopes._RECORD_EVERY
    required_scopes.record_operation(operation)
    assert operation.reads == 2
    assert caches["default"].get(required_scopes._OPERATIONS_KEY) is not None


def test_operations_without_scopes_are_not_listed(registered):
    required_scopes.record_operation(Operation("get_status", []))
    assert required_scopes.required_scopes() == {}


def test_operations_not_called_for_a_week_drop_out(registered, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(required_scopes, "_now", lambda: clock[0])
    required_scopes.record_operation(Operation("get_characters_character_id_mail", [MAIL]))
    required_scopes._operations.clear()
    clock[0] += required_scopes._OPERATION_TTL
    assert required_scopes.required_scopes() == {}


@pytest.mark.parametrize(
    "stored",
    ["garbage", {"op": "garbage"}, {"op": (MAIL, 1.0)}, {1: ((MAIL,), 1.0)}, {"op": ((MAIL,), "yesterday")}],
)
def test_malformed_shared_entries_are_ignored(registered, stored):
    with stats.shared_cache() as cache:
        cache.set(required_scopes._OPERATIONS_KEY, stored)
    assert required_scopes.required_scopes() == {}
    required_scopes.record_operation(Operation("get_characters_character_id_mail", [MAIL]))
    with stats.shared_cache() as cache:
        assert list(cache.get(required_scopes._OPERATIONS_KEY)) == ["get_characters_character_id_mail"]


def test_a_broken_cache_is_not_an_error(registered, settings):
    settings.CACHES = {
        **settings.CACHES,
        "broken": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                   "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}},
    }
    settings.ESI_BUDGET_CACHE_ALIAS = "broken"
    required_scopes.record_operation(Operation("get_characters_character_id_mail", [MAIL]))
    # This process still knows what it called.
    assert required_scopes.required_scopes() == {MAIL: frozenset({"ESI operation get_characters_character_id_mail"})}


def test_reset_keeps_the_views(registered):
    required_scopes.register(MAIL, "a view")
    required_scopes.record_operation(Operation("get_characters_character_id_notifications", [NOTIFICATIONS]))
    required_scopes.reset()
    assert required_scopes.required_scopes() == {MAIL: frozenset({"a view"})}
