"""Exceptions raised by django-esi-ng.

The names are those of django-esi 7 and 10 so that ``except`` clauses written for
django-esi keep working. Callers branch on the class, never on the message.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TypeVar, cast

from django.core.exceptions import ImproperlyConfigured

E = TypeVar("E", bound=BaseException)


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


class SSOOAuthError(IncompleteResponseError):
    """EVE SSO answered with an OAuth 2.0 error (RFC 6749 section 5.2) that is not about
    the grant itself, for example ``invalid_request``. The token is kept.

    An :class:`IncompleteResponseError`, the class django-esi 10's ``Token.refresh()``
    raised for these answers; ``error`` and ``description`` are SSO's.
    """

    def __init__(self, error: str, description: str | None = None) -> None:
        self.error = error
        self.description = description
        Exception.__init__(self, error, description)

    def __str__(self) -> str:
        return f"{self.error}: {self.description}" if self.description else self.error


class SSOClientError(SSOOAuthError, ImproperlyConfigured):
    """EVE SSO refused the site's own credentials (``invalid_client``,
    ``unauthorized_client``): ``ESI_SSO_CLIENT_ID`` / ``ESI_SSO_CLIENT_SECRET`` or the
    application's registration are wrong. Also an ``ImproperlyConfigured``, which
    django-esi 10's ``Token.refresh()`` raised for them. The token is kept."""


#: OAuth errors about the site's client rather than the grant (RFC 6749 section 5.2).
CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})


def oauth_error(error: str, description: str | None = None) -> SSOOAuthError:
    """The exception for an OAuth error answer of EVE SSO that does not end the grant:
    :class:`SSOClientError` for the client's credentials, else :class:`SSOOAuthError`."""
    cls = SSOClientError if error in CLIENT_ERRORS else SSOOAuthError
    return cls(error, description)


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
        text: the response body as text; ``json()`` parses it, :attr:`data` too.
        response: the same object, for code that reads ``exc.response.status_code``
            (or the response given to a bravado-style constructor).

    Constructors of every release are accepted:

    - django-esi-ng: ``HTTPError(status_code, headers, text=..., operation=...)``;
    - django-esi 10 (aiopenapi3): ``HTTPClientError(status_code=404, headers={}, data=...)``,
      positionally ``(status_code, headers, data)``, and ``HTTPError("message")``;
    - django-esi 7 (bravado): ``HTTPNotFound(response, message=None, swagger_result=None)``
      with a response object carrying ``status_code`` (and ``headers``, ``text``).

    Where bravado or aiopenapi3 is imported in the process, every error made, by the
    client or by code constructing one (a test's mock ``side_effect``), also derives from
    their classes of the same status (``bravado.exception.HTTPNotFound``,
    ``aiopenapi3.errors.HTTPClientError``), so ``except`` clauses naming those catch it
    (see :func:`http_error`).
    """

    status_code: int = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        status = kwargs.get("status_code")
        if status is None and args and isinstance(args[0], int) and not isinstance(args[0], bool):
            status = args[0]
        if status is None:
            response = kwargs.get("response", args[0] if args and hasattr(args[0], "status_code") else None)
            status = getattr(response, "status_code", None)
        if not isinstance(status, int):
            status = cls.status_code
        derived = _compatible(_own_class(cls), status)
        # The allocator after this class's in the derived class's order: OSError's where
        # bravado's classes are bases, else BaseException's.
        return super(HTTPError, derived).__new__(derived)

    def __init__(
        self,
        *args: Any,
        status_code: int | None = None,
        headers: Any = None,
        text: str | None = None,
        data: Any = None,
        message: str | None = None,
        operation: str | None = None,
        response: Any = None,
        swagger_result: Any = None,
    ) -> None:
        if args:
            first = args[0]
            if isinstance(first, int) and not isinstance(first, bool):
                named = dict(zip(("status_code", "headers", "data"), args))
            elif isinstance(first, str):
                named = dict(zip(("message",), args))
            elif hasattr(first, "status_code"):
                named = dict(zip(("response", "message", "swagger_result"), args))
            else:
                raise TypeError(
                    f"{type(self).__name__}() takes a status code, a message or a response "
                    f"first, not {type(first).__name__}"
                )
            if len(args) > len(named):
                raise TypeError(f"{type(self).__name__}() got {len(args)} positional arguments, at most {len(named)} fit")
            given = {"status_code": status_code, "headers": headers, "data": data, "message": message,
                     "response": response, "swagger_result": swagger_result}
            for name, value in named.items():
                if given[name] is not None:
                    raise TypeError(f"{type(self).__name__}() got multiple values for argument {name!r}")
            status_code = named.get("status_code", status_code)
            headers = named.get("headers", headers)
            data = named.get("data", data)
            message = named.get("message", message)
            response = named.get("response", response)
            swagger_result = named.get("swagger_result", swagger_result)
        if response is not None:
            if status_code is None:
                status_code = getattr(response, "status_code", None)
            if headers is None:
                headers = getattr(response, "headers", None)
            if text is None:
                body = getattr(response, "text", None)
                text = body if isinstance(body, str) else None
        if status_code is not None:
            self.status_code = status_code
        if text is None:
            text = _as_text(data if data is not None else swagger_result)
        self.headers = headers if headers is not None else {}
        self.text = text
        self._data = data
        self._swagger_result = swagger_result
        self.operation = operation
        self.response = response if response is not None else self
        self.message = message or _error_message(text) or f"HTTP {self.status_code}"
        # Not super().__init__: where a compatible class from bravado or aiopenapi3 is a
        # base (see http_error), its own __init__ wants other arguments.
        BaseException.__init__(self, f"{self.status_code} {self.message}" + (f" ({operation})" if operation else ""))

    @property
    def data(self) -> Any:
        """The error body as django-esi 10 gave it: what was given as ``data``, else the
        JSON body parsed (objects as :class:`~esi.openapi.results.EsiObject`, so
        ``exc.data.error`` reads ESI's ``{"error": "..."}``), else the text (``None`` if
        empty)."""
        if self._data is None and self.text:
            try:
                self._data = _with_objects(json.loads(self.text))
            except ValueError:
                self._data = self.text
        return self._data

    @property
    def swagger_result(self) -> Any:
        """bravado's name for the parsed body: what was given as ``swagger_result``, else
        :attr:`data`."""
        return self._swagger_result if self._swagger_result is not None else self.data

    def json(self) -> Any:
        """The body parsed as JSON (ESI's ``{"error": "..."}``); raises ``ValueError`` if
        it is not JSON."""
        return json.loads(self.text)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (a Celery result, a cache) by its own class in this module, with its
        # state; the class derived for bravado / aiopenapi3 is made again where it is
        # unpickled, if they are imported there.
        state = {k: v for k, v in vars(self).items() if not (k == "response" and v is self)}
        return (_rebuild, (_own_class(type(self)), self.status_code, state, self.args))


def _rebuild(cls: type[HTTPError], status_code: int, state: dict[str, Any], args: tuple[Any, ...]) -> HTTPError:
    derived = _compatible(cls, status_code)
    error = super(HTTPError, derived).__new__(derived)
    error.__dict__.update(state)
    error.__dict__.setdefault("response", error)
    error.args = args
    return error


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    dump = getattr(value, "model_dump_json", None)
    if callable(dump):
        return str(dump())
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def _with_objects(value: Any) -> Any:
    from esi.openapi.results import EsiObject

    if isinstance(value, dict):
        return EsiObject({k: _with_objects(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_with_objects(v) for v in value]
    return value


def _error_message(text: str) -> str | None:
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
    ``HTTPServerError`` for statuses without a class of their own, :class:`HTTPNotModified`
    for 304), as the client raises it.

    Where ``bravado.exception`` (django-esi 7's errors) or ``aiopenapi3.errors``
    (django-esi 10's) has been imported in this process, the error's class also derives
    from their class for the status (``bravado.exception.HTTPNotFound``, or its
    ``HTTPClientError`` / ``HTTPServerError`` family; ``aiopenapi3.errors.HTTPClientError``
    / ``HTTPServerError``), so an ``except`` clause naming theirs catches it. Code that
    names a class in an ``except`` clause has imported its module by then; the check costs
    nothing when neither is loaded, and never imports them.
    """
    cls: type[HTTPError]
    if status_code == 304:
        cls = HTTPNotModified
    else:
        cls = _BY_STATUS.get(status_code) or (HTTPServerError if status_code >= 500 else HTTPClientError)
    return cls(status_code, headers, text=text, operation=operation)


#: The classes derived from ours and bravado's / aiopenapi3's, by (ours, their bases).
_derived: dict[tuple[type[BaseException], tuple[type[BaseException], ...]], type[Any]] = {}
_FAMILIES = {3: "HTTPRedirection", 4: "HTTPClientError", 5: "HTTPServerError"}


def _foreign_bases(status_code: int | None) -> tuple[type[BaseException], ...]:
    """bravado's and aiopenapi3's error classes for ``status_code`` (``None``: a connection
    error), of the libraries already imported."""
    bases: list[Any] = []
    bravado = sys.modules.get("bravado.exception")
    if bravado is not None:
        if status_code is None:
            bases.append(getattr(bravado, "BravadoConnectionError", None))
        else:
            family = _FAMILIES.get(status_code // 100, "HTTPError")
            bases.append(bravado.status_map.get(status_code) or getattr(bravado, family, None))
    aiopenapi3 = sys.modules.get("aiopenapi3.errors")
    if aiopenapi3 is not None and status_code is not None:
        name = _FAMILIES.get(status_code // 100, "HTTPError") if status_code >= 400 else "HTTPError"
        bases.append(getattr(aiopenapi3, name, None))
    return tuple(b for b in bases if isinstance(b, type) and issubclass(b, BaseException))


def _compatible(cls: type[E], status_code: int | None) -> type[E]:
    """``cls``, or a class derived from it and from :func:`_foreign_bases` (made once).

    The derived class keeps this module's behaviour: its ``__init__``, ``__str__``,
    ``__repr__``, equality and hashing are ours (bravado's ``__str__`` reads a response
    object, aiopenapi3's dataclasses compare by fields and are unhashable), and creating it
    does not register it in bravado's ``status_map``.
    """
    bases = _foreign_bases(status_code)
    if not bases:
        return cls
    key = (cls, bases)
    derived = _derived.get(key)
    if derived is None:
        bravado = sys.modules.get("bravado.exception")
        registered = dict(bravado.status_map) if bravado is not None else None
        namespace = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__str__": BaseException.__str__,
            "__repr__": BaseException.__repr__,
            "__eq__": object.__eq__,
            "__hash__": object.__hash__,
            "_esi_derived": True,
        }
        try:
            derived = type(cls.__name__, (cls, *bases), namespace)
        finally:
            if bravado is not None and registered is not None:
                bravado.status_map.clear()
                bravado.status_map.update(registered)
        # Two threads may both have made one; every caller gets the first.
        derived = _derived.setdefault(key, derived)
    return cast(type[E], derived)


def _own_class(cls: type[Any]) -> type[Any]:
    """The class of this module that ``cls`` is, or was derived from."""
    return next(c for c in cls.__mro__ if "_esi_derived" not in vars(c))


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

    def __init__(self, bucket: Any, reset: float | None = None, message: str | None = None) -> None:
        # ``bucket`` may also be django-esi 10's ESIRateLimitBucket (esi.rate_limiting),
        # whose window is the wait when no reset is given.
        if reset is None:
            reset = getattr(bucket, "window", None)
        self.bucket = bucket
        self.reset = reset
        super().__init__(message or f"ESI rate limit reached for {bucket}; retry in {reset or 0:.0f} s")


class ESIResponseDecodeError(IncompleteResponseError):
    """An ESI response could not be decoded against the spec (not JSON, or not the
    documented shape)."""


class ESIConnectionError(IncompleteResponseError):
    """ESI could not be reached (connection refused or dropped, timeout) after retries, or
    gave no complete answer within ``ESI_REQUESTS_TOTAL_TIMEOUT``.

    As the client raises it (:func:`connection_error`), it also derives from
    ``bravado.exception.BravadoConnectionError`` where that module is imported.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (connection_error, tuple(str(arg) for arg in self.args[:1]))


def connection_error(message: str) -> ESIConnectionError:
    """:class:`ESIConnectionError` as the client raises it (see :func:`http_error` for the
    classes of bravado it then also derives from)."""
    return _compatible(ESIConnectionError, None)(message)


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
