"""ESI specs as lazily built resources and operations (architecture decisions 1-3 and 5).

An :class:`EsiSpec` reads a spec (OpenAPI 3.0 / 3.1 as ESI serves it today, or a legacy
Swagger 2.0 ``swagger.json``) and indexes its operations by tag; that is all construction
does. The bravado-core ``Spec`` behind a :class:`Resource` (one tag) is built the first time
it is needed, from that resource's operations and the definitions they reach only, under a
per-resource lock, without validation. The full spec is validated by the test suite, never
at run time.

bravado-core stays the spec engine (architecture decision 1), with two fast paths beside it
that need neither bravado-core nor jsonschema (about 75 ms of imports in a fresh process):
:meth:`Operation.prepare` marshals and validates primitive path / query / header parameters
itself, as bravado-core would, and response decoders are compiled from the Swagger 2.0 form
of the spec (:attr:`Resource.decoders`). Body parameters, other parameter schemas, response
validation and ``discriminator`` schemas still build the resource and use bravado-core.

Operation names: an OpenAPI operationId (``GetCharactersCharacterIdNotifications``), its
snake_case form (``get_characters_character_id_notifications``, the Swagger 2.0 operationId),
the CamelCase form of a Swagger operationId, and the Swagger-style name derived from method
and path in both forms (``get_characters_character_id`` and ``GetCharactersCharacterId`` for
OpenAPI's ``GetCharactersDetail``, which CCP renamed on 2026-08-04) all resolve.
Tags with spaces are reachable with underscores (``Planetary_Interaction``).
"""

from __future__ import annotations

import difflib
import json
import numbers
import re
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import date
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from esi._json import loads
from esi.openapi.bravado_lock import BRAVADO_LOCK
from esi.openapi.errors import (
    DecodeError,
    ParameterError,
    SpecError,
    UnknownOperationError,
    UnknownResourceError,
)
from esi.openapi.normalize import (
    HTTP_METHODS,
    Normalizer,
    SpecFormat,
    copy_json,
    detect_format,
    iter_refs,
    ref_name,
)
from esi.openapi.swagger_names import BODY_PARAMETERS

# bravado-core is imported where it is used: importing it takes about a second (jsonschema
# builds its format checkers' grammars), which indexing a spec and reading operation
# metadata should not pay.
# The decoders module too: preparing a request does not need it.
if TYPE_CHECKING:
    from bravado_core.operation import Operation as BravadoOperation
    from bravado_core.param import Param
    from bravado_core.spec import Spec as BravadoSpec

    from esi.openapi.decoders import Decoder, DecoderCompiler

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"

#: Parameters the client sets itself (tenant, compatibility date, conditional requests,
#: language, the access token), so callers never have to pass them. Sources: ESI's
#: OpenAPI 3.1 spec (``X-Compatibility-Date``, ``X-Tenant``, ``If-None-Match``,
#: ``If-Modified-Since``, ``Accept-Language``) and the legacy Swagger specs (``datasource``,
#: ``language``, ``token``, ``user_agent`` / ``X-User-Agent``).
TRANSPORT_PARAMS = frozenset(
    {
        "X-Compatibility-Date",
        "compatibility_date",
        "X-Tenant",
        "datasource",
        "If-None-Match",
        "If-Modified-Since",
        "Accept-Language",
        "language",
        "token",
        "user_agent",
        "X-User-Agent",
    }
)

# Pagination styles by query parameter (ESI facts, "Pagination").
_PAGINATION_PARAMS = (
    ("page", "page"),
    ("before", "cursor"),
    ("after", "cursor"),
    ("from_id", "from_id"),
)

_COLLECTION_SEPARATORS = {"csv": ",", "ssv": " ", "tsv": "\t", "pipes": "|"}
_DATE_FORMATS = ("date", "date-time")

_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")
_NOT_IDENTIFIER = re.compile(r"\W")


def snake_case(operation_id: str) -> str:
    """``GetCharactersCharacterIdNotifications`` -> ``get_characters_character_id_notifications``
    (already snake_case names are returned unchanged)."""
    return _CAMEL_BOUNDARY.sub("_", operation_id).lower()


def camel_case(name: str) -> str:
    """``get_characters_character_id_notifications`` ->
    ``GetCharactersCharacterIdNotifications``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def path_operation_name(method: str, path: str) -> str:
    """The name ESI's Swagger specs gave every operation: the method and the path segments,
    braces dropped and hyphens as underscores (``get`` + ``/characters/{character_id}/`` ->
    ``get_characters_character_id``). Checked against all 206 operations of Swagger 1.3.8."""
    segments = [segment.strip("{}").replace("-", "_") for segment in path.split("/") if segment]
    return "_".join([method.lower(), *segments])


def resource_attribute(tag: str) -> str:
    """A tag as an attribute name: ``Planetary Interaction`` -> ``Planetary_Interaction``."""
    return _NOT_IDENTIFIER.sub("_", tag)


def bundled_spec_path() -> Path:
    """The newest ``esi/specs/esi_openapi31_<compatibility date>.json`` in the package.

    Raises :class:`~esi.openapi.errors.SpecError` if the package ships none.
    """
    candidates = sorted(SPECS_DIR.glob("esi_openapi31_*.json"))
    if not candidates:
        raise SpecError(f"no bundled spec (esi_openapi31_*.json) in {SPECS_DIR}")
    return candidates[-1]


def _import_jsonschema_without_iri_grammar() -> None:
    """Import jsonschema (bravado-core's validator) without its optional format checkers
    for formats ESI specs never use (ESI uses int32, int64, float, double, date, date-time
    and uuid).

    ``rfc3987_syntax`` alone builds an IRI grammar when imported and ``isoduration`` loads
    every locale of ``arrow``: with the others, over a second of CPU and several MB for the
    ``iri``, ``uri``, ``duration``, ``color``, ``uri-template``, ``hostname`` and
    ``json-pointer`` formats, which jsonschema then leaves unchecked. Skipped when
    jsonschema is already imported (by the site) or ``ESI_FAST_JSONSCHEMA_IMPORT`` is off;
    then jsonschema is imported as usual.
    """
    from esi import app_settings

    if "jsonschema" in sys.modules or not app_settings.ESI_FAST_JSONSCHEMA_IMPORT:
        return
    skipped = [name for name in _SLOW_FORMAT_MODULES if name not in sys.modules]
    for name in skipped:
        sys.modules[name] = None  # type: ignore[assignment]  # makes its import fail
    try:
        import jsonschema  # noqa: F401
    finally:
        for name in skipped:
            del sys.modules[name]


_SLOW_FORMAT_MODULES = (
    "rfc3987_syntax",
    "isoduration",
    "webcolors",
    "uri_template",
    "rfc3986_validator",
    "fqdn",
    "jsonpointer",
)


def _user_formats_to_python() -> dict[str, Any]:
    """The formats :func:`_bravado_config` registers, as their ``to_python`` (for decoders
    compiled without bravado-core)."""
    from esi.openapi.decoders import identity

    return {"uuid": identity}


def _to_text(value: Any) -> str:
    return str(value)


def _bravado_config() -> dict[str, Any]:
    from bravado_core.formatter import NO_OP, SwaggerFormat

    from esi.openapi.decoders import identity

    return {
        "validate_swagger_spec": False,
        "validate_responses": False,
        "validate_requests": False,
        "use_models": False,
        # ESI's OpenAPI specs use "format: uuid" (corporation projects); registered so
        # that bravado-core does not warn each time it meets one. Values stay strings.
        "formats": [
            SwaggerFormat(
                format="uuid",
                to_wire=_to_text,
                to_python=identity,
                validate=NO_OP,
                description="UUID strings, left as strings",
            )
        ],
    }


_BUNDLED: EsiSpec | None = None
_BUNDLED_LOCK = threading.Lock()


class EsiSpec:
    """One ESI spec: its resources (tags) and their operations.

    Build one with :meth:`from_file`, :meth:`from_dict` or :meth:`bundled`. The spec dict is
    read, never modified; do not modify it afterwards either.
    """

    def __init__(self, spec: Mapping[str, Any], *, source: str = "<dict>") -> None:
        self._format: SpecFormat = detect_format(spec)
        self._raw = spec
        self.source = source
        self._normalizer = Normalizer(spec) if self._format == "openapi31" else None
        self._resources: dict[str, Resource] = {}
        self._components: dict[str, dict[str, Any]] = {
            "#/definitions/": {},
            "#/parameters/": {},
            "#/responses/": {},
        }
        self._index()

    @classmethod
    def from_file(cls, path: str | Path) -> EsiSpec:
        """Read a spec from a JSON file (either format).

        Raises :class:`~esi.openapi.errors.SpecError` if the file cannot be read, is not
        JSON, or is not an ESI spec.
        """
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise SpecError(f"cannot read spec file {str(path)!r}: {exc}") from exc
        try:
            spec = loads(text)
        except ValueError as exc:
            raise SpecError(f"spec file {str(path)!r} is not JSON: {exc}") from exc
        try:
            return cls(spec, source=str(path))
        except SpecError as exc:
            raise SpecError(f"spec file {str(path)!r}: {exc}") from exc

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> EsiSpec:
        """Wrap an already parsed spec (either format). Raises :class:`SpecError`."""
        return cls(spec)

    @classmethod
    def bundled(cls) -> EsiSpec:
        """The spec shipped with the package (the newest OpenAPI 3.1 one), read once per
        process and shared, resources built included."""
        global _BUNDLED
        if _BUNDLED is None:
            with _BUNDLED_LOCK:
                if _BUNDLED is None:
                    _BUNDLED = cls.from_file(bundled_spec_path())
        return _BUNDLED

    def _index(self) -> None:
        for path, item in self._raw["paths"].items():
            if not isinstance(item, Mapping):
                raise SpecError(f"path {path!r} is not an object")
            for method in HTTP_METHODS:
                op = item.get(method)
                if not isinstance(op, Mapping):
                    continue
                # bravado-core's rule for untagged operations: the first path segment.
                tags = op.get("tags") or [path.strip("/").split("/")[0]]
                for tag in tags:
                    attribute = resource_attribute(tag)
                    resource = self._resources.get(attribute)
                    if resource is None:
                        resource = self._resources[attribute] = Resource(self, tag)
                    resource._add(path, method, op)
        for resource in self._resources.values():
            resource._add_aliases()

    # -- properties -------------------------------------------------------------------------

    @property
    def format(self) -> SpecFormat:
        """``"openapi31"`` (OpenAPI 3.0 / 3.1) or ``"swagger20"``."""
        return self._format

    @property
    def version(self) -> str:
        """``info.version``: the compatibility date (``"2026-08-04"``) for OpenAPI specs,
        the API version (``"1.3.8"``) for Swagger ones."""
        return str((self._raw.get("info") or {}).get("version", ""))

    @property
    def compatibility_date(self) -> str | None:
        """The compatibility date the spec describes (``YYYY-MM-DD``, ``info.version`` of an
        OpenAPI spec; CCP revises the content of one date over time, so this is no content
        hash). ``None`` for Swagger specs, which predate compatibility dates."""
        return self.version if self._format == "openapi31" else None

    @property
    def base_path(self) -> str:
        """The path every operation path is under: ``"/"`` for OpenAPI specs (from
        ``servers[0].url``), the ``basePath`` of a Swagger spec (``"/latest"``)."""
        return str(self._root["basePath"])

    @property
    def host(self) -> str | None:
        """The API host named by the spec (``"esi.evetech.net"``), if any."""
        host = self._root.get("host")
        return str(host) if host else None

    @cached_property
    def _root(self) -> dict[str, Any]:
        """Swagger 2.0 top-level fields (no paths, definitions, parameters, responses)."""
        if self._normalizer is not None:
            return self._normalizer.root()
        root = {
            key: copy_json(value)
            for key, value in self._raw.items()
            if key not in ("paths", "definitions", "parameters", "responses")
        }
        root.setdefault("basePath", "/")
        return root

    # -- resources --------------------------------------------------------------------------

    def resource_names(self) -> list[str]:
        """Resource (tag) names as attributes, in spec order (``Planetary_Interaction``)."""
        return list(self._resources)

    def resource(self, name: str) -> Resource:
        """The resource for a tag, by its attribute name or the tag itself.

        Raises :class:`~esi.openapi.errors.UnknownResourceError` (an ``AttributeError``)
        naming the closest resources.
        """
        resource = self._resources.get(name) or self._resources.get(resource_attribute(name))
        if resource is None:
            raise UnknownResourceError(
                f"ESI spec {self.version} has no resource {name!r}"
                + _suggestions(name, self._resources)
            )
        return resource

    def operation(self, resource: str, name: str) -> Operation:
        """Shortcut for ``resource(resource).operation(name)``."""
        return self.resource(resource).operation(name)

    def built_resource_names(self) -> list[str]:
        """The resources whose bravado-core spec has been built so far."""
        return [name for name, resource in self._resources.items() if resource.is_built]

    def __repr__(self) -> str:
        return f"<EsiSpec {self._format} {self.version} from {self.source}>"

    # -- building -------------------------------------------------------------------------

    def _parameter(self, name: str) -> dict[str, Any]:
        """A top-level (``#/parameters/<name>``) parameter in Swagger 2.0 form."""
        try:
            if self._normalizer is not None:
                return self._normalizer.parameter(name)
            return copy_json(self._raw["parameters"][name])
        except KeyError:
            raise SpecError(f"unresolvable reference '#/parameters/{name}'") from None

    def _fetch_component(self, prefix: str, name: str) -> dict[str, Any]:
        """A new copy of a top-level definition, parameter or response in Swagger 2.0 form
        (``KeyError`` if there is none)."""
        normalizer = self._normalizer
        if prefix == "#/definitions/":
            if normalizer is not None:
                return normalizer.definition(name)
            return copy_json(self._raw["definitions"][name])
        if prefix == "#/responses/":
            if normalizer is not None:
                return normalizer.response(name)
            return copy_json(self._raw["responses"][name])
        if normalizer is not None:
            return normalizer.parameter(name)
        return copy_json(self._raw["parameters"][name])

    def _deref(self, schema: Any) -> Any:
        """``schema`` if it is no ``{"$ref": ...}``, else its target, one level (as
        bravado-core's ``Spec.deref``), in Swagger 2.0 form. Targets are converted once and
        shared (the decoders are cached per schema object).

        Raises :class:`~esi.openapi.errors.SpecError` for a reference to nothing.
        """
        if not isinstance(schema, Mapping):
            return schema
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return schema
        for prefix, found in self._components.items():
            if not ref.startswith(prefix):
                continue
            name, *steps = [_unescape(part) for part in ref[len(prefix) :].split("/")]
            target = found.get(name)
            try:
                if target is None:
                    fetched = self._fetch_component(prefix, name)
                    # Two threads may fetch at once; both then use the first one stored.
                    target = found.setdefault(name, fetched)
                for step in steps:
                    target = target[int(step) if isinstance(target, list) else step]
            except (KeyError, IndexError, ValueError, TypeError):
                break
            return target
        raise SpecError(f"unresolvable reference {ref!r}")

    def _swagger_operation(self, path: str, method: str) -> dict[str, Any]:
        """One operation in Swagger 2.0 form (a new object each time)."""
        if self._normalizer is not None:
            return self._normalizer.operation(path, method)
        return copy_json(self._raw["paths"][path][method])

    def _path_parameters(self, path: str) -> list[Any]:
        """Parameters declared on the path item, shared by its operations."""
        if self._normalizer is not None:
            return self._normalizer.path_item(path, []).get("parameters", [])
        return copy_json(self._raw["paths"][path].get("parameters", []))

    def _document(self, operations: list[tuple[str, str]]) -> dict[str, Any]:
        """A Swagger 2.0 document with ``operations`` ((path, method) pairs) and every
        definition, parameter and response they reach, transitively."""
        paths: dict[str, dict[str, Any]] = {}
        for path, method in operations:
            item = paths.get(path)
            if item is None:
                item = paths[path] = {}
                shared = self._path_parameters(path)
                if shared:
                    item["parameters"] = shared
            item[method] = self._swagger_operation(path, method)

        normalizer = self._normalizer
        raw = self._raw
        sections: dict[str, tuple[dict[str, Any], Any]] = {
            "#/definitions/": (
                {},
                normalizer.definition if normalizer else lambda n: copy_json(raw["definitions"][n]),
            ),
            "#/parameters/": ({}, self._parameter),
            "#/responses/": (
                {},
                normalizer.response if normalizer else lambda n: copy_json(raw["responses"][n]),
            ),
        }
        pending = list(iter_refs(paths))
        while pending:
            ref = pending.pop()
            for prefix, (found, fetch) in sections.items():
                name = ref_name(ref, prefix)
                if name is None or name in found:
                    continue
                try:
                    target = fetch(name)
                except KeyError:
                    raise SpecError(f"unresolvable reference {ref!r}") from None
                found[name] = target
                pending.extend(iter_refs(target))

        document = copy_json(self._root)
        document["paths"] = paths
        document["definitions"] = sections["#/definitions/"][0]
        if sections["#/parameters/"][0]:
            document["parameters"] = sections["#/parameters/"][0]
        if sections["#/responses/"][0]:
            document["responses"] = sections["#/responses/"][0]
        return document


class Resource:
    """The operations of one tag. The bravado-core spec behind them is built on first use
    (see :meth:`build`)."""

    def __init__(self, spec: EsiSpec, tag: str) -> None:
        self.spec = spec
        #: The tag as in the spec (``"Planetary Interaction"``).
        self.tag = tag
        #: The attribute name (``"Planetary_Interaction"``).
        self.name = resource_attribute(tag)
        self._operations: dict[str, Operation] = {}
        self._names: dict[str, Operation] = {}
        self._lock = threading.Lock()
        self._bravado: BravadoSpec | None = None
        self._decoders: DecoderCompiler | None = None
        #: How many times the bravado-core spec was built (0 or 1; for tests and profiling).
        self.build_count = 0

    def _add(self, path: str, method: str, op: Mapping[str, Any]) -> None:
        operation = Operation(self, path, method, op)
        self._operations[operation.name] = operation
        for name in (operation.operation_id, operation.name):
            self._names.setdefault(name, operation)

    def _add_aliases(self) -> None:
        # Derived names never shadow a name an operation really has.
        for operation in self._operations.values():
            swagger = operation.path_operation_name
            for alias in (camel_case(operation.name), swagger, camel_case(swagger)):
                self._names.setdefault(alias, operation)

    def operation_names(self) -> list[str]:
        """snake_case names of the operations, in spec order (what ``dir()`` should list)."""
        return list(self._operations)

    def operations(self) -> list[Operation]:
        """The operations, in spec order."""
        return list(self._operations.values())

    def operation(self, name: str) -> Operation:
        """An operation by any of its names (see the module docstring).

        Raises :class:`~esi.openapi.errors.UnknownOperationError` (an ``AttributeError``)
        naming the closest operations.
        """
        operation = self._names.get(name)
        if operation is None:
            raise UnknownOperationError(
                f"resource {self.name!r} has no operation {name!r}"
                + _suggestions(name, self._names, self._operations)
            )
        return operation

    @property
    def is_built(self) -> bool:
        """Whether the bravado-core spec of this resource exists yet."""
        return self._bravado is not None

    def build(self) -> BravadoSpec:
        """Build (once; thread-safe) and return this resource's bravado-core ``Spec``.

        Raises :class:`~esi.openapi.errors.SpecError` if the spec cannot be loaded.
        """
        built = self._bravado
        if built is not None:
            return built
        with self._lock:
            if self._bravado is None:
                bravado = self._load()
                self.build_count += 1
                # Published last: other threads read _bravado without the lock.
                self._bravado = bravado
            return self._bravado

    @property
    def decoders(self) -> DecoderCompiler:
        """The decoder compiler of this resource's schemas.

        Compiles from the Swagger 2.0 form of the spec (the document :meth:`build` gives
        bravado-core) without building the resource: a fast path beside bravado-core, which
        stays the spec engine and still decodes what the compiler cannot (``discriminator``;
        the resource is built then). Decoders are equal to ``bravado_core.unmarshal``'s
        output (see :mod:`esi.openapi.decoders`).
        """
        decoders = self._decoders
        if decoders is None:
            from esi.openapi.decoders import DecoderCompiler

            with self._lock:
                if self._decoders is None:
                    self._decoders = DecoderCompiler.for_document(
                        self.spec._deref,
                        user_formats=_user_formats_to_python(),
                        spec_factory=self.build,
                    )
                decoders = self._decoders
        return decoders

    def _load(self) -> BravadoSpec:
        _import_jsonschema_without_iri_grammar()
        from bravado_core.exception import SwaggerMappingError
        from bravado_core.spec import Spec

        operations = [(op.path_name, op.method) for op in self._operations.values()]
        try:
            with BRAVADO_LOCK:
                bravado = Spec(self.spec._document(operations), config=_bravado_config())
                # jsonschema seeds the resolver's store with its ~20 metaschemas, and
                # bravado-core's model discovery walks every document in the store: a third
                # of the build time of a resource. Our documents hold local references only,
                # so the document itself (stored under "") is all the store needs.
                store = bravado.resolver.store
                for uri in [uri for uri in store if uri]:
                    del store[uri]
                bravado.build()
        except SpecError:
            raise
        except (SwaggerMappingError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SpecError(f"cannot load resource {self.name!r}: {exc!r}") from exc
        by_route = {
            (op.path_name, op.http_method.lower()): op
            for resource in (bravado.resources or {}).values()
            for op in resource.operations.values()
        }
        for operation in self._operations.values():
            operation._bravado = by_route[(operation.path_name, operation.method)]
        return bravado

    def __repr__(self) -> str:
        return f"<Resource {self.name} ({len(self._operations)} operations)>"


@dataclass(frozen=True)
class PreparedRequest:
    """An ESI request ready for the transport.

    ``method`` is upper case. ``path`` is relative to the API root (``https://esi.evetech.net``)
    and includes the spec's base path (``/latest/...`` for Swagger 1.3.8), path parameters
    filled in and URL-quoted. ``query`` is (name, value) pairs in spec order, arrays joined
    per their ``collectionFormat`` (one pair per element for ``multi``). ``headers`` holds
    only the header parameters the caller passed. ``body`` is the JSON request body (send it
    as ``application/json``), or ``None``.
    """

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class _Slot:
    """How one parameter is checked and placed (after the resource is built)."""

    name: str
    location: str
    required: bool
    transport: bool
    param: Param
    type_spec: Mapping[str, Any]


@dataclass(frozen=True)
class _PlainSlot:
    """How one parameter is checked and placed without bravado-core. ``marshal`` is
    ``None`` for parameters only bravado-core marshals (bodies, other schemas)."""

    name: str
    location: str
    required: bool
    transport: bool
    type_spec: Mapping[str, Any]
    marshal: Callable[[Any], Any] | None


class Operation:
    """One ESI operation: its metadata (read from the spec index, no build needed),
    :meth:`prepare` for requests and :meth:`decode` for responses (which build the resource).
    """

    def __init__(self, resource: Resource, path: str, method: str, op: Mapping[str, Any]) -> None:
        self.resource = resource
        self._raw = op
        #: The path template as in the spec (``/characters/{character_id}/notifications``).
        self.path_name = path
        self.method = method
        #: The operationId as in the spec.
        self.operation_id: str = op.get("operationId") or path_operation_name(method, path)
        #: The snake_case name (the Swagger 2.0 operationId).
        self.name = snake_case(self.operation_id)
        self._bravado: BravadoOperation | None = None
        self._decoders_by_status: dict[str, Decoder] = {}

    @property
    def http_method(self) -> str:
        """``"GET"``, ``"POST"``, ..."""
        return self.method.upper()

    @property
    def path_operation_name(self) -> str:
        """The Swagger-era name derived from method and path (``get_characters_character_id``)."""
        return path_operation_name(self.method, self.path_name)

    @cached_property
    def _swagger(self) -> dict[str, Any]:
        return self.resource.spec._swagger_operation(self.path_name, self.method)

    @cached_property
    def _parameters(self) -> list[dict[str, Any]]:
        """Path-level and operation parameters, ``$ref`` s resolved; the operation's win."""
        spec = self.resource.spec
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        declared = [*spec._path_parameters(self.path_name), *self._swagger.get("parameters", [])]
        for parameter in declared:
            name = ref_name(parameter.get("$ref", ""), "#/parameters/")
            if name is not None:
                parameter = spec._parameter(name)
            merged[(parameter["name"], parameter["in"])] = parameter
        return list(merged.values())

    @property
    def params(self) -> list[str]:
        """Names of all declared parameters, in spec order, as the spec spells them
        (``"character_id"``, ``"If-None-Match"``, ``"body"``)."""
        return [parameter["name"] for parameter in self._parameters]

    @property
    def transport_params(self) -> list[str]:
        """The declared parameters the client sets itself (see :data:`TRANSPORT_PARAMS`):
        ``X-Tenant`` / ``datasource``, ``Accept-Language`` / ``language``, ..."""
        return [name for name in self.params if name in TRANSPORT_PARAMS]

    @property
    def required_params(self) -> list[str]:
        """Parameters a caller must pass (required, and not transport parameters)."""
        return [
            parameter["name"]
            for parameter in self._parameters
            if parameter.get("required") and parameter["name"] not in TRANSPORT_PARAMS
        ]

    @property
    def scopes(self) -> list[str]:
        """EVE SSO scopes the operation requires (``[]`` for public routes)."""
        requirements = self._raw.get("security", self.resource.spec._raw.get("security")) or []
        scopes: list[str] = []
        for requirement in requirements:
            for names in requirement.values():
                scopes.extend(name for name in names if name not in scopes)
        return scopes

    @property
    def rate_limit(self) -> dict[str, Any] | None:
        """The ``x-rate-limit`` extension: ``{"group": ..., "max-tokens": ...,
        "window-size": "15m"}``, or ``None`` (Swagger specs, and some OpenAPI routes)."""
        value = self._raw.get("x-rate-limit")
        return copy_json(value) if isinstance(value, dict) else None

    @cached_property
    def rate_limit_group(self) -> str | None:
        """The rate-limit group of ``x-rate-limit``, or ``None`` (read on every call)."""
        group = (self.rate_limit or {}).get("group")
        return group if isinstance(group, str) else None

    @cached_property
    def cache_age(self) -> int | None:
        """Seconds ESI caches the route (``x-cache-age``, Swagger ``x-cached-seconds``)."""
        for key in ("x-cache-age", "x-cached-seconds"):
            value = self._raw.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return int(value)
        return None

    @property
    def pagination(self) -> str | None:
        """``"page"`` (``page`` parameter, ``X-Pages`` header), ``"cursor"`` (``before`` /
        ``after``), ``"from_id"``, or ``None``."""
        names = {parameter["name"] for parameter in self._parameters if parameter["in"] == "query"}
        for name, style in _PAGINATION_PARAMS:
            if name in names:
                return style
        return None

    def __repr__(self) -> str:
        return f"<Operation {self.resource.name}.{self.name} {self.http_method} {self.path_name}>"

    # -- requests ---------------------------------------------------------------------------

    @property
    def bravado_operation(self) -> BravadoOperation:
        """The bravado-core ``Operation`` (builds the resource)."""
        self.resource.build()
        assert self._bravado is not None
        return self._bravado

    @cached_property
    def _slots(self) -> dict[str, _Slot]:
        """Accepted keyword -> parameter. Both the spec's name (``If-None-Match``) and
        bravado-core's identifier form (``If_None_Match``) are accepted."""
        op = self.bravado_operation
        from bravado_core.param import get_param_type_spec

        deref = op.swagger_spec.deref
        slots: dict[str, _Slot] = {}
        for identifier, param in op.params.items():
            slot = _Slot(
                name=param.name,
                location=param.location,
                required=bool(param.required),
                transport=param.name in TRANSPORT_PARAMS,
                param=param,
                type_spec=_inline_refs(deref, get_param_type_spec(param), ()),
            )
            slots[param.name] = slot
            slots.setdefault(identifier, slot)
        return self._with_body_alias(slots)

    def _with_body_alias(self, slots: dict[str, Any]) -> dict[str, Any]:
        """``slots`` plus the Swagger-era name of the body (``ids`` for
        ``post_universe_names``) on an OpenAPI spec, unless a parameter has that name."""
        alias = self.swagger_body_name
        if alias is not None and "body" in slots:
            slots.setdefault(alias, slots["body"])
        return slots

    @property
    def swagger_body_name(self) -> str | None:
        """The name ESI's Swagger specs gave this operation's body parameter, where the spec
        is OpenAPI and the operation has one (see :mod:`esi.openapi.swagger_names`)."""
        if self.resource.spec.format == "swagger20":
            return None
        return BODY_PARAMETERS.get((self.method.lower(), self.path_name.rstrip("/")))

    @cached_property
    def _ordered_slots(self) -> list[_Slot]:
        """One slot per parameter, in spec order."""
        return list({id(slot): slot for slot in self._slots.values()}.values())

    def _check_refs(self) -> None:
        """Resolve every definition, parameter and response the operation reaches."""
        spec = self.resource.spec
        pending = [*iter_refs(self._swagger), *iter_refs(spec._path_parameters(self.path_name))]
        seen: set[str] = set()
        while pending:
            ref = pending.pop()
            if ref in seen or not ref.startswith(("#/definitions/", "#/parameters/", "#/responses/")):
                continue
            seen.add(ref)
            pending.extend(iter_refs(spec._deref({"$ref": ref})))

    @cached_property
    def _plain_slots(self) -> dict[str, _PlainSlot] | None:
        """Accepted keyword -> parameter, as :attr:`_slots` has them, read from the
        Swagger 2.0 parameters without bravado-core; ``None`` where bravado-core's
        parameter list could differ from them (two parameters with one name, apiKey
        security parameters), so that only bravado-core prepares this operation.

        Raises :class:`~esi.openapi.errors.SpecError` if the operation reaches a reference
        to nothing, as building the resource would."""
        self._check_refs()
        definitions = self.resource.spec._root.get("securityDefinitions") or {}
        if any(
            isinstance(scheme, Mapping) and scheme.get("type") == "apiKey"
            for scheme in definitions.values()
        ):
            return None
        slots: dict[str, _PlainSlot] = {}
        identifiers: set[str] = set()
        for parameter in self._parameters:
            name = parameter["name"]
            identifier = _sanitize_name(name)
            if name in slots or identifier in identifiers:
                return None
            identifiers.add(identifier)
            slot = _PlainSlot(
                name=name,
                location=parameter["in"],
                required=bool(parameter.get("required", False)),
                transport=name in TRANSPORT_PARAMS,
                type_spec=parameter,
                marshal=None if parameter["in"] == "body" else _plain_marshaller(parameter),
            )
            slots[name] = slot
        for slot in list(slots.values()):
            slots.setdefault(_sanitize_name(slot.name), slot)
        return self._with_body_alias(slots)

    def prepare(self, **kwargs: Any) -> PreparedRequest:
        """Check ``kwargs`` against the spec and build the request.

        When every parameter passed is a primitive or an array of primitives whose schema
        uses only what ESI's parameters use (type, ``int32`` / ``int64`` / ``float`` /
        ``double`` / ``uuid`` / ``date`` formats, enum, bounds, lengths, item counts and
        uniqueness), the values are marshalled and validated here, as bravado-core would
        (``"123"`` and ``1.5`` become ``123`` and ``1`` for an ``int64``, as
        bravado-core's ``int()`` makes them), without building the resource's bravado-core
        spec: a fast path beside bravado-core, which remains the spec engine (architecture
        decision 1) and prepares every other call (body parameters, other schemas), the
        same way. Both give the same request and raise in the same cases.

        Parameters are passed by their spec name (``character_id=90000001``,
        ``**{"If-None-Match": etag}``) or its identifier form (``If_None_Match=etag``).
        ``None`` means "not given". Transport parameters (:attr:`transport_params`) are
        never required. Values are marshalled by ``bravado_core.marshal`` and validated by
        ``bravado_core.validate`` against the parameter's schema (type, enum, bounds).

        Raises :class:`~esi.openapi.errors.ParameterError` (a ``TypeError``) for an unknown
        keyword (listing the valid ones), a missing required parameter, or a value that does
        not fit, naming the operation and the parameter.
        """
        plain = self._plain_slots
        if plain is not None:
            request = self._prepare_plain(plain, kwargs)
            if request is not None:
                return request
        return self._prepare_bravado(kwargs)

    def _check_arguments(
        self, slots: Mapping[str, Any], ordered: list[Any], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """``kwargs`` by parameter name; raises ParameterError for unknown, doubled and
        missing parameters."""
        unknown = [key for key in kwargs if key not in slots]
        if unknown:
            raise ParameterError(
                f"{self.name}() got unexpected parameter(s) {', '.join(map(repr, unknown))}; "
                f"valid parameters: {', '.join(self.params) or '(none)'}"
            )
        values: dict[str, Any] = {}
        for key, value in kwargs.items():
            name = slots[key].name
            if name in values:
                raise ParameterError(f"{self.name}() got parameter {name!r} twice")
            values[name] = value
        missing = [
            slot.name
            for slot in ordered
            if slot.required and not slot.transport and values.get(slot.name) is None
        ]
        if missing:
            raise ParameterError(
                f"{self.name}() missing required parameter(s): {', '.join(map(repr, missing))}"
            )
        return values

    @cached_property
    def _plain_ordered(self) -> list[_PlainSlot]:
        assert self._plain_slots is not None
        return list({id(slot): slot for slot in self._plain_slots.values()}.values())

    def _prepare_plain(
        self, slots: dict[str, _PlainSlot], kwargs: dict[str, Any]
    ) -> PreparedRequest | None:
        """:meth:`prepare` without bravado-core; ``None`` if a value needs bravado-core."""
        ordered = self._plain_ordered
        values = self._check_arguments(slots, ordered, kwargs)
        given = [(slot, values[slot.name]) for slot in ordered if values.get(slot.name) is not None]
        if any(slot.marshal is None for slot, _ in given):
            return None
        wires = []
        for slot, value in given:
            assert slot.marshal is not None
            try:
                wire = slot.marshal(value)
            except _Unfit as exc:
                raise ParameterError(
                    f"{self.name}(): parameter {slot.name!r}={value!r} does not fit the spec: "
                    f"{exc}"
                ) from None
            if wire is _NEEDS_BRAVADO:
                return None
            wires.append((slot, wire))
        return self._request(wires)

    def _prepare_bravado(self, kwargs: dict[str, Any]) -> PreparedRequest:
        """:meth:`prepare` with bravado-core (builds the resource)."""
        slots = self._slots
        values = self._check_arguments(slots, self._ordered_slots, kwargs)
        wires = [
            (slot, self._marshal(slot, values[slot.name]))
            for slot in self._ordered_slots
            if values.get(slot.name) is not None
        ]
        return self._request(wires)

    def _request(self, wires: list[tuple[Any, Any]]) -> PreparedRequest:
        """The request for marshalled values ((slot, wire value) pairs, in spec order)."""
        path = self.path_name
        query: list[tuple[str, str]] = []
        headers: dict[str, str] = {}
        body: bytes | None = None
        for slot, wire in wires:
            if slot.location == "path":
                text = quote(str(wire).encode("utf-8"), safe=",")
                path = path.replace("{" + slot.name + "}", text)
            elif slot.location == "query":
                query.extend((slot.name, text) for text in _encode(slot.type_spec, wire))
            elif slot.location == "header":
                headers[slot.name] = ",".join(_encode(slot.type_spec, wire))
            elif slot.location == "body":
                body = json.dumps(wire, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            else:
                raise ParameterError(
                    f"{self.name}(): parameter {slot.name!r} is in {slot.location!r}, "
                    "which ESI does not use and this client does not send"
                )
        base = self.resource.spec.base_path.rstrip("/")
        return PreparedRequest(self.http_method, base + path, query, headers, body)

    def _marshal(self, slot: _Slot, value: Any) -> Any:
        from bravado_core.exception import SwaggerMappingError
        from bravado_core.marshal import marshal_schema_object
        from bravado_core.validate import validate_schema_object
        from jsonschema.exceptions import ValidationError

        spec = slot.param.swagger_spec
        # bravado-core memoizes per schema object (by id): pass the spec's own dict, never
        # a copy, or every call would add a cache entry.
        type_spec = cast(dict[str, Any], slot.type_spec)
        try:
            if isinstance(value, str) and slot.type_spec.get("format") in _DATE_FORMATS:
                # Already in wire form (X-Compatibility-Date: "2026-08-04"); bravado-core
                # only marshals date / datetime objects.
                wire = value
            else:
                with BRAVADO_LOCK:
                    wire = marshal_schema_object(spec, type_spec, value)
            with BRAVADO_LOCK:
                validate_schema_object(spec, type_spec, wire)
        except ValidationError as exc:
            raise ParameterError(
                f"{self.name}(): parameter {slot.name!r}={value!r} does not fit the spec: "
                f"{exc.message}"
            ) from exc
        except (SwaggerMappingError, ValueError, TypeError, AttributeError) as exc:
            # bravado-core wraps the cause: ("Error while marshalling value=...", cause).
            reason = exc.args[-1] if len(exc.args) > 1 else exc
            raise ParameterError(
                f"{self.name}(): parameter {slot.name!r}={value!r} does not fit the spec: "
                f"{reason}"
            ) from exc
        return wire

    # -- responses --------------------------------------------------------------------------

    def decoder(self, status: int | str = 200) -> Decoder:
        """The compiled decoder for the response schema of ``status`` (falling back to the
        ``default`` response); :func:`~esi.openapi.decoders.identity` if neither declares a
        schema. Does not build the resource (see :attr:`Resource.decoders`)."""
        key = str(status)
        decoder = self._decoders_by_status.get(key)
        if decoder is None:
            # The operation as the resource's bravado-core spec holds it, without building.
            responses = self._swagger.get("responses", {})
            deref = self.resource.spec._deref
            response = deref(responses.get(key, responses.get("default"))) or {}
            schema = response.get("schema")
            if schema is None:
                from esi.openapi.decoders import identity

                decoder = identity
            else:
                decoder = self.resource.decoders.decoder(schema)
            self._decoders_by_status[key] = decoder
        return decoder

    def decode(self, body: bytes | str | Any, status: int | str = 200) -> Any:
        """Decode a response of this operation, as bravado-core's unmarshal would
        (``date-time`` -> aware ``datetime``, ``date`` -> ``date``, missing properties
        -> ``None``; see :mod:`esi.openapi.decoders`).

        ``body`` is the raw body (``bytes`` / ``str``; empty means no content and gives
        ``None``) or already parsed JSON, which is converted in place. Raises
        :class:`~esi.openapi.errors.DecodeError` if the body is not JSON or does not fit
        the schema.
        """
        if isinstance(body, (bytes, bytearray, memoryview, str)):
            text = bytes(body) if isinstance(body, memoryview) else body
            if not text.strip():
                return None
            try:
                body = loads(text)
            except ValueError as exc:
                raise DecodeError(f"{self.name}: response body is not JSON: {exc}") from exc
        decoder = self.decoder(status)
        try:
            return decoder(body)
        except DecodeError as exc:
            raise DecodeError(f"{self.name} ({status}): {exc}") from exc
        except (ValueError, TypeError, OverflowError) as exc:
            raise DecodeError(f"{self.name} ({status}): cannot decode: {exc}") from exc


# -- parameters without bravado-core ---------------------------------------------------------
#
# What bravado-core does with a path / query / header parameter value (marshal_schema_object,
# then validate_schema_object with its Draft 4 validator), for the schemas ESI's parameters
# use. The marshallers below convert as the format's ``to_wire`` does (bravado_core.formatter)
# and then check what jsonschema's Draft 4 keywords check; anything else is left to
# bravado-core.


class _Unfit(Exception):
    """A value bravado-core would reject (its reason as the message)."""


#: Returned by a marshaller for a value it leaves to bravado-core.
_NEEDS_BRAVADO: Any = object()

_SANITIZE_RULES = (
    (re.compile(r"[^A-Za-z0-9_]"), "_"),
    (re.compile(r"__+"), "_"),
    (re.compile(r"^[0-9_]+|_+$"), ""),
)
_FALLBACK_SANITIZE_RULES = (
    (re.compile(r"[^A-Za-z0-9_]"), "_"),
    (re.compile(r"^[0-9]+"), "_"),
    (re.compile(r"__+"), "_"),
)


def _sanitize_name(name: str) -> str:
    """``bravado_core.util.sanitize_name``: the identifier form of a parameter name."""
    if name == "":
        return name
    sanitized = name
    for pattern, replacement in _SANITIZE_RULES:
        sanitized = pattern.sub(replacement, sanitized)
    if sanitized == "":
        sanitized = "_" + name
        for pattern, replacement in _FALLBACK_SANITIZE_RULES:
            sanitized = pattern.sub(replacement, sanitized)
    return sanitized


# Parameter keys that do not change what bravado-core does with a value (besides x-*).
_PLAIN_IGNORED = frozenset(
    {"name", "in", "description", "required", "default", "collectionFormat", "example", "title"}
)
_PLAIN_SCALAR_KEYS = {
    "integer": frozenset(
        {"type", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
    ),
    "number": frozenset(
        {"type", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
    ),
    "string": frozenset({"type", "format", "enum", "minLength", "maxLength"}),
    "boolean": frozenset({"type"}),
}
_PLAIN_ARRAY_KEYS = frozenset({"type", "items", "minItems", "maxItems", "uniqueItems"})
_PLAIN_FORMATS = {
    "integer": (None, "int32", "int64"),
    "number": (None, "float", "double"),
    "string": (None, "uuid", "date"),
    "boolean": (None,),
}
# jsonschema's "date" format check (jsonschema._format.is_date).
_RE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _keys_fit(schema: Mapping[str, Any], allowed: frozenset[str]) -> bool:
    return all(
        key in allowed or key in _PLAIN_IGNORED or (isinstance(key, str) and key.startswith("x-"))
        for key in schema
    )


def _is_bound(value: Any) -> bool:
    return _is_number(value)


def _plain_marshaller(schema: Mapping[str, Any]) -> Callable[[Any], Any] | None:
    """The marshal-and-validate function of a path / query / header parameter, or ``None``
    if its schema is outside what is mirrored here."""
    if schema.get("in") not in ("path", "query", "header"):
        return None
    if schema.get("type") != "array":
        return _plain_scalar(schema)
    if not _keys_fit(schema, _PLAIN_ARRAY_KEYS):
        return None
    items = schema.get("items")
    if not isinstance(items, dict) or items.get("type") not in ("integer", "string"):
        return None
    convert_item = _plain_scalar(items)
    if convert_item is None:
        return None
    min_items = schema.get("minItems")
    max_items = schema.get("maxItems")
    unique = schema.get("uniqueItems", False)
    for bound in (min_items, max_items):
        if bound is not None and not _is_bound(bound):
            return None
    if not isinstance(unique, bool):
        return None
    item_marshal = convert_item

    def marshal(value: Any) -> Any:
        # bravado_core.marshal._marshal_array, then the Draft 4 array keywords.
        if not isinstance(value, (list, tuple)):
            raise _Unfit(f"Expected list like type for {type(value)}:{value}")
        wire = []
        for item in value:
            converted = item_marshal(item)
            if converted is _NEEDS_BRAVADO:
                return _NEEDS_BRAVADO
            wire.append(converted)
        if min_items is not None and len(wire) < min_items:
            raise _Unfit(f"{wire!r} is too short")
        if max_items is not None and len(wire) > max_items:
            raise _Unfit(f"{wire!r} is too long")
        # Items are ints or strs here (checked above), which compare like JSON values.
        if unique and len(set(wire)) != len(wire):
            raise _Unfit(f"{wire!r} has non-unique elements")
        return wire

    return marshal


def _plain_scalar(schema: Mapping[str, Any]) -> Callable[[Any], Any] | None:
    kind = schema.get("type")
    fmt = schema.get("format")
    if kind not in _PLAIN_SCALAR_KEYS:
        return None
    if fmt not in _PLAIN_FORMATS[kind] or not _keys_fit(schema, _PLAIN_SCALAR_KEYS[kind]):
        return None
    enum = schema.get("enum")
    if enum is not None and not (
        isinstance(enum, list) and all(isinstance(item, str) for item in enum)
    ):
        return None
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    min_length, max_length = schema.get("minLength"), schema.get("maxLength")
    for bound in (minimum, maximum, min_length, max_length):
        if bound is not None and not _is_bound(bound):
            return None
    exclusive_min = bool(schema.get("exclusiveMinimum", False))
    exclusive_max = bool(schema.get("exclusiveMaximum", False))

    if kind == "integer":

        def is_type(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        # int32 / int64 to_wire: ``i if isinstance(i, int) else int(i)``.
        convert: Callable[[Any], Any] | None = None if fmt is None else int
        convert_type: type = int
    elif kind == "number":
        is_type = _is_number
        # float / double to_wire: ``f if isinstance(f, float) else float(f)``.
        convert = None if fmt is None else float
        convert_type = float
    elif kind == "string":

        def is_type(value: Any) -> bool:
            return isinstance(value, str)

        # uuid (registered by _bravado_config): to_wire=str. date: strings are already in
        # wire form (Operation._marshal); other values are left to bravado-core.
        convert = str if fmt == "uuid" else None
        convert_type = str
    else:

        def is_type(value: Any) -> bool:
            return isinstance(value, bool)

        convert = None
        convert_type = bool
    is_date = fmt == "date"

    def marshal(value: Any) -> Any:
        if is_date and not isinstance(value, str):
            return _NEEDS_BRAVADO
        if convert is not None and not (convert is not str and isinstance(value, convert_type)):
            try:
                value = convert(value)
            except Exception as exc:  # noqa: BLE001 - bravado-core catches them all too
                # bravado-core's message is its cause's (see Operation._marshal).
                raise _Unfit(str(exc)) from exc
        if not is_type(value):
            raise _Unfit(f"{value!r} is not of type {kind!r}")
        if enum is not None and value not in enum:
            raise _Unfit(f"{value!r} is not one of {enum!r}")
        if minimum is not None and (value <= minimum if exclusive_min else value < minimum):
            raise _Unfit(f"{value!r} is less than the minimum of {minimum!r}")
        if maximum is not None and (value >= maximum if exclusive_max else value > maximum):
            raise _Unfit(f"{value!r} is greater than the maximum of {maximum!r}")
        if min_length is not None and len(value) < min_length:
            raise _Unfit(f"{value!r} is too short")
        if max_length is not None and len(value) > max_length:
            raise _Unfit(f"{value!r} is too long")
        if is_date:
            try:
                valid = bool(_RE_DATE.fullmatch(value) and date.fromisoformat(value))
            except ValueError:
                valid = False
            if not valid:
                raise _Unfit(f"{value!r} is not a 'date'")
        return value

    return marshal


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _inline_refs(deref: Any, schema: Any, seen: tuple[str, ...]) -> Any:
    """``schema`` with its ``$ref`` s replaced by their targets (recursive references are
    left alone). bravado-core validates ``$ref`` s through jsonschema's deprecated
    ``Validator.resolver``, which warns on every use; inlined schemas never reach it."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                return schema
            return _inline_refs(deref, deref(schema), (*seen, ref))
        return {key: _inline_refs(deref, value, seen) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inline_refs(deref, item, seen) for item in schema]
    return schema


def _encode(type_spec: Mapping[str, Any], value: Any) -> list[str]:
    """A marshalled query / header value as strings, as bravado-core's
    ``encode_request_param`` and ``marshal_collection_format`` send it; one string per
    element for ``collectionFormat: multi``."""
    if type_spec.get("type") != "array":
        return [_scalar(value)]
    items = [_join(type_spec.get("items") or {}, item) for item in value]
    collection = type_spec.get("collectionFormat", "csv")
    if collection == "multi":
        return items
    return [_COLLECTION_SEPARATORS[collection].join(items)]


def _join(type_spec: Mapping[str, Any], value: Any) -> str:
    # Arrays of arrays (Swagger 1.3.8 get_route_origin_destination "connections": pairs
    # "1|2,3|4") join the inner ones with the items' own collectionFormat, where
    # bravado-core would send str([1, 2]).
    if type_spec.get("type") == "array" and isinstance(value, (list, tuple)):
        separator = _COLLECTION_SEPARATORS[type_spec.get("collectionFormat", "csv")]
        return separator.join(_join(type_spec.get("items") or {}, item) for item in value)
    return _scalar(value)


def _scalar(value: Any) -> str:
    # JSON spelling for booleans, as bravado-core's encode_request_param (str(True).lower()).
    return str(value).lower() if isinstance(value, bool) else str(value)


def _suggestions(name: str, *choices: Mapping[str, Any]) -> str:
    candidates = list(dict.fromkeys(key for mapping in choices for key in mapping))
    close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=5)
        close = [c for c in candidates if c.lower() in close]
    if close:
        return "; did you mean " + ", ".join(map(repr, close)) + "?"
    return "; available: " + ", ".join(sorted(choices[-1]))
