"""The token refresh engine: one token under a row lock, or many with bounded concurrency.

Rules (CCP "SSO: Refreshing tokens", and allianceauth/allianceauth#1007 for what goes wrong):

- A token is deleted only when EVE SSO says the grant is gone (``invalid_grant`` /
  ``invalid_token``) or the new JWT shows another owner. 429, 5xx, timeouts, connection
  errors and a JWT that cannot be verified yet keep it, record the failure and back the
  token off. A token without a refresh token is never deleted here either.
- The token row is locked while its refresh token is spent (``SELECT ... FOR UPDATE`` on
  PostgreSQL and MariaDB; on SQLite the database write lock is taken first), so two workers
  never spend one refresh token. A worker that gets the lock after another refreshed the
  token finds it fresh and uses the new access token.
- The refresh token that comes back is saved before anything else happens (CCP: it may
  differ from the one sent, and the old one may be dead): first into the refresh journal
  (the Django cache, ``ESI_REFRESH_JOURNAL_CACHE_ALIAS``), then, once the JWT is verified
  (CPU only: the key set is fetched before the lock is taken), into the token row in the
  same write as the outcome. If that row write is lost (a caller's outer transaction
  rolled back, the database failed, the process died before the commit), the next refresh
  meets ``invalid_grant`` for the spent token, finds the newer one in the journal and
  spends that instead of deleting the token. When that refresh's write is lost too, the
  entry grows into a chain (every refresh token spent since the last committed write leads
  to the newest), so any number of lost writes in a row is recovered. A JWT that cannot be
  verified yet still has its refresh token stored; the token is marked expired and
  verified on the next refresh. What no journal can recover: a refresh token EVE SSO
  rotated while its answer never arrived (the process killed, or the exchange cut, while
  the request was at EVE SSO); see the docs' operations guide.
- Background runs make one SSO attempt per token while holding its lock (the token's
  back-off is their retry), stop when most recent refreshes fail transiently or SSO
  answers 429 (a circuit breaker), and stop starting refreshes at a time limit, so a sick
  SSO is neither hammered token after token nor waited on until the task is killed.

Database work is batched in background runs on PostgreSQL and MariaDB: a chunk of tokens is
locked in one query, their refresh tokens are exchanged concurrently, and their outcomes are
written with one ``UPDATE`` statement run per token (``executemany``) and one commit per
chunk. One token alone (``Token.refresh()``, SQLite) costs a lock (1) and one write (1).
Either way the queries per token are constant, plus Django's cascade when a token is
deleted.
"""
from __future__ import annotations

import datetime
import hashlib
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from . import app_settings, sso
from .errors import DjangoEsiException, NotRefreshableTokenError, SSOUnavailableError, TokenInvalidError
from .http import deadline as http_deadline
from .models import EXPIRY_LEEWAY, Token
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
    #: Not attempted: backing off, or the run stopped (circuit breaker, time limit).
    SKIPPED = "skipped"
    MISSING = "missing"
    #: No refresh token: nothing to spend. The token is kept (only SSO decides a grant
    #: is gone).
    NOT_REFRESHABLE = "not_refreshable"


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
    #: Why the run stopped early: ``"breaker"`` (most recent refreshes failed),
    #: ``"throttled"`` (SSO answered 429), ``"time_limit"``, or ``""`` (it did not).
    stop_reason: str = ""
    seconds: float = 0.0
    #: Tokens kept, skipped or found invalid (not deleted): not valid after the run.
    failed_ids: set[int] = field(default_factory=set)
    attempted_ids: set[int] = field(default_factory=set)

    def add(self, result: RefreshResult) -> None:
        self.attempted_ids.add(result.token_id)
        self.counts[result.outcome.value] += 1
        if result.outcome in (Outcome.KEPT, Outcome.INVALID, Outcome.NOT_REFRESHABLE, Outcome.SKIPPED):
            self.failed_ids.add(result.token_id)
        if result.outcome is Outcome.DELETED:
            self.deleted_by_reason[result.reason] += 1

    def as_dict(self) -> dict[str, Any]:
        """``{"total", "refreshed", "already_fresh", "deleted", "deleted_by_reason",
        "kept", "skipped", "missing", "not_refreshable", "breaker_tripped", "stop_reason",
        "seconds"}`` (counts are ints, ``seconds`` a float)."""
        keys = ("refreshed", "already_fresh", "deleted", "kept", "skipped", "missing", "not_refreshable")
        return {
            "total": self.total,
            **{key: self.counts.get(key, 0) for key in keys},
            "deleted_by_reason": dict(self.deleted_by_reason),
            "breaker_tripped": self.breaker_tripped,
            "stop_reason": self.stop_reason,
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


#: Doubling the back-off stops here (2**30 base periods is far beyond any cap).
_MAX_BACKOFF_EXPONENT = 30


def _backoff(failures: int) -> datetime.timedelta:
    base = float(app_settings.ESI_REFRESH_BACKOFF_BASE)
    cap = float(app_settings.ESI_REFRESH_BACKOFF_MAX)
    exponent = min(_MAX_BACKOFF_EXPONENT, max(0, failures - 1))
    return datetime.timedelta(seconds=min(cap, base * 2**exponent))


def _log_unexpected(exc: BaseException) -> None:
    """Transient SSO trouble is expected; anything else is a bug worth a traceback. Either
    way the token is kept."""
    if not isinstance(exc, DjangoEsiException):
        logger.error("Unexpected error while refreshing a token", exc_info=exc)


def _mark_failure(token: Token, error: BaseException) -> list[str]:
    """Record a transient failure on ``token`` (in memory); returns the fields to write."""
    now = timezone.now()
    token.refresh_failures += 1
    token.last_refresh_at = now
    token.last_refresh_ok = False
    token.last_refresh_error = f"{type(error).__name__}: {error}"[:255]
    token.refresh_backoff_until = now + _backoff(token.refresh_failures)
    return list(_FAILURE_FIELDS)


def _failure_signal(token: Token, error: BaseException) -> None:
    failures = token.refresh_failures
    transaction.on_commit(
        lambda: token_refresh_failed.send(Token, token=token, error=error, failures=failures)
    )


_FAILURE_FIELDS = (
    "refresh_failures",
    "last_refresh_at",
    "last_refresh_ok",
    "last_refresh_error",
    "refresh_backoff_until",
)
_REFRESHED_FIELDS = (
    "access_token",
    "refresh_token",
    "expires_at",
    "created",
    "sso_version",
    *_FAILURE_FIELDS,
)


def _delete(token: Token, reason: str) -> None:
    token_id = token.pk
    logger.info("Deleting %r: %s", token, reason)
    token.delete()
    transaction.on_commit(
        lambda: token_deleted.send(Token, token=token, token_id=token_id, reason=reason)
    )


# --------------------------------------------------------------------------- refresh journal


def _journal_key(token_id: int) -> str:
    return f"esi:refresh-journal:{token_id}"


def _digest(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


def _journal() -> Any:
    return caches[app_settings.ESI_REFRESH_JOURNAL_CACHE_ALIAS]


#: Refresh tokens one journal entry remembers as spent. Each is a refresh whose row write
#: was lost (a rolled-back transaction, a failed write, a killed worker) after the one
#: before it was lost too; far beyond any real run of such failures.
_JOURNAL_HOPS = 64


def _journal_entry(token_id: int) -> tuple[list[str], str] | None:
    """The journal entry of ``token_id`` as ``(digests of the spent refresh tokens, the
    newest refresh token)``, or ``None``: absent, malformed, or the cache failing. An entry
    of an earlier version, ``{"spent": digest, "new": token}``, reads as a chain of one."""
    try:
        entry = _journal().get(_journal_key(token_id))
    except Exception:
        logger.warning("Could not read the refresh journal for token %s", token_id, exc_info=True)
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("new"), str):
        return None
    spent = entry.get("spent")
    if isinstance(spent, str):
        spent = [spent]
    if not isinstance(spent, list) or not spent or not all(isinstance(d, str) for d in spent):
        return None
    return spent, entry["new"]


def _journal_record(token_id: int, spent: str, new: str, earlier: list[str] | None = None) -> None:
    """Remember that ``spent`` was exchanged for ``new`` until the row write commits.

    ``earlier`` is the chain of the journal entry ``spent`` was taken from, when the row
    write of the refresh that produced it was lost too: the entry then grows, so that every
    refresh token spent since the last committed write leads to ``new``, and a row still
    holding any of them recovers however many writes in a row were lost. Nothing is read
    here: this write comes first after EVE SSO answers, and should be quick.
    """
    if new == spent:
        return
    chain = [*dict.fromkeys([*(earlier or []), _digest(spent)])]
    if len(chain) > _JOURNAL_HOPS:
        # The row holds the oldest unless one write committed and its clear failed.
        chain = [chain[0], *chain[-(_JOURNAL_HOPS - 1) :]]
    try:
        _journal().set(
            _journal_key(token_id), {"spent": chain, "new": new}, int(app_settings.ESI_REFRESH_JOURNAL_TIMEOUT)
        )
    except Exception:  # a cache outage must not stop the refresh; the row write follows
        logger.warning("Could not write the refresh journal for token %s", token_id, exc_info=True)


def _journal_clear(token_id: int) -> None:
    try:
        _journal().delete(_journal_key(token_id))
    except Exception:
        logger.warning("Could not clear the refresh journal for token %s", token_id, exc_info=True)


def _journal_newer(token: Token) -> tuple[list[str], str] | None:
    """The journal entry that leads from this token's stored refresh token to a newer one
    SSO gave (directly, or after further lost writes), if only the journal kept it, as
    ``(chain, newest refresh token)``."""
    known = _journal_entry(token.pk)
    if known is None:
        return None
    chain, newest = known
    if _digest(token.refresh_token or "") in chain and newest != token.refresh_token:
        return known
    return None


def _spend(token: Token, attempts: int | None) -> tuple[dict[str, Any], list[str] | None]:
    """Exchange the token's refresh token at EVE SSO, recovering a rotated refresh token
    from the journal when the stored one was already spent. Returns SSO's answer and, after
    a recovery, the chain of the journal entry the refresh token came from."""
    try:
        return sso.refresh_access_token(token.refresh_token or "", attempts=attempts), None
    except TokenInvalidError:
        found = _journal_newer(token)
        if found is None:
            raise
    chain, newer = found
    logger.warning(
        "Token %s: the stored refresh token was already exchanged and the newer one was "
        "never saved (a rolled-back transaction or a crash); using the journal's",
        token.pk,
    )
    token.refresh_token = newer
    return sso.refresh_access_token(newer, attempts=attempts), chain


# --------------------------------------------------------------------------- one token


@dataclass
class _Exchange:
    """What spending one token's refresh token at EVE SSO came to (nothing written yet)."""

    #: ``ok``: refreshed and verified; ``unverified``: SSO answered but the JWT could not be
    #: verified yet; ``failed``: transient trouble; ``gone``: the grant is gone;
    #: ``skipped``: not sent (the run stopped).
    kind: str
    error: BaseException | None = None
    reason: str = ""
    #: Whether SSO answered with new tokens (the journal then holds the new refresh token).
    answered: bool = False
    #: Whether the journal's refresh token replaced the stored one.
    swapped: bool = False


def _exchange(token: Token, attempts: int | None) -> _Exchange:
    """Spend ``token``'s refresh token at EVE SSO and verify the answer, changing only the
    in-memory ``token``. Safe to run in a worker thread: it touches no database."""
    spent = token.refresh_token
    try:
        answer, earlier = _spend(token, attempts)
    except TokenInvalidError as exc:
        return _Exchange("gone", error=exc, reason=exc.reason or "invalid_grant")
    except Exception as exc:  # SSO unavailable, OAuth error, incomplete answer
        _log_unexpected(exc)
        return _Exchange("failed", error=exc, swapped=token.refresh_token != spent)

    # The old refresh token may be dead now: the new one is written down before anything
    # else happens, and cleared from the journal once the row commits.
    new_refresh = answer.get("refresh_token") or token.refresh_token
    _journal_record(token.pk, token.refresh_token or "", new_refresh or "", earlier)
    old_access, spent_now = token.access_token, token.refresh_token
    token.access_token = answer["access_token"]
    token.refresh_token = new_refresh
    try:
        claims = sso.verify_access_token(token.access_token)
        if claims.owner_hash != token.character_owner_hash:
            raise TokenInvalidError("The owner hash changed", reason="owner_changed")
        if claims.character_id != token.character_id:
            raise TokenInvalidError("Another character answered", reason="character_changed")
    except TokenInvalidError as exc:
        # Another account's grant: never stored in this row, nor handed to its user.
        token.access_token, token.refresh_token = old_access, spent_now
        return _Exchange("gone", error=exc, reason=exc.reason or "invalid_token", answered=True)
    except Exception as exc:  # the key set unreachable, a JWT that does not verify
        # The new refresh token is kept; the unverified access token is not to be used:
        # the token stays expired, so the next refresh verifies again.
        _log_unexpected(exc)
        token.expires_at = timezone.now() - EXPIRY_LEEWAY
        return _Exchange("unverified", error=exc, answered=True)

    token._apply(answer, claims)
    token.refresh_failures = 0
    token.last_refresh_at = token.created
    token.last_refresh_ok = True
    token.last_refresh_error = ""
    token.refresh_backoff_until = None
    return _Exchange("ok", answered=True)


def _settle(token: Token, exchange: _Exchange, delete_invalid: bool) -> tuple[RefreshResult, list[str]]:
    """Turn an exchange into its result and the fields of ``token`` to write, inside the
    transaction that holds the token's lock; deletions and signals happen here."""
    token_id = token.pk
    if exchange.answered:
        transaction.on_commit(lambda: _journal_clear(token_id))
    if exchange.kind == "ok":
        transaction.on_commit(lambda: token_refreshed.send(Token, token=token))
        return RefreshResult(token_id, Outcome.REFRESHED, token), list(_REFRESHED_FIELDS)
    if exchange.kind == "gone":
        assert exchange.error is not None
        return _gone(token, exchange.error, exchange.reason, delete_invalid), []
    if exchange.kind == "skipped":
        return RefreshResult(token_id, Outcome.SKIPPED, token), []
    assert exchange.error is not None
    fields = _mark_failure(token, exchange.error)
    if exchange.kind == "unverified":
        fields += ["access_token", "refresh_token", "expires_at"]
    elif exchange.swapped:
        fields.append("refresh_token")
    _failure_signal(token, exchange.error)
    return RefreshResult(token_id, Outcome.KEPT, token, error=exchange.error), fields


def _triage(token: Token | None, token_id: int, force: bool) -> RefreshResult | None:
    """The result for a token that needs no SSO call, or ``None`` if it needs one. Without
    ``force``, a token backing off after a transient failure is skipped (its error an
    ``SSOUnavailableError`` with the seconds left in ``retry_after``)."""
    if token is None:
        return RefreshResult(token_id, Outcome.MISSING)
    if not force and not token.expired:
        return RefreshResult(token_id, Outcome.FRESH, token)
    if not token.refresh_token:
        return RefreshResult(
            token_id, Outcome.NOT_REFRESHABLE, token, reason="not_refreshable", error=NotRefreshableTokenError()
        )
    backoff_until = token.refresh_backoff_until
    if not force and backoff_until is not None and backoff_until > timezone.now():
        left = (backoff_until - timezone.now()).total_seconds()
        error = SSOUnavailableError(
            f"EVE SSO failed to refresh this token recently ({token.last_refresh_error}); "
            f"not trying again for {left:.0f} s",
            retry_after=left,
        )
        return RefreshResult(token_id, Outcome.SKIPPED, token, error=error)
    return None


def refresh_one(
    token_id: int,
    *,
    force: bool = False,
    delete_invalid: bool = True,
    attempts: int | None = None,
) -> RefreshResult:
    """Refresh one token under its row lock.

    Args:
        token_id: the ``Token`` primary key.
        force: refresh even if the access token has not expired, or while the token backs
            off after a transient failure (an explicit request). Without it a token found
            fresh under the lock (another worker refreshed it) is returned as ``FRESH``,
            and one backing off as ``SKIPPED`` with an ``SSOUnavailableError``, without
            asking SSO.
        delete_invalid: delete the token when the grant is gone (else ``INVALID``).
        attempts: SSO attempts on transient trouble (default ``ESI_SSO_MAX_RETRIES``).

    Returns:
        A :class:`RefreshResult`; ``error`` holds the exception for ``KEPT``, ``INVALID``
        and ``NOT_REFRESHABLE``. It never raises for SSO trouble.

    Once SSO has answered, the new refresh token goes into the refresh journal first, then
    the JWT is verified (against the key set fetched before the lock was taken, so no
    download happens under it in the normal case) and one write stores the new tokens with
    the outcome. If the JWT cannot be verified yet (the key set is unreachable), the new
    tokens are stored all the same and the token is marked expired, so the next refresh
    spends the new refresh token and verifies again.
    """
    _warm_key_set()
    with transaction.atomic():
        token = _lock(token_id)
        early = _triage(token, token_id, force)
        if early is not None:
            return early
        assert token is not None  # _triage answers for a missing token
        result, fields = _settle(token, _exchange(token, attempts), delete_invalid)
        if fields:
            token.save(update_fields=fields)
        return result


def _refresh_chunk(
    token_ids: list[int],
    *,
    force: bool,
    delete_invalid: bool,
    executor: ThreadPoolExecutor,
    send: Callable[[Token], _Exchange],
) -> list[RefreshResult]:
    """Refresh a chunk of tokens in one transaction: lock their rows in one query (in
    primary-key order, so two runs cannot deadlock), exchange their refresh tokens
    concurrently on ``executor``, then write the outcomes with one ``UPDATE`` per set of
    changed fields and commit once."""
    results: list[RefreshResult] = []
    with transaction.atomic():
        rows = Token.objects.filter(pk__in=token_ids).order_by("pk").select_for_update()
        locked = {token.pk: token for token in rows}
        pending: list[Token] = []
        for token_id in token_ids:
            token = locked.get(token_id)
            early = _triage(token, token_id, force)
            if early is not None:
                results.append(early)
            else:
                assert token is not None  # _triage answers for a missing token
                pending.append(token)
        writes: dict[tuple[str, ...], list[Token]] = {}
        for token, exchange in zip(pending, executor.map(send, pending)):
            result, fields = _settle(token, exchange, delete_invalid)
            results.append(result)
            if fields:
                writes.setdefault(tuple(fields), []).append(token)
        for names, tokens in writes.items():
            _write(tokens, names)
    return results


def _write(tokens: list[Token], names: tuple[str, ...]) -> None:
    """``UPDATE`` the ``names`` fields of ``tokens``, one statement run for every token
    (``executemany``). Django's ``bulk_update`` builds a ``CASE`` per field and token, which
    costs more CPU than the whole refresh."""
    fields: list[Any] = [Token._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    pk_column = str(Token._meta.pk.column)
    sql = f"UPDATE {quote(Token._meta.db_table)} SET {assignments} WHERE {quote(pk_column)} = %s"
    rows = [
        [field.get_db_prep_save(getattr(token, field.attname), connection) for field in fields] + [token.pk]
        for token in tokens
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _warm_key_set() -> None:
    """Fetch EVE SSO's key set into the cache before a lock is taken, so verifying under
    the lock needs no download. A failure here is left to the verification to report."""
    try:
        sso.get_jwks()
    except Exception:
        pass


def _gone(token: Token, error: BaseException, reason: str, delete: bool) -> RefreshResult:
    token_id = token.pk
    if delete:
        _delete(token, reason)
        return RefreshResult(token_id, Outcome.DELETED, token, reason=reason)
    return RefreshResult(token_id, Outcome.INVALID, token, reason=reason, error=error)


class _Breaker:
    """Trips when more than ``ESI_REFRESH_BREAKER_RATIO`` of the last
    ``ESI_REFRESH_BREAKER_WINDOW`` refresh attempts failed transiently (once at least
    ``ESI_REFRESH_BREAKER_MIN_ATTEMPTS`` were made), or at once when EVE SSO answers 429:
    it is throttling this site (ccpgames/sso-issues#58)."""

    def __init__(self) -> None:
        self.min_attempts = max(1, int(app_settings.ESI_REFRESH_BREAKER_MIN_ATTEMPTS))
        self.ratio = float(app_settings.ESI_REFRESH_BREAKER_RATIO)
        window = max(self.min_attempts, int(app_settings.ESI_REFRESH_BREAKER_WINDOW))
        self.recent: deque[bool] = deque(maxlen=window)
        self.reason = ""

    @property
    def tripped(self) -> bool:
        return bool(self.reason)

    def record(self, outcome: Outcome, error: BaseException | None = None) -> None:
        if outcome not in (Outcome.REFRESHED, Outcome.KEPT, Outcome.DELETED, Outcome.INVALID):
            return
        failed = outcome is Outcome.KEPT
        self.recent.append(failed)
        if self.tripped:
            return
        if failed and getattr(error, "status_code", None) == 429:
            self._trip("throttled", "EVE SSO answered 429 (throttling): stopping this run, no token deleted")
            return
        failures = sum(self.recent)
        if len(self.recent) >= self.min_attempts and failures > self.ratio * len(self.recent):
            self._trip(
                "breaker",
                f"EVE SSO failed {failures} of the last {len(self.recent)} refreshes: "
                "stopping this run, no token deleted",
            )

    def _trip(self, reason: str, message: str) -> None:
        logger.warning(message)
        self.reason = reason


#: The breaker's view of an exchange that has not been written yet.
_EXCHANGE_OUTCOMES = {
    "ok": Outcome.REFRESHED,
    "unverified": Outcome.KEPT,
    "failed": Outcome.KEPT,
    "gone": Outcome.DELETED,
    "skipped": Outcome.SKIPPED,
}


def _default_time_limit() -> float | None:
    """``ESI_REFRESH_TIME_LIMIT``, or when it is ``None``, four fifths of django-q2's task
    ``timeout`` (``Q_CLUSTER["timeout"]``) if one is set, so a run ends before it is killed."""
    configured = app_settings.ESI_REFRESH_TIME_LIMIT
    if configured is not None:
        return float(configured) if float(configured) > 0 else None
    q_cluster = getattr(settings, "Q_CLUSTER", None) or {}
    timeout = q_cluster.get("timeout") if isinstance(q_cluster, dict) else None
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return 0.8 * float(timeout)
    return None


def refresh_many(
    token_ids: Iterable[int],
    *,
    force: bool = False,
    delete_invalid: bool = True,
    concurrency: int | None = None,
    time_limit: float | None = None,
) -> RunSummary:
    """Refresh tokens with at most ``concurrency`` (default ``ESI_REFRESH_CONCURRENCY``)
    refreshes in flight, one SSO attempt each.

    On PostgreSQL and MariaDB the tokens go in chunks of ``4 * concurrency``: each chunk's
    rows are locked in one query, their refresh tokens exchanged concurrently, and the
    outcomes written in one transaction (see :func:`_refresh_chunk`); two chunks are in
    progress at a time, so one commits while the other waits for EVE SSO. The database
    work per token is a fraction of a query, whatever the number of tokens.

    Runs token by token in the calling thread (:func:`refresh_one`) when ``concurrency`` is
    1, on SQLite (whose one write lock would make the threads queue anyway), or when called
    inside a database transaction (other threads could not see its uncommitted rows).

    Args:
        time_limit: seconds after which no new refresh starts (default: see
            ``ESI_REFRESH_TIME_LIMIT``); ``None`` or 0 for none. Inside a
            :func:`esi.http.deadline.limit` block (a view's
            :func:`esi.sso.view_deadline`), the run also stops starting refreshes at the
            block's deadline, and the EVE SSO exchanges in flight are cut there.

    Returns:
        A :class:`RunSummary`; tokens not attempted after the circuit breaker tripped or the
        time limit passed count as ``skipped``, and ``stop_reason`` says why.
    """
    ids = list(dict.fromkeys(token_ids))
    summary = RunSummary(total=len(ids))
    started = time.monotonic()
    limit = _default_time_limit() if time_limit is None else (float(time_limit) or None)
    # Inside a deadline.limit block (a view: esi.sso.view_deadline) the run ends with it,
    # and the threads below carry it, as it belongs to this thread only.
    outer = http_deadline.remaining()
    if outer is not None:
        limit = outer if limit is None else min(limit, outer)
    deadline = None if limit is None else started + limit
    breaker = _Breaker()
    lock = threading.Lock()
    workers = max(1, int(concurrency or app_settings.ESI_REFRESH_CONCURRENCY))
    stop_reason = ""

    def stopping() -> bool:
        """Whether the run stops (call with ``lock`` held)."""
        nonlocal stop_reason
        if not stop_reason and deadline is not None and time.monotonic() >= deadline:
            stop_reason = "time_limit"
        return breaker.tripped or bool(stop_reason)

    def record(results: Iterable[RefreshResult], *, breaker_too: bool) -> None:
        with lock:
            for result in results:
                summary.add(result)
                if breaker_too:
                    breaker.record(result.outcome, result.error)

    serial = workers == 1 or len(ids) <= 1 or connection.in_atomic_block
    if serial or not connection.features.has_select_for_update:
        pending = iter(ids)
        while True:
            with lock:
                if stopping():
                    break
            token_id = next(pending, None)
            if token_id is None:
                break
            try:
                result = refresh_one(token_id, force=force, delete_invalid=delete_invalid, attempts=1)
            except Exception as exc:  # the database, most likely: keep the token, go on
                logger.error("Could not refresh token %s", token_id, exc_info=exc)
                result = RefreshResult(token_id, Outcome.KEPT, error=exc)
            record([result], breaker_too=True)
    else:
        _warm_key_set()
        size = 4 * workers
        chunks = iter([ids[i : i + size] for i in range(0, len(ids), size)])

        def send(token: Token) -> _Exchange:
            with lock:
                if stopping():
                    return _Exchange("skipped")
            try:
                if outer is None:
                    exchange = _exchange(token, 1)
                else:
                    with http_deadline.limit(started + outer - time.monotonic()):
                        exchange = _exchange(token, 1)
            finally:
                # No database work happens here, but a database cache backend (the journal,
                # the key set) would open a connection in this pool thread.
                connections.close_all()
            with lock:
                breaker.record(_EXCHANGE_OUTCOMES[exchange.kind], exchange.error)
            return exchange

        def coordinate(executor: ThreadPoolExecutor) -> None:
            try:
                while True:
                    with lock:
                        if stopping():
                            return
                        chunk = next(chunks, None)
                    if chunk is None:
                        return
                    try:
                        results = _refresh_chunk(
                            chunk, force=force, delete_invalid=delete_invalid, executor=executor, send=send
                        )
                    except Exception as exc:  # the database: keep the tokens (the journal
                        # holds any refresh token SSO rotated meanwhile), go on
                        logger.error("Could not refresh %d tokens", len(chunk), exc_info=exc)
                        results = [RefreshResult(token_id, Outcome.KEPT, error=exc) for token_id in chunk]
                    record(results, breaker_too=False)
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="esi-refresh") as executor:
            coordinators = [
                threading.Thread(target=coordinate, args=(executor,), daemon=True)
                for _ in range(min(2, math.ceil(len(ids) / size)))
            ]
            for thread in coordinators:
                thread.start()
            for thread in coordinators:
                thread.join()
    summary.breaker_tripped = breaker.tripped
    summary.stop_reason = breaker.reason or stop_reason
    skipped = [token_id for token_id in ids if token_id not in summary.attempted_ids]
    summary.counts[Outcome.SKIPPED.value] += len(skipped)
    summary.failed_ids.update(skipped)
    summary.seconds = time.monotonic() - started
    return summary
