"""TokenDeletion: written when the refresh engine deletes a token, pruned after a week."""

import datetime
import logging

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from esi.models import Token
from esi.refresh import refresh_one
from esi.signals import token_deleted
from esi_dashboard.models import TokenDeletion

from ..factories import make_token
from .conftest import set_state


def test_a_deletion_is_recorded_after_the_commit(emulator, django_capture_on_commit_callbacks):
    owner = User.objects.create_user("owner")
    token = set_state(make_token(emulator, 90000401, user=owner), expires_in=-60)
    emulator.sso.revoke_all(90000401)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        refresh_one(token.pk)
    assert not TokenDeletion.objects.exists()  # nothing before the commit
    for callback in callbacks:
        callback()
    deletion = TokenDeletion.objects.get()
    assert (deletion.token_id, deletion.character_id, deletion.character_name) == (
        token.pk, 90000401, token.character_name
    )
    assert deletion.user == owner and deletion.reason == "invalid_grant"
    assert timezone.now() - deletion.deleted_at < datetime.timedelta(seconds=5)


def test_an_owner_change_is_recorded(emulator, django_capture_on_commit_callbacks):
    token = make_token(emulator, 90000402)
    emulator.sso.transfer_character(90000402)
    with django_capture_on_commit_callbacks(execute=True):
        Token.objects.filter(pk=token.pk).bulk_refresh()
    assert TokenDeletion.objects.get().reason == "owner_changed"


def test_old_rows_are_pruned_while_writing(emulator, monkeypatch):
    old = TokenDeletion.objects.create(
        token_id=1, character_id=1, character_name="Old", reason="invalid_grant",
        deleted_at=timezone.now() - TokenDeletion.RETENTION - datetime.timedelta(minutes=1),
    )
    recent = TokenDeletion.objects.create(
        token_id=2, character_id=2, character_name="Recent", reason="invalid_grant",
        deleted_at=timezone.now() - TokenDeletion.RETENTION + datetime.timedelta(minutes=1),
    )
    monkeypatch.setattr(TokenDeletion, "_pruned_at", -float("inf"))
    token = make_token(emulator, 90000403)
    Token.objects.filter(pk=token.pk).delete()
    token_deleted.send(Token, token=token, token_id=token.pk, reason="invalid_token")
    assert set(TokenDeletion.objects.values_list("pk", flat=True)) == {recent.pk, TokenDeletion.objects.latest("pk").pk}
    assert not TokenDeletion.objects.filter(pk=old.pk).exists()


def test_pruning_runs_at_most_every_ten_minutes(emulator, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(TokenDeletion, "_pruned_at", -float("inf"))
    token = make_token(emulator, 90000404)
    with django_assert_num_queries(2):  # insert + prune
        TokenDeletion.record(token, 1, "invalid_grant")
    with django_assert_num_queries(1):  # insert only
        TokenDeletion.record(token, 2, "invalid_grant")


def test_a_failure_to_record_is_logged_not_raised(emulator, monkeypatch, caplog):
    token = make_token(emulator, 90000405)

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(TokenDeletion, "record", broken)
    with caplog.at_level(logging.ERROR, logger="esi_dashboard.receivers"):
        token_deleted.send(Token, token=token, token_id=token.pk, reason="invalid_grant")
    assert "Could not record the deletion" in caplog.text


@pytest.mark.parametrize("reason", ["x" * 80, "<b>owner_changed</b>"])
def test_odd_reasons_are_stored_safely(emulator, reason):
    token = make_token(emulator, 90000406)
    TokenDeletion.record(token, token.pk, reason)
    assert TokenDeletion.objects.get().reason == reason[:50]


def test_a_count_keeps_newer_ones(db):
    from esi_dashboard.models import CoverageCount

    newer = CoverageCount.objects.create(counted_at=timezone.now() + datetime.timedelta(seconds=5))
    older = CoverageCount.objects.create(counted_at=timezone.now() - datetime.timedelta(minutes=5))
    taken = CoverageCount.take()
    assert set(CoverageCount.objects.values_list("pk", flat=True)) == {newer.pk, taken.pk}
    assert not CoverageCount.objects.filter(pk=older.pk).exists()
    assert CoverageCount.latest_count() == newer
    assert str(taken).startswith("scope count of ")


def test_str(emulator):
    token = make_token(emulator, 90000407)
    deletion = TokenDeletion.record(token, token.pk, "invalid_grant")
    assert str(deletion).startswith(f"{token.character_name} (invalid_grant, ")
