"""The tasks run by a real django-q2 cluster (``manage.py qcluster``) with the Redis broker."""

import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from esi.models import CallbackRedirect, Token

from .factories import make_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def qcluster(esi_emulator_settings, monkeypatch, tmp_path):
    if connection.vendor == "sqlite" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs a server database the cluster process can share, and Redis")
    from django_q.brokers.redis_broker import Redis
    from django_q.conf import Conf

    # A Redis database of its own: the test cache (django-redis) flushes its database.
    broker_url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/2"
    monkeypatch.setattr(Conf, "REDIS", broker_url)
    broker = Redis(list_key="esi-ng-qcluster-test")
    broker.purge_queue()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.qcluster_settings",
        "ESI_TEST_DB_NAME": connection.settings_dict["NAME"],
        "EMULATOR_URL": esi_emulator_settings.url,
        "Q_REDIS_URL": broker_url,
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "ignore",
    }
    log = tmp_path / "qcluster.log"
    with open(log, "wb") as output, subprocess.Popen(
        [sys.executable, "-m", "django", "qcluster"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
    ) as process:
        try:
            yield broker
        finally:
            process.terminate()
            process.wait(timeout=30)
            broker.purge_queue()
    print(log.read_text())


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
