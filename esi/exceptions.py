"""django-esi 10's exception module, for apps that import from ``esi.exceptions``.

The classes are those of :mod:`esi.errors`. ``HTTPNotModified`` exists so that
``except HTTPNotModified`` clauses keep importing; django-esi-ng never raises it, because a
``304 Not Modified`` answer returns the stored data.
"""

from __future__ import annotations

from .errors import (
    ESIBucketLimitException,
    ESIErrorLimitException,
    HTTPClientError,
    HTTPError,
    HTTPServerError,
)


class HTTPNotModified(HTTPError):
    status_code = 304


__all__ = [
    "ESIBucketLimitException",
    "ESIErrorLimitException",
    "HTTPClientError",
    "HTTPNotModified",
    "HTTPServerError",
]
