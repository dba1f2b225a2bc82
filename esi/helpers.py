"""django-esi 10's ``esi.helpers``."""

from __future__ import annotations

from typing import Any

from .models import Token


def get_token(character_id: int, scopes: Any) -> Token:
    """A valid token of ``character_id`` holding at least ``scopes`` (a list or a
    space-delimited string), the newest first.

    Raises ``Token.DoesNotExist`` when there is none (django-esi 10's contract; the
    classmethod :meth:`Token.get_token <esi.models.Token.get_token>` returns ``False``
    instead, as django-esi 7's did).
    """
    token = (
        Token.objects.filter(character_id=character_id)
        .require_scopes(scopes)
        .require_valid()
        .order_by("-created", "-pk")
        .first()
    )
    if token is None:
        raise Token.DoesNotExist(
            f"No valid token for character_id={character_id} with the required scopes."
        )
    return token
