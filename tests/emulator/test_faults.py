"""Injected faults: statuses, latency, dropped connections, SSO outages."""

from __future__ import annotations

import time

import pytest
import requests

from .utils import ADA


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


def test_status_fault(esi_emulator, session):
    esi_emulator.faults.add("esi", status=503)
    response = session.get(f"{esi_emulator.url}/status")
    assert response.status_code == 503 and response.json() == {"error": "Service Unavailable"}
    assert response.headers["X-ESI-Error-Limit-Remain"] == "99"
    assert "X-Ratelimit-Group" not in response.headers


def test_420_fault_has_the_error_limit_body(esi_emulator, session):
    esi_emulator.faults.add("GetStatus", status=420)
    response = session.get(f"{esi_emulator.url}/status")
    assert response.status_code == 420 and "error limit" in response.json()["error"]
    assert response.reason == "Error Limited"


def test_429_fault_with_retry_after(esi_emulator, session):
    esi_emulator.faults.add("get_status", status=429, retry_after=7, body={"error": "slow down"})
    response = session.get(f"{esi_emulator.url}/status")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
    assert response.json() == {"error": "slow down"}


def test_latency(esi_emulator, session):
    esi_emulator.faults.latency(0.3)
    started = time.monotonic()
    assert session.get(f"{esi_emulator.url}/status").status_code == 200
    assert 0.28 <= time.monotonic() - started < 2
    started = time.monotonic()
    session.get(f"{esi_emulator.url}/oauth/jwks")
    assert time.monotonic() - started < 0.25  # SSO is not "esi"


def test_latency_adds_to_a_status_fault(esi_emulator, session):
    esi_emulator.faults.add("/status", latency=0.2, status=502)
    started = time.monotonic()
    assert session.get(f"{esi_emulator.url}/status").status_code == 502
    assert time.monotonic() - started >= 0.18


def test_drop(esi_emulator, session):
    esi_emulator.faults.add("esi", drop=True, times=1)
    with pytest.raises(requests.ConnectionError):
        session.get(f"{esi_emulator.url}/status")
    assert esi_emulator.requests[-1].status is None
    assert session.get(f"{esi_emulator.url}/status").status_code == 200
    # A dropped request counts against the error limit, like a timeout.
    assert session.get(f"{esi_emulator.url}/status").headers["X-ESI-Error-Limit-Remain"] == "99"


def test_times_then_healthy(esi_emulator, session):
    fault = esi_emulator.faults.add("GET /status", status=500, times=2)
    statuses = [session.get(f"{esi_emulator.url}/status").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert fault.hits == 2 and esi_emulator.faults.active == []


def test_targets(esi_emulator, session):
    esi_emulator.faults.add("/latest/alliances", status=500)
    esi_emulator.faults.add("GetCharactersCharacterIdPortrait", status=502)
    assert session.get(f"{esi_emulator.url}/latest/alliances/").status_code == 500
    assert session.get(f"{esi_emulator.url}/alliances").status_code == 200
    assert session.get(f"{esi_emulator.url}/characters/{ADA}/portrait").status_code == 502
    assert session.get(f"{esi_emulator.url}/status").status_code == 200


def test_remove_and_clear(esi_emulator, session):
    fault = esi_emulator.faults.add("esi", status=500)
    esi_emulator.faults.remove(fault)
    assert session.get(f"{esi_emulator.url}/status").status_code == 200
    esi_emulator.faults.add("esi", status=500)
    esi_emulator.faults.clear()
    assert session.get(f"{esi_emulator.url}/status").status_code == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target": "GetNothing", "status": 500},
        {"target": "sso:nothing", "status": 500},
        {"target": "esi", "status": 999},
        {"target": "esi", "status": 500, "drop": True},
        {"target": "esi", "latency": -1},
        {"target": "esi", "latency": float("nan")},
        {"target": "esi", "latency": float("inf")},
        {"target": "esi", "latency": "1"},
        {"target": "esi", "latency": True},
        {"target": "esi", "times": 0},
    ],
)
def test_bad_faults_are_refused(esi_emulator, kwargs):
    target = kwargs.pop("target")
    with pytest.raises(ValueError):
        esi_emulator.faults.add(target, **kwargs)
    assert esi_emulator.faults.active == []


@pytest.mark.parametrize("latency", ["NaN", "Infinity", "-Infinity", "-1", '"soon"'])
def test_a_fault_with_unusable_latency_is_refused_by_the_control_api(esi_emulator, session, latency):
    """Python's json module reads NaN and Infinity: a fault with them once made every
    request it matched answer 500."""
    answer = session.post(
        f"{esi_emulator.url}/_emulator/faults",
        data=f'{{"target": "esi", "latency": {latency}}}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and "latency" in answer.json()["error"]
    assert session.get(f"{esi_emulator.url}/status").status_code == 200


def test_sso_outage(esi_emulator, session):
    esi_emulator.faults.sso_outage()
    for path in ("/v2/oauth/token", "/oauth/jwks", "/.well-known/oauth-authorization-server"):
        response = session.request("POST" if "token" in path else "GET", f"{esi_emulator.url}{path}")
        assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
    assert session.get(f"{esi_emulator.url}/status").status_code == 200
    assert esi_emulator.sso.stats["jwks"] == 0


def test_sso_outage_dropping_connections(esi_emulator, session):
    esi_emulator.faults.sso_outage(drop=True)
    with pytest.raises(requests.ConnectionError):
        session.post(f"{esi_emulator.url}/v2/oauth/token", data={"grant_type": "refresh_token"})


def test_single_sso_endpoint(esi_emulator, session):
    esi_emulator.faults.add("sso:token", status=502, times=1)
    grant = esi_emulator.sso.issue_grant(ADA, [])
    data = {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]}
    auth = ("test-client-id", "test-client-secret")
    assert session.post(f"{esi_emulator.url}/v2/oauth/token", data=data, auth=auth).status_code == 502
    assert session.get(f"{esi_emulator.url}/oauth/jwks").status_code == 200
    assert session.post(f"{esi_emulator.url}/v2/oauth/token", data=data, auth=auth).status_code == 200
