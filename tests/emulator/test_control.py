"""The control HTTP API (``/_emulator/...``) for out-of-process users."""

from __future__ import annotations

import jwt
import pytest
import requests

from .utils import ADA


@pytest.fixture
def control(esi_emulator):
    session = requests.Session()
    base = f"{esi_emulator.url}/_emulator"

    def call(method: str, path: str, **kwargs) -> requests.Response:
        return session.request(method, f"{base}{path}", **kwargs)

    yield call
    session.close()


def test_faults(esi_emulator, control):
    response = control("POST", "/faults", json={"target": "GetStatus", "status": 503, "times": 1})
    assert response.status_code == 201 and response.json()["fault"]["target"] == "GetStatus"
    assert requests.get(f"{esi_emulator.url}/status").status_code == 503
    assert requests.get(f"{esi_emulator.url}/status").status_code == 200
    control("POST", "/faults", json={"target": "esi", "status": 500})
    assert len(control("GET", "/faults").json()["faults"]) == 1
    assert control("DELETE", "/faults").json() == {"cleared": 1}
    assert requests.get(f"{esi_emulator.url}/status").status_code == 200


def test_responses(esi_emulator, control):
    response = control("POST", "/responses", json={"operation": "get_status", "body": {"players": 3}})
    assert response.status_code == 201 and response.json() == {"operation": "GetStatus"}
    assert requests.get(f"{esi_emulator.url}/status").json() == {"players": 3}
    control("POST", "/responses", json={"operation": "GetAlliances", "pages": [[1], [2]], "headers": {"X-A": "b"}})
    second = requests.get(f"{esi_emulator.url}/alliances", params={"page": 2})
    # GET /alliances is not paged: the first page is the body.
    assert second.json() == [1] and second.headers["X-A"] == "b"
    assert control("DELETE", "/responses").status_code == 200
    assert requests.get(f"{esi_emulator.url}/status").json() != {"players": 3}


def test_reset_and_state(esi_emulator, control):
    requests.get(f"{esi_emulator.url}/nowhere")
    esi_emulator.sso.transfer_character(ADA)
    state = control("GET", "/state").json()
    assert state["url"] == esi_emulator.url
    assert state["spec"]["kind"] == "openapi" and state["spec"]["operations"] == 225
    assert state["requests"]["esi"] == 1 and state["error_limit"]["remain"] == 99
    assert set(state["sso"]["stats"]) == {"authorize", "code_exchanges", "refreshes", "refresh_failures", "revocations", "jwks", "token_peak"}
    owner = next(c["owner_hash"] for c in state["sso"]["characters"] if c["character_id"] == ADA)
    assert control("POST", "/reset").json() == {"reset": True, "sso": False}
    state = control("GET", "/state").json()
    assert state["error_limit"]["remain"] == 100 and state["requests"]["esi"] == 0
    assert owner in {c["owner_hash"] for c in state["sso"]["characters"]}
    control("POST", "/reset", json={"sso": True})
    state = control("GET", "/state").json()
    assert owner not in {c["owner_hash"] for c in state["sso"]["characters"]}


def test_tokens(esi_emulator, control):
    grant = control("POST", "/tokens", json={"character_id": ADA, "scopes": ["esi-assets.read_assets.v1"]}).json()
    claims = jwt.decode(grant["access_token"], options={"verify_signature": False})
    assert claims["sub"] == f"CHARACTER:EVE:{ADA}" and claims["scp"] == "esi-assets.read_assets.v1"
    assert grant["refresh_token"] and grant["token_type"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/faults", {"data": b"{not json"}, 400),
        ("POST", "/faults", {"json": ["a"]}, 400),
        ("POST", "/faults", {"json": {"status": 500}}, 400),
        ("POST", "/faults", {"json": {"target": "esi", "colour": "red"}}, 400),
        ("POST", "/faults", {"json": {"target": "GetNothing", "status": 500}}, 400),
        ("POST", "/responses", {"json": {"operation": "GetNothing", "body": 1}}, 400),
        ("POST", "/responses", {"json": {"operation": "GetStatus"}}, 400),
        ("POST", "/tokens", {"json": {"character_id": "x"}}, 400),
        ("GET", "/reset", {}, 405),
        ("GET", "/nothing", {}, 404),
    ],
)
def test_bad_control_requests(esi_emulator, control, method, path, kwargs, status):
    response = control(method, path, **kwargs)
    assert response.status_code == status and response.json()["error"]
    assert requests.get(f"{esi_emulator.url}/status").status_code == 200
