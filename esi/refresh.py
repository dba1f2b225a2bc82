"""The token refresh engine: one token under a row lock, or many with bounded concurrency.

Rules (CCP "SSO: Refreshing tokens", and allianceauth/allianceauth#1007 for what goes wrong):

- A token is deleted only when EVE SSO says the grant is gone (``invalid_grant`` /
  ``invalid_token``) or the new JWT shows another owner. 429, 5xx, timeouts and connection
  errors keep it, record the failure and back the token off.
- The token row is locked while it is refreshed (``SELECT ... FOR UPDATE`` on PostgreSQL and
  MariaDB; on SQLite the database write lock is taken first), so two workers never spend one
  refresh token. A worker that gets the lock after another refreshed the token finds it fresh
  and uses the new access token.
- The refresh token that comes back is saved before anything else happens (CCP: it may
  differ from the one sent, and the old one may be dead).
- A run over many tokens stops when most refreshes fail transiently (a circuit breaker), so
  a sick SSO is not hammered token after token.

Each token costs a constant number of queries: lock (1), save the new refresh token (1),
save the outcome (1), plus Django's cascade when a token is deleted.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from . import app_settings, sso
from .errors import DjangoEsiException, NotRefreshableTokenError, TokenInvalidError
from .models import Token
from .signals import token_deleted, token_refresh_failed, token_refreshed

logger = logging.getLogger(__name__)


class Outcome(str, Enum):
    """What happened to one token."""

    REFRESHED = "refreshed"
    #: Not expired (another worker refreshed it first): nothing sent to SSO.
    FRESH = "already_fresh"
    DELETED = "deleted"
    #: The grant is gone but deleting was not asked for (``Token.refresh()``).
    INVALID = "invalid"
    #: A transient failure: the token is kept and backed off.
    KEPT = "kept"
    #: Not attempted: backing off, or the run's circuit breaker tripped.
    SKIPPED = "skipped"
    MISSING = "missing"


@dataclass
class RefreshResult:
    token_id: int
    outcome: Outcome
    token: Token | None = None
    reason: str = ""
    error: BaseException | None = None


@dataclass
class RunSummary:
    """The summary a refresh task returns (and django-q2 stores as its result)."""

    total: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    deleted_by_reason: Counter[str] = field(default_factory=Counter)
    breaker_tripped: bool = False
    seconds: float = 0.0
    #: Tokens kept, skipped or found invalid (not deleted): not valid after the run.
    failed_ids: set[int] = field(default_factory=set)
    attempted_ids: set[int] = field(default_factory=set)

    def add(self, result: RefreshResult) -> None:
        self.attempted_ids.add(result.token_id)
        self.counts[result.outcome.value] += 1
        if result.outcome in (Outcome.KEPT, Outcome.INVALID):
            self.failed_ids.add(result.token_id)
        if result.outcome is Outcome.DELETED:
            self.deleted_by_reason[result.reason] += 1

    def as_dict(self) -> dict[str, Any]:
        """``{"total", "refreshed", "already_fresh", "deleted", "deleted_by_reason",
        "kept", "skipped", "missing", "breaker_tripped", "seconds"}`` (counts are ints)."""
        keys = ("refreshed", "already_fresh", "deleted", "kept", "skipped", "missing")
        return {
            "total": self.total,
            **{key: self.counts.get(key, 0) for key in keys},
            "deleted_by_reason": dict(self.deleted_by_reason),
            "breaker_tripped": self.breaker_tripped,
            "seconds": round(self.seconds, 3),
        }


def _lock(token_id: int) -> Token | None:
    rows = Token.objects.filter(pk=token_id)
    if connection.features.has_select_for_update:
        return rows.select_for_update().first()
    # SQLite has no row locks: a write as the transaction's first statement takes the
    # database write lock, so a second refresher waits here rather than reading a refresh
    # token that is about to be spent.
    rows.update(refresh_token=F("refresh_token"))
    return rows.first()


def _backoff(failures: int) -> datetime.timedelta:
    base = float(app_settings.ESI_REFRESH_BACKOFF_BASE)
    cap = float(app_settings.ESI_REFRESH_BACKOFF_MAX)
    return datetime.timedelta(seconds=min(cap, base * 2 ** max(0, failures - 1)))


def _log_unexpected(exc: BaseException) -> None:
    """Transient SSO trouble is expected; anything else is a bug worth a traceback. Either
    way the token is kept."""
    if not isinstance(exc, DjangoEsiException):
        logger.error("Unexpected error while refreshing a token", exc_info=exc)


def _record_failure(token: Token, error: BaseException) -> None:
    now = timezone.now()
    token.refresh_failures += 1
    token.last_refresh_at = now
    token.last_refresh_ok = False
    token.last_refresh_error = f"{type(error).__name__}: {error}"[:255]
    token.refresh_backoff_until = now + _backoff(token.refresh_failures)
    token.save(
        update_fields=[
            "refresh_failures",
            "last_refresh_at",
            "last_refresh_ok",
            "last_refresh_error",
            "refresh_backoff_until",
        ]
    )
    failures = token.refresh_failures
    transaction.on_commit(
        lambda: token_refresh_failed.send(Token, token=token, error=error, failures=failures)
    )


def _delete(token: Token, reason: str) -> None:
    token_id = token.pk
    logger.info("Deleting %r: %s", token, reason)
    token.delete()
    transaction.on_commit(
        lambda: token_deleted.send(Token, token=token, token_id=token_id, reason=reason)
    )


def refresh_one(token_id: int, *, force: bool = False, delete_invalid: bool = True) -> RefreshResult:
    """Refresh one token under its row lock.

    Args:
        token_id: the ``Token`` primary key.
        force: refresh even if the access token has not expired (an explicit request).
            Without it a token found fresh under the lock (another worker refreshed it) is
            returned as ``FRESH`` without asking SSO.
        delete_invalid: delete the token when the grant is gone (else ``INVALID``).

    Returns:
        A :class:`RefreshResult`; ``error`` holds the exception for ``KEPT`` / ``INVALID``.
        It never raises for SSO trouble.
    """
    with transaction.atomic():
        token = _lock(token_id)
        if token is None:
            return RefreshResult(token_id, Outcome.MISSING)
        if not force and not token.expired:
            return RefreshResult(token_id, Outcome.FRESH, token)
        if not token.refresh_token:
            return _gone(token, NotRefreshableTokenError(), "not_refreshable", delete_invalid)
        try:
            answer = sso.refresh_access_token(token.refresh_token)
        except TokenInvalidError as exc:
            return _gone(token, exc, exc.reason or "invalid_grant", delete_invalid)
        except Exception as exc:  # SSO unavailable, OAuth error, incomplete answer
            _log_unexpected(exc)
            _record_failure(token, exc)
            return RefreshResult(token_id, Outcome.KEPT, token, error=exc)

        # The old refresh token may be spent now: store the new one before anything else.
        token.access_token = answer["access_token"]
        token.refresh_token = answer.get("refresh_token") or token.refresh_token
        token.save(update_fields=["access_token", "refresh_token"])
        try:
            claims = sso.verify_access_token(token.access_token)
            if claims.owner_hash != token.character_owner_hash:
                raise TokenInvalidError("The owner hash changed", reason="owner_changed")
            if claims.character_id != token.character_id:
                raise TokenInvalidError("Another character answered", reason="character_changed")
        except TokenInvalidError as exc:
            return _gone(token, exc, exc.reason or "invalid_token", delete_invalid)
        except Exception as exc:  # JWKS unavailable, a JWT that does not verify
            # The new refresh token is stored; the token stays expired and is tried again.
            _log_unexpected(exc)
            _record_failure(token, exc)
            return RefreshResult(token_id, Outcome.KEPT, token, error=exc)

        token._apply(answer, claims)
        token.refresh_failures = 0
        token.last_refresh_at = token.created
        token.last_refresh_ok = True
        token.last_refresh_error = ""
        token.refresh_backoff_until = None
        token.save(
            update_fields=[
                "expires_at",
                "created",
                "sso_version",
                "refresh_failures",
                "last_refresh_at",
                "last_refresh_ok",
                "last_refresh_error",
                "refresh_backoff_until",
            ]
        )
        transaction.on_commit(lambda: token_refreshed.send(Token, token=token))
        return RefreshResult(token_id, Outcome.REFRESHED, token)


def _gone(token: Token, error: BaseException, reason: str, delete: bool) -> RefreshResult:
    token_id = token.pk
    if delete:
        _delete(token, reason)
        return RefreshResult(token_id, Outcome.DELETED, token, reason=reason)
    return RefreshResult(token_id, Outcome.INVALID, token, reason=reason, error=error)


class _Breaker:
    """Trips when at least ``min_attempts`` refreshes were tried and the share that failed
    transiently reaches ``ratio``."""

    def __init__(self) -> None:
        self.min_attempts = int(app_settings.ESI_REFRESH_BREAKER_MIN_ATTEMPTS)
        self.ratio = float(app_settings.ESI_REFRESH_BREAKER_RATIO)
        self.attempts = 0
        self.failures = 0
        self.tripped = False

    def record(self, outcome: Outcome) -> None:
        if outcome in (Outcome.REFRESHED, Outcome.KEPT, Outcome.DELETED):
            self.attempts += 1
            self.failures += outcome is Outcome.KEPT
            if self.attempts >= self.min_attempts and self.failures >= self.ratio * self.attempts:
                if not self.tripped:
                    logger.warning(
                        "EVE SSO failed %d of %d refreshes: stopping this run, no token deleted",
                        self.failures,
                        self.attempts,
                    )
                self.tripped = True


def refresh_many(
    token_ids: Iterable[int],
    *,
    force: bool = False,
    delete_invalid: bool = True,
    concurrency: int | None = None,
) -> RunSummary:
    """Refresh tokens with at most ``concurrency`` (default ``ESI_REFRESH_CONCURRENCY``)
    refreshes in flight, each under its own lock (see :func:`refresh_one`).

    Runs in the calling thread when ``concurrency`` is 1 or when called inside a database
    transaction (other threads could not see its uncommitted rows).

    Returns:
        A :class:`RunSummary`; tokens not attempted after the circuit breaker tripped count
        as ``skipped``.
    """
    ids = list(token_ids)
    summary = RunSummary(total=len(ids))
    started = time.monotonic()
    breaker = _Breaker()
    lock = threading.Lock()
    pending = iter(ids)
    workers = max(1, int(concurrency or app_settings.ESI_REFRESH_CONCURRENCY))

    def work() -> None:
        while True:
            with lock:
                if breaker.tripped:
                    return
                token_id = next(pending, None)
            if token_id is None:
                return
            result = refresh_one(token_id, force=force, delete_invalid=delete_invalid)
            with lock:
                summary.add(result)
                breaker.record(result.outcome)

    def threaded_work() -> None:
        try:
            work()
        finally:
            connections.close_all()

    if workers == 1 or len(ids) <= 1 or connection.in_atomic_block:
        work()
    else:
        threads = [threading.Thread(target=threaded_work, daemon=True) for _ in range(min(workers, len(ids)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    summary.breaker_tripped = breaker.tripped
    skipped = [token_id for token_id in ids if token_id not in summary.attempted_ids]
    summary.counts[Outcome.SKIPPED.value] += len(skipped)
    summary.failed_ids.update(skipped)
    summary.seconds = time.monotonic() - started
    return summary
