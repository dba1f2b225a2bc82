"""Test data made the way production makes it: grants minted by the emulator's EVE SSO,
verified and stored through the real code paths."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from django.test import Client
from django.utils import timezone

from esi import sso
from esi.models import Token

NOTIFICATIONS = "esi-characters.read_notifications.v1"
MAIL = "esi-mail.read_mail.v1"
ASSETS = "esi-assets.read_assets.v1"


def make_token(
    emulator: Any,
    character_id: int = 90000001,
    scopes: list[str] | None = None,
    user: Any = None,
    expired: bool = False,
) -> Token:
    """A stored token for ``character_id`` holding ``scopes``, from a real grant."""
    answer = emulator.sso.issue_grant(character_id, scopes if scopes is not None else [NOTIFICATIONS])
    claims = sso.verify_access_token(answer["access_token"])
    token = Token.objects.create_from_answer(answer, claims, user=user)
    if expired:
        Token.objects.filter(pk=token.pk).update(
            expires_at=timezone.now() - datetime.timedelta(minutes=5)
        )
        token.refresh_from_db()
    return token


def sso_login(client: Client, emulator: Any, path: str, character_id: int = 90000001, **extra: str) -> Any:
    """Drive a browser's EVE SSO login: GET ``path`` on the site, follow it to the emulator's
    authorize endpoint (scripted login of ``character_id``), and bring the callback back to
    the site. Returns the site's answer to the callback."""
    response = client.get(path)
    assert response.status_code == 302, response
    authorize = response["Location"]
    assert authorize.startswith(emulator.url + "/v2/oauth/authorize"), authorize
    params = {"character_id": str(character_id), **extra}
    answer = requests.get(authorize, params=params, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    return client.get(callback.path, parse_qs(callback.query))


def authorize_redirect(client: Client, path: str) -> dict[str, list[str]]:
    """The query of the authorize URL a GET of ``path`` redirects to."""
    response = client.get(path)
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)
