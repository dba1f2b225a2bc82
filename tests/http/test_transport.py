"""esi.http.transport against a real local server that misbehaves at the byte level: answers
cut short, bodies that are not what their headers say, and connection reuse."""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Iterator

import pytest

from esi.errors import ESIConnectionError
from esi.http import transport

BODY = b'{"players": 12345, "server_version": "2964201"}'


class RawServer:
    """A loopback HTTP/1.1 server answering each request with the next scripted bytes; counts
    the connections it accepted."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)
        self.connections = 0
        self.requests = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            reader = connection.makefile("rb")
            while self.answers:
                line = reader.readline()
                if not line:
                    return
                while reader.readline() not in (b"\r\n", b""):
                    pass
                self.requests += 1
                answer = self.answers.pop(0)
                connection.sendall(answer)
                if b"Connection: close" in answer:
                    return

    def close(self) -> None:
        self._socket.close()


def answer(body: bytes, *, length: int | None = None, extra: str = "", close: bool = False) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n{extra}"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    )
    return head.encode() + body


@pytest.fixture
def server() -> Iterator[list[RawServer]]:
    servers: list[RawServer] = []
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
    raw = RawServer([answer(BODY), answer(BODY), answer(BODY)])
    server.append(raw)
    for _ in range(3):
        assert get(raw.url).content == BODY
    assert raw.requests == 3
    assert raw.connections == 1


def test_an_answer_cut_short_is_a_connection_error(server, settings):
    settings.ESI_SERVER_ERROR_BACKOFF_FACTOR = 0.01
    raw = RawServer([answer(BODY[:10], length=len(BODY), close=True)])
    server.append(raw)
    with pytest.raises(ESIConnectionError, match="GetStatus"):
        get(raw.url)


def test_an_answer_cut_short_is_retried(server, settings):
    settings.ESI_SERVER_ERROR_BACKOFF_FACTOR = 0.01
    raw = RawServer([answer(BODY[:10], length=len(BODY), close=True), answer(BODY)])
    server.append(raw)
    assert get(raw.url, retries=1).content == BODY
    assert raw.connections == 2  # the broken connection was not reused


def test_gzip_bodies_are_decompressed(server):
    raw = RawServer([answer(gzip.compress(BODY), extra="Content-Encoding: gzip\r\n")])
    server.append(raw)
    assert get(raw.url).json() == {"players": 12345, "server_version": "2964201"}


def test_a_gzip_body_that_does_not_decompress_is_a_connection_error(server):
    raw = RawServer([answer(b"not gzip at all", extra="Content-Encoding: gzip\r\n", close=True)])
    server.append(raw)
    with pytest.raises(ESIConnectionError):
        get(raw.url)
