"""Admin dashboard for django-esi-ng: token health, scope coverage and ESI budgets."""
