"""EVE SSO v2 client code against the emulator over real HTTP."""

import base64
import time

import jwt
import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from esi import sso
from esi.emulator.sso import ES256_KID, RS256_KID
from esi.errors import (
    IncompleteResponseError,
    SSOClientError,
    SSOOAuthError,
    SSOUnavailableError,
    TokenInvalidError,
    TokenVerificationError,
)

from .factories import MAIL, NOTIFICATIONS

CHARACTER = 90000001


def grant(emulator, scopes=(NOTIFICATIONS,)):
    return emulator.sso.issue_grant(CHARACTER, list(scopes))


class TestVerifyAccessToken:
    def test_rs256_token_verifies(self, emulator):
        claims = sso.verify_access_token(grant(emulator, [NOTIFICATIONS, MAIL])["access_token"])
        assert claims.character_id == CHARACTER
        assert claims.token_type == "character"
        assert sorted(claims.scopes) == [NOTIFICATIONS, MAIL]
        assert claims.owner_hash and claims.character_name
        assert claims.expires_at > time.time() + 1000

    def test_es256_token_verifies(self, emulator):
        token = emulator.sso.issue_access_token(CHARACTER, [NOTIFICATIONS], alg="ES256")
        assert jwt.get_unverified_header(token)["alg"] == "ES256"
        assert sso.verify_access_token(token).character_id == CHARACTER

    def test_single_scope_string_becomes_a_list(self, emulator):
        token = emulator.sso.issue_access_token(CHARACTER, [MAIL])
        assert jwt.decode(token, options={"verify_signature": False})["scp"] == MAIL
        assert sso.verify_access_token(token).scopes == [MAIL]

    def test_bare_host_issuer_is_accepted(self, emulator):
        host = emulator.url.split("://", 1)[1]
        token = emulator.sso.issue_access_token(CHARACTER, [MAIL], issuer=host)
        assert sso.verify_access_token(token).character_id == CHARACTER

    @pytest.mark.parametrize(
        "overrides, reason",
        [
            ({"sign_with_unknown_key": True}, "signature"),
            ({"issuer": "https://login.evil.example"}, "issuer"),
            ({"audience": ["another-client", "EVE Online"]}, "audience"),
            ({"audience": ["test-client-id"]}, "audience"),
            ({"exp": 1_000_000}, "expired"),
            ({"kid": "no-such-key"}, "unknown_key"),
        ],
    )
    def test_bad_tokens_are_rejected(self, emulator, overrides, reason):
        token = emulator.sso.issue_access_token(CHARACTER, [MAIL], **overrides)
        with pytest.raises(TokenVerificationError) as info:
            sso.verify_access_token(token)
        assert info.value.reason == reason

    @pytest.mark.parametrize("value", ["", "not-a-jwt", "a.b.c", None, "\x00\xff.\u202e.x"])
    def test_malformed_input(self, emulator, value):
        with pytest.raises(TokenVerificationError) as info:
            sso.verify_access_token(value)
        assert info.value.reason == "malformed"

    def test_unsigned_and_symmetric_tokens_are_rejected(self, emulator):
        payload = jwt.decode(grant(emulator)["access_token"], options={"verify_signature": False})
        for token in (
            jwt.encode(payload, None, algorithm="none", headers={"kid": "JWT-Signature-Key"}),
            jwt.encode(payload, "secret" * 8, algorithm="HS256", headers={"kid": "JWT-Signature-Key"}),
        ):
            with pytest.raises(TokenVerificationError) as info:
                sso.verify_access_token(token)
            assert info.value.reason == "signature"

    def test_jwks_is_cached(self, emulator):
        before = emulator.sso.stats["jwks"]
        for _ in range(3):
            sso.verify_access_token(grant(emulator)["access_token"])
        assert emulator.sso.stats["jwks"] == before + 1

    def test_unknown_kid_refetches_once_per_interval(self, emulator):
        sso.verify_access_token(grant(emulator)["access_token"])
        before = emulator.sso.stats["jwks"]
        for _ in range(3):
            with pytest.raises(TokenVerificationError):
                sso.verify_access_token(emulator.sso.issue_access_token(CHARACTER, [MAIL], kid="rotated"))
        assert emulator.sso.stats["jwks"] == before + 1

    def test_jwks_outage_is_sso_unavailable(self, emulator):
        emulator.faults.add("sso:jwks", status=503)
        with pytest.raises(SSOUnavailableError):
            sso.verify_access_token(grant(emulator)["access_token"])

    def test_jwks_is_downloaded_again_after_the_cache_timeout(self, emulator, settings):
        settings.ESI_SSO_JWKS_CACHE_TIMEOUT = 1
        sso.verify_access_token(grant(emulator)["access_token"])
        sso.verify_access_token(grant(emulator)["access_token"])
        assert emulator.sso.stats["jwks"] == 1
        time.sleep(1.2)
        sso.verify_access_token(grant(emulator)["access_token"])
        assert emulator.sso.stats["jwks"] == 2

    def test_jwks_download_obeys_the_read_timeout(self, emulator, settings):
        settings.ESI_REQUESTS_READ_TIMEOUT = 0.2
        emulator.faults.latency(0.6, target="sso:jwks")
        started = time.monotonic()
        with pytest.raises(SSOUnavailableError, match="Read timed out"):
            sso.get_jwks(force_refresh=True)
        assert time.monotonic() - started < 0.5
        settings.ESI_REQUESTS_READ_TIMEOUT = 5
        assert len(sso.get_jwks(force_refresh=True)["keys"]) == 2


class TestKeySelection:
    """JWKS entries without ``alg`` (optional in RFC 7517) are matched by key type and curve."""

    def test_rs256_key_without_alg(self, emulator):
        emulator.sso.override_jwk(RS256_KID, alg=None)
        assert "alg" not in sso.get_jwks()["keys"][0]
        assert sso.verify_access_token(grant(emulator)["access_token"]).character_id == CHARACTER

    def test_es256_key_without_alg(self, emulator):
        emulator.sso.override_jwk(ES256_KID, alg=None)
        assert "alg" not in sso.get_jwks()["keys"][1]
        token = emulator.sso.issue_access_token(CHARACTER, [MAIL], alg="ES256")
        assert sso.verify_access_token(token).character_id == CHARACTER

    @pytest.mark.parametrize(
        "kid, alg",
        [
            (ES256_KID, "RS256"),  # the RS256 token names the EC key
            (RS256_KID, "ES256"),  # the ES256 token names the RSA key
        ],
    )
    def test_key_of_another_type_is_not_used(self, emulator, kid, alg):
        emulator.sso.override_jwk(RS256_KID, alg=None)
        emulator.sso.override_jwk(ES256_KID, alg=None)
        token = emulator.sso.issue_access_token(CHARACTER, [MAIL], alg=alg, kid=kid)
        with pytest.raises(TokenVerificationError) as info:
            sso.verify_access_token(token)
        assert info.value.reason == "unknown_key"

    def test_ec_key_on_another_curve_is_not_used(self, emulator):
        emulator.sso.override_jwk(ES256_KID, alg=None, crv="P-384")
        token = emulator.sso.issue_access_token(CHARACTER, [MAIL], alg="ES256")
        with pytest.raises(TokenVerificationError) as info:
            sso.verify_access_token(token)
        assert info.value.reason == "unknown_key"

    def test_encryption_key_is_not_used(self, emulator):
        emulator.sso.override_jwk(RS256_KID, alg=None, use="enc")
        with pytest.raises(TokenVerificationError) as info:
            sso.verify_access_token(grant(emulator)["access_token"])
        assert info.value.reason == "unknown_key"

    def test_unsigned_and_symmetric_tokens_are_still_rejected(self, emulator):
        secret = bytes(range(64))  # long enough for HS512
        # The RS256 entry becomes a symmetric key without ``alg``, as a confused JWKS might serve.
        emulator.sso.override_jwk(
            RS256_KID, alg=None, kty="oct", k=base64.urlsafe_b64encode(secret).rstrip(b"=").decode(), n=None, e=None
        )
        emulator.sso.override_jwk(ES256_KID, alg=None)
        payload = jwt.decode(grant(emulator)["access_token"], options={"verify_signature": False})
        for token in (
            jwt.encode(payload, None, algorithm="none", headers={"kid": RS256_KID}),
            jwt.encode(payload, secret, algorithm="HS256", headers={"kid": RS256_KID}),
            jwt.encode(payload, secret, algorithm="HS512", headers={"kid": RS256_KID}),
        ):
            with pytest.raises(TokenVerificationError) as info:
                sso.verify_access_token(token)
            assert info.value.reason == "signature"
        for alg in ("none", "HS256"):
            assert sso._find_key(sso.get_jwks(), RS256_KID, alg) is None


class TestTrickledAnswers:
    """An EVE SSO that answers a byte at a time, each byte well within the read timeout: a
    request gives up at ESI_REQUESTS_TOTAL_TIMEOUT, retries included."""

    def trickling(self, settings, body):
        from .servers import Server, trickle

        settings.ESI_REQUESTS_TOTAL_TIMEOUT = 1
        settings.ESI_REQUESTS_READ_TIMEOUT = 0.5
        settings.ESI_SSO_WAIT_EXPONENT = 0
        server = Server(trickle(body, 0.05))
        settings.ESI_SSO_BASE_URL = server.url
        return server

    def test_a_refresh(self, settings):
        import json as jsonlib

        from .servers import answer

        body = answer(jsonlib.dumps({"access_token": "a" * 40, "refresh_token": "r", "expires_in": 1199}).encode())
        with self.trickling(settings, body) as server:
            started = time.monotonic()
            with pytest.raises(SSOUnavailableError, match="within"):
                sso.refresh_access_token("some-refresh-token")
            assert time.monotonic() - started < 3
        assert server.requests == 1  # the answer may have been lost at SSO: never retried

    def test_the_key_set(self, settings):
        from .servers import answer

        with self.trickling(settings, answer(b'{"keys": []}' + b" " * 100)):
            started = time.monotonic()
            with pytest.raises(SSOUnavailableError, match="within"):
                sso.get_jwks(force_refresh=True)
            assert time.monotonic() - started < 3


class TestHostileKeySets:
    """A key set with entries PyJWT cannot load: they are skipped, and a set without a
    usable key is never cached (it once broke every login until the cache timeout)."""

    BROKEN_RSA = {"kty": "RSA", "kid": RS256_KID, "alg": "RS256", "use": "sig", "n": "AQAB", "e": "AQAB"}

    @pytest.mark.parametrize(
        "entry",
        [
            BROKEN_RSA,  # same kid and alg as the real key, listed first: e >= n
            {**BROKEN_RSA, "n": 12345},  # a number where base64url text belongs
            {**BROKEN_RSA, "n": "!!!"},
            {"kty": "EC", "kid": ES256_KID, "alg": "ES256", "crv": "P-256", "x": "A" * 43, "y": "A" * 43},
            {"kty": "EC", "kid": ES256_KID, "alg": "ES256", "crv": "P-256", "x": "AAAA"},  # no y
            {"kty": "RSA", "alg": "RS256", "n": "AQAB"},  # no kid
            "JWT-Signature-Key",
            None,
            ["kty", "RSA"],
        ],
    )
    def test_an_unusable_entry_is_skipped(self, emulator, entry, caplog):
        emulator.sso.add_jwk(entry)
        assert sso.verify_access_token(grant(emulator)["access_token"]).character_id == CHARACTER
        es256 = emulator.sso.issue_access_token(CHARACTER, [MAIL], alg="ES256")
        assert sso.verify_access_token(es256).character_id == CHARACTER
        assert len(sso.get_jwks()["keys"]) == 2  # only the usable keys are kept
        assert emulator.sso.stats["jwks"] == 1

    def test_a_set_without_a_usable_key_is_not_cached(self, emulator):
        emulator.sso.override_jwk(RS256_KID, n="AQAB")
        emulator.sso.override_jwk(ES256_KID, x="A" * 43, y="A" * 43)
        with pytest.raises(TokenVerificationError) as info:
            sso.verify_access_token(grant(emulator)["access_token"])
        assert info.value.reason == "jwks"
        with pytest.raises(TokenVerificationError):
            sso.get_jwks()
        assert emulator.sso.stats["jwks"] == 2  # nothing was cached: each call asked again
        emulator.sso.reset_stats()  # SSO serves its real keys again
        assert sso.verify_access_token(grant(emulator)["access_token"]).character_id == CHARACTER
        assert emulator.sso.stats["jwks"] == 1

    @pytest.mark.parametrize("body", [{"keys": []}, {"keys": "keys"}, {"keys": None}, {"keys": [None, 5, "x"]}, [1]])
    def test_a_set_with_no_keys_is_refused(self, emulator, body):
        emulator.faults.add("sso:jwks", status=200, body=body, times=2)
        for _ in range(2):
            with pytest.raises(TokenVerificationError) as info:
                sso.get_jwks()
            assert info.value.reason == "jwks"
        assert sso.verify_access_token(grant(emulator)["access_token"]).character_id == CHARACTER


class TestRefresh:
    def test_refresh_returns_a_rotated_refresh_token(self, emulator):
        first = grant(emulator)
        answer = sso.refresh_access_token(first["refresh_token"])
        assert answer["refresh_token"] != first["refresh_token"]
        assert sso.verify_access_token(answer["access_token"]).character_id == CHARACTER
        with pytest.raises(TokenInvalidError):
            sso.refresh_access_token(first["refresh_token"])

    def test_unknown_refresh_token_is_invalid(self, emulator):
        with pytest.raises(TokenInvalidError):
            sso.refresh_access_token("never-issued")

    def test_outage_is_unavailable_not_invalid(self, emulator, settings):
        settings.ESI_SSO_WAIT_EXPONENT = 0
        emulator.faults.sso_outage(status=503)
        with pytest.raises(SSOUnavailableError):
            sso.refresh_access_token(grant(emulator)["refresh_token"])

    def test_dropped_connections_are_unavailable(self, emulator, settings):
        settings.ESI_SSO_WAIT_EXPONENT = 0
        refresh_token = grant(emulator)["refresh_token"]
        emulator.faults.add("sso:token", drop=True)
        with pytest.raises(SSOUnavailableError):
            sso.refresh_access_token(refresh_token)

    def test_transient_failure_is_retried(self, emulator, settings):
        settings.ESI_SSO_WAIT_EXPONENT = 0
        refresh_token = grant(emulator)["refresh_token"]
        emulator.faults.add("sso:token", status=502, times=2)
        assert sso.refresh_access_token(refresh_token)["access_token"]

    def test_429_waits_for_retry_after(self, emulator):
        refresh_token = grant(emulator)["refresh_token"]
        emulator.faults.add("sso:token", status=429, retry_after=1, times=1)
        started = time.monotonic()
        assert sso.refresh_access_token(refresh_token)["access_token"]
        assert time.monotonic() - started >= 0.9

    def test_long_retry_after_is_not_waited_for(self, emulator, settings):
        settings.ESI_SSO_MAX_RETRY_AFTER = 5
        emulator.faults.add("sso:token", status=429, retry_after=3600)
        started = time.monotonic()
        with pytest.raises(SSOUnavailableError):
            sso.refresh_access_token(grant(emulator)["refresh_token"])
        assert time.monotonic() - started < 5

    def test_wrong_client_secret_is_an_oauth_error(self, emulator, settings):
        settings.ESI_SSO_CLIENT_SECRET = "wrong"
        with pytest.raises(SSOOAuthError) as info:
            sso.refresh_access_token(grant(emulator)["refresh_token"])
        assert info.value.error == "invalid_client"

    @pytest.mark.parametrize(
        "answer, django_esi_10_class",
        [
            ({"error": "invalid_client"}, ImproperlyConfigured),
            ({"error": "unauthorized_client"}, ImproperlyConfigured),
            ({"error": "invalid_request"}, IncompleteResponseError),
            ({"error": "unsupported_grant_type"}, IncompleteResponseError),
        ],
    )
    def test_token_refresh_raises_django_esi_10s_classes_and_keeps_the_token(self, emulator, answer, django_esi_10_class):
        from esi.models import Token

        from .factories import make_token

        token = make_token(emulator, 90000001)
        emulator.faults.add("sso:token", status=400, body=answer, times=1)
        with pytest.raises(django_esi_10_class) as info:
            token.refresh()
        assert isinstance(info.value, SSOOAuthError) and info.value.error == answer["error"]
        assert Token.objects.filter(pk=token.pk).exists()
        assert isinstance(info.value, SSOClientError) == (django_esi_10_class is ImproperlyConfigured)

    def test_revoked_grant_is_invalid(self, emulator):
        refresh_token = grant(emulator)["refresh_token"]
        sso.revoke(refresh_token)
        with pytest.raises(TokenInvalidError):
            sso.refresh_access_token(refresh_token)

    def test_revoke_never_raises(self, emulator):
        emulator.faults.sso_outage(drop=True)
        sso.revoke("whatever")

    def test_one_attempt_when_asked(self, emulator):
        refresh_token = grant(emulator)["refresh_token"]
        emulator.faults.add("sso:token", status=502, times=1)
        with pytest.raises(SSOUnavailableError) as info:
            sso.refresh_access_token(refresh_token, attempts=1)
        assert info.value.status_code == 502 and info.value.retry_after is None
        assert sso.refresh_access_token(refresh_token, attempts=1)["access_token"]

    def test_429_carries_its_retry_after(self, emulator, settings):
        settings.ESI_SSO_MAX_RETRY_AFTER = 0
        emulator.faults.add("sso:token", status=429, retry_after=30)
        with pytest.raises(SSOUnavailableError) as info:
            sso.refresh_access_token(grant(emulator)["refresh_token"])
        assert info.value.status_code == 429 and info.value.retry_after == 30

    @pytest.mark.parametrize(
        "status, body, error",
        [
            (400, "<html>Bad Request</html>", SSOOAuthError),  # not JSON
            (200, "[1, 2]", SSOOAuthError),  # JSON, not an object
            (400, {"error_description": "no error code"}, SSOOAuthError),
            (200, {"error": "invalid_request"}, SSOOAuthError),  # an error, whatever the status
            (401, {"error": "invalid_client"}, SSOOAuthError),
            (200, {"token_type": "Bearer", "expires_in": 1199}, IncompleteResponseError),
            (200, {"access_token": "", "token_type": "Bearer"}, IncompleteResponseError),
            (200, {"access_token": 42, "token_type": "Bearer"}, IncompleteResponseError),
            (400, {"error": "invalid_grant", "error_description": "expired"}, TokenInvalidError),
            (400, {"error": "invalid_token"}, TokenInvalidError),
        ],
    )
    def test_malformed_and_hostile_answers(self, emulator, status, body, error):
        refresh_token = grant(emulator)["refresh_token"]
        emulator.faults.add("sso:token", status=status, body=body, times=1)
        with pytest.raises(error) as info:
            sso.refresh_access_token(refresh_token)
        if error is SSOOAuthError:
            assert info.value.error  # a code to branch on, never a bare crash
        # Only invalid_grant / invalid_token mean the grant is gone, and SSOOAuthError and
        # IncompleteResponseError are not TokenInvalidError: a refresh keeps the token.
        assert issubclass(error, TokenInvalidError) == (error is TokenInvalidError)
        assert not issubclass(SSOOAuthError, TokenInvalidError)
        assert not issubclass(IncompleteResponseError, TokenInvalidError)


class TestExchange:
    def test_bad_code_is_invalid(self, emulator):
        with pytest.raises(TokenInvalidError):
            sso.exchange_code("not-a-code")

    def test_exchange_is_not_retried_after_a_dropped_answer(self, emulator):
        emulator.faults.add("sso:token", drop=True)
        before = emulator.sso.stats["code_exchanges"]
        with pytest.raises(SSOUnavailableError):
            sso.exchange_code("whatever")
        token_posts = [r for r in emulator.requests if r.path.endswith("/v2/oauth/token")]
        assert len(token_posts) == 1
        assert emulator.sso.stats["code_exchanges"] == before

    def test_connection_refused_is_unavailable(self, db, settings):
        settings.ESI_SSO_BASE_URL = "http://127.0.0.1:9"
        settings.ESI_SSO_WAIT_EXPONENT = 0
        with pytest.raises(SSOUnavailableError):
            sso.exchange_code("code")


def test_authorization_url_carries_state_scopes_and_pkce(emulator, settings):
    request = sso.authorization_url([NOTIFICATIONS, MAIL], "the-state")
    assert request.url.startswith(emulator.url + "/v2/oauth/authorize?")
    assert "state=the-state" in request.url and "code_challenge" not in request.url
    settings.ESI_SSO_USE_PKCE = True
    request = sso.authorization_url([MAIL], "s2")
    assert "code_challenge_method=S256" in request.url and request.code_verifier


def test_user_agent_names_the_contact(settings):
    assert "tests@example.com" in sso.user_agent() and sso.user_agent().startswith("django-esi-ng/")
    settings.ESI_SSO_USER_AGENT = "my-app/1.0"
    assert sso.user_agent() == "my-app/1.0"


def test_user_agent_is_sent(emulator):
    sso.refresh_access_token(grant(emulator)["refresh_token"])
    token_posts = [r for r in emulator.requests if r.path.endswith("/v2/oauth/token")]
    assert token_posts[-1].headers["User-Agent"].startswith("django-esi-ng/")


def test_pool_is_shared(emulator):
    assert sso._oauth_session().get_adapter(emulator.url) is sso._oauth_session().get_adapter(emulator.url)
    assert isinstance(sso._shared_adapter(), requests.adapters.HTTPAdapter)


@override_settings(ESI_SSO_BASE_URL="http://127.0.0.1:9")
def test_jwks_unreachable(db):
    with pytest.raises(SSOUnavailableError):
        sso.get_jwks(force_refresh=True)
