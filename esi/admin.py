"""Admin registrations. Access and refresh tokens are never shown, in lists or forms."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import CallbackRedirect, Scope, Token


@admin.register(Scope)
class ScopeAdmin(admin.ModelAdmin):
    list_display = ("name", "help_text")
    search_fields = ("name",)


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ("character_name", "character_id", "user", "token_type", "expires", "created")
    list_filter = ("token_type", "sso_version")
    search_fields = ("character_name", "character_id", "user__username", "character_owner_hash")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    # The secrets are never among the fields; everything shown but the owner is read-only:
    # a token comes from EVE SSO, not from a form.
    readonly_fields = (
        "character_id",
        "character_name",
        "character_owner_hash",
        "token_type",
        "sso_version",
        "created",
        "expires",
        "scope_names",
    )
    fields = ("user", *readonly_fields)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Token]:
        return super().get_queryset(request).prefetch_related("scopes")

    @admin.display(description="Scopes")
    def scope_names(self, obj: Token) -> str:
        return ", ".join(sorted(s.name for s in obj.scopes.all()))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(CallbackRedirect)
class CallbackRedirectAdmin(admin.ModelAdmin):
    list_display = ("url", "created", "token")
    fields = ("url", "created", "token")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
