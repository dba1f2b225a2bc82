"""The ESI budgets page, fed by real ESI calls to the emulator: the error limit now and over
time, rate-limit buckets per group and character, 420 and 429 answers, cache hits."""

import pytest

from esi import errors
from esi.http import budgets, stats

from .conftest import BUDGETS, PAGES


def test_without_any_esi_call(staff_client):
    body = staff_client.get(BUDGETS).content.decode()
    assert "No ESI answer has reported the error limit yet" in body
    assert "No ESI answer reported the error limit in this period" in body
    assert "No rate-limit group reported yet" in body
    assert "No 420 or 429 answer recorded." in body
    assert "no ESI call recorded" in body


def test_error_limit_now_and_over_time(staff_client, traffic):
    response = staff_client.get(BUDGETS)
    error = response.context["error"]
    assert error == budgets.error_limit()
    assert error.remain == 98  # the 429 and the 404 cost one error each
    assert 0 < response.context["error_reset_in"] <= 60
    body = response.content.decode()
    assert f'<span class="esi-card-count">{error.remain}</span>' in body
    assert "errors left in the window" in body
    timeline = str(response.context["timeline"])
    assert timeline.count("<circle") == len(stats.error_limit_timeline(6)) >= 1
    assert "98 errors left" in timeline


def test_rate_limit_groups_per_character(staff_client, traffic):
    response = staff_client.get(BUDGETS)
    rows = {(r["group"], r["character_id"]): r for r in response.context["table"].data}
    states = {(b.group, b.character_id): b for b in budgets.rate_limits()}
    assert rows.keys() == states.keys() and len(rows) >= 2
    per_character = [key for key in rows if key[1] == 90000201]
    assert per_character
    body = response.content.decode()
    # The character's name comes from its token; remaining / limit as ESI reported them.
    assert "Character 90000201 (90000201)" in body
    for key in per_character:
        state = states[key]
        if state.limit is not None:
            assert f"{state.remaining} / {state.limit}" in body
    gauges = str(response.context["gauges"])
    assert gauges.count('class="gauge') == len({group for group, _ in rows})


def test_429_and_420_answers_are_listed(staff_client, esi, traffic, emulator):
    emulator.faults.add("GetStatus", status=420, times=1)
    with pytest.raises(errors.HTTPEnhanceYourCalm):
        esi.Status.get_status().result(ignore_cache=True)
    response = staff_client.get(BUDGETS)
    events = list(response.context["events_table"].data)
    assert [e["status"] for e in events] == [420, 429]
    assert events[1]["operation"] == "get_characters_character_id_attributes"
    assert events[1]["character_id"] == 90000201 and events[1]["retry_after"] == 30
    body = response.content.decode()
    assert "blocked (420)" in body
    assert "s more" in body  # the 429 blocks its bucket for 30 s


def test_cache_hits_and_requests_per_operation(staff_client, traffic):
    response = staff_client.get(BUDGETS)
    counts = stats.cache_counts()
    assert response.context["cache"] == counts and counts["hits"] >= 1
    assert response.context["hit_percent"] == round(100 * counts["hits"] / sum(counts.values()), 1)
    operations = {row["operation"]: row for row in response.context["operations_table"].data}
    assert operations["get_status"]["calls"] == 1
    assert operations["get_universe_types_type_id"]["errors"] == 1


def test_tables_page_and_sort(staff_client, traffic, settings):
    settings.ESI_DASHBOARD_PAGE_SIZE = 1
    response = staff_client.get(BUDGETS, {"page": "2", "sort": "group", "events-page": "x", "operations-sort": "-calls"})
    assert response.status_code == 200
    assert len(response.context["table"].page.object_list) == 1
    calls = [row.record["calls"] for row in response.context["operations_table"].page.object_list]
    assert calls == [max(r["calls"] for r in response.context["operations_table"].data)]


def test_queries(staff_client, traffic, django_assert_max_num_queries):
    with django_assert_max_num_queries(15):
        assert staff_client.get(BUDGETS).status_code == 200


@pytest.mark.parametrize("page", PAGES)
def test_a_banner_says_when_a_cache_does_not_answer(staff_client, settings, page):
    """Redis down: every page says what the site runs without (system check esi.W004)."""
    assert "does not answer" not in staff_client.get(page).content.decode()
    settings.CACHES = {
        **settings.CACHES,
        # Nothing listens on port 1: every operation is refused, as with Redis stopped.
        "down": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    settings.ESI_BUDGET_CACHE_ALIAS = "down"
    response = staff_client.get(page)
    assert response.status_code == 200
    body = response.content.decode()
    assert "The cache “down” (ESI budgets and statistics) does not answer (ConnectionError" in body
    assert "each process keeps its own ESI budgets" in body
