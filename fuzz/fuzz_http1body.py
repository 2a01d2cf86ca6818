"""Fuzz target: libchatty.http1body, differential against h11.

Input layout: byte 0 picks the response head (chunked, chunked with ``Connection:
close``, ``Content-Length`` of byte 1, close-delimited HTTP/1.0, a HEAD request's
response); the rest is the body, followed by whatever the fuzzer adds. Each chunking
(whole, byte by byte, chunk sizes taken from the input) is fed to an h11 client
connection and to h11-for-the-head + the module's reader, with EOF at the end. Asserts
that both give the same body bytes (also before a fault), the same verdict (error or
not), the same trailing bytes after the body's end and the same reuse verdict; that only
``RemoteProtocolError`` comes out of the reader, with ``items`` that are ``bytes``; and
that a failed reader refuses more input with ``LocalProtocolError``.

Known, documented differences are kept out of reach: h11 takes an over-long size line or
trailer section that arrives in one read, the reader refuses it at any split
(``MAX_LINE`` = 16 KiB), and inputs here are at most 4 KiB. Run it with fuzz/run.py."""

from __future__ import annotations

import h11

from libchatty.exceptions import LocalProtocolError, RemoteProtocolError
from libchatty.http1body import keeps_alive, reader_for

Outcome = tuple[bytes, bool, bool, bytes, bool]  # body, failed, done, trailing, reusable


def head(selector: int, body: bytes) -> tuple[bytes, bytes, bytes]:
    """(method, head, body) for the selector byte."""
    kind = selector % 5
    if kind == 0:
        return b"GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", body
    if kind == 1:
        return (
            b"GET",
            (b"HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"),
            body,
        )
    if kind == 2:
        length = body[0] if body else 0
        return b"GET", b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length, body[1:]
    if kind == 3:
        return b"GET", b"HTTP/1.0 200 OK\r\n\r\n", body
    return b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", body


def client(method: bytes) -> h11.Connection:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "fuzz")]))
    conn.send(h11.EndOfMessage())
    return conn


def oracle(pieces: list[bytes], method: bytes) -> Outcome:
    conn = client(method)
    body: list[bytes] = []
    for i, piece in enumerate([*pieces, b""]):
        conn.receive_data(piece)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                return b"".join(body), True, False, b"", False
            if type(event) is h11.Data:
                body.append(bytes(event.data))
            elif type(event) is h11.EndOfMessage:
                if not piece:
                    return b"".join(body), False, False, b"", False
                trailing = conn.trailing_data[0] + b"".join(pieces[i + 1 :])
                return (
                    b"".join(body),
                    False,
                    True,
                    trailing,
                    (conn.their_state is h11.DONE and not trailing),
                )
            elif event is h11.NEED_DATA:
                break
    raise AssertionError("h11 neither ended nor failed at EOF")


def reader(pieces: list[bytes], method: bytes) -> Outcome:
    conn = client(method)
    later: list[bytes] = []
    for i, piece in enumerate(pieces):
        conn.receive_data(piece)
        response = conn.next_event()
        if type(response) is h11.Response:
            later = pieces[i + 1 :]
            break
    else:
        raise AssertionError("the head did not parse")
    body_reader = reader_for(method, response)
    body: list[bytes] = []
    try:
        for data in [conn.trailing_data[0], *later]:
            if data:
                got = body_reader.feed(data)
                assert type(got) is bytes
                body.append(got)
        if body_reader.done:
            trailing = body_reader.trailing
            body_reader.end_of_input()
            return b"".join(body), False, True, trailing, keeps_alive(response) and not trailing
        body.append(body_reader.feed(b""))
    except RemoteProtocolError as exc:
        assert all(type(item) is bytes for item in exc.items)
        try:
            body_reader.feed(b"\r\n")
        except LocalProtocolError:
            pass
        else:
            raise AssertionError("a failed reader accepted more input") from None
        return b"".join(body + exc.items), True, False, b"", False
    assert body_reader.done
    return b"".join(body), False, False, b"", False


def chunkings(stream: bytes, steer: bytes) -> list[list[bytes]]:
    whole = [stream]
    one_by_one = [stream[i : i + 1] for i in range(len(stream))]
    sizes = [1 + b % 13 for b in steer[:32]] or [1]
    derived, i, k = [], 0, 0
    while i < len(stream):
        n = sizes[k % len(sizes)]
        derived.append(stream[i : i + n])
        i, k = i + n, k + 1
    return [whole, one_by_one, derived]


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    method, response_head, body = head(data[0], data[1:])
    stream = response_head + body
    results = set()
    for pieces in chunkings(stream, body):
        expected = oracle(pieces, method)
        got = reader(pieces, method)
        assert got == expected, (pieces, got, expected)
        results.add(got)
    assert len(results) == 1, results


if __name__ == "__main__":
    import sys

    import atheris

    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
