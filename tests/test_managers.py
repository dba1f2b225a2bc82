from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth.models import AnonymousUser, User
from django.test import override_settings

from esi import sso
from esi.errors import DjangoEsiException, SSOUnavailableError, TokenInvalidError
from esi.managers import process_scopes, unique_characters
from esi.models import Scope, Token

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
    # Unlike django-esi, an expired token without a refresh token is left out, not deleted:
    # only EVE SSO decides that a grant is gone.
    assert pks(Token.objects.all()) == {alive.pk, unrefreshable.pk}
    assert dead.pk not in pks(Token.objects.all())


def test_bulk_refresh_keeps_every_token_during_an_outage(emulator, settings):
    settings.ESI_SSO_WAIT_EXPONENT = 0
    created = [make_token(emulator, 90000001 + i, expired=True) for i in range(12)]
    emulator.faults.sso_outage(status=503)
    result = Token.objects.all().bulk_refresh()
    assert pks(result) == set()
    assert Token.objects.count() == len(created)
    # The circuit breaker stopped the walk after ESI_REFRESH_BREAKER_MIN_ATTEMPTS tokens
    # (one attempt each) instead of hammering a sick SSO with all twelve.
    token_posts = [r for r in emulator.requests if r.path.endswith("/v2/oauth/token")]
    assert len(token_posts) == 5


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


def authorization_code(character_id, scopes):
    """A fresh code from the emulator's EVE SSO: a scripted login at the authorize URL the
    site would send the browser to."""
    url = sso.authorization_url(scopes, state="state-of-this-test").url
    answer = requests.get(url, params={"character_id": str(character_id)}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


class TestCreateFromRequest:
    def test_stores_the_token_of_the_logged_in_user(self, emulator, rf):
        user = User.objects.create_user("pilot")
        request = rf.get("/sso/callback/", {"code": authorization_code(90000001, [MAIL, NOTIFICATIONS])})
        request.user = user
        token = Token.objects.create_from_request(request)
        assert Token.objects.get() == token
        assert (token.user, token.character_id) == (user, 90000001)
        assert sorted(s.name for s in token.scopes.all()) == sorted([MAIL, NOTIFICATIONS])
        assert sso.verify_access_token(token.access_token).character_id == 90000001
        # The refresh token is a live grant at EVE SSO.
        assert sso.refresh_access_token(token.refresh_token)["access_token"]

    def test_anonymous_request_stores_an_ownerless_token(self, emulator, rf):
        request = rf.get("/sso/callback/", {"code": authorization_code(90000002, [MAIL])})
        request.user = AnonymousUser()
        assert Token.objects.create_from_request(request).user is None

    def test_a_second_login_updates_the_users_token(self, emulator, rf):
        user = User.objects.create_user("pilot")
        tokens = []
        for _ in range(2):
            request = rf.get("/sso/callback/", {"code": authorization_code(90000001, [MAIL])})
            request.user = user
            tokens.append(Token.objects.create_from_request(request))
        assert tokens[0].pk == tokens[1].pk and Token.objects.count() == 1

    @pytest.mark.parametrize(
        "query, error",
        [
            ({}, DjangoEsiException),
            ({"code": ""}, DjangoEsiException),
            ({"code": "not-a-code"}, TokenInvalidError),
            ({"code": "x" * 5000}, TokenInvalidError),
            ({"code": "\u202e\x00'; DROP TABLE esi_token; --"}, TokenInvalidError),
        ],
    )
    def test_bad_input_stores_nothing(self, emulator, rf, query, error):
        request = rf.get("/sso/callback/", query)
        request.user = User.objects.create_user("pilot")
        with pytest.raises(error):
            Token.objects.create_from_request(request)
        assert Token.objects.count() == 0 and Scope.objects.count() == 0

    def test_code_in_the_body_is_not_read(self, emulator, rf):
        # EVE SSO sends the code in the callback's query string, never in a body.
        request = rf.post("/sso/callback/", {"code": authorization_code(90000001, [MAIL])})
        request.user = AnonymousUser()
        with pytest.raises(DjangoEsiException):
            Token.objects.create_from_request(request)
        assert Token.objects.count() == 0

    def test_a_code_is_spent_once(self, emulator, rf):
        request = rf.get("/sso/callback/", {"code": authorization_code(90000001, [MAIL])})
        request.user = AnonymousUser()
        Token.objects.create_from_request(request)
        with pytest.raises(TokenInvalidError):
            Token.objects.create_from_request(request)
        assert Token.objects.count() == 1

    def test_sso_outage_stores_nothing(self, emulator, rf, settings):
        settings.ESI_SSO_WAIT_EXPONENT = 0
        request = rf.get("/sso/callback/", {"code": authorization_code(90000001, [MAIL])})
        request.user = AnonymousUser()
        emulator.faults.add("sso:token", status=503)
        with pytest.raises(SSOUnavailableError):
            Token.objects.create_from_request(request)
        assert Token.objects.count() == 0
