"""esi.http.transport against a real local server that misbehaves at the byte level: answers
cut short, bodies that are not what their headers say, answers trickled a byte at a time,
bodies too large, and connection reuse."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator

import pytest

from esi.errors import ESIConnectionError, ESIResponseTooLargeError
from esi.http import transport

from ..servers import Server, answer, scripted, trickle

BODY = b'{"players": 12345, "server_version": "2964201"}'


@pytest.fixture
def server() -> Iterator[list[Server]]:
    servers: list[Server] = []
    yield servers
    for s in servers:
        s.close()


def get(url: str, retries: int = 0) -> transport.EsiResponse:
    return transport.send(
        "GET",
        url + "/status/",
        query=[],
        headers={},
        body=None,
        timeout=(2, 2),
        retries=retries,
        group=None,
        character_id=None,
        operation="GetStatus",
    )


def test_whole_bodies_are_read_and_the_connection_is_reused(server):
    raw = Server(scripted([answer(BODY), answer(BODY), answer(BODY)]))
    server.append(raw)
    for _ in range(3):
        assert get(raw.url).content == BODY
    assert raw.requests == 3
    assert raw.connections == 1


def test_an_answer_cut_short_is_a_connection_error(server, settings):
    settings.ESI_SERVER_ERROR_BACKOFF_FACTOR = 0.01
    raw = Server(scripted([answer(BODY[:10], length=len(BODY), close=True)]))
    server.append(raw)
    with pytest.raises(ESIConnectionError, match="GetStatus"):
        get(raw.url)


def test_an_answer_cut_short_is_retried(server, settings):
    settings.ESI_SERVER_ERROR_BACKOFF_FACTOR = 0.01
    raw = Server(scripted([answer(BODY[:10], length=len(BODY), close=True), answer(BODY)]))
    server.append(raw)
    assert get(raw.url, retries=1).content == BODY
    assert raw.connections == 2  # the broken connection was not reused


def test_gzip_bodies_are_decompressed(server):
    raw = Server(scripted([answer(gzip.compress(BODY), extra="Content-Encoding: gzip\r\n")]))
    server.append(raw)
    assert get(raw.url).json() == {"players": 12345, "server_version": "2964201"}


def test_a_gzip_body_that_does_not_decompress_is_a_connection_error(server):
    raw = Server(scripted([answer(b"not gzip at all", extra="Content-Encoding: gzip\r\n", close=True)]))
    server.append(raw)
    with pytest.raises(ESIConnectionError):
        get(raw.url)


# -- a total deadline per call (slowloris) ----------------------------------------------------

SEVENTY_SIX = b'{"players": 123456, "server_version": "2964201", "start_time": "2026-08-04"}'


def get_within(url: str, retries: int = 0) -> transport.EsiResponse:
    return transport.send(
        "GET", url + "/status/", query=[], headers={}, body=None, timeout=(0.5, 0.5), retries=retries,
        group=None, character_id=None, operation="GetStatus",
    )


@pytest.mark.parametrize("what", ["body", "head"])
def test_an_answer_trickled_within_the_read_timeout_is_cut_at_the_total_deadline(settings, what):
    """Each byte comes well within the 0.5 s read timeout; the 76-byte body would take 7.6 s
    (and took 148 s against a 10 s read timeout before the deadline existed)."""
    settings.ESI_REQUESTS_TOTAL_TIMEOUT = 1
    assert len(SEVENTY_SIX) == 76
    whole = answer(SEVENTY_SIX)
    if what == "body":
        server = Server(trickle(whole, 0.1, at_once=len(whole) - len(SEVENTY_SIX)))
    else:
        server = Server(trickle(whole, 0.05))  # 150 bytes of head and body: 7.5 s
    with server:
        started = time.monotonic()
        with pytest.raises(ESIConnectionError, match="within 1 s"):
            get_within(server.url, retries=3)  # no retry once the deadline has passed
        assert time.monotonic() - started < 3
    assert server.requests == 1


def test_an_answer_within_the_deadline_is_read_whole(settings):
    settings.ESI_REQUESTS_TOTAL_TIMEOUT = 5
    with Server(trickle(answer(SEVENTY_SIX), 0.002)) as server:
        assert get_within(server.url).content == SEVENTY_SIX


def test_a_longer_timeout_argument_widens_the_deadline(settings):
    """A caller's timeout=(connect, read) longer than ESI_REQUESTS_TOTAL_TIMEOUT still gets
    one attempt of that length."""
    settings.ESI_REQUESTS_TOTAL_TIMEOUT = 0.2
    with Server(trickle(answer(SEVENTY_SIX), 0.005)) as server:  # about 0.6 s
        response = transport.send(
            "GET", server.url + "/status/", query=[], headers={}, body=None, timeout=(1, 1), retries=0,
            group=None, character_id=None, operation="GetStatus",
        )
    assert response.content == SEVENTY_SIX


def test_the_deadline_leaves_pooled_connections_of_later_calls_alone(settings):
    """A connection handed back to the pool is not cut when the deadline of the call that
    used it passes."""
    settings.ESI_REQUESTS_TOTAL_TIMEOUT = 0.3
    raw = Server(scripted([answer(BODY), answer(BODY)]))
    try:
        assert get_within(raw.url).content == BODY
        time.sleep(0.5)  # the first call's deadline has passed
        assert get_within(raw.url).content == BODY
        assert raw.connections == 1
    finally:
        raw.close()


# -- body size ---------------------------------------------------------------------------------


def test_a_body_announced_larger_than_the_limit_is_not_read(server, settings):
    settings.ESI_MAX_RESPONSE_BYTES = 1000
    raw = Server(scripted([answer(b"x" * 1001), answer(BODY)]))
    server.append(raw)
    with pytest.raises(ESIResponseTooLargeError, match="announced 1001 bytes") as info:
        get(raw.url, retries=3)
    assert info.value.limit == 1000 and raw.requests == 1  # not retried
    assert get(raw.url).content == BODY  # on a new connection: the big one was closed
    assert raw.connections == 2


@pytest.mark.parametrize("encoding", ["chunked", "gzip"])
def test_a_body_larger_than_the_limit_without_a_length_is_cut(settings, encoding):
    """Chunked, or gzip that inflates (a 100 MB body once cost 470 MB of memory): reading
    stops one byte past the limit."""
    settings.ESI_MAX_RESPONSE_BYTES = 100_000
    if encoding == "gzip":
        payload = gzip.compress(b"[" + b"0," * 5_000_000 + b"0]")  # 10 MB inflated, 10 kB sent
        data = answer(payload, extra="Content-Encoding: gzip\r\n")
    else:
        chunk = b"x" * 65536
        data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"10000\r\n" + chunk + b"\r\n") * 200
    with Server(scripted([data])) as server:
        with pytest.raises(ESIResponseTooLargeError, match="sent more"):
            get(server.url)


def test_a_body_at_the_limit_is_read(server, settings):
    settings.ESI_MAX_RESPONSE_BYTES = len(BODY)
    raw = Server(scripted([answer(BODY)]))
    server.append(raw)
    assert get(raw.url).content == BODY
