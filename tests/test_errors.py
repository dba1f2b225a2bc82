"""ESI errors: the constructors of django-esi 7 (bravado) and 10 (aiopenapi3), and ``except``
clauses naming bravado's or aiopenapi3's classes, against the real libraries."""

from __future__ import annotations

import pickle
import socket
import sys
from types import SimpleNamespace

import pytest

from esi import errors, exceptions
from esi.clients import EsiClientProvider
from esi.errors import HTTPClientError, HTTPError, HTTPNotFound, HTTPServerError, http_error
from esi.openapi.results import EsiObject

FOREIGN = ("bravado.exception", "aiopenapi3.errors")


@pytest.fixture
def neither(monkeypatch):
    """A process that has imported neither bravado nor aiopenapi3."""
    for name in FOREIGN:
        monkeypatch.delitem(sys.modules, name, raising=False)


@pytest.fixture
def client(emulator):
    return EsiClientProvider(app_info_text="tests/1.0").client


class TestConstructors:
    def test_django_esi_10_keywords(self):
        error = exceptions.HTTPClientError(status_code=404, headers={"X-Esi-Error-Limit-Remain": "99"}, data={"error": "Not found"})
        assert error.status_code == 404 and error.headers["X-Esi-Error-Limit-Remain"] == "99"
        assert error.data == {"error": "Not found"} and error.message == "Not found"
        assert error.json() == {"error": "Not found"}
        server = exceptions.HTTPServerError(status_code=502, headers={}, data="502 Bad Gateway")
        assert (server.status_code, server.text, server.data) == (502, "502 Bad Gateway", "502 Bad Gateway")
        assert exceptions.HTTPNotModified(status_code=304, headers={}).status_code == 304

    def test_django_esi_10_positional_and_message_forms(self):
        error = HTTPClientError(403, {"a": "b"}, {"error": "forbidden"})
        assert (error.status_code, error.headers, error.message) == (403, {"a": "b"}, "forbidden")
        message = exceptions.HTTPError("Test exception")
        assert message.message == "Test exception" and "Test exception" in str(message)

    def test_django_esi_7_bravado_response_form(self):
        response = SimpleNamespace(status_code=404, headers={"Expires": "x"}, text='{"error": "Type not found"}')
        error = HTTPNotFound(response)
        assert error.status_code == 404 and error.response is response
        assert error.headers == {"Expires": "x"} and error.data.error == "Type not found"
        error = HTTPNotFound(response=response, message="gone", swagger_result={"error": "x"})
        assert error.message == "gone" and error.swagger_result == {"error": "x"}

    def test_the_client_s_own_form(self, neither):
        error = http_error(420, {"X-Esi-Error-Limit-Reset": "10"}, '{"error": "calm down"}', operation="get_status")
        assert type(error) is errors.HTTPEnhanceYourCalm and error.operation == "get_status"
        assert str(error) == "420 calm down (get_status)" and error.response is error

    def test_data_is_the_parsed_body(self):
        assert http_error(404, {}, '{"error": "x", "details": [{"id": 1}]}').data.details[0].id == 1
        assert isinstance(http_error(404, {}, '{"error": "x"}').data, EsiObject)
        assert http_error(500, {}, "<html>oops</html>").data == "<html>oops</html>"
        assert http_error(500, {}, "").data is None

    @pytest.mark.parametrize(
        "args, kwargs, message",
        [
            ((1.5,), {}, "takes a status code, a message or a response first, not float"),
            ((404, {}, "x", "extra"), {}, "4 positional arguments, at most 3 fit"),
            ((404,), {"status_code": 500}, "multiple values for argument 'status_code'"),
            (("message", "more"), {}, "2 positional arguments, at most 1 fit"),
        ],
    )
    def test_bad_arguments(self, args, kwargs, message):
        with pytest.raises(TypeError, match=message):
            HTTPClientError(*args, **kwargs)

    def test_pickles_without_its_constructor_arguments(self):
        error = http_error(404, {"ETag": "x"}, '{"error": "gone"}', operation="op")
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and copy.response is copy
        assert (copy.status_code, copy.headers, copy.text, copy.args) == (error.status_code, error.headers, error.text, error.args)


def test_without_bravado_or_aiopenapi3_the_classes_are_ours(neither):
    error = http_error(404, {}, "")
    assert type(error) is HTTPNotFound
    assert type(errors.connection_error("down")) is errors.ESIConnectionError


class TestBravado:
    """django-esi 7 code catches bravado's classes; the client's errors are caught by them."""

    @pytest.fixture(autouse=True)
    def bravado(self):
        import bravado.exception

        return bravado.exception

    def test_except_bravado_class_catches_client_errors(self, bravado, client, emulator):
        emulator.esi.set_response("GetUniverseTypesTypeId", {"error": "Type not found"}, status=404)
        status_map = dict(bravado.status_map)
        with pytest.raises(bravado.HTTPNotFound) as caught:
            client.Universe.get_universe_types_type_id(type_id=1).result()
        error = caught.value
        assert isinstance(error, HTTPNotFound) and isinstance(error, bravado.HTTPClientError)
        assert error.status_code == 404 and error.response.status_code == 404
        assert str(error).startswith("404 Type not found") and hash(error) and error == error
        assert bravado.status_map == status_map  # nothing registered in bravado's table
        copy = pickle.loads(pickle.dumps(error))
        assert isinstance(copy, bravado.HTTPNotFound) and copy.text == error.text

    def test_errors_code_constructs_are_caught_too(self, bravado):
        with pytest.raises(bravado.HTTPForbidden):
            raise exceptions.HTTPClientError(status_code=403, headers={}, data={})
        response = SimpleNamespace(status_code=404, headers={}, text="")
        assert isinstance(HTTPNotFound(response), bravado.HTTPNotFound)

    def test_statuses_without_a_class_here_get_bravados(self, bravado):
        error = http_error(410, {}, "")
        assert isinstance(error, bravado.HTTPGone) and isinstance(error, HTTPClientError)
        assert isinstance(http_error(507, {}, ""), bravado.HTTPServerError)
        assert isinstance(http_error(304, {}, ""), bravado.HTTPNotModified)

    def test_connection_errors(self, bravado, client, settings):
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        listener.close()  # nothing listens there now
        settings.ESI_API_URL = f"http://127.0.0.1:{port}"
        settings.ESI_CONNECTION_ERROR_MAX_RETRIES = 0
        with pytest.raises(bravado.BravadoConnectionError) as caught:
            client.Status.get_status().result()
        assert isinstance(caught.value, errors.ESIConnectionError)
        assert isinstance(pickle.loads(pickle.dumps(caught.value)), bravado.BravadoConnectionError)


class TestAiopenapi3:
    """django-esi 10 code (Alliance Auth's tasks) catches aiopenapi3's classes."""

    @pytest.fixture(autouse=True)
    def aiopenapi3(self):
        import aiopenapi3.errors

        return aiopenapi3.errors

    def test_except_aiopenapi3_classes_catch_client_errors(self, aiopenapi3, client, emulator):
        emulator.esi.set_response("GetUniverseTypesTypeId", {"error": "Type not found"}, status=404)
        with pytest.raises(aiopenapi3.HTTPClientError) as caught:
            client.Universe.get_universe_types_type_id(type_id=1).result()
        assert isinstance(caught.value, HTTPNotFound) and isinstance(caught.value, aiopenapi3.HTTPError)
        assert caught.value.data.error == "Type not found"
        assert hash(caught.value) and caught.value != http_error(404, {}, "")
        assert isinstance(http_error(503, {}, ""), aiopenapi3.HTTPServerError)
        assert isinstance(http_error(503, {}, ""), HTTPServerError)
        assert isinstance(http_error(304, {}, ""), aiopenapi3.HTTPError)

    def test_errors_code_constructs_are_caught_too(self, aiopenapi3):
        """Alliance Auth's tests raise django-esi 10's class as a mock's side effect and its
        task catches aiopenapi3's HTTPError."""
        try:
            raise exceptions.HTTPClientError(status_code=403, headers={}, data={})
        except aiopenapi3.HTTPError as caught:
            assert caught.status_code == 403 and isinstance(caught, HTTPClientError)
        assert isinstance(exceptions.HTTPServerError(status_code=502, headers={}, data="x"), aiopenapi3.HTTPServerError)
        assert isinstance(HTTPNotFound(), aiopenapi3.HTTPClientError)
        assert isinstance(exceptions.HTTPError("message"), aiopenapi3.HTTPError)
        made = HTTPNotFound(404, {}, "{}")
        assert type(pickle.loads(pickle.dumps(made))) is type(made)

    def test_both_libraries_at_once(self, aiopenapi3):
        import bravado.exception

        error = http_error(404, {}, "")
        assert isinstance(error, bravado.exception.HTTPNotFound) and isinstance(error, aiopenapi3.HTTPClientError)
        assert isinstance(error, HTTPError)
