"""The tasks run by a real django-q2 cluster (``manage.py qcluster``) with the Redis broker."""

import datetime
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from esi import schedules
from esi.models import CallbackRedirect, Token

from .factories import make_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def qcluster(esi_emulator_settings, monkeypatch, tmp_path):
    """A real cluster on a queue of its own, running before the test enqueues anything.

    Two test runs can share a Redis server (other engineers, CI jobs): the queue is named
    for this test alone (the name also salts the signed task packages, so both processes
    use it), so no other cluster can take its tasks, and the run's cache keys carry a
    prefix of their own (tests/settings.py), so no other run's cleanup deletes anything
    here. The cluster runs in a session of its own, and whatever is left of it at the end
    is killed: a leftover process would take the next test's tasks.
    """
    if connection.vendor == "sqlite" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs a server database the cluster process can share, and Redis")
    from django_q.brokers.redis_broker import Redis
    from django_q.conf import Conf

    name = f"esi-ng-tests-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(Conf, "PREFIX", name)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "REDIS", os.environ["REDIS_URL"])
    broker = Redis(list_key=name)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.qcluster_settings",
        "ESI_TEST_DB_NAME": connection.settings_dict["NAME"],
        "EMULATOR_URL": esi_emulator_settings.url,
        "Q_CLUSTER_NAME_FOR_TESTS": name,
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "ignore",
    }
    log = tmp_path / "qcluster.log"
    with open(log, "wb") as output, subprocess.Popen(
        [sys.executable, "-m", "django", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ) as process:
        try:
            wait_for_line(log, "running.", process)
            yield broker
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            finally:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            broker.delete_queue()
    print(log.read_text())


def wait_for_line(log, text, process, timeout=180):
    """Wait until the cluster's log has ``text`` (its start takes seconds under load)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise AssertionError(f"qcluster exited with {process.returncode}:\n{log.read_text()}")
        time.sleep(0.2)
    raise AssertionError(f"qcluster did not log {text!r} within {timeout} s:\n{log.read_text()}")


def wait_for_result(task_id, timeout=60):
    from django_q.tasks import fetch

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = fetch(task_id)
        if task is not None:
            return task
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish within {timeout} s")


def test_cleanup_tasks_in_a_real_cluster(qcluster, esi_emulator_settings):
    from django_q.tasks import async_task

    CallbackRedirect.objects.create(session_key="old", state="s")
    CallbackRedirect.objects.update(created=timezone.now() - datetime.timedelta(hours=1))
    token = make_token(esi_emulator_settings, 90000001, expired=True)

    purge = wait_for_result(async_task("esi.tasks.cleanup_callbackredirect", broker=qcluster, sync=False))
    assert purge.success and purge.result == {"deleted": 1}
    refresh = wait_for_result(async_task("esi.tasks.cleanup_token", broker=qcluster, sync=False))
    assert refresh.success and refresh.result["refreshed"] == 1
    assert not Token.objects.get(pk=token.pk).expired
    bad = wait_for_result(async_task("esi.tasks.refresh_tokens", "1; DROP TABLE esi_token", broker=qcluster, sync=False))
    assert bad.success is False and "token_ids must be a list of integers" in bad.result
    assert Token.objects.filter(pk=token.pk).exists()


def test_schedules_fire_in_a_real_cluster(qcluster, esi_emulator_settings, settings):
    from django_q.models import Schedule, Success

    CallbackRedirect.objects.create(session_key="old", state="s")
    CallbackRedirect.objects.update(created=timezone.now() - datetime.timedelta(hours=1))
    token = make_token(esi_emulator_settings, 90000001, expired=True)
    # One interval and one cron schedule, as ensure_schedules writes them; the cluster runs
    # with TIME_ZONE "UTC" and no Q_CLUSTER["time_zone"], so cron is evaluated in UTC.
    settings.ESI_SCHEDULES = {"cleanup_token": {"cron": "0 */4 * * *"}}
    assert "esi:cleanup_token" in schedules.ensure_schedules().created
    found = {s.name: s for s in Schedule.objects.filter(name__startswith="esi:")}
    purge, cron = found["esi:cleanup_callbackredirect"], found["esi:cleanup_token"]
    # Due now: each one's previous run time, 4 hours before the next one.
    aligned = purge.next_run
    Schedule.objects.filter(pk=purge.pk).update(next_run=aligned - datetime.timedelta(minutes=240))
    Schedule.objects.filter(pk=cron.pk).update(next_run=cron.next_run - datetime.timedelta(hours=4))

    # django-q2's scheduler runs in the cluster's guard loop every 30 s.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = {task.group: task for task in Success.objects.filter(group__in=found)}
        if {"esi:cleanup_callbackredirect", "esi:cleanup_token"} <= done.keys():
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the scheduled tasks did not run within 120 s; ran: {sorted(done)}")

    assert done["esi:cleanup_callbackredirect"].result == {"deleted": 1}
    assert not CallbackRedirect.objects.exists()
    assert done["esi:cleanup_token"].result["refreshed"] == 1
    assert not Token.objects.get(pk=token.pk).expired
    purge.refresh_from_db()
    cron.refresh_from_db()
    assert purge.task == done["esi:cleanup_callbackredirect"].id
    # The next runs stay on UTC boundaries: the interval one 240 minutes on, the cron one
    # at the next multiple of 4 hours.
    assert purge.next_run == aligned
    next_cron = cron.next_run.astimezone(datetime.UTC)
    assert next_cron > timezone.now() and next_cron.hour % 4 == 0 and next_cron.minute == 0
