"""EVE SSO v2: authorization URL, code exchange, refresh, revocation and JWT verification.

Every request to EVE SSO goes through this module. The flow and the checks follow CCP's
"SSO" documentation (developers.eveonline.com/docs/services/sso/):

- The authorization code flow with a client secret sent as HTTP Basic auth (web apps), or
  with PKCE (S256) and the ``client_id`` in the body when ``ESI_SSO_USE_PKCE`` is on.
- The access token is a JWT. It is verified against the JSON Web Key Set, chosen by ``kid``
  and ``alg`` (the set holds an RS256 and an ES256 key; an entry without ``alg``, which
  RFC 7517 allows, by key type and curve); ``iss`` must be the SSO origin or its
  bare host; ``aud`` must contain both the client id and ``"EVE Online"``; ``exp`` must be in
  the future.
- Refresh failures are sorted into "the grant is gone" (``invalid_grant`` /
  ``invalid_token``: :class:`~esi.errors.TokenInvalidError`) and "SSO is unwell" (429, 5xx,
  timeouts, connection errors: :class:`~esi.errors.SSOUnavailableError`), so a caller never
  deletes a token because of an outage (allianceauth/allianceauth#1007).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import math
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import requests
from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache
from requests.adapters import HTTPAdapter

from . import __version__, _json, app_settings, sso_limit
from .errors import (
    IncompleteResponseError,
    SSOOAuthError,
    SSOUnavailableError,
    TokenInvalidError,
    TokenVerificationError,
    oauth_error,
)
from .http import deadline, guard

if TYPE_CHECKING:
    import jwt
    from oauthlib.oauth2 import OAuth2Error
    from requests_oauthlib import OAuth2Session

logger = logging.getLogger(__name__)

#: OAuth 2.0 error codes (RFC 6749 section 5.2) that mean the grant itself is gone.
GRANT_GONE_ERRORS = frozenset({"invalid_grant", "invalid_token"})

#: Statuses on which EVE SSO is retried: it is throttling or unwell, the grant is fine.
RETRY_STATUSES = frozenset({429, 502, 503, 504})

#: The algorithms EVE SSO signs with (its JWKS holds one RS256 and one ES256 key).
ALLOWED_ALGORITHMS = ("RS256", "ES256")

_JWKS_CACHE_KEY = "esi:sso:jwks"
_JWKS_REFETCH_KEY = "esi:sso:jwks:refetched"
#: A JWT with an unknown ``kid`` triggers at most one JWKS download per this many seconds.
_JWKS_REFETCH_INTERVAL = 60

_adapter: HTTPAdapter | None = None

T = TypeVar("T")


def _shared_adapter() -> HTTPAdapter:
    """One connection pool per process for all SSO traffic (urllib3 pools are thread-safe),
    whose exchanges obey :func:`esi.http.deadline.limit`."""
    global _adapter
    if _adapter is None:
        size = int(app_settings.ESI_CONNECTION_POOL_MAXSIZE)
        _adapter = deadline.DeadlineAdapter(pool_connections=2, pool_maxsize=size)
    return _adapter


def user_agent() -> str:
    """User-Agent for SSO requests: ``ESI_SSO_USER_AGENT``, or
    ``django-esi-ng/<version> (<contact email>)`` as CCP's guidelines ask."""
    if app_settings.ESI_SSO_USER_AGENT:
        return str(app_settings.ESI_SSO_USER_AGENT)
    email = app_settings.ESI_USER_CONTACT_EMAIL
    return f"django-esi-ng/{__version__}" + (f" ({email})" if email else "")


def _timeout() -> tuple[float, float]:
    """``(connect, read)`` seconds for one request, cut to the time left before the
    deadline of the enclosing :func:`esi.http.deadline.limit`, if any."""
    connect = float(app_settings.ESI_REQUESTS_CONNECT_TIMEOUT)
    read = float(app_settings.ESI_REQUESTS_READ_TIMEOUT)
    left = deadline.remaining()
    if left is None:
        return connect, read
    return min(connect, left), min(read, left)


def view_deadline() -> AbstractContextManager[None]:
    """A block in which EVE SSO requests get ``ESI_SSO_VIEW_TIMEOUT`` seconds in all: the
    decorators and the callback view wrap their token work in it, so that a hanging EVE SSO
    costs a page at most that long (``DeadlineExceeded`` becomes ``SSOUnavailableError``
    and the token is kept and backed off)."""
    return deadline.limit(float(app_settings.ESI_SSO_VIEW_TIMEOUT))


def _allow_loopback_http() -> None:
    """Let oauthlib talk plain HTTP to an SSO on this machine (the emulator).

    oauthlib refuses ``http://`` URLs unless ``OAUTHLIB_INSECURE_TRANSPORT`` is set; it is
    set only when the configured EVE SSO is on a loopback address, never for a remote host.
    """
    parts = urlsplit(app_settings.sso_base_url())
    if parts.scheme != "http":
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def _configure(session: requests.Session) -> requests.Session:
    """Mount the shared pool, set the User-Agent, and read proxy and CA-bundle variables
    once: requests would re-read them from os.environ on every request (a third of a
    refresh's CPU time in a busy run)."""
    adapter = _shared_adapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = user_agent()
    base = app_settings.sso_base_url()
    session.proxies.update(requests.utils.get_environ_proxies(base))
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    return session


def _oauth_session(**kwargs: Any) -> OAuth2Session:
    from requests_oauthlib import OAuth2Session

    _allow_loopback_http()
    session = OAuth2Session(app_settings.ESI_SSO_CLIENT_ID, **kwargs)
    session.register_compliance_hook("access_token_response", _check_token_response)
    _configure(session)
    return session


_local = threading.local()


def _session() -> requests.Session:
    """This thread's session for refreshes, the key set and revocations, reused while the
    settings it was built from hold (a session is cheap to use, not to build, and is not
    safe to share between threads)."""
    key = (app_settings.ESI_SSO_CLIENT_ID, app_settings.sso_base_url(), user_agent())
    cached = getattr(_local, "session", None)
    if cached is None or cached[0] != key:
        cached = (key, _configure(requests.Session()))
        _local.session = cached
    return cached[1]


class _RetryableStatus(Exception):
    def __init__(self, response: requests.Response) -> None:
        self.response = response
        super().__init__(f"EVE SSO answered {response.status_code}")


def _check_token_response(response: requests.Response) -> requests.Response:
    """Classify a token-endpoint answer before oauthlib parses it."""
    if response.status_code in RETRY_STATUSES or response.status_code >= 500:
        raise _RetryableStatus(response)
    return response


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _with_retries(send: Callable[[], T], *, idempotent: bool, attempts: int | None = None) -> T:
    """Run ``send`` with EVE SSO's retry policy.

    Makes up to ``attempts`` (default ``ESI_SSO_MAX_RETRIES``) attempts on connection
    errors, timeouts and 429 / 502 / 503 / 504, waiting ``Retry-After`` (capped by
    ``ESI_SSO_MAX_RETRY_AFTER``) or an exponential backoff. A request that may have reached
    SSO (a read timeout, a dropped connection) is only retried when ``idempotent``: a
    refresh token spent by a lost answer cannot be spent again. The attempts and the waits
    between them get ``ESI_REQUESTS_TOTAL_TIMEOUT`` seconds in all (less inside
    :func:`view_deadline`); an answer still trickling in then is cut off.

    Raises:
        SSOUnavailableError: when every attempt failed; its ``status_code`` and
            ``retry_after`` (seconds) are those of the last answer, if there was one.
    """
    attempts = max(1, int(app_settings.ESI_SSO_MAX_RETRIES if attempts is None else attempts))
    total = float(app_settings.ESI_REQUESTS_TOTAL_TIMEOUT)
    ends = time.monotonic() + total
    last: BaseException | None = None
    status_code: int | None = None
    retry_after: float | None = None
    for attempt in range(attempts):
        wait: float | None = None
        try:
            with deadline.limit(ends - time.monotonic()):
                return send()
        except _RetryableStatus as exc:
            last = exc
            status_code = exc.response.status_code
            wait = retry_after = _retry_after(exc.response)
            if wait is not None and wait > float(app_settings.ESI_SSO_MAX_RETRY_AFTER):
                break
        except requests.ConnectTimeout as exc:
            last, status_code, retry_after = exc, None, None
        except (requests.ConnectionError, requests.Timeout) as exc:
            last, status_code, retry_after = exc, None, None
            if not idempotent:
                break
        if attempt + 1 < attempts:
            if wait is None:
                wait = float(app_settings.ESI_SSO_WAIT_EXPONENT) * (2**attempt) * 0.1
                wait += random.uniform(0, wait / 2)
            left = deadline.remaining()
            if time.monotonic() + wait >= ends or (left is not None and wait >= left):
                break  # no time for another attempt
            time.sleep(wait)
    raise SSOUnavailableError(
        f"EVE SSO unavailable: {last}", status_code=status_code, retry_after=retry_after
    ) from last


def _raise_oauth_error(exc: OAuth2Error) -> None:
    error = getattr(exc, "error", "") or "unknown_error"
    description = getattr(exc, "description", None)
    if error in GRANT_GONE_ERRORS:
        raise TokenInvalidError(
            f"EVE SSO rejected the grant: {error}: {description}", reason=error
        ) from exc
    if error == "missing_token":
        raise IncompleteResponseError("EVE SSO answered without an access token") from exc
    raise oauth_error(error, description) from exc


# --------------------------------------------------------------------------- authorize


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and what to keep until the callback."""

    url: str
    state: str
    code_verifier: str | None = None

    def __iter__(self) -> Iterator[str]:
        # django-esi's authorization_url() returned (url, state).
        return iter((self.url, self.state))


def authorization_url(scopes: Iterable[str] | None = None, state: str | None = None) -> AuthorizationRequest:
    """Build the EVE SSO v2 authorize URL.

    Args:
        scopes: ESI scope names; may be empty or ``None``.
        state: an unguessable value bound to the user's session; ``None`` makes one
            (``secrets.token_urlsafe``), as django-esi did.

    Returns:
        The URL, the state, and the PKCE code verifier when ``ESI_SSO_USE_PKCE`` is on
        (S256 only, CCP "SSO: Authorization flow for native apps").
    """
    from oauthlib.oauth2 import WebApplicationClient
    from requests_oauthlib import OAuth2Session

    _allow_loopback_http()
    session = OAuth2Session(
        app_settings.ESI_SSO_CLIENT_ID,
        redirect_uri=app_settings.ESI_SSO_CALLBACK_URL,
        scope=list(scopes or ()),
    )
    extra: dict[str, str] = {}
    verifier = None
    if app_settings.ESI_SSO_USE_PKCE:
        client = WebApplicationClient(app_settings.ESI_SSO_CLIENT_ID)
        verifier = client.create_code_verifier(64)
        extra = {
            "code_challenge": client.create_code_challenge(verifier, "S256"),
            "code_challenge_method": "S256",
        }
    if state is None:
        state = secrets.token_urlsafe(32)
    url, _ = session.authorization_url(app_settings.sso_authorize_url(), state=state, **extra)
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier)


# --------------------------------------------------------------------------- token endpoint


def exchange_code(code: str, code_verifier: str | None = None) -> dict[str, Any]:
    """Exchange an authorization code for tokens.

    Returns:
        The token response: ``{"access_token": str, "refresh_token": str | None,
        "expires_in": int (seconds), "token_type": "Bearer"}``.

    Raises:
        TokenInvalidError: the code was rejected (``invalid_grant``).
        SSOOAuthError: another OAuth error, e.g. ``invalid_client``.
        SSOUnavailableError: SSO unreachable or failing.
        IncompleteResponseError: no access token in the answer.
    """
    from oauthlib.oauth2 import OAuth2Error

    session = _oauth_session(redirect_uri=app_settings.ESI_SSO_CALLBACK_URL)
    kwargs: dict[str, Any] = {"code": code}
    if code_verifier:
        kwargs.update(code_verifier=code_verifier, include_client_id=True)
    else:
        kwargs["client_secret"] = app_settings.ESI_SSO_CLIENT_SECRET

    def send() -> dict[str, Any]:
        try:
            return dict(session.fetch_token(app_settings.sso_token_url(), timeout=_timeout(), **kwargs))
        except OAuth2Error as exc:
            _raise_oauth_error(exc)
            raise  # pragma: no cover  (_raise_oauth_error always raises)

    # A code is single-use: a retry after an answer was lost would only earn invalid_grant.
    return _with_retries(send, idempotent=False)


def refresh_access_token(refresh_token: str, *, attempts: int | None = None) -> dict[str, Any]:
    """Spend a refresh token for a new access token (and, possibly, a new refresh token).

    A refresh-token grant (RFC 6749 section 6) sent straight to the token endpoint, with
    the client secret as HTTP Basic auth, or with the ``client_id`` in the body for a PKCE
    client without a secret. CCP: "always store the refresh token that comes back; it may
    differ".

    Args:
        refresh_token: the token's current refresh token.
        attempts: how many attempts to make on transient trouble (default
            ``ESI_SSO_MAX_RETRIES``). Background runs make one, so that no worker sleeps
            while it holds a token's lock; the token's own back-off is their retry.

    Returns:
        The token response: ``{"access_token": str, "refresh_token": str | None,
        "expires_in": int (seconds), "token_type": "Bearer"}``.

    Raises:
        TokenInvalidError: the grant is gone (``invalid_grant`` / ``invalid_token``).
        SSOOAuthError: another OAuth error, e.g. ``invalid_client`` (a site misconfiguration,
            never a reason to delete tokens).
        SSOUnavailableError: SSO unreachable or failing; keep the token.
        IncompleteResponseError: no access token in the answer.
    """
    session = _session()
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    auth: tuple[str, str] | None = None
    if app_settings.ESI_SSO_USE_PKCE and not app_settings.ESI_SSO_CLIENT_SECRET:
        data["client_id"] = str(app_settings.ESI_SSO_CLIENT_ID)
    else:
        auth = (str(app_settings.ESI_SSO_CLIENT_ID), str(app_settings.ESI_SSO_CLIENT_SECRET))
    url = app_settings.sso_token_url()
    ambiguous = False

    def send() -> dict[str, Any]:
        nonlocal ambiguous
        try:
            # One of the site's ESI_SSO_MAX_CONCURRENT_REFRESHES slots, for this request only
            # (never while waiting to retry).
            timeout = _timeout()
            with sso_limit.refresh_slot(lease=sum(timeout)):
                response = session.post(
                    url, data=data, auth=auth, timeout=timeout, headers={"Accept": "application/json"}
                )
        except (requests.ReadTimeout, requests.ConnectionError) as exc:
            if not isinstance(exc, requests.ConnectTimeout):
                ambiguous = True
            raise
        try:
            return _token_answer(response)
        except TokenInvalidError as exc:
            if ambiguous:
                # An earlier attempt may have spent the refresh token and lost the answer:
                # this invalid_grant does not prove the grant is gone.
                raise SSOUnavailableError(
                    "EVE SSO rejected a retried refresh after an unanswered attempt"
                ) from exc
            raise

    return _with_retries(send, idempotent=True, attempts=attempts)


def _token_answer(response: requests.Response) -> dict[str, Any]:
    """A token-endpoint answer: the token response (RFC 6749 section 5.1), or the error
    it stands for (section 5.2)."""
    _check_token_response(response)
    try:
        body = _json.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SSOOAuthError(
            "invalid_response", f"EVE SSO answered {response.status_code} without a JSON object"
        )
    error = body.get("error")
    if error is not None or response.status_code != 200:
        error = str(error or "invalid_response")
        description = body.get("error_description")
        description = None if description is None else str(description)
        if error in GRANT_GONE_ERRORS:
            raise TokenInvalidError(f"EVE SSO rejected the grant: {error}: {description}", reason=error)
        raise oauth_error(error, description)
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise IncompleteResponseError("EVE SSO answered without an access token")
    return body


def revoke(refresh_token: str) -> None:
    """Revoke a refresh token at EVE SSO (RFC 7009). Errors are logged, not raised:
    revocation is a courtesy and must never block deleting a token locally."""
    try:
        with deadline.limit(float(app_settings.ESI_REQUESTS_TOTAL_TIMEOUT)):
            response = _session().post(
                app_settings.sso_revoke_url(),
                data={"token": refresh_token, "token_type_hint": "refresh_token"},
                auth=(app_settings.ESI_SSO_CLIENT_ID, app_settings.ESI_SSO_CLIENT_SECRET or ""),
                timeout=_timeout(),
            )
        if response.status_code >= 400:
            logger.warning("EVE SSO refused a revocation: %s", response.status_code)
    except requests.RequestException as exc:
        logger.warning("Could not revoke a refresh token: %s", exc)


# --------------------------------------------------------------------------- JWT


@dataclass(frozen=True)
class AccessTokenClaims:
    """The verified content of an EVE SSO access token."""

    character_id: int
    character_name: str
    owner_hash: str
    scopes: list[str]
    token_type: str
    expires_at: float
    claims: dict[str, Any] = field(repr=False)


def _fetch_jwks() -> dict[str, Any]:
    """Download the key set and keep its usable keys in the cache (see :func:`get_jwks`)."""
    try:
        with deadline.limit(float(app_settings.ESI_REQUESTS_TOTAL_TIMEOUT)):
            response = _session().get(app_settings.sso_jwks_url(), timeout=_timeout())
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise SSOUnavailableError(f"Could not fetch EVE SSO's JWKS: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise TokenVerificationError("jwks", "EVE SSO's JWKS has no 'keys' list")
    usable = [entry for entry in data["keys"] if _usable(entry)]
    if not usable:
        # Cached, such a set would fail every login until it expired.
        raise TokenVerificationError("jwks", "EVE SSO's JWKS has no usable RS256 or ES256 key")
    data = {**data, "keys": usable}
    with _key_cache() as cache:
        cache.set(_JWKS_CACHE_KEY, data, int(app_settings.ESI_SSO_JWKS_CACHE_TIMEOUT))
    return data


def _usable(entry: Any) -> bool:
    """Whether a JWKS entry is a key that can verify an EVE SSO signature: a JSON object
    with a ``kid`` that PyJWT loads as an RS256 or ES256 public key. One malformed entry is
    logged and left out; the others still serve (RFC 7517 section 5: a set's consumers
    ignore the keys they cannot use)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
        logger.warning("EVE SSO's JWKS holds an entry without a kid; ignoring it")
        return False
    fitting = [alg for alg in ALLOWED_ALGORITHMS if _fits(entry, alg)]
    for alg in fitting:
        if _try_load(entry, alg) is not None:
            return True
    if fitting:
        logger.warning("EVE SSO's JWKS key %r cannot be loaded; ignoring it", entry["kid"])
    return False


def _try_load(entry: dict[str, Any], alg: str) -> jwt.PyJWK | None:
    """The key of a JWKS entry for ``alg``, or ``None`` if PyJWT cannot build it (a
    malformed modulus, a point off the curve, a member of the wrong type, ...)."""
    import jwt

    try:
        key = _load_key(json.dumps(entry, sort_keys=True), alg)
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    return key


def get_jwks(force_refresh: bool = False) -> dict[str, Any]:
    """EVE SSO's JSON Web Key Set, ``{"keys": [JWK, ...], ...}``, cached in the Django cache
    for ``ESI_SSO_JWKS_CACHE_TIMEOUT`` seconds. Only the keys that can verify a signature
    (RS256 or ES256 keys PyJWT can load) are kept; a set without one is never cached.

    Raises:
        SSOUnavailableError: the JWKS could not be downloaded.
        TokenVerificationError: the download is not a JWKS, or holds no usable key.
    """
    if not force_refresh:
        with _key_cache() as cache:
            cached = cache.get(_JWKS_CACHE_KEY)
            if isinstance(cached, dict):
                return dict(cached)
    return _fetch_jwks()


def _key_cache() -> AbstractContextManager[BaseCache]:
    """The default cache, for the key set; while it is down the key set is downloaded for
    each verification (:mod:`esi.http.guard`)."""
    return guard.guarded(DEFAULT_CACHE_ALIAS, "EVE SSO's signing keys")


_refetched_at = -math.inf
_refetch_lock = threading.Lock()


def _may_refetch() -> bool:
    """Whether a token with an unknown ``kid`` may download the key set again: once per
    ``_JWKS_REFETCH_INTERVAL`` for all processes (a ``cache.add``), or, while the cache is
    down, for this process."""
    global _refetched_at
    with _key_cache() as cache:
        return bool(cache.add(_JWKS_REFETCH_KEY, True, _JWKS_REFETCH_INTERVAL))
    now = time.monotonic()
    with _refetch_lock:
        if now - _refetched_at < _JWKS_REFETCH_INTERVAL:
            return False
        _refetched_at = now
    return True


@functools.lru_cache(maxsize=16)
def _load_key(entry: str, alg: str) -> jwt.PyJWK:
    # Building the public key from its JWK costs more than verifying a signature with it.
    import jwt

    return jwt.PyJWK(json.loads(entry), algorithm=alg)


#: The JWK key type and curve each accepted algorithm signs with (RFC 7518 sections 3.3 and
#: 3.4), to match key entries without ``alg``.
_KEY_TYPES: dict[str, tuple[str, str | None]] = {"RS256": ("RSA", None), "ES256": ("EC", "P-256")}


def _fits(entry: dict[str, Any], alg: str) -> bool:
    """Whether a JWKS entry can verify a signature made with ``alg``.

    ``alg`` and ``use`` are optional in a JWK (RFC 7517 sections 4.2 and 4.4): an entry that
    names an algorithm must name ``alg``; one that does not must have the key type (and, for
    EC, the curve) of ``alg``; an entry meant for encryption never fits.
    """
    if entry.get("use", "sig") != "sig" or alg not in _KEY_TYPES:
        return False
    if entry.get("alg") is not None:
        return bool(entry["alg"] == alg)
    kty, crv = _KEY_TYPES[alg]
    return entry.get("kty") == kty and (crv is None or entry.get("crv") == crv)


def _find_key(jwks: dict[str, Any], kid: str, alg: str) -> jwt.PyJWK | None:
    """The first key with ``kid`` that fits ``alg`` (see :func:`_fits`) and loads, or
    ``None``; entries that do not load are skipped."""
    for entry in jwks.get("keys", []):
        if isinstance(entry, dict) and entry.get("kid") == kid and _fits(entry, alg):
            key = _try_load(entry, alg)
            if key is not None:
                return key
    return None


def _signing_key(kid: str, alg: str) -> jwt.PyJWK:
    key = _find_key(get_jwks(), kid, alg)
    # CCP rotates keys: an unknown kid earns one fresh download, at most once a minute.
    if key is None and _may_refetch():
        key = _find_key(get_jwks(force_refresh=True), kid, alg)
    if key is None:
        raise TokenVerificationError("unknown_key", f"No {alg} key with kid {kid!r} in the JWKS")
    return key


def verify_access_token(access_token: str) -> AccessTokenClaims:
    """Verify an EVE SSO access-token JWT and return its claims.

    Checks the signature (key by ``kid`` and ``alg``; RS256 or ES256), ``iss`` (either
    documented form), ``aud`` (the client id and ``"EVE Online"``), ``exp``, and the shape of
    ``sub`` (``CHARACTER:EVE:<character_id>``). ``scp`` may be a list or a single string.

    Raises:
        TokenVerificationError: with ``reason`` ``malformed``, ``unknown_key``,
            ``signature``, ``issuer``, ``audience``, ``expired`` or ``jwks``.
        SSOUnavailableError: the JWKS could not be downloaded.
    """
    import jwt

    if not isinstance(access_token, str) or not access_token:
        raise TokenVerificationError("malformed", "No access token")
    try:
        header = jwt.get_unverified_header(access_token)
    except jwt.DecodeError as exc:
        raise TokenVerificationError("malformed", f"Not a JWT: {exc}") from exc
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALLOWED_ALGORITHMS:
        raise TokenVerificationError("signature", f"Algorithm {alg!r} is not accepted")
    if not isinstance(kid, str):
        raise TokenVerificationError("unknown_key", "The JWT header has no 'kid'")
    key = _signing_key(kid, alg)
    client_id = app_settings.ESI_SSO_CLIENT_ID
    try:
        claims = jwt.decode(
            access_token,
            key.key,
            algorithms=[alg],
            audience=client_id,
            issuer=list(app_settings.sso_issuers()),
            options={"require": ["exp", "iss", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenVerificationError("expired", "The access token has expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenVerificationError("audience", f"Wrong audience: {exc}") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenVerificationError("issuer", f"Wrong issuer: {exc}") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenVerificationError("signature", "The signature does not verify") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenVerificationError("malformed", f"Invalid JWT: {exc}") from exc
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if app_settings.ESI_TOKEN_JWT_AUDIENCE not in audience:
        raise TokenVerificationError(
            "audience", f"The audience lacks {app_settings.ESI_TOKEN_JWT_AUDIENCE!r}"
        )
    return _claims(claims)


def _claims(claims: dict[str, Any]) -> AccessTokenClaims:
    parts = str(claims["sub"]).split(":")
    if len(parts) != 3 or parts[1] != "EVE" or not parts[2].isdigit():
        raise TokenVerificationError("malformed", f"Unexpected subject {claims['sub']!r}")
    scopes = claims.get("scp", [])
    if isinstance(scopes, str):
        scopes = [scopes]
    name, owner = claims.get("name"), claims.get("owner")
    if not isinstance(name, str) or not isinstance(owner, str) or not isinstance(scopes, list):
        raise TokenVerificationError("malformed", "The JWT lacks 'name', 'owner' or 'scp'")
    return AccessTokenClaims(
        character_id=int(parts[2]),
        character_name=name,
        owner_hash=owner,
        scopes=[str(s) for s in scopes],
        token_type=parts[0].lower(),
        expires_at=float(claims["exp"]),
        claims=claims,
    )


def _after_fork() -> None:
    """A forked child builds its own SSO connection pool and sessions (see
    :func:`esi.http.transport._after_fork`)."""
    global _adapter, _local, _refetch_lock
    _adapter = None
    _local = threading.local()
    _refetch_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
