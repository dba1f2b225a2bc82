"""The rotated refresh token survives what would otherwise lose it: a caller's transaction
that rolls back after the refresh, a failed row write, and a JWT that cannot be verified
yet. The emulator rotates refresh tokens and rejects a spent one with ``invalid_grant``,
as CCP allows EVE SSO to do."""

import pytest
from django.core.cache import caches
from django.db import DatabaseError, transaction
from django.db.models.signals import pre_save

from esi import tasks
from esi.errors import SSOUnavailableError, TokenInvalidError
from esi.models import Token
from esi.refresh import Outcome, _digest, _journal_key, refresh_one

from .factories import make_token


class Rollback(Exception):
    pass


@pytest.mark.parametrize("rollbacks", [1, 2, 3])
def test_rolled_back_caller_transactions_do_not_lose_the_token(emulator, caplog, rollbacks):
    """A refresh inside a transaction that then rolls back (``ATOMIC_REQUESTS``, a view that
    fails), once or several times in a row: each spends the refresh token the one before it
    recovered from the journal, which keeps the whole chain, not one hop (two in a row used
    to delete a live token)."""
    token = make_token(emulator, expired=True)
    spent = token.refresh_token
    for _ in range(rollbacks):
        with pytest.raises(Rollback), transaction.atomic():
            current = Token.objects.get(pk=token.pk)
            current.refresh()
            assert current.refresh_token != spent
            raise Rollback
    stored = Token.objects.get(pk=token.pk)
    assert stored.refresh_token == spent and stored.expired  # every row write was rolled back
    # SSO has rotated the grant: the stored refresh token is dead, but the journal leads on.
    stored.refresh()
    assert not stored.expired and Token.objects.filter(pk=token.pk).exists()
    assert "using the journal's" in caplog.text
    assert emulator.sso.stats["refreshes"] == rollbacks + 1
    # Each refresh first met the stored, spent refresh token; what is stored now is live.
    assert emulator.sso.stats["refresh_failures"] == rollbacks
    Token.objects.get(pk=token.pk).refresh()
    assert emulator.sso.stats["refresh_failures"] == rollbacks


def test_an_entry_of_the_earlier_journal_format_is_read(emulator):
    """``{"spent": digest, "new": token}``, as journals written before the chain hold it."""
    token = make_token(emulator, expired=True)
    spent = token.refresh_token
    with pytest.raises(Rollback), transaction.atomic():
        token.refresh()
        newer = token.refresh_token
        raise Rollback
    caches["default"].set(_journal_key(token.pk), {"spent": _digest(spent), "new": newer})
    Token.objects.get(pk=token.pk).refresh()
    assert Token.objects.get(pk=token.pk).refresh_token not in (spent, newer)


def test_the_chain_stays_bounded(emulator, monkeypatch):
    from esi import refresh

    monkeypatch.setattr(refresh, "_JOURNAL_HOPS", 3)
    token = make_token(emulator, expired=True)
    spent = token.refresh_token
    for _ in range(5):
        with pytest.raises(Rollback), transaction.atomic():
            Token.objects.get(pk=token.pk).refresh()
            raise Rollback
    entry = caches["default"].get(_journal_key(token.pk))
    assert len(entry["spent"]) == 3 and entry["spent"][0] == _digest(spent)  # the row's, kept
    Token.objects.get(pk=token.pk).refresh()
    assert Token.objects.filter(pk=token.pk).exists()


def test_a_failed_row_write_is_recovered_by_the_next_run(emulator):
    token = make_token(emulator, expired=True)
    spent = token.refresh_token

    def disk_full(sender, instance, update_fields=None, **kwargs):
        if update_fields and "refresh_token" in update_fields and instance.refresh_token != spent:
            raise DatabaseError("disk full")

    pre_save.connect(disk_full, sender=Token)
    try:
        first = tasks.cleanup_token()
    finally:
        pre_save.disconnect(disk_full, sender=Token)
    assert first["kept"] == 1 and first["refreshed"] == 0
    assert Token.objects.get(pk=token.pk).refresh_token == spent
    second = tasks.cleanup_token()
    assert second["refreshed"] == 1 and second["deleted"] == 0
    stored = Token.objects.get(pk=token.pk)
    assert stored.refresh_token != spent and not stored.expired


def test_the_journal_is_cleared_once_the_row_commits(emulator, django_capture_on_commit_callbacks):
    token = make_token(emulator, expired=True)
    journal = caches["default"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert refresh_one(token.pk).outcome is Outcome.REFRESHED
    assert journal.get(_journal_key(token.pk)) is not None  # not committed yet
    for callback in callbacks:
        callback()
    assert journal.get(_journal_key(token.pk)) is None


def test_a_journal_entry_for_another_refresh_token_is_ignored(emulator):
    """A revoked grant is still deleted: the journal only answers for the exact refresh
    token it saw spent."""
    token = make_token(emulator, expired=True)
    caches["default"].set(_journal_key(token.pk), {"spent": "0" * 64, "new": "stale"})
    emulator.sso.revoke_all(token.character_id)
    result = refresh_one(token.pk)
    assert result.outcome is Outcome.DELETED and result.reason == "invalid_grant"


@pytest.mark.parametrize(
    "junk", [None, "text", {"spent": 1}, {"new": 5}, ["x"], {"spent": [], "new": "x"}, {"spent": [1, None], "new": "x"}]
)
def test_malformed_journal_entries_are_ignored(emulator, junk):
    token = make_token(emulator, expired=True)
    caches["default"].set(_journal_key(token.pk), junk)
    emulator.sso.revoke_all(token.character_id)
    assert refresh_one(token.pk).outcome is Outcome.DELETED


def test_a_broken_journal_cache_does_not_stop_refreshes(emulator, settings, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "broken": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    settings.ESI_REFRESH_JOURNAL_CACHE_ALIAS = "broken"
    token = make_token(emulator, expired=True)
    assert refresh_one(token.pk).outcome is Outcome.REFRESHED
    assert "Could not write the refresh journal" in caplog.text


def test_an_unverifiable_jwt_keeps_the_new_refresh_token(emulator, settings):
    """SSO answered, but its key set cannot be fetched: the rotated refresh token is kept,
    the unverified access token is not used, and the next refresh succeeds."""
    token = make_token(emulator, expired=True)
    spent = token.refresh_token
    caches["default"].delete("esi:sso:jwks")  # forget the key set
    outage = emulator.faults.add("sso:jwks", status=503)
    result = refresh_one(token.pk)
    emulator.faults.remove(outage)
    assert result.outcome is Outcome.KEPT and isinstance(result.error, SSOUnavailableError)
    stored = Token.objects.get(pk=token.pk)
    assert stored.refresh_token != spent and stored.expired
    assert stored.refresh_failures == 1 and stored.last_refresh_ok is False
    assert refresh_one(token.pk, force=True).outcome is Outcome.REFRESHED
    assert emulator.sso.stats["refresh_failures"] == 0


def test_a_waiting_worker_uses_the_new_access_token(emulator):
    """A worker that gets the lock after a refresh finds the token fresh and does not
    spend it again."""
    token = make_token(emulator, expired=True)
    assert refresh_one(token.pk).outcome is Outcome.REFRESHED
    second = refresh_one(token.pk)
    assert second.outcome is Outcome.FRESH
    assert emulator.sso.stats["refreshes"] == 1


def test_the_owner_change_found_after_the_commit_deletes(emulator):
    token = make_token(emulator, expired=True)
    emulator.sso.transfer_character(token.character_id)
    old_access = token.access_token
    with pytest.raises(TokenInvalidError):
        token.refresh()
    # refresh() never deletes, and the new owner's tokens are neither stored nor handed out.
    assert token.access_token == old_access
    assert Token.objects.get(pk=token.pk).access_token == old_access
    assert refresh_one(token.pk, force=True).outcome is Outcome.DELETED
    assert not Token.objects.filter(pk=token.pk).exists()
