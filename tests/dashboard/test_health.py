"""The token health page: counts, histogram, failing errors, deletions and the token table
with its filters, sorting, pages and CSV export, including input that does not fit."""

import csv
import datetime
import io

import pytest
from django.utils import timezone

from esi.models import Scope, Token
from esi_dashboard import metrics
from esi_dashboard.models import TokenDeletion
from esi_dashboard.tables import MAX_PER_PAGE
from esi_dashboard.tasks import count_tokens

from ..factories import MAIL, NOTIFICATIONS, make_token
from .conftest import CSV, HEALTH, set_state


def states(response):
    return {state: count for state, _, count in response.context["states"]}


def listed(response):
    """Character IDs in the page's token table, in order."""
    return [row.record.character_id for row in response.context["table"].paginated_rows]


class TestCounts:
    def test_each_state_is_counted(self, staff_client, tokens):
        response = staff_client.get(HEALTH)
        assert response.status_code == 200
        # The legacy row expired two days ago (created + ESI_TOKEN_VALID_DURATION).
        assert states(response) == {"valid": 1, "expiring": 1, "expired": 3, "unrefreshable": 1, "failing": 1}
        overview = response.context["overview"]
        assert overview.total == 6
        assert overview.backing_off == 1
        body = response.content.decode()
        assert "Failing refresh" in body and "SSOUnavailableError: EVE SSO answered 502" in body

    def test_the_expiry_states_partition_the_tokens(self, tokens):
        overview = metrics.health_overview()
        expiry = [metrics.State.VALID, metrics.State.EXPIRING, metrics.State.EXPIRED, metrics.State.UNREFRESHABLE]
        assert sum(overview.states[state] for state in expiry) == overview.total == Token.objects.count()
        assert sum(b.count for b in overview.histogram) == overview.total

    def test_histogram_bins(self, tokens):
        bins = {b.label: b.count for b in metrics.health_overview().histogram}
        assert bins["15-20 min"] == 0 and bins["10-15 min"] == 1  # valid: 15 min left, minus test time
        assert bins["< 5 min"] == 1  # expiring
        assert bins["< 1 h ago"] == 2  # the unrefreshable and the failing token
        assert bins["1-24 h ago"] == 1  # expired an hour ago
        assert bins["1-7 d ago"] == 1  # the legacy row

    def test_state_filter_and_table_column_agree(self, tokens):
        now = timezone.now()
        for state, _ in metrics.State.CHOICES:
            in_sql = set(Token.objects.filter(metrics.state_filter(state, now)).values_list("pk", flat=True))
            in_python = set()
            for token in Token.objects.all():
                if state != metrics.State.FAILING:
                    # The column shows "failing" first; the expiry filters still match that token.
                    token.refresh_backoff_until = None
                if metrics.token_state(token, now) == state:
                    in_python.add(token.pk)
            assert in_sql == in_python, state

    def test_a_failed_refresh_makes_a_token_failing(self, staff_client, emulator, django_capture_on_commit_callbacks):
        """Through the real refresh engine: EVE SSO answers 502, the token is kept."""
        token = set_state(make_token(emulator, 90000011), expires_in=-60)
        emulator.faults.add("sso:token", status=502)
        with django_capture_on_commit_callbacks(execute=True):
            Token.objects.filter(pk=token.pk).bulk_refresh()
        response = staff_client.get(HEALTH)
        assert states(response)["failing"] == 1
        errors = [row["what"] for row in response.context["errors_table"].data]
        assert len(errors) == 1 and errors[0].startswith("SSOUnavailableError")

    def test_deletions_of_the_last_24_hours_by_reason(self, staff_client, emulator, django_capture_on_commit_callbacks):
        """Through the real refresh engine: EVE SSO says the grant is gone."""
        for character in (90000021, 90000022):
            set_state(make_token(emulator, character), expires_in=-60)
            emulator.sso.revoke_all(character)
        with django_capture_on_commit_callbacks(execute=True):
            Token.objects.all().bulk_refresh()
        assert Token.objects.count() == 0
        TokenDeletion.objects.create(
            token_id=1, character_id=1, character_name="Old", reason="owner_changed",
            deleted_at=timezone.now() - datetime.timedelta(hours=30),
        )
        response = staff_client.get(HEALTH)
        assert response.context["deleted_total"] == 2
        assert [(row["what"], row["tokens"]) for row in response.context["deletions_table"].data] == [("invalid_grant", 2)]

    def test_no_tokens(self, staff_client):
        response = staff_client.get(HEALTH)
        assert set(states(response).values()) == {0}
        assert "No token matches." in response.content.decode()


class TestTable:
    def test_columns(self, staff_client, tokens):
        body = staff_client.get(HEALTH + "?character=90000001").content.decode()
        token = tokens["valid"]
        assert f'href="/admin/esi/token/{token.pk}/change/"' in body
        assert token.character_name in body and "staff" in body and NOTIFICATIONS in body
        assert "Expiring within 5 minutes" not in body.split('id="esi-token-table"')[1]
        assert token.access_token not in body and token.refresh_token not in body

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"user": "staff"}, ["valid"]),
            ({"user": "{staff_id}"}, ["valid"]),
            ({"character": "90000002"}, ["expiring"]),
            ({"character": "{expiring_name}"}, ["expiring"]),
            ({"scope": NOTIFICATIONS}, ["valid", "expiring"]),
            ({"scope": MAIL}, ["expiring", "unrefreshable", "failing"]),
            ({"state": "valid"}, ["valid"]),
            ({"state": "expiring"}, ["expiring"]),
            ({"state": "expired"}, ["expired", "failing", "legacy"]),
            ({"state": "unrefreshable"}, ["unrefreshable"]),
            ({"state": "failing"}, ["failing"]),
            ({"state": "expired", "scope": NOTIFICATIONS}, []),
        ],
    )
    def test_filters(self, staff_client, tokens, staff, query, expected):
        names = {"staff_id": staff.pk, "expiring_name": tokens["expiring"].character_name.upper()}
        query = {key: value.format(**names) for key, value in query.items()}
        response = staff_client.get(HEALTH, query)
        assert response.status_code == 200
        assert sorted(listed(response)) == sorted(tokens[name].character_id for name in expected)

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"state": "bogus"}, "state"),
            ({"scope": "esi-nothing.v1"}, "scope"),
            ({"character": "x" * 101}, "character"),
            ({"user": "nul\x00byte"}, "user"),
        ],
    )
    def test_bad_filter_values_are_reported_and_ignored(self, staff_client, tokens, query, field):
        response = staff_client.get(HEALTH, query)
        assert response.status_code == 200
        assert field in response.context["filter_form"].errors
        assert len(listed(response)) == len(tokens)

    def test_unknown_parameters_are_ignored(self, staff_client, tokens):
        response = staff_client.get(HEALTH, {"colour": "blue", "sort": "access_token", "page": "1"})
        assert response.status_code == 200 and len(listed(response)) == len(tokens)

    def test_hostile_strings_are_escaped(self, staff_client, tokens):
        hostile = '"><script>alert(1)</script>'
        Token.objects.filter(pk=tokens["failing"].pk).update(
            character_name=hostile, last_refresh_error=hostile
        )
        response = staff_client.get(HEALTH, {"user": hostile, "character": hostile[:20]})
        body = response.content.decode()
        assert response.status_code == 200
        assert "<script>alert(1)</script>" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        everything = staff_client.get(HEALTH).content.decode()
        assert "<script>alert(1)" not in everything and "&lt;script&gt;alert(1)" in everything

    def test_huge_ids_do_not_reach_the_database(self, staff_client, tokens):
        response = staff_client.get(HEALTH, {"user": "9" * 30, "character": "9" * 30})
        assert response.status_code == 200 and listed(response) == []

    @pytest.mark.parametrize(
        ("sort", "first"),
        [("character_id", "valid"), ("-character_id", "legacy"), ("-refresh_failures", "failing"), ("expires", "legacy")],
    )
    def test_sorting(self, staff_client, tokens, sort, first):
        response = staff_client.get(HEALTH, {"sort": sort})
        assert listed(response)[0] == tokens[first].character_id

    @pytest.mark.parametrize("sort", ["bogus", "-", "scopes", "state", "character_id,bogus", "'; DROP TABLE esi_token"])
    def test_sorting_by_what_cannot_be_sorted_keeps_the_default(self, staff_client, tokens, sort):
        response = staff_client.get(HEALTH, {"sort": sort})
        assert response.status_code == 200
        assert len(listed(response)) == len(tokens)
        assert Token.objects.count() == len(tokens)

    def test_pages(self, staff_client, tokens, settings):
        settings.ESI_DASHBOARD_PAGE_SIZE = 4
        first = staff_client.get(HEALTH, {"sort": "character_id"})
        second = staff_client.get(HEALTH, {"sort": "character_id", "page": "2"})
        assert len(listed(first)) == 4 and len(listed(second)) == 2
        assert set(listed(first)).isdisjoint(listed(second))
        assert 'rel="next"' in first.content.decode()

    @pytest.mark.parametrize(("page", "shown"), [("999", 4), ("-1", 4), ("abc", 4), ("", 4), ("1e3", 4), ("2", 2)])
    def test_page_numbers_out_of_range(self, staff_client, tokens, settings, page, shown):
        # The table is never counted (no COUNT(*) of a large table): a page past the end,
        # below the first or not a number shows the first page.
        settings.ESI_DASHBOARD_PAGE_SIZE = 4
        response = staff_client.get(HEALTH, {"page": page})
        assert response.status_code == 200 and len(listed(response)) == shown

    @pytest.mark.parametrize(("per_page", "size"), [("2", 2), ("0", 4), ("-3", 4), ("x", 4), ("99999999", MAX_PER_PAGE)])
    def test_per_page_is_bounded(self, staff_client, tokens, settings, per_page, size):
        settings.ESI_DASHBOARD_PAGE_SIZE = 4
        response = staff_client.get(HEALTH, {"per_page": per_page})
        assert response.status_code == 200
        assert response.context["table"].paginator.per_page == size


class TestCsvExport:
    def rows(self, response):
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith('attachment; filename="esi-tokens-')
        return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    def test_every_matching_token_in_table_order(self, staff_client, tokens, settings):
        settings.ESI_DASHBOARD_PAGE_SIZE = 2  # the export is not paginated
        rows = self.rows(staff_client.get(CSV, {"sort": "-character_id", "page": "2"}))
        assert [int(r["character_id"]) for r in rows] == sorted((t.character_id for t in tokens.values()), reverse=True)
        by_character = {int(r["character_id"]): r for r in rows}
        valid = by_character[tokens["valid"].character_id]
        assert valid["user"] == "staff" and valid["scopes"] == NOTIFICATIONS and valid["state"] == "valid"
        failing = by_character[tokens["failing"].character_id]
        assert failing["state"] == "failing" and failing["last_refresh_ok"] == "false"
        assert failing["last_refresh_error"] == "SSOUnavailableError: EVE SSO answered 502"
        assert by_character[tokens["unrefreshable"].character_id]["state"] == "unrefreshable"
        legacy = by_character[tokens["legacy"].character_id]
        assert datetime.datetime.fromisoformat(legacy["expires"]) == tokens["legacy"].expires

    def test_filters_apply(self, staff_client, tokens):
        rows = self.rows(staff_client.get(CSV, {"state": "failing"}))
        assert [int(r["character_id"]) for r in rows] == [tokens["failing"].character_id]

    def test_scopes_are_space_separated(self, staff_client, emulator):
        make_token(emulator, 90000031, [NOTIFICATIONS, MAIL])
        rows = self.rows(staff_client.get(CSV))
        assert rows[0]["scopes"].split() == sorted([NOTIFICATIONS, MAIL])

    def test_cells_are_not_spreadsheet_formulas(self, staff_client, tokens):
        Token.objects.filter(pk=tokens["failing"].pk).update(last_refresh_error='=HYPERLINK("http://x")')
        rows = self.rows(staff_client.get(CSV, {"state": "failing"}))
        assert rows[0]["last_refresh_error"] == "'=HYPERLINK(\"http://x\")"


class TestQueries:
    def test_a_page_costs_the_same_queries_for_many_tokens(
        self, staff_client, staff, tokens, django_assert_max_num_queries
    ):
        """No query per row: 600 more tokens with four scopes each add none, and the counts
        come from the last count, not the table (issue 12: at most 10 queries)."""
        count_tokens()
        with django_assert_max_num_queries(10) as few:
            staff_client.get(HEALTH)
        scopes = Scope.get_or_create_many([f"esi-test.scope_{i}.v1" for i in range(4)])
        new = Token.objects.bulk_create(
            [
                Token(character_id=95000000 + i, character_name=f"Bulk {i}", character_owner_hash=f"h{i}",
                      access_token="a", refresh_token="r", expires_at=timezone.now(), user=staff)
                for i in range(600)
            ]
        )
        Token.scopes.through.objects.bulk_create(
            [Token.scopes.through(token_id=t.pk, scope_id=s.pk) for t in new for s in scopes]
        )
        with django_assert_max_num_queries(10) as many:
            response = staff_client.get(HEALTH, {"per_page": "200"})
        assert len(listed(response)) == 200
        assert len(many.captured_queries) == len(few.captured_queries)

    def test_csv_export_reads_in_chunks(self, staff_client, db, django_assert_max_num_queries):
        Token.objects.bulk_create(
            [
                Token(character_id=96000000 + i, character_name=f"Bulk {i}", character_owner_hash=f"h{i}",
                      access_token="a", refresh_token="r", expires_at=timezone.now())
                for i in range(2500)
            ]
        )
        with django_assert_max_num_queries(15):
            response = staff_client.get(CSV)
            lines = b"".join(response.streaming_content).decode().splitlines()
        assert len(lines) == 2501


def test_the_export_link_keeps_the_filters(staff_client, tokens):
    body = staff_client.get(HEALTH, {"state": "failing", "page": "1", "sort": "-expires"}).content.decode()
    assert 'href="/admin/esi_dashboard/dashboard/tokens.csv?state=failing&amp;sort=-expires"' in body


def test_an_unknown_state_is_an_error():
    with pytest.raises(ValueError, match="unknown token state"):
        metrics.state_filter("sleeping", timezone.now())
