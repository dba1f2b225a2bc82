"""EsiObject: the client's JSON objects read as dicts (django-esi 7) and as models (10)."""

from __future__ import annotations

import copy
import datetime
import json
import pickle

import pytest

from esi.clients import EsiClientProvider, EsiObject
from esi.openapi.results import object_class

AT = datetime.datetime(2026, 8, 4, 11, 0, tzinfo=datetime.UTC)


def sample() -> EsiObject:
    inner = EsiObject({"type_id": 34, "quantity": 2, "note": None})
    return EsiObject({"name": "Ada", "alliance_id": None, "birthday": AT, "skills": [inner], "day": AT.date()})


def test_dict_and_attribute_access_agree():
    data = sample()
    assert isinstance(data, dict)
    assert data.name == data["name"] == "Ada"
    assert data.alliance_id is None
    assert data.skills[0].type_id == 34
    assert data == {"name": "Ada", "alliance_id": None, "birthday": AT, "skills": [{"type_id": 34, "quantity": 2, "note": None}], "day": AT.date()}
    assert {"a": 1} == EsiObject(a=1) and EsiObject(a=1) != {"a": 2}
    assert "name" in dir(data) and "items" in dir(data)


def test_unknown_attribute_raises_attribute_error():
    data = sample()
    with pytest.raises(AttributeError, match="'corporation_id'"):
        data.corporation_id  # noqa: B018
    assert getattr(data, "corporation_id", "default") == "default"
    assert not hasattr(data, "__html__")  # Django templates probe for it


def test_setting_and_deleting_attributes_are_keys():
    data = sample()
    data.name = "Bea"
    data.extra = 1
    assert data["name"] == "Bea" and data["extra"] == 1
    del data.extra
    assert "extra" not in data
    with pytest.raises(AttributeError):
        del data.extra


def test_dict_methods_win_unless_the_schema_declares_the_name():
    plain = sample()
    assert list(plain.items())[0] == ("name", "Ada")
    fitting_class = object_class(["fitting_id", "items", "name"])
    fitting = fitting_class({"fitting_id": 1, "items": [EsiObject(type_id=34)], "name": "x"})
    assert fitting.items == [{"type_id": 34}]
    assert fitting.items[0].type_id == 34
    assert list(dict.items(fitting))[0] == ("fitting_id", 1)
    assert object_class(["items", "fitting_id"]) is fitting_class
    assert object_class(["name"]) is EsiObject
    # A declared clash that ESI left out reads as None, like any missing property.
    assert fitting_class({"fitting_id": 1}).items is None


def test_model_dump():
    data = sample()
    dumped = data.model_dump()
    assert type(dumped) is dict and type(dumped["skills"][0]) is dict
    assert dumped == data and dumped["birthday"] is AT
    assert data.model_dump(include={"name"}) == {"name": "Ada"}
    assert "skills" not in data.model_dump(exclude=["skills"])
    assert data.model_dump(exclude_none=True)["skills"] == [{"type_id": 34, "quantity": 2}]
    assert "alliance_id" not in data.model_dump(exclude_none=True)
    as_json = data.model_dump(mode="json")
    assert as_json["birthday"] == "2026-08-04T11:00:00Z" and as_json["day"] == "2026-08-04"
    assert data.model_dump(by_alias=True) == dumped
    assert json.loads(data.model_dump_json())["skills"][0]["type_id"] == 34
    with pytest.raises(ValueError, match="mode"):
        data.model_dump(mode="yaml")
    with pytest.raises(TypeError):
        data.model_dump(round_trip=True)  # pydantic options this does not implement
    with pytest.raises(TypeError, match="round_trip"):
        data.model_dump_json(round_trip=True)


def test_serialization_and_copies():
    data = sample()
    for restored in (pickle.loads(pickle.dumps(data)), copy.deepcopy(data), copy.copy(data)):
        assert type(restored) is EsiObject and restored == data and restored.name == "Ada"
    fitting = object_class(["items"])({"items": [1]})
    restored = pickle.loads(pickle.dumps(fitting))
    assert type(restored) is object_class(["items"]) and restored.items == [1]
    assert json.loads(json.dumps(data, default=str))["name"] == "Ada"


def test_client_results_read_like_django_esi_10_models(emulator):
    client = EsiClientProvider(app_info_text="tests/1.0").client
    emulator.esi.set_response(
        "GetCharactersCharacterId",  # the Swagger-era name of GetCharactersDetail
        {"name": "Ada", "corporation_id": 1000001, "birthday": "2015-03-24T11:37:00Z", "race_id": 1,
         "bloodline_id": 1, "gender": "female", "security_status": 0.5},
    )
    character = client.Character.get_characters_character_id(character_id=90000001).result()
    assert character.name == character["name"] == "Ada"
    assert character.alliance_id is None  # declared by the spec, left out by ESI
    assert character.birthday == datetime.datetime(2015, 3, 24, 11, 37, tzinfo=datetime.UTC)
    assert character.model_dump()["corporation_id"] == 1000001
    orders = client.Market.get_markets_region_id_orders(region_id=10000002, order_type="all").results()
    assert orders and all(isinstance(order, EsiObject) for order in orders)
    assert orders[0].order_id == orders[0]["order_id"]
