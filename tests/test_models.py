import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from esi.errors import (
    NotRefreshableTokenError,
    SSOUnavailableError,
    TokenExpiredError,
    TokenInvalidError,
)
from esi.models import CallbackRedirect, Scope, Token

from .factories import MAIL, NOTIFICATIONS, make_token


def test_token_stores_the_jwt_claims(emulator):
    token = make_token(emulator, 90000001, [NOTIFICATIONS, MAIL])
    assert token.character_id == 90000001
    assert token.character_name
    assert token.character_owner_hash
    assert token.token_type == Token.TOKEN_TYPE_CHARACTER
    assert token.sso_version == 2
    assert sorted(s.name for s in token.scopes.all()) == [NOTIFICATIONS, MAIL]
    assert token.expires_at is not None
    assert 1100 < (token.expires - timezone.now()).total_seconds() < 1200
    assert not token.expired
    assert token.can_refresh


def test_expiry_falls_back_to_created_for_django_esi_rows(emulator):
    token = make_token(emulator)
    Token.objects.filter(pk=token.pk).update(
        expires_at=None, created=timezone.now() - datetime.timedelta(seconds=1200)
    )
    token.refresh_from_db()
    assert token.expires == token.created + datetime.timedelta(seconds=1170)
    assert token.expired


def test_refresh_persists_the_rotated_refresh_token(emulator):
    token = make_token(emulator, expired=True)
    old_refresh, old_access = token.refresh_token, token.access_token
    token.refresh()
    stored = Token.objects.get(pk=token.pk)
    assert stored.refresh_token != old_refresh
    assert stored.access_token != old_access
    assert not stored.expired
    stored.refresh()  # the stored refresh token is the live one
    assert emulator.sso.stats["refresh_failures"] == 0


def test_refresh_detects_an_owner_change(emulator):
    token = make_token(emulator)
    emulator.sso.transfer_character(token.character_id)
    with pytest.raises(TokenInvalidError):
        token.refresh()
    token.refresh_or_delete()
    assert not Token.objects.filter(pk=token.pk).exists()


def test_refresh_or_delete_deletes_on_invalid_grant(emulator):
    token = make_token(emulator)
    emulator.sso.revoke_all(token.character_id)
    token.refresh_or_delete()
    assert not Token.objects.filter(pk=token.pk).exists()


def test_refresh_or_delete_keeps_the_token_during_an_outage(emulator, settings):
    settings.ESI_SSO_WAIT_EXPONENT = 0
    token = make_token(emulator)
    emulator.faults.sso_outage(status=503)
    with pytest.raises(SSOUnavailableError):
        token.refresh_or_delete()
    assert Token.objects.filter(pk=token.pk, refresh_token=token.refresh_token).exists()


def test_not_refreshable(emulator):
    token = make_token(emulator, expired=True)
    Token.objects.filter(pk=token.pk).update(refresh_token=None)
    token.refresh_from_db()
    with pytest.raises(NotRefreshableTokenError):
        token.refresh()
    with pytest.raises(TokenExpiredError):
        token.valid_access_token()


def test_valid_access_token_refreshes_when_expired(emulator):
    token = make_token(emulator)
    assert token.valid_access_token() == token.access_token
    assert emulator.sso.stats["refreshes"] == 0
    Token.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    token.refresh_from_db()
    old = token.access_token
    assert token.valid_access_token() != old
    assert emulator.sso.stats["refreshes"] == 1


def test_get_token(emulator):
    token = make_token(emulator, 90000001, [NOTIFICATIONS, MAIL])
    assert Token.get_token(90000001, [NOTIFICATIONS]) == token
    assert Token.get_token(90000001, f"{NOTIFICATIONS} {MAIL}") == token
    assert Token.get_token(90000001, ["esi-assets.read_assets.v1"]) is False
    assert Token.get_token(90000002, [NOTIFICATIONS]) is False


def test_get_token_data(emulator):
    token = make_token(emulator)
    data = Token.get_token_data(token.access_token)
    assert data["character_id"] == token.character_id and data["token_type"] == "character"
    assert Token.get_token_data("garbage") is None


def test_str_and_repr(emulator):
    token = make_token(emulator, scopes=[MAIL, NOTIFICATIONS])
    assert str(token) == f"{token.character_name} - {NOTIFICATIONS}, {MAIL}"
    assert repr(token) == f"<Token(id={token.pk}): {token.character_id}, {token.character_name}>"
    assert str(Token(character_name="Unsaved")) == "Unsaved - "
    redirect = CallbackRedirect(session_key="abcdefghijkl", url="/x/")
    assert str(redirect) == "abcdefgh…: /x/" and "to /x/" in repr(redirect)


def test_scope_names(db):
    assert Scope(name=NOTIFICATIONS).friendly_name == "read notifications"
    assert Scope(name="publicData").friendly_name == "publicData"
    assert str(Scope(name=MAIL)) == MAIL


def test_scopes_are_created_in_bulk(db, django_assert_max_num_queries):
    Scope.objects.create(name=MAIL, help_text="x")
    with django_assert_max_num_queries(3):
        scopes = Scope.get_or_create_many([MAIL, NOTIFICATIONS, NOTIFICATIONS])
    assert sorted(s.name for s in scopes) == [NOTIFICATIONS, MAIL]
    assert Scope.objects.get(name=NOTIFICATIONS).help_text == "Read notifications"


def test_user_delete_cascades(emulator):
    user = User.objects.create(username="u")
    make_token(emulator, user=user)
    user.delete()
    assert Token.objects.count() == 0
