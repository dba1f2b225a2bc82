"""``manage.py esi_schedules``: create, update or remove the ``esi:`` django-q2 schedules."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from esi import schedules


class Command(BaseCommand):
    help = (
        "Create, update or remove the esi: django-q2 schedules to match ESI_SCHEDULES, merged "
        "over its defaults (also done by migrate). --list shows them, --remove deletes them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--list", action="store_true", help="List the esi: schedules.")
        group.add_argument("--remove", action="store_true", help="Delete the esi: schedules.")

    def handle(self, *args: Any, list: bool = False, remove: bool = False, **options: Any) -> None:
        if not apps.is_installed("django_q"):
            raise CommandError(
                'django_q is not in INSTALLED_APPS: the esi: schedules are django-q2 schedules. '
                'Add "django_q" and run migrate (see the system check esi.W013).'
            )
        if remove:
            names = schedules.remove_schedules()
            self.stdout.write(f"Removed {len(names)} schedule(s): {', '.join(names) or 'none'}")
            return
        if not list:
            try:
                changes = schedules.ensure_schedules()
            except ImproperlyConfigured as exc:
                raise CommandError(str(exc)) from exc
            for label in ("created", "updated", "removed", "unchanged"):
                names = getattr(changes, label)
                if names:
                    self.stdout.write(f"{label}: {', '.join(names)}")
        from django_q.models import Schedule

        # The esi: schedules and those of apps built on esi (esi_dashboard:counts).
        for schedule in Schedule.objects.filter(name__startswith="esi").order_by("name"):
            every = f"every {schedule.minutes} min" if schedule.minutes else f"cron {schedule.cron}"
            self.stdout.write(f"{schedule.name:<32} {schedule.func:<38} {every:<16} next {schedule.next_run:%Y-%m-%d %H:%M} UTC")
