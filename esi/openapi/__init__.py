"""The spec engine of the ESI client: ESI specs (OpenAPI 3.x or Swagger 2.0) loaded into
bravado-core lazily, per resource, with compiled response decoders.

Internal to django-esi-ng (the public client API is ``esi.clients``); it implements the
architecture decisions 1 to 5: bravado-core for both spec formats, lazy per-resource builds,
both operation names, compiled decoders, and the bundled default spec.
"""

from __future__ import annotations

from esi.openapi.errors import (
    DecodeError,
    ParameterError,
    SpecError,
    UnknownOperationError,
    UnknownResourceError,
)
from esi.openapi.normalize import detect_format, normalize_openapi31
from esi.openapi.spec import (
    TRANSPORT_PARAMS,
    EsiSpec,
    Operation,
    PreparedRequest,
    Resource,
    bundled_spec_path,
)

__all__ = [
    "TRANSPORT_PARAMS",
    "DecodeError",
    "EsiSpec",
    "Operation",
    "ParameterError",
    "PreparedRequest",
    "Resource",
    "SpecError",
    "UnknownOperationError",
    "UnknownResourceError",
    "bundled_spec_path",
    "detect_format",
    "normalize_openapi31",
]
