"""Refreshes started from the admin: the token list's action "Refresh selected tokens" and
the health page's "Refresh expired tokens". Each enqueues a django-q2 task (run at once in
the tests' sync mode), says so with the task id, and the pages show what the task did."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Task

from esi.admin import TASKS_REMEMBERED, TASKS_SESSION_KEY, remember_task
from esi.models import Token

from ..factories import make_token
from .conftest import HEALTH, grant, set_state

TOKENS = "/admin/esi/token/"


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def task_ids(client):
    return [task["id"] for task in client.session.get(TASKS_SESSION_KEY, [])]


def act(client, *ids, action="refresh_selected"):
    return client.post(TOKENS, {"action": action, "_selected_action": [str(i) for i in ids]}, follow=True)


class TestRefreshSelected:
    def test_refreshes_the_selected_tokens_and_shows_the_outcome(self, staff_client, emulator):
        first = set_state(make_token(emulator, 90000301), expires_in=-60)
        second = make_token(emulator, 90000302)
        untouched = set_state(make_token(emulator, 90000303), expires_in=-60)
        response = act(staff_client, first.pk, second.pk)
        assert response.redirect_chain[-1][0] == TOKENS
        [task_id] = task_ids(staff_client)
        assert messages_of(response) == [f"Refresh of 2 selected tokens queued as task {task_id}."]
        body = response.content.decode()
        assert f'data-esi-task-url="{HEALTH}tasks/{task_id}/"' in body
        assert "2 token(s): 2 refreshed, 0 already fresh, 0 deleted" in body
        # Refreshed at EVE SSO (the emulator): new expiry, the other token left alone.
        first.refresh_from_db()
        untouched.refresh_from_db()
        assert not first.expired and first.last_refresh_ok is True
        assert untouched.expired and untouched.last_refresh_at is None

    def test_a_revoked_grant_is_deleted_and_said_so(self, staff_client, emulator, django_capture_on_commit_callbacks):
        token = make_token(emulator, 90000304)
        emulator.sso.revoke_all(90000304)
        with django_capture_on_commit_callbacks(execute=True):
            response = act(staff_client, token.pk)
        assert not Token.objects.filter(pk=token.pk).exists()
        assert "1 deleted (invalid_grant 1)" in response.content.decode()
        health = staff_client.get(HEALTH)
        assert health.context["deleted_total"] == 1

    def test_a_token_that_does_not_exist(self, staff_client, emulator):
        response = act(staff_client, 999999)
        assert messages_of(response) == ["None of the selected tokens exists: nothing was queued."]
        assert task_ids(staff_client) == []

    @pytest.mark.parametrize("value", ["abc", "1; DROP TABLE esi_token", "-1", "1.5", "", "9" * 30, "١"])
    def test_selections_that_are_not_ids(self, staff_client, emulator, value):
        token = make_token(emulator, 90000305)
        response = staff_client.post(TOKENS, {"action": "refresh_selected", "_selected_action": [str(token.pk), value]}, follow=True)
        assert response.status_code == 200
        assert messages_of(response) == ["The selection is not a list of token ids: nothing was done."]
        assert task_ids(staff_client) == [] and Token.objects.filter(pk=token.pk).exists()

    def test_huge_id(self, staff_client, emulator):
        response = act(staff_client, 9999999999)
        assert response.status_code == 200 and task_ids(staff_client) == []

    def test_needs_the_change_permission(self, client, emulator, db):
        viewer = grant(User.objects.create_user("viewer", is_staff=True), "esi.view_token")
        client.force_login(viewer)
        token = make_token(emulator, 90000306)
        assert "refresh_selected" not in client.get(TOKENS).content.decode()
        response = act(client, token.pk)
        assert task_ids(client) == []
        assert response.status_code == 200

    def test_get_does_not_run_actions(self, staff_client, emulator):
        token = make_token(emulator, 90000307)
        staff_client.get(TOKENS, {"action": "refresh_selected", "_selected_action": str(token.pk)})
        assert task_ids(staff_client) == []


class TestRefreshExpired:
    def test_refreshes_every_expired_token(self, staff_client, emulator, settings):
        settings.ESI_REFRESH_CONCURRENCY = 1
        expired = [set_state(make_token(emulator, 90000310 + i), expires_in=-60) for i in range(3)]
        fresh = make_token(emulator, 90000320)
        response = staff_client.post(HEALTH + "refresh-expired/", follow=True)
        assert response.redirect_chain[-1][0] == HEALTH
        [task_id] = task_ids(staff_client)
        assert messages_of(response) == [f"Refresh of expired tokens queued as task {task_id}."]
        assert "3 token(s): 3 refreshed" in response.content.decode()
        for token in expired:
            token.refresh_from_db()
            assert not token.expired
        assert Token.objects.get(pk=fresh.pk).last_refresh_at is None
        assert {state: n for state, _, n in response.context["states"]}["expired"] == 0


class TestTaskStatus:
    def status(self, client, task_id):
        return client.get(f"{HEALTH}tasks/{task_id}/")

    def test_own_task(self, staff_client, emulator):
        staff_client.post(HEALTH + "refresh-expired/")
        [task_id] = task_ids(staff_client)
        response = self.status(staff_client, task_id)
        assert response.status_code == 200
        data = response.json()
        assert data["id"] == task_id and data["state"] == "done" and data["label"] == "Refresh of expired tokens"
        assert data["summary"].startswith("0 token(s): 0 refreshed")
        assert data["stopped"]

    def test_a_pending_task(self, staff_client, emulator, monkeypatch):
        monkeypatch.setattr(Conf, "SYNC", False)
        staff_client.post(HEALTH + "refresh-expired/")
        [task_id] = task_ids(staff_client)
        assert self.status(staff_client, task_id).json()["state"] == "pending"
        page = staff_client.get(HEALTH).content.decode()
        assert 'data-esi-task-state="pending"' in page and "Waiting for a django-q2 worker" in page

    def test_a_failed_task(self, staff_client, emulator):
        # Sync mode re-raises a task's error; a cluster stores it as the failed task's
        # result, as here.
        task_id = "f" * 32
        Task.objects.create(
            id=task_id, name="bad-refresh", func="esi.tasks.refresh_tokens", started=timezone.now(),
            stopped=timezone.now(), success=False,
            result="Traceback (most recent call last):\n  ...\nValueError: token_ids must be a list of integers, not '1'",
        )
        session = staff_client.session
        session[TASKS_SESSION_KEY] = [{"id": task_id, "label": "A bad refresh", "queued_at": 0}]
        session.save()
        data = self.status(staff_client, task_id).json()
        assert data["state"] == "failed"
        assert data["summary"].startswith("Failed: ValueError: token_ids must be a list of integers")

    @pytest.mark.parametrize("task_id", ["a" * 32, "not-a-task", "A" * 32, "%00", "a" * 33])
    def test_tasks_of_no_one(self, staff_client, task_id):
        assert self.status(staff_client, task_id).status_code == 404

    def test_another_sessions_task_is_not_shown(self, staff_client, staff, emulator):
        staff_client.post(HEALTH + "refresh-expired/")
        [task_id] = task_ids(staff_client)
        other = Client()
        other.force_login(staff)
        assert self.status(other, task_id).status_code == 404
        assert task_id not in other.get(HEALTH).content.decode()

    def test_the_session_keeps_the_newest_tasks(self, staff_client, rf, staff):
        request = rf.get("/")
        request.session = staff_client.session
        for n in range(TASKS_REMEMBERED + 2):
            remember_task(request, f"{n:032x}", f"task {n}")
        kept = [task["id"] for task in request.session[TASKS_SESSION_KEY]]
        assert kept == [f"{n:032x}" for n in reversed(range(2, TASKS_REMEMBERED + 2))]

    def test_malformed_session_entries_are_skipped(self, staff_client):
        session = staff_client.session
        session[TASKS_SESSION_KEY] = ["x", {"id": 5}, {"id": "<script>"}, {"label": "no id"}]
        session.save()
        response = staff_client.get(HEALTH)
        assert response.status_code == 200
        assert not re.search(r"data-esi-task-state", response.content.decode())


def test_no_refresh_action_without_django_q(staff, rf, monkeypatch):
    from django.apps import apps
    from django.contrib import admin

    request = rf.get(TOKENS)
    request.user = staff
    token_admin = admin.site._registry[Token]
    assert "refresh_selected" in token_admin.get_actions(request)
    installed = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: name != "django_q" and installed(name))
    assert "refresh_selected" not in token_admin.get_actions(request)
