import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from esi.managers import process_scopes, unique_characters
from esi.models import Token

from .factories import ASSETS, MAIL, NOTIFICATIONS, make_token


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, set()),
        ("", set()),
        ("a b", {"a", "b"}),
        (["a b"], {"a", "b"}),
        (["a", "b", "a"], {"a", "b"}),
        (("a",), {"a"}),
    ],
)
def test_process_scopes(value, expected):
    assert process_scopes(value) == expected


@pytest.fixture
def tokens(emulator):
    return {
        "both": make_token(emulator, 90000001, [NOTIFICATIONS, MAIL]),
        "notif": make_token(emulator, 90000002, [NOTIFICATIONS]),
        "mail": make_token(emulator, 90000003, [MAIL]),
        "none": make_token(emulator, 90000004, []),
    }


def pks(qs):
    return set(qs.values_list("pk", flat=True))


def test_require_scopes(tokens):
    assert pks(Token.objects.require_scopes(NOTIFICATIONS)) == {tokens["both"].pk, tokens["notif"].pk}
    assert pks(Token.objects.require_scopes([NOTIFICATIONS, MAIL])) == {tokens["both"].pk}
    assert pks(Token.objects.require_scopes(f"{MAIL} {NOTIFICATIONS}")) == {tokens["both"].pk}
    assert pks(Token.objects.require_scopes([ASSETS])) == set()
    assert pks(Token.objects.require_scopes([MAIL, "unknown.scope"])) == set()
    assert pks(Token.objects.require_scopes("")) == {tokens["none"].pk}


def test_require_scopes_is_one_query_for_many_tokens(emulator, django_assert_num_queries):
    for character_id in range(90000100, 90000130):
        make_token(emulator, character_id, [NOTIFICATIONS, MAIL])
    with django_assert_num_queries(1):
        found = list(Token.objects.require_scopes([NOTIFICATIONS, MAIL]))
    assert len(found) == 30


def test_require_scopes_exact(tokens):
    assert pks(Token.objects.require_scopes_exact(NOTIFICATIONS)) == {tokens["notif"].pk}
    assert pks(Token.objects.require_scopes_exact([MAIL, NOTIFICATIONS])) == {tokens["both"].pk}
    assert pks(Token.objects.require_scopes_exact([])) == {tokens["none"].pk}


def test_equivalent_to(emulator):
    user = User.objects.create(username="u")
    other = User.objects.create(username="o")
    with override_settings(ESI_ALWAYS_CREATE_TOKEN=True):
        a = make_token(emulator, 90000001, [MAIL], user=user)
        b = make_token(emulator, 90000001, [MAIL], user=user)
        ownerless = make_token(emulator, 90000001, [MAIL])
        make_token(emulator, 90000001, [MAIL], user=other)
        make_token(emulator, 90000001, [MAIL, NOTIFICATIONS], user=user)
        make_token(emulator, 90000002, [MAIL], user=user)
    assert pks(Token.objects.equivalent_to(a)) == {b.pk, ownerless.pk}


def test_get_expired(emulator):
    fresh = make_token(emulator, 90000001)
    stale = make_token(emulator, 90000002, expired=True)
    assert pks(Token.objects.get_expired()) == {stale.pk}
    assert fresh.pk not in pks(Token.objects.get_expired())


def test_require_valid_refreshes_expired_tokens(emulator):
    fresh = make_token(emulator, 90000001)
    stale = make_token(emulator, 90000002, expired=True)
    assert pks(Token.objects.require_valid()) == {fresh.pk, stale.pk}
    stale.refresh_from_db()
    assert not stale.expired
    assert emulator.sso.stats["refreshes"] == 1


def test_bulk_refresh_deletes_only_dead_grants(emulator):
    alive = make_token(emulator, 90000001, expired=True)
    dead = make_token(emulator, 90000002, expired=True)
    unrefreshable = make_token(emulator, 90000003, expired=True)
    Token.objects.filter(pk=unrefreshable.pk).update(refresh_token=None)
    emulator.sso.revoke_all(90000002)
    result = Token.objects.all().bulk_refresh()
    assert pks(result) == {alive.pk}
    assert pks(Token.objects.all()) == {alive.pk}
    assert dead.pk not in pks(Token.objects.all())


def test_bulk_refresh_keeps_every_token_during_an_outage(emulator, settings):
    settings.ESI_SSO_WAIT_EXPONENT = 0
    created = [make_token(emulator, 90000001 + i, expired=True) for i in range(12)]
    emulator.faults.sso_outage(status=503)
    result = Token.objects.all().bulk_refresh()
    assert pks(result) == set()
    assert Token.objects.count() == len(created)
    # The circuit breaker stopped the walk after ESI_REFRESH_BREAKER_MIN_ATTEMPTS tokens
    # (3 attempts each) instead of hammering a sick SSO with all twelve.
    token_posts = [r for r in emulator.requests if r.path.endswith("/v2/oauth/token")]
    assert len(token_posts) == 5 * 3


def test_new_login_updates_the_users_matching_token(emulator):
    user = User.objects.create(username="u")
    first = make_token(emulator, 90000001, [MAIL], user=user)
    again = make_token(emulator, 90000001, [MAIL], user=user)
    assert again.pk == first.pk
    assert Token.objects.count() == 1
    assert Token.objects.get().refresh_token == again.refresh_token
    # Another user's login of the same character is a separate token.
    make_token(emulator, 90000001, [MAIL], user=User.objects.create(username="o"))
    # Different scopes make a separate token too.
    make_token(emulator, 90000001, [MAIL, NOTIFICATIONS], user=user)
    assert Token.objects.count() == 3


@override_settings(ESI_ALWAYS_CREATE_TOKEN=True)
def test_always_create_token(emulator):
    user = User.objects.create(username="u")
    make_token(emulator, 90000001, [MAIL], user=user)
    make_token(emulator, 90000001, [MAIL], user=user)
    assert Token.objects.count() == 2


def test_new_owner_gets_a_new_token(emulator):
    user = User.objects.create(username="u")
    first = make_token(emulator, 90000001, [MAIL], user=user)
    emulator.sso.transfer_character(90000001)
    second = make_token(emulator, 90000001, [MAIL], user=user)
    assert second.pk != first.pk
    assert second.character_owner_hash != first.character_owner_hash


def test_unique_characters(emulator):
    with override_settings(ESI_ALWAYS_CREATE_TOKEN=True):
        a = make_token(emulator, 90000001)
        make_token(emulator, 90000001)
        b = make_token(emulator, 90000002)
    assert unique_characters(Token.objects.order_by("pk")) == [a, b]
