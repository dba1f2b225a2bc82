"""Values built from Swagger 2.0 schemas (as bravado-core holds them), for tests.

``request_value`` makes a value that passes the schema's validation (type, enum, bounds,
lengths, unique items), for preparing every operation. ``response_body`` makes a response
body in one of three shapes, preferring the spec's own ``example`` values.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bravado_core.spec import Spec

from esi.openapi.results import EsiObject

DATE_TIME = "2026-08-04T11:00:00Z"
DATE = "2026-08-04"
UUID = "00000000-0000-4000-8000-000000000001"

# Response body shapes: every property filled in; only required properties (bravado-core
# then adds the others as None); every nullable / optional property null.
FULL = "full"
REQUIRED = "required"
NULLS = "nulls"


def request_value(spec: Spec, schema: dict[str, Any], index: int = 0, depth: int = 0) -> Any:
    """A valid value for a parameter or body schema; ``index`` varies the value."""
    schema = spec.deref(schema)
    if "enum" in schema:
        return schema["enum"][index % len(schema["enum"])]
    kind = schema.get("type")
    if kind == "integer":
        low = schema.get("minimum", 1)
        high = schema.get("maximum", low + 1000)
        return min(int(low) + index, int(high))
    if kind == "number":
        return float(schema.get("minimum", 1)) + 0.5
    if kind == "boolean":
        return True
    if kind == "string":
        return _string(schema, index)
    if kind == "array":
        count = max(schema.get("minItems", 1), 1)
        items = schema.get("items", {})
        return [request_value(spec, items, index + i, depth + 1) for i in range(count)]
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        return {
            name: request_value(spec, prop, index, depth + 1)
            for name, prop in schema.get("properties", {}).items()
            if name in required or depth < 3
        }
    return {}


def _string(schema: dict[str, Any], index: int) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return DATE_TIME
    if fmt == "date":
        return DATE
    if fmt == "uuid":
        return UUID
    text = f"value{index}"
    low, high = schema.get("minLength", 0), schema.get("maxLength", 1000)
    text = text.ljust(low, "x")[:high]
    return text


def response_body(spec: Spec, schema: Any, shape: str = FULL, depth: int = 0) -> Any:
    """A response body for ``schema`` in ``shape`` (see the module constants)."""
    schema = spec.deref(schema)
    if depth > 12:
        return None
    kind = schema.get("type")
    if kind is None and ("x-oneOf" in schema or "x-anyOf" in schema):
        branches = schema.get("x-oneOf") or schema.get("x-anyOf")
        return response_body(spec, branches[0], shape, depth + 1)
    if kind == "array":
        items = schema.get("items", {})
        return [response_body(spec, items, shape, depth + 1) for _ in range(2)]
    if kind == "object" or "properties" in schema or "allOf" in schema:
        return _object(spec, schema, shape, depth)
    if "example" in schema and not isinstance(schema["example"], (dict, list)):
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "integer":
        return int(schema.get("minimum", 7))
    if kind == "number":
        # An integral number: bravado-core turns it into a float for double / float.
        return 42 if schema.get("format") in ("double", "float") else 1.5
    if kind == "boolean":
        return True
    if kind == "string":
        return _string(schema, 0)
    return {"free": "form"}


def _object(spec: Spec, schema: dict[str, Any], shape: str, depth: int) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: set[str] = set(schema.get("required", []))
    for part in [schema, *[spec.deref(item) for item in schema.get("allOf", [])]]:
        properties.update(part.get("properties", {}))
        required.update(part.get("required", []))
    body: dict[str, Any] = {}
    for name, prop in properties.items():
        nullable = prop.get("x-nullable") or spec.deref(prop).get("x-nullable")
        if shape == REQUIRED and name not in required:
            continue
        if shape == NULLS and (nullable or name not in required):
            body[name] = None
            continue
        body[name] = response_body(spec, prop, shape, depth + 1)
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict) and additional:
        body["extra_1"] = response_body(spec, additional, shape, depth + 1)
        body["extra_2"] = response_body(spec, additional, shape, depth + 1)
    return body


def assert_same(actual: Any, expected: Any, where: str = "$") -> None:
    """``actual == expected``, and of the same types all the way down (``==`` alone would
    accept 5 for 5.0 and a naive for an aware datetime in some positions)."""
    if isinstance(expected, datetime):
        assert isinstance(actual, datetime), f"{where}: {actual!r} is not a datetime"
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
        assert actual.utcoffset() == expected.utcoffset(), f"{where}: offsets differ"
        return
    if isinstance(expected, date):
        assert type(actual) is date and actual == expected, f"{where}: {actual!r} != {expected!r}"
        return
    # bravado-core's dicts come out as EsiObject (a dict subclass) where a schema declares
    # an object; elsewhere (typeless positions) as the dicts the JSON parser made.
    same_type = type(actual) is type(expected) or (type(expected) is dict and isinstance(actual, EsiObject))
    assert same_type, (
        f"{where}: {type(actual).__name__} {actual!r} vs {type(expected).__name__} {expected!r}"
    )
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys(), (
            f"{where}: keys differ: {sorted(actual.keys() ^ expected.keys())}"
        )
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{where}: lengths differ"
        for index, (left, right) in enumerate(zip(actual, expected)):
            assert_same(left, right, f"{where}[{index}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
