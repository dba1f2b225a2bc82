"""Response lifetimes and keys (esi.http.cache)."""

from email.utils import formatdate

from requests.structures import CaseInsensitiveDict

from esi.http import cache

NOW = 1_800_000_000.0


def headers(**values):
    return CaseInsensitiveDict({k.replace("_", "-"): v for k, v in values.items()})


def test_max_age_wins_over_expires():
    h = headers(Cache_Control="public, max-age=300", Expires=formatdate(NOW + 5, usegmt=True))
    assert cache.expires_at(h, None, NOW) == NOW + 300


def test_expires_header():
    assert cache.expires_at(headers(Expires=formatdate(NOW + 60, usegmt=True)), None, NOW) == NOW + 60


def test_spec_cache_age_when_the_answer_says_nothing():
    assert cache.expires_at(headers(), 120, NOW) == NOW + 120
    assert cache.expires_at(headers(), None, NOW) is None


def test_no_store_and_malformed_values():
    assert cache.expires_at(headers(Cache_Control="no-store"), 120, NOW) is None
    assert cache.expires_at(headers(Cache_Control="max-age=abc"), 30, NOW) == NOW + 30
    assert cache.expires_at(headers(Expires="yesterday-ish"), 30, NOW) == NOW + 30
    assert cache.expires_at(headers(Cache_Control="max-age=-5"), None, NOW) == NOW


def test_nothing_is_stored_without_lifetime_or_etag(db):
    cache.store("esi:test:a", 200, headers(), b"{}", None)
    assert cache.get("esi:test:a") is None
    cache.store("esi:test:b", 200, headers(ETag='"x"'), b"{}", None)
    assert cache.get("esi:test:b")["etag"] == '"x"'


def test_key_covers_every_part_of_the_request_as_sent():
    base = dict(
        method="GET",
        url="https://esi/x",
        query=[("a", "1"), ("b", "2")],
        headers={"X-Tenant": "tranquility", "X-Compatibility-Date": "2026-08-04", "Accept-Language": "en"},
        body=None,
        identity="public",
    )
    key = cache.request_key(**base)
    assert cache.request_key(**{**base, "query": [("b", "2"), ("a", "1")]}) == key
    for change in (
        {"method": "POST"},
        {"url": "https://esi/y"},
        {"query": [("a", "2"), ("b", "2")]},
        {"body": b"[1]"},
        {"identity": "character:1"},
        {"headers": {**base["headers"], "X-Tenant": "singularity"}},
        {"headers": {**base["headers"], "X-Compatibility-Date": "2025-12-16"}},
        {"headers": {**base["headers"], "Accept-Language": "de"}},
        {"headers": {**base["headers"], "Accept": "text/plain"}},
        {"headers": {k: v for k, v in base["headers"].items() if k != "X-Tenant"}},
    ):
        assert cache.request_key(**{**base, **change}) != key, change


def test_key_ignores_what_does_not_change_the_answer():
    base = dict(method="GET", url="https://esi/x", query=[], body=None, identity="character:1")
    headers = {"X-Tenant": "tranquility", "User-Agent": "a/1", "Authorization": "Bearer one"}
    key = cache.request_key(**base, headers=headers)
    for same in (
        {"x-tenant": "tranquility", "User-Agent": "b/2", "Authorization": "Bearer two"},
        {**headers, "If-None-Match": '"abc"', "If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"},
    ):
        assert cache.request_key(**base, headers=same) == key


def test_no_body_above_the_cache_limit_is_stored(db, settings):
    settings.ESI_RESPONSE_CACHE_MAX_BYTES = 10
    cache.store("esi:test:small", 200, headers(ETag='"x"'), b"0123456789", NOW * 2)
    cache.store("esi:test:large", 200, headers(ETag='"x"'), b"0123456789A", NOW * 2)
    assert cache.get("esi:test:small")["body"] == b"0123456789"
    assert cache.get("esi:test:large") is None


def test_a_call_that_ignores_the_cache_does_not_read_it(emulator, monkeypatch):
    """ignore_cache=True (use_cache=False) neither serves nor revalidates the stored copy,
    so the hot path skips the read; it still stores the answer."""
    from esi.clients import EsiClientProvider
    from esi.http import cache as response_cache

    reads = []
    real_get = response_cache.get
    monkeypatch.setattr(response_cache, "get", lambda key: reads.append(key) or real_get(key))
    client = EsiClientProvider(app_info_text="tests/1.0").client
    client.Status.get_status().result(ignore_cache=True)
    assert reads == []
    client.Status.get_status().result()
    assert len(reads) == 1  # and served from what the first call stored
    assert len([r for r in emulator.requests if r.kind == "esi"]) == 1


def test_settings_are_read_once_until_one_changes(settings):
    from esi import app_settings

    settings.ESI_API_DATASOURCE = "singularity"
    assert app_settings.ESI_API_DATASOURCE == "singularity"
    assert app_settings._values["ESI_API_DATASOURCE"] == "singularity"
    settings.ESI_API_DATASOURCE = "tranquility"  # setting_changed empties the memo
    assert app_settings.ESI_API_DATASOURCE == "tranquility"
    settings.ESI_API_URL = "http://127.0.0.1:1/"
    assert app_settings.esi_api_url() == "http://127.0.0.1:1"
