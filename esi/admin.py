"""Admin registrations. Access and refresh tokens are never shown, in lists or forms.

The token list has the action "Refresh selected tokens", which enqueues the django-q2 task
:func:`esi.tasks.refresh_tokens` and remembers the task in the session
(:func:`remember_task`); ``esi_dashboard``, when installed, shows the outcome there.
"""

from __future__ import annotations

import time
from typing import Any

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from .models import CallbackRedirect, Scope, Token

#: The session key listing the refresh tasks this session enqueued, newest first:
#: ``[{"id": task id, "label": str, "queued_at": epoch seconds}]``.
TASKS_SESSION_KEY = "esi:admin:tasks"
#: How many tasks the session remembers.
TASKS_REMEMBERED = 5


def remember_task(request: HttpRequest, task_id: str, label: str) -> None:
    """Add a django-q2 task id to the session's list (:data:`TASKS_SESSION_KEY`), keeping
    the newest :data:`TASKS_REMEMBERED`."""
    tasks: list[dict[str, Any]] = [
        task
        for task in request.session.get(TASKS_SESSION_KEY, [])
        if isinstance(task, dict) and task.get("id") != task_id
    ]
    tasks.insert(0, {"id": task_id, "label": label, "queued_at": time.time()})
    request.session[TASKS_SESSION_KEY] = tasks[:TASKS_REMEMBERED]


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
    actions = ["refresh_selected"]
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

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Django 6.1 passes where the actions show (action_location), here and to
        # response_action, and deprecates overrides without it; Django 5.2 has none.
        if action_location is None:
            actions = super().get_actions(request)
        else:
            actions = super().get_actions(request, action_location=action_location)  # type: ignore[call-arg]
        if not apps.is_installed("django_q"):  # the refresh runs as a django-q2 task
            actions.pop("refresh_selected", None)
        return actions

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Token], action_location: Any = None
    ) -> HttpResponse | None:
        # Django's admin answers a selection that is not a list of ids with a 500.
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if any(not (value.isascii() and value.isdigit() and len(value) <= 10) for value in selected):
            self.message_user(request, "The selection is not a list of token ids: nothing was done.", messages.WARNING)
            return HttpResponseRedirect(request.get_full_path())
        if action_location is None:  # Django 5.2, or a caller that does not say
            return super().response_action(request, queryset)
        return super().response_action(request, queryset, action_location=action_location)  # type: ignore[call-arg]

    @admin.action(description="Refresh selected tokens", permissions=["change"])
    def refresh_selected(self, request: HttpRequest, queryset: QuerySet[Token]) -> None:
        """Enqueue :func:`esi.tasks.refresh_tokens` for the selected tokens (POST only, as
        every admin action, with the changelist's CSRF token)."""
        from django_q.tasks import async_task

        ids = sorted(queryset.values_list("pk", flat=True))
        if not ids:
            self.message_user(request, "None of the selected tokens exists: nothing was queued.", messages.WARNING)
            return
        label = f"Refresh of {len(ids)} selected token{'s' if len(ids) != 1 else ''}"
        task_id = async_task("esi.tasks.refresh_tokens", ids, group="esi:admin")
        remember_task(request, task_id, label)
        self.message_user(request, f"{label} queued as task {task_id}.", messages.SUCCESS)


@admin.register(CallbackRedirect)
class CallbackRedirectAdmin(admin.ModelAdmin):
    list_display = ("url", "created", "token")
    fields = ("url", "created", "token")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
