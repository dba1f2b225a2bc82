"""The dashboard in the Django admin.

:class:`DashboardAdmin` is registered for the table-less model :class:`Dashboard`, so the
dashboard appears in the admin index under "ESI dashboard" for users holding
``esi_dashboard.view_dashboard``, and its pages live under the admin's URLs with no change
to the site's URLconf:

============================================  =============================================
``<admin>/esi_dashboard/dashboard/``          token health (``admin:esi_dashboard_health``)
``<admin>/esi_dashboard/dashboard/scopes/``   scope coverage (``admin:esi_dashboard_scopes``)
``<admin>/esi_dashboard/dashboard/budgets/``  ESI budgets (``admin:esi_dashboard_budgets``)
``<admin>/esi_dashboard/dashboard/metrics/``  Prometheus metrics (``admin:esi_metrics``)
============================================  =============================================

A site with its own ``AdminSite`` registers the two classes on it as well::

    my_site.register(Dashboard, DashboardAdmin)
    my_site.register(TokenDeletion, TokenDeletionAdmin)
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, path

from . import prometheus, views
from .models import Dashboard, TokenDeletion


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nothing here is added, changed or deleted through the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Dashboard)
class DashboardAdmin(ReadOnlyAdmin):
    """Routes the dashboard's views; nothing to add, change or delete."""

    def get_urls(self) -> list[URLPattern]:
        def wrap(view: Any, **kwargs: Any) -> Any:
            return self.admin_site.admin_view(view.as_view(model_admin=self, **kwargs))

        health = wrap(views.HealthView)
        return [
            path("", health, name="esi_dashboard_health"),
            # The admin index links a model's changelist: that is the health page.
            path("", health, name="esi_dashboard_dashboard_changelist"),
            path("tokens.csv", wrap(views.ExportView), name="esi_dashboard_tokens_csv"),
            path("scopes/", wrap(views.ScopesView), name="esi_dashboard_scopes"),
            path("budgets/", wrap(views.BudgetsView), name="esi_dashboard_budgets"),
            path("refresh-expired/", wrap(views.RefreshExpiredView), name="esi_dashboard_refresh_expired"),
            path("count-scopes/", wrap(views.CountView), name="esi_dashboard_count_scopes"),
            path(
                "count-tokens/",
                wrap(views.CountView, func="esi_dashboard.tasks.count_tokens", page="esi_dashboard_health"),
                name="esi_dashboard_count_tokens",
            ),
            path("tasks/<str:task_id>/", wrap(views.TaskStatusView), name="esi_dashboard_task"),
            # Not wrapped in admin_view: a scraper gets 401 or 403, not the login page.
            path("metrics/", prometheus.metrics_view, name="esi_metrics"),
        ]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(views.VIEW_PERMISSION)


@admin.register(TokenDeletion)
class TokenDeletionAdmin(ReadOnlyAdmin):
    """Read-only list of the tokens the refresh engine deleted (kept for seven days)."""

    list_display = ("deleted_at", "character_name", "character_id", "user", "reason", "token_id")
    list_filter = ("reason",)
    search_fields = ("character_name", "character_id")
    list_select_related = ("user",)
