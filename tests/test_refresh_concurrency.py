"""Two workers refreshing one token at once, on the real databases, while the emulator
rotates refresh tokens: EVE SSO is asked once and the token survives."""

import threading

import pytest
from django.db import connection, connections

from esi.models import Token
from esi.refresh import Outcome, refresh_one

from .factories import make_token

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(count, target):
    """Run ``target(index)`` in ``count`` threads started together; return their results."""
    barrier = threading.Barrier(count)
    results = [None] * count
    errors = []

    def run(index):
        try:
            barrier.wait()
            results[index] = target(index)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.fixture
def racing(esi_emulator_settings):
    if connection.vendor == "sqlite":
        pytest.skip("threads share one in-memory SQLite database; see test_sqlite_fallback_serializes")
    emulator = esi_emulator_settings
    # Slow SSO down so the two workers really overlap.
    emulator.faults.latency(0.3, target="sso:token")
    return emulator


def test_two_workers_valid_access_token(racing):
    token = make_token(racing, 90000001, expired=True)
    access_tokens = in_threads(2, lambda i: Token.objects.get(pk=token.pk).valid_access_token())
    assert racing.sso.stats["refreshes"] == 1
    assert racing.sso.stats["refresh_failures"] == 0
    assert access_tokens[0] == access_tokens[1]
    stored = Token.objects.get(pk=token.pk)
    assert stored.access_token == access_tokens[0] and not stored.expired
    stored.refresh()  # the stored refresh token is the live one
    assert racing.sso.stats["refresh_failures"] == 0


def test_two_cleanup_runs_at_once(racing):
    from esi import tasks

    tokens = [make_token(racing, 90000001 + i, expired=True) for i in range(6)]
    summaries = in_threads(2, lambda i: tasks.cleanup_token())
    assert racing.sso.stats["refreshes"] == 6
    assert racing.sso.stats["refresh_failures"] == 0
    assert sum(s["refreshed"] for s in summaries) == 6
    assert sum(s["deleted"] for s in summaries) == 0
    assert Token.objects.count() == len(tokens)
    assert not any(t.expired for t in Token.objects.all())


def test_forced_refreshes_serialize(racing):
    token = make_token(racing, 90000001)
    outcomes = in_threads(2, lambda i: refresh_one(token.pk, force=True).outcome)
    assert outcomes == [Outcome.REFRESHED, Outcome.REFRESHED]
    assert racing.sso.stats["refreshes"] == 2 and racing.sso.stats["refresh_failures"] == 0
    assert Token.objects.filter(pk=token.pk).exists()


def test_concurrent_run_uses_its_threads(racing, settings):
    from esi.refresh import refresh_many
    from esi.signals import token_refreshed

    settings.ESI_REFRESH_CONCURRENCY = 4
    tokens = [make_token(racing, 90000001 + i, expired=True) for i in range(8)]
    workers = set()

    def on_refreshed(sender, token, **kwargs):
        workers.add(threading.get_ident())

    token_refreshed.connect(on_refreshed)
    try:
        summary = refresh_many([t.pk for t in tokens])
    finally:
        token_refreshed.disconnect(on_refreshed)
    assert summary.counts["refreshed"] == 8
    assert len(workers) == 4 and threading.get_ident() not in workers


def test_sqlite_fallback_serializes(esi_emulator_settings, tmp_path):
    """Two processes on one SQLite file: the write-lock fallback makes the second wait and
    then use the token the first one refreshed."""
    import os
    import subprocess
    import sys

    emulator = esi_emulator_settings
    env = {
        **os.environ,
        "SQLITE_FILE": str(tmp_path / "db.sqlite3"),
        "EMULATOR_URL": emulator.url,
        "DB_BACKEND": "sqlite",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("REDIS_URL", None)
    worker = [sys.executable, "-m", "tests.sqlite_worker"]
    created = subprocess.run([*worker, "create"], env=env, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    token_id = created.stdout.strip()
    emulator.faults.latency(0.5, target="sso:token")
    before = emulator.sso.stats["refreshes"]
    processes = [
        subprocess.Popen([*worker, "refresh", token_id], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    assert emulator.sso.stats["refreshes"] - before == 1
    assert emulator.sso.stats["refresh_failures"] == 0
    assert outputs[0][0] == outputs[1][0]


def test_threaded_run_during_an_outage_keeps_every_token(racing, settings):
    """Eight threads against a dead SSO: the breaker stops them after a handful of
    attempts, nothing is deleted, and no thread sleeps on retries holding a lock."""
    import time

    from esi import tasks

    settings.ESI_REFRESH_CONCURRENCY = 8
    tokens = [make_token(racing, 90000001 + i, expired=True) for i in range(60)]
    racing.faults.sso_outage(status=503)
    started = time.monotonic()
    result = tasks.cleanup_token()
    assert time.monotonic() - started < 10
    assert result["stop_reason"] == "breaker" and result["deleted"] == 0
    # The threads in flight when it tripped finish their one attempt; nothing more starts.
    assert 5 <= result["kept"] <= 5 + 8 and result["kept"] + result["skipped"] == 60
    assert Token.objects.count() == len(tokens)
    assert Token.objects.filter(refresh_failures=1).count() == result["kept"]


def test_threaded_run_when_sso_fails_midway(racing, settings):
    from esi import tasks
    from esi.signals import token_refreshed

    settings.ESI_REFRESH_CONCURRENCY = 4
    settings.ESI_REFRESH_BREAKER_WINDOW = 10
    tokens = [make_token(racing, 90000001 + i, expired=True) for i in range(60)]
    refreshed = []

    def on_refreshed(sender, token, **kwargs):
        refreshed.append(token.pk)
        if len(refreshed) == 20:
            racing.faults.sso_outage(status=503)

    token_refreshed.connect(on_refreshed)
    try:
        result = tasks.cleanup_token()
    finally:
        token_refreshed.disconnect(on_refreshed)
    assert result["stop_reason"] == "breaker" and result["deleted"] == 0
    assert 20 <= result["refreshed"] <= 24
    assert result["kept"] <= 6 + 4  # six of the last ten, plus those already in flight
    assert Token.objects.count() == len(tokens)
