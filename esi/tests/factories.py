"""django-esi 7's test factories (``esi.tests.factories``): ESI errors as the client raises
them, for mocks of ESI calls."""

from __future__ import annotations

from esi.errors import HTTPError, http_error


class BravadoResponseStub:
    """A stand-in for bravado's ``IncomingResponse``: what an ``HTTPError`` built from a
    response reads (``status_code``, ``reason``, ``text``, ``headers``)."""

    def __init__(
        self,
        status_code: int,
        reason: str = "",
        text: str = "",
        headers: dict[str, str] | None = None,
        raw_bytes: bytes | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.text = text
        self.headers = headers if headers else {}
        self.raw_bytes = raw_bytes

    def __str__(self) -> str:
        return f"{self.status_code} {self.reason}"


def create_http_error(http_code: int, text: str | None = None) -> HTTPError:
    """The error the client raises for ``http_code`` (400, 401, 403, 404, 500, 502, 503,
    504), with ``text`` as its body (default ``"Test exception"``). Where bravado is
    imported it is also bravado's class of that status, as django-esi 7's was.

    Raises ``NotImplementedError`` for another code, as django-esi 7 did.
    """
    if http_code not in (400, 401, 403, 404, 500, 502, 503, 504):
        raise NotImplementedError(f"Unknown http code: {http_code}")
    error = http_error(http_code, {}, text or "Test exception")
    error.response = BravadoResponseStub(http_code, text=error.text)
    return error


__all__ = ["BravadoResponseStub", "create_http_error"]
