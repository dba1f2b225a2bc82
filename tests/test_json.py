"""esi._json.loads: orjson's speed with the standard library's results and errors."""

from __future__ import annotations

import json
import math

import pytest

from esi._json import loads


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": [1, 2.5, "x", null, true]}',
        '{"\\u00e9t\\u00e9": "\\ud83d\\ude80"}',
        b"[]",
        b"123456789012345678",
        bytearray(b'{"price": 5.0}'),
    ],
)
def test_same_result_as_json(text):
    assert loads(text) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        b"[NaN, Infinity, -Infinity]",  # non-standard literals json accepts
        b"\xff\xfe{\x00}\x00",  # UTF-16, which json detects
        b'\xef\xbb\xbf{"bom": 1}',  # a UTF-8 byte order mark
    ],
)
def test_what_orjson_refuses_is_parsed_by_json(text):
    expected = json.loads(text)
    result = loads(text)
    if isinstance(expected, list):
        assert [math.isnan(x) for x in result] == [math.isnan(x) for x in expected]
        assert [x for x in result if not math.isnan(x)] == [x for x in expected if not math.isnan(x)]
    else:
        assert result == expected


def test_integers_beyond_64_bits_become_floats():
    # The one documented difference from json.loads; ESI's integers are int32 / int64.
    assert loads(b"[9223372036854775807, -9223372036854775808]") == [2**63 - 1, -(2**63)]
    assert loads(b"123456789012345678901234567890") == pytest.approx(1.2345678901234568e29)


def test_memoryview_is_accepted():
    assert loads(memoryview(b'{"a": 1}')) == {"a": 1}


@pytest.mark.parametrize("text", [b"", b"{", b"not json", "{'single': 1}", b'{"a": 1} trailing'])
def test_not_json_raises_json_decode_error(text):
    with pytest.raises(json.JSONDecodeError) as raised:
        loads(text)
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    assert str(raised.value) == str(expected.value)


def test_bytes_in_no_unicode_encoding_raise_a_value_error():
    with pytest.raises(ValueError):
        loads(b"\xff\xfe\x00")
