"""Decoders compiled without bravado-core (from the Swagger 2.0 form of the spec) give what
bravado-core's unmarshal gives, and decoding does not build the resource."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from bravado_core.exception import SwaggerMappingError
from bravado_core.unmarshal import unmarshal_schema_object

from esi.openapi import DecodeError, EsiSpec
from tests.openapi.synth import FULL, NULLS, REQUIRED, assert_same, response_body
from tests.openapi.test_decoders import SCHEMAS, THING

pytestmark = pytest.mark.filterwarnings("ignore:not-registered format is not registered")


def spec_returning_each_definition() -> EsiSpec:
    paths = {
        f"/{name.lower()}/": {
            "get": {
                "operationId": f"get_{name.lower()}",
                "tags": ["Things"],
                "responses": {
                    "200": {"description": "", "schema": {"$ref": f"#/definitions/{name}"}},
                    "default": {"$ref": "#/responses/Failure"},
                },
            }
        }
        for name in SCHEMAS
    }
    return EsiSpec.from_dict(
        {
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "paths": paths,
            "definitions": copy.deepcopy(SCHEMAS),
            "responses": {
                "Failure": {
                    "description": "",
                    "schema": {"type": "object", "properties": {"at": {"type": "string", "format": "date"}}},
                }
            },
        }
    )


def test_decoding_builds_nothing():
    spec = spec_returning_each_definition()
    operation = spec.operation("Things", "get_thing")
    assert operation.decode(copy.deepcopy(THING))["day"].year == 2026
    assert operation.decode(b'{"at": "2026-08-04"}', status=500) == {"at": date(2026, 8, 4)}
    assert spec.built_resource_names() == []


@pytest.mark.parametrize("shape", [FULL, REQUIRED, NULLS])
def test_plain_decoders_equal_bravado_unmarshal(shape):
    spec = spec_returning_each_definition()
    resource = spec.resource("Things")
    failures = []
    for operation in resource.operations():
        name = operation.path_name.strip("/")
        definition = next(key for key in SCHEMAS if key.lower() == name)
        bravado = resource.build()
        schema = bravado.spec_dict["definitions"][definition]
        bodies: list[Any] = [response_body(bravado, schema, shape)]
        if definition == "Thing":
            bodies.append(THING)
        for body in bodies:
            try:
                expected = unmarshal_schema_object(bravado, schema, copy.deepcopy(body))
            except SwaggerMappingError:
                try:
                    operation.decode(copy.deepcopy(body))
                except DecodeError:
                    continue
                failures.append(f"{definition}: bravado-core rejects {body!r}, the decoder accepts it")
                continue
            try:
                assert_same(operation.decode(copy.deepcopy(body)), expected)
            except Exception as exc:  # noqa: BLE001 - collected and reported together
                failures.append(f"{definition}: {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)
    # Only the discriminator schema is handed to bravado-core.
    assert resource.decoders.fallbacks == 1
