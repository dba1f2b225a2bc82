"""The token table's filter form (GET parameters ``user``, ``character``, ``scope`` and
``state``). Values that do not validate are reported on the form and ignored."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from esi.models import Token

from .metrics import State, state_filter

#: Largest value of the 32-bit integer columns (user and character ids).
_MAX_ID = 2**31 - 1


def _as_id(text: str) -> int | None:
    """``text`` as an id that fits the database's integer columns, or ``None``."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= _MAX_ID else None


class TokenFilterForm(forms.Form):
    user = forms.CharField(
        required=False, max_length=150, label="User", help_text="Username or user ID."
    )
    character = forms.CharField(
        required=False, max_length=100, label="Character", help_text="Part of the name, or the character ID."
    )
    scope = forms.ChoiceField(required=False, label="Scope")
    state = forms.ChoiceField(required=False, label="State", choices=[("", "any"), *State.CHOICES])

    def __init__(self, data: Any, scopes: dict[str, int]) -> None:
        """``scopes`` maps the name of every stored scope to its primary key."""
        super().__init__(data)
        self.scope_ids = scopes
        scope = self.fields["scope"]
        assert isinstance(scope, forms.ChoiceField)
        scope.choices = [("", "any"), *((name, name) for name in scopes)]

    def filter(self, queryset: QuerySet[Token], now: datetime.datetime) -> QuerySet[Token]:
        """``queryset`` narrowed by every field that validated."""
        self.is_valid()
        values = {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value}
        if user := values.get("user"):
            user_id = _as_id(user)
            queryset = queryset.filter(
                Q(user__username=user) | Q(user_id=user_id) if user_id is not None else Q(user__username=user)
            )
        if character := values.get("character"):
            character_id = _as_id(character)
            match = Q(character_name__icontains=character)
            queryset = queryset.filter(match | Q(character_id=character_id) if character_id is not None else match)
        if scope := values.get("scope"):
            # A join on the link table alone (by the scope's key, not its name): a token
            # holds a scope at most once, so no row repeats.
            queryset = queryset.filter(scopes=self.scope_ids[scope])
        if state := values.get("state"):
            queryset = queryset.filter(state_filter(state, now))
        return queryset
