"""Exceptions raised by the spec engine (``esi.openapi``).

Each class derives from :class:`esi.errors.DjangoEsiException`, so one ``except`` catches
everything this package raises, and from the builtin a caller would expect for that kind of
failure (``ValueError`` for bad input, ``TypeError`` for bad call arguments, ``AttributeError``
for unknown names, so that ``getattr(client.Character, name, None)`` works).
"""

from __future__ import annotations

from esi.errors import DjangoEsiException


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
