"""Loopback HTTP servers that misbehave at the byte level, for what the emulator will not do:
answers cut short or trickled a byte at a time (slowloris), bodies that are not what their
headers say. Each connection is handed to ``handle(connection, server)`` in a thread of its
own."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

Handle = Callable[[socket.socket, "Server"], None]


class Server:
    """Counts the ``connections`` it accepted and the ``requests`` its handlers read (with
    :meth:`read_head`); :attr:`url` is its base URL."""

    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.connections = 0
        self.requests = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(connection,), daemon=True).start()

    def _run(self, connection: socket.socket) -> None:
        with connection:
            try:
                self.handle(connection, self)
            except OSError:  # the client hung up: what these tests provoke
                pass

    def read_head(self, reader: socket.SocketIO | object) -> bool:
        """Read one request's line and headers from ``reader`` (``connection.makefile("rb")``);
        ``False`` when the client closed the connection instead."""
        line = reader.readline()  # type: ignore[attr-defined]
        if not line:
            return False
        while reader.readline() not in (b"\r\n", b""):  # type: ignore[attr-defined]
            pass
        self.requests += 1
        return True

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        self._stop.set()
        self._socket.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def scripted(answers: list[bytes]) -> Handle:
    """Answer each request, on any connection, with the next of ``answers`` (keeping the
    connection open until an answer says ``Connection: close``)."""
    remaining = list(answers)

    def handle(connection: socket.socket, server: Server) -> None:
        reader = connection.makefile("rb")
        while remaining and server.read_head(reader):
            answer = remaining.pop(0)
            connection.sendall(answer)
            if b"Connection: close" in answer:
                return

    return handle


def trickle(data: bytes, interval: float, *, at_once: int = 0) -> Handle:
    """Read one request, send the first ``at_once`` bytes of ``data``, then the rest one
    byte every ``interval`` seconds (until the server is closed)."""

    def handle(connection: socket.socket, server: Server) -> None:
        if not server.read_head(connection.makefile("rb")):
            return
        connection.sendall(data[:at_once])
        for byte in data[at_once:]:
            if server.stopped:
                return
            connection.sendall(bytes([byte]))
            time.sleep(interval)

    return handle


def answer(body: bytes, *, length: int | None = None, extra: str = "", close: bool = False) -> bytes:
    """An HTTP/1.1 200 with a JSON ``body`` (``length``: another ``Content-Length``)."""
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n{extra}"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    )
    return head.encode() + body
