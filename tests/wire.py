"""Helpers for feeding wire bytes: load a fixture, split it every way, and frame a body as
HTTP (chunked or sized) or SSE with an encoder written here, not by the code under test."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from itertools import cycle, pairwise
from pathlib import Path
from typing import Any

import h11

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    """The bytes of ``tests/fixtures/<name>`` (e.g. ``"openai-chat/stream-text.http"``)."""
    return (FIXTURES / name).read_bytes()


def expected(name: str) -> dict[str, Any]:
    """The decoded result ``expected.json`` records for fixture ``name``."""
    for entry in json.loads((FIXTURES / "expected.json").read_text()):
        if entry["file"] == name:
            return dict(entry)
    raise KeyError(name)


def fixture_names(folder: str) -> list[str]:
    return sorted(f"{folder}/{p.name}" for p in (FIXTURES / folder).iterdir())


def whole(data: bytes) -> list[bytes]:
    return [data]


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_splits(data: bytes, seed: int, max_piece: int = 64) -> list[bytes]:
    rng = random.Random(seed)
    pieces = []
    i = 0
    while i < len(data):
        n = rng.randint(1, max_piece)
        pieces.append(data[i : i + n])
        i += n
    return pieces


def splits_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (sorted, deduplicated, clipped)."""
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return [p for p in pieces if p]


def all_splittings(data: bytes, seeds: int = 5) -> Iterator[tuple[str, list[bytes]]]:
    """Whole, byte by byte, and a few random splittings, each named for test output."""
    yield "whole", whole(data)
    yield "bytes", byte_by_byte(data)
    for seed in range(seeds):
        yield f"random{seed}", random_splits(data, seed)


def cut_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at ``cuts`` taken modulo ``len(data) + 1``, so that any list of integers
    (as hypothesis draws them) is a valid splitting; never an empty piece."""
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points) if b > a]


def cycle_sizes(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` in pieces whose sizes cycle through ``sizes`` (the last may be shorter)."""
    pieces: list[bytes] = []
    at = 0
    for size in cycle(sizes):
        if at >= len(data):
            return pieces
        pieces.append(data[at : at + size])
        at += size
    raise AssertionError("unreachable")


# --- HTTP framing: written here, independently of the code under test -----------------------
def chunked(pieces: Iterable[bytes]) -> bytes:
    """A chunked body: one HTTP chunk per non-empty piece (hex size line, data, CRLF), then
    the last chunk. Where the chunk boundaries fall is exactly where ``pieces`` split."""
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


def chunked_response(
    pieces: Iterable[bytes],
    content_type: str = "text/event-stream",
    status: int = 200,
    reason: str = "OK",
    headers: bytes = b"",
) -> bytes:
    """A whole HTTP/1.1 response whose body is ``pieces`` in chunked framing; ``headers``
    (raw ``Name: value\\r\\n`` lines) go after the framing header."""
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
    head += "Transfer-Encoding: chunked\r\n"
    return head.encode() + headers + b"\r\n" + chunked(pieces)


def random_chunked(
    body: bytes, status: int = 200, content_type: str = "text/event-stream"
) -> bytes:
    """``body`` in a chunked response whose chunk boundaries fall at random (but fixed)
    places, up to 300 bytes apart."""
    return chunked_response(random_splits(body, 7, 300), content_type, status, "X")


def sized_response(
    body: bytes, content_type: str = "application/json", status: int = 200, reason: str = "OK"
) -> bytes:
    """A whole HTTP/1.1 response with ``Content-Length`` framing."""
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


# --- SSE framing -----------------------------------------------------------------------------
def sse_frame(
    data: str,
    *,
    event: str | None = None,
    eol: str = "\n",
    data_space: bool = True,
    event_space: bool = True,
    comment: str | None = None,
) -> str:
    """One server-sent event as text: an optional ``: comment`` line, an optional ``event:``
    line, one ``data:`` line per line of ``data``, then the blank line that dispatches it.
    ``eol`` is the line end (``\\n``, ``\\r\\n`` or ``\\r``); the spaces after the colons
    are optional on the wire, so each is a switch."""
    lines = [] if comment is None else [f": {comment}"]
    if event is not None:
        lines.append(f"event:{' ' if event_space else ''}{event}")
    lines.extend(f"data:{' ' if data_space else ''}{line}" for line in data.split("\n"))
    return eol.join(lines) + eol + eol


# --- the request side ----------------------------------------------------------------------
def parse_request(raw: bytes) -> tuple[h11.Request, dict[str, str], Any]:
    """One whole HTTP/1.1 request as a server reads it: the head, the headers by lower-case
    name, and the JSON body. Asserts the framing is exact: the body ends where its length
    says and nothing follows."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(raw)
    head = server.next_event()
    assert isinstance(head, h11.Request), head
    body = []
    for _ in range(len(raw) + 1):
        event = server.next_event()
        if not isinstance(event, h11.Data):
            break
        body.append(bytes(event.data))
    assert isinstance(event, h11.EndOfMessage), event
    assert server.trailing_data == (b"", False)
    headers = {k.decode(): v.decode() for k, v in head.headers}
    return head, headers, json.loads(b"".join(body))
