"""The EVE SSO login flow through the site's views, with the emulator as EVE SSO."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.http import HttpResponseBadRequest

from esi.models import CallbackRedirect, Token

from .factories import MAIL, NOTIFICATIONS, authorize_redirect, sso_login


def test_login_view_redirects_to_sso_with_state(emulator, client):
    query = authorize_redirect(client, f"/sso/login/?scopes={MAIL}&next=/one/")
    assert query["client_id"] == ["test-client-id"]
    assert query["redirect_uri"] == ["http://testserver/sso/callback/"]
    assert query["scope"] == [MAIL]
    assert query["response_type"] == ["code"]
    state = query["state"][0]
    assert len(state) >= 40
    pending = CallbackRedirect.objects.get()
    assert pending.state == state and pending.url == "/one/"
    assert pending.session_key == client.session.session_key


def test_state_is_unguessable_and_one_per_session(emulator, client):
    first = authorize_redirect(client, "/sso/login/")["state"][0]
    second = authorize_redirect(client, "/sso/login/")["state"][0]
    assert first != second
    assert CallbackRedirect.objects.get().state == second


def test_full_login_stores_the_token(emulator, client):
    response = sso_login(client, emulator, f"/sso/login/?scopes={MAIL}+{NOTIFICATIONS}&next=/one/", 90000001)
    assert response.status_code == 302 and response["Location"] == "/one/"
    token = Token.objects.get()
    assert token.character_id == 90000001
    assert sorted(s.name for s in token.scopes.all()) == [NOTIFICATIONS, MAIL]
    assert token.user is None
    assert CallbackRedirect.objects.get().token == token


def test_login_works_with_an_unusable_key_in_the_key_set(emulator, client):
    """One key EVE SSO serves that PyJWT cannot load (same kid as the signing key, listed
    first) used to make every callback fail with a server error."""
    emulator.sso.add_jwk({"kty": "RSA", "kid": "JWT-Signature-Key", "alg": "RS256", "n": "AQAB", "e": "AQAB"})
    response = sso_login(client, emulator, f"/sso/login/?scopes={MAIL}&next=/one/", 90000001)
    assert response.status_code == 302 and response["Location"] == "/one/"
    assert Token.objects.get().character_id == 90000001


def test_login_works_while_the_cache_is_down(emulator, client, settings, caplog):
    """Redis down stopped every login (the key set lives in the cache): now the key set is
    downloaded for the verification, with a warning."""
    settings.CACHES = {
        **settings.CACHES,
        # Nothing listens on port 1: every operation is refused, as with Redis stopped.
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    response = sso_login(client, emulator, f"/sso/login/?scopes={MAIL}&next=/one/", 90000001)
    assert response.status_code == 302 and response["Location"] == "/one/"
    assert Token.objects.get().character_id == 90000001
    assert "EVE SSO's signing keys" in caplog.text


def test_pkce_login(emulator, client, settings):
    settings.ESI_SSO_USE_PKCE = True
    settings.ESI_SSO_CLIENT_SECRET = None
    response = sso_login(client, emulator, "/sso/login/?next=/one/", 90000001)
    assert response.status_code == 302
    assert Token.objects.count() == 1
    exchange = [r for r in emulator.requests if r.path.endswith("/v2/oauth/token")][-1]
    assert b"code_verifier=" in exchange.body and "Authorization" not in exchange.headers
    # A public client refreshes with its client_id in the body and no secret.
    token = Token.objects.get()
    old = token.refresh_token
    token.refresh()
    refresh = [r for r in emulator.requests if r.path.endswith("/v2/oauth/token")][-1]
    assert b"grant_type=refresh_token" in refresh.body and b"client_id=" in refresh.body
    assert "Authorization" not in refresh.headers
    assert Token.objects.get().refresh_token not in (None, "", old)


def test_next_on_another_host_is_refused(emulator, client):
    for target in ("https://evil.example/", "//evil.example/x", "http://testserver.evil/"):
        response = client.get("/sso/login/", {"next": target})
        assert response.status_code == 400
        assert b"not on this site" in response.content
    assert CallbackRedirect.objects.count() == 0


def test_login_view_only_answers_get(emulator, client):
    assert client.post("/sso/login/").status_code == 405


def start_login(client, emulator, character_id=90000001):
    """Begin a login and return the emulator's callback query, without delivering it."""
    response = client.get("/sso/login/?next=/one/")
    answer = requests.get(
        response["Location"], params={"character_id": str(character_id)}, allow_redirects=False, timeout=10
    )
    return parse_qs(urlsplit(answer.headers["Location"]).query)


def assert_nothing_stored(client):
    assert Token.objects.count() == 0
    assert not CallbackRedirect.objects.filter(token__isnull=False).exists()


class TestCallbackBadInput:
    def test_without_state(self, emulator, client):
        query = start_login(client, emulator)
        response = client.get("/sso/callback/", {"code": query["code"][0]})
        assert response.status_code == 400 and b"no state" in response.content
        assert isinstance(response, HttpResponseBadRequest)  # django-esi's class
        assert_nothing_stored(client)

    def test_with_wrong_state(self, emulator, client):
        query = start_login(client, emulator)
        response = client.get("/sso/callback/", {"code": query["code"][0], "state": "forged"})
        # 404 for a state with no pending login, as django-esi answers.
        assert response.status_code == 404 and b"unknown" in response.content
        assert_nothing_stored(client)
        # The real login still completes: a forged callback does not cancel it.
        assert client.get("/sso/callback/", query).status_code == 302

    def test_with_state_of_another_session(self, emulator, client, django_user_model):
        from django.test import Client

        query = start_login(client, emulator)
        response = Client().get("/sso/callback/", query)
        assert response.status_code == 404
        assert_nothing_stored(client)

    def test_reused_state(self, emulator, client):
        query = start_login(client, emulator)
        assert client.get("/sso/callback/", query).status_code == 302
        response = client.get("/sso/callback/", query)
        assert response.status_code == 400 and b"already completed" in response.content
        assert Token.objects.count() == 1

    def test_sso_error_answer(self, emulator, client):
        client.get("/sso/login/?next=/one/")
        state = CallbackRedirect.objects.get().state
        response = client.get(
            "/sso/callback/", {"error": "access_denied", "error_description": "The user cancelled", "state": state}
        )
        assert response.status_code == 403 and b"The user cancelled" in response.content
        assert CallbackRedirect.objects.count() == 0
        assert Token.objects.count() == 0

    def test_denied_on_the_sso_page(self, emulator, client):
        response = client.get("/sso/login/?next=/one/")
        answer = requests.get(response["Location"], params={"deny": "1"}, allow_redirects=False, timeout=10)
        callback = urlsplit(answer.headers["Location"])
        response = client.get(callback.path, parse_qs(callback.query))
        assert response.status_code == 403
        assert Token.objects.count() == 0

    def test_without_code(self, emulator, client):
        query = start_login(client, emulator)
        response = client.get("/sso/callback/", {"state": query["state"][0]})
        assert response.status_code == 400 and b"no authorization code" in response.content
        # Without a code even an unknown state is a bad request, as in django-esi.
        assert client.get("/sso/callback/", {"state": "unknown"}).status_code == 400
        assert_nothing_stored(client)

    def test_with_a_bad_code(self, emulator, client):
        query = start_login(client, emulator)
        response = client.get("/sso/callback/", {"state": query["state"][0], "code": "x" * 5000})
        assert response.status_code == 400 and b"refused" in response.content
        assert_nothing_stored(client)

    def test_with_hostile_values(self, emulator, client):
        query = start_login(client, emulator)
        for state in ("' OR 1=1 --", "\u202e\x00", "s" * 10000):
            response = client.get("/sso/callback/", {"state": state, "code": query["code"][0]})
            assert response.status_code == 404
        assert_nothing_stored(client)

    def test_callback_without_any_session(self, emulator, client):
        response = client.get("/sso/callback/", {"state": "x", "code": "y"})
        assert response.status_code == 404

    @pytest.mark.parametrize(
        "overrides, reason",
        [
            ({"sign_with_unknown_key": True}, b"signature"),
            ({"issuer": "https://login.evil.example"}, b"issuer"),
            ({"audience": ["another-client", "EVE Online"]}, b"audience"),
            ({"exp": 1_000_000}, b"expired"),
            ({"kid": "no-such-key"}, b"unknown_key"),
        ],
    )
    def test_jwt_that_fails_verification(self, emulator, client, overrides, reason):
        query = start_login(client, emulator)
        emulator.sso.tamper_next_token(**overrides)
        response = client.get("/sso/callback/", query)
        assert response.status_code == 403
        assert reason in response.content
        assert_nothing_stored(client)

    def test_sso_outage_during_exchange(self, emulator, client, settings):
        settings.ESI_SSO_WAIT_EXPONENT = 0
        query = start_login(client, emulator)
        emulator.faults.sso_outage(status=503)
        response = client.get("/sso/callback/", query)
        assert response.status_code == 503 and b"not answering" in response.content
        assert_nothing_stored(client)

    def test_callback_only_answers_get(self, emulator, client):
        assert client.post("/sso/callback/", {"state": "x"}).status_code == 405
