"""The scope coverage page: who holds each scope (a count taken in the background), the
scopes the site asks for against what is held, and the characters missing one."""

import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from esi.clients import EsiClientProvider
from esi_dashboard.models import CoverageCount, ScopeCount
from esi_dashboard.tasks import count_scopes

from ..factories import ASSETS, MAIL, NOTIFICATIONS, make_token
from .conftest import SCOPES

#: The views of tests/urls.py and the scopes they ask for.
ONE = "tests.urls.one"
ONE_NEW = "tests.urls.one_new"
MANY = "tests.urls.many"
SINGLE = "tests.urls.single"


@pytest.fixture
def holders(emulator, db):
    """Ada holds notifications and mail (twice: two tokens), Bo notifications, Cy mail;
    Ada and Bo belong to one user, Cy to another, Di to nobody and holds assets."""
    first = User.objects.create_user("first")
    second = User.objects.create_user("second")
    make_token(emulator, 90000101, [NOTIFICATIONS, MAIL], user=first)
    make_token(emulator, 90000101, [MAIL], user=first)
    make_token(emulator, 90000102, [NOTIFICATIONS], user=first)
    make_token(emulator, 90000103, [MAIL], user=second)
    make_token(emulator, 90000104, [ASSETS])


def required_rows(response):
    return {row["name"]: row for row in response.context["required_table"].data}


class TestCount:
    def test_counts_tokens_characters_and_users_per_scope(self, holders):
        summary = count_scopes()
        assert summary["scopes"] == 3 and summary["tokens"] == 5
        count = CoverageCount.latest_count()
        assert (count.tokens, count.characters, count.users) == (5, 4, 2)
        rows = {row.scope: (row.tokens, row.characters, row.users) for row in count.scopes.all()}
        assert rows == {NOTIFICATIONS: (2, 2, 1), MAIL: (3, 2, 2), ASSETS: (1, 1, 0)}

    def test_a_new_count_replaces_the_last(self, holders):
        count_scopes()
        count_scopes()
        assert CoverageCount.objects.count() == 1
        assert ScopeCount.objects.count() == 3

    def test_the_page_counts_when_there_is_no_count(self, staff_client, holders):
        # django-q2 runs synchronously in the tests, so the count is there at once.
        response = staff_client.get(SCOPES)
        assert response.context["count"] is not None and response.context["recount_task"]
        rows = {row.record.scope: row.record.characters for row in response.context["table"].paginated_rows}
        assert rows == {NOTIFICATIONS: 2, MAIL: 2, ASSETS: 1}
        # Nobody asked for it: the page names the task, the session's panel does not.
        assert response.context["recount_task"] in response.content.decode()
        assert "esi:admin:tasks" not in staff_client.session

    def test_a_fresh_count_is_reused(self, staff_client, holders, django_assert_max_num_queries):
        count_scopes()
        before = CoverageCount.latest_count().pk
        with django_assert_max_num_queries(15):
            response = staff_client.get(SCOPES)
        assert response.context["recount_task"] is None
        assert CoverageCount.latest_count().pk == before

    def test_an_old_count_is_renewed(self, staff_client, holders, settings):
        """Older than the schedule's interval plus a minute: late, so the page queues one."""
        settings.ESI_DASHBOARD_COUNT_INTERVAL = 1
        count_scopes()
        CoverageCount.objects.update(counted_at=timezone.now() - datetime.timedelta(seconds=119))
        assert staff_client.get(SCOPES).context["recount_task"] is None
        CoverageCount.objects.update(counted_at=timezone.now() - datetime.timedelta(seconds=121))
        staff_client.get(SCOPES)
        assert CoverageCount.latest_count().counted_at > timezone.now() - datetime.timedelta(seconds=5)

    def test_count_now(self, staff_client, holders):
        response = staff_client.post(SCOPES.replace("scopes/", "count-scopes/"), follow=True)
        assert response.redirect_chain[-1][0] == SCOPES
        message = [str(m) for m in response.context["messages"]][0]
        task_id = staff_client.session["esi:admin:tasks"][0]["id"]
        assert message == f"Scope count queued as task {task_id}."
        assert "Counted 3 scope(s) over 5 token(s)" in response.content.decode()

    @pytest.mark.parametrize("sort", ["-characters", "characters", "-users", "scope", "-tokens"])
    def test_sorting_on_the_counts(self, staff_client, holders, sort):
        count_scopes()
        response = staff_client.get(SCOPES, {"sort": sort})
        records = [row.record for row in response.context["table"].paginated_rows]
        field = sort.lstrip("-")
        values = [getattr(r, field) for r in records]
        assert values == sorted(values, reverse=sort.startswith("-"))

    def test_no_count_yet_without_a_worker(self, staff_client, holders, monkeypatch):
        """With a real cluster the count waits for a worker: the page says so and does not
        queue a second one on the next view."""
        from django_q.conf import Conf

        monkeypatch.setattr(Conf, "SYNC", False)
        first = staff_client.get(SCOPES)
        second = staff_client.get(SCOPES)
        assert first.context["count"] is None
        assert "No count yet" in first.content.decode()
        assert second.context["recount_task"] == first.context["recount_task"]
        assert "late" not in second.content.decode()


class TestRequired:
    def test_decorated_views_register_their_scopes(self, staff_client, holders):
        rows = required_rows(staff_client.get(SCOPES))
        assert set(rows[NOTIFICATIONS]["sources"]) >= {ONE, ONE_NEW, MANY, SINGLE}
        assert rows[MAIL]["sources"] == [ONE_NEW]

    def test_held_and_missing(self, staff_client, holders):
        rows = required_rows(staff_client.get(SCOPES))
        # Four characters have tokens: Ada and Bo hold notifications, Ada and Cy mail.
        assert (rows[NOTIFICATIONS]["tokens"], rows[NOTIFICATIONS]["characters"], rows[NOTIFICATIONS]["missing"]) == (2, 2, 2)
        assert (rows[MAIL]["tokens"], rows[MAIL]["characters"], rows[MAIL]["missing"]) == (3, 2, 2)

    def test_settings_add_scopes(self, staff_client, holders, settings):
        settings.ESI_DASHBOARD_REQUIRED_SCOPES = {"corporation audit": "esi-wallet.read_corporation_wallets.v1 " + ASSETS}
        rows = required_rows(staff_client.get(SCOPES))
        wallet = rows["esi-wallet.read_corporation_wallets.v1"]
        assert wallet["sources"] == ["settings: corporation audit"]
        assert (wallet["tokens"], wallet["missing"]) == (0, 4)
        assert rows[ASSETS]["missing"] == 3

    def test_esi_calls_record_their_scopes(self, staff_client, emulator, holders):
        token = make_token(emulator, 90000105, ["esi-skills.read_skills.v1"])
        client = EsiClientProvider().client
        client.Skills.get_characters_character_id_skills(character_id=90000105, token=token).result()
        rows = required_rows(staff_client.get(SCOPES))
        assert rows["esi-skills.read_skills.v1"]["sources"] == ["ESI operation get_characters_character_id_skills"]

    def test_characters_missing_a_scope(self, staff_client, holders):
        response = staff_client.get(SCOPES, {"missing": MAIL})
        rows = [(r["character_id"], r["tokens"], r["users"]) for r in response.context["missing_table"].data]
        assert rows == [(90000102, 1, 1), (90000104, 1, 0)]
        body = response.content.decode()
        assert "Characters missing" in body and 'id="missing"' in body

    @pytest.mark.parametrize("scope", ["esi-nothing.v1", '<script>alert("x")</script>', "x" * 5000])
    def test_unknown_or_hostile_scope(self, staff_client, holders, scope):
        response = staff_client.get(SCOPES, {"missing": scope})
        assert response.status_code == 200
        assert response.context["unknown_scope"] and response.context["missing_table"] is None
        assert "<script>alert" not in response.content.decode()

    def test_missing_list_pages_and_sorts(self, staff_client, holders, settings):
        settings.ESI_DASHBOARD_PAGE_SIZE = 1
        response = staff_client.get(SCOPES, {"missing": MAIL, "missing-page": "2", "missing-sort": "-character_id"})
        assert [r.record["character_id"] for r in response.context["missing_table"].page.object_list] == [90000102]
        # The list is never counted: past its end is its first page.
        past = staff_client.get(SCOPES, {"missing": MAIL, "missing-page": "99", "missing-sort": "nope"})
        assert [r.record["character_id"] for r in past.context["missing_table"].page.object_list] == [90000102]
        assert "more on the next" in past.content.decode()
