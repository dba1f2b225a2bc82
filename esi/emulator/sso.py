"""The emulated EVE SSO v2: metadata, authorize, token, revoke and JWKS endpoints.

Behaviour follows CCP's "Single-Sign-On (SSO)" documentation
(developers.eveonline.com/docs/services/sso/) and RFC 6749 / 7009 / 7636 / 8414 where CCP
is silent.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import html
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .records import Character, RecordedRequest, Response, derive_owner_hash

logger = logging.getLogger(__name__)


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    """A private key as unencrypted PKCS #8 PEM (the emulator's keys sign test tokens only)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()

#: ``kid`` of the RS256 key, as in CCP's JWKS.
RS256_KID = "JWT-Signature-Key"
#: ``kid`` of the ES256 key.
ES256_KID = "JWT-Signature-Key-ES256"
#: The audience every EVE SSO access token carries besides the client ID.
EVE_AUDIENCE = "EVE Online"

DEFAULT_CHARACTERS = (
    Character(2112000001, "Ada Emulator"),
    Character(2112000002, "Bram Emulator"),
    Character(2112000003, "Cyra Emulator"),
)
#: Characters created from a typed name get an ID from this range (deterministic per name).
TYPED_CHARACTER_IDS = range(9_000_000, 10_000_000)

_TOKEN_OVERRIDES = {
    "alg",
    "kid",
    "issuer",
    "audience",
    "expires_in",
    "exp",
    "sign_with_unknown_key",
    "extra_claims",
}
_JSON = "application/json; charset=UTF-8"
_VERIFIED_CACHE_SIZE = 4096


class TokenRejected(Exception):
    """An access token did not verify; ``str()`` says why, for the 401 body."""


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    character_id: int
    challenge: str | None
    expires_at: float


@dataclass
class _Grant:
    character_id: int
    scopes: list[str]
    client_id: str
    public: bool


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class SSO:
    """EVE SSO state and helpers (``emulator.sso``), thread-safe.

    Holds the signing keys (an RS256 and an ES256 key generated at start), the characters
    that can log in, authorization codes (single use, bound to client, redirect URI, scopes,
    character and PKCE challenge, 300 s life) and refresh tokens.
    """

    def __init__(
        self,
        base_url: Callable[[], str],
        *,
        client_id: str | None,
        client_secret: str | None,
        characters: Iterable[Character] | None,
        access_token_lifetime: int,
        rotate_refresh_tokens: bool,
        code_lifetime: float,
        state_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self._base_url = base_url
        #: Where refresh tokens and characters are kept across restarts (``None``: memory
        #: only). Set after the first :meth:`forget`, which would write an empty state.
        self.state_file: Path | None = None
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_lifetime = access_token_lifetime
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.code_lifetime = code_lifetime
        self._lock = threading.RLock()
        self._initial = [replace(c) for c in (characters or DEFAULT_CHARACTERS)]
        self._characters: dict[int, Character] = {}
        self._transfers: dict[int, int] = {}
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, _Grant] = {}
        self._tamper: deque[dict[str, Any]] = deque()
        self._stats = dict.fromkeys(
            ("authorize", "code_exchanges", "refreshes", "refresh_failures", "revocations", "jwks", "token_peak"),
            0,
        )
        self._token_in_flight = 0
        self._rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._ec = ec.generate_private_key(ec.SECP256R1())
        self._unknown_keys: dict[str, Any] = {}
        self._verified: dict[tuple[str, str], dict[str, Any]] = {}
        self._jwk_overrides: dict[str, dict[str, Any]] = {}
        self._extra_jwks: list[Any] = []
        self.forget()
        if state_file is not None:
            self.state_file = Path(state_file)
            self._load_state()

    # --- public helpers --------------------------------------------------------------

    @property
    def characters(self) -> list[Character]:
        """The characters that can log in, with their current owner hashes."""
        with self._lock:
            return [replace(c) for c in self._characters.values()]

    @property
    def stats(self) -> dict[str, int]:
        """Counters since the last reset: ``authorize`` (requests to the authorize endpoint),
        ``code_exchanges`` and ``refreshes`` (successful ones), ``refresh_failures`` (refresh
        attempts rejected with an OAuth error), ``revocations``, ``jwks`` (JWKS downloads),
        ``token_peak`` (the most requests to the token endpoint in flight at once, injected
        latency included)."""
        with self._lock:
            return dict(self._stats)

    @property
    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set served at ``/oauth/jwks``: the RS256 ``JWT-Signature-Key``
        and the ES256 key, plus CCP's ``SkipUnresolvedJsonWebKeys`` flag, with the changes
        of :meth:`override_jwk` applied and the entries of :meth:`add_jwk` first."""
        rsa_jwk = RSAAlgorithm.to_jwk(self._rsa.public_key(), as_dict=True)
        ec_jwk = ECAlgorithm.to_jwk(self._ec.public_key(), as_dict=True)
        keys = [
            {**rsa_jwk, "alg": "RS256", "kid": RS256_KID, "use": "sig"},
            {**ec_jwk, "alg": "ES256", "kid": ES256_KID, "use": "sig"},
        ]
        with self._lock:
            overrides = {kid: dict(members) for kid, members in self._jwk_overrides.items()}
            extra = copy.deepcopy(self._extra_jwks)
        served = list(extra)
        for key in keys:
            changed = {**key, **overrides.get(key["kid"], {})}
            served.append({name: value for name, value in changed.items() if value is not None})
        return {"keys": served, "SkipUnresolvedJsonWebKeys": True}

    def add_jwk(self, entry: Any) -> None:
        """Serve ``entry`` (any JSON value, a malformed key included) as an extra entry of
        the JWKS, before the real keys, until the next reset: what a client does with a key
        it cannot use. Tokens are still signed with the real keys."""
        with self._lock:
            self._extra_jwks.append(copy.deepcopy(entry))

    def override_jwk(self, kid: str, **members: Any) -> None:
        """Serve the key ``kid`` (:data:`RS256_KID` or :data:`ES256_KID`) at ``/oauth/jwks``
        with these JWK members changed; a ``None`` value leaves the member out (e.g.
        ``alg=None``, optional in RFC 7517). Tokens are still signed with the real key. Calls
        add up until the next reset. Raises ``ValueError`` for another ``kid``."""
        if kid not in {RS256_KID, ES256_KID}:
            raise ValueError(f"no key with kid {kid!r}; use {RS256_KID!r} or {ES256_KID!r}")
        with self._lock:
            self._jwk_overrides.setdefault(kid, {}).update(members)

    def add_character(self, character: Character) -> Character:
        """Make ``character`` able to log in (replacing one with the same ID); returns it."""
        with self._lock:
            self._characters[character.character_id] = replace(character)
            return replace(character)

    def character(self, character_id: int) -> Character:
        """The character with ``character_id``; an unknown ID becomes a new character named
        ``Character <id>``, so tests can mint tokens for any ID."""
        with self._lock:
            known = self._characters.get(character_id)
            if known is None:
                known = Character(character_id, f"Character {character_id}")
                self._characters[character_id] = known
            return replace(known)

    def issue_access_token(
        self,
        character_id: int,
        scopes: Iterable[str],
        *,
        alg: str = "RS256",
        kid: str | None = None,
        issuer: str | None = None,
        audience: str | list[str] | None = None,
        expires_in: int | None = None,
        exp: int | None = None,
        sign_with_unknown_key: bool = False,
        extra_claims: dict[str, Any] | None = None,
        client_id: str | None = None,
    ) -> str:
        """Mint an access token JWT shaped like EVE SSO's.

        Claims: ``scp`` (list of scopes, a plain string when exactly one, absent when none),
        ``jti``, ``kid``, ``sub`` ``CHARACTER:EVE:<id>``, ``azp`` (the client ID), ``tenant``
        ``tranquility``, ``tier`` ``live``, ``region`` ``world``, ``aud`` ``[client_id,
        "EVE Online"]``, ``name``, ``owner`` (owner hash), ``exp``, ``iat`` and ``iss`` (the
        emulator URL). Header: ``alg``, ``kid``, ``typ: JWT``.

        Overrides craft bad tokens: ``alg="ES256"`` signs with the ES256 key; ``kid`` sets an
        arbitrary key ID; ``issuer`` / ``audience`` replace ``iss`` / ``aud``;
        ``expires_in`` (seconds) or ``exp`` (Unix time, may be in the past) set the expiry;
        ``sign_with_unknown_key`` signs with a key that is not in the JWKS under the real
        ``kid``; ``extra_claims`` are merged in last (a ``None`` value removes that claim).
        ``client_id`` defaults to the emulator's client. Raises ``ValueError`` for an
        ``alg`` other than RS256 / ES256.
        Source: CCP, "SSO: JWT Token Claims" (developers.eveonline.com/docs/services/sso/).
        """
        if alg not in {"RS256", "ES256"}:
            raise ValueError(f"alg must be RS256 or ES256, not {alg!r}")
        character = self.character(character_id)
        scope_list = list(dict.fromkeys(scopes))
        key_id = kid if kid is not None else (RS256_KID if alg == "RS256" else ES256_KID)
        azp = client_id or self.client_id or "emulator-client-id"
        now = int(time.time())
        lifetime = self.access_token_lifetime if expires_in is None else expires_in
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "kid": key_id,
            "sub": f"CHARACTER:EVE:{character.character_id}",
            "azp": azp,
            "tenant": "tranquility",
            "tier": "live",
            "region": "world",
            "aud": audience if audience is not None else [azp, EVE_AUDIENCE],
            "name": character.name,
            "owner": character.owner_hash,
            "exp": exp if exp is not None else now + lifetime,
            "iat": now,
            "iss": issuer if issuer is not None else self._base_url(),
        }
        # CCP sends a lone scope as a string, several as a list (CCP "JWT Token Claims").
        if len(scope_list) == 1:
            claims = {"scp": scope_list[0], **claims}
        elif scope_list:
            claims = {"scp": scope_list, **claims}
        for name, value in (extra_claims or {}).items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self._unknown_key(alg) if sign_with_unknown_key else self._signing_key(alg)
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": key_id, "typ": "JWT"})

    def issue_grant(
        self, character_id: int, scopes: Iterable[str], *, client_id: str | None = None
    ) -> dict[str, Any]:
        """Create a grant without the HTTP dance, as if ``character_id`` had logged in.

        Returns the token endpoint's answer: ``{"access_token": <JWT>, "expires_in": <s>,
        "token_type": "Bearer", "refresh_token": <opaque>}``; the refresh token works at
        ``/v2/oauth/token``.
        """
        scope_list = list(dict.fromkeys(scopes))
        azp = client_id or self.client_id or "emulator-client-id"
        self.character(character_id)
        refresh = self._new_grant(_Grant(character_id, scope_list, azp, public=False))
        return self._token_answer(character_id, scope_list, azp, refresh, {})

    def tamper_next_token(self, **overrides: Any) -> None:
        """Make the next successful token-endpoint answer mint its access token with these
        :meth:`issue_access_token` overrides (one-shot; calls queue up, first in first out).
        Raises ``TypeError`` for a keyword :meth:`issue_access_token` does not take."""
        unknown = set(overrides) - _TOKEN_OVERRIDES
        if unknown:
            raise TypeError(f"unknown token overrides: {', '.join(sorted(unknown))}")
        with self._lock:
            self._tamper.append(overrides)

    def transfer_character(self, character_id: int, *, revoke: bool = False) -> str:
        """Give ``character_id`` a new owner hash, as when the character is sold; tokens minted
        afterwards carry the new ``owner``. With ``revoke`` its refresh tokens also die, as CCP
        reports they do on a transfer. Returns the new owner hash."""
        with self._lock:
            character = self.character(character_id)
            generation = self._transfers.get(character_id, 0) + 1
            self._transfers[character_id] = generation
            owner = derive_owner_hash(character_id, generation)
            self._characters[character_id] = replace(character, owner_hash=owner)
        if revoke:
            self.revoke_all(character_id)
        return owner

    def revoke_all(self, character_id: int | None = None) -> int:
        """Invalidate every refresh token (or those of ``character_id``): later refreshes get
        ``invalid_grant``. Returns how many were revoked."""
        with self._lock:
            doomed = [
                token
                for token, grant in self._grants.items()
                if character_id is None or grant.character_id == character_id
            ]
            for token in doomed:
                del self._grants[token]
            self._save_state()
            return len(doomed)

    def expire_codes(self) -> None:
        """Expire every outstanding authorization code now (to test the 5-minute limit)."""
        with self._lock:
            for code in self._codes.values():
                code.expires_at = 0.0

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """Verify an access token the way ESI does: signature by ``kid`` and ``alg`` against
        the emulator's own keys, ``iss`` the emulator, ``aud`` containing ``EVE Online``,
        ``exp`` in the future, ``sub`` a character. Returns the claims; raises
        :class:`TokenRejected`."""
        key = (self._base_url(), token)
        with self._lock:
            cached = self._verified.get(key)
        if cached is not None:
            if cached["exp"] <= time.time():
                raise TokenRejected("token expired")
            return dict(cached)
        claims = self._verify(token)
        with self._lock:
            # Verified tokens are remembered so busy benchmarks do not pay a signature check
            # per request; the keys never change while the emulator runs.
            if len(self._verified) >= _VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[key] = dict(claims)
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"malformed token: {exc}") from exc
        keys: dict[str, tuple[str, rsa.RSAPublicKey | ec.EllipticCurvePublicKey]] = {
            RS256_KID: ("RS256", self._rsa.public_key()),
            ES256_KID: ("ES256", self._ec.public_key()),
        }
        if header.get("kid") not in keys:
            raise TokenRejected("token signed with an unknown key")
        alg, key = keys[header["kid"]]
        base = self._base_url()
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=EVE_AUDIENCE,
                issuer=[base, urlsplit(base).netloc],
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRejected("token expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"token not valid: {exc}") from exc
        subject = str(claims.get("sub", ""))
        prefix = "CHARACTER:EVE:"
        if not subject.startswith(prefix) or not subject[len(prefix) :].isdigit():
            raise TokenRejected("token subject is not a character")
        return claims

    # --- state -----------------------------------------------------------------------

    @contextmanager
    def in_flight(self, endpoint: str) -> Iterator[None]:
        """Count a request to ``endpoint`` as in flight for the block (for ``token_peak``)."""
        if endpoint != "token":
            yield
            return
        with self._lock:
            self._token_in_flight += 1
            self._stats["token_peak"] = max(self._stats["token_peak"], self._token_in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._token_in_flight -= 1

    def reset_stats(self) -> None:
        """Zero the counters, drop queued token tampering, JWK overrides and extra JWKs."""
        with self._lock:
            for name in self._stats:
                self._stats[name] = 0
            self._tamper.clear()
            self._jwk_overrides.clear()
            self._extra_jwks.clear()

    def forget(self) -> None:
        """Forget codes, refresh tokens, transfers and added characters."""
        with self._lock:
            self._characters = {c.character_id: replace(c) for c in self._initial}
            self._transfers.clear()
            self._codes.clear()
            self._grants.clear()
            self._save_state()

    # --- HTTP ------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 authorization server metadata, as at ``/.well-known/oauth-authorization-server``."""
        base = self._base_url()
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/v2/oauth/authorize",
            "token_endpoint": f"{base}/v2/oauth/token",
            "response_types_supported": ["code"],
            "jwks_uri": f"{base}/oauth/jwks",
            "revocation_endpoint": f"{base}/v2/oauth/revoke",
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
        }

    def handle(self, endpoint: str, request: RecordedRequest) -> Response:
        """Answer a request to ``endpoint`` (``metadata``, ``authorize``, ``token``,
        ``revoke`` or ``jwks``)."""
        if endpoint == "authorize":
            return self._authorize(request)
        if endpoint in {"token", "revoke"}:
            if request.method != "POST":
                return _oauth_response(_OAuthError(405, "invalid_request", "use POST"), {"Allow": "POST"})
            try:
                return self._token(request) if endpoint == "token" else self._revoke(request)
            except _OAuthError as exc:
                return _oauth_response(exc)
        if request.method not in {"GET", "HEAD"}:
            return _oauth_response(_OAuthError(405, "invalid_request", "use GET"), {"Allow": "GET"})
        if endpoint == "jwks":
            with self._lock:
                self._stats["jwks"] += 1
            return _json(200, self.jwks, {"Cache-Control": "public, max-age=300"})
        return _json(200, self.metadata(), {"Cache-Control": "public, max-age=300"})

    def _authorize(self, request: RecordedRequest) -> Response:
        with self._lock:
            self._stats["authorize"] += 1
        if request.method not in {"GET", "HEAD"}:
            return _page(405, "Method not allowed", "The authorize endpoint takes GET requests.")
        query = {name: values[0] for name, values in request.query.items()}
        problem = self._authorize_problem(query)
        if problem:
            return _page(400, "Bad authorization request", problem)
        redirect_uri, state = query["redirect_uri"], query["state"]
        if query.get("deny"):
            return _redirect(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": "The user denied the authorization request.",
                    "state": state,
                },
            )
        try:
            character = self._chosen_character(query)
        except ValueError as exc:
            return _page(400, "Bad authorization request", str(exc))
        if character is None:
            return self._login_page(query)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                client_id=query["client_id"],
                redirect_uri=redirect_uri,
                scopes=query.get("scope", "").split(),
                character_id=character.character_id,
                challenge=query.get("code_challenge"),
                expires_at=time.monotonic() + self.code_lifetime,
            )
        return _redirect(redirect_uri, {"code": code, "state": state})

    def _authorize_problem(self, query: dict[str, str]) -> str | None:
        if query.get("response_type") != "code":
            return "response_type must be 'code' (the emulator plays the authorization code flow)."
        client_id = query.get("client_id")
        if not client_id:
            return "client_id is missing."
        if self.client_id is not None and client_id != self.client_id:
            return f"Unknown client_id {client_id!r}: this emulator knows only {self.client_id!r}."
        redirect = urlsplit(query.get("redirect_uri", ""))
        if redirect.scheme not in {"http", "https"} or not redirect.netloc:
            return "redirect_uri is missing or not an absolute http(s) URL."
        if not query.get("state"):
            return "state is missing: EVE SSO requires it (CSRF protection)."
        challenge, method = query.get("code_challenge"), query.get("code_challenge_method")
        if challenge is None and method is not None:
            return "code_challenge_method given without code_challenge."
        if challenge is not None:
            if method != "S256":
                return "code_challenge_method must be S256 (EVE SSO supports no other)."
            if not 43 <= len(challenge) <= 128 or not _is_base64url(challenge):
                return "code_challenge must be 43-128 base64url characters (RFC 7636)."
        return None

    def _chosen_character(self, query: dict[str, str]) -> Character | None:
        raw_id, name = query.get("character_id", "").strip(), query.get("character_name", "").strip()
        if len(name) > 100:
            raise ValueError("character_name is longer than 100 characters.")
        if raw_id:
            if not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 12:
                raise ValueError("character_id must be a positive integer.")
            character_id = int(raw_id)
            with self._lock:
                if character_id not in self._characters:
                    self._characters[character_id] = Character(
                        character_id, name or f"Character {character_id}"
                    )
            return self.character(character_id)
        if name:
            return self._character_named(name)
        return None

    def _character_named(self, name: str) -> Character:
        with self._lock:
            for character in self._characters.values():
                if character.name.lower() == name.lower():
                    return replace(character)
            span = len(TYPED_CHARACTER_IDS)
            offset = int.from_bytes(hashlib.sha256(name.lower().encode()).digest()[:8], "big")
            character_id = TYPED_CHARACTER_IDS.start + offset % span
            while character_id in self._characters:
                next_offset = (character_id + 1 - TYPED_CHARACTER_IDS.start) % span
                character_id = TYPED_CHARACTER_IDS.start + next_offset
            self._characters[character_id] = Character(character_id, name)
            return replace(self._characters[character_id])

    def _login_page(self, query: dict[str, str]) -> Response:
        keep = {k: v for k, v in query.items() if k not in {"character_id", "character_name", "deny"}}
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in keep.items()
        )
        buttons = "".join(
            f'<button type="submit" name="character_id" value="{c.character_id}">'
            f"{html.escape(c.name)} <small>({c.character_id})</small></button>"
            for c in self.characters
        )
        scopes = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in query.get("scope", "").split())
        body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>EVE SSO emulator</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;
background:#111;color:#ddd}}
button{{display:block;width:100%;margin:.4rem 0;padding:.6rem;font-size:1rem;cursor:pointer}}
fieldset{{border:1px solid #444;margin:1rem 0}}input{{font-size:1rem;margin:.2rem 0}}
.note{{color:#999;font-size:.9rem}}
</style></head><body>
<h1>EVE SSO emulator</h1>
<p>Application <code>{html.escape(query.get("client_id", ""))}</code> asks to log in a
character{" with these scopes:" if scopes else "."}</p>
{f"<ul>{scopes}</ul>" if scopes else ""}
<form method="get" action="/v2/oauth/authorize">{hidden}
<fieldset><legend>Log in as</legend>{buttons}</fieldset></form>
<form method="get" action="/v2/oauth/authorize">{hidden}
<fieldset><legend>Another character</legend>
<label>Name <input name="character_name" required maxlength="100"></label><br>
<label>Character ID (optional) <input name="character_id" inputmode="numeric"
pattern="[0-9]*"></label>
<button type="submit">Log in</button></fieldset></form>
<form method="get" action="/v2/oauth/authorize">{hidden}
<button type="submit" name="deny" value="1">Cancel</button></form>
<p class="note">This is a test double of EVE SSO. No password is asked and nothing leaves
this machine.</p>
</body></html>"""
        return Response(
            200,
            {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
            body.encode(),
        )

    def _token(self, request: RecordedRequest) -> Response:
        form = _read_form(request)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _OAuthError(400, "invalid_request", "grant_type is missing")
        if grant_type not in {"authorization_code", "refresh_token"}:
            raise _OAuthError(
                400, "unsupported_grant_type", f"grant_type {grant_type[:50]!r} is not supported"
            )
        client_id, authenticated = self._client(request, form)
        if grant_type == "authorization_code":
            return self._exchange_code(form, client_id, authenticated)
        try:
            return self._refresh(form, client_id, authenticated)
        except _OAuthError as exc:
            if exc.status == 400:
                with self._lock:
                    self._stats["refresh_failures"] += 1
            raise

    def _exchange_code(self, form: dict[str, str], client_id: str, authenticated: bool) -> Response:
        code = form.get("code")
        if not code:
            raise _OAuthError(400, "invalid_request", "code is missing")
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None:
            raise _OAuthError(400, "invalid_grant", "authorization code unknown or already used")
        if grant.expires_at <= time.monotonic():
            raise _OAuthError(400, "invalid_grant", "authorization code expired")
        if grant.client_id != client_id:
            raise _OAuthError(400, "invalid_grant", "authorization code issued to another client")
        if "redirect_uri" in form and form["redirect_uri"] != grant.redirect_uri:
            raise _OAuthError(400, "invalid_grant", "redirect_uri differs from the authorization request")
        verifier = form.get("code_verifier")
        if grant.challenge is not None:
            if not verifier:
                raise _OAuthError(400, "invalid_grant", "code_verifier is missing (PKCE)")
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if not secrets.compare_digest(expected, grant.challenge):
                raise _OAuthError(400, "invalid_grant", "code_verifier does not match code_challenge")
        elif verifier is not None:
            raise _OAuthError(400, "invalid_grant", "code_verifier sent but no code_challenge was")
        elif not authenticated:
            raise _OAuthError(401, "invalid_client", "client authentication required without PKCE")
        public = grant.challenge is not None and not authenticated
        refresh = self._new_grant(_Grant(grant.character_id, grant.scopes, client_id, public))
        with self._lock:
            self._stats["code_exchanges"] += 1
            overrides = self._tamper.popleft() if self._tamper else {}
        answer = self._token_answer(grant.character_id, grant.scopes, client_id, refresh, overrides)
        return _json(200, answer, _NO_STORE)

    def _refresh(self, form: dict[str, str], client_id: str, authenticated: bool) -> Response:
        token = form.get("refresh_token")
        if not token:
            raise _OAuthError(400, "invalid_request", "refresh_token is missing")
        with self._lock:
            grant = self._grants.get(token)
            if grant is None:
                raise _OAuthError(400, "invalid_grant", "refresh token unknown, used or revoked")
            if grant.client_id != client_id:
                raise _OAuthError(400, "invalid_grant", "refresh token issued to another client")
            if not authenticated and not grant.public:
                raise _OAuthError(401, "invalid_client", "client authentication required")
            scopes = grant.scopes
            if form.get("scope"):
                requested = form["scope"].split()
                if not set(requested) <= set(grant.scopes):
                    raise _OAuthError(400, "invalid_scope", "scope exceeds the scopes granted")
                scopes = list(dict.fromkeys(requested))
            if self.rotate_refresh_tokens:
                del self._grants[token]
                token = self._new_grant(grant)  # saves the state file
            self._stats["refreshes"] += 1
            overrides = self._tamper.popleft() if self._tamper else {}
        answer = self._token_answer(grant.character_id, scopes, client_id, token, overrides)
        return _json(200, answer, _NO_STORE)

    def _revoke(self, request: RecordedRequest) -> Response:
        form = _read_form(request)
        client_id, _ = self._client(request, form)
        token = form.get("token")
        if not token:
            raise _OAuthError(400, "invalid_request", "token is missing")
        with self._lock:
            grant = self._grants.get(token)
            if grant is not None and grant.client_id == client_id:
                del self._grants[token]
                self._save_state()
            self._stats["revocations"] += 1
        return Response(200, {"Cache-Control": "no-store"}, b"")

    def _client(self, request: RecordedRequest, form: dict[str, str]) -> tuple[str, bool]:
        """Authenticate the client: HTTP Basic (web apps) or ``client_id`` in the body with
        an optional ``client_secret`` (RFC 6749 2.3.1). Returns ``(client_id, whether a
        secret was checked)``."""
        authorization = request.headers.get("Authorization", "")
        secret: str | None
        if authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise _OAuthError(401, "invalid_client", "malformed Basic credentials") from exc
            client_id, colon, secret = decoded.partition(":")
            if not colon:
                raise _OAuthError(401, "invalid_client", "malformed Basic credentials")
            # RFC 6749 2.3.1 form-encodes both parts first; most clients do not.
            if self.client_id is not None and client_id != self.client_id:
                client_id = unquote(client_id)
            if self.client_secret is not None and secret != self.client_secret:
                secret = unquote(secret)
            if form.get("client_id", client_id) != client_id:
                raise _OAuthError(400, "invalid_request", "client_id differs from the Basic credentials")
        elif form.get("client_id"):
            client_id, secret = form["client_id"], form.get("client_secret")
        else:
            raise _OAuthError(401, "invalid_client", "client authentication missing")
        if self.client_id is not None and client_id != self.client_id:
            raise _OAuthError(401, "invalid_client", "unknown client")
        if self.client_secret is None:
            return client_id, True
        if secret is None:
            return client_id, False
        if not secrets.compare_digest(secret.encode(), self.client_secret.encode()):
            raise _OAuthError(401, "invalid_client", "client secret does not match")
        return client_id, True

    # --- tokens ----------------------------------------------------------------------

    def _new_grant(self, grant: _Grant) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[token] = replace(grant)
            self._save_state()
        return token

    # --- the state file ----------------------------------------------------------------

    def _save_state(self) -> None:
        """Write the refresh tokens and characters to :attr:`state_file`, if there is one
        (caller holds the lock). Written to a temporary file and renamed over the old one,
        so a crash leaves either state whole."""
        if self.state_file is None:
            return
        state = {
            "keys": {"rsa": _pem(self._rsa), "ec": _pem(self._ec)},
            "grants": {token: asdict(grant) for token, grant in self._grants.items()},
            "characters": [asdict(c) for c in self._characters.values()],
            "transfers": {str(k): v for k, v in self._transfers.items()},
        }
        temporary = self.state_file.with_name(self.state_file.name + ".tmp")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self.state_file)

    def _load_state(self) -> None:
        """Read :attr:`state_file` if it exists. A file that does not hold this module's
        state is logged and set aside as ``<name>.bad``; the emulator starts empty."""
        if self.state_file is None or not self.state_file.exists():
            return
        try:
            state = json.loads(self.state_file.read_text())
            grants = {str(token): _Grant(**fields) for token, fields in state["grants"].items()}
            characters = [Character(**fields) for fields in state["characters"]]
            transfers = {int(k): int(v) for k, v in state.get("transfers", {}).items()}
            keys = state.get("keys")
            loaded = (
                None
                if keys is None
                else [serialization.load_pem_private_key(keys[k].encode(), password=None) for k in ("rsa", "ec")]
            )
            if loaded is not None and not (
                isinstance(loaded[0], rsa.RSAPrivateKey) and isinstance(loaded[1], ec.EllipticCurvePrivateKey)
            ):
                raise TypeError("the keys are not an RSA and an EC private key")
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning("esi emulator: ignoring the state file %s (%s)", self.state_file, exc)
            os.replace(self.state_file, self.state_file.with_name(self.state_file.name + ".bad"))
            return
        with self._lock:
            # The keys too: access tokens a site stored before the restart still verify.
            if loaded is not None:
                rsa_key, ec_key = loaded
                assert isinstance(rsa_key, rsa.RSAPrivateKey) and isinstance(ec_key, ec.EllipticCurvePrivateKey)
                self._rsa, self._ec = rsa_key, ec_key
            self._grants.update(grants)
            self._characters.update({c.character_id: c for c in characters})
            self._transfers.update(transfers)

    def _token_answer(
        self, character_id: int, scopes: list[str], client_id: str, refresh: str, overrides: dict[str, Any]
    ) -> dict[str, Any]:
        access = self.issue_access_token(character_id, scopes, client_id=client_id, **overrides)
        return {
            "access_token": access,
            "expires_in": self.access_token_lifetime,
            "token_type": "Bearer",
            "refresh_token": refresh,
        }

    def _signing_key(self, alg: str) -> Any:
        return self._rsa if alg == "RS256" else self._ec

    def _unknown_key(self, alg: str) -> Any:
        with self._lock:
            if alg not in self._unknown_keys:
                self._unknown_keys[alg] = (
                    rsa.generate_private_key(public_exponent=65537, key_size=2048)
                    if alg == "RS256"
                    else ec.generate_private_key(ec.SECP256R1())
                )
            return self._unknown_keys[alg]


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _is_base64url(text: str) -> bool:
    return all(ch.isalnum() or ch in "-_" for ch in text) and text.isascii()


def _read_form(request: RecordedRequest) -> dict[str, str]:
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise _OAuthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
    try:
        text = request.body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _OAuthError(400, "invalid_request", "malformed form body") from exc
    repeated = sorted(name for name, values in fields.items() if len(values) > 1)
    if repeated:
        raise _OAuthError(400, "invalid_request", f"parameters repeated: {', '.join(repeated)[:200]}")
    return {name: values[0] for name, values in fields.items()}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"Content-Type": _JSON, **(headers or {})}, json.dumps(body).encode())


def _oauth_response(error: _OAuthError, headers: dict[str, str] | None = None) -> Response:
    extra = dict(headers or {})
    if error.status == 401:
        extra["WWW-Authenticate"] = 'Basic realm="EVE SSO emulator"'
    body = {"error": error.error, "error_description": error.description}
    return _json(error.status, body, {**_NO_STORE, **extra})


def _redirect(uri: str, params: dict[str, str]) -> Response:
    separator = "&" if urlsplit(uri).query else "?"
    # Percent-encode what a header cannot carry (non-ASCII, CR/LF) so a hostile
    # redirect_uri cannot split the response.
    location = quote(f"{uri}{separator}{urlencode(params)}", safe=":/?#[]@!$&'()*+,;=%~")
    return Response(302, {"Location": location, "Cache-Control": "no-store"}, b"")


def _page(status: int, title: str, message: str) -> Response:
    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>EVE SSO emulator: {html.escape(title)}</title></head>"
        f"<body><h1>EVE SSO emulator</h1><h2>{html.escape(title)}</h2>"
        f"<p>{html.escape(message)}</p></body></html>"
    )
    headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    return Response(status, headers, body.encode())
