"""Compiled decoders give what bravado-core's unmarshal gives, on CCP's specs and bodies (for
a ``oneOf``, what it gives for the branch the value matches)."""

from __future__ import annotations

import copy
import json
from collections import UserDict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from bravado_core.exception import SwaggerMappingError
from bravado_core.spec import Spec
from bravado_core.unmarshal import unmarshal_schema_object

from esi.openapi import DecodeError, EsiSpec, Operation
from esi.openapi.decoders import DecoderCompiler, identity, parse_date, parse_datetime
from esi.openapi.results import EsiObject
from esi.openapi.spec import _bravado_config
from tests.openapi.specdata import FIXTURES, shared_path
from tests.openapi.specdata import bundled, swagger138  # noqa: F401 - pytest fixtures
from tests.openapi.synth import FULL, NULLS, REQUIRED, assert_same, response_body

# bravado-core warns when it meets a format nobody registered ("odd" below); the decoder
# must leave such values alone just as bravado-core does.
pytestmark = pytest.mark.filterwarnings("ignore:not-registered format is not registered")


def all_operations(spec: EsiSpec) -> Iterator[Operation]:
    for name in spec.resource_names():
        yield from spec.resource(name).operations()


def response_schemas(operation: Operation) -> Iterator[tuple[str, Any]]:
    for code, response in operation.bravado_operation.op_spec["responses"].items():
        response = operation.resource.build().deref(response)
        if "schema" in response:
            yield code, response["schema"]


def compare(operation: Operation, code: str, body: Any) -> None:
    """Our decoder and bravado-core's unmarshal agree on ``body``: equal results of the
    same types, or both reject it."""
    spec = operation.resource.build()
    schema = operation.bravado_operation.op_spec["responses"][code]["schema"]
    try:
        expected = unmarshal_schema_object(spec, schema, copy.deepcopy(body))
    except SwaggerMappingError:
        try:
            operation.decode(copy.deepcopy(body), status=code)
        except DecodeError:
            return
        raise AssertionError("bravado-core rejects the body, the decoder accepts it") from None
    assert_same(operation.decode(copy.deepcopy(body), status=code), expected)


def check_all(bodies: Iterator[tuple[Operation, str, Any]]) -> int:
    """Compare every body; fail listing every operation whose decoder disagrees."""
    failures, count = [], 0
    for operation, code, body in bodies:
        count += 1
        try:
            compare(operation, code, body)
        except Exception as exc:  # noqa: BLE001 - collected and reported together
            name = f"{operation.resource.name}.{operation.name} ({code})"
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not failures, "decoders that differ from bravado-core:\n" + "\n".join(failures)
    return count


# -- every operation of the bundled spec -----------------------------------------------------


@pytest.mark.parametrize("shape", [FULL, REQUIRED, NULLS])
def test_bundled_decoders_equal_bravado_unmarshal(bundled, shape):
    def bodies() -> Iterator[tuple[Operation, str, Any]]:
        for operation in all_operations(bundled):
            spec = operation.resource.build()
            for code, schema in response_schemas(operation):
                yield operation, code, response_body(spec, schema, shape)

    assert check_all(bodies()) > 400  # about two schemas (success, error) per operation


def test_bundled_decoders_need_no_fallback(bundled):
    for operation in all_operations(bundled):
        for code, _ in response_schemas(operation):
            operation.decoder(code)
    resources = [bundled.resource(name) for name in bundled.resource_names()]
    assert sum(resource.decoders.fallbacks for resource in resources) == 0


def one_of_positions(spec: Spec, schema: Any, seen: set[int] | None = None) -> Iterator[dict[str, Any]]:
    """Every ``x-oneOf`` / ``x-anyOf`` schema reachable from ``schema``."""
    seen = set() if seen is None else seen
    schema = spec.deref(schema)
    if not isinstance(schema, dict) or id(schema) in seen:
        return
    seen.add(id(schema))
    if schema.get("x-oneOf") or schema.get("x-anyOf"):
        yield schema
    for key in ("x-oneOf", "x-anyOf", "allOf"):
        for part in schema.get(key, []):
            yield from one_of_positions(spec, part, seen)
    for part in schema.get("properties", {}).values():
        yield from one_of_positions(spec, part, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from one_of_positions(spec, schema[key], seen)


def test_every_one_of_branch_decodes_as_bravado_decodes_the_branch(bundled):
    """bravado-core leaves oneOf values untouched (date-times stay strings); the decoder
    decodes the branch a value matches, which must equal bravado-core's unmarshal of that
    branch alone, for every branch of every oneOf of the bundled spec and every shape."""
    checked = 0
    for operation in all_operations(bundled):
        spec = operation.resource.build()
        compiler = DecoderCompiler(spec)
        for _, schema in response_schemas(operation):
            for one_of in one_of_positions(spec, schema):
                decode = compiler.decoder(one_of)
                for branch in one_of.get("x-oneOf") or one_of["x-anyOf"]:
                    for shape in (FULL, NULLS):
                        body = response_body(spec, branch, shape)
                        expected = unmarshal_schema_object(spec, branch, copy.deepcopy(body))
                        assert_same(decode(copy.deepcopy(body)), expected)
                        checked += 1
    # Sovereignty systems' claims, corporation projects, hubs and freelance jobs.
    assert checked > 100


def test_sovereignty_claims_have_datetimes(bundled):
    """/sovereignty/systems on 2026-08-04: a claim is one of faction, alliance, unclaimed."""
    operation = bundled.resource("Sovereignty").operation("GetSovereigntySystems")
    body = {
        "solar_systems": [
            {"solar_system_id": 30000001, "claim": {"faction": {"faction_id": 500001}}},
            {
                "solar_system_id": 30000002,
                "claim": {
                    "alliance": {
                        "alliance_id": 99000001,
                        "corporation_id": 98000001,
                        "claimed_since": "2026-02-23T12:00:00Z",
                        "is_capital_system": False,
                        "development": {},
                        "sovereignty_hub": {},
                    }
                },
            },
            {"solar_system_id": 30000003, "claim": {"unclaimed": True}},
            {"solar_system_id": 30000004, "claim": {"something": "new"}},  # no branch: as sent
        ]
    }
    systems = operation.decode(json.dumps(body))["solar_systems"]
    claim = systems[1]["claim"]["alliance"]
    assert claim["claimed_since"] == datetime(2026, 2, 23, 12, tzinfo=UTC)
    assert systems[0]["claim"] == {"faction": {"faction_id": 500001}}
    assert systems[2]["claim"] == {"unclaimed": True}
    assert systems[3]["claim"] == {"something": "new"}


ONE_OF = {
    "type": "object",
    "properties": {
        "pick": {
            "x-oneOf": [
                {"type": "object", "properties": {"a": {"type": "string", "format": "date-time"}}},
                {"type": "object", "properties": {"b": {"type": "string", "format": "date"}}},
                {"type": "string", "format": "date"},
                {"type": "object", "required": ["c"], "properties": {"c": {"type": "integer"}, "d": {"type": "string", "format": "date"}}},
                {"type": "object", "additionalProperties": False, "properties": {"e": {"type": "string", "format": "date"}}},
            ]
        }
    },
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": "2026-08-04T11:00:00Z"}, {"a": datetime(2026, 8, 4, 11, tzinfo=UTC)}),
        ({"b": "2026-08-04"}, {"b": date(2026, 8, 4)}),
        ("2026-08-04", date(2026, 8, 4)),
        ({"c": 1, "d": "2026-08-04"}, {"c": 1, "d": date(2026, 8, 4)}),
        ({"d": "2026-08-04"}, {"d": "2026-08-04"}),  # c is required: no branch
        ({"e": "2026-08-04"}, {"e": date(2026, 8, 4)}),
        ({"e": "2026-08-04", "z": 1}, {"e": "2026-08-04", "z": 1}),  # the e branch is closed
        ({"a": "2026-08-04T11:00:00Z", "b": "2026-08-04"}, {"a": "2026-08-04T11:00:00Z", "b": "2026-08-04"}),  # a tie
        ({}, {}),
        (5, 5),
        (None, None),
        ([{"a": "x"}], [{"a": "x"}]),
    ],
)
def test_a_one_of_value_is_decoded_as_the_branch_it_matches(value, expected):
    spec = small_spec({"OneOf": ONE_OF})
    decoded = DecoderCompiler(spec).decoder(spec.spec_dict["definitions"]["OneOf"])({"pick": copy.deepcopy(value)})
    assert_same(decoded["pick"], expected)


def test_swagger_138_examples_decode_as_bravado_does(swagger138):
    def bodies() -> Iterator[tuple[Operation, str, Any]]:
        for operation in all_operations(swagger138):
            for code, response in operation.bravado_operation.op_spec["responses"].items():
                example = response.get("examples", {}).get("application/json")
                if example is not None and "schema" in response:
                    yield operation, code, example

    # Swagger 1.3.8 has 186 operations with an example; many have examples for errors too.
    assert check_all(bodies()) >= 186


def fixture_bodies(spec: EsiSpec, data: dict[str, Any]) -> Iterator[tuple[Operation, str, Any]]:
    """Fixture files are laid out tag -> operationId -> request key -> body; a few have the
    body right under the operation."""
    for tag, operations in data.items():
        for name, entry in operations.items():
            try:
                operation = spec.operation(tag, name)
            except AttributeError:
                continue
            schema = spec_schema(operation)
            if isinstance(entry, dict) and not is_body(schema, entry):
                for body in entry.values():
                    yield operation, "200", body
            else:
                yield operation, "200", entry


def spec_schema(operation: Operation) -> dict[str, Any]:
    spec = operation.resource.build()
    return spec.deref(operation.bravado_operation.op_spec["responses"]["200"]["schema"])


def is_body(schema: dict[str, Any], entry: dict[str, Any]) -> bool:
    properties = schema.get("properties", {})
    return schema.get("type") == "object" and bool(properties) and set(entry) <= set(properties)


@pytest.mark.parametrize(
    "name",
    [
        "aa-memberaudit-4.3.1_esi_testdata.json",
        "aa-structures-3.3.1_esi_data.json",
        "django-eveuniverse-1.6.1_esi_data.json",
    ],
)
def test_fixture_bodies_decode_as_bravado_does(swagger138, name):
    data = json.loads(shared_path(FIXTURES / name).read_bytes())
    assert check_all(fixture_bodies(swagger138, data)) > 10


def test_fixture_notifications(swagger138, bundled):
    path = shared_path(FIXTURES / "aa-structures-4.1.0_notifications.json")
    notifications = json.loads(path.read_bytes())
    for spec in (swagger138, bundled):
        operation = spec.operation("Character", "get_characters_character_id_notifications")
        compare(operation, "200", notifications)
        decoded = operation.decode(copy.deepcopy(notifications))
        assert decoded[0]["timestamp"] == datetime(2019, 8, 16, 15, 8, tzinfo=UTC)
        assert all("is_read" in item for item in decoded)


def test_fixture_meta_status(bundled):
    path = shared_path(FIXTURES / "aa-memberaudit-5.3.0_esi_status_example.json")
    body = json.loads(path.read_bytes())
    compare(bundled.operation("Meta", "GetMetaStatus"), "200", body)


def test_market_orders(bundled):
    operation = bundled.operation("Market", "GetMarketsRegionIdOrders")
    orders = [
        {
            "duration": 90,
            "is_buy_order": index % 2 == 0,
            "issued": f"2026-08-04T11:{index % 60:02d}:00Z",
            "location_id": 60003760,
            "min_volume": 1,
            "order_id": 6_000_000_000 + index,
            "price": 5 if index % 3 == 0 else 5.25,
            "range": "region",
            "system_id": 30000142,
            "type_id": 34,
            "volume_remain": 10,
            "volume_total": 20,
        }
        for index in range(1000)
    ]
    compare(operation, "200", orders)
    decoded = operation.decode(json.dumps(orders).encode())
    assert decoded[0]["issued"] == datetime(2026, 8, 4, 11, 0, tzinfo=UTC)
    # Go writes 5.0 as 5; bravado-core (and so the decoder) gives a float for "double".
    assert type(decoded[0]["price"]) is float


# -- targeted behaviour on a small spec --------------------------------------------------------


def small_spec(definitions: dict[str, Any]) -> Spec:
    paths = {
        f"/{name}": {
            "get": {
                "operationId": f"get_{name}",
                "tags": ["T"],
                "responses": {
                    "200": {"description": "OK", "schema": {"$ref": f"#/definitions/{name}"}}
                },
            }
        }
        for name in definitions
    }
    document = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": paths,
        "definitions": copy.deepcopy(definitions),
    }
    return Spec.from_dict(document, config=_bravado_config())


SCHEMAS = {
    "Thing": {
        "type": "object",
        "required": ["id", "when"],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date", "x-nullable": True},
            "price": {"type": "number", "format": "double"},
            "ratio": {"type": "number", "format": "float"},
            "state": {"type": "string", "default": "Active"},
            "count": {"type": "integer", "default": 10},
            "when_default": {
                "type": "string",
                "format": "date-time",
                "default": "2020-01-01T00:00:00Z",
            },
            "tags": {"type": "array", "items": {"type": "string"}},
            "child": {"$ref": "#/definitions/Child", "x-nullable": True},
            "children": {"type": "array", "items": {"$ref": "#/definitions/Child"}},
            "free": {"x-oneOf": [{"type": "object"}]},
            "blob": {"type": "string", "format": "byte"},
            "id_text": {"type": "string", "format": "uuid"},
            "odd": {"type": "string", "format": "not-registered"},
            "mode": {"default": "auto", "description": "typeless, with a default"},
        },
    },
    "Child": {
        "type": "object",
        "required": ["at"],
        "properties": {"at": {"type": "string", "format": "date-time"}, "note": {"type": "string"}},
    },
    "ByDay": {
        "type": "object",
        "additionalProperties": {
            "type": "array",
            "items": {"type": "string", "format": "date-time"},
        },
    },
    "Merged": {
        "allOf": [
            {"$ref": "#/definitions/Child"},
            {"type": "object", "properties": {"until": {"type": "string", "format": "date"}}},
        ]
    },
    "Tree": {
        "type": "object",
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "children": {"type": "array", "items": {"$ref": "#/definitions/Tree"}},
        },
    },
    "Pet": {
        "type": "object",
        "discriminator": "kind",
        "required": ["kind"],
        "properties": {"kind": {"type": "string"}, "born": {"type": "string", "format": "date"}},
    },
    "Ids": {"type": "array", "items": {"type": "integer"}},
    "Untyped": {"x-oneOf": [{"type": "integer"}, {"type": "string"}]},
    "Plain": {"type": "object", "properties": {"name": {"type": "string"}}},
    "Weird": {"type": "tuple"},
}


@pytest.fixture(scope="module")
def small() -> tuple[Spec, DecoderCompiler]:
    spec = small_spec(SCHEMAS)
    return spec, DecoderCompiler(spec)


def decode_both(small: tuple[Spec, DecoderCompiler], name: str, value: Any) -> Any:
    spec, compiler = small
    schema = spec.spec_dict["definitions"][name]
    expected = unmarshal_schema_object(spec, schema, copy.deepcopy(value))
    actual = compiler.decoder(schema)(copy.deepcopy(value))
    assert_same(actual, expected)
    return actual


THING = {
    "id": 1,
    "when": "2026-08-04T11:00:00.123456Z",
    "day": "2026-08-04",
    "price": 5,
    "ratio": 0.5,
    "tags": ["a"],
    "child": {"at": "2026-08-04T11:00:00+02:00", "note": "n"},
    "children": [{"at": "2026-08-04T11:00:00Z"}, None],
    "free": {"anything": "2026-08-04T11:00:00Z"},
    "blob": "YWJj",
    "id_text": "00000000-0000-4000-8000-000000000001",
    "odd": "x",
}


def test_full_object(small):
    decoded = decode_both(small, "Thing", THING)
    assert decoded["when"] == datetime(2026, 8, 4, 11, 0, 0, 123456, tzinfo=UTC)
    assert decoded["day"] == date(2026, 8, 4)
    assert decoded["price"] == 5.0 and type(decoded["price"]) is float
    assert decoded["children"][0]["note"] is None
    assert decoded["children"][1] is None
    assert decoded["free"] == {"anything": "2026-08-04T11:00:00Z"}
    assert decoded["state"] == "Active" and decoded["count"] == 10
    assert decoded["when_default"] == datetime(2020, 1, 1, tzinfo=UTC)


def test_missing_and_null_properties(small):
    decoded = decode_both(small, "Thing", {"id": 1, "when": "2026-08-04T11:00:00Z"})
    assert decoded["day"] is None and decoded["child"] is None and decoded["tags"] is None
    assert decoded["mode"] == "auto"
    decoded = decode_both(
        small,
        "Thing",
        {
            "id": 1,
            "when": "2026-08-04T11:00:00Z",
            "day": None,
            "state": None,
            "child": None,
            "when_default": None,
            "mode": None,
        },
    )
    assert decoded["state"] == "Active"
    assert decoded["mode"] is None  # bravado-core does no null handling without a type
    assert decoded["when_default"] == datetime(2020, 1, 1, tzinfo=UTC)


def test_null_in_a_required_property_is_rejected_like_bravado(small):
    spec, compiler = small
    schema = spec.spec_dict["definitions"]["Thing"]
    value = {"id": None, "when": "2026-08-04T11:00:00Z"}
    with pytest.raises(SwaggerMappingError):
        unmarshal_schema_object(spec, schema, copy.deepcopy(value))
    with pytest.raises(DecodeError, match="null where a value is required"):
        compiler.decoder(schema)(value)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Thing", [], "expected a JSON object, got list"),
        ("Ids", {"a": 1}, "expected a JSON array, got dict"),
        ("Child", {"at": 5}, None),
        ("Weird", 1, "unknown schema type 'tuple'"),
        ("Weird", None, "unknown schema type 'tuple'"),
    ],
)
def test_wrong_shapes_are_rejected_like_bravado(small, name, value, message):
    spec, compiler = small
    schema = spec.spec_dict["definitions"][name]
    with pytest.raises((SwaggerMappingError, TypeError, ValueError)):
        unmarshal_schema_object(spec, schema, copy.deepcopy(value))
    with pytest.raises((DecodeError, TypeError, ValueError), match=message):
        compiler.decoder(schema)(value)


def test_additional_properties(small):
    decoded = decode_both(small, "ByDay", {"a": ["2026-08-04T11:00:00Z"], "b": []})
    assert decoded["a"] == [datetime(2026, 8, 4, 11, tzinfo=UTC)]


def test_all_of(small):
    decoded = decode_both(small, "Merged", {"at": "2026-08-04T11:00:00Z", "until": "2026-09-01"})
    assert decoded == {
        "at": datetime(2026, 8, 4, 11, tzinfo=UTC),
        "until": date(2026, 9, 1),
        "note": None,
    }


def test_recursive_schema(small):
    leaf = {"at": "2026-08-05T11:00:00Z"}
    tree = {"at": "2026-08-04T11:00:00Z", "children": [{"children": [leaf]}]}
    decoded = decode_both(small, "Tree", tree)
    assert decoded["children"][0]["children"][0]["at"] == datetime(2026, 8, 5, 11, tzinfo=UTC)
    assert small[1].fallbacks == 0


def test_discriminator_falls_back_to_bravado():
    spec = small_spec({"Pet": SCHEMAS["Pet"]})
    compiler = DecoderCompiler(spec)
    decoder = compiler.decoder(spec.spec_dict["definitions"]["Pet"])
    assert compiler.fallbacks == 1
    decoded = decoder({"kind": "cat", "born": "2020-02-02"})
    assert decoded == {"kind": "cat", "born": date(2020, 2, 2)}


HOSTILE_NAMES = [
    "it's",
    'say "hi"',
    "back\\slash",
    "new\nline",
    "'); import os; os._exit(3); ('",
    "\u00e9t\u00e9 \U0001F680",
    "",
]


def test_property_names_cannot_escape_the_generated_decoder():
    # Object decoders are generated Python source: property names must stay string
    # literals whatever they hold.
    definitions = {
        "Odd": {
            "type": "object",
            "properties": {
                name: {"type": "string", "format": "date-time"} for name in HOSTILE_NAMES
            },
        }
    }
    spec = small_spec(definitions)
    value = {name: f"2026-08-0{index + 1}T11:00:00Z" for index, name in enumerate(HOSTILE_NAMES[:-1])}
    expected = unmarshal_schema_object(spec, spec.spec_dict["definitions"]["Odd"], copy.deepcopy(value))
    decoded = DecoderCompiler(spec).decoder(spec.spec_dict["definitions"]["Odd"])(value)
    assert_same(decoded, expected)
    assert decoded["it's"] == datetime(2026, 8, 1, 11, 0, tzinfo=UTC)
    assert decoded[""] is None


def test_a_mapping_that_is_not_a_dict_is_decoded_as_a_dict(small):
    decoded = decode_both(small, "Child", UserDict({"at": "2026-08-04T11:00:00Z"}))
    assert type(decoded) is EsiObject


def test_identity_where_nothing_changes(small):
    spec, compiler = small
    definitions = spec.spec_dict["definitions"]
    assert compiler.decoder(definitions["Untyped"]) is identity
    assert compiler.decoder({"type": "integer", "format": "int64"}) is identity
    assert compiler.decoder({"type": "string"}) is identity
    ids = [1, 2, 3]
    # Lists without conversions come back as they are (after a type check); objects as an
    # EsiObject copy that reads like a django-esi 10 model.
    assert compiler.decoder(definitions["Ids"])(ids) is ids
    plain = {"name": "x"}
    decoded = compiler.decoder(definitions["Plain"])(plain)
    assert type(decoded) is EsiObject and decoded == plain and decoded.name == "x"
    assert decode_both(small, "Ids", (1, 2)) == [1, 2]
    assert decode_both(small, "Plain", UserDict({"name": "x"})) == {"name": "x"}
    assert decode_both(small, "Plain", {}) == {"name": None}


def test_decoders_are_cached_per_schema(small):
    spec, compiler = small
    schema = spec.spec_dict["definitions"]["Thing"]
    assert compiler.decoder(schema) is compiler.decoder(schema)


@pytest.mark.parametrize(
    "text",
    [
        "2026-08-04T11:00:00Z",
        "2026-08-04T11:00:00.5+01:00",
        "2026-08-04 11:00:00",
        "Aug 4 2026 11:00 UTC",
        "2026-08-04",
    ],
)
def test_parse_datetime_matches_dateutil(text):
    from dateutil.parser import parse

    assert_same(parse_datetime(text), parse(text))


@pytest.mark.parametrize("text", ["2026-08-04", "20260804", "Aug 4 2026", "2026-08-04T11:00:00Z"])
def test_parse_date_matches_dateutil(text):
    from dateutil.parser import parse

    assert parse_date(text) == parse(text).date()
