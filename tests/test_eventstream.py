"""EventStreamDecoder and encode_message: AWS's binary event stream framing.

Checked three ways: against botocore's test vectors (bytes AWS's SDK decodes), against an
encoder written here from the format description (int.to_bytes and binascii.crc32, no
code shared with the module), and against botocore's ``EventStreamBuffer`` as an oracle
for every stream the property tests build.
"""

from __future__ import annotations

import binascii
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st
from wire import all_splittings, byte_by_byte, cut_at

from libchatty.eventstream import (
    DEFAULT_MAX_MESSAGE_SIZE,
    EventStreamDecoder,
    EventStreamMessage,
    HeaderType,
    HeaderValue,
    encode_message,
)
from libchatty.exceptions import LimitExceeded, LocalProtocolError, RemoteProtocolError

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
T = HeaderType


# --- an independent encoder, from the format description ----------------------------------
def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def frame(
    raw_headers: bytes,
    payload: bytes = b"",
    total: int | None = None,
    headers_length: int | None = None,
) -> bytes:
    """A message around raw header bytes; ``total``/``headers_length`` may lie, the prelude
    CRC is always right for what is written, and so is the message CRC."""
    total = 16 + len(raw_headers) + len(payload) if total is None else total
    headers_length = len(raw_headers) if headers_length is None else headers_length
    prelude = u32(total) + u32(headers_length)
    head = prelude + u32(binascii.crc32(prelude))
    body = head + raw_headers + payload
    return body + u32(binascii.crc32(body))


def raw_header(name: str, kind: HeaderType, value: HeaderValue) -> bytes:
    encoded = name.encode()
    out = bytes([len(encoded)]) + encoded + bytes([kind])
    widths = {T.BYTE: 1, T.SHORT: 2, T.INTEGER: 4, T.LONG: 8}
    if kind in (T.BOOL_TRUE, T.BOOL_FALSE):
        return out
    if kind in widths:
        assert isinstance(value, int)
        return out + value.to_bytes(widths[kind], "big", signed=True)
    if kind == T.TIMESTAMP:
        assert isinstance(value, datetime)
        millis = (value - EPOCH) // timedelta(milliseconds=1)
        return out + millis.to_bytes(8, "big", signed=True)
    if kind == T.UUID:
        assert isinstance(value, bytes)
        return out + value
    raw = value.encode() if isinstance(value, str) else value
    assert isinstance(raw, bytes)
    return out + len(raw).to_bytes(2, "big") + raw


def decode(chunks: list[bytes], limit: int = DEFAULT_MAX_MESSAGE_SIZE) -> list[EventStreamMessage]:
    decoder = EventStreamDecoder(limit)
    out: list[EventStreamMessage] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
        assert decoder.buffered <= limit
    assert decoder.close() == []
    return out


def botocore_decode(stream: bytes) -> list[tuple[dict[str, Any], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(stream)
    return [(dict(m.headers), m.payload) for m in buffer]


def as_botocore(message: EventStreamMessage) -> tuple[dict[str, Any], bytes]:
    """Our message in botocore's terms: timestamps are integer milliseconds there."""
    headers = {
        k: (v - EPOCH) // timedelta(milliseconds=1) if isinstance(v, datetime) else v
        for k, v in message.headers.items()
    }
    return headers, message.payload


# --- botocore's own test vectors (tests/unit/test_eventstream.py), as data ------------------
MS = timedelta(milliseconds=1)
VECTORS: list[tuple[str, bytes, dict[str, HeaderValue], bytes]] = [
    ("empty", b"\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2H\xeb}\x98\xc8\xff", {}, b""),
    (
        "int8",
        b"\x00\x00\x00\x17\x00\x00\x00\x07)\x86\x01X\x04byte\x02\xff\xc2\xf8i\xdc",
        {"byte": -1},
        b"",
    ),
    (
        "int16",
        b"\x00\x00\x00\x19\x00\x00\x00\tq\x0e\x92>\x05short\x03\xff\xff\xb2|\xb6\xcc",
        {"short": -1},
        b"",
    ),
    (
        "int32",
        b"\x00\x00\x00\x1d\x00\x00\x00\r\x83\xe3\xf0\xe7\x07integer\x04\xff\xff\xff\xff"
        b"\x8b\x8e\x12\xeb",
        {"integer": -1},
        b"",
    ),
    (
        "int64",
        b"\x00\x00\x00\x1e\x00\x00\x00\x0e]J\xdb\x8d\x04long\x05\xff\xff\xff\xff\xff\xff"
        b"\xff\xffK\xc22\xda",
        {"long": -1},
        b"",
    ),
    (
        "payload",
        b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'}\xc3e96",
        {},
        b"{'foo':'bar'}",
    ),
    (
        "string",
        b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent-type\x07\x00\x10"
        b"application/json{'foo':'bar'}\x8d\x9c\x08\xb1",
        {"content-type": "application/json"},
        b"{'foo':'bar'}",
    ),
    (
        "all-types",
        b"\x00\x00\x00\x62\x00\x00\x00\x52\x03\xb5\xcb\x9c\x010\x00\x011\x01\x012"
        b"\x02\x02\x013\x03\x00\x03\x014\x04\x00\x00\x00\x04\x015\x05\x00\x00\x00\x00\x00\x00"
        b"\x00\x05\x016\x06\x00\x05bytes\x017\x07\x00\x04utf8\x018\x08\x00\x00\x00\x00\x00\x00"
        b"\x00\x08\x019\x090123456789abcdef\x63\x35\x36\x71",
        {
            "0": True,
            "1": False,
            "2": 2,
            "3": 3,
            "4": 4,
            "5": 5,
            "6": b"bytes",
            "7": "utf8",
            "8": EPOCH + 8 * MS,
            "9": b"0123456789abcdef",
        },
        b"",
    ),
    (
        "error",
        b"\x00\x00\x00\x52\x00\x00\x00\x42\xbf\x23\x63\x7e\x0d:message-type\x07\x00"
        b"\x05error\x0b:error-code\x07\x00\x04code\x0e:error-message\x07\x00\x07message"
        b"\x6b\x6c\xea\x3d",
        {":message-type": "error", ":error-code": "code", ":error-message": "message"},
        b"",
    ),
]
ALL_TYPES = [
    T.BOOL_TRUE,
    T.BOOL_FALSE,
    T.BYTE,
    T.SHORT,
    T.INTEGER,
    T.LONG,
    T.BYTE_ARRAY,
    T.STRING,
    T.TIMESTAMP,
    T.UUID,
]


@pytest.mark.parametrize(
    ("name", "data", "headers", "payload"), VECTORS, ids=[v[0] for v in VECTORS]
)
def test_botocore_vectors_every_splitting(
    name: str, data: bytes, headers: dict[str, HeaderValue], payload: bytes
) -> None:
    for how, chunks in all_splittings(data):
        messages = decode(chunks)
        assert messages == [EventStreamMessage(headers, payload)], how
        assert list(messages[0].headers) == list(headers), how  # wire order kept
    # Re-encoding with the recorded wire types gives back exactly the vector's bytes.
    (message,) = decode([data])
    assert encode_message(message.headers, message.payload, message.header_types) == data


def test_all_vectors_in_one_stream() -> None:
    stream = b"".join(v[1] for v in VECTORS)
    expected = [EventStreamMessage(v[2], v[3]) for v in VECTORS]
    for how, chunks in all_splittings(stream):
        assert decode(chunks) == expected, how


def test_all_types_vector_records_each_wire_type() -> None:
    (message,) = decode([VECTORS[7][1]])
    assert message.header_types == {str(i): T(i) for i in range(10)}
    assert message.headers["8"] == datetime(1970, 1, 1, 0, 0, 0, 8000, tzinfo=timezone.utc)


# botocore's negative vectors: every one is a RemoteProtocolError here, and exactly that.
NEGATIVE = [
    (
        "corrupted-length",
        b"\x01\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'}\xc3e96",
        "prelude CRC mismatch",
    ),
    (
        "corrupted-payload",
        b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'\x8d\xc3e96",
        "message CRC mismatch",
    ),
    (
        "corrupted-headers",
        b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent+type\x07\x00"
        b"\x10application/json{'foo':'bar'}\x8d\x9c\x08\xb1",
        "message CRC mismatch",
    ),
    (
        "corrupted-header-length",
        b"\x00\x00\x00=\xff\x00\x01\x02\x07\xfd\x83\x96\x0ccontent-type"
        b"\x07\x00\x10application/json{'foo':'bar'}\x8d\x9c\x08\xb1",
        "prelude CRC mismatch",
    ),
    (
        "duplicate-header",
        b"\x00\x00\x00\x24\x00\x00\x00\x14\x4b\xb9\x82\xd0\x04test\x04asdf"
        b"\x04test\x04asdf\xf3\xf4\x75\x63",
        "header 'test' is repeated",
    ),
]


@pytest.mark.parametrize(("name", "data", "reason"), NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_botocore_negative_vectors(name: str, data: bytes, reason: str) -> None:
    good = VECTORS[6][1]
    for how, chunks in all_splittings(good + data):
        decoder = EventStreamDecoder()
        got: list[EventStreamMessage] = []
        with pytest.raises(RemoteProtocolError) as info:
            for chunk in chunks:
                got.extend(decoder.feed(chunk))
        assert type(info.value) is RemoteProtocolError, how
        assert str(info.value) == f"event stream {reason}", how
        assert got + info.value.items == [EventStreamMessage(VECTORS[6][2], VECTORS[6][3])]
        with pytest.raises(LocalProtocolError):
            decoder.feed(good)
        with pytest.raises(LocalProtocolError):
            decoder.close()


# --- property tests: our encoder, the independent one, our decoder and botocore agree -------
def _value(kind: HeaderType) -> st.SearchStrategy[HeaderValue]:
    ranges = {T.BYTE: 7, T.SHORT: 15, T.INTEGER: 31, T.LONG: 63}
    if kind == T.BOOL_TRUE:
        return st.just(True)
    if kind == T.BOOL_FALSE:
        return st.just(False)
    if kind in ranges:
        bits = ranges[kind]
        return st.integers(-(1 << bits), (1 << bits) - 1)
    if kind == T.BYTE_ARRAY:
        return st.binary(max_size=300)
    if kind == T.STRING:
        return st.text(max_size=60)
    if kind == T.TIMESTAMP:
        low = (datetime(1, 1, 1, tzinfo=timezone.utc) - EPOCH) // MS
        high = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc) - EPOCH) // MS
        return st.integers(low, high).map(lambda n: EPOCH + n * MS)
    return st.binary(min_size=16, max_size=16)


header_items = st.lists(
    st.tuples(st.text(max_size=20), st.sampled_from(ALL_TYPES)).flatmap(
        lambda nk: _value(nk[1]).map(lambda v: (nk[0], nk[1], v))
    ),
    max_size=8,
    unique_by=lambda item: item[0],
)
# Mostly small payloads, sometimes a large one (built cheaply from a repeated pattern).
payloads = st.one_of(
    st.binary(max_size=200),
    st.tuples(st.integers(0, 300_000), st.binary(min_size=1, max_size=7)).map(
        lambda t: (t[1] * (t[0] // len(t[1]) + 1))[: t[0]]
    ),
)
messages = st.tuples(header_items, payloads)


def build(items: list[tuple[str, HeaderType, HeaderValue]], payload: bytes) -> bytes:
    headers = {name: value for name, _, value in items}
    types = {name: kind for name, kind, _ in items}
    data = encode_message(headers, payload, types)
    assert data == frame(b"".join(raw_header(*item) for item in items), payload)
    return data


@given(st.lists(messages, min_size=1, max_size=4), st.lists(st.integers(0, 1 << 20), max_size=20))
def test_round_trip_any_split_and_botocore_agrees(
    stream_spec: list[tuple[list[tuple[str, HeaderType, HeaderValue]], bytes]], cuts: list[int]
) -> None:
    stream = b"".join(build(items, payload) for items, payload in stream_spec)
    expected = [
        EventStreamMessage({n: v for n, _, v in items}, payload) for items, payload in stream_spec
    ]
    whole = decode([stream])
    assert whole == expected
    assert [m.header_types for m in whole] == [{n: k for n, k, _ in i} for i, _ in stream_spec]
    assert decode(cut_at(stream, cuts)) == expected
    assert [as_botocore(m) for m in whole] == botocore_decode(stream)


@given(st.lists(messages.filter(lambda m: len(m[1]) < 300), min_size=1, max_size=3))
def test_byte_by_byte(
    stream_spec: list[tuple[list[tuple[str, HeaderType, HeaderValue]], bytes]],
) -> None:
    stream = b"".join(build(items, payload) for items, payload in stream_spec)
    assert decode(byte_by_byte(stream)) == decode([stream])


@given(messages.filter(lambda m: len(m[1]) < 1000), st.data())
def test_flipping_any_byte_is_a_protocol_error(
    spec: tuple[list[tuple[str, HeaderType, HeaderValue]], bytes], data: st.DataObject
) -> None:
    first = VECTORS[5][1]
    message = build(*spec)
    at = data.draw(st.integers(0, len(message) - 1))
    mask = data.draw(st.integers(1, 255))
    bad = message[:at] + bytes([message[at] ^ mask]) + message[at + 1 :]
    decoder = EventStreamDecoder()
    with pytest.raises(RemoteProtocolError) as info:
        decoder.feed(first + bad)  # CRC32 catches every error confined to 32 bits
    assert type(info.value) is RemoteProtocolError
    assert str(info.value) == (
        "event stream prelude CRC mismatch" if at < 12 else "event stream message CRC mismatch"
    )
    assert info.value.items == [EventStreamMessage({}, b"{'foo':'bar'}")]


@given(messages.filter(lambda m: len(m[1]) < 1000), st.data())
def test_truncation_is_an_error_at_close(
    spec: tuple[list[tuple[str, HeaderType, HeaderValue]], bytes], data: st.DataObject
) -> None:
    message = build(*spec)
    cut = data.draw(st.integers(1, len(message) - 1))
    decoder = EventStreamDecoder()
    assert decoder.feed(message[:cut]) == []
    with pytest.raises(RemoteProtocolError) as info:
        decoder.close()
    assert type(info.value) is RemoteProtocolError
    if cut < 12:
        assert str(info.value) == (
            f"event stream ended inside a message prelude: {cut} of 12 bytes received"
        )
    else:
        assert str(info.value) == (
            f"event stream ended inside a message: {cut} of {len(message)} bytes received"
        )
    with pytest.raises(LocalProtocolError):
        decoder.close()


# --- bounds ---------------------------------------------------------------------------------
def test_message_at_the_limit_decodes_and_one_past_is_refused() -> None:
    limit = 1000
    body = b"x" * (limit - 16 - 6)  # the header k=v takes 6 bytes
    at_limit = encode_message({"k": "v"}, body)
    assert len(at_limit) == limit
    for how, chunks in all_splittings(at_limit):
        assert decode(chunks, limit) == [EventStreamMessage({"k": "v"}, body)], how
    past = encode_message({"k": "v"}, body + b"x")
    assert len(past) == limit + 1
    decoder = EventStreamDecoder(limit)
    assert decoder.feed(at_limit) == [EventStreamMessage({"k": "v"}, body)]
    with pytest.raises(LimitExceeded) as info:
        decoder.feed(past[:12])  # the prelude alone is enough to refuse it
    assert str(info.value) == "event stream message of 1001 bytes exceeds the limit of 1000 bytes"
    assert info.value.items == []
    assert decoder.buffered == 0
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"\x00")


def test_lying_total_length_raises_before_buffering() -> None:
    prelude = frame(b"", total=1 << 31)[:12]  # a valid prelude CRC for a 2 GiB message
    decoder = EventStreamDecoder()
    for byte in prelude[:11]:
        assert decoder.feed(bytes([byte])) == []
    with pytest.raises(LimitExceeded) as info:
        decoder.feed(prelude[11:])
    assert str(info.value) == (
        f"event stream message of {1 << 31} bytes exceeds the limit of "
        f"{DEFAULT_MAX_MESSAGE_SIZE} bytes"
    )
    assert decoder.buffered == 0


def test_default_limit_accepts_what_botocore_accepts() -> None:
    # botocore: up to 128 KiB of headers and 24 MiB of payload.
    assert DEFAULT_MAX_MESSAGE_SIZE == 24 * 1024 * 1024 + 128 * 1024 + 16


@pytest.mark.parametrize(
    ("total", "headers_length", "error"),
    [
        (15, 0, "event stream message length 15 is below the minimum of 16"),
        (0, 0, "event stream message length 0 is below the minimum of 16"),
        (20, 5, "event stream headers length 5 does not fit in a message of 20 bytes"),
        (16, 1, "event stream headers length 1 does not fit in a message of 16 bytes"),
        (
            16,
            0xFFFFFFFF,
            "event stream headers length 4294967295 does not fit in a message of 16 bytes",
        ),
    ],
)
def test_impossible_lengths(total: int, headers_length: int, error: str) -> None:
    data = frame(b"", b"abcd", total=total, headers_length=headers_length)
    with pytest.raises(RemoteProtocolError) as info:
        EventStreamDecoder().feed(data[:12])
    assert type(info.value) is RemoteProtocolError
    assert str(info.value) == error


def test_headers_filling_the_whole_message_at_the_edge() -> None:
    raw = raw_header("a", T.STRING, "b")
    data = frame(raw, b"")  # headers length == total - 16: no payload
    assert decode([data]) == [EventStreamMessage({"a": "b"}, b"")]


# Header sections whose lengths lie inside a message whose CRCs are right.
BAD_HEADERS = [
    (b"\x05ab", "header name runs past the headers"),
    (b"\x02ab", "header name runs past the headers"),  # no type byte
    (b"\x01a\x0a", "header 'a' has unknown type 10"),
    (b"\x01a\xff", "header 'a' has unknown type 255"),
    (b"\x01a\x07\x00\x05abcd", "header 'a' runs past the headers"),
    (b"\x01a\x07\x00", "header 'a' runs past the headers"),
    (b"\x01a\x06\xff\xff", "header 'a' runs past the headers"),
    (b"\x01a\x04\x00\x00\x00", "header 'a' runs past the headers"),
    (b"\x01a\x05" + b"\x00" * 7, "header 'a' runs past the headers"),
    (b"\x01a\x08" + b"\x00" * 7, "header 'a' runs past the headers"),
    (b"\x01a\x09" + b"\x00" * 15, "header 'a' runs past the headers"),
    (b"\x01a\x02", "header 'a' runs past the headers"),
    (b"\x01\xff\x07\x00\x00", "header name is not valid UTF-8"),
    (b"\x01a\x07\x00\x02\xc3\x28", "header 'a' is not valid UTF-8"),
    (
        b"\x01a\x08\x7f\xff\xff\xff\xff\xff\xff\xff",
        f"header 'a': timestamp {(1 << 63) - 1} ms is out of range",
    ),
    (
        b"\x01a\x08\x80\x00\x00\x00\x00\x00\x00\x00",
        f"header 'a': timestamp {-(1 << 63)} ms is out of range",
    ),
    (b"\x01a\x00\x01a\x01", "header 'a' is repeated"),
]


@pytest.mark.parametrize(("raw", "error"), BAD_HEADERS)
def test_malformed_headers_are_protocol_errors(raw: bytes, error: str) -> None:
    data = frame(raw, b"payload")
    assert botocore_accepts_crcs(data)
    for how, chunks in all_splittings(data):
        decoder = EventStreamDecoder()
        with pytest.raises(RemoteProtocolError) as info:
            for chunk in chunks:
                decoder.feed(chunk)
        assert type(info.value) is RemoteProtocolError, how
        assert str(info.value) == f"event stream {error}", how


def botocore_accepts_crcs(data: bytes) -> bool:
    """The CRCs and lengths are right, so the failure is the headers' own."""
    total = int.from_bytes(data[:4], "big")
    return total == len(data) and binascii.crc32(data[:-4]) == int.from_bytes(data[-4:], "big")


def test_timestamps_at_the_edges_of_datetime() -> None:
    low = datetime(1, 1, 1, tzinfo=timezone.utc)
    high = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc)
    data = encode_message({"low": low, "high": high})
    assert decode([data]) == [EventStreamMessage({"low": low, "high": high}, b"")]


def test_big_message_in_tiny_pieces_is_buffered_as_fragments() -> None:
    # 300 KB in 3-byte pieces: 100k feeds. Quadratic buffering would copy ~15 GB here.
    payload = bytes(range(256)) * 1200
    data = encode_message({":event-type": "chunk"}, payload)
    decoder = EventStreamDecoder()
    out: list[EventStreamMessage] = []
    for i in range(0, len(data), 3):
        out.extend(decoder.feed(data[i : i + 3]))
        assert decoder.buffered == (i + 3 if i + 3 < len(data) else 0)
    assert out == [EventStreamMessage({":event-type": "chunk"}, payload)]


def test_bytes_like_input_is_copied() -> None:
    data = bytearray(VECTORS[6][1])
    decoder = EventStreamDecoder()
    assert decoder.feed(memoryview(data)[:20]) == []
    data[:20] = b"\x00" * 20  # the caller reuses its buffer
    assert decoder.feed(data[20:]) == [EventStreamMessage(VECTORS[6][2], VECTORS[6][3])]


def test_empty_feed_and_close_on_a_fresh_decoder() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(b"") == []
    assert decoder.close() == []


def test_limit_below_the_smallest_message_is_refused() -> None:
    with pytest.raises(ValueError) as caught:
        EventStreamDecoder(15)
    assert str(caught.value) == "max_message_size must be at least 16"
    assert decode([VECTORS[0][1]], 16) == [EventStreamMessage({}, b"")]


# --- encoder ---------------------------------------------------------------------------------
def test_encoder_chooses_types_from_values() -> None:
    when = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    headers: dict[str, HeaderValue] = {
        "t": True,
        "f": False,
        "i": -(1 << 31),
        "l": 1 << 31,
        "b": b"\x00",
        "s": "é",
        "d": when,
    }
    (message,) = decode([encode_message(headers, b"p")])
    assert message.header_types == {
        "t": T.BOOL_TRUE,
        "f": T.BOOL_FALSE,
        "i": T.INTEGER,
        "l": T.LONG,
        "b": T.BYTE_ARRAY,
        "s": T.STRING,
        "d": T.TIMESTAMP,
    }
    assert message.headers == {**headers, "d": when.replace(microsecond=123000)}


@pytest.mark.parametrize(
    ("headers", "types", "error"),
    [
        ({"a" * 256: 1}, {}, f"header name {'a' * 40!r}... is longer than 255 bytes"),
        ({"a": "x" * 65536}, {}, "65536 bytes is longer than 65535"),
        ({"a": b"x" * 65536}, {}, "65536 bytes is longer than 65535"),
        ({"a": 128}, {"a": T.BYTE}, "128 does not fit BYTE"),
        ({"a": -32769}, {"a": T.SHORT}, "-32769 does not fit SHORT"),
        ({"a": 1 << 63}, {}, f"{1 << 63} does not fit LONG"),
        ({"a": b"x" * 15}, {"a": T.UUID}, "a uuid must be 16 bytes"),
        ({"a": False}, {"a": T.BOOL_TRUE}, "type BOOL_TRUE needs the value False"),
        ({"a": datetime(2024, 1, 1)}, {}, "a timestamp must be an aware datetime"),
        ({"a": 1.5}, {}, "cannot encode a float"),
        ({"a": 1}, {"a": T.STRING}, "type STRING needs a str"),
        ({"a": "x"}, {"a": T.BYTE_ARRAY}, "type BYTE_ARRAY needs bytes"),
        ({"a": True}, {"a": T.INTEGER}, "type INTEGER needs an int"),
    ],
)
def test_encoder_refuses_what_does_not_fit(
    headers: dict[str, Any], types: dict[str, HeaderType], error: str
) -> None:
    with pytest.raises(ValueError) as caught:
        encode_message(headers, b"", types)
    expected = error if error.startswith("header name") else f"header 'a': {error}"
    assert str(caught.value) == expected


def test_encoder_limits_are_inclusive() -> None:
    data = encode_message({"a" * 255: "x" * 65535, "b": b"y" * 65535})
    (message,) = decode([data])
    assert message.headers == {"a" * 255: "x" * 65535, "b": b"y" * 65535}
    # botocore caps a message's headers at 128 KiB: check each longest header on its own.
    for name, value in message.headers.items():
        alone = encode_message({name: value})
        assert botocore_decode(alone) == [({name: value}, b"")]


# --- the header-section cache ------------------------------------------------------------------
def test_repeated_header_sections_give_independent_messages() -> None:
    data = encode_message({":event-type": "chunk", "n": 1}, b"a") * 2
    first, second = decode([data])
    first.headers["n"] = 99
    first.header_types.clear()
    assert second == EventStreamMessage({":event-type": "chunk", "n": 1}, b"a")
    assert second.header_types == {":event-type": T.STRING, "n": T.INTEGER}


def test_many_distinct_and_large_header_sections() -> None:
    # More distinct sections than the cache holds, each seen twice, plus sections larger
    # than the cache keeps: every message must still decode to its own headers.
    specs: list[dict[str, HeaderValue]] = [
        {"i": i, "pad": "x" * (i % 3) * 600} for i in range(100)
    ]
    stream = b"".join(encode_message(h, b"%d" % n) for n, h in enumerate(specs + specs))
    expected = [EventStreamMessage(h, b"%d" % n) for n, h in enumerate(specs + specs)]
    for how, chunks in all_splittings(stream, seeds=2):
        assert decode(chunks) == expected, how


# --- edges found by mutation testing ---------------------------------------------------------
def test_encoder_picks_integer_exactly_within_32_bits() -> None:
    headers: dict[str, HeaderValue] = {
        "min": -(1 << 31),
        "below": -(1 << 31) - 1,
        "max": (1 << 31) - 1,
        "above": 1 << 31,
        "far below": -(1 << 32),
    }
    (message,) = decode([encode_message(headers)])
    assert message.header_types == {
        "min": T.INTEGER,
        "below": T.LONG,
        "max": T.INTEGER,
        "above": T.LONG,
        "far below": T.LONG,
    }
    assert message.headers == headers


def test_a_failed_decoder_says_so_on_feed_and_close() -> None:
    failed = "the event stream decoder failed earlier; start a new one"
    decoder = EventStreamDecoder()
    with pytest.raises(RemoteProtocolError):
        decoder.feed(b"\x00" * 12)  # a prelude whose CRC is wrong
    with pytest.raises(LocalProtocolError) as caught:
        decoder.feed(VECTORS[0][1])
    assert str(caught.value) == failed
    with pytest.raises(LocalProtocolError) as caught:
        decoder.close()
    assert str(caught.value) == failed
    decoder = EventStreamDecoder()
    assert decoder.feed(VECTORS[0][1][:5]) == []
    with pytest.raises(RemoteProtocolError):
        decoder.close()  # cut inside a prelude
    with pytest.raises(LocalProtocolError) as caught:
        decoder.close()
    assert str(caught.value) == failed
    with pytest.raises(LocalProtocolError) as caught:
        decoder.feed(VECTORS[0][1])
    assert str(caught.value) == failed


class SizedOnly:
    """A payload that only has a length: encode_message must refuse it by its length alone,
    or, within the bound, go on to read it (which this one refuses)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        raise LookupError("payload read")


def test_encoder_message_size_bound_at_the_limit_and_one_past() -> None:
    # 0xFFFFFFFF bytes in all (16 of framing) is the largest a uint32 length can say.
    with pytest.raises(LookupError, match="payload read"):
        encode_message({}, SizedOnly(0xFFFFFFFF - 16))  # type: ignore[arg-type]
    with pytest.raises(ValueError) as caught:
        encode_message({}, SizedOnly(0xFFFFFFFF - 15))  # type: ignore[arg-type]
    assert str(caught.value) == "an event stream message of 4294967296 bytes does not fit 32 bits"


def test_header_cache_bounds_at_the_limit_and_one_past() -> None:
    # The cache of parsed header sections is bounded in entries (32) and in the size of
    # each section kept (1024 bytes): a long stream of distinct sections holds no more.
    def section_of(size: int, tag: int) -> dict[str, HeaderValue]:
        # one string header: 1 + 1 (name) + 1 (type) + 2 (length) + value
        return {"k": f"{tag:04d}".ljust(size - 5, "x")}

    decoder = EventStreamDecoder()
    at_limit = encode_message(section_of(1024, 0))
    over = encode_message(section_of(1025, 1))
    (message,) = decoder.feed(at_limit)
    assert list(decoder._headers_seen.values()) == [(message.headers, message.header_types)]
    assert [len(key) for key in decoder._headers_seen] == [1024]
    assert decoder.feed(over) == [EventStreamMessage(section_of(1025, 1), b"")]
    assert [len(key) for key in decoder._headers_seen] == [1024]  # too big to keep
    for tag in range(2, 33):  # 31 more: 32 entries, the limit
        decoder.feed(encode_message(section_of(20, tag)))
    assert len(decoder._headers_seen) == 32
    decoder.feed(encode_message(section_of(20, 99)))  # one past: the cache starts over
    assert len(decoder._headers_seen) == 1
    # A cached section gives the same message as a fresh parse.
    again = encode_message(section_of(20, 99), b"p")
    assert decoder.feed(again) == EventStreamDecoder().feed(again)
