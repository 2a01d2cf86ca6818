"""jsonload.loads: json.loads semantics (strict RFC 8259), faster, orjson when present."""

from __future__ import annotations

import json
import math
from importlib.util import find_spec
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libchatty import jsonload
from libchatty.jsonload import JSONDecodeError, loads, make_loads, stdlib_loads

# 64-bit integers: beyond that orjson may return a float (documented); big integers are
# tested against the standard-library backend separately.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
layouts = st.sampled_from(
    [
        {"separators": (",", ":")},
        {},
        {"indent": 2},
        {"ensure_ascii": False},
        {"ensure_ascii": False, "indent": "\t"},
    ]
)
padding = st.sampled_from(["", " ", "\n", "\r\n\t ", "  \n"])


def same(a: Any, b: Any) -> bool:
    """Equality that also checks -0.0 and the int/float distinction."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@given(json_values, layouts, padding, padding)
def test_agrees_with_json_loads(
    value: Any, layout: dict[str, Any], before: str, after: str
) -> None:
    text = before + json.dumps(value, **layout) + after
    expected = json.loads(text)
    for load in (loads, stdlib_loads):
        assert same(load(text), expected)
        assert same(load(text.encode()), expected)


@given(st.integers(), st.integers(-(10**30), 10**30))
def test_stdlib_backend_keeps_big_integers_exact(big: int, other: int) -> None:
    text = json.dumps([big, {"n": other}])
    assert stdlib_loads(text) == [big, {"n": other}]
    assert loads(text) == [big, {"n": other}] or jsonload.backend == "orjson"


@given(st.binary(max_size=40))
def test_arbitrary_bytes_orjson_backend_accepts_what_stdlib_accepts(data: bytes) -> None:
    try:
        stdlib_loads(data)
    except JSONDecodeError:
        with pytest.raises(JSONDecodeError):
            loads(data)
    else:
        loads(data)


@given(st.binary(max_size=40))
def test_arbitrary_bytes_value_or_documented_error(data: bytes) -> None:
    try:
        expected: Any = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        expected = None
        failed = True
    else:
        failed = False
    try:
        got = stdlib_loads(data)
    except JSONDecodeError:
        # Stricter than json.loads only where documented (NaN, Infinity, BOM).
        assert failed or any(c in data for c in (b"NaN", b"Infinity"))
    else:
        assert not failed
        assert same(got, expected)


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b" ",
        b"NaN",
        b"[Infinity]",
        b"-Infinity",
        b'{"a":1} x',
        b"[1,]",
        b"{'a':1}",
        b"\xef\xbb\xbf{}",
        "\ufeff{}",
        b'"\xff"',
        b'"\xed\xa0\x80"',
        b"[" * 100_000,
        b"1" * 5000,
    ],
)
def test_bad_documents_raise_the_documented_errors(bad: bytes | str) -> None:
    with pytest.raises(JSONDecodeError):
        loads(bad)
    with pytest.raises(JSONDecodeError):
        stdlib_loads(bad)


def test_documented_error_tuple_is_catchable() -> None:
    assert issubclass(json.JSONDecodeError, JSONDecodeError)
    assert issubclass(UnicodeDecodeError, JSONDecodeError)
    assert RecursionError in JSONDecodeError


def test_big_integers_and_whitespace() -> None:
    big = 123456789012345678901234567890
    assert stdlib_loads(b"123456789012345678901234567890") == big
    assert loads(b"123456789012345678901234567890") in (big, float(big))
    assert loads(b"1e400") == float("inf")  # orjson refuses it: the fallback reads it
    assert loads("  [1, 2]\n") == [1, 2]
    assert loads("\t{}\r\n") == {}
    assert loads('"\\ud83d\\ude00"') == "\U0001f600"


def test_backend_is_named() -> None:
    assert jsonload.backend in ("json", "orjson")


class FakeOrjson:
    """Stands in for orjson: parses via json, but refuses what real orjson refuses."""

    calls = 0

    @classmethod
    def loads(cls, data: bytes | str) -> Any:
        cls.calls += 1
        value = json.loads(data)
        if isinstance(value, int) and not -(2**63) <= value < 2**64:
            raise ValueError("integer exceeds 64-bit range")
        return value


def test_orjson_backend_is_used_and_falls_back_on_refusal() -> None:
    fast = make_loads(FakeOrjson)
    before = FakeOrjson.calls
    assert fast(b'{"a": [1]}') == {"a": [1]}
    assert FakeOrjson.calls == before + 1
    assert fast(b"123456789012345678901234567890") == 123456789012345678901234567890
    with pytest.raises(JSONDecodeError):
        fast(b"[1,")
    assert make_loads(None) is stdlib_loads


@pytest.mark.skipif(find_spec("orjson") is None, reason="orjson (the `fast` extra) not installed")
@given(json_values, layouts)
def test_real_orjson_agrees_when_installed(value: Any, layout: dict[str, Any]) -> None:
    import orjson as real

    text = json.dumps(value, **layout)
    assert same(make_loads(real)(text.encode()), json.loads(text))
    assert same(make_loads(real)(text), json.loads(text))


@pytest.mark.parametrize("tail", ["\n", " \t\r\n ", "\r\n"])
def test_trailing_json_whitespace_parses_once(tail: str) -> None:
    assert stdlib_loads('{"a": 1}' + tail) == {"a": 1}
    assert stdlib_loads(('{"a": 1}' + tail).encode()) == {"a": 1}


@pytest.mark.parametrize("tail", ["\x0b", "\u2003", "\n x", "\x0c"])
def test_trailing_non_json_whitespace_is_refused(tail: str) -> None:
    with pytest.raises(JSONDecodeError):
        stdlib_loads('{"a": 1}' + tail)


def test_orjson_takes_over_after_the_stdlib_parsed_orjson_after_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsonload, "_fast", None)
    monkeypatch.setattr(jsonload, "backend", "json")
    monkeypatch.setattr(jsonload, "_stdlib_left", 20)
    monkeypatch.setattr(jsonload, "_find_orjson", lambda: FakeOrjson)
    before = FakeOrjson.calls
    assert loads(b'{"a": [1, 2]}') == {"a": [1, 2]}  # 13 bytes: 7 left
    assert (jsonload.backend, jsonload._stdlib_left) == ("json", 7)
    assert loads(b'{"b": 2}') == {"b": 2}  # 8 more: this one still by the stdlib
    assert (jsonload.backend, FakeOrjson.calls) == ("orjson", before)
    assert loads(b'{"c": 3}') == {"c": 3}
    assert FakeOrjson.calls == before + 1
    # orjson's refusals still fall back to the standard library.
    assert loads(b"123456789012345678901234567890") == 123456789012345678901234567890
    with pytest.raises(JSONDecodeError):
        loads(b"[1,")


def test_without_orjson_the_stdlib_stays_and_counting_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsonload, "_fast", None)
    monkeypatch.setattr(jsonload, "backend", "json")
    monkeypatch.setattr(jsonload, "_stdlib_left", 5)
    monkeypatch.setattr(jsonload, "_find_orjson", lambda: None)
    assert loads(b"[1, 2, 3]") == [1, 2, 3]
    assert (jsonload.backend, jsonload._fast, jsonload._stdlib_left) == ("json", None, 0)
    assert loads("[4]") == [4]
    assert jsonload._stdlib_left == 0

