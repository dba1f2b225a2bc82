"""Loopback HTTP servers that misbehave on purpose, for what the emulator will not do: answer
a byte at a time (slowloris) or without end. Each accepts any number of connections and
hands each one to ``answer(connection, request_head)`` in a thread of its own."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

Answer = Callable[[socket.socket, bytes, "Server"], None]


class Server:
    """``answer`` is called with the connection, the request's head (request line and
    headers; a body is left unread) and the server. ``heads`` keeps every head."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.heads: list[bytes] = []
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
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                head += chunk
            self.heads.append(head)
            try:
                self.answer(connection, head, self)
            except OSError:  # the client hung up: what these tests provoke
                pass

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


def trickle(data: bytes, interval: float) -> Answer:
    """Send ``data`` one byte every ``interval`` seconds (until the server is closed)."""

    def answer(connection: socket.socket, head: bytes, server: Server) -> None:
        for byte in data:
            if server.stopped:
                return
            connection.sendall(bytes([byte]))
            time.sleep(interval)

    return answer


def response(body: bytes, status: str = "200 OK", headers: str = "Content-Type: application/json\r\n") -> bytes:
    """An HTTP/1.1 answer with ``Content-Length``."""
    return f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body
