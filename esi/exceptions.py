"""django-esi 10's exception module, for apps that import from ``esi.exceptions``.

The classes are those of :mod:`esi.errors`, including ``HTTPError``, the base of every HTTP
error (django-esi 10 re-exported aiopenapi3's; here the client's errors also derive from
aiopenapi3's classes where aiopenapi3 is imported, see :func:`esi.errors.http_error`). A
``304 Not Modified`` answer to the client's own ETag revalidation returns the stored data,
so ``HTTPNotModified`` is raised only for ``result(last_modified=...)``.
"""

from __future__ import annotations

from typing import Any

from .errors import (
    ESIBucketLimitException,
    ESIErrorLimitException,
    HTTPClientError,
    HTTPError,
    HTTPNotModified,
    HTTPServerError,
)


class TaskBucketLimitException(ESIBucketLimitException):
    """A task's own rate limit is spent (``esi.decorators.rate_limited_task``): ``bucket``
    is the :class:`~esi.rate_limiting.TaskRateLimitBucket`, ``reset`` the seconds until the
    next run may start."""

    def __init__(self, bucket: Any, reset: float | None = None) -> None:
        super().__init__(bucket, reset, f"Task Bucket Limit Exceeded: {bucket} - Retry after {reset} seconds")


__all__ = [
    "ESIBucketLimitException",
    "ESIErrorLimitException",
    "HTTPClientError",
    "HTTPError",
    "HTTPNotModified",
    "HTTPServerError",
    "TaskBucketLimitException",
]
