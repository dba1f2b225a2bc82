"""``{% load scope_tags %}``: django-esi's template filters for ESI scopes, for templates
written for it (Alliance Auth's ``esi/select_token.html`` override loads them)."""

from __future__ import annotations

from django import template

from esi.models import Scope

register = template.Library()


@register.filter
def scope_friendly_name(name: str) -> str:
    """``esi-characters.read_notifications.v1`` -> ``read notifications`` (the part after
    the first dot, underscores as spaces); other text unchanged."""
    return Scope._friendly_name(str(name))
