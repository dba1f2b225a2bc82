"""``{% esi_dashboard_tasks %}``: the outcome of the django-q2 tasks this session started
from the admin, polled until they finish (used by the dashboard's pages and the token
list)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from ..queue import outcomes, session_tasks

register = template.Library()


@register.inclusion_tag("esi_dashboard/includes/tasks.html", takes_context=True)
def esi_dashboard_tasks(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    if request is None or not hasattr(request, "session"):
        return {"tasks": []}
    entries = session_tasks(request)
    try:
        # Polling needs the dashboard's status URL on this admin site.
        reverse("admin:esi_dashboard_task", args=["0" * 32], current_app=getattr(request, "current_app", None))
        status_urls = True
    except NoReverseMatch:
        status_urls = False
    return {"tasks": outcomes(entries), "status_urls": status_urls, "request": request}
