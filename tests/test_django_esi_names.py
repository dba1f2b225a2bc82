"""Names that apps written for django-esi 7 and 10 import, and what they do here."""

from __future__ import annotations

import datetime
import socket

import pytest
from django.contrib.auth.models import User
from django.template import Context, Engine
from django.test import override_settings

import esi
from esi.errors import HTTPForbidden, TokenVerificationError
from esi.models import Scope, Token
from esi.openapi import EsiSpec

from .factories import NOTIFICATIONS, make_token, sso_login


def test_package_metadata_names():
    assert esi.__title__ == "django-esi-ng"
    assert esi.__url__.startswith("https://")
    # The client's default compatibility date: the bundled spec's.
    assert esi.__esi_compatibility_date__ == EsiSpec.bundled().compatibility_date


def test_check_callback_hands_a_finished_login_over_once(emulator, client):
    response = sso_login(client, emulator, "/own-callback/", 90000003)
    assert response["Location"] == "/own-callback/"
    assert client.get("/own-callback/").json()["character_id"] == 90000003
    # Handed over; a new visit starts a login again (a session exists meanwhile).
    assert client.get("/own-callback/").status_code == 302


def test_check_callback_without_a_session_creates_one(db, client):
    response = client.get("/own-callback/")
    assert response.status_code == 302 and client.session.session_key


class TestUpdateTokenData:
    def test_claims_replace_the_stored_fields(self, emulator):
        token = make_token(emulator, 90000001, [NOTIFICATIONS])
        Token.objects.filter(pk=token.pk).update(character_name="stale", character_owner_hash="old", token_type="x")
        token.refresh_from_db()
        token.update_token_data()
        token.refresh_from_db()
        assert (token.character_name, token.token_type) != ("stale", "x")
        assert token.character_owner_hash != "old" and token.character_id == 90000001

    def test_without_commit_nothing_is_saved(self, emulator):
        token = make_token(emulator, 90000001, [NOTIFICATIONS])
        token.character_name = "changed"
        Token.objects.filter(pk=token.pk).update(character_name="stale")
        token.update_token_data(commit=False)
        assert token.character_name != "stale"
        assert Token.objects.get(pk=token.pk).character_name == "stale"

    def test_expired_token_is_refreshed_first(self, emulator):
        token = make_token(emulator, 90000001, [NOTIFICATIONS], expired=True)
        old = token.access_token
        token.update_token_data()
        assert token.access_token != old and not token.expired

    def test_an_access_token_that_is_not_a_jwt(self, emulator):
        token = Token.objects.create(character_id=1, character_name="x", character_owner_hash="h", access_token="not a jwt")
        with pytest.raises(TokenVerificationError):
            token.update_token_data()
        assert Token.objects.get(pk=token.pk).character_name == "x"


OVERRIDE = """{% load static %}{% load scope_tags %}
{% for scope in scopes %}<span>{{ scope|scope_friendly_name }}</span>{% endfor %}
<input type="image" src="{% static 'esi/img/EVE_SSO_Login_Buttons_Small_Black.png' %}">"""


def test_a_django_esi_select_token_override_renders(settings):
    """Alliance Auth overrides esi/select_token.html with scope_tags and the SSO button."""
    engine = Engine(libraries={"scope_tags": "esi.templatetags.scope_tags", "static": "django.templatetags.static"})
    html = engine.from_string(OVERRIDE).render(Context({"scopes": [NOTIFICATIONS, "publicData"]}))
    assert "<span>read notifications</span><span>publicData</span>" in html
    assert 'src="/static/esi/img/EVE_SSO_Login_Buttons_Small_Black.png"' in html


def test_the_sso_buttons_are_static_files():
    from django.contrib.staticfiles import finders

    for name in ("Large_Black", "Large_White", "Small_Black", "Small_White"):
        path = finders.find(f"esi/img/EVE_SSO_Login_Buttons_{name}.png")
        assert path is not None
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


class TestTestHelpers:
    """esi.tests, esi.tests.factories and esi.tests.factories_2, as apps' tests use them."""

    def test_generate_and_store_a_token(self, db):
        from esi.tests import _generate_token, _store_as_Token

        data = _generate_token(90000001, "Ada", scopes="esi-mail.read_mail.v1")
        user = User.objects.create(username="ada")
        token = _store_as_Token(data, user)
        assert (token.character_id, token.character_name, token.user) == (90000001, "Ada", user)
        assert [s.name for s in token.scopes.all()] == ["esi-mail.read_mail.v1"]
        assert not token.expired  # created now, not a JWT: expiry from created
        assert datetime.datetime.fromisoformat(data["ExpiresOn"]) > datetime.datetime.now()

    def test_no_sockets_test_case_allows_only_loopback(self):
        from esi.tests import GuardedSocket, SocketAccessError

        with GuardedSocket() as guarded, pytest.raises(SocketAccessError):
            guarded.connect(("203.0.113.7", 80))
        listener = socket.create_server(("127.0.0.1", 0))
        with listener, GuardedSocket() as guarded:
            guarded.connect(("127.0.0.1", listener.getsockname()[1]))

    def test_factories_2(self, db):
        from esi.tests.factories_2 import CallbackRedirectFactory, ScopeFactory, TokenFactory

        scopes = [Scope.objects.create(name=NOTIFICATIONS, help_text="x"), ScopeFactory()]
        token = TokenFactory(scopes=scopes)
        assert token.user.username and 90_000_000 <= token.character_id <= 98_000_000
        assert set(token.scopes.all()) == set(scopes)
        assert list(Token.objects.filter(pk=token.pk).require_scopes(NOTIFICATIONS)) == [token]
        assert not token.expired and len(token.access_token) == 2507
        assert CallbackRedirectFactory().state

    def test_factories_create_http_error(self):
        from esi.tests.factories import BravadoResponseStub, create_http_error

        error = create_http_error(403, "no roles")
        assert isinstance(error, HTTPForbidden) and error.status_code == 403
        assert error.text == "no roles" and isinstance(error.response, BravadoResponseStub)
        assert str(error.response) == "403 "
        with pytest.raises(NotImplementedError):
            create_http_error(418)


@override_settings(ESI_SSO_CLIENT_ID="test-client-id")
def test_scope_tags_filter_directly():
    from esi.templatetags.scope_tags import scope_friendly_name

    assert scope_friendly_name("esi-wallet.read_character_wallet.v1") == "read character wallet"
    assert scope_friendly_name("publicData") == "publicData"


class TestDjangoEsiSignatures:
    """Call forms of django-esi 7 and 10 that its own test suites (and some apps) use."""

    def test_authorization_url_without_arguments_returns_url_and_state(self, settings):
        from esi import sso

        url, state = sso.authorization_url()
        assert state and len(state) >= 32 and f"state={state}" in url
        url, state = sso.authorization_url(["publicData"], "given")
        assert state == "given" and "scope=publicData" in url

    def test_private_names_django_esi_exported(self, settings):
        from esi.checks import check_sso_application_settings, check_sso_settings
        from esi.managers import _process_scopes, process_scopes

        assert _process_scopes is process_scopes and _process_scopes("a b") == {"a", "b"}
        assert check_sso_application_settings is check_sso_settings
        settings.ESI_SSO_CLIENT_ID = ""
        assert "esi.E001" in [m.id for m in check_sso_application_settings()]

    def test_update_token_data_goes_through_get_token_data(self, db, monkeypatch):
        token = Token.objects.create(character_id=1, character_name="old", character_owner_hash="h", access_token="x")
        claims = {"character_id": 2, "name": "New", "owner": "h2", "token_type": "character"}
        monkeypatch.setattr(Token, "get_token_data", classmethod(lambda cls, access_token: claims))
        token.update_token_data()
        token.refresh_from_db()
        assert (token.character_id, token.character_name, token.character_owner_hash) == (2, "New", "h2")

    # MagicMock(spec=Task) reads every attribute of Task, the deprecated ``priority`` too.
    @pytest.mark.filterwarnings("ignore::celery.exceptions.CDeprecationWarning")
    def test_rate_limited_task_retries_a_task_object_that_is_a_mock(self, db):
        from unittest.mock import MagicMock

        from celery import Task
        from celery.exceptions import Retry

        from esi.decorators import rate_limited_task

        @rate_limited_task("1/10s")
        def update(self, item):
            return item

        task = MagicMock(spec=Task)
        task.name = "tests.update"
        task.request.retries = 2
        task.retry.side_effect = Retry()
        assert update(task, 1) == 1
        with pytest.raises(Retry):
            update(task, 1)
        assert task.request.retries == 1 and 0 < task.retry.call_args.kwargs["countdown"] <= 10
