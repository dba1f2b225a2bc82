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
    """Eight refreshes with 0.3 s of SSO latency each, four at a time: about 0.6 s, not 2.4."""
    from esi.refresh import refresh_many

    settings.ESI_REFRESH_CONCURRENCY = 4
    tokens = [make_token(racing, 90000001 + i, expired=True) for i in range(8)]
    summary = refresh_many([t.pk for t in tokens])
    assert summary.counts["refreshed"] == 8
    assert summary.seconds < 1.5
    assert racing.sso.stats["refreshes"] == 8


def test_a_chunked_run_sorts_every_kind_of_token(racing, settings):
    """The chunked path (PostgreSQL, MariaDB) gives each token the outcome the one-token
    path gives it, with one lock query and one write per chunk."""
    from esi.refresh import refresh_many
    from esi.signals import token_deleted, token_refreshed

    settings.ESI_REFRESH_CONCURRENCY = 2
    fine = [make_token(racing, 90000001 + i, expired=True) for i in range(5)]
    fresh = make_token(racing, 90000011)
    revoked = make_token(racing, 90000012, expired=True)
    racing.sso.revoke_all(90000012)
    sold = make_token(racing, 90000013, expired=True)
    racing.sso.transfer_character(90000013)
    bare = make_token(racing, 90000014, expired=True)
    Token.objects.filter(pk=bare.pk).update(refresh_token="")
    events = []

    def on_refreshed(sender, token, **kwargs):
        events.append(("refreshed", token.pk))

    def on_deleted(sender, token_id, reason, **kwargs):
        events.append(("deleted", token_id, reason))

    token_refreshed.connect(on_refreshed)
    token_deleted.connect(on_deleted)
    try:
        ids = [t.pk for t in (*fine, fresh, revoked, sold, bare)] + [999999]
        summary = refresh_many(ids).as_dict()
    finally:
        token_refreshed.disconnect(on_refreshed)
        token_deleted.disconnect(on_deleted)
    assert summary["refreshed"] == 5 and summary["already_fresh"] == 1
    assert summary["deleted_by_reason"] == {"invalid_grant": 1, "owner_changed": 1}
    assert summary["not_refreshable"] == 1 and summary["missing"] == 1 and summary["kept"] == 0
    assert sorted(e for e in events if e[0] == "deleted") == sorted(
        [("deleted", revoked.pk, "invalid_grant"), ("deleted", sold.pk, "owner_changed")]
    )
    assert {e[1] for e in events if e[0] == "refreshed"} == {t.pk for t in fine}
    for token in Token.objects.filter(pk__in=[t.pk for t in fine]):
        assert not token.expired and token.last_refresh_ok and token.refresh_failures == 0
        token.refresh()  # the stored refresh token is the live one
    assert Token.objects.filter(pk=bare.pk).exists()
    assert racing.sso.stats["refresh_failures"] == 1  # the revoked grant only


@pytest.mark.parametrize("failed_runs", [1, 2, 3])
def test_a_failed_chunk_write_is_recovered_from_the_journal(racing, settings, failed_runs):
    """The chunk's UPDATE fails after EVE SSO rotated every refresh token, in one run or
    several in a row: the tokens are kept, and the next run spends the refresh tokens the
    journal kept."""
    from django.db import DatabaseError
    from django.db.backends.signals import connection_created

    from esi.refresh import refresh_many

    settings.ESI_REFRESH_CONCURRENCY = 2
    tokens = [make_token(racing, 90000001 + i, expired=True) for i in range(4)]

    def disk_full(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "esi_token" in sql:
            raise DatabaseError("disk full")
        return execute(sql, params, many, context)

    def install(sender, connection, **kwargs):  # the run's threads open their own connections
        connection.execute_wrappers.append(disk_full)

    connection_created.connect(install)
    try:
        for _ in range(failed_runs):
            first = refresh_many([t.pk for t in tokens]).as_dict()
            assert first["kept"] == 4 and first["refreshed"] == 0 and first["deleted"] == 0
    finally:
        connection_created.disconnect(install)
    second = refresh_many([t.pk for t in tokens]).as_dict()
    assert second["refreshed"] == 4 and second["deleted"] == 0
    assert Token.objects.count() == 4


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
    import time

    from esi import tasks

    settings.ESI_REFRESH_CONCURRENCY = 4
    settings.ESI_REFRESH_BREAKER_WINDOW = 10
    tokens = [make_token(racing, 90000001 + i, expired=True) for i in range(60)]
    done = threading.Event()

    def fail_after_twenty():
        while not done.is_set():
            if racing.sso.stats["refreshes"] >= 20:
                racing.faults.sso_outage(status=503)
                return
            time.sleep(0.001)

    watcher = threading.Thread(target=fail_after_twenty)
    watcher.start()
    try:
        result = tasks.cleanup_token()
    finally:
        done.set()
        watcher.join()
    assert result["stop_reason"] == "breaker" and result["deleted"] == 0
    # Twenty, plus at most the four that were in flight when SSO went down.
    assert 20 <= result["refreshed"] <= 24
    assert result["kept"] <= 6 + 4  # six of the last ten, plus those already in flight
    assert result["refreshed"] + result["kept"] + result["skipped"] == 60
    assert Token.objects.count() == len(tokens)
