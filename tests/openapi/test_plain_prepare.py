"""prepare() without bravado-core (the fast path for primitive parameters) gives what the
bravado-core path gives: the same request, or a ParameterError in the same cases."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from esi.openapi import EsiSpec, Operation, ParameterError, PreparedRequest
from tests.openapi.specdata import bundled, swagger138  # noqa: F401 - pytest fixtures
from tests.openapi.synth import request_value

# Values of every kind a caller might pass, valid or not for some parameter.
PANEL: list[Any] = [
    0,
    1,
    -1,
    7,
    8,
    10,
    100,
    101,
    2**31,
    10**20,
    1.0,
    1.5,
    -10.5,
    10.0,
    10.5,
    float("inf"),
    float("nan"),
    Decimal("2.5"),
    True,
    False,
    "",
    "0",
    "123",
    "1.5",
    "abc",
    "ab",
    "en",
    "de",
    "xx",
    "tranquility",
    "all",
    "2026-08-04",
    "2020-01-01",
    "2026-13-45",
    "2026-08-04T00:00:00Z",
    "3868eaed-8278-4cb7-9709-7d7de9c20dc7",
    "x" * 200,
    date(2026, 8, 4),
    datetime(2026, 8, 4, 11, 0),
    [],
    [1],
    [1, 2],
    [1, 1],
    [0, -1],
    ["1", "2"],
    [1.5],
    [True],
    ["en"],
    ["en", "en"],
    ["standard", "alpha"],
    ("a", "b"),
    list(range(30)),
    list(range(70)),
    [[1, 2], [3, 4]],
    {"a": 1},
    object(),
]


def all_operations(spec: EsiSpec) -> Iterator[Operation]:
    for name in spec.resource_names():
        yield from spec.resource(name).operations()


def outcome(call: Any) -> PreparedRequest | str:
    try:
        return call()
    except ParameterError:
        return "ParameterError"


def required_arguments(operation: Operation) -> dict[str, Any]:
    spec = operation.resource.build()
    return {
        slot.name: request_value(spec, dict(slot.type_spec))
        for slot in operation._ordered_slots
        if slot.required and not slot.transport and slot.location != "body"
    }


def differences(spec: EsiSpec) -> tuple[int, int, list[str]]:
    failures: list[str] = []
    count = plain = 0
    for operation in all_operations(spec):
        # The transport parameters are the same everywhere: once per resource will do.
        first = operation is operation.resource.operations()[0]
        if any(s.required and s.location == "body" for s in operation._ordered_slots):
            base_sets: list[dict[str, Any]] = []
        else:
            base_sets = [required_arguments(operation)]
        for base in base_sets:
            calls = [dict(base), {}]
            for slot in operation._ordered_slots:
                if slot.location == "body" or (slot.transport and not first):
                    continue
                for key in {slot.name, slot.name.replace("-", "_")}:
                    calls.extend({**base, key: value} for value in PANEL)
            calls.append({**base, "nope": 1})
            for kwargs in calls:
                count += 1
                plain_slots = operation._plain_slots
                if plain_slots is None:
                    continue
                fast = outcome(lambda: operation._prepare_plain(plain_slots, dict(kwargs)))
                if fast is None:
                    continue
                plain += 1
                slow = outcome(lambda: operation._prepare_bravado(dict(kwargs)))
                if fast != slow:
                    failures.append(f"{operation.name}({kwargs!r}): {fast!r} != {slow!r}")
    return count, plain, failures


@pytest.mark.filterwarnings("ignore")
def test_plain_prepare_equals_bravado_on_the_bundled_spec(bundled):
    count, plain, failures = differences(bundled)
    assert not failures, f"{len(failures)} differences:\n" + "\n".join(failures[:40])
    assert plain > count * 0.8


@pytest.mark.filterwarnings("ignore")
def test_plain_prepare_equals_bravado_on_swagger_138(swagger138):
    count, plain, failures = differences(swagger138)
    assert not failures, f"{len(failures)} differences:\n" + "\n".join(failures[:40])
    assert plain > count * 0.8


def test_plain_prepare_matches_bravado_quirks(bundled):
    operation = bundled.operation("Character", "get_characters_character_id_notifications")
    # bravado-core's int64 to_wire is int(): strings of digits and floats are accepted.
    assert operation.prepare(character_id="123").path == "/characters/123/notifications"
    assert operation.prepare(character_id=1.5).path == "/characters/1/notifications"
    for value in ("abc", True, [1], "1.5"):
        with pytest.raises(ParameterError):
            operation.prepare(character_id=value)


def test_body_parameters_still_use_bravado_core(bundled):
    operation = bundled.operation("Universe", "post_universe_names")
    request = operation.prepare(body=[95465499, 30000142])
    assert request.body == b"[95465499,30000142]"
    assert operation.resource.is_built


def test_fresh_process_client_call_imports_no_bravado_core():
    code = (
        "import django, sys; django.setup()\n"
        "from esi.clients import EsiClientProvider\n"
        "client = EsiClientProvider().client\n"
        "client.Status.get_status()\n"
        "client.Character.get_characters_character_id(character_id=90000001)\n"
        "op = client.spec.operation('Status', 'get_status')\n"
        "op.decode(b'{\"players\": 1, \"server_version\": \"1\","
        " \"start_time\": \"2026-08-04T11:00:00Z\"}')\n"
        "print('bravado_core' in sys.modules, 'jsonschema' in sys.modules)\n"
    )
    env_settings = {"DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env_settings},
        check=True,
    )
    assert result.stdout.split() == ["False", "False"], result.stderr


SYNTHETIC_PARAMETERS = [
    {"name": "day", "in": "query", "type": "string", "format": "date"},
    {"name": "uid", "in": "path", "type": "string", "format": "uuid", "required": True},
    {"name": "word", "in": "query", "type": "string", "minLength": 2, "maxLength": 3},
    {"name": "ratio", "in": "query", "type": "number"},
    {"name": "count", "in": "query", "type": "integer"},
    {
        "name": "level",
        "in": "query",
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": 10,
        "exclusiveMinimum": True,
        "exclusiveMaximum": True,
    },
    {"name": "weight", "in": "query", "type": "number", "format": "double", "maximum": 10},
    {"name": "flag", "in": "query", "type": "boolean"},
    {
        "name": "kinds",
        "in": "query",
        "type": "array",
        "items": {"type": "string", "enum": ["en", "de", "ab"]},
        "collectionFormat": "pipes",
        "uniqueItems": True,
    },
    {
        "name": "ids",
        "in": "header",
        "type": "array",
        "items": {"type": "integer", "format": "int64", "minimum": 0},
        "maxItems": 3,
        "minItems": 1,
    },
    {"name": "odd", "in": "query", "type": "string", "pattern": "^a"},
]


def synthetic_spec() -> EsiSpec:
    return EsiSpec.from_dict(
        {
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "basePath": "/v",
            "paths": {
                "/things/{uid}/": {
                    "get": {
                        "operationId": "get_things",
                        "tags": ["Things"],
                        "parameters": SYNTHETIC_PARAMETERS,
                        "responses": {"200": {"description": "", "schema": {"type": "string"}}},
                    }
                }
            },
        }
    )


@pytest.mark.filterwarnings("ignore")
def test_plain_prepare_equals_bravado_on_other_schemas():
    operation = synthetic_spec().operation("Things", "get_things")
    base = {"uid": "3868eaed-8278-4cb7-9709-7d7de9c20dc7"}
    failures, plain = [], 0
    slots = operation._plain_slots
    assert slots is not None
    assert slots["odd"].marshal is None  # "pattern": left to bravado-core
    for parameter in SYNTHETIC_PARAMETERS:
        for value in PANEL:
            kwargs = {**base, parameter["name"]: value}
            fast = outcome(lambda: operation._prepare_plain(slots, dict(kwargs)))
            if fast is None:
                continue
            plain += 1
            slow = outcome(lambda: operation._prepare_bravado(dict(kwargs)))
            if fast != slow:
                failures.append(f"{kwargs!r}: {fast!r} != {slow!r}")
    assert not failures, "\n".join(failures)
    assert plain > len(SYNTHETIC_PARAMETERS) * len(PANEL) * 0.7
