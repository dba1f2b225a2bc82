"""esi.tasks and the task decorators on a real Celery worker (``celery -A tests.celery_app
worker``) with Redis as broker and result backend, as a Celery site (Alliance Auth) runs
them."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

import esi.tasks
from esi.models import CallbackRedirect, Token
from tests import task_functions

from .factories import make_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker(esi_emulator_settings, tmp_path):
    if connection.vendor == "sqlite" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs a server database the worker process can share, and Redis")
    from celery import Celery

    from tests.celery_app import app as eager_app

    # The run's Redis database, on a queue named for this test alone: two test runs can
    # share a Redis server, and no other worker takes these tasks.
    broker_url = os.environ["REDIS_URL"]
    queue = f"esi-ng-tests-{uuid.uuid4().hex[:12]}"
    # The test process's own app, sending to the worker (esi.tasks and the test tasks are
    # shared tasks: they bind to the current app). The eager tests' app is made current
    # again afterwards.
    app = Celery("esi_ng_tests_sender", broker=broker_url, backend=broker_url, set_as_current=True)
    app.conf.task_default_queue = queue
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.celery_settings",
        "ESI_TEST_DB_NAME": connection.settings_dict["NAME"],
        "EMULATOR_URL": esi_emulator_settings.url,
        "CELERY_REDIS_URL": broker_url,
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "ignore",
    }
    log = tmp_path / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker", "--pool=solo",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO", "-Q", queue,
    ]
    with open(log, "wb") as output, subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
    ) as process:
        try:
            yield app
        finally:
            process.terminate()
            process.wait(timeout=30)
            app.control.purge()
            eager_app.set_current()
    print(log.read_text())


def test_esi_tasks_run_as_celery_tasks(worker, esi_emulator_settings):
    CallbackRedirect.objects.create(session_key="old", state="s")
    CallbackRedirect.objects.update(created=timezone.now() - datetime.timedelta(hours=1))
    token = make_token(esi_emulator_settings, 90000001, expired=True)

    assert esi.tasks.cleanup_callbackredirect.delay().get(timeout=60) == {"deleted": 1}
    summary = esi.tasks.cleanup_token.delay().get(timeout=60)
    assert summary["refreshed"] == 1 and not Token.objects.get(pk=token.pk).expired
    # What a beat entry does: send the task by its name.
    assert worker.send_task("esi.tasks.cleanup_token_subset", kwargs={"fraction": 2}).get(timeout=60)["refreshed"] == 0
    bad = esi.tasks.refresh_tokens.delay("1; DROP TABLE esi_token")
    with pytest.raises(ValueError, match="token_ids must be a list of integers"):
        bad.get(timeout=60)
    assert Token.objects.filter(pk=token.pk).exists()


def test_rate_limit_retry_task_retries_after_the_reset(worker):
    started = time.monotonic()
    assert task_functions.celery_stopped_once.delay("worker", 2).get(timeout=60) == 2
    assert time.monotonic() - started >= 2


def test_rate_limited_task_spaces_its_runs(worker):
    first = task_functions.celery_limited.delay("spaced")
    second = task_functions.celery_limited.delay("spaced")
    times = sorted([first.get(timeout=60), second.get(timeout=60)])
    assert times[1] - times[0] >= 1.5  # one run per 2 s, less the rounding of countdowns
