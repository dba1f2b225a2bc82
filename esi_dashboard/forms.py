"""The token table's filter form (GET parameters ``user``, ``character``, ``scope`` and
``state``). Values that do not validate are reported on the form and ignored."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db import connection
from django.db.models import OuterRef, Q, QuerySet

from esi.models import Token

from .metrics import State, probe, state_filter

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
            queryset = _holding(queryset, self.scope_ids[scope])
        if state := values.get("state"):
            queryset = queryset.filter(state_filter(state, now))
        return queryset


def _holding(queryset: QuerySet[Token], scope_id: int) -> QuerySet[Token]:
    """The tokens of ``queryset`` holding the scope ``scope_id``, in a form each database
    answers by walking the tokens in the table's order and probing the link table's
    (token, scope) index until the page is full.

    PostgreSQL and SQLite do that with a join on the link table (a token holds a scope at
    most once, so no row repeats). MariaDB turns a join, ``IN`` or ``EXISTS`` into one that
    first collects every holder of the scope (400,000 of 1,000,000 tokens), reads their rows
    and sorts them (tens of seconds); a scalar subquery it cannot flatten keeps it on the
    walk (:func:`esi_dashboard.metrics.probe`). PostgreSQL runs that subquery without
    parallel workers, so it keeps the join.
    """
    if connection.vendor != "mysql":
        return queryset.filter(scopes=scope_id)
    held = Token.scopes.through.objects.filter(token_id=OuterRef("pk"), scope_id=scope_id)
    return probe(queryset, held, present=True)
