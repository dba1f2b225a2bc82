"""Exceptions raised by the spec engine (``esi.openapi``).

They are defined in :mod:`esi.errors`, beside the client's, and importable from both
places. Each derives from :class:`esi.errors.DjangoEsiException`, so one ``except`` catches
everything this package raises, and from the builtin a caller would expect for that kind of
failure (``ValueError`` for bad input, ``TypeError`` for bad call arguments, ``AttributeError``
for unknown names, so that ``getattr(client.Character, name, None)`` works).
"""

from __future__ import annotations

from esi.errors import (
    DecodeError,
    ParameterError,
    SpecError,
    UnknownOperationError,
    UnknownResourceError,
)

__all__ = ["DecodeError", "ParameterError", "SpecError", "UnknownOperationError", "UnknownResourceError"]
