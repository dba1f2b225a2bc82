"""django-esi 10's exception module, for apps that import from ``esi.exceptions``.

The classes are those of :mod:`esi.errors`. A ``304 Not Modified`` answer to the client's
own ETag revalidation returns the stored data, so ``HTTPNotModified`` is raised only for
``result(last_modified=...)``. ``TaskBucketLimitException`` exists so that imports and
``except`` clauses keep working; django-esi-ng has no task buckets and never raises it.
"""

from __future__ import annotations

from .errors import (
    ESIBucketLimitException,
    ESIErrorLimitException,
    HTTPClientError,
    HTTPNotModified,
    HTTPServerError,
)


class TaskBucketLimitException(ESIBucketLimitException):
    """django-esi 10's task rate-limit error (``bucket``, ``reset`` in seconds); never
    raised here."""


__all__ = [
    "ESIBucketLimitException",
    "ESIErrorLimitException",
    "HTTPClientError",
    "HTTPNotModified",
    "HTTPServerError",
    "TaskBucketLimitException",
]
