"""The admin never shows access or refresh tokens."""

import pytest
from django.contrib.auth.models import User

from esi.models import CallbackRedirect

from .factories import NOTIFICATIONS, make_token


@pytest.fixture
def admin_client_with_token(emulator, client):
    admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(admin)
    token = make_token(emulator, 90000001, [NOTIFICATIONS], user=admin)
    CallbackRedirect.objects.create(session_key="k" * 32, state="s" * 40, url="/x/", token=token)
    return client, token


@pytest.mark.parametrize(
    "url",
    [
        "/admin/esi/token/",
        "/admin/esi/token/{pk}/change/",
        "/admin/esi/scope/",
        "/admin/esi/callbackredirect/",
        "/admin/esi/callbackredirect/{redirect}/change/",
    ],
)
def test_admin_pages_hide_secrets(admin_client_with_token, url):
    client, token = admin_client_with_token
    redirect = CallbackRedirect.objects.get()
    response = client.get(url.format(pk=token.pk, redirect=redirect.pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert token.access_token not in body
    assert token.refresh_token not in body
    assert redirect.state not in body and redirect.session_key not in body


def test_token_search_and_no_add(admin_client_with_token):
    client, token = admin_client_with_token
    response = client.get("/admin/esi/token/", {"q": token.character_name})
    assert token.character_name in response.content.decode()
    assert client.get("/admin/esi/token/add/").status_code == 403
