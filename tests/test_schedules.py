import datetime
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone
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
    # esi_dashboard's schedule is another app's: untouched as well.
    assert set(Schedule.objects.values_list("name", flat=True)) == {"site:report", "cleanup_token", "esi_dashboard:counts"}


@pytest.mark.parametrize(
    "value",
    [
        "hourly",
        {"cleanup_everything": {"minutes": 5}},
        {"cleanup_token": {"minutes": 0}},
        {"cleanup_token": {"minutes": "60"}},
        {"cleanup_token": {"minutes": 5, "cron": "* * * * *"}},
        {"cleanup_token": 60},
        {"cleanup_token": {"cron": "61 * * * *"}},
        {"cleanup_token": {"cron": 11}},
        {"refresh_tokens": None},
    ],
)
def test_bad_settings(db, settings, value):
    before = {name: (s.pk, s.minutes, s.next_run) for name, s in esi_schedules().items()}
    settings.ESI_SCHEDULES = value
    with pytest.raises(ImproperlyConfigured):
        schedules.ensure_schedules()
    assert {name: (s.pk, s.minutes, s.next_run) for name, s in esi_schedules().items()} == before


def test_refresh_tokens_cannot_be_scheduled(db, settings):
    # It needs token_ids: as a schedule it would fail on every run.
    settings.ESI_SCHEDULES = {"refresh_tokens": {"minutes": 60}}
    with pytest.raises(ImproperlyConfigured, match="refresh_tokens cannot be scheduled"):
        schedules.ensure_schedules()
    assert "refresh_tokens" not in schedules.TASKS
    assert set(esi_schedules()) == {"esi:cleanup_callbackredirect", "esi:cleanup_token_subset"}


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh site", "existing site"])
def test_site_dict_is_merged_over_the_defaults(db, settings, fresh):
    if fresh:
        schedules.remove_schedules()
    settings.ESI_SCHEDULES = {"cleanup_token": {"minutes": 1440}, "cleanup_callbackredirect": {"minutes": 120}}
    changes = schedules.ensure_schedules()
    found = esi_schedules()
    # The same result whatever the database held before: keys not given keep their defaults.
    assert {name: s.minutes for name, s in found.items()} == {
        "esi:cleanup_callbackredirect": 120,
        "esi:cleanup_token_subset": 60,
        "esi:cleanup_token": 1440,
    }
    if fresh:
        assert changes.created == ["esi:cleanup_callbackredirect", "esi:cleanup_token_subset", "esi:cleanup_token"]
    else:
        assert changes.created == ["esi:cleanup_token"]
        assert changes.updated == ["esi:cleanup_callbackredirect"]
        assert changes.unchanged == ["esi:cleanup_token_subset"]
    assert changes.removed == []
    settings.ESI_SCHEDULES = {"cleanup_token_subset": None}
    assert schedules.ensure_schedules().removed == ["esi:cleanup_token", "esi:cleanup_token_subset"]
    assert set(esi_schedules()) == {"esi:cleanup_callbackredirect"}


def test_stale_and_duplicate_esi_schedules_are_removed(db):
    subset = esi_schedules()["esi:cleanup_token_subset"]
    for name, func in [
        ("esi:refresh_tokens", "esi.tasks.refresh_tokens"),
        ("esi:cleanup_old_thing", "esi.tasks.cleanup_old_thing"),
        ("esi:cleanup_token_subset", "esi.tasks.cleanup_token_subset"),
    ]:
        Schedule.objects.create(name=name, func=func, schedule_type=Schedule.HOURLY)
    Schedule.objects.create(name="site:report", func="site.tasks.report", schedule_type=Schedule.HOURLY)
    changes = schedules.ensure_schedules()
    assert changes.removed == ["esi:cleanup_old_thing", "esi:cleanup_token_subset", "esi:refresh_tokens"]
    assert changes.unchanged == ["esi:cleanup_callbackredirect", "esi:cleanup_token_subset"]
    assert Schedule.objects.filter(name="esi:cleanup_token_subset").get().pk == subset.pk
    assert set(Schedule.objects.values_list("name", flat=True)) == {
        "esi:cleanup_callbackredirect",
        "esi:cleanup_token_subset",
        "site:report",
        "esi_dashboard:counts",
    }


def test_cron_runs_in_utc(db, settings):
    settings.ESI_SCHEDULES = {"cleanup_token": {"cron": "30 11 * * *"}}
    before = timezone.now()
    assert schedules.ensure_schedules().created == ["esi:cleanup_token"]
    cron = esi_schedules()["esi:cleanup_token"]
    assert cron.schedule_type == Schedule.CRON and cron.cron == "30 11 * * *" and cron.minutes is None
    next_run = cron.next_run.astimezone(datetime.UTC)
    assert (next_run.hour, next_run.minute) == (11, 30)
    assert before < next_run <= before + datetime.timedelta(days=1)
    # django-q2 computes the following runs in the cluster's zone, which is UTC here.
    following = cron.calculate_next_run().astimezone(datetime.UTC)
    assert (following.hour, following.minute) == (11, 30)
    assert schedules.ensure_schedules().unchanged == [
        "esi:cleanup_callbackredirect",
        "esi:cleanup_token_subset",
        "esi:cleanup_token",
    ]
    settings.ESI_SCHEDULES = {"cleanup_token": {"cron": "0 */6 * * *"}}
    assert schedules.ensure_schedules().updated == ["esi:cleanup_token"]
    next_run = esi_schedules()["esi:cleanup_token"].next_run.astimezone(datetime.UTC)
    assert next_run.hour % 6 == 0 and next_run.minute == 0


@pytest.mark.parametrize(
    ("use_tz", "time_zone", "q_cluster", "zone"),
    [
        (True, "UTC", {}, "UTC"),
        (True, "Europe/Oslo", {}, "Europe/Oslo"),
        (True, "Europe/Oslo", {"time_zone": "Etc/UTC"}, "Etc/UTC"),
        (True, "UTC", {"time_zone": "Europe/London"}, "Europe/London"),
        (False, "Europe/Oslo", {"time_zone": "UTC"}, "Europe/Oslo"),
    ],
)
def test_cluster_time_zone(settings, use_tz, time_zone, q_cluster, zone):
    settings.USE_TZ = use_tz
    settings.TIME_ZONE = time_zone
    settings.Q_CLUSTER = {"name": "x", "orm": "default", **q_cluster}
    assert schedules.cluster_time_zone() == zone


def test_cron_is_refused_outside_utc(db, settings):
    settings.ESI_SCHEDULES = {"cleanup_token": {"cron": "30 11 * * *"}}
    # Europe/London is UTC in winter only: 11:30 there is 10:30 UTC in summer.
    settings.Q_CLUSTER = {"name": "x", "orm": "default", "time_zone": "Europe/London"}
    with pytest.raises(ImproperlyConfigured, match="evaluate in Europe/London, not UTC"):
        schedules.ensure_schedules()
    assert "esi:cleanup_token" not in esi_schedules()
    # Interval schedules are aligned to UTC by ensure_schedules, whatever the cluster's zone.
    settings.ESI_SCHEDULES = {"cleanup_token": {"minutes": 1440}}
    assert schedules.ensure_schedules().created == ["esi:cleanup_token"]


def test_cron_needs_croniter(db, settings, monkeypatch):
    monkeypatch.setitem(sys.modules, "croniter", None)
    settings.ESI_SCHEDULES = {"cleanup_token": {"cron": "30 11 * * *"}}
    with pytest.raises(ImproperlyConfigured, match="needs the croniter package"):
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


def test_the_command_lists_the_dashboard_schedule_too(db, capsys):
    call_command("esi_schedules", "--list")
    assert "esi_dashboard:counts" in capsys.readouterr().out


@pytest.mark.parametrize("args", [[], ["--list"], ["--remove"]])
def test_the_command_without_django_q(db, settings, args):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app not in ("django_q", "esi_dashboard")]
    with pytest.raises(CommandError, match="django_q is not in INSTALLED_APPS"):
        call_command("esi_schedules", *args)


def test_the_command_with_bad_schedules(db, settings):
    settings.ESI_SCHEDULES = {"cleanup_token": {"minutes": 0}}
    with pytest.raises(CommandError, match="minutes"):
        call_command("esi_schedules")


def test_without_django_q_the_site_is_warned(settings):
    from esi.checks import check_django_q

    assert check_django_q() == []
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app not in ("django_q", "esi_dashboard")]
    assert [m.id for m in check_django_q()] == ["esi.W013"]
