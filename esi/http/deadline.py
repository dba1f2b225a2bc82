"""A total deadline for HTTP exchanges: from connecting to the last byte of the body.

requests' timeouts bound each socket operation (the connect, then each read), not the
exchange: a server that trickles its answer, every byte within the read timeout, holds the
caller as long as it likes (a 76-byte body took 148 s with a 10 s read timeout). Inside
:func:`limit`, every request made by a session whose adapters are :class:`DeadlineAdapter`
(the ESI transport's and EVE SSO's) has a deadline; one watchdog thread per process shuts
down the socket of an exchange still running at its deadline, and the block raises
:class:`DeadlineExceeded`, whether the cut connection raised something else or, as
http.client may with truncated headers, nothing at all.

The watchdog holds a reference to each connection armed in a block only until the block
ends, and fires only for the exchange it was armed for: a connection handed back to the
pool and taken by another request is never cut for this one's deadline.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: While a deadline has passed but its connection has no socket yet (still connecting),
#: the watchdog looks again after this many seconds.
_RECHECK = 0.05


class DeadlineExceeded(requests.exceptions.ReadTimeout):
    """An exchange did not finish within its total deadline. A ``ReadTimeout``: the request
    may have reached the server."""


@dataclass(eq=False)
class _Watch:
    deadline: float
    connection: Any = None
    fired: bool = False
    done: bool = False


@dataclass
class _Block:
    deadline: float
    watches: list[_Watch] = field(default_factory=list)


_local = threading.local()


def remaining() -> float | None:
    """Seconds left before the innermost :func:`limit` of this thread ends (at least 0),
    or ``None`` outside one."""
    block: _Block | None = getattr(_local, "block", None)
    return None if block is None else max(0.0, block.deadline - time.monotonic())


@contextmanager
def limit(seconds: float) -> Iterator[None]:
    """Give the HTTP exchanges made in this block (by this thread, through a
    :class:`DeadlineAdapter`) ``seconds`` in all, or less if an enclosing block ends sooner.

    Raises:
        DeadlineExceeded: an exchange was cut at the deadline (whatever it raised is the
            ``__cause__``), or no time is left as the block starts (nothing is sent).
    """
    outer: _Block | None = getattr(_local, "block", None)
    now = time.monotonic()
    deadline = now + max(0.0, seconds)
    if outer is not None:
        deadline = min(deadline, outer.deadline)
    if deadline <= now:
        raise DeadlineExceeded("no time left before the deadline")
    block = _Block(deadline)
    _local.block = block
    try:
        yield
    except Exception as exc:
        if any(watch.fired for watch in block.watches):
            raise DeadlineExceeded(f"no complete answer within {deadline - now:.3g} s") from exc
        raise
    else:
        # A cut connection does not always raise: http.client takes the end of the stream
        # for the end of the headers, and reads a body without a length up to it.
        if any(watch.fired for watch in block.watches):
            raise DeadlineExceeded(f"no complete answer within {deadline - now:.3g} s")
    finally:
        _local.block = outer
        for watch in block.watches:
            watch.done = True
            watch.connection = None


def _arm(connection: Any) -> None:
    """Put ``connection`` under the deadline of this thread's block, once per block."""
    block: _Block | None = getattr(_local, "block", None)
    if block is None:
        connection._esi_watch = None
        return
    current = getattr(connection, "_esi_watch", None)
    if current is not None and current in block.watches:
        return
    watch = _Watch(block.deadline, connection)
    block.watches.append(watch)
    connection._esi_watch = watch
    _watchdog().add(watch)


class _Watchdog:
    """One thread that sleeps until the nearest deadline and cuts the connections whose
    exchanges are still running then."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="esi-deadlines", daemon=True)
        self.thread.start()

    def add(self, watch: _Watch) -> None:
        with self._wake:
            heapq.heappush(self._heap, (watch.deadline, next(self._order), watch))
            if self._heap[0][2] is watch:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                deadline, _, watch = self._heap[0]
                if watch.done:
                    heapq.heappop(self._heap)
                    continue
                left = deadline - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._heap)
            self._fire(watch)

    def _fire(self, watch: _Watch) -> None:
        connection = watch.connection
        if watch.done or connection is None or getattr(connection, "_esi_watch", None) is not watch:
            return
        sock = getattr(connection, "sock", None)
        if sock is None:  # still connecting: the connect timeout is running, look again
            watch.deadline = time.monotonic() + _RECHECK
            self.add(watch)
            return
        watch.fired = True
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


_dog: _Watchdog | None = None
_dog_lock = threading.Lock()


def _watchdog() -> _Watchdog:
    global _dog
    if _dog is None:
        with _dog_lock:
            if _dog is None:
                _dog = _Watchdog()
    return _dog


class _ArmedHTTPConnection(HTTPConnection):
    """A connection put under its thread's deadline when it connects and when it sends."""

    def connect(self) -> None:
        _arm(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _arm(self)
        super().request(*args, **kwargs)


class _ArmedHTTPSConnection(_ArmedHTTPConnection, HTTPSConnection):
    """The same over TLS (``super()`` reaches ``HTTPSConnection``'s handshake first)."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _ArmedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _ArmedHTTPSConnection


_POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose connections obey :func:`limit` (through an HTTP proxy too)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOL_CLASSES)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_POOL_CLASSES)
        return manager


def _after_fork() -> None:
    """The watchdog thread does not exist in a forked child; start a new one on demand."""
    global _dog, _dog_lock, _local
    _dog = None
    _dog_lock = threading.Lock()
    _local = threading.local()


os.register_at_fork(after_in_child=_after_fork)
