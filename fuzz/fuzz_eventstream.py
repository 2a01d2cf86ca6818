"""Fuzz target: libchatty.eventstream.EventStreamDecoder.

Input layout: byte 0 picks the message-size limit (low bits) and the mode (bit 7). In raw
mode the rest is the stream as is, so the fuzzer attacks preludes and CRCs. In framed
mode the rest is a list of records (a length byte and that many header bytes, a length
byte and that many payload bytes) that this target wraps in correct lengths and CRCs, so
the fuzzer reaches the header parser instead of stopping at a CRC mismatch.

Asserts that only EventStreamMessage values or the documented RemoteProtocolError (and
its subclass LimitExceeded) come out; that whole, byte-by-byte and an input-derived split
agree exactly (messages, wire types, error type and text, messages carried by the error);
that the decoder never buffers more than its limit; that a failed decoder refuses more
input with LocalProtocolError; and that re-encoding what was decoded gives back exactly
the bytes it came from. Run it with fuzz/run.py (see fuzz/README.md)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from libchatty.eventstream import EventStreamDecoder, EventStreamMessage, encode_message
from libchatty.exceptions import LimitExceeded, LocalProtocolError, RemoteProtocolError

LIMITS = (16, 40, 300, 1 << 20)
_FRAMED = 0x80


def framed(records: bytes) -> bytes:
    """Messages with right lengths and CRCs around the fuzzer's header and payload bytes."""
    out = []
    at = 0
    while at < len(records):
        header_size = records[at]
        headers = records[at + 1 : at + 1 + header_size]
        at += 1 + header_size
        payload_size = records[at] if at < len(records) else 0
        payload = records[at + 1 : at + 1 + payload_size]
        at += 1 + payload_size
        prelude = struct.pack(">II", 16 + len(headers) + len(payload), len(headers))
        body = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
        out.append(body + struct.pack(">I", zlib.crc32(body)))
    return b"".join(out)


def chunkings(stream: bytes) -> list[list[bytes]]:
    whole = [stream]
    one_by_one = [stream[i : i + 1] for i in range(len(stream))]
    # Chunk sizes taken from the input itself, so the fuzzer steers the boundaries.
    sizes = [1 + b % 13 for b in stream[:32]] or [1]
    derived, i, k = [], 0, 0
    while i < len(stream):
        n = sizes[k % len(sizes)]
        derived.append(stream[i : i + n])
        i, k = i + n, k + 1
    return [whole, one_by_one, derived]


def run(chunks: list[bytes], limit: int) -> tuple[Any, ...]:
    decoder = EventStreamDecoder(limit)
    messages: list[EventStreamMessage] = []
    error: tuple[type, str] | None = None
    try:
        for chunk in chunks:
            messages.extend(decoder.feed(chunk))
            assert decoder.buffered <= limit, (decoder.buffered, limit)
        assert decoder.close() == []
    except RemoteProtocolError as exc:
        assert type(exc) in (RemoteProtocolError, LimitExceeded), type(exc)
        error = (type(exc), str(exc))
        messages.extend(exc.items)
        try:
            decoder.feed(b"\x00")
        except LocalProtocolError:
            pass
        else:
            raise AssertionError("a failed decoder accepted more input") from None
    for message in messages:
        assert type(message) is EventStreamMessage
        assert type(message.payload) is bytes
        assert list(message.headers) == list(message.header_types)
    types = [m.header_types for m in messages]
    return error, messages, types


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    limit = LIMITS[data[0] % len(LIMITS)]
    stream = framed(data[1:]) if data[0] & _FRAMED else data[1:]
    results = [run(chunks, limit) for chunks in chunkings(stream)]
    assert all(result == results[0] for result in results), results
    error, messages, _ = results[0]
    encoded = b"".join(encode_message(m.headers, m.payload, m.header_types) for m in messages)
    if error is None:
        assert encoded == stream
    else:
        assert stream.startswith(encoded)


if __name__ == "__main__":
    import sys

    import atheris

    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
