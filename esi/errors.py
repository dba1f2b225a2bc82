"""Exceptions raised by django-esi-ng.

The names are those of django-esi 7 and 10 so that ``except`` clauses written for
django-esi keep working. Callers branch on the class, never on the message.
"""

from __future__ import annotations

from typing import Any


class DjangoEsiException(Exception):
    """Base class of every exception raised by this package."""


class TokenError(DjangoEsiException):
    """A token cannot be used."""


class TokenInvalidError(TokenError):
    """EVE SSO definitively rejected the token (``invalid_grant``, ``invalid_token``, or the
    owner hash changed): the grant is gone and the token should be deleted.

    ``reason`` says which: ``invalid_grant``, ``invalid_token``, ``owner_changed`` or
    ``character_changed`` (``None`` when raised by code written for django-esi).
    """

    def __init__(self, message: str = "", reason: str | None = None) -> None:
        self.reason = reason
        super().__init__(*([message] if message else []))


class TokenExpiredError(TokenError):
    """The access token has expired and cannot be refreshed."""


class NotRefreshableTokenError(TokenError):
    """The token has no refresh token."""


class IncompleteResponseError(DjangoEsiException):
    """A response was unusable or incomplete (for example a token response without
    an access token, or pages of one ESI result that disagree)."""


class SSOUnavailableError(IncompleteResponseError):
    """EVE SSO could not be reached or answered with 429 / 5xx, after retries.

    The token itself may be fine and must be kept. ``status_code`` is the HTTP status of
    SSO's last answer (``None`` when there was none: a timeout or a connection error), and
    ``retry_after`` its ``Retry-After`` in seconds, if it sent one.
    """

    def __init__(
        self, message: str = "", *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(*([message] if message else []))


class SSOOAuthError(DjangoEsiException):
    """EVE SSO answered with an OAuth 2.0 error (RFC 6749 section 5.2) that is not about
    the grant itself, for example ``invalid_client``."""

    def __init__(self, error: str, description: str | None = None) -> None:
        self.error = error
        self.description = description
        super().__init__(error, description)

    def __str__(self) -> str:
        return f"{self.error}: {self.description}" if self.description else self.error


class TokenVerificationError(DjangoEsiException):
    """An access-token JWT failed verification: bad signature, unknown ``kid``, wrong
    ``iss`` or ``aud``, expired, or malformed claims.

    ``reason`` is a short machine-readable code (``signature``, ``unknown_key``,
    ``issuer``, ``audience``, ``expired``, ``malformed``, ``jwks``).
    Source: CCP, "SSO: Validating JWT tokens" (developers.eveonline.com/docs/services/sso/).
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


# --------------------------------------------------------------------------- ESI responses


class HTTPError(DjangoEsiException):
    """ESI answered with an error status. Named like bravado's exceptions
    (``bravado.exception``) so code written for django-esi 7 keeps its ``except`` clauses.

    Attributes:
        status_code: the HTTP status (int).
        headers: the response headers (case-insensitive mapping).
        text: the response body as text; ``json()`` parses it.
        response: the same object, for code that reads ``exc.response.status_code``.
    """

    status_code: int = 0

    def __init__(
        self,
        status_code: int | None = None,
        headers: Any = None,
        text: str = "",
        message: str | None = None,
        operation: str | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers if headers is not None else {}
        self.text = text
        self.operation = operation
        self.response = self
        self.message = message or _error_message(text) or f"HTTP {self.status_code}"
        super().__init__(f"{self.status_code} {self.message}" + (f" ({operation})" if operation else ""))

    def json(self) -> Any:
        """The body parsed as JSON (ESI's ``{"error": "..."}``); raises ``ValueError`` if
        it is not JSON."""
        import json

        return json.loads(self.text)


def _error_message(text: str) -> str | None:
    import json

    try:
        body = json.loads(text)
    except (ValueError, TypeError):
        return None
    return str(body.get("error")) if isinstance(body, dict) and body.get("error") else None


class HTTPClientError(HTTPError):
    """A 4xx answer."""


class HTTPServerError(HTTPError):
    """A 5xx answer."""


class HTTPBadRequest(HTTPClientError):
    """400: the request is malformed (a parameter ESI rejects)."""

    status_code = 400


class HTTPUnauthorized(HTTPClientError):
    """401: no or an unusable access token."""

    status_code = 401


class HTTPForbidden(HTTPClientError):
    """403: the token lacks a scope, or the character lacks the in-game role."""

    status_code = 403


class HTTPNotFound(HTTPClientError):
    """404: no such entity (or page past ``X-Pages``)."""

    status_code = 404


class HTTPMethodNotAllowed(HTTPClientError):
    """405: the route does not take this HTTP method."""

    status_code = 405


class HTTPConflict(HTTPClientError):
    """409: the request conflicts with the entity's state."""

    status_code = 409


class HTTPUnprocessableEntity(HTTPClientError):
    """422: the request is well formed but ESI cannot act on it."""

    status_code = 422


class HTTPEnhanceYourCalm(HTTPClientError):
    """420: ESI's error limit is exhausted (CCP "ESI best practices: error limit")."""

    status_code = 420


class HTTPTooManyRequests(HTTPClientError):
    """429: a rate-limit group's bucket is empty; ``retry_after`` is in seconds."""

    status_code = 429

    @property
    def retry_after(self) -> float | None:
        """The ``Retry-After`` header in seconds, or ``None`` if absent or malformed."""
        try:
            return float(self.headers.get("Retry-After", ""))
        except ValueError:
            return None


class HTTPInternalServerError(HTTPServerError):
    """500: ESI failed."""

    status_code = 500


class HTTPNotImplemented(HTTPServerError):
    """501: ESI does not implement the route."""

    status_code = 501


class HTTPBadGateway(HTTPServerError):
    """502: a server behind ESI failed; retried by the client."""

    status_code = 502


class HTTPServiceUnavailable(HTTPServerError):
    """503: ESI is down or in downtime; retried by the client."""

    status_code = 503


class HTTPGatewayTimeout(HTTPServerError):
    """504: a server behind ESI timed out; retried by the client."""

    status_code = 504


_BY_STATUS: dict[int, type[HTTPError]] = {
    cls.status_code: cls
    for cls in (
        HTTPBadRequest, HTTPUnauthorized, HTTPForbidden, HTTPNotFound, HTTPMethodNotAllowed,
        HTTPConflict, HTTPUnprocessableEntity, HTTPEnhanceYourCalm, HTTPTooManyRequests,
        HTTPInternalServerError, HTTPNotImplemented, HTTPBadGateway, HTTPServiceUnavailable,
        HTTPGatewayTimeout,
    )
}


# -- the spec engine (esi.openapi) ---------------------------------------------------------
#
# Each also derives from the builtin a caller would expect (ValueError for bad input,
# TypeError for bad call arguments, AttributeError for unknown names, so that
# getattr(client.Character, name, None) works).


class SpecError(DjangoEsiException, ValueError):
    """The input is not a usable ESI spec: unreadable, not JSON, not a JSON object, not
    Swagger 2.0 / OpenAPI 3.0 or 3.1, or without ``paths``."""


class UnknownResourceError(DjangoEsiException, AttributeError):
    """No resource (spec tag) of that name. The message lists the closest names."""


class UnknownOperationError(DjangoEsiException, AttributeError):
    """No operation of that name in the resource. The message lists the closest names."""


class ParameterError(DjangoEsiException, TypeError):
    """Arguments for an operation are missing, unknown, or do not fit the spec (wrong type,
    value outside the enum or bounds). The message names the operation and the parameter."""


class DecodeError(DjangoEsiException, ValueError):
    """A response body is not JSON, or does not have the shape its response schema declares
    (for example a list where an object is expected, or ``null`` for a required property)."""


class HTTPNotModified(HTTPError):
    """``304 Not Modified`` with nothing stored to answer from: raised only when
    ``result(last_modified=...)`` (django-esi 10's ``If-Modified-Since``) earns a 304.
    Revalidation with the stored copy's ETag returns the stored data instead."""

    status_code = 304


def http_error(status_code: int, headers: Any = None, text: str = "", operation: str | None = None) -> HTTPError:
    """The :class:`HTTPError` subclass for ``status_code`` (``HTTPClientError`` /
    ``HTTPServerError`` for statuses without a class of their own)."""
    cls = _BY_STATUS.get(status_code) or (HTTPServerError if status_code >= 500 else HTTPClientError)
    return cls(status_code, headers, text, operation=operation)


class ESIErrorLimitException(DjangoEsiException):
    """ESI's error limit is (nearly) exhausted and ``ESI_ERROR_LIMIT_BEHAVIOUR`` is
    ``"raise"``: no request was sent. ``reset`` is the seconds until the window resets.
    (django-esi 10 name; CCP "ESI best practices: error limit".)"""

    def __init__(self, reset: float | None = None, message: str | None = None) -> None:
        self.reset = reset
        super().__init__(message or (f"ESI error limit reached; resets in {reset:.0f} s" if reset else "ESI error limit reached"))


class ESIBucketLimitException(DjangoEsiException):
    """A rate-limit group's bucket is empty (ESI answered 429) and
    ``ESI_RATE_LIMIT_BEHAVIOUR`` is ``"raise"``: no request was sent. ``bucket`` names the
    group (and character); ``reset`` is the seconds to wait. (django-esi 10 name.)"""

    def __init__(self, bucket: str, reset: float | None = None, message: str | None = None) -> None:
        self.bucket = bucket
        self.reset = reset
        super().__init__(message or f"ESI rate limit reached for {bucket}; retry in {reset or 0:.0f} s")


class ESIResponseDecodeError(IncompleteResponseError):
    """An ESI response could not be decoded against the spec (not JSON, or not the
    documented shape)."""


class ESIConnectionError(IncompleteResponseError):
    """ESI could not be reached (connection refused or dropped, timeout) after retries, or
    gave no complete answer within ``ESI_REQUESTS_TOTAL_TIMEOUT``."""


class ESIResponseTooLargeError(IncompleteResponseError):
    """An ESI answer was larger than ``ESI_MAX_RESPONSE_BYTES``; it was not read to the end
    (nor retried). ``limit`` is that setting, in bytes."""

    def __init__(self, message: str, limit: int) -> None:
        self.limit = limit
        super().__init__(message)


class ESITooManyPagesError(IncompleteResponseError):
    """An ``X-Pages`` result announced more pages than ``ESI_MAX_PAGES``; only the first
    page was fetched. ``pages`` is what ESI announced, ``limit`` the setting."""

    def __init__(self, message: str, pages: int, limit: int) -> None:
        self.pages = pages
        self.limit = limit
        super().__init__(message)


class MissingScopesError(TokenError):
    """The token lacks scopes the ESI operation requires (or no token was given for an
    authenticated operation); raised before any request. ``missing`` lists the scopes."""

    def __init__(self, operation: str, missing: list[str]) -> None:
        self.operation = operation
        self.missing = missing
        super().__init__(f"{operation} needs a token with the scope(s) {', '.join(missing)}")
