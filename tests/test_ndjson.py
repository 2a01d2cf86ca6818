"""NDJSONDecoder: JSON values per line, any chunking, typed errors, bounded."""

from __future__ import annotations

import json
import re
from typing import Any

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire import all_splittings, byte_by_byte, fixture, fixture_names, splits_at

from libchatty.exceptions import LimitExceeded, LocalProtocolError, RemoteProtocolError
from libchatty.ndjson import NDJSONDecoder


def decode(chunks: list[bytes], limit: int = 1 << 20) -> list[Any]:
    decoder = NDJSONDecoder(limit)
    values: list[Any] = []
    for chunk in chunks:
        values.extend(decoder.feed(chunk))
        assert decoder.buffered <= limit
    values.extend(decoder.close())
    return values


def reference(stream: bytes) -> list[Any]:
    return [json.loads(line) for line in re.split(rb"\r\n|\r|\n", stream) if line.strip()]


def test_values_blank_lines_and_final_unterminated_line() -> None:
    stream = b'{"a": 1}\n\n  \r\n[2, "x"]\r{"done": true}'
    for name, chunks in all_splittings(stream):
        assert decode(chunks) == [{"a": 1}, [2, "x"], {"done": True}], name


def test_close_without_pending_line_returns_nothing() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b"1\n2\n") == [1, 2]
    assert decoder.close() == []
    assert decoder.lines == 2
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"3\n")


def test_cr_lf_split_across_chunks() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b"1\r") == [1]
    assert decoder.feed(b"\n2\r") == [2]
    assert decoder.feed(b"\n") == []
    assert decoder.lines == 2


def test_multibyte_character_split_across_chunks() -> None:
    stream = '{"t": "café 😀"}\n'.encode()
    for cut in range(len(stream)):
        assert decode([stream[:cut], stream[cut:]]) == [{"t": "café 😀"}]


def test_bad_line_says_where_and_keeps_earlier_values() -> None:
    decoder = NDJSONDecoder()
    with pytest.raises(RemoteProtocolError) as info:
        decoder.feed(b'{"a": 1}\n\n{"b": \n{"c": 3}\n')
    assert info.value.items == [{"a": 1}]
    message = str(info.value)
    assert "line 3" in message
    assert "JSONDecodeError" not in message
    assert not isinstance(info.value, LimitExceeded)
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"1\n")


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"\xff\xfe\n", "UTF-8"),
        (b'"\xc3"\n', "UTF-8"),
        (b"NaN\n", "NaN"),
        (b"[1, 2\n", "invalid JSON"),
        (b"1 2\n", "Extra data"),
        (b"[" * 50_000 + b"\n", "nested"),
    ],
)
def test_each_kind_of_bad_line_is_a_remote_protocol_error(line: bytes, why: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        NDJSONDecoder().feed(b"0\n" + line)
    assert info.value.items == [0]
    assert why in str(info.value)
    assert "line 2" in str(info.value)


def test_bad_final_unterminated_line_fails_at_close() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'1\n{"cut": "of') == [1]
    with pytest.raises(RemoteProtocolError, match="line 2"):
        decoder.close()


def test_error_message_does_not_echo_the_line() -> None:
    secret = b"sk-proj-" + b"A" * 40
    with pytest.raises(RemoteProtocolError) as info:
        NDJSONDecoder().feed(b'{"key": "' + secret + b"\n")
    assert secret.decode() not in str(info.value)


def test_line_limit() -> None:
    decoder = NDJSONDecoder(8)
    assert decoder.feed(b"12345678\n") == [12345678]
    with pytest.raises(LimitExceeded) as info:
        decoder.feed(b"1\n2\n123456789\n")
    assert info.value.items == [1, 2]
    with pytest.raises(LocalProtocolError):
        decoder.close()


def test_line_limit_before_the_buffer_grows() -> None:
    decoder = NDJSONDecoder(16)
    with pytest.raises(LimitExceeded):
        for piece in byte_by_byte(b"[1]\n" + b"7" * 40):
            decoder.feed(piece)
            assert decoder.buffered <= 16


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)  # beyond: orjson may give floats (documented)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.text('aé€😀\u2028\x00"\\', max_size=6),  # multi-byte, separators, escapes
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.lists(st.tuples(json_values, st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n", b" \n"]))),
    st.lists(st.integers(0, 2000), max_size=10),
)
def test_any_values_any_endings_any_split(items: list[tuple[Any, bytes]], cuts: list[int]) -> None:
    # ensure_ascii=False: the text stays UTF-8, so cuts fall inside multi-byte characters.
    stream = b"".join(
        json.dumps(v, allow_nan=True, ensure_ascii=False).encode() + end for v, end in items
    )
    expected = [json.loads(json.dumps(v, allow_nan=True)) for v, _ in items]
    assert decode([stream]) == expected
    assert decode(splits_at(stream, cuts)) == expected
    assert decode(byte_by_byte(stream)) == expected


@given(st.binary(max_size=80), st.lists(st.integers(0, 80), max_size=6))
def test_arbitrary_bytes_values_or_the_documented_error(data: bytes, cuts: list[int]) -> None:
    outcomes = []
    for chunks in ([data], splits_at(data, cuts), byte_by_byte(data)):
        values: list[Any] = []
        failure: type[Exception] | None = None
        try:
            values = decode(chunks, limit=32)
        except RemoteProtocolError as exc:  # LimitExceeded included
            failure = type(exc)
        outcomes.append((failure, values))
    assert outcomes[0][0] == outcomes[1][0] == outcomes[2][0]
    if outcomes[0][0] is None:
        assert outcomes[0][1] == outcomes[1][1] == outcomes[2][1]


def http_body(raw: bytes) -> tuple[bytes, bytes]:
    """(content type, body) of a recorded HTTP response, de-chunked by h11."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="POST", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(raw)
    conn.receive_data(b"")
    ctype, body = b"", []
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:  # a recording cut off mid-body: keep what came
            return ctype, b"".join(body)
        if isinstance(event, h11.Response):
            ctype = dict(event.headers).get(b"content-type", b"")
        elif isinstance(event, h11.Data):
            body.append(bytes(event.data))
        elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)) or event is h11.NEED_DATA:
            return ctype, b"".join(body)


NDJSON_FIXTURES = [
    name
    for name in fixture_names("ollama")
    if http_body(fixture(name))[0].startswith(b"application/x-ndjson")
]


def test_there_are_ndjson_fixtures() -> None:
    assert len(NDJSON_FIXTURES) >= 5


@pytest.mark.parametrize("name", NDJSON_FIXTURES)
def test_recorded_streams_every_way(name: str) -> None:
    _, body = http_body(fixture(name))
    complete, _, rest = body.rpartition(b"\n")
    try:
        json.loads(rest or b"null")
        expected: list[Any] | None = reference(body)
    except ValueError:
        expected = None  # the recording stops mid-line: close() must say so
    for split, chunks in all_splittings(body):
        if expected is not None:
            assert decode(chunks) == expected, split
        else:
            with pytest.raises(RemoteProtocolError) as info:
                decode(chunks)
            assert "line" in str(info.value)
            assert reference(complete + b"\n")  # the complete lines still decoded


def test_bytearray_input() -> None:
    decoder = NDJSONDecoder()
    buffer = bytearray(b'{"a": 1}\n{"b"')
    assert decoder.feed(buffer) == [{"a": 1}]  # type: ignore[arg-type]
    buffer[:] = b"XXXXXXXXXXXXX"
    assert decoder.feed(bytearray(b": 2}\n")) == [{"b": 2}]  # type: ignore[arg-type]


# -- exact boundaries: a line of exactly max_line_size passes, one byte more fails -----------

LIMIT = 10


def outcome(chunks: list[bytes], limit: int = LIMIT) -> tuple[list[Any], str | None]:
    decoder = NDJSONDecoder(limit)
    values: list[Any] = []
    try:
        for chunk in chunks:
            values.extend(decoder.feed(chunk))
            assert decoder.buffered <= limit
        values.extend(decoder.close())
    except LimitExceeded as exc:
        values.extend(exc.items)
        return values, str(exc)
    return values, None


@pytest.mark.parametrize("end", [b"\n", b"\r", b"\r\n"])
def test_line_of_exactly_the_limit_passes_whole_and_byte_by_byte(end: bytes) -> None:
    at_limit = b'"' + "é".encode() * 4 + b'"'  # 10 bytes, 6 characters
    assert len(at_limit) == LIMIT
    stream = b"1" + end + at_limit + end + b"1234567890"  # the last one unterminated
    for name, chunks in all_splittings(stream):
        assert outcome(chunks) == ([1, "éééé", 1234567890], None), name


@pytest.mark.parametrize("end", [b"\n", b"\r", b"\r\n"])
def test_line_of_limit_plus_one_fails_whole_and_byte_by_byte(end: bytes) -> None:
    stream = b"1" + end + b"12345678901" + end + b"2" + end
    assert outcome([stream]) == (
        [1],
        "NDJSON line 2: line of 11 bytes is longer than the limit of 10 bytes",
    )
    assert outcome(byte_by_byte(stream)) == (
        [1],
        "NDJSON line 2: line longer than 10 bytes (no line end after 11 bytes)",
    )


def test_unterminated_line_of_limit_plus_one_fails() -> None:
    for _, chunks in all_splittings(b"1\n12345678901"):
        assert outcome(chunks) == (
            [1],
            "NDJSON line 2: line longer than 10 bytes (no line end after 11 bytes)",
        )


def test_limit_error_line_number_counts_blank_lines() -> None:
    decoder = NDJSONDecoder(4)
    assert decoder.feed(b"1\n\n") == [1]
    with pytest.raises(LimitExceeded) as info:
        decoder.feed(b"2\n12345\n")
    assert str(info.value) == "NDJSON line 4: line of 5 bytes is longer than the limit of 4 bytes"
    assert info.value.items == [2]
    assert decoder.lines == 3


def test_bad_line_messages_are_exact() -> None:
    cases = [
        (b"1\n\xff\n", "NDJSON line 2: invalid UTF-8 at byte 0 of the line"),
        (b"[1,\n", "NDJSON line 1: invalid JSON: Expecting value (position 3 of a 3-byte line)"),
        (b"[" * 50_000 + b"\n", "NDJSON line 1: JSON nested too deeply"),
    ]
    for stream, message in cases:
        with pytest.raises(RemoteProtocolError) as info:
            NDJSONDecoder().feed(stream)
        assert str(info.value) == message


def test_misuse_after_failure_and_after_close_says_which() -> None:
    decoder = NDJSONDecoder()
    with pytest.raises(RemoteProtocolError):
        decoder.feed(b"{\n")
    with pytest.raises(LocalProtocolError) as info:
        decoder.feed(b"1\n")
    assert str(info.value) == "NDJSONDecoder failed earlier"
    with pytest.raises(LocalProtocolError) as info:
        decoder.close()
    assert str(info.value) == "NDJSONDecoder failed earlier"
    decoder = NDJSONDecoder()
    assert decoder.close() == []
    with pytest.raises(LocalProtocolError) as info:
        decoder.feed(b"1\n")
    assert str(info.value) == "NDJSONDecoder already closed"
    with pytest.raises(LocalProtocolError) as info:
        decoder.close()
    assert str(info.value) == "NDJSONDecoder already closed"


def test_whitespace_only_lines_are_skipped_but_counted() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b" \t \n\t\n1\n  \r\n") == [1]
    assert decoder.lines == 4
    assert decoder.close() == []
    decoder = NDJSONDecoder()
    assert decoder.feed(b"1\n \t ") == [1]
    assert decoder.buffered == 3
    assert decoder.close() == []  # a final whitespace-only line is nothing, not an error


def test_messages_use_the_parser_reason_even_with_a_colon_in_it() -> None:
    cases = [
        (b'{"a" 1}\n', "invalid JSON: Expecting ':' delimiter (position 5 of a 7-byte line)"),
        (b"NaN\n", "invalid JSON: NaN is not valid JSON (a 3-byte line)"),
        (b"-Infinity\n", "invalid JSON: -Infinity is not valid JSON (a 9-byte line)"),
    ]
    for line, why in cases:
        with pytest.raises(RemoteProtocolError) as info:
            NDJSONDecoder().feed(line)
        assert str(info.value) == "NDJSON line 1: " + why


def test_only_json_whitespace_makes_a_blank_line() -> None:
    # Form feed and vertical tab are whitespace to bytes.strip() but not to JSON.
    for line in (b"\x0c\n", b"\x0b\n", b" \x0c \n"):
        with pytest.raises(RemoteProtocolError) as info:
            NDJSONDecoder().feed(b"1\n" + line)
        assert info.value.items == [1]
        assert str(info.value).startswith("NDJSON line 2: invalid JSON: ")


def test_a_decoder_over_its_limit_refuses_more_input_saying_so() -> None:
    decoder = NDJSONDecoder(4)
    with pytest.raises(LimitExceeded):
        decoder.feed(b"123456\n")
    for call in (lambda: decoder.feed(b"1\n"), decoder.close):
        with pytest.raises(LocalProtocolError) as info:
            call()
        assert str(info.value) == "NDJSONDecoder failed earlier"
