"""Injected failures: error statuses, latency and dropped connections."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Target names of the EVE SSO endpoints, as matched by :meth:`Faults.add`.
SSO_ENDPOINTS = ("metadata", "authorize", "token", "revoke", "jwks")

_ids = itertools.count(1)


@dataclass
class Fault:
    """One injected failure; see :meth:`Faults.add` for the fields.

    ``hits`` counts the requests it has applied to; ``times`` is how many it applies to in
    all (``None``: until removed).
    """

    target: str
    status: int | None = None
    retry_after: int | None = None
    latency: float = 0.0
    drop: bool = False
    times: int | None = None
    body: Any = None
    hits: int = 0
    id: int = field(default_factory=lambda: next(_ids))
    match_key: str = ""

    @property
    def exhausted(self) -> bool:
        """Whether the fault has applied to its ``times`` requests (never, without ``times``)."""
        return self.times is not None and self.hits >= self.times

    @property
    def answers(self) -> bool:
        """Whether this fault replaces the answer (status or drop) rather than only delaying it."""
        return self.drop or self.status is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able description, as the control API returns it."""
        return {
            "id": self.id,
            "target": self.target,
            "status": self.status,
            "retry_after": self.retry_after,
            "latency": self.latency,
            "drop": self.drop,
            "times": self.times,
            "hits": self.hits,
        }


@dataclass(frozen=True)
class FaultDecision:
    """What the faults matching one request ask for: total latency and the answering fault."""

    latency: float = 0.0
    answer: Fault | None = None


class Faults:
    """The faults in force, thread-safe (``emulator.faults``).

    A target is ``"sso"`` (every EVE SSO endpoint), ``"sso:<endpoint>"`` with endpoint one of
    ``metadata``, ``authorize``, ``token``, ``revoke``, ``jwks``; ``"esi"`` (every ESI
    route); an operation, named by operationId in either form (``GetStatus`` /
    ``get_status``) or as ``"METHOD /path"``; or a path prefix starting with ``/`` (compared
    with the request path as sent and without its legacy version prefix).
    """

    def __init__(self, resolve_target: Callable[[str], str] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._resolve_target = resolve_target or _default_target

    def add(
        self,
        target: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        latency: float = 0.0,
        drop: bool = False,
        times: int | None = None,
        body: Any = None,
    ) -> Fault:
        """Inject a fault for requests matching ``target``; returns it (for :meth:`remove`).

        ``status``: answer with this HTTP status instead (``420`` gets ESI's error-limit body,
        ``429`` a ``Retry-After`` header when ``retry_after`` seconds are given; ``body``
        overrides the JSON body). ``latency``: seconds slept before answering, whatever the
        answer. ``drop``: close the connection without answering (clients see a connection
        error). ``times``: how many matching requests it applies to (``None``: until removed).
        Raises ``ValueError`` for an unknown target, contradictory arguments, or a
        ``latency`` that is not a finite number of seconds (``nan``, ``inf``, negative).
        """
        if status is not None and not 200 <= int(status) <= 599:
            raise ValueError(f"status must be an HTTP status 200-599, not {status!r}")
        if drop and status is not None:
            raise ValueError("a fault either drops the connection or answers with a status")
        if not isinstance(latency, (int, float)) or isinstance(latency, bool):
            raise ValueError(f"latency must be a number of seconds, not {latency!r}")
        if not math.isfinite(latency) or latency < 0:
            # time.sleep(nan) raises in every request that matches: refuse it here.
            raise ValueError(f"latency must be a finite, non-negative number of seconds, not {latency!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for until removed)")
        match_key = self._resolve_target(target)
        fault = Fault(
            target=target,
            status=int(status) if status is not None else None,
            retry_after=int(retry_after) if retry_after is not None else None,
            latency=float(latency),
            drop=bool(drop),
            times=times,
            body=body,
            match_key=match_key,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def sso_outage(self, status: int = 503, drop: bool = False) -> Fault:
        """Every EVE SSO endpoint fails: answers ``status``, or drops connections if ``drop``."""
        if drop:
            return self.add("sso", drop=True)
        return self.add("sso", status=status)

    def latency(self, seconds: float, target: str = "esi") -> Fault:
        """Delay every answer to ``target`` by ``seconds``."""
        return self.add(target, latency=seconds)

    def remove(self, fault: Fault) -> None:
        """Stop applying ``fault`` (no error if it is already gone)."""
        with self._lock:
            self._faults = [f for f in self._faults if f.id != fault.id]

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    @property
    def active(self) -> list[Fault]:
        """The faults still in force, oldest first."""
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    def decide(self, names: set[str], paths: tuple[str, ...]) -> FaultDecision:
        """Apply the faults matching a request and say what they ask for.

        ``names`` are the request's target names (``"esi"``, normalised operation key,
        ``"sso"``, ``"sso:token"`` ...), ``paths`` its path as sent and normalised. Every
        matching latency adds up; the oldest matching fault with a status or ``drop`` answers.
        Each fault that took part counts a hit.
        """
        latency = 0.0
        answer: Fault | None = None
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or not _matches(fault.match_key, names, paths):
                    continue
                if fault.answers:
                    if answer is not None:
                        continue
                    answer = fault
                fault.hits += 1
                latency += fault.latency
            self._faults = [f for f in self._faults if not f.exhausted]
        return FaultDecision(latency=latency, answer=answer)


def _default_target(target: str) -> str:
    return target if target.startswith("/") else target.lower()


def _matches(match_key: str, names: set[str], paths: tuple[str, ...]) -> bool:
    if match_key.startswith("/"):
        return any(path.startswith(match_key) for path in paths)
    return match_key in names
