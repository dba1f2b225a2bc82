"""EsiSpec, Resource and Operation: names, lazy builds, metadata and prepared requests."""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from esi.errors import DjangoEsiException
from esi.openapi import (
    TRANSPORT_PARAMS,
    DecodeError,
    EsiSpec,
    ParameterError,
    PreparedRequest,
    SpecError,
    UnknownOperationError,
    UnknownResourceError,
    bundled_spec_path,
)
from esi.openapi.spec import Resource, camel_case, path_operation_name, snake_case
from esi.openapi.swagger_names import BODY_PARAMETERS
from tests.openapi.specdata import OPENAPI_SHARED, SWAGGER_136, SWAGGER_138, load_json, shared_path
from tests.openapi.specdata import (  # noqa: F401 - pytest fixtures
    bundled,
    bundled_dict,
    fresh_bundled,
    swagger138,
)
from tests.openapi.synth import request_value

NOTIFICATIONS = "get_characters_character_id_notifications"


# -- construction ---------------------------------------------------------------------------


def test_bundled_spec_properties(bundled):
    assert bundled.format == "openapi31"
    # The newest bundled file, esi_openapi31_<compatibility date>.json.
    date = bundled_spec_path().stem.removeprefix("esi_openapi31_")
    assert bundled.version == bundled.compatibility_date == date >= "2026-08-04"
    assert bundled.base_path == "/"
    assert bundled.host == "esi.evetech.net"


def test_bundled_is_cached_per_process(bundled):
    assert EsiSpec.bundled() is bundled


def test_bundled_is_created_once_under_concurrency(monkeypatch):
    monkeypatch.setattr("esi.openapi.spec._BUNDLED", None)
    barrier = threading.Barrier(8)

    def get() -> EsiSpec:
        barrier.wait()
        return EsiSpec.bundled()

    with ThreadPoolExecutor(8) as pool:
        specs = list(pool.map(lambda _: get(), range(8)))
    assert len({id(spec) for spec in specs}) == 1


def test_swagger_spec_properties(swagger138):
    assert swagger138.format == "swagger20"
    assert swagger138.version == "1.3.8"
    assert swagger138.compatibility_date is None
    assert swagger138.base_path == "/latest"
    assert swagger138.host == "esi.evetech.net"


def test_from_dict_does_not_modify_the_spec(bundled_dict):
    before = json.dumps(bundled_dict, sort_keys=True)
    spec = EsiSpec.from_dict(bundled_dict)
    for name in ("Character", "Universe", "Corporation_Projects"):
        spec.resource(name).build()
    assert json.dumps(bundled_dict, sort_keys=True) == before


def test_from_file_rejects_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text("<html>ESI is down</html>")
    with pytest.raises(SpecError, match="is not JSON"):
        EsiSpec.from_file(path)


def test_from_file_rejects_json_that_is_not_a_spec(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"error": "not found"}))
    with pytest.raises(SpecError, match=r"spec\.json.*no 'openapi' or 'swagger'"):
        EsiSpec.from_file(path)


def test_from_file_rejects_a_missing_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read spec file"):
        EsiSpec.from_file(tmp_path / "missing.json")


def test_errors_belong_to_the_package_hierarchy():
    errors = (SpecError, ParameterError, UnknownResourceError, UnknownOperationError, DecodeError)
    for error in errors:
        assert issubclass(error, DjangoEsiException)


# -- names ------------------------------------------------------------------------------------


def test_name_conversions():
    assert snake_case("GetCharactersCharacterIdNotifications") == NOTIFICATIONS
    assert snake_case(NOTIFICATIONS) == NOTIFICATIONS
    assert camel_case(NOTIFICATIONS) == "GetCharactersCharacterIdNotifications"
    legacy = path_operation_name("get", "/characters/{character_id}/")
    assert legacy == "get_characters_character_id"
    assert path_operation_name("post", "/freelance-jobs") == "post_freelance_jobs"


def test_resource_names_use_underscores(bundled, bundled_dict):
    names = bundled.resource_names()
    assert "Planetary_Interaction" in names and "Character" in names
    assert all(name.isidentifier() for name in names)
    resource = bundled.resource("Planetary_Interaction")
    assert resource is bundled.resource("Planetary Interaction")
    assert resource.tag == "Planetary Interaction"
    tags = {op["tags"][0] for item in bundled_dict["paths"].values() for op in item.values()}
    assert sorted(names) == sorted(tag.replace(" ", "_") for tag in tags)


def operation_count(spec: EsiSpec) -> int:
    return sum(len(spec.resource(name).operations()) for name in spec.resource_names())


def test_every_openapi_operation_resolves_by_both_names(bundled, bundled_dict):
    count = 0
    for name in bundled.resource_names():
        resource = bundled.resource(name)
        assert resource.operation_names() == [op.name for op in resource.operations()]
        for operation in resource.operations():
            assert resource.operation(operation.operation_id) is operation
            assert resource.operation(snake_case(operation.operation_id)) is operation
            assert operation.name.islower() and operation.name.isidentifier()
            count += 1
    assert count == sum(len(item) for item in bundled_dict["paths"].values()) >= 225


def test_every_swagger_operation_resolves_by_both_names(swagger138):
    count = 0
    for name in swagger138.resource_names():
        resource = swagger138.resource(name)
        for operation in resource.operations():
            assert operation.name == operation.operation_id
            assert resource.operation(camel_case(operation.name)) is operation
            count += 1
    assert count == 206


def test_swagger_era_name_of_a_renamed_operation(bundled):
    # OpenAPI 2020-01-01 called it GetCharactersCharacterId, 2026-08-04 GetCharactersDetail;
    # code written for django-esi calls get_characters_character_id.
    character = bundled.resource("Character")
    operation = character.operation("GetCharactersDetail")
    assert operation.name == "get_characters_detail"
    assert character.operation("get_characters_character_id") is operation
    assert character.operation("GetCharactersCharacterId") is operation
    assert operation.path_operation_name == "get_characters_character_id"


def test_openapi_snake_names_match_the_swagger_names(bundled, swagger138):
    swagger = {
        (op.http_method, op.path_name.rstrip("/")): op.name
        for name in swagger138.resource_names()
        for op in swagger138.resource(name).operations()
    }
    for name in bundled.resource_names():
        for op in bundled.resource(name).operations():
            legacy = swagger.get((op.http_method, op.path_name))
            if legacy is not None:
                assert bundled.resource(name).operation(legacy) is op
                assert bundled.resource(name).operation(camel_case(legacy)) is op


def test_unknown_resource_is_an_attribute_error_with_suggestions(bundled):
    with pytest.raises(UnknownResourceError, match=r"'Charactr'.*did you mean 'Character'"):
        bundled.resource("Charactr")
    with pytest.raises(AttributeError, match="available: Access_List, Activities"):
        bundled.resource("zzz")


def test_unknown_operation_is_an_attribute_error_with_suggestions(bundled):
    character = bundled.resource("Character")
    with pytest.raises(UnknownOperationError, match=rf"did you mean '{NOTIFICATIONS}'"):
        character.operation("get_characters_character_id_notification")
    with pytest.raises(AttributeError, match="mean 'GetCharactersCharacterIdNotifications'"):
        character.operation("GetCharactersCharacterIdNotification")


# -- lazy, thread-safe builds -------------------------------------------------------------------


def test_construction_and_metadata_build_nothing(fresh_bundled):
    for name in fresh_bundled.resource_names():
        for operation in fresh_bundled.resource(name).operations():
            operation.scopes, operation.params, operation.pagination, operation.rate_limit
    assert fresh_bundled.built_resource_names() == []


def test_one_resource_is_built_on_first_use_and_only_it(fresh_bundled):
    # prepare() and decode() of primitive parameters need no bravado-core spec (see
    # test_primitive_prepare_and_decode_build_nothing); bravado_operation does.
    status = fresh_bundled.operation("Status", "get_status")
    assert not status.resource.is_built
    status.bravado_operation
    assert fresh_bundled.built_resource_names() == ["Status"]
    assert status.resource.build_count == 1
    fresh_bundled.operation("Market", "get_markets_prices").bravado_operation
    fresh_bundled.operation("Status", "GetStatus")._prepare_bravado({})
    assert sorted(fresh_bundled.built_resource_names()) == ["Market", "Status"]
    assert status.resource.build_count == 1


def test_primitive_prepare_and_decode_build_nothing(fresh_bundled):
    status = fresh_bundled.operation("Status", "get_status")
    status.prepare()
    status.decode(b'{"players": 1, "server_version": "1", "start_time": "2026-08-04T11:00:00Z"}')
    fresh_bundled.operation("Character", NOTIFICATIONS).prepare(character_id=90000001)
    assert fresh_bundled.built_resource_names() == []


def test_a_resource_holds_only_the_definitions_it_reaches(fresh_bundled):
    definitions = fresh_bundled.resource("Status").build().spec_dict["definitions"]
    assert set(definitions) == {"StatusGet", "Error", "ErrorDetail"}


def test_many_threads_build_a_resource_once(fresh_bundled, monkeypatch):
    loads = []
    original = Resource._load

    def slow_load(self):
        loads.append(self.name)
        time.sleep(0.05)  # widen the window in which other threads arrive
        return original(self)

    monkeypatch.setattr(Resource, "_load", slow_load)
    operation = fresh_bundled.operation("Character", NOTIFICATIONS)
    barrier = threading.Barrier(16)

    def call(index: int) -> PreparedRequest:
        barrier.wait()
        return operation._prepare_bravado({"character_id": 90000001 + index})

    with ThreadPoolExecutor(16) as pool:
        requests = list(pool.map(call, range(16)))
    assert loads == ["Character"]
    assert operation.resource.build_count == 1
    assert {r.path for r in requests} == {
        f"/characters/{90000001 + i}/notifications" for i in range(16)
    }



@pytest.fixture
def eager_thread_switches():
    """Switch threads every microsecond, so races show on every run, not once in a while."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def test_first_concurrent_calls_after_a_build_do_not_trip_bravado_memoization(
    bundled_dict, eager_thread_switches
):
    # bravado-core's memoize_by_id marks keys "in progress" in a set shared by all threads:
    # without BRAVADO_LOCK a second thread missing the same key got RecursiveCallException
    # (seen in CI on MariaDB, and 25 runs in 30 with this switch interval).
    for _ in range(5):
        operation = EsiSpec.from_dict(bundled_dict).operation("Character", NOTIFICATIONS)
        operation.resource.build()
        barrier = threading.Barrier(16)

        def call(index: int) -> PreparedRequest:
            barrier.wait()
            return operation._prepare_bravado({"character_id": 90000001 + index})

        with ThreadPoolExecutor(16) as pool:
            requests = list(pool.map(call, range(16)))
        assert [r.path for r in requests] == [
            f"/characters/{90000001 + i}/notifications" for i in range(16)
        ]


# -- metadata -----------------------------------------------------------------------------------


def test_operation_metadata(bundled):
    op = bundled.operation("Character", NOTIFICATIONS)
    assert op.operation_id == "GetCharactersCharacterIdNotifications"
    assert op.http_method == "GET"
    assert op.path_name == "/characters/{character_id}/notifications"
    assert op.scopes == ["esi-characters.read_notifications.v1"]
    assert op.rate_limit == {"group": "char-notification", "max-tokens": 15, "window-size": "15m"}
    assert op.cache_age == 600
    assert op.pagination is None
    assert op.params == [
        "character_id",
        "Accept-Language",
        "If-None-Match",
        "X-Compatibility-Date",
        "X-Tenant",
        "If-Modified-Since",
    ]
    assert op.transport_params == op.params[1:]
    assert op.required_params == ["character_id"]
    status = bundled.operation("Status", "GetStatus")
    assert status.scopes == []


def test_pagination_styles(bundled, swagger138):
    assert bundled.operation("Market", "GetMarketsRegionIdOrders").pagination == "page"
    assert bundled.operation("Freelance_Jobs", "GetFreelanceJobsListing").pagination == "cursor"
    journal = bundled.operation("Wallet", "GetCharactersCharacterIdWalletTransactions")
    assert journal.pagination == "from_id"
    styles = {
        op.pagination
        for name in bundled.resource_names()
        for op in bundled.resource(name).operations()
    }
    assert styles == {None, "page", "cursor", "from_id"}
    assert swagger138.operation("Market", "get_markets_region_id_orders").pagination == "page"


def test_swagger_operation_metadata(swagger138):
    op = swagger138.operation("Character", NOTIFICATIONS)
    assert op.cache_age == 600  # x-cached-seconds
    assert op.rate_limit is None
    assert op.scopes == ["esi-characters.read_notifications.v1"]
    assert op.transport_params == ["datasource", "If-None-Match", "token"]
    assert op.path_name == "/characters/{character_id}/notifications/"


def test_transport_params_cover_the_shared_headers(bundled):
    for name in bundled.resource_names():
        for op in bundled.resource(name).operations():
            assert {"X-Compatibility-Date", "X-Tenant", "If-None-Match"} <= set(op.transport_params)
            assert set(op.transport_params) <= TRANSPORT_PARAMS


# -- prepare: every operation -------------------------------------------------------------------


def required_arguments(operation) -> dict:
    """Valid values for the operation's required, non-transport parameters."""
    arguments = {}
    spec = operation.resource.build()
    for slot in operation._slots.values():
        if slot.required and not slot.transport and slot.name not in arguments:
            arguments[slot.name] = request_value(spec, dict(slot.type_spec))
    return arguments


def prepare_all(spec: EsiSpec) -> tuple[int, list[str]]:
    failures, count = [], 0
    for name in spec.resource_names():
        for operation in spec.resource(name).operations():
            count += 1
            try:
                arguments = required_arguments(operation)
                request = operation.prepare(**arguments)
                assert request.method == operation.http_method
                assert "{" not in request.path
                assert request.path.startswith(spec.base_path)
                if "body" in {s.location for s in operation._slots.values() if s.required}:
                    assert request.body is not None
            except Exception as exc:  # noqa: BLE001 - collected and reported together
                failures.append(f"{name}.{operation.name}: {type(exc).__name__}: {exc}")
    return count, failures


def test_every_bundled_operation_prepares(bundled):
    count, failures = prepare_all(bundled)
    assert count == operation_count(bundled) >= 225
    assert not failures, "operations that failed to prepare:\n" + "\n".join(failures)


def test_every_swagger_138_operation_prepares(swagger138):
    count, failures = prepare_all(swagger138)
    assert count == 206
    assert not failures, "operations that failed to prepare:\n" + "\n".join(failures)


@pytest.mark.parametrize("name", list(OPENAPI_SHARED))
def test_every_operation_of_the_other_openapi_specs_prepares(name):
    count, failures = prepare_all(EsiSpec.from_dict(load_json(OPENAPI_SHARED[name])))
    assert count > 0
    assert not failures, "operations that failed to prepare:\n" + "\n".join(failures)


def test_every_swagger_136_operation_prepares():
    count, failures = prepare_all(EsiSpec.from_file(shared_path(SWAGGER_136)))
    assert count == 194
    assert not failures, "operations that failed to prepare:\n" + "\n".join(failures)


# -- prepare: details -------------------------------------------------------------------------


def test_prepare_path_parameter(bundled):
    request = bundled.operation("Character", NOTIFICATIONS).prepare(character_id=90000001)
    assert request == PreparedRequest("GET", "/characters/90000001/notifications", [], {}, None)


def test_prepare_quotes_path_parameters(bundled):
    op = bundled.operation("Corporation", "GetCorporationsCorporationIdStarbasesStarbaseId")
    request = op.prepare(corporation_id=1, starbase_id=2, system_id=3)
    assert request.path == "/corporations/1/starbases/2"
    assert request.query == [("system_id", "3")]


def test_prepare_swagger_includes_the_base_path_and_csv_arrays(swagger138):
    request = swagger138.operation("Contacts", "delete_characters_character_id_contacts").prepare(
        character_id=1, contact_ids=[3, 4, 5]
    )
    assert request.method == "DELETE"
    assert request.path == "/latest/characters/1/contacts/"
    assert request.query == [("contact_ids", "3,4,5")]


def test_prepare_openapi_query_arrays_are_comma_separated(bundled):
    """As on the Swagger routes: ESI reads ?contact_ids=3,4, not ?contact_ids=3&contact_ids=4."""
    request = bundled.operation("Contacts", "DeleteCharactersCharacterIdContacts").prepare(
        character_id=1, contact_ids=[3, 4]
    )
    assert request.query == [("contact_ids", "3,4")]


def test_prepare_nested_arrays_use_the_items_collection_format(swagger138):
    request = swagger138.operation("Routes", "get_route_origin_destination").prepare(
        origin=1, destination=2, connections=[[3, 4], [5, 6]], flag="secure"
    )
    assert ("connections", "3|4,5|6") in request.query
    assert ("flag", "secure") in request.query


def test_prepare_booleans_as_json(bundled):
    op = bundled.operation("User_Interface", "PostUiAutopilotWaypoint")
    request = op.prepare(
        add_to_beginning=False, clear_other_waypoints=True, destination_id=30000142
    )
    assert request.method == "POST"
    assert ("add_to_beginning", "false") in request.query
    assert ("clear_other_waypoints", "true") in request.query


def test_prepare_headers_only_those_given(bundled):
    op = bundled.operation("Character", NOTIFICATIONS)
    request = op.prepare(character_id=1, **{"If-None-Match": '"abc"', "Accept-Language": "de"})
    assert request.headers == {"If-None-Match": '"abc"', "Accept-Language": "de"}
    date = bundled.compatibility_date
    request = op.prepare(character_id=1, If_None_Match='"abc"', X_Compatibility_Date=date)
    assert request.headers == {"If-None-Match": '"abc"', "X-Compatibility-Date": date}
    assert op.prepare(character_id=1, X_Tenant=None).headers == {}


def test_prepare_body(bundled, swagger138):
    request = bundled.operation("Universe", "PostUniverseNames").prepare(body=[30000142, 34])
    assert request.body == b"[30000142,34]"
    assert request.path == "/universe/names"
    request = swagger138.operation("Universe", "post_universe_ids").prepare(names=["Jita", "Ærø"])
    assert json.loads(request.body) == ["Jita", "Ærø"]


@pytest.mark.parametrize("path", [SWAGGER_138, SWAGGER_136])
def test_swagger_body_names_table_is_the_swagger_specs(path):
    document = json.loads(shared_path(path).read_bytes())
    names = {}
    for route, item in document["paths"].items():
        for method, op in item.items():
            for parameter in op.get("parameters", []):
                if "$ref" in parameter:
                    parameter = document["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
                if parameter["in"] == "body":
                    names[(method, route.rstrip("/"))] = parameter["name"]
    assert names == BODY_PARAMETERS


def test_swagger_body_names_work_on_the_openapi_spec(bundled, swagger138):
    with_alias = [op for op in _operations(bundled) if op.swagger_body_name]
    assert len(with_alias) == 21
    for op in with_alias:
        arguments = required_arguments(op)
        body = arguments.pop("body")
        by_alias = op.prepare(**arguments, **{op.swagger_body_name: body})
        assert by_alias == op.prepare(**arguments, body=body), op.name
    names = bundled.operation("Universe", "post_universe_names")
    assert names.prepare(ids=[30000142]).body == b"[30000142]"
    with pytest.raises(ParameterError, match="'body' twice"):
        names.prepare(ids=[1], body=[2])
    # A Swagger spec names its bodies itself.
    assert not any(op.swagger_body_name for op in _operations(swagger138))


def _operations(spec):
    return [op for name in spec.resource_names() for op in spec.resource(name).operations()]


def test_prepare_swagger_transport_params_are_optional(swagger138):
    op = swagger138.operation("Market", "get_markets_region_id_orders")
    assert op.prepare(region_id=10000002, order_type="all").query == [("order_type", "all")]
    request = op.prepare(region_id=10000002, order_type="sell", page=2, datasource="tranquility")
    assert request.query == [("datasource", "tranquility"), ("order_type", "sell"), ("page", "2")]


def test_prepare_missing_required_parameter(bundled):
    message = rf"{NOTIFICATIONS}\(\) missing required parameter\(s\): 'character_id'"
    with pytest.raises(ParameterError, match=message):
        bundled.operation("Character", NOTIFICATIONS).prepare()
    with pytest.raises(TypeError):
        bundled.operation("Character", NOTIFICATIONS).prepare(character_id=None)
    with pytest.raises(ParameterError, match="missing required parameter.*'body'"):
        bundled.operation("Universe", "PostUniverseNames").prepare()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"character_id": "abc"}, r"'character_id'='abc' does not fit the spec: invalid literal"),
        ({"character_id": True}, r"'character_id'=True does not fit the spec: True is not of type"),
        ({"character_id": [1]}, r"parameter 'character_id'=\[1\] does not fit the spec"),
        ({"character_id": 1, "Accept-Language": "xx"}, r"'Accept-Language'='xx' .* is not one of"),
    ],
)
def test_prepare_wrong_types(bundled, arguments, message):
    with pytest.raises(ParameterError, match=message):
        bundled.operation("Character", NOTIFICATIONS).prepare(**arguments)


def test_prepare_accepts_numeric_strings_as_bravado_does(bundled):
    request = bundled.operation("Character", NOTIFICATIONS).prepare(character_id="90000001")
    assert request.path == "/characters/90000001/notifications"


def test_prepare_unknown_parameter_lists_the_valid_ones(bundled):
    message = r"unexpected parameter\(s\) 'charcter_id'; valid parameters: character_id, Accept-"
    with pytest.raises(ParameterError, match=message):
        bundled.operation("Character", NOTIFICATIONS).prepare(charcter_id=1)


def test_prepare_the_same_parameter_twice(bundled):
    with pytest.raises(ParameterError, match="'If-None-Match' twice"):
        bundled.operation("Character", NOTIFICATIONS).prepare(
            character_id=1, If_None_Match="a", **{"If-None-Match": "b"}
        )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("30000142", "Expected list like type"),
        (["a"], "invalid literal for int"),
        ([], r"\[\] should be non-empty"),
        (list(range(1001)), "is too long"),
    ],
)
def test_prepare_body_of_the_wrong_type(bundled, body, message):
    pattern = rf"post_universe_names\(\): parameter 'body'=.* does not fit the spec: .*({message})"
    with pytest.raises(ParameterError, match=pattern):
        bundled.operation("Universe", "PostUniverseNames").prepare(body=body)


def test_prepare_object_body_checks_properties(bundled):
    op = bundled.operation("Fittings", "PostCharactersCharacterIdFittings")
    with pytest.raises(ParameterError, match="'name' is a required property"):
        op.prepare(
            character_id=1,
            body={
                "description": "x",
                "items": [{"flag": "Cargo", "quantity": 1, "type_id": 34}],
                "ship_type_id": 1,
            },
        )
    with pytest.raises(ParameterError, match="'Nowhere' is not one of"):
        op.prepare(
            character_id=1,
            body={
                "name": "x",
                "description": "x",
                "items": [{"flag": "Nowhere", "quantity": 1, "type_id": 34}],
                "ship_type_id": 1,
            },
        )


# -- decode ---------------------------------------------------------------------------------------


def test_decode_raw_bodies(bundled):
    op = bundled.operation("Status", "GetStatus")
    body = b'{"players": 1, "server_version": "1", "start_time": "2026-08-04T11:00:00Z"}'
    decoded = op.decode(body)
    assert decoded["start_time"].isoformat() == "2026-08-04T11:00:00+00:00"
    assert decoded["vip"] is None
    assert op.decode(body.decode()) == decoded
    assert op.decode(memoryview(body)) == decoded
    assert op.decode(b"") is None
    assert op.decode(b"  ") is None


def test_decode_error_bodies(bundled):
    op = bundled.operation("Status", "GetStatus")
    with pytest.raises(DecodeError, match="not JSON"):
        op.decode(b"<html>")
    with pytest.raises(DecodeError, match=r"get_status \(200\): expected a JSON object"):
        op.decode(b"[]")
    with pytest.raises(DecodeError, match="cannot decode"):
        op.decode({"start_time": "not a date"})
    # Status codes without a schema of their own use the "default" response (Error).
    assert op.decode(b'{"error": "boom"}', status=503) == {
        "error": "boom",
        "details": None,
        "status": None,
    }


def test_decode_without_schema_returns_the_body(bundled):
    op = bundled.operation("Fleets", "DeleteFleetsFleetIdMembersMemberId")
    assert op.decode(b"", status=204) is None
    assert op.decode({"anything": 1}, status=204) == {"anything": 1}


def test_a_resource_that_cannot_be_built_raises_spec_error():
    spec = EsiSpec.from_dict(
        {
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/x/": {
                    "get": {
                        "operationId": "get_x",
                        "tags": ["X Things"],
                        "responses": {
                            "200": {"description": "", "schema": {"$ref": "#/definitions/Nope"}}
                        },
                    }
                }
            },
        }
    )
    operation = spec.operation("X_Things", "GetX")
    assert operation.path_name == "/x/" and spec.base_path == "/"
    with pytest.raises(SpecError, match="unresolvable reference '#/definitions/Nope'"):
        operation.prepare()
    assert spec.built_resource_names() == []
