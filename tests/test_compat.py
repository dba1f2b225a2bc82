"""Code written for django-esi 7.0.1 or 10.0.0 runs here: their import paths, argument
names and keyword arguments, against the emulator over real HTTP."""

from __future__ import annotations

import datetime
import os
import time

import pytest

from esi import errors, exceptions
from esi.clients import EsiClientProvider, esi_client_factory
from esi.http import budgets

from .factories import NOTIFICATIONS, make_token

ADA = 90000001


@pytest.fixture
def client(emulator):
    budgets.reset()
    yield EsiClientProvider(app_info_text="compat/1.0").client
    budgets.reset()


def esi_requests(emulator):
    return [r for r in emulator.requests if r.kind == "esi"]


# -- django-esi 10: import path, provider arguments ------------------------------------------


def test_openapi_clients_module_and_provider_arguments(emulator):
    from esi.openapi_clients import ESIClientProvider

    provider = ESIClientProvider(
        compatibility_date=datetime.date(2025, 12, 16),
        ua_appname="MyApp",
        ua_version="1.2",
        ua_url="https://example.com/myapp",
        tenant="tranquility",
        tags=["Status"],
        operations=["GetStatus"],
        additional_spec_headers={"X-Extra": "1"},
    )
    provider.client.Status.GetStatus().result()
    sent = esi_requests(emulator)[-1]
    assert sent.headers["X-Compatibility-Date"] == "2025-12-16"
    assert sent.headers["User-Agent"].startswith("MyApp/1.2 (tests@example.com; +https://example.com/myapp) ")


@pytest.mark.parametrize("value", ["2026-13-01", "2026-8-4", "yesterday", "2026-08-04T00:00:00Z", 20260804, " "])
def test_a_malformed_compatibility_date_is_refused_at_once(value):
    with pytest.raises(ValueError, match="compatibility_date"):
        EsiClientProvider(compatibility_date=value)
    with pytest.raises(ValueError, match="compatibility_date"):
        esi_client_factory(compatibility_date=value)


def test_a_datetime_compatibility_date_sends_its_date(emulator):
    client = esi_client_factory(compatibility_date=datetime.datetime(2025, 12, 16, 11, 0))
    client.Status.get_status().result()
    assert esi_requests(emulator)[-1].headers["X-Compatibility-Date"] == "2025-12-16"


def test_required_scopes_of_an_operation_and_of_a_request(client):
    operation = client.Character.GetCharactersCharacterIdNotifications
    assert operation.required_scopes() == [NOTIFICATIONS]
    assert operation(character_id=ADA).required_scopes() == [NOTIFICATIONS]
    assert client.Status.get_status.required_scopes() == []


# -- django-esi 10: result() / results() keyword arguments ----------------------------------


def test_return_response_gives_data_and_response(client, emulator):
    data, response = client.Status.get_status().result(return_response=True)
    assert data["players"] >= 0
    assert response.status_code == 200 and "ETag" in response.headers
    data, response = client.Status.get_status().results(return_response=True)
    assert response.from_cache


def test_use_cache_false_and_force_refresh_reach_esi(client, emulator):
    client.Status.get_status().result()
    client.Status.get_status().result()
    assert len(esi_requests(emulator)) == 1
    client.Status.get_status().result(use_cache=False)
    client.Status.get_status().result(force_refresh=True)
    sent = esi_requests(emulator)
    assert len(sent) == 3
    # force_refresh also drops the stored ETag.
    assert "If-None-Match" not in sent[-1].headers


def test_store_cache_false_stores_nothing(client, emulator):
    client.Status.get_status().result(store_cache=False)
    client.Status.get_status().result()
    assert len(esi_requests(emulator)) == 2


def test_use_etag_false_does_not_revalidate(client, emulator, monkeypatch):
    clock = [time.time()]
    monkeypatch.setattr("esi.clients.time.time", lambda: clock[0])
    client.Status.get_status().result()
    # Each time the stored copy runs out, the next call revalidates with its ETag unless
    # told not to.
    clock[0] += 3600
    client.Status.get_status().result(use_etag=False)
    assert "If-None-Match" not in esi_requests(emulator)[-1].headers
    clock[0] += 3600
    client.Status.get_status().result()
    assert "If-None-Match" in esi_requests(emulator)[-1].headers
    assert len(esi_requests(emulator)) == 3


def test_last_modified_is_sent_and_a_bare_304_raises_not_modified(client, emulator):
    since = datetime.datetime(2026, 8, 4, 11, 0, tzinfo=datetime.UTC)
    client.Status.get_status().result(last_modified=since, store_cache=False)
    assert esi_requests(emulator)[-1].headers["If-Modified-Since"] == "Tue, 04 Aug 2026 11:00:00 GMT"
    # Naive datetimes are UTC.
    client.Status.get_status().result(last_modified=datetime.datetime(2026, 8, 4, 11, 0), store_cache=False)
    assert esi_requests(emulator)[-1].headers["If-Modified-Since"] == "Tue, 04 Aug 2026 11:00:00 GMT"
    emulator.faults.add("GetStatus", status=304, times=1)
    with pytest.raises(exceptions.HTTPNotModified) as raised:
        client.Status.get_status().result(last_modified=since)
    assert raised.value.status_code == 304
    # With a stored copy, a 304 answers from it.
    stored = client.Status.get_status().result(use_cache=False)
    emulator.faults.add("GetStatus", status=304, times=1)
    assert client.Status.get_status().result(last_modified=since, use_cache=False) == stored
    assert exceptions.HTTPNotModified is errors.HTTPNotModified


@pytest.mark.parametrize("value", ["2026-08-04", 1754305200, datetime.date(2026, 8, 4)])
def test_last_modified_must_be_a_datetime(client, emulator, value):
    with pytest.raises(TypeError, match="last_modified"):
        client.Status.get_status().result(last_modified=value)
    assert esi_requests(emulator) == []


# -- results_localized --------------------------------------------------------------------------


def test_results_localized_refuses_unknown_languages_before_any_request(client, emulator):
    with pytest.raises(ValueError, match="'xx'"):
        client.Universe.get_universe_types_type_id(type_id=587).results_localized(["de", "xx"])
    with pytest.raises(ValueError, match="'<script>'"):
        client.Universe.get_universe_types_type_id(type_id=587).results_localized("<script>")
    assert esi_requests(emulator) == []


def test_results_localized_takes_one_code_and_drops_repeats(client, emulator):
    result = client.Universe.get_universe_types_type_id(type_id=587).results_localized("de")
    assert list(result) == ["de"]
    result = client.Universe.get_universe_types_type_id(type_id=587).results_localized(["fr", "fr", "de"])
    assert list(result) == ["fr", "de"]


# -- django-esi 7.0.1: factory signature -----------------------------------------------------


def test_factory_takes_django_esi_7_user_agent_arguments(emulator):
    client = esi_client_factory(ua_appname="corptools", ua_version="3.0", ua_url="https://example.com")
    client.Status.get_status().result()
    user_agent = esi_requests(emulator)[-1].headers["User-Agent"]
    assert user_agent.startswith("corptools/3.0 (tests@example.com; +https://example.com) django-esi-ng/")


def test_token_client_takes_the_same_arguments(emulator):
    token = make_token(emulator)
    client = token.get_esi_client(ua_appname="corptools", ua_version="3.0")
    client.Character.get_characters_character_id_notifications(character_id=ADA).result()
    sent = esi_requests(emulator)[-1]
    assert sent.headers["User-Agent"].startswith("corptools/3.0 ")
    assert sent.headers["Authorization"].startswith("Bearer ")


def test_unknown_resource_version_is_still_refused(emulator):
    with pytest.raises(errors.UnknownResourceError, match="Nope"):
        esi_client_factory(Nope="v1")


# -- names ------------------------------------------------------------------------------------


def test_spec_engine_errors_are_in_esi_errors():
    from esi import openapi

    for name in ("ParameterError", "SpecError", "UnknownResourceError", "UnknownOperationError", "DecodeError"):
        assert getattr(errors, name) is getattr(openapi, name)
        assert issubclass(getattr(errors, name), errors.DjangoEsiException)


def test_task_bucket_limit_exception_is_importable():
    error = exceptions.TaskBucketLimitException("esi-tasks", 5)
    assert isinstance(error, errors.ESIBucketLimitException)
    assert (error.bucket, error.reset) == ("esi-tasks", 5)


def test_esi_request_statistics_signal(client, emulator):
    from esi.signals import esi_request_statistics

    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    esi_request_statistics.connect(receiver)
    try:
        client.Status.get_status().result()
        client.Status.get_status().result()  # from the cache: no signal
        emulator.faults.add("GetStatus", status=404, times=1)
        with pytest.raises(errors.HTTPNotFound):
            client.Status.get_status().result(use_cache=False)
        client.Killmails.get_killmails_killmail_id_killmail_hash(
            killmail_id=1, killmail_hash="0123456789abcdef0123456789abcdef01234567"
        ).result()
    finally:
        esi_request_statistics.disconnect(receiver)
    assert [(r["operation"], r["status_code"]) for r in received] == [
        ("get_status", 200),
        ("get_status", 404),
        ("get_killmails_killmail_id_killmail_hash", 200),
    ]
    assert received[0]["latency"] >= 0 and "ETag" in received[0]["headers"]
    assert (received[0]["bucket"], received[2]["bucket"]) == ("status", "killmail")


def test_helpers_get_token(emulator):
    from esi.helpers import get_token
    from esi.models import Token

    token = make_token(emulator, scopes=[NOTIFICATIONS])
    assert get_token(ADA, [NOTIFICATIONS]) == token
    assert get_token(ADA, NOTIFICATIONS) == token
    with pytest.raises(Token.DoesNotExist):
        get_token(ADA, ["esi-mail.read_mail.v1"])
    with pytest.raises(Token.DoesNotExist):
        get_token(12345, [NOTIFICATIONS])


def test_refresh_or_delete_token_task(emulator):
    from esi.tasks import refresh_or_delete_token

    token = make_token(emulator, expired=True)
    summary = refresh_or_delete_token(token.pk)
    assert summary["refreshed"] == 1
    token.refresh_from_db()
    assert not token.expired
    assert refresh_or_delete_token(token.pk + 1000)["missing"] == 1
    for bad in ("1", None, True, 1.5):
        with pytest.raises(ValueError):
            refresh_or_delete_token(bad)


# -- fork safety ------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_fetches_pages_with_its_own_pool_and_session(client, emulator):
    emulator.esi.set_pages("GetMarketsRegionIdOrders", 3)
    orders = client.Market.get_markets_region_id_orders(region_id=10000002, order_type="all")
    expected = len(orders.results())  # the parent's page pool and session now exist
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            got = len(orders.results(ignore_cache=True))
            os.write(write, str(got).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung fetching pages")
        time.sleep(0.05)
    answer = os.read(read, 100).decode()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert int(answer) == expected
