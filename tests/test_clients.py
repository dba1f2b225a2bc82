"""The ESI client against the emulator over real HTTP."""

from __future__ import annotations

import datetime
import json
import socket
import time
from pathlib import Path

import jwt
import pytest
from bravado_core.param import get_param_type_spec

from esi import errors
from esi.clients import EsiClientProvider, esi_client_factory, load_spec
from esi.http import budgets
from esi.openapi import ParameterError, SpecError

from .factories import MAIL, NOTIFICATIONS, make_token
from .openapi.synth import request_value

SWAGGER_138 = Path(__file__).resolve().parents[2] / "shared" / "specs" / "swagger" / "esi_swagger20_1.3.8.json"
ADA = 90000001
ORDERS = "esi-markets.structure_markets.v1"


@pytest.fixture
def client(emulator):
    budgets.reset()
    yield EsiClientProvider(app_info_text="tests app/1.0").client
    budgets.reset()


def esi_requests(emulator):
    return [r for r in emulator.requests if r.kind == "esi"]


class TestPublicCalls:
    def test_status_by_both_names(self, client, emulator):
        status = client.Status.get_status().result()
        assert isinstance(status, dict) and "players" in status
        assert isinstance(status["start_time"], datetime.datetime) and status["start_time"].tzinfo
        assert client.Status.GetStatus().result() == status

    def test_headers_sent(self, client, emulator):
        client.Status.get_status().result()
        sent = esi_requests(emulator)[-1]
        assert sent.headers["X-Compatibility-Date"] == "2026-08-04"
        assert sent.headers["X-Tenant"] == "tranquility"
        user_agent = sent.headers["User-Agent"]
        assert user_agent.startswith("tests-app/1.0 (tests@example.com) django-esi-ng/")
        assert "Authorization" not in sent.headers

    def test_compatibility_date_and_datasource_arguments(self, emulator):
        client = EsiClientProvider(compatibility_date="2025-12-16", datasource="singularity").client
        client.Status.get_status().result()
        sent = esi_requests(emulator)[-1]
        assert sent.headers["X-Compatibility-Date"] == "2025-12-16"
        assert sent.headers["X-Tenant"] == "singularity"

    def test_dir_lists_resources_and_operations(self, client):
        assert {"Character", "Universe", "Market", "Planetary_Interaction"} <= set(dir(client))
        assert "get_universe_types_type_id" in dir(client.Universe)

    def test_provider_builds_once(self, emulator):
        provider = EsiClientProvider()
        assert provider.client is provider.client
        assert load_spec() is load_spec()

    def test_also_return_response(self, client, emulator):
        request = client.Status.get_status()
        request.request_config.also_return_response = True
        data, response = request.result()
        assert data["players"] >= 0
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert "X-ESI-Error-Limit-Remain" in response.headers


class TestAuthenticatedCalls:
    def test_token_model_and_both_names(self, client, emulator):
        token = make_token(emulator, ADA, [NOTIFICATIONS])
        data = client.Character.get_characters_character_id_notifications(character_id=ADA, token=token).results()
        assert isinstance(data, list)
        again = client.Character.GetCharactersCharacterIdNotifications(character_id=ADA, token=token).results()
        assert again == data
        sent = esi_requests(emulator)[-1]
        assert sent.headers["Authorization"] == f"Bearer {token.access_token}"
        assert "token" not in sent.query

    def test_expired_token_is_refreshed_first(self, client, emulator):
        token = make_token(emulator, ADA, [NOTIFICATIONS], expired=True)
        client.Character.get_characters_character_id_notifications(character_id=ADA, token=token).result()
        assert emulator.sso.stats["refreshes"] == 1
        assert not token.expired

    def test_access_token_string(self, client, emulator):
        access = emulator.sso.issue_access_token(ADA, [NOTIFICATIONS])
        client.Character.get_characters_character_id_notifications(character_id=ADA, token=access).result()
        assert esi_requests(emulator)[-1].headers["Authorization"] == f"Bearer {access}"

    def test_token_bound_client(self, emulator):
        token = make_token(emulator, ADA, [NOTIFICATIONS])
        client = token.get_esi_client()
        assert client.Character.get_characters_character_id_notifications(character_id=ADA).results() is not None
        assert esi_client_factory(token=token).Status.get_status().result()["players"] >= 0

    def test_missing_scope_fails_before_any_request(self, client, emulator):
        token = make_token(emulator, ADA, [MAIL])
        before = len(esi_requests(emulator))
        with pytest.raises(errors.MissingScopesError) as info:
            client.Character.get_characters_character_id_notifications(character_id=ADA, token=token).result()
        assert info.value.missing == [NOTIFICATIONS]
        with pytest.raises(errors.MissingScopesError):
            client.Character.get_characters_character_id_notifications(character_id=ADA).result()
        with pytest.raises(errors.MissingScopesError):
            access = emulator.sso.issue_access_token(ADA, [MAIL])
            client.Character.get_characters_character_id_notifications(character_id=ADA, token=access).result()
        assert len(esi_requests(emulator)) == before

    def test_wrong_token_type(self, client, emulator):
        with pytest.raises(TypeError, match="token must be"):
            client.Character.get_characters_character_id_notifications(character_id=ADA, token=12345).result()

    def test_esi_rejection_is_an_http_error(self, client, emulator):
        access = emulator.sso.issue_access_token(ADA, [NOTIFICATIONS], exp=1_000_000)
        with pytest.raises(errors.HTTPUnauthorized) as info:
            client.Character.get_characters_character_id_notifications(character_id=ADA, token=access).result()
        assert info.value.status_code == 401 and info.value.headers


class TestCache:
    def test_second_call_is_served_from_the_cache(self, client, emulator):
        first = client.Status.get_status().result()
        count = len(esi_requests(emulator))
        request = client.Status.get_status()
        request.request_config.also_return_response = True
        data, response = request.result()
        assert data == first and response.from_cache
        assert len(esi_requests(emulator)) == count

    def test_stale_entry_is_revalidated_with_its_etag(self, client, emulator):
        body = {"players": 7, "server_version": "1", "start_time": "2026-01-01T00:00:00Z"}

        def handler(request, match):
            if request.headers.get("If-None-Match") == '"v1"':
                return 304, {"ETag": '"v1"', "Cache-Control": "max-age=60"}, b""
            return 200, {"ETag": '"v1"', "Cache-Control": "max-age=0"}, body

        emulator.esi.set_handler("GetStatus", handler)
        # Stale at once, but kept with its ETag.
        assert client.Status.get_status().result()["players"] == 7
        request = client.Status.get_status()
        request.request_config.also_return_response = True
        data, response = request.result()
        sent = esi_requests(emulator)[-1]
        assert sent.headers.get("If-None-Match") == '"v1"' and sent.status == 304
        assert response.not_modified and data["players"] == 7
        # Fresh again for 60 s: the next call sends nothing.
        client.Status.get_status().result()
        assert len(esi_requests(emulator)) == 2

    def test_ignore_cache(self, client, emulator):
        client.Status.get_status().result()
        count = len(esi_requests(emulator))
        client.Status.get_status().result(ignore_cache=True)
        assert len(esi_requests(emulator)) == count + 1

    def test_characters_never_share_cached_data(self, client, emulator):
        emulator.esi.set_handler(
            "GetCorporationsCorporationIdAssets",
            lambda request, match: (200, {"Cache-Control": "max-age=3600"}, [{"owner": request.headers["Authorization"][-12:]}]),
        )
        scope = "esi-assets.read_corporation_assets.v1"
        a = make_token(emulator, ADA, [scope])
        b = make_token(emulator, ADA + 1, [scope])
        op = client.Assets.get_corporations_corporation_id_assets
        first = op(corporation_id=98000001, token=a).results()
        second = op(corporation_id=98000001, token=b).results()
        assert first != second
        assert op(corporation_id=98000001, token=a).results() == first

    def test_cache_can_be_turned_off(self, client, emulator, settings):
        settings.ESI_CACHE_RESPONSE = False
        client.Status.get_status().result()
        count = len(esi_requests(emulator))
        client.Status.get_status().result()
        assert len(esi_requests(emulator)) == count + 1

    def test_response_without_lifetime_is_not_stored(self, client, emulator):
        emulator.esi.set_handler("GetStatus", lambda request, match: (200, {"Cache-Control": "no-store"}, {"players": 1, "server_version": "1", "start_time": "2026-01-01T00:00:00Z"}))
        client.Status.get_status().result()
        client.Status.get_status().result()
        assert len(esi_requests(emulator)) == 2


def test_one_of_answers_are_decoded(client, emulator):
    """/sovereignty/systems (2026-08-04): a claim is one of three shapes, and an alliance
    claim's date-time comes back as a datetime."""
    claim = {
        "alliance_id": 99000001, "corporation_id": 98000001, "claimed_since": "2026-02-23T12:00:00Z",
        "is_capital_system": True, "development": {}, "sovereignty_hub": {},
    }
    emulator.esi.set_response(
        "GetSovereigntySystems",
        {"solar_systems": [
            {"solar_system_id": 30000142, "claim": {"alliance": claim}},
            {"solar_system_id": 30000143, "claim": {"unclaimed": True}},
        ]},
    )
    systems = client.Sovereignty.get_sovereignty_systems().result()["solar_systems"]
    assert systems[0]["claim"]["alliance"]["claimed_since"] == datetime.datetime(2026, 2, 23, 12, tzinfo=datetime.UTC)
    assert systems[1]["claim"] == {"unclaimed": True}


class TestArrayParameters:
    """ESI takes arrays in the query as comma-separated values (?contact_ids=1,2,3)."""

    def test_arrays_are_sent_comma_separated(self, client, emulator):
        contacts = make_token(emulator, ADA, ["esi-characters.write_contacts.v1"])
        client.Contacts.delete_characters_character_id_contacts(
            character_id=ADA, contact_ids=[90000002, 90000003], token=contacts
        ).result()
        mail = make_token(emulator, ADA, [MAIL])
        client.Mail.get_characters_character_id_mail(character_id=ADA, labels=[1, 2, 3], token=mail).result()
        sent = esi_requests(emulator)
        assert sent[0].status == 204 and sent[0].query == {"contact_ids": ["90000002,90000003"]}
        assert sent[1].status == 200 and sent[1].query["labels"] == ["1,2,3"]

    def test_search_categories(self, client, emulator):
        token = make_token(emulator, ADA, ["esi-search.search_structures.v1"])
        client.Search.get_characters_character_id_search(
            character_id=ADA, categories=["alliance", "character"], search="Ada", token=token
        ).result()
        assert esi_requests(emulator)[-1].query["categories"] == ["alliance,character"]


class TestCacheKeys:
    """The response cache key is built from the request as sent, with the character only
    when it was verified."""

    STATUS = {"players": 1, "server_version": "1", "start_time": "2026-01-01T00:00:00Z"}

    def notifications(self, client, token):
        return client.Character.get_characters_character_id_notifications(character_id=ADA, token=token)

    @pytest.mark.parametrize(
        "forge",
        [
            # unsigned: alg "none"
            lambda emulator: jwt.encode(
                {"sub": f"CHARACTER:EVE:{ADA}", "scp": [NOTIFICATIONS], "exp": 2**33}, None, algorithm="none"
            ),
            # signed, but not by EVE SSO
            lambda emulator: emulator.sso.issue_access_token(ADA, [NOTIFICATIONS], sign_with_unknown_key=True),
            # EVE SSO's, expired
            lambda emulator: emulator.sso.issue_access_token(ADA, [NOTIFICATIONS], exp=1_000_000),
        ],
    )
    def test_a_token_string_that_does_not_verify_is_never_answered_from_the_cache(self, client, emulator, forge):
        """Security: an unsigned string claiming character A got A's cached private data
        without a request."""
        private = self.notifications(client, make_token(emulator, ADA, [NOTIFICATIONS])).results()
        assert private is not None
        before = len(esi_requests(emulator))
        with pytest.raises(errors.HTTPUnauthorized):
            self.notifications(client, forge(emulator)).results()
        assert len(esi_requests(emulator)) == before + 1  # ESI was asked, and said no

    def test_a_token_of_another_application_is_sent_and_not_cached(self, client, emulator):
        """ESI takes EVE SSO tokens of any application; this site cannot verify them (the
        audience is another client), so their answers are neither served from nor kept in
        the cache."""
        self.notifications(client, make_token(emulator, ADA, [NOTIFICATIONS])).results()
        before = len(esi_requests(emulator))
        other = emulator.sso.issue_access_token(ADA, [NOTIFICATIONS], audience=["other", "EVE Online"])
        for _ in range(2):
            self.notifications(client, other).results()
        assert len(esi_requests(emulator)) == before + 2

    def test_a_token_string_that_does_not_verify_is_not_tried_again_for_a_while(self, client, emulator):
        """While EVE SSO's key set cannot be fetched, a call with a token string waits for
        the download once, not on every call."""
        access = emulator.sso.issue_access_token(ADA, [NOTIFICATIONS])
        emulator.faults.add("sso:jwks", status=503)
        for _ in range(3):
            self.notifications(client, access).result()
        jwks_requests = [r for r in emulator.requests if r.path == "/oauth/jwks"]
        assert len(jwks_requests) == 1 and len(esi_requests(emulator)) == 3

    def test_a_verified_token_string_shares_its_characters_entries(self, client, emulator):
        token = make_token(emulator, ADA, [NOTIFICATIONS])
        first = self.notifications(client, token).results()
        before = len(esi_requests(emulator))
        access = emulator.sso.issue_access_token(ADA, [NOTIFICATIONS])
        request = self.notifications(client, access)
        request.request_config.also_return_response = True
        data, response = request.result()
        assert response.from_cache and data == first and len(esi_requests(emulator)) == before
        # The verification is remembered: the next call verifies nothing again.
        assert self.notifications(client, access).result() == first

    @pytest.mark.parametrize("token", ["a.b.c", "not a jwt", "x" * 5000, "e30.e30.e30", "\u00e9.\u00e9.\u00e9"])
    def test_malformed_token_strings_are_sent_and_never_cached(self, client, emulator, token):
        op = client.Status.get_status
        for _ in range(2):
            op(token=token).result()
        assert len(esi_requests(emulator)) == 2
        assert all(r.headers.get("Authorization") == f"Bearer {token}" for r in esi_requests(emulator))

    def answer_by(self, emulator, header):
        emulator.esi.set_handler(
            "GetStatus",
            lambda request, match: (200, {"Cache-Control": "max-age=300"}, {**self.STATUS, "server_version": request.headers.get(header)}),
        )

    def test_the_tenant_is_part_of_the_key(self, emulator):
        self.answer_by(emulator, "X-Tenant")
        tranquility = EsiClientProvider(datasource="tranquility").client
        singularity = EsiClientProvider(datasource="singularity").client
        assert tranquility.Status.get_status().result()["server_version"] == "tranquility"
        assert singularity.Status.get_status().result()["server_version"] == "singularity"
        assert tranquility.Status.get_status().result()["server_version"] == "tranquility"
        assert len(esi_requests(emulator)) == 2

    def test_the_compatibility_date_is_part_of_the_key(self, emulator):
        self.answer_by(emulator, "X-Compatibility-Date")
        newest = EsiClientProvider().client
        older = EsiClientProvider(compatibility_date="2025-12-16").client
        assert newest.Status.get_status().result()["server_version"] == "2026-08-04"
        assert older.Status.get_status().result()["server_version"] == "2025-12-16"
        assert len(esi_requests(emulator)) == 2

    def test_a_body_that_does_not_decode_is_not_cached(self, client, emulator):
        """A 200 that is not JSON used to be stored before decoding: every call then
        failed from the cache until the entry expired."""
        emulator.esi.set_handler("GetStatus", lambda request, match: (200, {"Cache-Control": "max-age=300"}, b"<html>"))
        with pytest.raises(errors.ESIResponseDecodeError):
            client.Status.get_status().result()
        emulator.esi.set_handler("GetStatus", lambda request, match: (200, {"Cache-Control": "max-age=300"}, self.STATUS))
        assert client.Status.get_status().result()["players"] == 1
        assert client.Status.get_status().result()["players"] == 1
        assert len(esi_requests(emulator)) == 2

    def test_a_body_above_the_cache_limit_is_not_stored(self, client, emulator, settings):
        settings.ESI_RESPONSE_CACHE_MAX_BYTES = 50
        emulator.esi.set_handler(
            "GetStatus",
            lambda request, match: (200, {"Cache-Control": "max-age=300"}, {**self.STATUS, "server_version": "x" * 60}),
        )
        client.Status.get_status().result()
        client.Status.get_status().result()
        assert len(esi_requests(emulator)) == 2

    def test_a_body_above_the_response_limit_is_refused(self, client, emulator, settings):
        settings.ESI_MAX_RESPONSE_BYTES = 50
        emulator.esi.set_handler("GetStatus", lambda request, match: (200, {}, {**self.STATUS, "server_version": "x" * 60}))
        with pytest.raises(errors.ESIResponseTooLargeError):
            client.Status.get_status().result()


class TestCacheServerDown:
    """Redis down: calls and logins go on without the cache, with a warning."""

    @pytest.fixture
    def down(self, settings):
        settings.CACHES = {
            **settings.CACHES,
            # Nothing listens on port 1: every operation is refused, as with Redis stopped.
            "down": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
        }
        return "down"

    def test_esi_calls_go_on_without_the_response_cache_and_shared_budgets(self, client, emulator, settings, down, caplog):
        settings.ESI_RESPONSE_CACHE_ALIAS = down
        settings.ESI_BUDGET_CACHE_ALIAS = down
        for _ in range(3):
            assert client.Status.get_status().result()["players"] >= 0
        assert len(esi_requests(emulator)) == 3  # nothing could be stored
        warnings = [r for r in caplog.records if r.levelname == "WARNING" and "'down'" in r.getMessage()]
        assert len(warnings) == 1 and "ESI responses" in warnings[0].getMessage()  # then quiet for a minute
        # The budgets fall back to this process's own state: a 420 still holds every call.
        settings.ESI_ERROR_LIMIT_BEHAVIOUR = "raise"
        emulator.faults.add("GetStatus", status=420, times=1)
        with pytest.raises(errors.HTTPEnhanceYourCalm):
            client.Status.get_status().result(ignore_cache=True)
        with pytest.raises(errors.ESIErrorLimitException):
            client.Status.get_status().result(ignore_cache=True)

    def test_token_strings_are_verified_without_the_key_cache(self, client, emulator, settings, down):
        settings.CACHES = {**settings.CACHES, "default": settings.CACHES[down]}
        access = emulator.sso.issue_access_token(ADA, [NOTIFICATIONS])
        client.Character.get_characters_character_id_notifications(character_id=ADA, token=access).result()
        assert emulator.sso.stats["jwks"] == 1


def market_orders(count, page):
    return [
        {
            "order_id": page * 100000 + i,
            "type_id": 34,
            "location_id": 60003760,
            "volume_total": 100,
            "volume_remain": 50,
            "min_volume": 1,
            "price": 5.5,
            "is_buy_order": False,
            "duration": 90,
            "issued": "2026-08-01T12:00:00Z",
            "range": "region",
            "system_id": 30000142,
        }
        for i in range(count)
    ]


class TestPagination:
    def test_x_pages(self, client, emulator):
        emulator.esi.set_response("GetMarketsRegionIdOrders", pages=[market_orders(50, p) for p in range(5)])
        orders = client.Market.get_markets_region_id_orders(region_id=10000002, order_type="all").results()
        assert len(orders) == 250
        assert len({o["order_id"] for o in orders}) == 250
        assert isinstance(orders[0]["issued"], datetime.datetime)
        pages = sorted(int(r.query["page"][0]) for r in esi_requests(emulator))
        assert pages == [1, 2, 3, 4, 5]

    def test_a_lying_x_pages_costs_a_handful_of_errors(self, client, emulator, settings):
        """400 pages announced, 10 real: the walk stops at the first 404 instead of sending
        the 389 others (198 were sent, the error limit spent, an unrelated call blocked)."""
        settings.ESI_PAGE_CONCURRENCY = 4
        emulator.esi.set_response(
            "GetMarketsRegionIdOrders", pages=[market_orders(5, p) for p in range(10)], headers={"X-Pages": "400"}
        )
        with pytest.raises(errors.HTTPNotFound):
            client.Market.get_markets_region_id_orders(region_id=10000002, order_type="all").results()
        sent = len(esi_requests(emulator))
        assert 11 <= sent <= 10 + 4  # the pages that exist, the first 404 and those in flight
        time.sleep(0.2)
        assert len(esi_requests(emulator)) == sent  # nothing left running
        assert budgets.error_limit().remain >= 100 - 4
        assert client.Status.get_status().result()["players"] >= 0  # nothing blocked

    def test_pages_in_flight_are_capped(self, client, emulator, settings):
        import threading

        settings.ESI_PAGE_CONCURRENCY = 3
        lock = threading.Lock()
        state = {"now": 0, "most": 0}

        def slow(request, match):
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            time.sleep(0.05)
            with lock:
                state["now"] -= 1
            page = int(request.query.get("page", ["1"])[0])
            return 200, {"X-Pages": "12", "Cache-Control": "max-age=300"}, market_orders(1, page)

        emulator.esi.set_handler("GetMarketsRegionIdOrders", slow)
        orders = client.Market.get_markets_region_id_orders(region_id=10000002, order_type="all").results()
        assert [o["order_id"] // 100000 for o in orders] == list(range(1, 13))
        assert state["most"] == 3

    def test_more_pages_than_the_limit_are_refused(self, client, emulator, settings):
        settings.ESI_MAX_PAGES = 5
        emulator.esi.set_response("GetMarketsRegionIdOrders", pages=[market_orders(1, p) for p in range(6)])
        with pytest.raises(errors.ESITooManyPagesError, match="6 pages") as info:
            client.Market.get_markets_region_id_orders(region_id=10000002, order_type="all").results()
        assert (info.value.pages, info.value.limit) == (6, 5)
        assert len(esi_requests(emulator)) == 1
        settings.ESI_MAX_PAGES = 6
        assert len(client.Market.get_markets_region_id_orders(region_id=10000002, order_type="all").results()) == 6

    def test_an_absurd_x_pages_is_more_than_the_limit(self, client, emulator):
        emulator.esi.set_response(
            "GetMarketsRegionIdOrders", pages=[market_orders(2, p) for p in range(3)], headers={"X-Pages": "9" * 30}
        )
        with pytest.raises(errors.ESITooManyPagesError):
            client.Market.get_markets_region_id_orders(region_id=10000002, order_type="all").results()
        assert len(esi_requests(emulator)) == 1

    @pytest.mark.parametrize("x_pages", ["-5", "0", "1e3", "abc", "", "\u0664", "1 2"])
    def test_an_x_pages_that_is_not_a_page_count_means_one_page(self, client, emulator, x_pages):
        emulator.esi.set_response(
            "GetMarketsRegionIdOrders", pages=[market_orders(2, p) for p in range(3)], headers={"X-Pages": x_pages}
        )
        assert len(client.Market.get_markets_region_id_orders(region_id=10000002, order_type="all").results()) == 2
        assert len(esi_requests(emulator)) == 1

    def test_result_is_one_page(self, client, emulator):
        emulator.esi.set_response("GetMarketsRegionIdOrders", pages=[market_orders(10, p) for p in range(3)])
        op = client.Market.get_markets_region_id_orders
        assert len(op(region_id=10000002, order_type="all").result()) == 10
        assert op(region_id=10000002, order_type="all").result(page=3)[0]["order_id"] == 200000

    def test_pages_that_change_mid_walk(self, client, emulator):
        calls = {"n": 0}

        def changing(request, match):
            calls["n"] += 1
            page = int(request.query.get("page", ["1"])[0])
            stamp = f"Sat, 01 Aug 2026 12:00:{calls['n'] % 60:02d} GMT"
            return 200, {"X-Pages": "3", "Last-Modified": stamp, "Cache-Control": "max-age=300"}, market_orders(2, page)

        emulator.esi.set_handler("GetMarketsRegionIdOrders", changing)
        with pytest.raises(errors.IncompleteResponseError):
            client.Market.get_markets_region_id_orders(region_id=10000002, order_type="all").results()
        assert calls["n"] == 6  # walked twice

    def test_cursor_pages(self, client, emulator):
        pages = [[{"id": f"job-{p}-{i}"} for i in range(3)] for p in range(4)]
        emulator.esi.set_response("GetFreelanceJobsListing", pages=pages)
        jobs = client.Freelance_Jobs.get_freelance_jobs_listing().results()
        assert [j["id"] for j in jobs] == [f"job-{p}-{i}" for p in range(4) for i in range(3)]
        befores = [r.query.get("before") for r in esi_requests(emulator)]
        assert befores[0] is None and all(befores[1:])

    def test_a_record_on_two_cursor_pages_is_returned_once(self, client, emulator):
        """It changed during the walk (or a page came from a cache): CCP says keep the copy
        already held, the one on the newer page."""
        pages = [
            [{"id": "a", "name": "A"}, {"id": "b", "name": "B, older"}],
            [{"id": "b", "name": "B, newer"}, {"id": "c", "name": "C"}],
            [{"id": "d", "name": "D"}, {"id": "d", "name": "D"}],
        ]
        emulator.esi.set_response("GetFreelanceJobsListing", pages=pages)
        jobs = client.Freelance_Jobs.get_freelance_jobs_listing().results()
        assert [(j["id"], j["name"]) for j in jobs] == [("a", "A"), ("b", "B, newer"), ("c", "C"), ("d", "D")]

    def test_from_id_pages(self, client, emulator):
        scope = "esi-wallet.read_character_wallet.v1"
        token = make_token(emulator, ADA, [scope])
        rows = [
            {"transaction_id": n, "client_id": 1, "date": "2026-08-01T00:00:00Z", "is_buy": True, "is_personal": True,
             "journal_ref_id": n, "location_id": 1, "quantity": 1, "type_id": 34, "unit_price": 1.0}
            for n in range(100, 0, -1)
        ]

        def handler(request, match):
            before = int(request.query.get("from_id", ["101"])[0])
            return 200, {"Cache-Control": "max-age=60"}, [r for r in rows if r["transaction_id"] < before][:30]

        emulator.esi.set_handler("GetCharactersCharacterIdWalletTransactions", handler)
        found = client.Wallet.get_characters_character_id_wallet_transactions(character_id=ADA, token=token).results()
        assert [r["transaction_id"] for r in found] == list(range(100, 0, -1))


class TestLocalization:
    def test_results_localized(self, client, emulator):
        emulator.esi.set_handler(
            "GetUniverseTypesTypeId",
            lambda request, match: (200, {"Cache-Control": "max-age=60"}, {
                "type_id": 587, "name": f"Rifter ({request.headers.get('Accept-Language')})",
                "description": "", "group_id": 25, "published": True}),
        )
        names = client.Universe.get_universe_types_type_id(type_id=587).results_localized(languages=["en", "de", "ko"])
        assert {lang: data["name"] for lang, data in names.items()} == {
            "en": "Rifter (en)", "de": "Rifter (de)", "ko": "Rifter (ko)"}
        assert set(client.Universe.get_universe_types_type_id(type_id=587).results_localized()) == {
            "en", "de", "fr", "ja", "ru", "zh", "ko", "es"}

    def test_language_is_part_of_the_cache_key(self, client, emulator):
        op = client.Universe.get_universe_types_type_id
        op(type_id=587).result(language="de")
        op(type_id=587).result(language="fr")
        assert len(esi_requests(emulator)) == 2


class TestFailures:
    def test_server_errors_are_retried(self, client, emulator, settings):
        settings.ESI_SERVER_ERROR_BACKOFF_FACTOR = 0.01
        emulator.faults.add("GetStatus", status=503, times=2)
        assert client.Status.get_status().result()["players"] >= 0
        assert len(esi_requests(emulator)) == 3

    def test_persistent_server_error_is_raised(self, client, emulator, settings):
        settings.ESI_SERVER_ERROR_BACKOFF_FACTOR = 0.01
        emulator.faults.add("GetStatus", status=502)
        with pytest.raises(errors.HTTPBadGateway):
            client.Status.get_status().result()
        with pytest.raises(errors.HTTPBadGateway):
            client.Status.get_status().result(retries=0)

    def test_dropped_connections(self, client, emulator, settings):
        settings.ESI_SERVER_ERROR_BACKOFF_FACTOR = 0.01
        emulator.faults.add("GetStatus", drop=True, times=1)
        assert client.Status.get_status().result()["players"] >= 0
        emulator.faults.add("GetStatus", drop=True)
        with pytest.raises(errors.ESIConnectionError):
            client.Status.get_status().result(ignore_cache=True, retries=1)

    def test_client_errors_are_not_retried(self, client, emulator):
        emulator.faults.add("GetStatus", status=404)
        with pytest.raises(errors.HTTPNotFound):
            client.Status.get_status().result()
        assert len(esi_requests(emulator)) == 1

    def test_420_blocks_every_call_until_the_reset(self, client, emulator, settings):
        settings.ESI_ERROR_LIMIT_BEHAVIOUR = "raise"
        emulator.faults.add("GetStatus", status=420, times=1)
        with pytest.raises(errors.HTTPEnhanceYourCalm):
            client.Status.get_status().result()
        count = len(esi_requests(emulator))
        with pytest.raises(errors.ESIErrorLimitException):
            client.Universe.get_universe_types_type_id(type_id=587).result()
        assert len(esi_requests(emulator)) == count

    def test_429_waits_for_retry_after(self, client, emulator):
        emulator.faults.add("GetStatus", status=429, retry_after=1, times=1)
        started = time.monotonic()
        assert client.Status.get_status().result()["players"] >= 0
        assert time.monotonic() - started >= 0.9
        assert len(esi_requests(emulator)) == 2

    def test_429_raises_when_asked(self, client, emulator, settings):
        settings.ESI_RATE_LIMIT_BEHAVIOUR = "raise"
        emulator.faults.add("GetStatus", status=429, retry_after=30)
        with pytest.raises(errors.ESIBucketLimitException):
            client.Status.get_status().result()

    def test_malformed_json_from_esi(self, client, emulator):
        emulator.esi.set_handler("GetStatus", lambda request, match: (200, {}, b"{not json"))
        with pytest.raises(errors.ESIResponseDecodeError):
            client.Status.get_status().result()

    def test_response_validation_is_opt_in(self, client, emulator, settings):
        emulator.esi.set_handler("GetStatus", lambda request, match: (200, {}, {"players": "many"}))
        assert client.Status.get_status().result(ignore_cache=True)["players"] == "many"
        settings.ESI_VALIDATE_RESPONSES = True
        with pytest.raises(errors.ESIResponseDecodeError, match="does not match"):
            client.Status.get_status().result(ignore_cache=True)


@pytest.fixture
def unanswered_port():
    """A loopback port whose accept queue is full, so a new connection is never accepted
    (the kernel drops its SYN) and only the connect timeout ends the attempt."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


class TestTransportSettings:
    """The requests-era retry and timeout settings decide what the client sends, counted at
    the emulator."""

    @pytest.fixture(autouse=True)
    def _short_backoff(self, settings):
        settings.ESI_SERVER_ERROR_BACKOFF_FACTOR = 0.01

    @pytest.mark.parametrize("retries", [0, 1, 4])
    def test_server_error_max_retries(self, client, emulator, settings, retries):
        settings.ESI_SERVER_ERROR_MAX_RETRIES = retries
        settings.ESI_CONNECTION_ERROR_MAX_RETRIES = 5  # not the one that counts for a 503
        emulator.faults.add("GetStatus", status=503)
        with pytest.raises(errors.HTTPServiceUnavailable):
            client.Status.get_status().result()
        assert [r.status for r in esi_requests(emulator)] == [503] * (retries + 1)

    @pytest.mark.parametrize("retries", [0, 2])
    def test_connection_error_max_retries(self, client, emulator, settings, retries):
        settings.ESI_CONNECTION_ERROR_MAX_RETRIES = retries
        settings.ESI_SERVER_ERROR_MAX_RETRIES = 5  # not the one that counts for a drop
        emulator.faults.add("GetStatus", drop=True)
        with pytest.raises(errors.ESIConnectionError):
            client.Status.get_status().result()
        assert [r.status for r in esi_requests(emulator)] == [None] * (retries + 1)

    def test_read_timeout(self, client, emulator, settings):
        settings.ESI_CONNECTION_ERROR_MAX_RETRIES = 1
        settings.ESI_REQUESTS_READ_TIMEOUT = 0.2
        emulator.faults.latency(0.6, target="GetStatus")
        started = time.monotonic()
        with pytest.raises(errors.ESIConnectionError, match="Read timed out"):
            client.Status.get_status().result()
        # Two attempts (a timeout is retried as a connection error), each cut off at 0.2 s.
        assert time.monotonic() - started < 1.0
        assert len(esi_requests(emulator)) == 2
        settings.ESI_REQUESTS_READ_TIMEOUT = 5
        assert client.Status.get_status().result()["players"] >= 0

    def test_connect_timeout(self, client, settings, unanswered_port):
        settings.ESI_API_URL = f"http://127.0.0.1:{unanswered_port}"
        settings.ESI_CONNECTION_ERROR_MAX_RETRIES = 0
        settings.ESI_REQUESTS_CONNECT_TIMEOUT = 0.3
        settings.ESI_REQUESTS_READ_TIMEOUT = 30
        started = time.monotonic()
        with pytest.raises(errors.ESIConnectionError, match="timed out"):
            client.Status.get_status().result()
        assert 0.25 <= time.monotonic() - started < 3


class TestBadInput:
    def test_unknown_resource_and_operation(self, client):
        with pytest.raises(AttributeError, match="Univrse|Universe"):
            client.Univrse  # noqa: B018
        with pytest.raises(AttributeError, match="get_universe_types_type_id"):
            client.Universe.get_universe_type_type_id  # noqa: B018

    def test_missing_wrong_and_unknown_parameters(self, client):
        op = client.Universe.get_universe_types_type_id
        with pytest.raises(ParameterError, match="type_id"):
            op()
        with pytest.raises(ParameterError, match="type_id"):
            op(type_id="abc")
        with pytest.raises(TypeError, match="typeid"):
            op(typeid=587)

    def test_body_of_the_wrong_type(self, client):
        with pytest.raises(ParameterError):
            client.Universe.post_universe_names(body="not a list")

    def test_spec_file_that_is_not_a_spec(self, tmp_path, db):
        bad = tmp_path / "spec.json"
        bad.write_text(json.dumps({"hello": "world"}))
        with pytest.raises(SpecError):
            EsiClientProvider(spec_file=bad).client  # noqa: B018
        bad.write_text("not json {")
        with pytest.raises(SpecError):
            EsiClientProvider(spec_file=bad).client  # noqa: B018

    def test_unknown_resource_version(self, db):
        with pytest.raises(AttributeError):
            EsiClientProvider(Nonsense="v1").client  # noqa: B018


@pytest.mark.skipif(not SWAGGER_138.exists(), reason="shared Swagger spec not available")
class TestSwagger:
    @pytest.fixture
    def legacy(self, db, settings):
        from esi.emulator import Emulator

        budgets.reset()
        with Emulator(spec_file=SWAGGER_138, client_id="test-client-id", client_secret="test-client-secret") as emulator:
            settings.ESI_API_URL = settings.ESI_SSO_BASE_URL = emulator.url
            yield emulator

    def test_swagger_spec_file_with_datasource_and_versions(self, legacy):
        client = EsiClientProvider(spec_file=SWAGGER_138, Universe="v2").client
        assert client.Status.get_status().result()["players"] >= 0
        sent = esi_requests(legacy)[-1]
        assert sent.path.startswith("/latest/status") and sent.query["datasource"] == ["tranquility"]
        assert "X-Compatibility-Date" not in sent.headers
        client.Universe.get_universe_types_type_id(type_id=587).result(language="de")
        sent = esi_requests(legacy)[-1]
        assert sent.path.startswith("/v2/universe/types/587") and sent.query["language"] == ["de"]

    def test_api_version_setting_is_the_default_route(self, legacy, settings):
        settings.ESI_API_VERSION = "legacy"
        esi_client_factory(spec_file=SWAGGER_138).Status.get_status().result()
        assert esi_requests(legacy)[-1].path.startswith("/legacy/status")

    def test_version_applies_to_every_resource(self, legacy):
        client = EsiClientProvider(spec_file=SWAGGER_138, version="dev").client
        client.Status.get_status().result()
        assert esi_requests(legacy)[-1].path.startswith("/dev/status")

    def test_version_without_spec_file_downloads_the_legacy_spec(self, legacy):
        client = esi_client_factory(version="latest")
        assert client.spec.format == "swagger20"
        assert client.Status.get_status().result()["players"] >= 0


def call_every_operation(client, spec, emulator, character_id):
    """Call every operation of ``spec`` with its required parameters; return failures."""
    failures = []
    for resource_name in spec.resource_names():
        for op in spec.resource(resource_name).operations():
            emulator.rate_limiter.reset()
            budgets.reset()
            params = {}
            slots = op._slots
            for name in op.required_params:
                params[name] = character_id if name == "character_id" else request_value(
                    op.bravado_operation.swagger_spec, get_param_type_spec(slots[name].param)
                )
            token = emulator.sso.issue_access_token(character_id, op.scopes) if op.scopes else None
            try:
                getattr(getattr(client, resource_name), op.name)(token=token, **params).result(ignore_cache=True)
            except Exception as exc:  # collected and reported below
                failures.append(f"{resource_name}.{op.name}: {type(exc).__name__}: {str(exc)[:150]}")
    return failures


def test_every_bundled_operation_end_to_end(client, emulator):
    failures = call_every_operation(client, client.spec, emulator, ADA)
    assert not failures, "\n".join(failures)


@pytest.mark.skipif(not SWAGGER_138.exists(), reason="shared Swagger spec not available")
def test_every_swagger_operation_end_to_end(db, settings):
    from esi.emulator import Emulator

    with Emulator(spec_file=SWAGGER_138, client_id="test-client-id", client_secret="test-client-secret") as emulator:
        settings.ESI_API_URL = settings.ESI_SSO_BASE_URL = emulator.url
        client = EsiClientProvider(spec_file=SWAGGER_138).client
        failures = call_every_operation(client, client.spec, emulator, ADA)
    assert not failures, "\n".join(failures)


class TestLogging:
    def test_info_logging(self, client, emulator, settings, caplog):
        settings.ESI_INFO_LOGGING_ENABLED = True
        with caplog.at_level("INFO", logger="esi.http.transport"):
            client.Status.get_status().result()
        assert any("ESI GET" in r.getMessage() and "/status -> 200" in r.getMessage() for r in caplog.records)

    def test_debug_logging_of_bodies_can_be_turned_off(self, client, emulator, settings, caplog):
        settings.ESI_DEBUG_RESPONSE_CONTENT_LOGGING = False
        with caplog.at_level("DEBUG", logger="esi.http.transport"):
            client.Status.get_status().result()
        messages = [r.getMessage() for r in caplog.records if r.name == "esi.http.transport"]
        assert messages and all("players" not in m and "(not logged)" in m for m in messages)

    def test_library_log_level_is_applied(self):
        import logging

        assert logging.getLogger("bravado_core").level == logging.INFO
        assert logging.getLogger("urllib3").level == logging.INFO


def test_django_esi_10_exception_module():
    from esi import errors, exceptions

    assert exceptions.ESIErrorLimitException is errors.ESIErrorLimitException
    assert issubclass(errors.HTTPNotFound, exceptions.HTTPClientError)
    assert issubclass(errors.HTTPBadGateway, exceptions.HTTPServerError)
    assert exceptions.HTTPNotModified(headers={"ETag": '"x"'}).status_code == 304


def test_django_esi_10_provider_arguments(emulator):
    from esi.clients import ESIClientProvider

    provider = ESIClientProvider(
        compatibility_date="2025-12-16", ua_appname="myapp", ua_version="2.0",
        ua_url="https://example.com", tenant="tranquility", tags=["Status"],
    )
    provider.client.Status.get_status().result()
    sent = esi_requests(emulator)[-1]
    assert sent.headers["User-Agent"].startswith("myapp/2.0 (tests@example.com; +https://example.com) django-esi-ng/")
    assert sent.headers["X-Compatibility-Date"] == "2025-12-16"


class TestPositionalOrders:
    """django-esi 7.0.1 and 10.0.0 take EsiClientProvider's arguments in different orders."""

    def test_django_esi_10_order(self, emulator):
        from esi.openapi_clients import ESIClientProvider

        for first in ("2025-12-16", datetime.date(2025, 12, 16)):
            provider = ESIClientProvider(first, "myapp", "2.0", "https://example.com", None, "singularity")
            provider.client.Status.get_status().result(use_cache=False)
            sent = esi_requests(emulator)[-1]
            assert sent.headers["X-Compatibility-Date"] == "2025-12-16"
            assert sent.headers["X-Tenant"] == "singularity"
            assert sent.headers["User-Agent"].startswith("myapp/2.0 (tests@example.com; +https://example.com)")

    def test_django_esi_7_order(self, emulator):
        for first in ("singularity", None):
            provider = EsiClientProvider(first, None, None, "legacy-app/1.0")
            provider.client.Status.get_status().result(use_cache=False)
            sent = esi_requests(emulator)[-1]
            assert sent.headers["X-Tenant"] == (first or "tranquility")
            assert sent.headers["User-Agent"].startswith("legacy-app/1.0 ")

    @pytest.mark.parametrize("first", ["MyApp/1.0", 42, b"2025-12-16", ["tranquility"], "tranquility now"])
    def test_a_first_argument_that_starts_neither_order(self, first):
        with pytest.raises(TypeError, match="cannot tell which positional order"):
            EsiClientProvider(first)

    def test_too_many_positional_arguments(self):
        with pytest.raises(TypeError, match=r"at most 7 positional arguments in django-esi 7's order"):
            EsiClientProvider("tranquility", None, None, None, "app", "1.0", None, "extra")
        with pytest.raises(TypeError, match=r"at most 9 positional arguments in django-esi 10's order"):
            EsiClientProvider("2025-12-16", "app", "1.0", None, None, "tranquility", None, None, None, "x")

    def test_position_and_keyword_for_one_parameter(self):
        with pytest.raises(TypeError, match="multiple values for argument 'ua_appname'"):
            EsiClientProvider("2025-12-16", "app", ua_appname="other")

    def test_a_date_shaped_first_argument_must_be_a_date(self):
        with pytest.raises(ValueError, match="compatibility_date"):
            EsiClientProvider("2025-13-45", "app", "1.0")
