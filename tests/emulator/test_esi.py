"""The emulated ESI over real HTTP: bodies, caching, pagination, auth, limits."""

from __future__ import annotations

import email.utils
import time

import pytest
import requests

from esi.emulator import Emulator

from .utils import ADA, BRAM, bearer

ASSETS = "esi-assets.read_assets.v1"
NOTIFICATIONS = "esi-characters.read_notifications.v1"


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


@pytest.fixture
def ada_token(esi_emulator):
    return esi_emulator.sso.issue_access_token(ADA, [ASSETS, NOTIFICATIONS])


def test_default_body_and_headers(esi_emulator, session):
    response = session.get(f"{esi_emulator.url}/status")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert response.headers["Cache-Control"] == "public, max-age=30"
    expires = email.utils.parsedate_to_datetime(response.headers["Expires"]).timestamp()
    assert 25 <= expires - time.time() <= 31
    assert email.utils.parsedate_to_datetime(response.headers["Last-Modified"])
    assert response.headers["ETag"].startswith('"') and response.headers["ETag"].endswith('"')
    assert response.headers["X-ESI-Error-Limit-Remain"] == "100"
    assert 0 < int(response.headers["X-ESI-Error-Limit-Reset"]) <= 60
    body = response.json()
    assert set(body) >= {"players", "server_version", "start_time"}
    assert body["start_time"].endswith("Z")


@pytest.mark.parametrize("path", ["/status", "/status/", "/latest/status/", "/v2/status", "/dev/status", "/legacy/status"])
def test_version_prefix_and_trailing_slash(esi_emulator, session, path):
    response = session.get(f"{esi_emulator.url}{path}")
    assert response.status_code == 200
    assert esi_emulator.requests[-1].operation_id == "GetStatus"


def test_if_none_match_gives_304(esi_emulator, session):
    first = session.get(f"{esi_emulator.url}/status")
    etag = first.headers["ETag"]
    response = session.get(f"{esi_emulator.url}/status", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["ETag"] == etag
    assert "Cache-Control" in response.headers and "Expires" in response.headers
    assert session.get(f"{esi_emulator.url}/status", headers={"If-None-Match": '"other"'}).status_code == 200
    # keep-alive survives a body-less answer
    assert session.get(f"{esi_emulator.url}/status").status_code == 200


def test_etag_changes_with_the_body(esi_emulator, session):
    before = session.get(f"{esi_emulator.url}/status").headers["ETag"]
    esi_emulator.esi.set_response("get_status", {"players": 7})
    response = session.get(f"{esi_emulator.url}/status", headers={"If-None-Match": before})
    assert response.status_code == 200 and response.json() == {"players": 7}
    assert response.headers["ETag"] != before


def test_set_response(esi_emulator, session):
    esi_emulator.esi.set_response("GetStatus", {"players": 1}, status=203, headers={"X-Extra": "1"})
    response = session.get(f"{esi_emulator.url}/status")
    assert (response.status_code, response.json(), response.headers["X-Extra"]) == (203, {"players": 1}, "1")
    esi_emulator.esi.set_response("GET /universe/types/{type_id}", {"error": "Type not found!"}, status=404)
    esi_emulator.esi.set_response("get_universe_types_type_id", {"name": "Rifter"}, params={"type_id": 587})
    assert session.get(f"{esi_emulator.url}/universe/types/587").json() == {"name": "Rifter"}
    missing = session.get(f"{esi_emulator.url}/universe/types/1")
    assert missing.status_code == 404 and missing.json() == {"error": "Type not found!"}
    assert "ETag" not in missing.headers
    esi_emulator.esi.clear()
    assert session.get(f"{esi_emulator.url}/universe/types/1").status_code == 200


def test_set_response_by_concrete_path_and_unknown_operation(esi_emulator, session):
    esi_emulator.esi.set_response("GET /latest/alliances/", [1, 2, 3])
    assert session.get(f"{esi_emulator.url}/alliances").json() == [1, 2, 3]
    with pytest.raises(KeyError):
        esi_emulator.esi.set_response("GetNothing", {})
    with pytest.raises(ValueError):
        esi_emulator.esi.set_response("GetStatus")


def test_set_handler(esi_emulator, session, ada_token):
    seen = []

    def handler(request, match):
        seen.append((request.method, match))
        return 200, {"X-Handled": "yes"}, [{"item_id": match["character_id"]}]

    esi_emulator.esi.set_handler("GetCharactersCharacterIdAssets", handler)
    response = session.get(f"{esi_emulator.url}/characters/{ADA}/assets", headers=bearer(ada_token))
    assert response.json() == [{"item_id": ADA}] and response.headers["X-Handled"] == "yes"
    assert seen == [("GET", {"character_id": ADA})]
    assert response.headers["X-Pages"] == "1" and "ETag" in response.headers


def test_x_pages_and_page_selection(esi_emulator, session, ada_token):
    url = f"{esi_emulator.url}/characters/{ADA}/assets"
    esi_emulator.esi.set_response("GetCharactersCharacterIdAssets", pages=[[{"item_id": 1}], [{"item_id": 2}], []])
    first = session.get(url, headers=bearer(ada_token))
    assert first.headers["X-Pages"] == "3" and first.json() == [{"item_id": 1}]
    second = session.get(url, params={"page": 2}, headers=bearer(ada_token))
    assert second.json() == [{"item_id": 2}] and second.headers["X-Pages"] == "3"
    assert first.headers["Last-Modified"] == second.headers["Last-Modified"]
    past = session.get(url, params={"page": 4}, headers=bearer(ada_token))
    assert past.status_code == 404 and "error" in past.json()
    bad = session.get(url, params={"page": 0}, headers=bearer(ada_token))
    assert bad.status_code == 400 and "page" in bad.json()["error"]


def test_set_pages(esi_emulator, session):
    esi_emulator.esi.set_pages("GetMarketsRegionIdOrders", 5)
    url = f"{esi_emulator.url}/markets/10000002/orders"
    response = session.get(url, params={"order_type": "all", "page": 5})
    assert response.headers["X-Pages"] == "5" and isinstance(response.json(), list)


def test_cursor_pages(esi_emulator, session):
    url = f"{esi_emulator.url}/freelance-jobs"
    esi_emulator.esi.set_response("GetFreelanceJobsListing", pages=[[{"id": "a"}], [{"id": "b"}], [{"id": "c"}]])
    newest = session.get(url).json()
    assert newest["freelance_jobs"] == [{"id": "c"}] and set(newest["cursor"]) == {"before", "after"}
    seen, cursor = [], newest["cursor"]["before"]
    while True:
        page = session.get(url, params={"before": cursor}).json()
        if not page["freelance_jobs"]:
            break
        seen.append(page["freelance_jobs"][0]["id"])
        cursor = page["cursor"]["before"]
    assert seen == ["b", "a"]
    assert session.get(url, params={"after": newest["cursor"]["after"]}).json()["freelance_jobs"] == []
    forward = session.get(url, params={"after": "0"}).json()
    assert forward["freelance_jobs"] == [{"id": "a"}]
    assert session.get(url, params={"after": forward["cursor"]["after"]}).json()["freelance_jobs"] == [{"id": "b"}]
    assert session.get(url, params={"before": "0"}).json()["freelance_jobs"] == [{"id": "c"}]
    assert session.get(url, params={"before": "x", "after": "y"}).status_code == 400
    assert session.get(url, params={"after": "not-a-cursor"}).status_code == 400
    assert "X-Pages" not in session.get(url).headers


def test_cursor_default_body(esi_emulator, session):
    body = session.get(f"{esi_emulator.url}/freelance-jobs").json()
    assert isinstance(body["freelance_jobs"], list) and body["freelance_jobs"]
    assert set(body["cursor"]) == {"before", "after"}


def test_auth_required(esi_emulator, session):
    url = f"{esi_emulator.url}/characters/{ADA}/assets"
    response = session.get(url)
    assert response.status_code == 401 and "authentication required" in response.json()["error"]
    response = session.get(url, headers={"Authorization": "Basic abc"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"sign_with_unknown_key": True}, "Signature"),
        ({"kid": "nope"}, "unknown key"),
        ({"exp": 1}, "expired"),
        ({"issuer": "https://login.eveonline.com"}, "issuer"),
        ({"audience": "someone-else"}, "audience"),
        ({"extra_claims": {"sub": "CORPORATION:EVE:1"}}, "subject"),
    ],
)
def test_bad_tokens_get_401(esi_emulator, session, overrides, reason):
    token = esi_emulator.sso.issue_access_token(ADA, [ASSETS], **overrides)
    response = session.get(f"{esi_emulator.url}/characters/{ADA}/assets", headers=bearer(token))
    assert response.status_code == 401
    assert reason.lower() in response.json()["error"].lower()


def test_garbage_token_gets_401(esi_emulator, session):
    response = session.get(f"{esi_emulator.url}/characters/{ADA}/assets", headers=bearer("not.a.jwt"))
    assert response.status_code == 401


def test_es256_token_is_accepted(esi_emulator, session):
    token = esi_emulator.sso.issue_access_token(ADA, [ASSETS], alg="ES256")
    assert session.get(f"{esi_emulator.url}/characters/{ADA}/assets", headers=bearer(token)).status_code == 200


def test_scope_and_character_are_checked(esi_emulator, session, ada_token):
    wrong_scope = esi_emulator.sso.issue_access_token(ADA, ["esi-skills.read_skills.v1"])
    response = session.get(f"{esi_emulator.url}/characters/{ADA}/assets", headers=bearer(wrong_scope))
    assert response.status_code == 403 and response.json() == {"error": "token not valid for scope"}
    response = session.get(f"{esi_emulator.url}/characters/{BRAM}/assets", headers=bearer(ada_token))
    assert response.status_code == 403 and "character" in response.json()["error"]


def test_token_in_query_is_refused(esi_emulator, session, ada_token):
    response = session.get(f"{esi_emulator.url}/characters/{ADA}/assets", params={"token": ada_token})
    assert response.status_code == 400 and "Authorization" in response.json()["error"]


def test_public_route_ignores_missing_token(esi_emulator, session):
    assert session.get(f"{esi_emulator.url}/alliances/99000001").status_code == 200


def test_error_limit_counts_down_to_420():
    with Emulator(error_limit=3, error_window=1) as emulator, requests.Session() as session:
        remains = []
        for _ in range(3):
            response = session.get(f"{emulator.url}/nowhere")
            assert response.status_code == 404
            remains.append(response.headers["X-ESI-Error-Limit-Remain"])
        assert remains == ["2", "1", "0"]
        limited = session.get(f"{emulator.url}/status")
        assert limited.status_code == 420 and "error limit" in limited.json()["error"]
        assert limited.headers["X-ESI-Error-Limit-Remain"] == "0"
        # SSO is not behind the ESI error limit.
        assert session.get(f"{emulator.url}/oauth/jwks").status_code == 200
        time.sleep(1.05)
        recovered = session.get(f"{emulator.url}/status")
        assert recovered.status_code == 200 and recovered.headers["X-ESI-Error-Limit-Remain"] == "3"


def test_rate_limit_headers_and_429(esi_emulator, session, ada_token):
    url = f"{esi_emulator.url}/characters/{ADA}/notifications"
    response = session.get(url, headers=bearer(ada_token))
    assert response.headers["X-Ratelimit-Group"] == "char-notification"
    assert response.headers["X-Ratelimit-Limit"] == "15/15m"
    assert (response.headers["X-Ratelimit-Remaining"], response.headers["X-Ratelimit-Used"]) == ("13", "2")
    not_modified = session.get(url, headers={**bearer(ada_token), "If-None-Match": response.headers["ETag"]})
    assert (not_modified.status_code, not_modified.headers["X-Ratelimit-Used"]) == (304, "1")
    assert not_modified.headers["X-Ratelimit-Remaining"] == "12"
    for _ in range(6):
        response = session.get(url, headers=bearer(ada_token))
    assert response.status_code == 200 and response.headers["X-Ratelimit-Remaining"] == "0"
    limited = session.get(url, headers=bearer(ada_token))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 800
    assert limited.headers["X-Ratelimit-Group"] == "char-notification"
    # Buckets are per character: Bram is unaffected.
    bram = esi_emulator.sso.issue_access_token(BRAM, [NOTIFICATIONS])
    assert session.get(f"{esi_emulator.url}/characters/{BRAM}/notifications", headers=bearer(bram)).status_code == 200


def test_client_errors_cost_five_tokens(esi_emulator, session, ada_token):
    url = f"{esi_emulator.url}/characters/{BRAM}/notifications"
    response = session.get(url, headers=bearer(ada_token))
    assert response.status_code == 403 and response.headers["X-Ratelimit-Used"] == "5"


def test_compatibility_date_and_tenant(esi_emulator, session):
    url = f"{esi_emulator.url}/status"
    ok = session.get(url, headers={"X-Compatibility-Date": "2025-08-26", "X-Tenant": "tranquility"})
    assert ok.status_code == 200
    recorded = esi_emulator.requests[-1]
    assert (recorded.compatibility_date, recorded.tenant) == ("2025-08-26", "tranquility")
    assert session.get(url, params={"compatibility_date": "2020-01-01", "datasource": "singularity"}).status_code == 200
    assert esi_emulator.requests[-1].tenant == "singularity"
    for bad in ({"headers": {"X-Compatibility-Date": "26/08/2025"}}, {"params": {"compatibility_date": "2025-02-30"}}):
        response = session.get(url, **bad)
        assert response.status_code == 400 and "compatibility date" in response.json()["error"]
    for bad in ({"headers": {"X-Tenant": "serenity"}}, {"params": {"datasource": "x"}}):
        response = session.get(url, **bad)
        assert response.status_code == 400 and "tenant" in response.json()["error"]


def test_query_and_body_validation(esi_emulator, session):
    orders = f"{esi_emulator.url}/markets/10000002/orders"
    assert "order_type" in session.get(orders).json()["error"]
    assert session.get(orders, params={"order_type": "everything"}).status_code == 400
    assert session.get(orders, params={"order_type": "sell"}).status_code == 200
    names = f"{esi_emulator.url}/universe/names"
    assert session.post(names, json=[30000142]).status_code == 200
    assert session.post(names, data=b"[1, 2", headers={"Content-Type": "application/json"}).status_code == 400
    assert "JSON array" in session.post(names, json={"ids": [1]}).json()["error"]
    assert session.post(names).json()["error"] == "request body required"


@pytest.mark.parametrize(
    ("method", "path", "name", "scope"),
    [
        ("DELETE", "/characters/{ada}/contacts", "contact_ids", "esi-characters.write_contacts.v1"),
        ("GET", "/characters/{ada}/mail", "labels", "esi-mail.read_mail.v1"),
    ],
)
def test_array_query_parameters_take_commas_not_repeated_keys(esi_emulator, session, method, path, name, scope):
    """ESI reads ?ids=1,2,3; a repeated key is refused, as the client once sent it."""
    url = esi_emulator.url + path.format(ada=ADA)
    headers = bearer(esi_emulator.sso.issue_access_token(ADA, [scope]))
    repeated = session.request(method, url, params=[(name, "1"), (name, "2")], headers=headers)
    assert repeated.status_code == 400
    assert repeated.json()["error"] == f"query parameter {name} given 2 times: ESI takes the values separated by commas ({name}=1,2,3)"
    assert session.request(method, url, params={name: "1,2"}, headers=headers).status_code < 300
    assert session.request(method, url, params={name: "1,x"}, headers=headers).status_code == 400


def test_unknown_route_and_method(esi_emulator, session):
    missing = session.get(f"{esi_emulator.url}/no/such/route")
    assert missing.status_code == 404 and missing.json() == {"error": "Not found"}
    wrong = session.delete(f"{esi_emulator.url}/status")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET"


def test_spec_is_served_pointing_at_the_emulator(esi_emulator, session):
    spec = session.get(f"{esi_emulator.url}/meta/openapi.json")
    assert spec.status_code == 200 and spec.json()["servers"] == [{"url": esi_emulator.url}]
    assert session.get(f"{esi_emulator.url}/meta/openapi.json", headers={"If-None-Match": spec.headers["ETag"]}).status_code == 304


def test_swagger_spec(swagger_emulator, session):
    url = swagger_emulator.url
    response = session.get(f"{url}/latest/status/", params={"datasource": "tranquility"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "public, max-age=30"
    assert response.json()["players"] == 12345  # the spec's response example
    assert session.get(f"{url}/v1/status/").status_code == 200
    served = session.get(f"{url}/latest/swagger.json").json()
    assert served["host"] == url.split("://", 1)[1] and served["basePath"] == "/latest"
    token = swagger_emulator.sso.issue_access_token(ADA, [ASSETS])
    assets = session.get(f"{url}/v5/characters/{ADA}/assets/", headers=bearer(token))
    assert assets.status_code == 200 and assets.headers["X-Pages"] == "1"
    assert session.get(f"{url}/latest/characters/{ADA}/assets/").status_code == 401


def test_request_log(esi_emulator, session):
    session.get(f"{esi_emulator.url}/status", params={"a": ["1", "2"]}, headers={"X-Thing": "v"})
    session.get(f"{esi_emulator.url}/oauth/jwks")
    session.get(f"{esi_emulator.url}/_emulator/state")
    esi, sso, control = esi_emulator.requests
    assert (esi.kind, sso.kind, control.kind) == ("esi", "sso", "control")
    assert esi.method == "GET" and esi.path == "/status" and esi.query == {"a": ["1", "2"]}
    assert esi.headers["x-thing"] == "v" and "X-THING" in esi.headers and esi.status == 200
    esi_emulator.reset()
    assert esi_emulator.requests == []


def test_keep_alive_reuses_one_connection(esi_emulator, session):
    for _ in range(20):
        session.get(f"{esi_emulator.url}/status")
    assert len({r.client_port for r in esi_emulator.requests}) == 1


def test_every_bucket_can_be_given_one_size(session):
    with Emulator(rate_limit="4/2s") as emulator:
        token = emulator.sso.issue_access_token(ADA, [NOTIFICATIONS])
        url = f"{emulator.url}/characters/{ADA}/notifications"
        first = session.get(url, headers=bearer(token))
        assert (first.headers["X-Ratelimit-Limit"], first.headers["X-Ratelimit-Remaining"]) == ("4/2s", "2")
        assert session.get(url, headers=bearer(token)).headers["X-Ratelimit-Remaining"] == "0"
        limited = session.get(url, headers=bearer(token))
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 2
        # Public buckets too (per IP): /incursions is 150/15m in the spec.
        assert session.get(f"{emulator.url}/incursions").headers["X-Ratelimit-Limit"] == "4/2s"
        time.sleep(2.05)
        assert session.get(url, headers=bearer(token)).status_code == 200
        statuses = emulator.state()["requests"]["esi_statuses"]
    assert statuses == {"200": 4, "429": 1}


@pytest.mark.parametrize("size", ["", "4", "x/2s", "0/2s", "4/0s", "4/2y", "-1/2s", "4/ 2 s"])
def test_a_bucket_size_that_is_not_one_is_refused(size):
    with pytest.raises(ValueError, match="unreadable rate limit"):
        Emulator(rate_limit=size)


def test_rate_limits_can_be_switched_off(session):
    with Emulator(rate_limits=False) as emulator:
        token = emulator.sso.issue_access_token(ADA, [NOTIFICATIONS])
        url = f"{emulator.url}/characters/{ADA}/notifications"
        for _ in range(10):
            response = session.get(url, headers=bearer(token))
            assert response.status_code == 200
        assert response.headers["X-Ratelimit-Remaining"] == "15"
