"""Malformed and hostile input: each gets a clear 4xx and the server keeps serving."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
import requests

from .utils import ADA, authorize


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


@pytest.fixture(autouse=True)
def still_serving(esi_emulator):
    yield
    assert requests.get(f"{esi_emulator.url}/status", timeout=5).status_code == 200


def raw(emulator, data: bytes) -> bytes:
    """Send raw bytes, return everything the server answers until it closes or idles."""
    parts = urlsplit(emulator.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" not in b"".join(chunks):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


@pytest.mark.parametrize(
    "path",
    ["/%ff%fe/../../etc/passwd", "/characters//assets", "/" + "a/" * 500, "/status/%00", "/.."],
)
def test_garbage_paths(esi_emulator, session, path):
    response = session.get(f"{esi_emulator.url}{path}")
    assert 400 <= response.status_code < 500 and "error" in response.json()


@pytest.mark.parametrize("value", ["abc", "1.5", "-", "9" * 40, "1e3", "0x10", " 1"])
def test_non_integer_path_parameter(esi_emulator, session, value):
    response = session.get(f"{esi_emulator.url}/alliances/{value}")
    assert response.status_code == 400 and "alliance_id" in response.json()["error"]


def test_malformed_json_body(esi_emulator, session):
    for body in (b"{", b"\xff\xfe", b"[1,]", b"nul"):
        response = session.post(f"{esi_emulator.url}/universe/ids", data=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and "malformed JSON" in response.json()["error"]


def test_huge_and_hostile_query_values(esi_emulator, session):
    big = "x" * 30000
    response = session.get(f"{esi_emulator.url}/markets/10000002/orders", params={"order_type": big})
    assert response.status_code == 400 and len(response.content) < 2000
    many = "&".join(f"p{i}=1" for i in range(500))
    assert session.get(f"{esi_emulator.url}/status?{many}").status_code == 400
    weird = session.get(f"{esi_emulator.url}/status?%zz=%%%&a=%00&b=\u2603")
    assert weird.status_code == 200


def test_request_line_too_long(esi_emulator):
    answer = raw(esi_emulator, b"GET /status?" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 414")


@pytest.mark.parametrize(
    "data",
    [
        b"NONSENSE\r\n\r\n",
        b"GET /status HTTP/9.9\r\n\r\n",
        b"POST /universe/ids HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /universe/ids HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n",
        b"POST /universe/ids HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_broken_http(esi_emulator, data):
    answer = raw(esi_emulator, data)
    assert answer.startswith(b"HTTP/1.1 4") or answer.startswith(b"HTTP/1.1 505")
    assert b'{"error":' in answer


def test_chunked_body_is_read(esi_emulator):
    body = b'["Jita"]'
    request = (
        b"POST /universe/ids HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    )
    assert raw(esi_emulator, request).startswith(b"HTTP/1.1 200")


def test_authorize_escapes_and_sanitises(esi_emulator, session):
    page = authorize(esi_emulator, session, scope="<script>alert(1)</script>", state='"><img src=x>')
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x>" not in page.text
    redirect = authorize(
        esi_emulator, session, character_id=str(ADA), redirect_uri="http://testserver/cb\r\nSet-Cookie: x=1"
    )
    assert redirect.status_code == 302 and "Set-Cookie" not in redirect.headers
    assert "\r" not in redirect.headers["Location"]
    bad_name = authorize(esi_emulator, session, character_id="", character_name="x" * 500)
    assert bad_name.status_code == 400


def test_hostile_headers(esi_emulator, session):
    headers = {"Authorization": "Bearer " + "a" * 5000, "If-None-Match": "," * 1000, "X-Tenant": "\u00e9"}
    response = session.get(f"{esi_emulator.url}/characters/{ADA}/assets", headers=headers)
    assert response.status_code in (400, 401)
