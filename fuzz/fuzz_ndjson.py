"""Fuzz target: libchatty.ndjson.NDJSONDecoder.

Input layout: byte 0 picks the line-size limit, the rest is the stream. Asserts that
only JSON values or the documented RemoteProtocolError (LimitExceeded is one) come out,
never a raw JSONDecodeError/UnicodeDecodeError/RecursionError; that whole, byte-by-byte
and an input-derived split agree (values, and which error); that the buffer never
exceeds the limit; and that a failed decoder refuses more input with LocalProtocolError.
"""

from __future__ import annotations

from typing import Any

from libchatty.exceptions import LocalProtocolError, RemoteProtocolError
from libchatty.ndjson import NDJSONDecoder

LIMITS = (5, 64, 4 * 1024 * 1024)
JSON_TYPES = (dict, list, str, int, float, bool, type(None))
BYTEWISE = 256
# Strict mode: these, and only these, may come out of the decoder (LimitExceeded is a
# RemoteProtocolError). Anything else escaping TestOneInput is a crash.
DOCUMENTED_ERRORS = (RemoteProtocolError,)


def chunkings(stream: bytes) -> list[list[bytes]]:
    whole = [stream]
    # Byte by byte over the first BYTEWISE bytes, then the rest in one piece: every
    # boundary near the start, without making a 4 KiB input cost 4,096 feeds per run.
    head = stream[:BYTEWISE]
    one_by_one = [head[i : i + 1] for i in range(len(head))] + [stream[BYTEWISE:]]
    sizes = [1 + b % 29 for b in stream[:32]] or [1]
    derived, i, k = [], 0, 0
    while i < len(stream):
        n = sizes[k % len(sizes)]
        derived.append(stream[i : i + n])
        i, k = i + n, k + 1
    return [whole, one_by_one, derived]


def run(chunks: list[bytes], limit: int) -> tuple[Any, ...]:
    decoder = NDJSONDecoder(limit)
    values: list[Any] = []
    error: type[Exception] | None = None
    try:
        for chunk in chunks:
            values.extend(decoder.feed(chunk))
            assert decoder.buffered <= limit, (decoder.buffered, limit)
        values.extend(decoder.close())
    except DOCUMENTED_ERRORS as exc:
        error = type(exc)
        assert "line" in str(exc)
        values.extend(exc.items)
        try:
            decoder.feed(b"1\n")
        except LocalProtocolError:
            pass
        else:
            raise AssertionError("a failed decoder accepted more input") from None
    for value in values:
        assert isinstance(value, JSON_TYPES), type(value)
    # repr: NaN never appears (rejected), so equality of reprs is equality of values.
    return error, repr(values)


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    limit = LIMITS[data[0] % len(LIMITS)]
    results = [run(chunks, limit) for chunks in chunkings(data[1:])]
    assert results[0] == results[1] == results[2], results


if __name__ == "__main__":
    import sys

    import atheris

    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
