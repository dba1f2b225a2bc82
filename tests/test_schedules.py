import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django_q.models import Schedule

from esi import schedules


def esi_schedules():
    return {s.name: s for s in Schedule.objects.filter(name__startswith="esi:")}


def test_migrate_created_the_default_schedules(db):
    found = esi_schedules()
    assert set(found) == {"esi:cleanup_callbackredirect", "esi:cleanup_token_subset"}
    purge = found["esi:cleanup_callbackredirect"]
    assert purge.func == "esi.tasks.cleanup_callbackredirect"
    assert purge.schedule_type == Schedule.MINUTES and purge.minutes == 240
    assert found["esi:cleanup_token_subset"].minutes == 60
    # Aligned to UTC boundaries.
    next_run = found["esi:cleanup_token_subset"].next_run.astimezone(datetime.UTC)
    assert next_run.minute == 0 and next_run.second == 0
    assert purge.next_run.astimezone(datetime.UTC).hour % 4 == 0


def test_second_run_changes_nothing(db):
    before = {name: (s.pk, s.next_run) for name, s in esi_schedules().items()}
    changes = schedules.ensure_schedules()
    assert changes.created == changes.updated == changes.removed == []
    assert {name: (s.pk, s.next_run) for name, s in esi_schedules().items()} == before
    call_command("migrate", verbosity=0)
    assert {name: (s.pk, s.next_run) for name, s in esi_schedules().items()} == before


def test_setting_changes_update_and_remove(db, settings):
    settings.ESI_SCHEDULES = {
        "cleanup_callbackredirect": {"minutes": 30},
        "cleanup_token_subset": None,
        "cleanup_token": {"minutes": 1440},
    }
    changes = schedules.ensure_schedules()
    assert changes.updated == ["esi:cleanup_callbackredirect"]
    assert changes.removed == ["esi:cleanup_token_subset"]
    assert changes.created == ["esi:cleanup_token"]
    found = esi_schedules()
    assert found["esi:cleanup_callbackredirect"].minutes == 30
    assert found["esi:cleanup_token"].next_run.astimezone(datetime.UTC).hour == 0


def test_foreign_schedules_are_untouched(db, settings):
    Schedule.objects.create(name="site:report", func="site.tasks.report", schedule_type=Schedule.HOURLY)
    Schedule.objects.create(name="cleanup_token", func="other.cleanup_token", schedule_type=Schedule.DAILY)
    settings.ESI_SCHEDULES = {"cleanup_callbackredirect": None, "cleanup_token_subset": None}
    schedules.ensure_schedules()
    assert schedules.remove_schedules() == []
    assert set(Schedule.objects.values_list("name", flat=True)) == {"site:report", "cleanup_token"}


@pytest.mark.parametrize(
    "value",
    [
        "hourly",
        {"cleanup_everything": {"minutes": 5}},
        {"cleanup_token": {"minutes": 0}},
        {"cleanup_token": {"minutes": "60"}},
        {"cleanup_token": {"minutes": 5, "cron": "* * * * *"}},
        {"cleanup_token": 60},
    ],
)
def test_bad_settings(db, settings, value):
    settings.ESI_SCHEDULES = value
    with pytest.raises(ImproperlyConfigured):
        schedules.ensure_schedules()


def test_command(db, capsys, settings):
    call_command("esi_schedules", "--remove")
    assert "Removed 2 schedule(s)" in capsys.readouterr().out
    assert esi_schedules() == {}
    call_command("esi_schedules")
    out = capsys.readouterr().out
    assert "created: esi:cleanup_callbackredirect, esi:cleanup_token_subset" in out
    assert "every 240 min" in out
    call_command("esi_schedules", "--list")
    assert "esi:cleanup_token_subset" in capsys.readouterr().out
