"""The emulated EVE SSO v2 over real HTTP."""

from __future__ import annotations

import jwt
import pytest
import requests

from esi.emulator import Character, Emulator
from esi.emulator.sso import ES256_KID, RS256_KID, TYPED_CHARACTER_IDS

from .utils import (
    ADA,
    BRAM,
    REDIRECT_URI,
    authorize,
    exchange,
    login_code,
    pkce_pair,
    redirect_params,
    refresh,
    token_request,
)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
REFRESH_X = {"grant_type": "refresh_token", "refresh_token": "x"}


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_metadata(esi_emulator, session):
    meta = session.get(f"{esi_emulator.url}/.well-known/oauth-authorization-server").json()
    url = esi_emulator.url
    assert meta["issuer"] == url
    assert meta["authorization_endpoint"] == f"{url}/v2/oauth/authorize"
    assert meta["token_endpoint"] == f"{url}/v2/oauth/token"
    assert meta["revocation_endpoint"] == f"{url}/v2/oauth/revoke"
    assert meta["jwks_uri"] == f"{url}/oauth/jwks"
    assert meta["code_challenge_methods_supported"] == ["S256"]


def test_authorize_page_lists_characters(esi_emulator, session):
    response = authorize(esi_emulator, session)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert "<title>EVE SSO emulator</title>" in page
    for character in esi_emulator.sso.characters:
        assert character.name in page and str(character.character_id) in page
    assert 'name="deny"' in page and "Cancel" in page
    assert "esi-assets.read_assets.v1" in page
    assert "<script" not in page and "<link" not in page and "src=" not in page  # self-contained


def test_scripted_login_redirects_with_code_and_state(esi_emulator, session):
    params = redirect_params(authorize(esi_emulator, session, character_id=str(ADA)))
    assert params["state"] == "state-123" and len(params["code"]) >= 20
    assert esi_emulator.sso.stats["authorize"] == 1


def test_redirect_uri_with_query_keeps_it(esi_emulator, session):
    response = authorize(esi_emulator, session, character_id=str(ADA), redirect_uri=f"{REDIRECT_URI}?next=/x")
    assert response.headers["Location"].startswith(f"{REDIRECT_URI}?next=/x&code=")


def test_typed_name_creates_a_character_with_a_stable_id(esi_emulator, session):
    code = login_code(esi_emulator, session, character_id="", character_name="Zed Newbro")
    claims = claims_of(exchange(esi_emulator, session, code)["access_token"])
    character_id = int(claims["sub"].rsplit(":", 1)[1])
    assert claims["name"] == "Zed Newbro" and character_id in TYPED_CHARACTER_IDS
    again = login_code(esi_emulator, session, character_id="", character_name="zed newbro")
    assert claims_of(exchange(esi_emulator, session, again)["access_token"])["sub"] == claims["sub"]


def test_new_character_by_id_and_name(esi_emulator, session):
    code = login_code(esi_emulator, session, character_id=95000001, character_name="Scripted Pilot")
    claims = claims_of(exchange(esi_emulator, session, code)["access_token"])
    assert claims["sub"] == "CHARACTER:EVE:95000001" and claims["name"] == "Scripted Pilot"


def test_deny(esi_emulator, session):
    params = redirect_params(authorize(esi_emulator, session, deny="1"))
    assert params["error"] == "access_denied" and params["state"] == "state-123"
    assert params["error_description"] and "code" not in params


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"client_id": "someone-else"}, "Unknown client_id"),
        ({"client_id": None}, "client_id is missing"),
        ({"redirect_uri": None}, "redirect_uri is missing"),
        ({"redirect_uri": "/relative"}, "redirect_uri is missing"),
        ({"state": None}, "state is missing"),
        ({"response_type": "token"}, "response_type must be"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "must be S256"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "43-128"),
        ({"code_challenge_method": "S256"}, "without code_challenge"),
        ({"character_id": "abc"}, "positive integer"),
    ],
)
def test_bad_authorize_requests(esi_emulator, session, override, message):
    response = authorize(esi_emulator, session, **override)
    assert response.status_code == 400
    assert message in response.text


def test_code_exchange_with_basic_auth(esi_emulator, session):
    answer = exchange(esi_emulator, session, login_code(esi_emulator, session))
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 1199
    assert answer["refresh_token"]
    claims = claims_of(answer["access_token"])
    assert claims["sub"] == f"CHARACTER:EVE:{ADA}"
    assert claims["name"] == "Ada Emulator"
    assert claims["aud"] == ["test-client-id", "EVE Online"] and claims["azp"] == "test-client-id"
    assert claims["iss"] == esi_emulator.url
    assert claims["scp"] == ["esi-assets.read_assets.v1", "esi-skills.read_skills.v1"]
    assert (claims["tenant"], claims["tier"], claims["region"]) == ("tranquility", "live", "world")
    assert claims["owner"] == esi_emulator.sso.character(ADA).owner_hash
    assert claims["exp"] - claims["iat"] == 1199 and claims["jti"] and claims["kid"] == RS256_KID
    assert esi_emulator.sso.stats["code_exchanges"] == 1


def test_client_secret_in_body_also_works(esi_emulator, session):
    code = login_code(esi_emulator, session)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "test-client-id",
        "client_secret": "test-client-secret",
    }
    assert token_request(esi_emulator, session, data, basic=False).status_code == 200


def test_pkce(esi_emulator, session):
    verifier, challenge = pkce_pair()
    code = login_code(esi_emulator, session, code_challenge=challenge, code_challenge_method="S256")
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "test-client-id",
        "code_verifier": verifier,
    }
    response = token_request(esi_emulator, session, data, basic=False)
    assert response.status_code == 200, response.text
    refresh = response.json()["refresh_token"]
    # A PKCE (public) client refreshes with its client_id alone.
    data = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": "test-client-id"}
    assert token_request(esi_emulator, session, data, basic=False).status_code == 200


def test_pkce_bad_or_missing_verifier(esi_emulator, session):
    _, challenge = pkce_pair()
    for verifier in ("wrong-verifier", None):
        code = login_code(esi_emulator, session, code_challenge=challenge, code_challenge_method="S256")
        data = {"grant_type": "authorization_code", "code": code, "client_id": "test-client-id"}
        if verifier:
            data["code_verifier"] = verifier
        response = token_request(esi_emulator, session, data, basic=False)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_public_client_without_pkce_is_refused(esi_emulator, session):
    code = login_code(esi_emulator, session)
    data = {"grant_type": "authorization_code", "code": code, "client_id": "test-client-id"}
    response = token_request(esi_emulator, session, data, basic=False)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_code_is_single_use(esi_emulator, session):
    code = login_code(esi_emulator, session)
    exchange(esi_emulator, session, code)
    response = token_request(esi_emulator, session, {"grant_type": "authorization_code", "code": code})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_expired_code(esi_emulator, session):
    code = login_code(esi_emulator, session)
    esi_emulator.sso.expire_codes()
    response = token_request(esi_emulator, session, {"grant_type": "authorization_code", "code": code})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "authorization code expired"}


def test_redirect_uri_must_match(esi_emulator, session):
    code = login_code(esi_emulator, session)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://elsewhere/"}
    assert token_request(esi_emulator, session, data).json()["error"] == "invalid_grant"


def test_bad_client_secret(esi_emulator, session):
    code = login_code(esi_emulator, session)
    data = {"grant_type": "authorization_code", "code": code}
    response = token_request(esi_emulator, session, data, secret="nope")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    # A failed client authentication does not burn the code.
    assert exchange(esi_emulator, session, code)["access_token"]


def test_refresh_rotates_and_old_token_dies(esi_emulator, session):
    first = esi_emulator.sso.issue_grant(ADA, ["esi-skills.read_skills.v1"])
    response = refresh(esi_emulator, session, first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert claims_of(second["access_token"])["scp"] == "esi-skills.read_skills.v1"
    again = refresh(esi_emulator, session, first["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert esi_emulator.sso.stats["refreshes"] == 1 and esi_emulator.sso.stats["refresh_failures"] == 1


def test_refresh_without_rotation():
    with Emulator(rotate_refresh_tokens=False) as emulator, requests.Session() as session:
        grant = emulator.sso.issue_grant(ADA, [])
        for _ in range(2):
            response = token_request(
                emulator, session, {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]}
            )
            assert response.json()["refresh_token"] == grant["refresh_token"]


def test_refresh_with_narrower_scope(esi_emulator, session):
    grant = esi_emulator.sso.issue_grant(ADA, ["a.v1", "b.v1"])
    data = {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"], "scope": "a.v1"}
    answer = token_request(esi_emulator, session, data).json()
    assert claims_of(answer["access_token"])["scp"] == "a.v1"
    data = {"grant_type": "refresh_token", "refresh_token": answer["refresh_token"], "scope": "c.v1"}
    assert token_request(esi_emulator, session, data).json()["error"] == "invalid_scope"


def test_revoke(esi_emulator, session):
    grant = esi_emulator.sso.issue_grant(ADA, [])
    response = session.post(
        f"{esi_emulator.url}/v2/oauth/revoke",
        data={"token": grant["refresh_token"], "token_type_hint": "refresh_token"},
        auth=("test-client-id", "test-client-secret"),
    )
    assert response.status_code == 200 and esi_emulator.sso.stats["revocations"] == 1
    assert refresh(esi_emulator, session, grant["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoke_all(esi_emulator, session):
    ada, bram = esi_emulator.sso.issue_grant(ADA, []), esi_emulator.sso.issue_grant(BRAM, [])
    assert esi_emulator.sso.revoke_all(ADA) == 1
    data = {"grant_type": "refresh_token", "refresh_token": ada["refresh_token"]}
    assert token_request(esi_emulator, session, data).status_code == 400
    data = {"grant_type": "refresh_token", "refresh_token": bram["refresh_token"]}
    assert token_request(esi_emulator, session, data).status_code == 200


def test_transfer_character_changes_owner(esi_emulator, session):
    grant = esi_emulator.sso.issue_grant(ADA, [])
    before = claims_of(grant["access_token"])["owner"]
    new_owner = esi_emulator.sso.transfer_character(ADA)
    data = {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]}
    after = claims_of(token_request(esi_emulator, session, data).json()["access_token"])["owner"]
    assert after == new_owner != before


def test_transfer_with_revoke_kills_refresh_tokens(esi_emulator, session):
    grant = esi_emulator.sso.issue_grant(BRAM, [])
    esi_emulator.sso.transfer_character(BRAM, revoke=True)
    data = {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]}
    assert token_request(esi_emulator, session, data).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(("alg", "kid"), [("RS256", RS256_KID), ("ES256", ES256_KID)])
def test_jwt_verifies_against_served_jwks(esi_emulator, session, alg, kid):
    jwks = session.get(f"{esi_emulator.url}/oauth/jwks").json()
    assert jwks["SkipUnresolvedJsonWebKeys"] is True
    assert {k["kid"]: k["alg"] for k in jwks["keys"]} == {RS256_KID: "RS256", ES256_KID: "ES256"}
    token = esi_emulator.sso.issue_access_token(ADA, ["x.v1", "y.v1"], alg=alg)
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"], header["typ"]) == (alg, kid, "JWT")
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(
        token, key, algorithms=[header["alg"]], audience="test-client-id", issuer=esi_emulator.url
    )
    assert claims["scp"] == ["x.v1", "y.v1"]
    assert esi_emulator.sso.stats["jwks"] == 1


def test_extra_jwks_are_served_first_until_the_reset(esi_emulator, session):
    esi_emulator.sso.add_jwk({"kty": "RSA", "kid": RS256_KID, "n": "AQAB"})
    esi_emulator.sso.add_jwk("not a key")
    served = session.get(f"{esi_emulator.url}/oauth/jwks").json()["keys"]
    assert served[:2] == [{"kty": "RSA", "kid": RS256_KID, "n": "AQAB"}, "not a key"] and len(served) == 4
    esi_emulator.reset()
    assert len(session.get(f"{esi_emulator.url}/oauth/jwks").json()["keys"]) == 2


def test_scp_shapes(esi_emulator):
    issue = esi_emulator.sso.issue_access_token
    assert claims_of(issue(ADA, ["one.v1"]))["scp"] == "one.v1"
    assert claims_of(issue(ADA, ["one.v1", "two.v1"]))["scp"] == ["one.v1", "two.v1"]
    assert "scp" not in claims_of(issue(ADA, []))


def test_crafted_bad_tokens(esi_emulator, session):
    jwks = jwt.PyJWKSet.from_dict(session.get(f"{esi_emulator.url}/oauth/jwks").json())
    issue = esi_emulator.sso.issue_access_token
    assert jwt.get_unverified_header(issue(ADA, [], kid="nope"))["kid"] == "nope"
    forged = issue(ADA, [], sign_with_unknown_key=True)
    assert jwt.get_unverified_header(forged)["kid"] == RS256_KID
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, jwks[RS256_KID], algorithms=["RS256"], audience="EVE Online")
    assert claims_of(issue(ADA, [], issuer="https://evil.example"))["iss"] == "https://evil.example"
    assert claims_of(issue(ADA, [], audience="someone"))["aud"] == "someone"
    assert claims_of(issue(ADA, [], exp=1))["exp"] == 1
    claims = claims_of(issue(ADA, [], extra_claims={"owner": None, "extra": 1}))
    assert "owner" not in claims and claims["extra"] == 1
    with pytest.raises(ValueError):
        issue(ADA, [], alg="HS256")


def test_tamper_next_token(esi_emulator, session):
    esi_emulator.sso.tamper_next_token(issuer="https://evil.example")
    esi_emulator.sso.tamper_next_token(alg="ES256")
    first = exchange(esi_emulator, session, login_code(esi_emulator, session))
    second = exchange(esi_emulator, session, login_code(esi_emulator, session))
    third = exchange(esi_emulator, session, login_code(esi_emulator, session))
    assert claims_of(first["access_token"])["iss"] == "https://evil.example"
    assert jwt.get_unverified_header(second["access_token"])["alg"] == "ES256"
    assert claims_of(third["access_token"])["iss"] == esi_emulator.url
    with pytest.raises(TypeError):
        esi_emulator.sso.tamper_next_token(character_id=1)


def test_custom_characters():
    with Emulator(characters=[Character(42, "Only One", owner_hash="fixed")]) as emulator:
        assert [(c.character_id, c.owner_hash) for c in emulator.sso.characters] == [(42, "fixed")]
        claims = claims_of(emulator.sso.issue_access_token(42, []))
        assert claims["owner"] == "fixed" and claims["name"] == "Only One"


def test_open_client_accepts_any_client():
    with Emulator(client_id=None, client_secret=None) as emulator, requests.Session() as session:
        response = authorize(emulator, session, client_id="whoever", character_id=str(ADA))
        code = redirect_params(response)["code"]
        answer = session.post(
            f"{emulator.url}/v2/oauth/token",
            data={"grant_type": "authorization_code", "code": code},
            auth=("whoever", "anything"),
        ).json()
        assert claims_of(answer["access_token"])["aud"] == ["whoever", "EVE Online"]


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"data": {"code": "x"}}, 400, "invalid_request"),
        ({"data": {"grant_type": "password"}}, 400, "unsupported_grant_type"),
        ({"data": {"grant_type": "authorization_code"}}, 400, "invalid_request"),
        ({"data": {"grant_type": "refresh_token"}}, 400, "invalid_request"),
        ({"json": {"grant_type": "refresh_token", "refresh_token": "x"}}, 400, "invalid_request"),
        ({"data": b"grant_type=refresh_token&&&==&", "headers": FORM}, 400, "invalid_request"),
        ({"data": b"grant_type=\xff\xfe", "headers": FORM}, 400, "invalid_request"),
        ({"data": "grant_type=refresh_token&grant_type=authorization_code"}, 400, "invalid_request"),
        ({"data": REFRESH_X, "auth": None}, 401, "invalid_client"),
        ({"data": REFRESH_X, "headers": {"Authorization": "Basic !!!"}, "auth": None}, 401, "invalid_client"),
    ],
)
def test_malformed_token_requests(esi_emulator, session, kwargs, status, error):
    kwargs.setdefault("auth", ("test-client-id", "test-client-secret"))
    if isinstance(kwargs.get("data"), str):
        kwargs["headers"] = FORM
    response = session.post(f"{esi_emulator.url}/v2/oauth/token", **kwargs)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.headers["Cache-Control"] == "no-store"


def test_token_endpoint_wants_post(esi_emulator, session):
    response = session.get(f"{esi_emulator.url}/v2/oauth/token")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


class TestStateFile:
    """``state_file``: refresh tokens and characters survive a restart (the demo's)."""

    def test_refresh_tokens_survive_a_restart(self, tmp_path):
        from esi.emulator import Emulator
        from esi.emulator.records import Character

        state = tmp_path / "sso.json"
        first = Emulator(client_id="c", client_secret="s", state_file=state)
        first.sso.add_character(Character(2112009999, "Persisted Pilot"))
        refresh = first.sso.issue_grant(2112009999, ["esi-mail.read_mail.v1"])["refresh_token"]
        revoked = first.sso.issue_grant(2112009998, [])["refresh_token"]
        first.sso.revoke_all(2112009998)
        first.stop()
        second = Emulator(client_id="c", client_secret="s", state_file=state).start()
        try:
            answer = requests.post(
                second.url + "/v2/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": refresh},
                auth=("c", "s"),
                timeout=10,
            )
            assert answer.status_code == 200
            claims = jwt.decode(answer.json()["access_token"], options={"verify_signature": False})
            assert claims["name"] == "Persisted Pilot" and claims["scp"] == "esi-mail.read_mail.v1"
            # The signing keys are kept too: the key set is the one of the first start.
            assert second.sso.jwks == first.sso.jwks
            gone = requests.post(
                second.url + "/v2/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": revoked},
                auth=("c", "s"),
                timeout=10,
            )
            assert gone.json()["error"] == "invalid_grant"
            # The rotated refresh token is what a third start knows.
            third = Emulator(client_id="c", client_secret="s", state_file=state)
            assert answer.json()["refresh_token"] in third.sso._grants and refresh not in third.sso._grants
            third.stop()
        finally:
            second.stop()

    @pytest.mark.parametrize(
        "content",
        [
            "not json",
            "[]",
            '{"grants": {"t": {"bogus": 1}}, "characters": []}',
            "{}",
            '{"grants": {}, "characters": [], "keys": {"rsa": "x", "ec": "y"}}',
        ],
    )
    def test_a_damaged_state_file_is_set_aside(self, tmp_path, content, caplog):
        from esi.emulator import Emulator

        state = tmp_path / "sso.json"
        state.write_text(content)
        emulator = Emulator(state_file=state)
        assert emulator.sso._grants == {}
        assert (tmp_path / "sso.json.bad").read_text() == content
        assert "ignoring the state file" in caplog.text
