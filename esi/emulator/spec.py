"""Reading an ESI specification (OpenAPI 3.1 or Swagger 2.0) into routable operations.

Also builds deterministic example values from JSON schemas, which is how the emulator answers
an operation nobody scripted.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

SPEC_DIR = Path(__file__).resolve().parent.parent / "specs"

# ESI's legacy Swagger routes lived under a version prefix (/latest, /dev, /legacy, /v1 ...).
_LEGACY_PREFIX = re.compile(r"^/(?:latest|dev|legacy|v[1-9])(?=/|$)")
_INTEGER = re.compile(r"^-?[0-9]{1,19}$")
_NUMBER = re.compile(r"^-?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:[eE][-+]?[0-9]{1,3})?$")
_WINDOW = re.compile(r"^([0-9]+)([smhd])$")
_WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_DEPTH = 16

DATE_TIME_EXAMPLE = "2026-01-01T11:00:00Z"
DATE_EXAMPLE = "2026-01-01"
UUID_EXAMPLE = "00000000-0000-4000-8000-000000000001"


def bundled_spec_path() -> Path:
    """The newest OpenAPI 3.1 spec shipped in ``esi/specs`` (``esi_openapi31_<date>.json``).

    Raises ``FileNotFoundError`` when the package ships none.
    """
    candidates = sorted(SPEC_DIR.glob("esi_openapi31_*.json"))
    if not candidates:
        raise FileNotFoundError(f"no esi_openapi31_*.json in {SPEC_DIR}")
    return candidates[-1]


def operation_key(name: str) -> str:
    """Normalise an operationId so ``GetStatus`` and ``get_status`` compare equal."""
    return name.replace("_", "").lower()


def normalise_path(path: str) -> str:
    """Strip a legacy version prefix and a trailing slash: ``/latest/status/`` -> ``/status``."""
    path = _LEGACY_PREFIX.sub("", path, count=1) or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path


def parse_window(text: str) -> int:
    """Seconds in an ``x-rate-limit`` ``window-size`` such as ``"15m"``, ``"1h"`` or ``"5s"``.

    Raises ``ValueError`` for anything else.
    """
    match = _WINDOW.match(text.strip())
    if not match:
        raise ValueError(f"unreadable rate-limit window {text!r}")
    return int(match.group(1)) * _WINDOW_UNITS[match.group(2)]


def parse_rate_limit(text: str) -> tuple[int, int, str]:
    """``"<tokens>/<window>"`` such as ``"40/10s"`` or ``"150/15m"`` (the form of
    ``X-Ratelimit-Limit``) as ``(tokens, window seconds, window label)``.

    Raises ``ValueError`` for anything else, a bucket of no tokens or a window of 0 s."""
    tokens, _, window = str(text).strip().partition("/")
    if not tokens.isascii() or not tokens.isdigit() or not 0 < int(tokens) <= 1_000_000:
        raise ValueError(f"unreadable rate limit {text!r}: use <tokens>/<window>, e.g. 40/10s")
    try:
        seconds = parse_window(window)
    except ValueError:
        raise ValueError(f"unreadable rate limit {text!r}: use <tokens>/<window>, e.g. 40/10s") from None
    if seconds <= 0:
        raise ValueError(f"unreadable rate limit {text!r}: the window must be longer than 0 s")
    return int(tokens), seconds, window.strip()


@dataclass(frozen=True)
class RateLimit:
    """An operation's ``x-rate-limit``: bucket ``group``, ``max_tokens`` per ``window`` seconds."""

    group: str
    max_tokens: int
    window: int
    window_label: str

    @property
    def limit_header(self) -> str:
        """The ``X-Ratelimit-Limit`` value, e.g. ``150/15m``."""
        return f"{self.max_tokens}/{self.window_label}"


@dataclass(frozen=True)
class Param:
    """A parameter of an operation; ``schema`` is the resolved JSON schema of its value.
    ``repeated`` is whether an array is sent as one query key per element: only when the
    spec says so (OpenAPI ``explode: true``, Swagger ``collectionFormat: multi``), as ESI
    takes comma-separated values otherwise (``?ids=1,2,3``)."""

    name: str
    location: str
    required: bool
    schema: dict[str, Any]
    repeated: bool = False


@dataclass
class Operation:
    """One method on one path of the spec, with what the emulator needs to serve it."""

    method: str
    path: str
    operation_id: str
    params: list[Param]
    scopes: list[list[str]]
    cache_age: int | None
    rate_limit: RateLimit | None
    success_status: int
    response_schema: dict[str, Any] | None
    response_example: Any
    has_response_example: bool
    request_body_schema: dict[str, Any] | None
    request_body_required: bool
    segments: tuple[str | None, ...] = field(default=())
    path_param_names: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        """The normalised operationId (see :func:`operation_key`)."""
        return operation_key(self.operation_id)

    @property
    def paged(self) -> bool:
        """Paged with ``page`` and ``X-Pages``."""
        return any(p.name == "page" and p.location == "query" for p in self.params)

    @property
    def cursor(self) -> bool:
        """Paged with ``before`` / ``after`` cursors."""
        names = {p.name for p in self.params if p.location == "query"}
        return "before" in names and "after" in names

    @property
    def requires_auth(self) -> bool:
        """Whether the operation needs an access token (its ``security`` lists scopes)."""
        return bool(self.scopes)

    def param(self, name: str, location: str) -> Param | None:
        """The parameter ``name`` in ``location`` (``path``, ``query`` ...), or ``None``."""
        for param in self.params:
            if param.name == name and param.location == location:
                return param
        return None


class SpecError(ValueError):
    """The file is not an ESI spec the emulator can read."""


class Spec:
    """An ESI specification loaded for routing.

    ``kind`` is ``"openapi"`` (OpenAPI 3.x, what ESI serves at ``/meta/openapi.json``) or
    ``"swagger"`` (Swagger 2.0, the legacy ``/latest/swagger.json``).
    Raises :class:`SpecError` for a document that is neither.
    """

    def __init__(self, document: dict[str, Any], source: str = "") -> None:
        self.document = document
        self.source = source
        if str(document.get("swagger", "")).startswith("2"):
            self.kind = "swagger"
        elif str(document.get("openapi", "")).startswith("3"):
            self.kind = "openapi"
        else:
            raise SpecError(f"{source or 'document'} is neither Swagger 2.0 nor OpenAPI 3")
        self.operations: list[Operation] = []
        self._by_key: dict[str, Operation] = {}
        # segment count -> templates sorted so literal segments win over parameters
        self._routes: dict[int, list[tuple[tuple[str | None, ...], dict[str, Operation]]]] = {}
        self._defaults: dict[str, Any] = {}
        self._defaults_lock = threading.Lock()
        self._served: dict[str, bytes] = {}
        self._read_operations()

    @classmethod
    def load(cls, path: str | Path | None = None) -> Spec:
        """Read the spec at ``path`` (``None``: the bundled OpenAPI 3.1 spec)."""
        file = Path(path) if path is not None else bundled_spec_path()
        with file.open(encoding="utf-8") as handle:
            try:
                document = json.load(handle)
            except json.JSONDecodeError as exc:
                raise SpecError(f"{file} is not JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise SpecError(f"{file} is not a JSON object")
        return cls(document, str(file))

    # --- references and schemas -------------------------------------------------------

    def deref(self, node: Any) -> Any:
        """Follow ``$ref`` (repeatedly); sibling keys of the reference win over the target's."""
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/"):
                break
            seen.add(ref)
            target: Any = self.document
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise SpecError(f"unresolvable $ref {ref!r}")
                target = target[part]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings} if siblings and isinstance(target, dict) else target
        return node

    def build_value(self, schema: Any, _refs: frozenset[str] = frozenset(), _depth: int = 0) -> Any:
        """A deterministic JSON value matching ``schema``.

        Uses the first of ``examples`` / ``example`` / ``const`` / ``enum``, else a fixed
        value per type: integers 1 (or ``minimum``), numbers 1.0, booleans ``True``, strings
        ``"string"``, ``date-time`` ``2026-01-01T11:00:00Z``, ``date`` ``2026-01-01``,
        arrays one item, objects every property. ``oneOf`` / ``anyOf`` take the first choice,
        ``type: [T, "null"]`` is T. Recursive schemas stop with an empty object or list.
        """
        if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            if ref in _refs or _depth > _MAX_DEPTH:
                return {} if self.deref(schema).get("type") != "array" else []
            _refs = _refs | {ref}
        schema = self.deref(schema)
        if not isinstance(schema, dict):
            return None
        for key in ("examples", "x-examples"):
            examples = schema.get(key)
            if isinstance(examples, list) and examples:
                return copy.deepcopy(examples[0])
        if "example" in schema:
            return copy.deepcopy(schema["example"])
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return copy.deepcopy(schema["enum"][0])
        for key in ("oneOf", "anyOf"):
            choices = schema.get(key)
            if isinstance(choices, list) and choices:
                non_null = [c for c in choices if self.deref(c).get("type") != "null"]
                return self.build_value((non_null or choices)[0], _refs, _depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                value = self.build_value(part, _refs, _depth + 1)
                if isinstance(value, dict):
                    merged.update(value)
            return merged
        kind = self.schema_type(schema)
        if kind == "object":
            properties = schema.get("properties") or {}
            if properties:
                return {
                    name: self.build_value(sub, _refs, _depth + 1)
                    for name, sub in properties.items()
                }
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                return {"1": self.build_value(extra, _refs, _depth + 1)}
            return {}
        if kind == "array":
            if _depth > _MAX_DEPTH:
                return []
            return [self.build_value(schema.get("items", {}), _refs, _depth + 1)]
        if kind == "integer":
            return _bounded(schema, 1)
        if kind == "number":
            return float(_bounded(schema, 1.0))
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return _string_value(schema)

    def schema_type(self, schema: Any) -> str:
        """The JSON type of ``schema``: its ``type`` (first non-null one), else inferred."""
        schema = self.deref(schema)
        if not isinstance(schema, dict):
            return "string"
        kind = schema.get("type")
        if isinstance(kind, list):
            non_null = [k for k in kind if k != "null"]
            kind = non_null[0] if non_null else "null"
        if isinstance(kind, str):
            return kind
        for key in ("oneOf", "anyOf", "allOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self.schema_type(schema[key][0])
        if "properties" in schema or "additionalProperties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        return "string"

    def default_body(self, operation: Operation) -> Any:
        """The body served when nothing is scripted: the Swagger response example, else a
        value built from the response schema; ``None`` for operations without a body."""
        with self._defaults_lock:
            if operation.key not in self._defaults:
                if operation.has_response_example:
                    body = copy.deepcopy(operation.response_example)
                elif operation.response_schema is not None:
                    body = self.build_value(operation.response_schema)
                else:
                    body = None
                self._defaults[operation.key] = body
            return copy.deepcopy(self._defaults[operation.key])

    # --- routing ---------------------------------------------------------------------

    def find(self, name: str) -> Operation:
        """The operation named by an operationId in either form (``GetStatus``,
        ``get_status``), by its Swagger-era name in either form (``get_characters_character_id``
        or ``GetCharactersCharacterId`` for ``GetCharactersDetail``) or by ``"METHOD /path"`` (a template such as
        ``GET /characters/{character_id}/assets`` or a concrete path; legacy prefix and
        trailing slash optional). Raises ``KeyError`` if the spec has no such operation.
        """
        text = name.strip()
        if " " in text:
            method, _, path = text.partition(" ")
            method, path = method.upper(), normalise_path(path.strip())
            for operation in self.operations:
                if operation.method == method and operation.path == path:
                    return operation
            matched, _, _ = self.match(method, path)
            if matched is not None:
                return matched
            raise KeyError(f"the spec has no operation {name!r}")
        try:
            return self._by_key[operation_key(text)]
        except KeyError:
            raise KeyError(f"the spec has no operation {name!r}") from None

    def match(self, method: str, path: str) -> tuple[Operation | None, dict[str, str], list[str]]:
        """Route ``method`` + ``path`` (legacy prefix and trailing slash optional).

        Returns ``(operation, raw path parameters, methods allowed on the path)``; the
        operation is ``None`` when nothing matches (methods empty: unknown path, else a
        method not allowed).
        """
        parts = [unquote(p, errors="replace") for p in normalise_path(path).split("/")[1:]]
        for template, by_method in self._routes.get(len(parts), ()):
            if all(t is None or t == p for t, p in zip(template, parts)):
                operation = by_method.get(method.upper())
                allowed = sorted(by_method)
                if operation is None:
                    return None, {}, allowed
                params = {
                    name: value
                    for name, value in zip(
                        operation.path_param_names,
                        (p for t, p in zip(template, parts) if t is None),
                    )
                }
                return operation, params, allowed
        return None, {}, []

    def served_document(self, base_url: str) -> bytes:
        """The spec as JSON with its server (OpenAPI ``servers``, Swagger ``host`` /
        ``schemes``) pointing at ``base_url``, so spec-driven clients call the emulator."""
        with self._defaults_lock:
            if base_url not in self._served:
                document = dict(self.document)
                if self.kind == "openapi":
                    document["servers"] = [{"url": base_url}]
                else:
                    parts = urlsplit(base_url)
                    document["host"] = parts.netloc
                    document["schemes"] = [parts.scheme]
                self._served[base_url] = json.dumps(document).encode()
            return self._served[base_url]

    # --- reading -----------------------------------------------------------------------

    def _read_operations(self) -> None:
        paths = self.document.get("paths")
        if not isinstance(paths, dict):
            raise SpecError(f"{self.source or 'document'} has no paths")
        templates: dict[tuple[str | None, ...], dict[str, Operation]] = {}
        for raw_path, item in paths.items():
            if not isinstance(item, dict):
                continue
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method.lower() not in {"get", "post", "put", "delete", "patch", "head"}:
                    continue
                operation = self._read_operation(method.upper(), raw_path, op, shared)
                if operation.key in self._by_key:
                    raise SpecError(f"duplicate operationId {operation.operation_id!r}")
                self._by_key[operation.key] = operation
                self.operations.append(operation)
                templates.setdefault(operation.segments, {})[operation.method] = operation
        for operation in self.operations:
            # The Swagger-era name (method and path: get_characters_character_id for
            # GetCharactersDetail), never shadowing a real operationId.
            segments = [s.strip("{}").replace("-", "_") for s in operation.path.split("/") if s]
            self._by_key.setdefault(operation_key("_".join([operation.method.lower(), *segments])), operation)
        for template, by_method in templates.items():
            self._routes.setdefault(len(template), []).append((template, by_method))
        for routes in self._routes.values():
            routes.sort(key=lambda route: [t is None for t in route[0]])

    def _read_operation(
        self, method: str, raw_path: str, op: dict[str, Any], shared: list[Any]
    ) -> Operation:
        path = normalise_path(raw_path)
        params = [self._read_param(p) for p in [*shared, *op.get("parameters", [])]]
        body_schema: dict[str, Any] | None = None
        body_required = False
        for param in params:
            if param.location == "body":
                body_schema, body_required = param.schema, param.required
        request_body = self.deref(op.get("requestBody"))
        if isinstance(request_body, dict):
            content = request_body.get("content", {}).get("application/json", {})
            body_schema = content.get("schema", {})
            body_required = bool(request_body.get("required"))
        security = op.get("security") or []
        scopes = [
            sorted({s for values in requirement.values() for s in values})
            for requirement in security
            if isinstance(requirement, dict) and requirement
        ]
        cache_age = op.get("x-cache-age", op.get("x-cached-seconds"))
        rate = op.get("x-rate-limit")
        rate_limit = None
        if isinstance(rate, dict) and {"group", "max-tokens", "window-size"} <= set(rate):
            label = str(rate["window-size"])
            rate_limit = RateLimit(str(rate["group"]), int(rate["max-tokens"]), parse_window(label), label)
        responses = op.get("responses", {})
        codes = sorted(int(c) for c in responses if str(c).isdigit() and 200 <= int(c) < 300)
        success = codes[0] if codes else 200
        response = self.deref(responses.get(str(success), {}))
        schema = response.get("schema")
        if "content" in response:
            schema = response["content"].get("application/json", {}).get("schema")
        examples = response.get("examples", {})
        has_example = isinstance(examples, dict) and "application/json" in examples
        segments = tuple(
            None if segment.startswith("{") and segment.endswith("}") else segment
            for segment in path.split("/")[1:]
        )
        names = tuple(
            segment[1:-1] for segment in path.split("/")[1:] if segment.startswith("{")
        )
        return Operation(
            method=method,
            path=path,
            operation_id=str(op.get("operationId") or f"{method} {path}"),
            params=params,
            scopes=scopes,
            cache_age=int(cache_age) if isinstance(cache_age, (int, float)) else None,
            rate_limit=rate_limit,
            success_status=success,
            response_schema=schema if success != 204 else None,
            response_example=examples.get("application/json") if has_example else None,
            has_response_example=has_example and success != 204,
            request_body_schema=body_schema,
            request_body_required=body_required,
            segments=segments,
            path_param_names=names,
        )

    def _read_param(self, raw: Any) -> Param:
        param = self.deref(raw)
        location = str(param.get("in", "query"))
        if "schema" in param:
            schema = self.deref(param["schema"])
        else:
            # Swagger 2.0 puts the value's schema keywords on the parameter itself.
            schema = {k: v for k, v in param.items() if k not in {"name", "in", "required"}}
        repeated = param.get("explode") is True or param.get("collectionFormat") == "multi"
        return Param(str(param.get("name", "")), location, bool(param.get("required")), schema, repeated)


def _bounded(schema: dict[str, Any], default: float) -> float:
    value = default
    minimum = schema.get("minimum", schema.get("exclusiveMinimum"))
    maximum = schema.get("maximum", schema.get("exclusiveMaximum"))
    if isinstance(minimum, (int, float)) and not isinstance(minimum, bool) and value < minimum:
        value = minimum + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    if isinstance(maximum, (int, float)) and not isinstance(maximum, bool) and value > maximum:
        value = maximum
    return int(value) if isinstance(default, int) else value


def _string_value(schema: dict[str, Any]) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return DATE_TIME_EXAMPLE
    if fmt == "date":
        return DATE_EXAMPLE
    if fmt == "uuid":
        return UUID_EXAMPLE
    value = "string"
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and len(value) < min_length:
        value = value.ljust(min_length, "x")
    max_length = schema.get("maxLength")
    if isinstance(max_length, int) and max_length >= 0:
        value = value[:max_length]
    return value


def convert_value(schema: dict[str, Any], raw: str) -> tuple[Any, str | None]:
    """Parse one parameter value given as text against its schema.

    Returns ``(value, None)`` or ``(None, reason)``; arrays take comma-separated items
    (ESI's ``csv`` collection format).
    """
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "array":
        items: dict[str, Any] = schema["items"] if isinstance(schema.get("items"), dict) else {}
        if items.get("type") == "array":
            return raw, None
        values = []
        for part in raw.split(","):
            element, error = convert_value(items, part)
            if error:
                return None, error
            values.append(element)
        return values, None
    if kind == "integer":
        if not _INTEGER.match(raw):
            return None, f"{raw[:40]!r} is not an integer"
        value: Any = int(raw)
    elif kind == "number":
        if not _NUMBER.match(raw):
            return None, f"{raw[:40]!r} is not a number"
        value = float(raw)
    elif kind == "boolean":
        if raw.lower() not in {"true", "false"}:
            return None, f"{raw[:40]!r} is not a boolean (true or false)"
        return raw.lower() == "true", None
    else:
        value = raw
        if schema.get("format") == "uuid":
            try:
                uuid.UUID(raw)
            except ValueError:
                return None, f"{raw[:40]!r} is not a UUID"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        return None, f"{raw[:40]!r} is not one of {', '.join(map(str, enum[:10]))}"
    if kind in {"integer", "number"}:
        minimum, maximum = schema.get("minimum"), schema.get("maximum")
        if isinstance(minimum, (int, float)) and value < minimum:
            return None, f"{value} is below the minimum {minimum}"
        if isinstance(maximum, (int, float)) and value > maximum:
            return None, f"{value} is above the maximum {maximum}"
    return value, None
