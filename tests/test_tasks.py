"""esi.tasks through django-q2 (sync mode, as configured in tests/settings.py)."""

import datetime
import time

import pytest
from django.db import DatabaseError
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from django_q.tasks import async_task, fetch

from esi import tasks
from esi.models import CallbackRedirect, Token
from esi.signals import token_deleted, token_refresh_failed, token_refreshed

from .factories import make_token


def run(func, *args):
    """Run a task through django-q2 (sync mode) and return its stored result."""
    task_id = async_task(func, *args)
    task = fetch(task_id)
    assert task.success, task.result
    return task.result


@pytest.fixture
def received(django_capture_on_commit_callbacks):
    """Signals received, in order; they are sent when the refresh's transaction commits,
    so ``events.commit()`` runs a block and then the on-commit callbacks."""
    events = Events()
    events.commit = lambda: django_capture_on_commit_callbacks(execute=True)

    def on_refreshed(sender, token, **kwargs):
        events.append(("refreshed", token.character_id))

    def on_deleted(sender, token, token_id, reason, **kwargs):
        events.append(("deleted", token_id, reason))

    def on_failed(sender, token, error, failures, **kwargs):
        events.append(("failed", token.pk, failures))

    token_refreshed.connect(on_refreshed)
    token_deleted.connect(on_deleted)
    token_refresh_failed.connect(on_failed)
    yield events
    token_refreshed.disconnect(on_refreshed)
    token_deleted.disconnect(on_deleted)
    token_refresh_failed.disconnect(on_failed)


class Events(list):
    commit = None


class TestCleanupCallbackRedirect:
    def test_deletes_old_ones_in_one_query(self, db, django_assert_num_queries):
        old = [CallbackRedirect.objects.create(session_key=f"old{i}", state="s") for i in range(5)]
        CallbackRedirect.objects.filter(pk__in=[c.pk for c in old]).update(
            created=timezone.now() - datetime.timedelta(seconds=600)
        )
        fresh = CallbackRedirect.objects.create(session_key="fresh", state="s")
        with django_assert_num_queries(1):
            assert tasks.cleanup_callbackredirect(300) == {"deleted": 5}
        assert list(CallbackRedirect.objects.all()) == [fresh]

    def test_through_django_q(self, db):
        CallbackRedirect.objects.create(session_key="k", state="s")
        assert run("esi.tasks.cleanup_callbackredirect", 0) == {"deleted": 1}

    @pytest.mark.parametrize("bad", [-1, "300", None, 1.5, True, "1; DROP TABLE esi_token"])
    def test_bad_max_age(self, db, bad):
        with pytest.raises(ValueError, match="max_age"):
            tasks.cleanup_callbackredirect(bad)


class TestCleanupToken:
    def test_refreshes_expired_tokens_only(self, emulator, received):
        fresh = make_token(emulator, 90000001)
        stale = make_token(emulator, 90000002, expired=True)
        with received.commit():
            result = run("esi.tasks.cleanup_token")
        assert result["total"] == 1 and result["refreshed"] == 1
        assert result["deleted"] == 0 and not result["breaker_tripped"]
        stale.refresh_from_db()
        assert not stale.expired and stale.last_refresh_ok and stale.refresh_failures == 0
        assert Token.objects.get(pk=fresh.pk).access_token == fresh.access_token
        assert received == [("refreshed", 90000002)]

    def test_invalid_grant_deletes_and_signals(self, emulator, received):
        stale = make_token(emulator, 90000002, expired=True)
        emulator.sso.revoke_all(90000002)
        with received.commit():
            result = run("esi.tasks.cleanup_token")
        assert result["deleted"] == 1 and result["deleted_by_reason"] == {"invalid_grant": 1}
        assert not Token.objects.filter(pk=stale.pk).exists()
        assert received == [("deleted", stale.pk, "invalid_grant")]

    def test_owner_change_deletes(self, emulator, received):
        stale = make_token(emulator, 90000002, expired=True)
        emulator.sso.transfer_character(90000002)
        with received.commit():
            result = tasks.cleanup_token()
        assert result["deleted_by_reason"] == {"owner_changed": 1}
        assert received == [("deleted", stale.pk, "owner_changed")]

    def test_tokens_without_refresh_token_are_kept(self, emulator):
        stale = make_token(emulator, 90000002, expired=True)
        Token.objects.filter(pk=stale.pk).update(refresh_token=None)
        assert tasks.cleanup_token()["total"] == 0
        assert Token.objects.filter(pk=stale.pk).exists()

    @pytest.mark.parametrize("fault", [{"status": 503}, {"status": 502}, {"drop": True}])
    def test_sso_outage_keeps_every_token_and_trips_the_breaker(self, emulator, settings, received, fault):
        tokens = [make_token(emulator, 90000001 + i, expired=True) for i in range(20)]
        emulator.faults.add("sso", **fault)
        with received.commit():
            result = tasks.cleanup_token()
        assert result["deleted"] == 0
        assert result["breaker_tripped"] is True and result["stop_reason"] == "breaker"
        assert result["kept"] == 5 and result["skipped"] == 15
        assert Token.objects.count() == len(tokens)
        failed = Token.objects.filter(refresh_failures=1)
        assert failed.count() == 5
        assert all(t.last_refresh_ok is False and t.last_refresh_error for t in failed)
        assert all(t.refresh_backoff_until > timezone.now() for t in failed)
        assert [e[0] for e in received] == ["failed"] * 5
        # One attempt per token in a run: no worker sleeps on retries while holding a lock.
        assert len([r for r in emulator.requests if r.path.endswith("/v2/oauth/token")]) == 5

    def test_throttling_stops_the_run_at_once(self, emulator, settings):
        settings.ESI_SSO_MAX_RETRY_AFTER = 0  # never wait: the run must stop, not sleep
        tokens = [make_token(emulator, 90000001 + i, expired=True) for i in range(20)]
        emulator.faults.add("sso:token", status=429, retry_after=60)
        started = time.monotonic()
        result = tasks.cleanup_token()
        assert time.monotonic() - started < 5
        assert result["stop_reason"] == "throttled" and result["breaker_tripped"] is True
        assert result["kept"] == 1 and result["skipped"] == 19 and result["deleted"] == 0
        assert Token.objects.count() == len(tokens)

    def test_an_outage_in_the_middle_of_a_run_trips_the_breaker(self, emulator, settings):
        """The breaker looks at the last ESI_REFRESH_BREAKER_WINDOW attempts, so forty
        successes before SSO fails do not let forty failures through."""
        settings.ESI_REFRESH_BREAKER_WINDOW = 10
        tokens = [make_token(emulator, 90000001 + i, expired=True) for i in range(80)]
        refreshed = []

        def sso_fails_after_forty(sender, instance, update_fields=None, **kwargs):
            if update_fields and "last_refresh_ok" in update_fields and instance.last_refresh_ok:
                refreshed.append(instance.pk)
                if len(refreshed) == 40:
                    emulator.faults.sso_outage(status=503)

        post_save.connect(sso_fails_after_forty, sender=Token)
        try:
            result = tasks.cleanup_token()
        finally:
            post_save.disconnect(sso_fails_after_forty, sender=Token)
        assert result["refreshed"] == 40
        # More than half of the last ten: six failures in a row.
        assert result["kept"] == 6 and result["stop_reason"] == "breaker"
        assert result["skipped"] == 80 - 46 and result["deleted"] == 0
        assert Token.objects.count() == len(tokens)

    def test_a_database_error_on_one_token_does_not_stop_the_run(self, emulator, caplog):
        tokens = [make_token(emulator, 90000001 + i, expired=True) for i in range(3)]

        def fail_for_the_second(sender, instance, update_fields=None, **kwargs):
            if instance.pk == tokens[1].pk and update_fields and "access_token" in update_fields:
                raise DatabaseError("disk full")

        pre_save.connect(fail_for_the_second, sender=Token)
        try:
            result = tasks.cleanup_token()
        finally:
            pre_save.disconnect(fail_for_the_second, sender=Token)
        assert result["refreshed"] == 2 and result["kept"] == 1 and result["deleted"] == 0
        assert "Could not refresh token" in caplog.text
        assert Token.objects.count() == 3

    def test_time_limit_skips_the_rest(self, emulator, settings):
        [make_token(emulator, 90000001 + i, expired=True) for i in range(6)]
        emulator.faults.add("sso:token", latency=0.2)
        settings.ESI_REFRESH_TIME_LIMIT = 0.3
        result = tasks.cleanup_token()
        assert result["stop_reason"] == "time_limit" and not result["breaker_tripped"]
        assert 1 <= result["refreshed"] <= 3 and result["refreshed"] + result["skipped"] == 6

    def test_time_limit_defaults_to_four_fifths_of_the_task_timeout(self, settings):
        from esi.refresh import _default_time_limit

        settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 300}
        assert _default_time_limit() == 240
        settings.ESI_REFRESH_TIME_LIMIT = 0
        assert _default_time_limit() is None
        settings.ESI_REFRESH_TIME_LIMIT = 50
        assert _default_time_limit() == 50
        settings.ESI_REFRESH_TIME_LIMIT = None
        settings.Q_CLUSTER = {k: v for k, v in settings.Q_CLUSTER.items() if k != "timeout"}
        assert _default_time_limit() is None

    def test_backed_off_tokens_wait(self, emulator, settings):
        settings.ESI_SSO_WAIT_EXPONENT = 0
        token = make_token(emulator, 90000001, expired=True)
        emulator.faults.add("sso:token", status=503, times=1)
        assert tasks.cleanup_token()["kept"] == 1
        assert tasks.cleanup_token()["total"] == 0  # backing off
        Token.objects.filter(pk=token.pk).update(refresh_backoff_until=timezone.now())
        assert tasks.cleanup_token()["refreshed"] == 1
        token.refresh_from_db()
        assert token.refresh_failures == 0 and token.refresh_backoff_until is None

    def test_back_off_grows_and_is_capped(self, emulator, settings):
        from esi.refresh import _backoff

        assert _backoff(1).total_seconds() == 60
        assert _backoff(3).total_seconds() == 240
        assert _backoff(50).total_seconds() == 6 * 3600
        # Years of failures never overflow the doubling.
        assert _backoff(100_000).total_seconds() == 6 * 3600
        settings.ESI_REFRESH_BACKOFF_MAX = 10**12
        assert _backoff(100_000).total_seconds() == 60 * 2**30

    def test_queries_per_token_are_constant(self, emulator, django_assert_max_num_queries):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        counts = []
        for n in (3, 9):
            Token.objects.all().delete()
            for i in range(n):
                make_token(emulator, 90000001 + i, expired=True)
            with CaptureQueriesContext(connection) as queries:
                assert tasks.cleanup_token()["refreshed"] == n
            counts.append(len(queries))
        per_token = (counts[1] - counts[0]) / 6
        # Lock (SELECT ... FOR UPDATE, or on SQLite a write then a read), save the new
        # tokens, the savepoint around them (here, inside the test's transaction), then
        # save the verified expiry and the outcome.
        assert per_token == int(per_token) and per_token <= 6
        assert counts[0] - 3 * per_token <= 2  # the candidate query, nothing per token


class TestCleanupTokenSubset:
    def test_successive_runs_cover_every_token(self, emulator, settings):
        settings.ESI_CLEANUP_SUBSET_FRACTION = 4
        tokens = [make_token(emulator, 90000001 + i, expired=True) for i in range(10)]
        seen = set()
        for _ in range(4):
            result = run("esi.tasks.cleanup_token_subset")
            assert result["total"] <= 3
            seen |= set(Token.objects.filter(last_refresh_ok=True).values_list("pk", flat=True))
            Token.objects.update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
        assert seen == {t.pk for t in tokens}

    def test_failing_tokens_do_not_block_the_others(self, emulator, settings):
        settings.ESI_SSO_WAIT_EXPONENT = 0
        settings.ESI_SSO_MAX_RETRIES = 1
        settings.ESI_REFRESH_BACKOFF_BASE = 0  # retry at once: only the ordering matters here
        tokens = [make_token(emulator, 90000001 + i, expired=True) for i in range(4)]
        emulator.faults.add("sso:token", status=503, times=2)
        first = tasks.cleanup_token_subset(fraction=2)
        second = tasks.cleanup_token_subset(fraction=2)
        assert first["kept"] == 2 and second["refreshed"] == 2
        refreshed = set(Token.objects.filter(last_refresh_ok=True).values_list("pk", flat=True))
        assert len(refreshed) == 2 and refreshed != {tokens[0].pk, tokens[1].pk}

    @pytest.mark.parametrize("bad", [0, -3, "48", 2.5, True])
    def test_bad_fraction(self, db, bad):
        with pytest.raises(ValueError, match="fraction"):
            tasks.cleanup_token_subset(bad)


class TestRefreshTokens:
    def test_refreshes_even_fresh_tokens(self, emulator):
        token = make_token(emulator, 90000001)
        result = run("esi.tasks.refresh_tokens", [token.pk, token.pk, 999999])
        assert result["total"] == 2 and result["refreshed"] == 1 and result["missing"] == 1
        assert Token.objects.get(pk=token.pk).access_token != token.access_token

    @pytest.mark.parametrize("bad", [None, "1,2", [1, "2"], [1.0], [True], {"1": 1}, 5])
    def test_bad_input(self, db, bad):
        with pytest.raises(ValueError, match="token_ids"):
            tasks.refresh_tokens(bad)

    def test_bad_input_through_django_q_is_a_clear_error(self, db):
        # django-q2's sync mode re-raises what the task raised; a cluster stores it as
        # the failed task's result.
        with pytest.raises(ValueError, match="token_ids must be a list of integers"):
            async_task("esi.tasks.refresh_tokens", "not a list")

    def test_a_token_without_refresh_token_is_kept(self, emulator):
        token = make_token(emulator, 90000001, expired=True)
        Token.objects.filter(pk=token.pk).update(refresh_token="")
        result = run("esi.tasks.refresh_tokens", [token.pk])
        assert result["not_refreshable"] == 1 and result["deleted"] == 0
        assert Token.objects.filter(pk=token.pk).exists()
        assert run("esi.tasks.refresh_or_delete_token", token.pk)["not_refreshable"] == 1
        assert Token.objects.filter(pk=token.pk).exists()
