"""Test helpers for apps built on django-esi, under the import path django-esi 7 and 10 gave
them (``esi.tests``): token dicts and stored tokens without EVE SSO, and a ``TestCase`` that
refuses network access beyond loopback.

For tests that need real EVE SSO and ESI answers, :mod:`esi.emulator` serves both on
loopback (see :mod:`esi.emulator.testing`).
"""

from __future__ import annotations

import datetime
import socket
from collections.abc import Iterable
from typing import Any

from django.test import TestCase


def _dt_eveformat(dt: datetime.datetime) -> str:
    """``dt`` to the second, without a time zone, as EVE SSO v1 wrote times:
    ``2019-06-25T19:04:44``."""
    return dt.replace(microsecond=0, tzinfo=None).isoformat()


def _generate_token(
    character_id: int,
    character_name: str,
    access_token: str = "access_token",
    refresh_token: str = "refresh_token",
    character_owner_hash: str = "character_owner_hash",
    scopes: Iterable[str] | str | None = None,
    timestamp_dt: datetime.datetime | None = None,
    expires_in: int = 1200,
    sso_version: int = 2,
) -> dict[str, Any]:
    """A token answer as django-esi's tests made them: the fields of an EVE SSO token
    response plus the character's claims (``character_id``, ``name``, ``owner``, ``scp``,
    ...). ``scopes`` defaults to three character scopes; ``timestamp_dt`` (default now, UTC)
    is when it was issued."""
    issued = timestamp_dt or datetime.datetime.now(datetime.UTC)
    if scopes is None:
        scopes = ["esi-mail.read_mail.v1", "esi-wallet.read_character_wallet.v1", "esi-universe.read_structures.v1"]
    return {
        "access_token": access_token,
        "expires_in": expires_in,
        "refresh_token": refresh_token,
        "timestamp": int(issued.timestamp()),
        "character_id": character_id,
        "name": character_name,
        "ExpiresOn": _dt_eveformat(issued + datetime.timedelta(seconds=expires_in)),
        "scp": scopes,
        "token_type": "character",
        "owner": character_owner_hash,
        "IntellectualProperty": "EVE",
        "sso_version": sso_version,
    }


def _store_as_Token(token: dict[str, Any], user: Any) -> Any:  # noqa: N802 - django-esi's name
    """Store a dict of :func:`_generate_token` as a :class:`~esi.models.Token` of ``user``
    with its scopes (creating the ``Scope`` rows); returns the token."""
    from esi.models import Scope, Token

    stored = Token.objects.create(
        access_token=token["access_token"],
        refresh_token=token["refresh_token"],
        user=user,
        character_id=token["character_id"],
        character_name=token["name"],
        token_type=token["token_type"],
        character_owner_hash=token["owner"],
        sso_version=token["sso_version"],
    )
    scopes = [token["scp"]] if isinstance(token["scp"], str) else list(token["scp"])
    stored.scopes.add(*Scope.get_or_create_many(scopes))
    return stored


class SocketAccessError(Exception):
    """A test tried to open a connection to a host other than this machine."""


class GuardedSocket(socket.socket):
    """A socket that connects only to loopback (``localhost``, ``127.0.0.1``, ``::1``), so
    the emulator and local services work and the internet does not."""

    @staticmethod
    def _address_is_loopback(address: Any) -> bool:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, bytes):
            host = host.decode()
        return host in ("localhost", "127.0.0.1", "::1")

    def connect(self, address: Any) -> None:
        if not self._address_is_loopback(address):
            raise SocketAccessError(f"Attempt to connect to non-localhost address: {address!r}")
        super().connect(address)


class NoSocketsTestCase(TestCase):
    """A ``TestCase`` whose tests cannot reach the network beyond loopback (they raise
    :class:`SocketAccessError`)."""

    _socket_original: Any = None

    @classmethod
    def setUpClass(cls) -> None:
        cls._socket_original = socket.socket
        socket.socket = GuardedSocket  # type: ignore[misc]
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        socket.socket = cls._socket_original  # type: ignore[misc]
        super().tearDownClass()
