"""Plain data shared by the emulator's parts: characters, recorded requests, responses."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

RequestKind = Literal["sso", "esi", "control"]


def derive_owner_hash(character_id: int, generation: int = 0) -> str:
    """A deterministic owner hash for ``character_id``, shaped like CCP's (28 base64 characters).

    ``generation`` counts transfers: each sale of the character gives a new owner hash
    (CCP, "SSO: Validating JWT tokens", claim ``owner``).
    """
    digest = hashlib.sha1(f"esi-emulator:{character_id}:{generation}".encode()).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass
class Character:
    """An EVE character the emulated EVE SSO can log in.

    ``character_id`` is the EVE character ID (the JWT ``sub`` is ``CHARACTER:EVE:<id>``),
    ``name`` the character name (claim ``name``), ``owner_hash`` the claim ``owner``; left
    ``None`` it is derived deterministically from the character ID.
    """

    character_id: int
    name: str
    owner_hash: str | None = None

    def __post_init__(self) -> None:
        if self.owner_hash is None:
            self.owner_hash = derive_owner_hash(self.character_id)


class Headers(Mapping[str, str]):
    """Read-only request headers with case-insensitive lookup.

    A header sent more than once keeps its first value here; :meth:`get_all` gives every value.
    """

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = list(items)
        self._first: dict[str, str] = {}
        for name, value in self._items:
            self._first.setdefault(name.lower(), value)

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for name, _ in self._items:
            if name.lower() not in seen:
                seen.add(name.lower())
                yield name

    def __len__(self) -> int:
        return len(self._first)

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name``, in the order received."""
        return [value for key, value in self._items if key.lower() == name.lower()]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass
class RecordedRequest:
    """One request the emulator received, in arrival order in :attr:`Emulator.requests`.

    ``query`` maps each query parameter to its values (``urllib.parse.parse_qs`` shape);
    ``headers`` looks names up case-insensitively; ``body`` is the raw request body.
    ``kind`` is ``"sso"``, ``"esi"`` or ``"control"``; ``client_address`` / ``client_port``
    the client's IP and TCP port (one port for many requests shows keep-alive). For ESI
    requests ``operation_id`` is the matched operation (``None`` for an unknown route),
    ``tenant`` and
    ``compatibility_date`` what the client sent (``X-Tenant`` / ``datasource``,
    ``X-Compatibility-Date`` / ``compatibility_date``). ``status`` is the status answered,
    ``None`` until the answer is sent or when the connection was dropped by a fault.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    kind: RequestKind
    client_address: str = ""
    client_port: int = 0
    operation_id: str | None = None
    tenant: str | None = None
    compatibility_date: str | None = None
    status: int | None = None


@dataclass
class Response:
    """An answer ready to send: status, headers in order, body bytes."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class RequestLog:
    """A thread-safe log of :class:`RecordedRequest`, keeping the newest ``maxlen``."""

    def __init__(self, maxlen: int = 50_000) -> None:
        self._lock = threading.Lock()
        self._items: deque[RecordedRequest] = deque(maxlen=maxlen)
        self._total = 0

    def append(self, request: RecordedRequest) -> None:
        with self._lock:
            self._items.append(request)
            self._total += 1

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    @property
    def total(self) -> int:
        """Requests logged since the last clear, including any the cap pushed out."""
        with self._lock:
            return self._total

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._total = 0
