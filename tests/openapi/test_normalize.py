"""normalize_openapi31 and detect_format, on CCP's real specs and on small synthetic ones."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from bravado_core.spec import Spec
from swagger_spec_validator import validator20

from esi.openapi import SpecError, detect_format, normalize_openapi31
from esi.openapi.normalize import HTTP_METHODS, iter_refs
from tests.openapi.specdata import OPENAPI_SHARED, SWAGGER_138, load_json
from tests.openapi.specdata import bundled_dict  # noqa: F401 - pytest fixture

LOAD_CONFIG = {
    "validate_swagger_spec": False,
    "validate_responses": False,
    "validate_requests": False,
    "use_models": False,
}


def minimal(**overrides: Any) -> dict[str, Any]:
    """A small OpenAPI 3.1 spec in ESI's style, for targeted checks."""
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "ESI - tranquility", "version": "2026-08-04", "summary": "3.1 only"},
        "servers": [{"url": "https://esi.evetech.net"}],
        "components": {"schemas": {}, "parameters": {}},
        "paths": {
            "/status": {
                "get": {
                    "operationId": "GetStatus",
                    "tags": ["Status"],
                    "responses": {"200": {"description": "OK"}},
                }
            }
        },
    }
    spec.update(overrides)
    return spec


def spec_params() -> list[Any]:
    return [pytest.param("bundled", id="bundled")] + [
        pytest.param(name, id=name) for name in OPENAPI_SHARED
    ]


def openapi_spec(name: str, bundled_dict: dict[str, Any]) -> dict[str, Any]:
    return bundled_dict if name == "bundled" else load_json(OPENAPI_SHARED[name])


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, item[method])
        for path, item in spec["paths"].items()
        for method in HTTP_METHODS
        if method in item
    ]


# -- detect_format ------------------------------------------------------------------------


def test_detect_format_of_real_specs(bundled_dict):
    assert detect_format(bundled_dict) == "openapi31"
    assert detect_format(load_json(SWAGGER_138)) == "swagger20"


def test_detect_format_accepts_openapi_30():
    assert detect_format(minimal(openapi="3.0.3")) == "openapi31"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "JSON object, not list"),
        ("spec", "JSON object, not str"),
        ({"paths": {"/x": {}}}, "no 'openapi' or 'swagger'"),
        ({"swagger": "1.2", "paths": {"/x": {}}}, "unsupported Swagger version"),
        ({"openapi": "2.0", "paths": {"/x": {}}}, "unsupported OpenAPI version"),
        ({"openapi": "3.2.0", "paths": {"/x": {}}}, "unsupported OpenAPI version"),
        ({"openapi": "3.1.0"}, "'paths' is missing or empty"),
        ({"openapi": "3.1.0", "paths": {}}, "'paths' is missing or empty"),
        ({"swagger": "2.0", "paths": []}, "'paths' is missing or empty"),
    ],
)
def test_detect_format_rejects_what_is_not_an_esi_spec(document, message):
    with pytest.raises(SpecError, match=message):
        detect_format(document)


def test_spec_error_is_a_value_error():
    with pytest.raises(ValueError):
        detect_format(None)


def test_normalize_refuses_swagger():
    with pytest.raises(SpecError, match="needs an OpenAPI 3.x spec"):
        normalize_openapi31(load_json(SWAGGER_138))


# -- the real specs -------------------------------------------------------------------------


@pytest.mark.parametrize("name", spec_params())
def test_normalize_is_pure(name, bundled_dict):
    spec = openapi_spec(name, bundled_dict)
    before = copy.deepcopy(spec)
    result = normalize_openapi31(spec)
    assert spec == before
    # No object is shared with the input: changing the result leaves the input alone.
    for definition in result["definitions"].values():
        definition["x-model"] = "changed"
        for prop in definition.get("properties", {}).values():
            prop.clear()
    for _, _, op in operations(result):
        op.clear()
    assert spec == before


@pytest.mark.parametrize("name", spec_params())
def test_normalized_spec_passes_swagger_spec_validator(name, bundled_dict, recwarn):
    result = normalize_openapi31(openapi_spec(name, bundled_dict))
    validator20.validate_spec(copy.deepcopy(result))
    # swagger-spec-validator warns (rather than fails) about $ref siblings it ignores.
    assert [str(w.message) for w in recwarn.list if "RefResolver" not in str(w.message)] == []


@pytest.mark.parametrize("name", spec_params())
def test_normalized_spec_loads_fully_in_bravado_core(name, bundled_dict):
    source = openapi_spec(name, bundled_dict)
    spec = Spec.from_dict(normalize_openapi31(source), config=LOAD_CONFIG)
    tags = {op["tags"][0] for _, _, op in operations(source)}
    assert set(spec.resources) == {tag.replace(" ", "_") for tag in tags}
    loaded = {
        op.operation_id
        for resource in spec.resources.values()
        for op in resource.operations.values()
    }
    assert loaded == {op["operationId"] for _, _, op in operations(source)}


@pytest.mark.parametrize("name", spec_params())
def test_references_all_point_into_the_swagger_document(name, bundled_dict):
    result = normalize_openapi31(openapi_spec(name, bundled_dict))
    for ref in iter_refs(result):
        section, _, target = ref[2:].partition("/")
        assert ref.startswith("#/") and section in ("definitions", "parameters", "responses")
        assert target in result[section], ref
    assert "#/components/" not in json.dumps(result)


@pytest.mark.parametrize("name", spec_params())
def test_operation_extensions_are_kept(name, bundled_dict):
    source = openapi_spec(name, bundled_dict)
    result = normalize_openapi31(source)
    for path, method, op in operations(source):
        extensions = {key: value for key, value in op.items() if key.startswith("x-")}
        converted = result["paths"][path][method]
        assert {k: v for k, v in converted.items() if k.startswith("x-")} == extensions


def test_bundled_root_fields(bundled_dict):
    result = normalize_openapi31(bundled_dict)
    assert result["swagger"] == "2.0"
    assert (result["host"], result["schemes"], result["basePath"]) == (
        "esi.evetech.net",
        ["https"],
        "/",
    )
    assert result["info"]["version"] == bundled_dict["info"]["version"]
    evesso = result["securityDefinitions"]["evesso"]
    assert evesso["type"] == "oauth2"
    assert evesso["flow"] == "accessCode"
    assert evesso["authorizationUrl"] == "https://login.eveonline.com/v2/oauth/authorize"
    assert evesso["tokenUrl"] == "https://login.eveonline.com/v2/oauth/token"
    assert "esi-characters.read_notifications.v1" in evesso["scopes"]
    assert set(result["definitions"]) == set(bundled_dict["components"]["schemas"])
    assert {tag["name"] for tag in result["tags"]} >= {"Planetary Interaction", "Character"}


def test_bundled_notifications_operation(bundled_dict):
    result = normalize_openapi31(bundled_dict)
    op = result["paths"]["/characters/{character_id}/notifications"]["get"]
    assert op["operationId"] == "GetCharactersCharacterIdNotifications"
    assert op["security"] == [{"evesso": ["esi-characters.read_notifications.v1"]}]
    assert op["x-rate-limit"] == {
        "group": "char-notification",
        "max-tokens": 15,
        "window-size": "15m",
    }
    assert op["x-cache-age"] == 600
    character_id = op["parameters"][0]
    # The CharacterID schema reference is resolved into inline Swagger keywords.
    assert character_id == {
        "name": "character_id",
        "in": "path",
        "description": "The ID of the character",
        "required": True,
        "type": "integer",
        "format": "int64",
        "x-common-model": "true",
        "x-example": 90000001,
    }
    refs = [p["$ref"] for p in op["parameters"][1:]]
    assert refs == [
        "#/parameters/AcceptLanguage",
        "#/parameters/IfNoneMatch",
        "#/parameters/CompatibilityDate",
        "#/parameters/Tenant",
        "#/parameters/IfModifiedSince",
    ]
    response = op["responses"]["200"]
    assert response["schema"] == {"$ref": "#/definitions/CharactersCharacterIdNotificationsGet"}
    assert response["headers"]["ETag"]["type"] == "string"
    assert op["responses"]["default"]["schema"] == {"$ref": "#/definitions/Error"}


def test_header_parameters_are_kept(bundled_dict):
    parameters = normalize_openapi31(bundled_dict)["parameters"]
    assert {p["name"]: p["in"] for p in parameters.values()} == {
        "Accept-Language": "header",
        "X-Compatibility-Date": "header",
        "If-Modified-Since": "header",
        "If-None-Match": "header",
        "X-Tenant": "header",
    }
    assert parameters["CompatibilityDate"]["required"] is True
    assert parameters["CompatibilityDate"]["enum"] == [bundled_dict["info"]["version"]]
    assert parameters["Tenant"]["default"] == "tranquility"
    assert parameters["Tenant"]["x-example"] == ""


def test_request_body_becomes_a_body_parameter(bundled_dict):
    op = normalize_openapi31(bundled_dict)["paths"]["/universe/names"]["post"]
    body = op["parameters"][-1]
    assert body["name"] == "body" and body["in"] == "body" and body["required"] is True
    assert body["schema"]["type"] == "array"
    assert body["schema"]["items"]["type"] == "integer"
    assert op["consumes"] == ["application/json"]


def test_array_query_parameters_are_comma_separated(bundled_dict):
    """ESI's OpenAPI specs give no style: ESI takes ?ids=1,2,3 (OpenAPI's default, style
    form exploded, would send ?ids=1&ids=2&ids=3)."""
    paths = normalize_openapi31(bundled_dict)["paths"]
    contact_ids = paths["/characters/{character_id}/contacts"]["delete"]["parameters"][1]
    assert contact_ids["name"] == "contact_ids"
    assert contact_ids["collectionFormat"] == "csv"
    assert contact_ids["items"] == {"type": "integer", "format": "int64"}
    arrays = [
        (path, param["name"], param["collectionFormat"])
        for path, item in paths.items()
        for method, op in item.items()
        if method != "parameters"
        for param in op.get("parameters", [])
        if param.get("type") == "array" and param.get("in") == "query"
    ]
    assert {name for _, name, _ in arrays} == {"contact_ids", "label_ids", "labels", "categories"}
    assert {fmt for _, _, fmt in arrays} == {"csv"}


def test_an_explicit_style_is_kept():
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {
                "get": {
                    "parameters": [
                        {"name": "a", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}, "explode": True},
                        {"name": "b", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}, "style": "form"},
                        {"name": "c", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}, "explode": False},
                    ],
                    "responses": {"204": {"description": "ok"}},
                }
            }
        },
    }
    params = normalize_openapi31(spec)["paths"]["/x"]["get"]["parameters"]
    assert [p["collectionFormat"] for p in params] == ["multi", "multi", "csv"]


def test_nullable_type_lists_and_one_of(bundled_dict):
    definitions = normalize_openapi31(bundled_dict)["definitions"]
    transport = definitions["CorporationsStructuresSovereigntyHubsDetailTransport"]
    configuration = transport["properties"]["configuration"]
    # Swagger 2.0 has no oneOf: kept as an extension, references rewritten.
    assert "oneOf" not in configuration
    transit = configuration["x-oneOf"][2]["properties"]["transit"]
    assert transit["type"] == "boolean" and transit["x-nullable"] is True
    character_id = definitions["CharacterID"]
    assert character_id["example"] == 90000001 and "examples" not in character_id


def test_conversions_of_openapi_31_keywords():
    spec = minimal()
    spec["components"]["schemas"] = {
        "Empty": {"type": "object", "required": []},
        "Thing": {
            "type": "object",
            "required": ["kind"],
            "properties": {
                "kind": {"type": "string", "const": "thing"},
                "size": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
                "name": {"type": ["string", "null"], "examples": ["a", "b"]},
                "either": {"type": ["string", "integer"]},
                "link": {"$ref": "#/components/schemas/Other", "description": "kept"},
                "tag": {"type": "string", "$comment": "dropped", "deprecated": True, "enum": []},
                "items": {"type": "array", "prefixItems": [{"type": "string"}], "items": True},
            },
            "discriminator": {"propertyName": "kind"},
            "patternProperties": {"^x": {"type": "string"}},
            "additionalProperties": False,
            "x-extra": {"kept": [1, 2]},
        },
        "Other": {"anyOf": [{"type": "string"}], "not": {"type": "integer"}},
    }
    result = normalize_openapi31(spec)
    thing = result["definitions"]["Thing"]
    props = thing["properties"]
    assert result["definitions"]["Empty"] == {"type": "object"}
    assert props["kind"] == {"type": "string", "enum": ["thing"]}
    assert props["size"] == {
        "type": "integer",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 10,
        "exclusiveMaximum": True,
    }
    assert props["name"] == {"type": "string", "example": "a", "x-nullable": True}
    assert props["either"] == {}
    assert props["link"] == {"$ref": "#/definitions/Other", "description": "kept"}
    assert props["tag"] == {"type": "string"}
    assert props["items"] == {"type": "array", "items": {}}
    assert thing["discriminator"] == "kind"
    assert thing["additionalProperties"] is False
    assert thing["x-extra"] == {"kept": [1, 2]}
    assert "patternProperties" not in thing
    other = result["definitions"]["Other"]
    assert other == {"x-anyOf": [{"type": "string"}], "x-not": {"type": "integer"}}
    assert "summary" not in result["info"]
    validator20.validate_spec(result)


def test_openapi_30_nullable_and_parameters():
    spec = minimal(openapi="3.0.3")
    spec["components"]["schemas"]["Name"] = {"type": "string", "nullable": True, "example": "x"}
    spec["paths"]["/things/{id}"] = {
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "get": {
            "operationId": "GetThingsId",
            "tags": ["Things"],
            "parameters": [
                {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                {
                    "name": "ids",
                    "in": "query",
                    "explode": False,
                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Name"}},
                },
                {
                    "name": "sep",
                    "in": "query",
                    "style": "pipeDelimited",
                    "schema": {"type": "array", "items": {"type": "integer"}},
                },
                {
                    "name": "X-Id",
                    "in": "header",
                    "content": {"application/json": {"schema": {"type": "integer"}}},
                },
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/Name"},
                            "examples": {"one": {"value": "example"}},
                        }
                    },
                },
                "2XX": {"description": "dropped"},
            },
        },
    }
    result = normalize_openapi31(spec)
    assert result["definitions"]["Name"] == {"type": "string", "example": "x", "x-nullable": True}
    item = result["paths"]["/things/{id}"]
    assert item["parameters"] == [{"name": "id", "in": "path", "required": True, "type": "integer"}]
    params = item["get"]["parameters"]
    assert [p["name"] for p in params] == ["ids", "sep", "X-Id"]
    assert params[0]["collectionFormat"] == "csv"
    assert params[0]["items"] == {"type": "string", "x-example": "x"}
    assert params[1]["collectionFormat"] == "pipes"
    assert params[2]["type"] == "integer"
    assert list(item["get"]["responses"]) == ["200"]
    assert item["get"]["responses"]["200"]["examples"] == {"application/json": "example"}
    validator20.validate_spec(result)
    Spec.from_dict(result, config=LOAD_CONFIG)


def test_security_schemes_swagger_cannot_express_are_dropped():
    spec = minimal(security=[{"OAuth2": []}, {"Bearer": []}])
    spec["components"]["securitySchemes"] = {
        "OAuth2": {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {"tokenUrl": "https://example/token", "scopes": {}},
                "implicit": {"authorizationUrl": "https://example/auth", "scopes": {"a": "A"}},
            },
        },
        "Key": {"type": "apiKey", "name": "key", "in": "query", "x-note": 1},
        "Basic": {"type": "http", "scheme": "basic"},
        "Bearer": {"type": "http", "scheme": "bearer"},
    }
    spec["paths"]["/status"]["get"]["security"] = [{"Bearer": []}, {"Key": [], "Bearer": []}, {}]
    result = normalize_openapi31(spec)
    assert result["securityDefinitions"] == {
        "evesso": {
            "type": "oauth2",
            "flow": "implicit",
            "authorizationUrl": "https://example/auth",
            "scopes": {"a": "A"},
        },
        "Key": {"type": "apiKey", "name": "key", "in": "query", "x-note": 1},
        "Basic": {"type": "basic"},
    }
    assert result["security"] == [{"evesso": []}]
    assert result["paths"]["/status"]["get"]["security"] == [{"Key": []}, {}]
    validator20.validate_spec(result)


def test_servers_with_a_path_and_variables():
    spec = minimal(servers=[{"url": "{scheme}://esi.example/{base}/", "variables": {
        "scheme": {"default": "http"}, "base": {"default": "latest"}}}])
    result = normalize_openapi31(spec)
    assert result["host"] == "esi.example"
    assert result["schemes"] == ["http"]
    assert result["basePath"] == "/latest"
    assert normalize_openapi31(minimal(servers=[]))["basePath"] == "/"


def test_unresolvable_reference():
    spec = minimal()
    spec["paths"]["/status"]["get"]["parameters"] = [{"$ref": "#/components/parameters/Nope"}]
    with pytest.raises(SpecError, match="unresolvable reference '#/components/parameters/Nope'"):
        normalize_openapi31(spec)
