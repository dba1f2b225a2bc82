"""Turn an OpenAPI 3.x ESI spec into the Swagger 2.0 shape bravado-core loads.

ESI publishes OpenAPI 3.1 at ``https://esi.evetech.net/meta/openapi.json`` (3.0 at
``/meta/openapi-3.0.json``); bravado-core reads Swagger 2.0 only. Architecture decision 1
keeps bravado-core as the spec engine for both formats, so OpenAPI specs go through
:func:`normalize_openapi31` first. The mapping:

- ``components/schemas`` -> ``definitions``; ``components/parameters`` -> ``parameters``;
  ``components/responses`` -> ``responses``. Every ``$ref`` is rewritten to match.
  ``components/headers``, ``components/requestBodies`` and ``components/examples`` have no
  Swagger 2.0 home: references to them are inlined.
- A parameter's ``schema`` becomes inline ``type`` / ``format`` / ``enum`` / ``items`` /
  ``default`` / bounds (``$ref`` s such as ``CharacterID`` are resolved); ``style`` /
  ``explode`` become ``collectionFormat``, and an array parameter that gives neither is
  ``csv``: ESI takes comma-separated values (``?ids=1,2,3``), as its Swagger specs said,
  where OpenAPI's default (``form``, exploded) would repeat the key; ``example`` /
  ``examples`` become ``x-example``.
- ``requestBody`` -> an ``in: body`` parameter named ``body``, required as the request body
  is; its media type goes into the operation's ``consumes``.
- ``responses.<code>.content[<json>].schema`` -> ``responses.<code>.schema``; a media type
  ``example`` -> ``responses.<code>.examples``; response headers become Swagger headers.
- Schemas: ``type: [T, "null"]`` and 3.0 ``nullable: true`` -> ``type: T`` plus
  ``x-nullable: true``; 3.1 ``examples: [v, ...]`` -> ``example: v``; ``const: v`` ->
  ``enum: [v]``; numeric 3.1 ``exclusiveMinimum`` / ``exclusiveMaximum`` -> ``minimum`` /
  ``maximum`` with the boolean flag; a ``discriminator`` object -> its ``propertyName``.
  ``oneOf``, ``anyOf`` and ``not`` pass through as the extensions ``x-oneOf``, ``x-anyOf``
  and ``x-not`` (``$ref`` s rewritten): swagger-spec-validator rejects the plain keywords
  in Swagger 2.0 schemas, and bravado-core ignores them either way (a ``oneOf``-only schema
  has no ``type``, so its values pass through unmarshalling untouched). ESI uses ``oneOf``
  for corporation projects, sovereignty hubs, freelance jobs and sovereignty claims.
- ``components.securitySchemes.OAuth2`` -> ``securityDefinitions.evesso`` (the name ESI's
  Swagger specs used): ``type: oauth2``, ``flow: accessCode`` with ``authorizationUrl``,
  ``tokenUrl`` and ``scopes``; operation ``security`` keys are renamed to match.
- ``servers[0].url`` -> ``host``, ``schemes`` and ``basePath`` (``"/"`` for ESI).
- Every ``x-*`` extension is kept (on the root, info, tags, paths, operations, parameters,
  responses and schemas): ``x-rate-limit``, ``x-cache-age``, ``x-compatibility-date``, ...

Dropped, because Swagger 2.0 cannot express them and swagger-spec-validator rejects them:

- schema keywords outside Swagger 2.0's schema object (``$id``, ``$schema``, ``$defs``,
  ``$comment``, ``prefixItems``, ``patternProperties``, ``propertyNames``, ``contains``,
  ``if`` / ``then`` / ``else``, ``dependentRequired``, ``dependentSchemas``,
  ``unevaluatedProperties``, ``contentMediaType``, ``contentEncoding``, ``writeOnly``,
  ``deprecated``), empty ``required`` / ``enum`` lists, and a type list with more than one
  non-null type;
- ``in: cookie`` parameters, response codes given as ranges (``2XX``), the ``trace`` method,
  ``servers`` / ``summary`` / ``description`` on path items, ``callbacks`` and
  ``servers`` on operations, ``info.summary``, ``license.identifier``, ``webhooks`` and
  ``jsonSchemaDialect``;
- security schemes other than ``oauth2``, ``apiKey`` (header or query) and HTTP ``basic``
  (and the operation requirements that name them); of an OAuth 2 scheme's flows only one is
  kept (``authorizationCode``, else ``implicit``, ``password``, ``clientCredentials``).

None of these occur in ESI's specs as of 2026-08; the list says what would be lost if CCP
started using them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from esi.openapi.errors import SpecError

SpecFormat = Literal["openapi31", "swagger20"]

# Marks "no example given" (``None`` is a valid example).
_MISSING: Any = object()

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")

# The name ESI's Swagger 2.0 specs gave the EVE SSO scheme; code written for django-esi
# (and bravado's security handling) refers to it.
SECURITY_SCHEME_NAMES = {"OAuth2": "evesso"}

# OpenAPI 3 flow name -> Swagger 2.0 flow name, in order of preference when a scheme has
# several (Swagger 2.0 allows one flow per scheme).
_OAUTH2_FLOWS = (
    ("authorizationCode", "accessCode"),
    ("implicit", "implicit"),
    ("password", "password"),
    ("clientCredentials", "application"),
)

_REF_TARGETS = {
    "#/components/schemas/": "#/definitions/",
    "#/components/parameters/": "#/parameters/",
    "#/components/responses/": "#/responses/",
}

# Keywords of a Swagger 2.0 schema object whose values are copied as they are.
_SCHEMA_PLAIN_KEYS = frozenset(
    {
        "title",
        "description",
        "default",
        "multipleOf",
        "maximum",
        "minimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxProperties",
        "minProperties",
        "format",
        "readOnly",
        "xml",
        "externalDocs",
        "example",
    }
)

# Keywords a non-body parameter, a header and an array parameter's ``items`` share with
# schemas (Swagger 2.0 "primitivesItems").
_PRIMITIVE_KEYS = frozenset(
    {
        "type",
        "format",
        "items",
        "collectionFormat",
        "default",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "enum",
        "multipleOf",
    }
)

# OpenAPI 3 ``style`` (with ``explode``) -> Swagger 2.0 ``collectionFormat`` for arrays.
# Defaults per OpenAPI 3.1 section 4.8.12.4: query "form" explodes, path/header "simple".
_FORM_EXPLODED = "multi"
_STYLE_FORMATS = {
    "form": "csv",
    "simple": "csv",
    "spaceDelimited": "ssv",
    "pipeDelimited": "pipes",
}
_DEFAULT_STYLE = {"query": "form", "path": "simple", "header": "simple"}


def detect_format(spec: object) -> SpecFormat:
    """Tell which kind of ESI spec ``spec`` (a parsed JSON document) is.

    Returns ``"swagger20"`` for Swagger 2.0 (ESI's legacy ``/latest/swagger.json``) and
    ``"openapi31"`` for OpenAPI 3.1 (``/meta/openapi.json``) and 3.0
    (``/meta/openapi-3.0.json``), which this package reads the same way.

    Raises :class:`~esi.openapi.errors.SpecError` when ``spec`` is not a JSON object, has no
    ``swagger: "2.0"`` or ``openapi: "3.0.x" / "3.1.x"`` marker, or has no ``paths`` object.
    """
    if not isinstance(spec, Mapping):
        raise SpecError(f"an ESI spec is a JSON object, not {type(spec).__name__}")
    if "swagger" in spec:
        if spec["swagger"] != "2.0":
            raise SpecError(f"unsupported Swagger version {spec['swagger']!r}; expected '2.0'")
        found: SpecFormat = "swagger20"
    elif "openapi" in spec:
        version = spec["openapi"]
        if not isinstance(version, str) or not version.startswith(("3.0.", "3.1.")):
            raise SpecError(f"unsupported OpenAPI version {version!r}; expected 3.0.x or 3.1.x")
        found = "openapi31"
    else:
        raise SpecError("not an OpenAPI or Swagger document: no 'openapi' or 'swagger' field")
    if not isinstance(spec.get("paths"), Mapping) or not spec["paths"]:
        raise SpecError("the spec has no operations: 'paths' is missing or empty")
    return found


def normalize_openapi31(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Return the Swagger 2.0 form of an OpenAPI 3.0 / 3.1 ESI spec (see the module docstring).

    Pure: ``spec`` is not modified, and the result shares no mutable object with it, so
    bravado-core may annotate the result (it adds ``x-model`` to definitions) safely.

    Raises :class:`~esi.openapi.errors.SpecError` when ``spec`` is not an OpenAPI 3.x spec.
    """
    if detect_format(spec) != "openapi31":
        raise SpecError("normalize_openapi31() needs an OpenAPI 3.x spec, got Swagger 2.0")
    return Normalizer(spec).full()


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists and scalars), much faster than
    ``copy.deepcopy`` because it knows there are no other containers or cycles."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


def iter_refs(value: Any) -> Iterator[str]:
    """Every ``$ref`` string in a JSON value, depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                yield ref
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def ref_name(ref: str, prefix: str) -> str | None:
    """The component name in ``ref`` if it starts with ``prefix``, JSON-pointer unescaped."""
    if not ref.startswith(prefix):
        return None
    return ref[len(prefix) :].replace("~1", "/").replace("~0", "~")


def _extensions(source: Mapping[str, Any]) -> dict[str, Any]:
    return {key: copy_json(value) for key, value in source.items() if key.startswith("x-")}


def _is_cookie(parameter: Mapping[str, Any]) -> bool:
    # Swagger 2.0 has no cookie parameters; ESI uses none.
    return parameter.get("in") == "cookie"


class Normalizer:
    """Converts an OpenAPI 3.x spec to Swagger 2.0 piece by piece.

    :func:`normalize_openapi31` converts everything; :class:`~esi.openapi.spec.EsiSpec`
    converts only the operations of the resource being built and the definitions they reach,
    which is what keeps building one resource cheap. Every method returns new objects.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self._spec = spec
        components = spec.get("components") or {}
        self._schemas: Mapping[str, Any] = components.get("schemas") or {}
        self._parameters: Mapping[str, Any] = components.get("parameters") or {}
        self._responses: Mapping[str, Any] = components.get("responses") or {}
        self._components: Mapping[str, Any] = components
        self._security_names = self._map_security_schemes()

    # -- the whole document -------------------------------------------------------------

    def full(self) -> dict[str, Any]:
        """The complete Swagger 2.0 document."""
        result = self.root()
        result["paths"] = {path: self.path_item(path) for path in self._spec["paths"]}
        result["definitions"] = {name: self.definition(name) for name in self._schemas}
        parameters = {
            name: self.parameter(name)
            for name, parameter in self._parameters.items()
            if not _is_cookie(self._resolve(parameter))
        }
        if parameters:
            result["parameters"] = parameters
        if self._responses:
            result["responses"] = {name: self.response(name) for name in self._responses}
        return result

    def root(self) -> dict[str, Any]:
        """Everything but ``paths``, ``definitions``, ``parameters`` and ``responses``."""
        spec = self._spec
        root: dict[str, Any] = {"swagger": "2.0", "info": self._info(spec.get("info") or {})}
        root.update(self._server())
        root["produces"] = ["application/json"]
        security_definitions = self._security_definitions()
        if security_definitions:
            root["securityDefinitions"] = security_definitions
        if "security" in spec:
            root["security"] = self._security(spec["security"])
        if "tags" in spec:
            root["tags"] = [self._tag(tag) for tag in spec["tags"]]
        if "externalDocs" in spec:
            root["externalDocs"] = copy_json(spec["externalDocs"])
        root.update(_extensions(spec))
        return root

    def _info(self, info: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "title": info.get("title", ""),
            "version": info.get("version", ""),
        }
        for key in ("description", "termsOfService", "contact"):
            if key in info:
                result[key] = copy_json(info[key])
        if "license" in info:
            result["license"] = {
                key: copy_json(value)
                for key, value in info["license"].items()
                if key in ("name", "url") or key.startswith("x-")
            }
        result.update(_extensions(info))
        return result

    def _server(self) -> dict[str, Any]:
        servers = self._spec.get("servers") or []
        if not servers:
            return {"basePath": "/"}
        server = servers[0]
        url = server.get("url", "/")
        # Server variables ({name}) take their default values.
        for name, variable in (server.get("variables") or {}).items():
            url = url.replace("{" + name + "}", str(variable.get("default", "")))
        parts = urlsplit(url)
        result: dict[str, Any] = {}
        if parts.netloc:
            result["host"] = parts.netloc
            result["schemes"] = [parts.scheme or "https"]
        result["basePath"] = parts.path.rstrip("/") or "/"
        return result

    def _tag(self, tag: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: copy_json(value)
            for key, value in tag.items()
            if key in ("name", "description", "externalDocs") or key.startswith("x-")
        }

    # -- security -----------------------------------------------------------------------

    def _map_security_schemes(self) -> dict[str, str]:
        """OpenAPI scheme name -> Swagger name, for the schemes Swagger 2.0 can express."""
        names = {}
        for name, scheme in (self._components.get("securitySchemes") or {}).items():
            if self._security_definition(scheme) is not None:
                names[name] = SECURITY_SCHEME_NAMES.get(name, name)
        return names

    def _security_definitions(self) -> dict[str, Any]:
        result = {}
        for name, scheme in (self._components.get("securitySchemes") or {}).items():
            definition = self._security_definition(scheme)
            if definition is not None:
                result[self._security_names[name]] = definition
        return result

    @staticmethod
    def _security_definition(scheme: Mapping[str, Any]) -> dict[str, Any] | None:
        kind = scheme.get("type")
        result: dict[str, Any]
        if kind == "oauth2":
            flows = scheme.get("flows") or {}
            for openapi_flow, swagger_flow in _OAUTH2_FLOWS:
                if openapi_flow in flows:
                    flow = flows[openapi_flow]
                    result = {"type": "oauth2", "flow": swagger_flow}
                    for key in ("authorizationUrl", "tokenUrl"):
                        if key in flow:
                            result[key] = flow[key]
                    result["scopes"] = copy_json(flow.get("scopes") or {})
                    break
            else:
                return None
        elif kind == "apiKey" and scheme.get("in") in ("header", "query"):
            result = {"type": "apiKey", "name": scheme["name"], "in": scheme["in"]}
        elif kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
            result = {"type": "basic"}
        else:
            return None
        if "description" in scheme:
            result["description"] = scheme["description"]
        result.update(_extensions(scheme))
        return result

    def _security(self, requirements: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        result = []
        for requirement in requirements:
            converted = {
                self._security_names[name]: list(scopes)
                for name, scopes in requirement.items()
                if name in self._security_names
            }
            # An empty requirement means "no auth needed"; keep it only where it was empty.
            if converted or not requirement:
                result.append(converted)
        return result

    # -- components -----------------------------------------------------------------------

    def definition(self, name: str) -> dict[str, Any]:
        """``components/schemas/<name>`` as a Swagger definition."""
        return self.schema(self._schemas[name])

    def parameter(self, name: str) -> dict[str, Any]:
        """``components/parameters/<name>`` as a Swagger parameter."""
        return self._parameter(self._parameters[name])

    def response(self, name: str) -> dict[str, Any]:
        """``components/responses/<name>`` as a Swagger response."""
        return self._response(self._responses[name])

    def _component(self, ref: str) -> Any:
        """The object a local ``#/components/...`` reference points to (for inlining)."""
        name = ref_name(ref, "#/")
        node: Any = self._spec
        for part in (name or "").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                raise SpecError(f"unresolvable reference {ref!r}")
            node = node[part]
        return node

    def _resolve(self, value: Any) -> Any:
        """Follow references to components Swagger 2.0 has no section for."""
        seen = set()
        while isinstance(value, Mapping) and isinstance(value.get("$ref"), str):
            ref = value["$ref"]
            if ref in seen:
                raise SpecError(f"circular reference {ref!r}")
            seen.add(ref)
            value = self._component(ref)
        return value

    # -- paths and operations -------------------------------------------------------------

    def path_item(self, path: str, methods: list[str] | None = None) -> dict[str, Any]:
        """``paths[path]`` as a Swagger path item; only ``methods`` if given."""
        item = self._resolve(self._spec["paths"][path])
        result: dict[str, Any] = {}
        if item.get("parameters"):
            result["parameters"] = self._parameters_list(item["parameters"])
        for method in methods if methods is not None else HTTP_METHODS:
            if method in item:
                result[method] = self.operation(path, method)
        result.update(_extensions(item))
        return result

    def operation(self, path: str, method: str) -> dict[str, Any]:
        """``paths[path][method]`` as a Swagger operation."""
        op = self._resolve(self._spec["paths"][path])[method]
        result: dict[str, Any] = {}
        for key in ("tags", "summary", "description", "externalDocs", "operationId", "deprecated"):
            if key in op:
                result[key] = copy_json(op[key])
        parameters = self._parameters_list(op.get("parameters") or [])
        if "requestBody" in op:
            body, media_type = self._request_body(op["requestBody"])
            parameters.append(body)
            result["consumes"] = [media_type]
        if parameters:
            result["parameters"] = parameters
        result["responses"] = {
            str(code): self._response(response)
            for code, response in (op.get("responses") or {}).items()
            if str(code) == "default" or (len(str(code)) == 3 and str(code).isdigit())
        }
        if "security" in op:
            result["security"] = self._security(op["security"])
        result.update(_extensions(op))
        return result

    def _parameters_list(self, parameters: list[Any]) -> list[dict[str, Any]]:
        result = []
        for parameter in parameters:
            if _is_cookie(self._resolve(parameter)):
                continue
            ref = parameter.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/parameters/"):
                # Reusable parameters stay references, to the top-level "parameters".
                result.append({"$ref": self._ref(ref)})
            else:
                result.append(self._parameter(parameter))
        return result

    def _parameter(self, parameter: Mapping[str, Any]) -> dict[str, Any]:
        parameter = self._resolve(parameter)
        location = parameter.get("in")
        result: dict[str, Any] = {"name": parameter["name"], "in": location}
        schema = parameter.get("schema")
        if schema is None and parameter.get("content"):
            schema = next(iter(parameter["content"].values())).get("schema")
        inline = self._inline_primitive(schema or {})
        description = parameter.get("description", inline.pop("description", None))
        if description is not None:
            result["description"] = description
        if location == "path" or parameter.get("required"):
            result["required"] = True
        if location == "query" and parameter.get("allowEmptyValue"):
            result["allowEmptyValue"] = True
        result.update(inline)
        if result.get("type") == "array" and "style" not in parameter and "explode" not in parameter:
            # ESI takes comma-separated values (?ids=1,2,3), as its Swagger specs (csv by
            # default) said; its OpenAPI specs give no style, whose default would repeat the key.
            result["collectionFormat"] = "csv"
        elif result.get("type") == "array":
            style = parameter.get("style", _DEFAULT_STYLE.get(str(location), "form"))
            explode = parameter.get("explode", style == "form")
            if style == "form" and explode:
                result["collectionFormat"] = _FORM_EXPLODED
            elif style in _STYLE_FORMATS:
                result["collectionFormat"] = _STYLE_FORMATS[style]
        example = self._example(parameter)
        if example is not _MISSING:
            result["x-example"] = example
        result.update(_extensions(parameter))
        return result

    def _inline_primitive(self, schema: Any) -> dict[str, Any]:
        """A parameter's or header's schema as inline Swagger keywords, ``$ref`` s resolved
        (Swagger 2.0 allows no ``$ref`` there)."""
        schema = self._merged(schema)
        converted = self.schema(schema)
        result: dict[str, Any] = {}
        for key, value in converted.items():
            if key in _PRIMITIVE_KEYS or key == "description" or key.startswith("x-"):
                result[key] = value
        if "items" in result:
            result["items"] = self._inline_primitive(schema.get("items") or {})
            result["items"].pop("description", None)
        if "example" in converted:
            result["x-example"] = converted["example"]
        result.pop("x-nullable", None)
        return result

    def _merged(self, schema: Any) -> Mapping[str, Any]:
        """``schema`` with ``$ref`` s to ``components/schemas`` replaced by their target;
        keys next to a ``$ref`` (OpenAPI 3.1 allows them) win over the target's."""
        if not isinstance(schema, Mapping):
            return {}
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return schema
        name = ref_name(ref, "#/components/schemas/")
        target = self._schemas.get(name) if name is not None else self._resolve(schema)
        if target is None:
            raise SpecError(f"unresolvable reference {ref!r}")
        merged = dict(self._merged(target))
        merged.update((key, value) for key, value in schema.items() if key != "$ref")
        return merged

    @staticmethod
    def _example(source: Mapping[str, Any]) -> Any:
        if "example" in source:
            return copy_json(source["example"])
        examples = source.get("examples")
        if isinstance(examples, list) and examples:
            return copy_json(examples[0])
        if isinstance(examples, Mapping):
            for example in examples.values():
                if isinstance(example, Mapping) and "value" in example:
                    return copy_json(example["value"])
        return _MISSING

    def _request_body(self, body: Any) -> tuple[dict[str, Any], str]:
        body = self._resolve(body)
        media_type, media = self._media(body.get("content") or {})
        result: dict[str, Any] = {"name": "body", "in": "body"}
        if "description" in body:
            result["description"] = body["description"]
        result["required"] = bool(body.get("required", False))
        result["schema"] = self.schema(media.get("schema", {}))
        result.update(_extensions(body))
        return result, media_type

    @staticmethod
    def _media(content: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        """The JSON media type of a ``content`` map (ESI only serves JSON)."""
        if "application/json" in content:
            return "application/json", content["application/json"]
        for media_type, media in content.items():
            if media_type.endswith("+json"):
                return media_type, media
        if content:
            media_type = next(iter(content))
            return media_type, content[media_type]
        return "application/json", {}

    def _response(self, response: Any) -> dict[str, Any]:
        ref = response.get("$ref") if isinstance(response, Mapping) else None
        if isinstance(ref, str) and ref.startswith("#/components/responses/"):
            return {"$ref": self._ref(ref)}
        response = self._resolve(response)
        result: dict[str, Any] = {"description": response.get("description", "")}
        if response.get("content"):
            media_type, media = self._media(response["content"])
            if "schema" in media:
                result["schema"] = self.schema(media["schema"])
            example = self._example(media)
            if example is not _MISSING:
                result["examples"] = {media_type: example}
        if response.get("headers"):
            result["headers"] = {
                name: self._header(header) for name, header in response["headers"].items()
            }
        result.update(_extensions(response))
        return result

    def _header(self, header: Any) -> dict[str, Any]:
        header = self._resolve(header)
        schema = header.get("schema")
        if schema is None and header.get("content"):
            schema = next(iter(header["content"].values())).get("schema")
        result = self._inline_primitive(schema or {})
        # Swagger 2.0 requires a type on headers; ESI's are all strings.
        result.setdefault("type", "string")
        if "description" in header:
            result["description"] = header["description"]
        result.update(_extensions(header))
        return result

    # -- schemas --------------------------------------------------------------------------

    def _ref(self, ref: str) -> str:
        for source, target in _REF_TARGETS.items():
            if ref.startswith(source):
                return target + ref[len(source) :]
        return ref

    def schema(self, schema: Any) -> Any:
        """One schema object, converted recursively (see the module docstring)."""
        if isinstance(schema, bool):
            # OpenAPI 3.1 boolean schemas: ``true`` accepts anything, which is ``{}``.
            # ``false`` has no Swagger 2.0 form and is dropped the same way.
            return {}
        if not isinstance(schema, Mapping):
            return copy_json(schema)
        result: dict[str, Any] = {}
        nullable = schema.get("nullable") is True
        for key, value in schema.items():
            if key == "$ref":
                result["$ref"] = self._ref(value) if isinstance(value, str) else value
            elif key in _SCHEMA_PLAIN_KEYS:
                result[key] = copy_json(value)
            elif key == "type":
                if isinstance(value, list):
                    types = [item for item in value if item != "null"]
                    nullable = nullable or len(types) < len(value)
                    if len(types) == 1:
                        result["type"] = types[0]
                else:
                    result["type"] = value
            elif key == "properties":
                result["properties"] = {name: self.schema(item) for name, item in value.items()}
            elif key == "items":
                if isinstance(value, list):
                    result["items"] = [self.schema(item) for item in value]
                else:
                    result["items"] = self.schema(value)
            elif key == "additionalProperties":
                result[key] = value if isinstance(value, bool) else self.schema(value)
            elif key == "allOf":
                result[key] = [self.schema(item) for item in value]
            elif key in ("oneOf", "anyOf"):
                result["x-" + key] = [self.schema(item) for item in value]
            elif key == "not":
                result["x-not"] = self.schema(value)
            elif key in ("required", "enum"):
                if value:
                    result[key] = copy_json(value)
            elif key == "const":
                result["enum"] = [copy_json(value)]
            elif key == "examples":
                if isinstance(value, list) and value and "example" not in schema:
                    result["example"] = copy_json(value[0])
            elif key in ("exclusiveMinimum", "exclusiveMaximum"):
                if isinstance(value, bool):
                    result[key] = value
                else:
                    # OpenAPI 3.1 (JSON Schema 2020-12) gives the bound itself.
                    result["minimum" if key == "exclusiveMinimum" else "maximum"] = value
                    result[key] = True
            elif key == "discriminator":
                name = value.get("propertyName") if isinstance(value, Mapping) else value
                if isinstance(name, str):
                    result[key] = name
            elif key.startswith("x-"):
                result[key] = copy_json(value)
        if nullable:
            result["x-nullable"] = True
        return result
