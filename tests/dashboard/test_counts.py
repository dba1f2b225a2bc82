"""The counts behind the token health and scope coverage pages: taken in the background
(the django-q2 schedule ``esi_dashboard:counts``), read by the pages, queued again by a page
whose count is late."""

import datetime

import pytest
from django.utils import timezone
from django_q.models import Schedule

from esi.models import Token
from esi_dashboard import metrics, queue, schedules
from esi_dashboard.models import CoverageCount, HealthCount
from esi_dashboard.tasks import count_all, count_tokens

from ..factories import make_token
from .conftest import HEALTH, set_state


def states(response):
    return {state: count for state, _, count in response.context["states"]}


class TestHealthCount:
    def test_the_count_holds_every_figure_of_the_page(self, tokens):
        summary = count_tokens()
        assert summary["total"] == 6 and summary["expired"] == 3 and summary["failing"] == 1
        count = HealthCount.latest_count()
        assert (count.valid, count.expiring, count.unrefreshable, count.backing_off) == (1, 1, 1, 1)
        assert sum(count.histogram) == 6 and len(count.histogram) == len(metrics.HISTOGRAM_BINS)
        assert count.errors == [["SSOUnavailableError: EVE SSO answered 502", 1]]
        assert metrics.overview_of(count) == metrics.health_overview(count.counted_at)

    def test_a_new_count_replaces_the_last(self, tokens):
        count_tokens()
        count_tokens()
        assert HealthCount.objects.count() == 1

    def test_the_page_reads_the_count_not_the_table(self, staff_client, tokens, emulator):
        count_tokens()
        make_token(emulator, 90000501)
        response = staff_client.get(HEALTH)
        assert response.context["overview"].total == 6 and response.context["recount_task"] is None
        # The table itself is read live.
        assert 90000501 in [row.record.character_id for row in response.context["table"].paginated_rows]
        body = response.content.decode()
        assert "esi_dashboard:counts" in body and "every 5 minutes" in body

    def test_a_late_count_is_taken_again(self, staff_client, tokens, emulator, settings):
        settings.ESI_DASHBOARD_COUNT_INTERVAL = 2
        count_tokens()
        make_token(emulator, 90000502)
        HealthCount.objects.update(counted_at=timezone.now() - datetime.timedelta(seconds=181))
        response = staff_client.get(HEALTH)
        # django-q2 runs synchronously in the tests: the new count is on the page at once.
        assert response.context["recount_task"] and response.context["overview"].total == 7
        body = response.content.decode()
        assert "Taken for this page" in body and "This count is late" not in body

    def test_a_late_count_without_a_worker_says_so(self, staff_client, tokens, monkeypatch, settings):
        from django_q.conf import Conf

        count_tokens()
        HealthCount.objects.update(counted_at=timezone.now() - datetime.timedelta(minutes=7))
        monkeypatch.setattr(Conf, "SYNC", False)
        response = staff_client.get(HEALTH)
        assert response.context["count_late"] and response.context["overview"].total == 6
        assert "This count is late" in response.content.decode()

    def test_no_count_yet_without_a_worker(self, staff_client, tokens, monkeypatch):
        from django_q.conf import Conf

        monkeypatch.setattr(Conf, "SYNC", False)
        first = staff_client.get(HEALTH)
        second = staff_client.get(HEALTH)
        assert first.context["count"] is None and set(states(first).values()) == {0}
        assert "No count yet" in first.content.decode()
        assert second.context["recount_task"] == first.context["recount_task"]

    def test_count_now(self, staff_client, tokens):
        response = staff_client.post(HEALTH + "count-tokens/", follow=True)
        assert response.redirect_chain[-1][0] == HEALTH
        task_id = staff_client.session["esi:admin:tasks"][0]["id"]
        assert [str(m) for m in response.context["messages"]] == [f"Token count queued as task {task_id}."]
        assert "Counted 6 token(s) by state" in response.content.decode()

    @pytest.mark.parametrize("method", ["get", "put", "delete"])
    def test_count_now_is_a_post(self, staff_client, method):
        assert getattr(staff_client, method)(HEALTH + "count-tokens/").status_code == 405

    def test_count_now_needs_the_permission(self, client, django_user_model):
        user = django_user_model.objects.create_user("nobody", is_staff=True)
        client.force_login(user)
        assert client.post(HEALTH + "count-tokens/").status_code == 403
        assert not HealthCount.objects.exists()

    def test_a_count_of_another_release_shows_empty_bins(self, tokens):
        count = HealthCount.take()
        count.histogram = [1, 2]
        overview = metrics.overview_of(count)
        assert [b.count for b in overview.histogram] == [0] * len(metrics.HISTOGRAM_BINS)
        assert overview.total == 6

    def test_the_schedule_runs_both_counts(self, tokens):
        summary = count_all()
        assert summary["tokens"]["total"] == 6 and summary["scopes"]["tokens"] == 6
        assert HealthCount.objects.count() == 1 and CoverageCount.objects.count() == 1


def test_only_count_tasks_are_requested():
    with pytest.raises(ValueError, match="not a count task"):
        queue.request_count("esi.tasks.cleanup_token")


class TestSchedule:
    def test_migrate_created_it(self, db):
        schedule = Schedule.objects.get(name=schedules.NAME)
        assert (schedule.func, schedule.minutes, schedule.repeats) == ("esi_dashboard.tasks.count_all", 5, -1)

    def test_idempotent_and_follows_the_setting(self, db, settings):
        assert schedules.ensure_schedule() == "unchanged"
        settings.ESI_DASHBOARD_COUNT_INTERVAL = 15
        assert schedules.ensure_schedule() == "updated"
        schedule = Schedule.objects.get(name=schedules.NAME)
        assert schedule.minutes == 15 and schedule.next_run.minute % 15 == 0
        assert schedules.ensure_schedule() == "unchanged"

    def test_created_again_and_duplicates_removed(self, db):
        Schedule.objects.filter(name=schedules.NAME).delete()
        assert schedules.ensure_schedule() == "created"
        Schedule.objects.create(name=schedules.NAME, func="x.y", schedule_type=Schedule.MINUTES, minutes=1)
        assert schedules.ensure_schedule() == "unchanged"
        assert Schedule.objects.filter(name=schedules.NAME).count() == 1

    @pytest.mark.parametrize("value", [0, "5", None, 1441])
    def test_a_bad_interval(self, db, settings, value):
        settings.ESI_DASHBOARD_COUNT_INTERVAL = value
        with pytest.raises(ValueError, match="ESI_DASHBOARD_COUNT_INTERVAL"):
            schedules.ensure_schedule()
        # After migrate it is left to the system check (esi_dashboard.E005).
        schedules.post_migrate_handler(sender=None)
        assert Schedule.objects.get(name=schedules.NAME).minutes == 5


def test_token_states_shift_with_time_between_counts(tokens):
    """Expiry states are relative to the count's moment."""
    token = set_state(tokens["valid"], expires_in=600)
    later = timezone.now() + datetime.timedelta(minutes=20)
    overview = metrics.health_overview(later)
    assert overview.states["valid"] == 0 and Token.objects.filter(pk=token.pk).exists()
