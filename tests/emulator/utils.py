"""Helpers for the emulator tests: logging in over HTTP like a site would."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from esi.emulator import Emulator

REDIRECT_URI = "http://testserver/sso/callback/"
ADA = 2112000001
BRAM = 2112000002


def authorize(emulator: Emulator, session: requests.Session, **params: Any) -> requests.Response:
    """GET the authorize endpoint with sensible defaults, not following the redirect."""
    query = {
        "response_type": "code",
        "client_id": emulator.sso.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "esi-assets.read_assets.v1 esi-skills.read_skills.v1",
        "state": "state-123",
        **params,
    }
    query = {k: v for k, v in query.items() if v is not None}
    return session.get(f"{emulator.url}/v2/oauth/authorize", params=query, allow_redirects=False)


def redirect_params(response: requests.Response) -> dict[str, str]:
    """The query of a 302's Location, first value of each."""
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def login_code(emulator: Emulator, session: requests.Session, character_id: int = ADA, **params: Any) -> str:
    """A fresh authorization code for ``character_id``."""
    return redirect_params(authorize(emulator, session, character_id=str(character_id), **params))["code"]


def pkce_pair() -> tuple[str, str]:
    """``(verifier, S256 challenge)`` as CCP's docs describe."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def token_request(
    emulator: Emulator,
    session: requests.Session,
    data: dict[str, str],
    *,
    basic: bool = True,
    secret: str | None = None,
) -> requests.Response:
    """POST the token endpoint, with HTTP Basic client auth unless ``basic`` is false."""
    auth = None
    if basic:
        auth = (emulator.sso.client_id, secret if secret is not None else emulator.sso.client_secret)
    return session.post(f"{emulator.url}/v2/oauth/token", data=data, auth=auth)


def exchange(emulator: Emulator, session: requests.Session, code: str) -> dict[str, Any]:
    """Exchange ``code`` with HTTP Basic auth; returns the token answer."""
    response = token_request(emulator, session, {"grant_type": "authorization_code", "code": code})
    assert response.status_code == 200, response.text
    return response.json()


def refresh(emulator: Emulator, session: requests.Session, refresh_token: str) -> requests.Response:
    """POST a refresh_token grant with HTTP Basic client auth."""
    return token_request(emulator, session, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
