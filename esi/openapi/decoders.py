"""Compiled response decoders: bravado-core's unmarshalling without its per-value cost.

bravado-core unmarshals a response by walking the schema for every value (with validation,
about 90 ms per 1000 market orders: architecture decision 4). A decoder compiled here walks
the schema once, when it is compiled, and then touches only what changes:

- ``format: date-time`` strings become timezone-aware ``datetime`` s (``datetime.fromisoformat``
  for ESI's ISO 8601 strings, ``dateutil`` for anything else, as bravado-core does),
  ``format: date`` strings become ``datetime.date`` s;
- ``format: double`` / ``float`` integers become ``float`` s (Go, which serves ESI now, writes
  ``5.0`` as ``5``; bravado-core returns ``5.0``);
- properties missing from an object are added with their ``default`` or ``None``
  (bravado-core's ``include_missing_properties``, on by default, and relied on by code
  written for django-esi), and a ``null`` property with a ``default`` takes the default.

Everything else is left as ``json.loads`` produced it: a schema that needs none of the above
compiles to :func:`identity`, or to a type check of the outer list or object (objects with
``properties`` still get their missing properties filled in). The result is equal (``==``,
with the same types, and datetimes with the same UTC offset; only the ``tzinfo`` class
differs: ``timezone.utc`` rather than dateutil's ``tzutc()`` / ``tzlocal()``) to
``bravado_core.unmarshal.unmarshal_schema_object(spec, schema, value)`` with
``use_models: False``, for every value bravado-core accepts whose integers are JSON integers
(bravado-core would also turn ``"5"`` or ``5.0`` into ``5`` for an ``int64``; ESI never sends
such values). Where bravado-core raises (a list where an object is expected, ``null`` in a
required property without ``x-nullable``), the decoder raises
:class:`~esi.openapi.errors.DecodeError`.

One deliberate difference: bravado-core leaves a value of a ``oneOf`` / ``anyOf`` schema
untouched (it ignores the keywords, which the normalizer keeps as ``x-oneOf`` /
``x-anyOf``); the decoder decodes it as the branch it matches, so that a ``date-time`` inside
``/sovereignty/systems``'s claims is a ``datetime`` like everywhere else. What it gives there
equals bravado-core's unmarshal of the matching branch.

Every JSON object of an object schema comes out as an :class:`~esi.openapi.results.EsiObject`
(a ``dict`` that also answers attribute access and ``model_dump()``, as django-esi 10's
models do), made from the parsed dict after its conversions: one copy per object.

Decoders convert lists and dicts in place, so pass them freshly parsed JSON. A schema using
``discriminator`` (none in ESI's specs) is decoded by bravado-core itself; such fallbacks are
counted in :attr:`DecoderCompiler.fallbacks`.

The compiler reads either a bravado-core ``Spec`` or, without importing bravado-core, the
Swagger 2.0 document a resource's bravado-core spec is built from
(:meth:`DecoderCompiler.for_document`): a fast path beside bravado-core, which stays the spec
engine (architecture decision 1) and is imported only for the fallbacks above.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from esi.openapi.bravado_lock import BRAVADO_LOCK
from esi.openapi.errors import DecodeError
from esi.openapi.normalize import copy_json
from esi.openapi.results import EsiObject, object_class

# bravado-core is imported where it is used: importing it takes about a second (jsonschema
# builds its format checkers' grammars), which reading a spec's metadata should not pay.
if TYPE_CHECKING:
    from bravado_core.spec import Spec

Decoder = Callable[[Any], Any]

_MISSING: Any = object()


def identity(value: Any) -> Any:
    """The decoder of schemas whose values need no conversion."""
    return value


def parse_datetime(value: Any) -> datetime:
    """A ``format: date-time`` value as a ``datetime``: timezone-aware for ESI's
    ``2026-08-04T11:00:00Z``, naive only if the string carries no offset.

    ``datetime.fromisoformat`` handles ESI's form about 100 times faster than
    ``dateutil.parser.parse``, which bravado-core uses and which takes over for other forms.
    """
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        from dateutil.parser import parse

        return parse(value)


def parse_date(value: Any) -> date:
    """A ``format: date`` value (``2026-08-04``) as a ``datetime.date``."""
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        from dateutil.parser import parse

        return parse(value).date()


def _to_float(value: Any) -> float:
    # bravado-core's to_python for "double" and "float".
    return value if isinstance(value, float) else float(value)


# Formats whose bravado-core conversion returns an equal value of the same type for every
# valid JSON value ("int32" / "int64" convert only non-integers, which are invalid there).
_UNCHANGED_FORMATS = frozenset({"int32", "int64"})
_FAST_FORMATS: dict[str, Decoder] = {
    "date-time": parse_datetime,
    "date": parse_date,
    "double": _to_float,
    "float": _to_float,
}


@dataclass(frozen=True)
class _Compiled:
    """A compiled schema position.

    ``decode`` handles any value, ``null`` included. ``convert`` handles non-null values and
    is ``None`` when they stay as they are. ``on_null`` says what a ``null`` becomes:
    ``"keep"`` (stays ``None``), ``"default"`` (the schema's decoded default) or ``"raise"``.
    """

    decode: Decoder
    convert: Decoder | None
    on_null: str


_IDENTITY = _Compiled(identity, None, "keep")

_KNOWN_TYPES = ("object", "array", "file", "integer", "number", "string", "boolean", "null")

# Positions being compiled -> the forward references made to them (see _forward).
_Active = dict[tuple[int, bool], list[list[_Compiled]]]


class DecoderCompiler:
    """Compiles decoders for the schemas of one spec and caches them per schema object (the
    spec keeps its schemas alive, so ``id()`` is a stable key).

    Two sources: a bravado-core ``Spec`` (``DecoderCompiler(spec)``), or, without
    bravado-core, a Swagger 2.0 document seen through a ``$ref`` resolver
    (:meth:`for_document`; what :class:`~esi.openapi.spec.Resource` uses, so that decoding
    a response does not build the resource's bravado-core spec). bravado-core remains the
    spec engine (architecture decision 1): the document is the one the resource's
    bravado-core spec would be built from, with bravado-core's configuration
    (``include_missing_properties``, no ``default_type_to_object``, the ``uuid`` format),
    and the schemas this compiler cannot compile (``discriminator``) are still decoded by
    bravado-core, whose spec is built only then.

    Thread-safe: compiling is deterministic, so two threads compiling the same schema at
    once produce equivalent decoders and either may be cached.
    """

    def __init__(self, swagger_spec: Spec) -> None:
        self._spec: Spec | None = swagger_spec
        self._spec_factory: Callable[[], Spec] | None = None
        self._deref: Callable[[Any], Any] = swagger_spec.deref
        self._include_missing = bool(swagger_spec.config["include_missing_properties"])
        self._default_type_to_object = bool(swagger_spec.config["default_type_to_object"])
        self._user_formats: Mapping[str, Decoder] = {
            name: swagger_format.to_python
            for name, swagger_format in swagger_spec.user_defined_formats.items()
        }
        self._byte: Decoder | None = None
        self._cache: dict[tuple[int, bool], tuple[Any, _Compiled]] = {}
        #: How many schema positions were handed to bravado-core because they could not be
        #: compiled (``discriminator``). Zero for every ESI spec.
        self.fallbacks = 0

    @classmethod
    def for_document(
        cls,
        deref: Callable[[Any], Any],
        *,
        user_formats: Mapping[str, Decoder],
        spec_factory: Callable[[], Spec],
        include_missing_properties: bool = True,
        default_type_to_object: bool = False,
    ) -> DecoderCompiler:
        """A compiler for the schemas of a Swagger 2.0 document, without bravado-core.

        ``deref`` resolves a ``{"$ref": ...}`` one level, as ``Spec.deref`` does, and must
        return the same object for the same target (decoders are cached by ``id()``).
        ``user_formats`` maps the formats registered with bravado-core to their
        ``to_python``. The other arguments are the bravado-core config this compiler
        mirrors. ``spec_factory`` returns the bravado-core ``Spec`` of the same document; it
        is called only for schemas handed to bravado-core (``discriminator``).
        """
        compiler = cls.__new__(cls)
        compiler._spec = None
        compiler._spec_factory = spec_factory
        compiler._deref = deref
        compiler._include_missing = include_missing_properties
        compiler._default_type_to_object = default_type_to_object
        compiler._user_formats = dict(user_formats)
        compiler._byte = _byte_to_python
        compiler._cache = {}
        compiler.fallbacks = 0
        return compiler

    def _bravado_spec(self) -> Spec:
        if self._spec is None:
            assert self._spec_factory is not None
            self._spec = self._spec_factory()
        return self._spec

    def decoder(self, schema: Mapping[str, Any]) -> Decoder:
        """The decoder for values of ``schema`` (a response schema from the spec).

        Returns a function ``decode(value) -> value``, which raises
        :class:`~esi.openapi.errors.DecodeError` where bravado-core's unmarshal raises
        ``SwaggerMappingError``.
        """
        return self._compile(schema, True, {}).decode

    # -- compilation ----------------------------------------------------------------------

    def _compile(self, schema: Any, is_nullable: bool, active: _Active) -> _Compiled:
        """Mirror of ``bravado_core.unmarshal._get_unmarshaling_method``.

        ``is_nullable`` is what bravado-core passes for the position: ``True`` at the top
        and for array items, "has ``x-nullable`` or is not required" for properties, and
        ``False`` for additional properties. ``active`` holds the positions being compiled,
        to tie recursive schemas together.
        """
        schema = self._deref(schema)
        key = (id(schema), is_nullable)
        cached = self._cache.get(key)
        if cached is not None and cached[0] is schema:
            return cached[1]
        if key in active:
            return self._forward(schema, is_nullable, active[key])

        if "type" in schema:
            kind = schema["type"]
        elif self._default_type_to_object or "allOf" in schema:
            kind = "object"
        else:
            kind = None

        choices = schema.get("x-oneOf") or schema.get("x-anyOf") if kind is None else None
        if choices:
            compiled = self._one_of(choices, active)
        elif kind is None:
            # bravado-core returns such values untouched, without even null handling.
            compiled = _IDENTITY
        elif kind not in _KNOWN_TYPES:
            # Like bravado-core: an error for every value, null included.
            fail = _unknown_type(kind)
            compiled = _Compiled(fail, fail, "raise")
        elif "discriminator" in schema:
            compiled = self._fallback(schema, is_nullable)
        else:
            active[key] = []
            try:
                convert = self._convert(schema, kind, active)
            finally:
                forwards = active.pop(key)
            compiled = self._with_nulls(schema, is_nullable, convert)
            for cell in forwards:
                cell.append(compiled)
        self._cache[key] = (schema, compiled)
        return compiled

    def _one_of(self, choices: list[Any], active: _Active) -> _Compiled:
        """A ``oneOf`` / ``anyOf`` schema (``x-oneOf`` / ``x-anyOf`` once normalized): each
        value is decoded as the branch it matches (see :class:`_Branch`), or left as it is
        when none matches, or several match equally well. bravado-core leaves all such
        values untouched, date-times as strings; ESI answers ``/sovereignty/systems``,
        corporation projects and freelance jobs with them."""
        branches = []
        for choice in choices:
            branch = self._deref(choice)
            kind = branch.get("type") or ("object" if "properties" in branch or "allOf" in branch else None)
            branches.append(
                _Branch(
                    kind=kind if isinstance(kind, str) else None,
                    properties=frozenset(self._collapsed_properties(branch)),
                    required=frozenset(self._collapsed_required(branch)),
                    closed=branch.get("additionalProperties") is False,
                    decode=self._compile(choice, True, active).decode,
                )
            )
        if all(branch.decode is identity for branch in branches):
            return _IDENTITY

        def decode_one_of(value: Any) -> Any:
            if value is None:
                return None
            chosen = _choose(branches, value)
            return value if chosen is None else chosen.decode(value)

        return _Compiled(decode_one_of, decode_one_of, "keep")

    def _forward(self, schema: Any, is_nullable: bool, cells: list[list[_Compiled]]) -> _Compiled:
        """A recursive schema's inner occurrence: calls the outer one, once it exists."""
        cell: list[_Compiled] = []
        cells.append(cell)

        def decode(value: Any) -> Any:
            return cell[0].decode(value)

        # For non-null values the full decoder is the conversion.
        return _Compiled(decode, decode, self._null_rule(schema, is_nullable)[0])

    def _fallback(self, schema: Any, is_nullable: bool) -> _Compiled:
        from bravado_core.unmarshal import unmarshal_schema_object

        self.fallbacks += 1
        compiler = self

        def decode(value: Any) -> Any:
            spec = compiler._bravado_spec()  # builds the resource: never under BRAVADO_LOCK
            with BRAVADO_LOCK:
                return unmarshal_schema_object(spec, schema, value)

        return _Compiled(decode, decode, self._null_rule(schema, is_nullable)[0])

    def _null_rule(self, schema: Mapping[str, Any], is_nullable: bool) -> tuple[str, Any]:
        """What ``null`` becomes here: bravado_core._decorators.handle_null_value."""
        default = schema.get("default")
        if default is not None:
            return "default", default
        if is_nullable or schema.get("x-nullable", False):
            return "keep", None
        return "raise", None

    def _with_nulls(
        self, schema: Mapping[str, Any], is_nullable: bool, convert: Decoder | None
    ) -> _Compiled:
        on_null, default = self._null_rule(schema, is_nullable)
        if on_null == "keep":
            if convert is None:
                return _IDENTITY
            converter = convert

            def decode_or_keep_null(value: Any) -> Any:
                return None if value is None else converter(value)

            decode: Decoder = decode_or_keep_null
        elif on_null == "default":
            decode = _default_decoder(default, convert)
        else:
            decode = _strict_decoder(schema, convert)
        return _Compiled(decode, convert, on_null)

    def _convert(self, schema: Mapping[str, Any], kind: str, active: _Active) -> Decoder | None:
        """The conversion of non-null values, ``None`` when they stay as they are."""
        if kind == "object":
            return self._object(schema, active)
        if kind == "array":
            return self._array(schema, active)
        if kind == "file":
            return None
        return self._primitive(schema)

    def _primitive(self, schema: Mapping[str, Any]) -> Decoder | None:
        name = schema.get("format")
        if name is None:
            return None
        if name in self._user_formats:
            to_python = self._user_formats[name]
            return None if to_python is identity else to_python
        if name in _FAST_FORMATS:
            return _FAST_FORMATS[name]
        if name in _UNCHANGED_FORMATS:
            return None
        if name == "byte":
            # The only other format bravado-core knows (DEFAULT_FORMATS); its conversion
            # depends on the spec's config ("use_base64_for_byte_format", off for ours).
            if self._byte is not None:
                return self._byte
            byte: Decoder = self._bravado_spec().get_format(name).to_python
            return byte
        # bravado-core warns about unknown formats and leaves the value alone.
        return None

    def _array(self, schema: Mapping[str, Any], active: _Active) -> Decoder | None:
        if "items" not in schema:
            return None
        item = self._compile(schema["items"], True, active)
        if item.decode is identity:
            return _check_list
        decode_item = item.decode
        convert_item = item.convert
        if item.on_null == "keep" and convert_item is not None:
            # The usual case (nullable items, e.g. objects): the null check inline rather
            # than one more call per element.

            def decode_nullable_array(value: Any) -> Any:
                if type(value) is not list:
                    value = _check_list(value)
                return [None if element is None else convert_item(element) for element in value]

            return decode_nullable_array

        def decode_array(value: Any) -> Any:
            if type(value) is not list:
                value = _check_list(value)
            return [decode_item(element) for element in value]

        return decode_array

    def _object(self, schema: Mapping[str, Any], active: _Active) -> Decoder:
        properties = self._collapsed_properties(schema)
        required = self._collapsed_required(schema)
        converters: list[tuple[str, Decoder]] = []
        null_rules: list[tuple[str, _Compiled]] = []
        # Property -> (default, conversion): what a missing property becomes, as bravado-core
        # precomputes it (properties_to_default_value), typeless properties included.
        missing_defaults: dict[str, tuple[Any, Decoder | None]] = {}
        for name, raw in properties.items():
            nullable = bool(raw.get("x-nullable", False)) or name not in required
            compiled = self._compile(raw, nullable, active)
            if compiled.convert is not None:
                converters.append((name, compiled.convert))
            if compiled.on_null != "keep":
                null_rules.append((name, compiled))
            default = self._deref(raw).get("default")
            if default is not None:
                missing_defaults[name] = (default, compiled.convert)
        names = frozenset(properties)
        extra = self._additional(schema, active)
        fill_missing = self._include_missing and bool(names)
        return _object_decoder(
            converters, null_rules, names, extra, missing_defaults, fill_missing, object_class(names)
        )

    def _collapsed_properties(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """``bravado_core.schema.collapsed_properties``: ``properties`` merged with those of
        the ``allOf`` parts, later ones winning."""
        properties = dict(schema.get("properties", {})) if "properties" in schema else {}
        if "allOf" in schema:
            for part in schema["allOf"]:
                properties.update(self._collapsed_properties(self._deref(part)))
        return properties

    def _collapsed_required(self, schema: Mapping[str, Any]) -> set[str]:
        """``bravado_core.schema.collapsed_required``."""
        required = set(schema.get("required", []))
        if "allOf" in schema:
            for part in schema["allOf"]:
                required.update(self._collapsed_required(self._deref(part)))
        return required

    def _additional(self, schema: Mapping[str, Any], active: _Active) -> Decoder | None:
        """Decoder for properties not listed in ``properties``, ``None`` if they stay."""
        additional = schema.get("additionalProperties", {})
        if additional is False or additional == {} or additional is True:
            return None
        compiled = self._compile(additional, False, active)
        return None if compiled.decode is identity else compiled.decode


@dataclass(frozen=True)
class _Branch:
    """One branch of a ``oneOf``: its JSON type (``None``: any), the properties it declares
    and requires, whether it forbids others (``additionalProperties: false``), and its
    decoder."""

    kind: str | None
    properties: frozenset[str]
    required: frozenset[str]
    closed: bool
    decode: Decoder


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def _choose(branches: list[_Branch], value: Any) -> _Branch | None:
    """The branch ``value`` matches best: of the right JSON type, with every property the
    branch requires, no property a closed branch lacks, and, for an object branch that
    declares properties, the most of the value's keys among them (at least one). ESI's
    branches are objects told apart by one property each (``{"alliance": {...}}`` or
    ``{"faction": {...}}``) and declare nothing required. ``None`` when no branch matches
    or two match equally well: the value is then left as it is."""
    best: _Branch | None = None
    best_score = -1
    tied = False
    for branch in branches:
        if branch.kind is not None and not _JSON_TYPES.get(branch.kind, lambda v: False)(value):
            continue
        score = 0
        if isinstance(value, dict) and branch.kind in (None, "object"):
            keys = value.keys()
            if not branch.required <= keys or (branch.closed and not keys <= branch.properties):
                continue
            score = len(keys & branch.properties)
            if branch.properties and keys and not score:
                continue
        if score > best_score:
            best, best_score, tied = branch, score, False
        elif score == best_score:
            tied = True
    return None if tied else best


def _byte_to_python(value: Any) -> Any:
    # bravado_core.formatter.DEFAULT_FORMATS["byte"].to_python (no base64 decoding).
    return value if isinstance(value, str) else str(value)


def _as_dict(value: Any) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise DecodeError(f"expected a JSON object, got {type(value).__name__}: {value!r}")
    return dict(value)


def _object_decoder(
    converters: list[tuple[str, Decoder]],
    null_rules: list[tuple[str, _Compiled]],
    names: frozenset[str],
    extra: Decoder | None,
    missing_defaults: dict[str, tuple[Any, Decoder | None]],
    fill_missing: bool,
    cls: type[EsiObject],
) -> Decoder:
    """The decoder of one object schema, as Python source compiled for that schema.

    An object decoder runs once per object of a response (10,000 times for ten pages of
    market orders), so it is generated with its properties unrolled: one dict lookup per
    property that needs converting, ``date-time`` and ``double`` conversions inlined, and
    the rare steps (``null`` rules, additional properties, missing properties) present only
    when the schema has them. Property names enter the source only as ``repr()`` literals;
    everything else is passed in the namespace.
    """
    namespace: dict[str, Any] = {
        "_as_dict": _as_dict,
        "_fromisoformat": datetime.fromisoformat,
        "parse_datetime": parse_datetime,
        "_to_float": _to_float,
        "_float": float,
        "_extra": extra,
        "_names": names,
        "_null_rules": null_rules,
        "_missing_defaults": missing_defaults,
        "_missing_value": _missing_value,
        "_object": cls,
    }
    lines = [
        "def decode_object(value):",
        "    if type(value) is not dict:",
        "        value = _as_dict(value)",
    ]
    for index, (name, convert) in enumerate(converters):
        key = repr(name)
        lines += [f"    v = value.get({key})", "    if v is not None:"]
        if convert is parse_datetime:
            lines += [
                "        try:",
                f"            value[{key}] = _fromisoformat(v)",
                "        except (TypeError, ValueError):",
                f"            value[{key}] = parse_datetime(v)",
            ]
        elif convert is _to_float:
            lines += ["        if type(v) is not _float:", f"            value[{key}] = _to_float(v)"]
        else:
            namespace[f"_c{index}"] = convert
            lines += [f"        value[{key}] = _c{index}(v)"]
    if null_rules:
        lines += [
            "    if None in value.values():",
            "        for name, compiled in _null_rules:",
            "            if name in value and value[name] is None:",
            "                value[name] = compiled.decode(None)",
        ]
    if extra is not None:
        lines += [
            "    for name in value.keys() - _names:",
            "        value[name] = _extra(value[name])",
        ]
    if fill_missing:
        lines += [
            "    if not value.keys() >= _names:",
            "        for name in _names:",
            "            if name not in value:",
            "                value[name] = _missing_value(_missing_defaults.get(name))",
        ]
    # Last, so the conversions above run on the fresh dict orjson made: one copy per object.
    lines.append("    return _object(value)")
    exec(compile("\n".join(lines), "<esi.openapi.decoders object decoder>", "exec"), namespace)  # noqa: S102
    decode: Decoder = namespace["decode_object"]
    return decode


def _missing_value(default: tuple[Any, Decoder | None] | None) -> Any:
    """What bravado-core puts in for a missing property: its decoded default, or None."""
    if default is None:
        return None
    value, convert = default
    value = copy_json(value)
    return value if convert is None else convert(value)


def _default_decoder(default: Any, convert: Decoder | None) -> Decoder:
    def decode(value: Any) -> Any:
        if value is None:
            value = copy_json(default)
        return value if convert is None else convert(value)

    return decode


def _strict_decoder(schema: Mapping[str, Any], convert: Decoder | None) -> Decoder:
    def decode(value: Any) -> Any:
        if value is None:
            raise DecodeError(f"null where a value is required (schema {dict(schema)!r})")
        return value if convert is None else convert(value)

    return decode


def _check_list(value: Any) -> Any:
    # bravado-core returns a new list; an equal one will do.
    if type(value) is list:
        return value
    if isinstance(value, tuple):
        return list(value)
    raise DecodeError(f"expected a JSON array, got {type(value).__name__}: {value!r}")


def _unknown_type(kind: Any) -> Decoder:
    def decode(value: Any) -> Any:
        raise DecodeError(f"cannot decode {value!r}: unknown schema type {kind!r}")

    return decode
