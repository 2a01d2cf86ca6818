"""libchatty.http1body: the body readers, with h11 as the oracle.

Every response is fed to an h11 client connection (``Data`` until ``EndOfMessage``,
then ``trailing_data``/``their_state``) and to h11-for-the-head + this module's reader,
at the same split, and both must give the same body bytes (also before a fault), the
same verdict (error or not), the same trailing bytes and the same reuse verdict.
"""

from __future__ import annotations

import importlib.util
import itertools
from dataclasses import dataclass
from pathlib import Path

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from libchatty.exceptions import LimitExceeded, LocalProtocolError, RemoteProtocolError
from libchatty.http1body import (
    MAX_LINE,
    ChunkedBody,
    CloseDelimitedBody,
    LengthBody,
    keeps_alive,
    reader_for,
)

CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@dataclass(frozen=True)
class Outcome:
    body: bytes
    failed: bool
    done: bool  # the body's end was reached before the peer closed
    trailing: bytes  # bytes after the end (only meaningful when done)
    reusable: bool


def client(method: bytes) -> h11.Connection:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "example.com")]))
    conn.send(h11.EndOfMessage())
    return conn


def via_h11(pieces: list[bytes], method: bytes = b"GET") -> Outcome:
    """The oracle: h11 alone, pieces then EOF (unless the message ended before)."""
    conn = client(method)
    body: list[bytes] = []
    for i, piece in enumerate([*pieces, b""]):
        conn.receive_data(piece)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                return Outcome(b"".join(body), True, False, b"", False)
            if type(event) is h11.Data:
                body.append(bytes(event.data))
            elif type(event) is h11.EndOfMessage:
                if not piece:  # ended by the close (HTTP/1.0 framing)
                    return Outcome(b"".join(body), False, False, b"", False)
                trailing = conn.trailing_data[0] + b"".join(pieces[i + 1 :])
                reusable = conn.their_state is h11.DONE and not trailing
                return Outcome(b"".join(body), False, True, trailing, reusable)
            elif event is h11.NEED_DATA:
                break
    raise AssertionError("h11 neither ended nor failed at EOF")


def via_reader(pieces: list[bytes], method: bytes = b"GET") -> Outcome:
    """h11 for the head only, then the reader: the wiring Call will use."""
    conn = client(method)
    body: list[bytes] = []
    later: list[bytes] = []
    for i, piece in enumerate(pieces):
        conn.receive_data(piece)
        event = conn.next_event()
        if type(event) is h11.Response:
            later = pieces[i + 1 :]
            break
        assert event is h11.NEED_DATA, event
    else:
        raise AssertionError("no head")
    reader = reader_for(method, event)
    rest = conn.trailing_data[0]
    try:
        for data in [rest, *later]:
            if data and not reader.done:
                body.append(reader.feed(data))
            elif data:
                assert reader.feed(data) == b""  # after the end: kept as trailing
        if reader.done:
            trailing = reader.trailing
            reusable = keeps_alive(event) and not trailing
            reader.end_of_input()  # a close after a complete body is no fault
            assert reader.done and reader.trailing == trailing
            return Outcome(b"".join(body), False, True, trailing, reusable)
        body.append(reader.feed(b""))
    except RemoteProtocolError as exc:
        assert all(type(item) is bytes and item for item in exc.items)
        assert not reader.done
        with pytest.raises(LocalProtocolError):
            reader.feed(b"x")
        with pytest.raises(LocalProtocolError):
            reader.end_of_input()
        return Outcome(b"".join(body + exc.items), True, False, b"", False)
    assert isinstance(reader, CloseDelimitedBody) and reader.done and not reader.trailing
    return Outcome(b"".join(body), False, False, b"", False)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def agree(response: bytes, cuts: list[int], method: bytes = b"GET") -> Outcome:
    """Whole, byte by byte and at ``cuts``: both sides give one and the same outcome."""
    outcomes = set()
    for pieces in (
        [response],
        [response[i : i + 1] for i in range(len(response))],
        split(response, cuts),
    ):
        oracle = via_h11(pieces, method)
        assert via_reader(pieces, method) == oracle, pieces
        outcomes.add(oracle)
    assert len(outcomes) == 1, outcomes
    return outcomes.pop()


# --- generated responses ---------------------------------------------------------------

# (valid, broken) choices for each part of a chunked body; a part is broken 1 time in 10.
EXTENSIONS = (
    [b""] * 8 + [b";a=b", b";x", b'; q="1 2"', b";\r", b";;", b";\x00\xff", b";"],
    [b";a\nb", b" ;x", b"\n"],
)
SIZE_FORMS = (
    ["{:x}", "{:X}", "0{:x}", "{:020x}"],
    ["{:021x}", "0x{:x}", " {:x}", "+{:x}", "{:x}g", "-{:x}"],
)
SIZE_ERRORS = ([0], [-1, 1, 3])
AFTER_DATA = ([b"\r\n"], [b"\n", b"\r", b"", b"\r\r\n", b"xx", b"\n\r"])
LINE_ENDS = (
    [b"\r\n", b" \r\n", b"\t\r\n", b" \t \r\n"],
    [b"\n", b"\r", b"\n\r\n", b"\r\r\n", b""],
)
TRAILER_FIELDS = (
    [
        b"X-Checksum: abc",
        b"Server-Timing: db;dur=53",
        b"x:",
        b"Content-Length: 5",
        b"content-length: 5, 5",
        b"Transfer-Encoding: chunked",
        b"  folded on",
        b"X: a \t b",
        b"Server-Timing: db; dur=53 desc",
    ],
    [
        b"X",
        b" 5",  # folded onto a Content-Length: "5 5" is bad, "55" would not be
        b"Content-Length: 6",
        b"Content-Length: 5, 6",
        b"Content-Length: a",
        b"Content-Length: 123456789012345678901",
        b"Transfer-Encoding: gzip",
        b"bad line",
        b"X: a\x00b",
        b": empty name",
        b"X : space before colon",
    ],
)
END_OF_TRAILERS = ([b"\r\n", b"\n"], [b"\r", b"", b"\r\r\n"])
AFTER_END = [b"", b"", b"", b"HTTP/1.1 200 OK\r\n\r\n", b"\r\n", b"0\r\n\r\n", b"garbage"]


def part(draw: st.DrawFn, choices: tuple[list[bytes], list[bytes]]) -> bytes:
    broken = draw(st.integers(0, 9)) == 0
    return draw(st.sampled_from(choices[broken]))


@st.composite
def chunked_bodies(draw: st.DrawFn) -> bytes:
    out: list[bytes] = []
    for data in draw(st.lists(st.binary(min_size=1, max_size=40), max_size=6)):
        broken = draw(st.integers(0, 9)) == 0
        size = max(len(data) + draw(st.sampled_from(SIZE_ERRORS[broken])), 0)
        out.append(draw(st.sampled_from(SIZE_FORMS[broken])).format(size).encode())
        out.append(part(draw, EXTENSIONS))
        out.append(part(draw, LINE_ENDS))
        out.append(data)
        out.append(part(draw, AFTER_DATA))
    out.append(draw(st.sampled_from([b"0", b"0", b"000", b"00000000000000000000"])))
    out.append(part(draw, EXTENSIONS))
    out.append(part(draw, LINE_ENDS))
    for _ in range(draw(st.integers(0, 3))):
        out.append(part(draw, TRAILER_FIELDS) + part(draw, LINE_ENDS))
    out.append(part(draw, END_OF_TRAILERS))
    return b"".join(out)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(method, response bytes): a valid head, then a body that may be broken."""
    framing = draw(st.sampled_from(["chunked", "chunked", "length", "close", "empty"]))
    close = draw(st.sampled_from([b"", b"", b"Connection: close\r\n"]))
    method = b"GET"
    if framing == "chunked":
        head = b"HTTP/1.1 200 OK\r\n" + close + b"Transfer-Encoding: chunked\r\n\r\n"
        body = draw(chunked_bodies())
    elif framing == "length":
        body = draw(st.binary(max_size=60))
        length = max(len(body) + draw(st.sampled_from([0, 0, 0, -3, -1, 1, 5])), 0)
        head = b"HTTP/1.1 200 OK\r\n" + close + b"Content-Length: %d\r\n\r\n" % length
    elif framing == "close":
        body = draw(st.binary(max_size=60))
        version = draw(st.sampled_from([b"1.0", b"1.1"]))
        head = b"HTTP/" + version + b" 200 OK\r\n" + close + b"\r\n"
    else:  # a body the status or method rules out, whatever the headers say
        body = b""
        method, status = draw(st.sampled_from([(b"HEAD", b"200"), (b"GET", b"204")]))
        head = b"HTTP/1.1 " + status + b" X\r\nContent-Length: 7\r\n" + close + b"\r\n"
    # Mutate a byte now and then (bad hex, missing CR, ...), cut the stream short, add
    # bytes after its end.
    if body and draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(body) - 1))
        body = (
            body[:at] + draw(st.sampled_from(b"\r\n0;aG :\t")).to_bytes(1, "big") + body[at + 1 :]
        )
    if body and draw(st.integers(0, 5)) == 0:
        body = body[: draw(st.integers(0, len(body) - 1))]
    body += draw(st.sampled_from(AFTER_END))
    return method, head + body


@given(responses(), st.lists(st.integers(0, 10_000), max_size=12))
def test_same_outcome_as_h11_at_any_split(case: tuple[bytes, bytes], cuts: list[int]) -> None:
    method, response = case
    agree(response, cuts, method)


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=8), st.lists(st.integers()))
def test_valid_chunked_bodies_come_out_whole(chunks: list[bytes], cuts: list[int]) -> None:
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    outcome = agree(CHUNKED_HEAD + wire, cuts)
    assert outcome == Outcome(b"".join(chunks), False, True, b"", True)


# --- fixed cases ---------------------------------------------------------------------------


def feed_all(reader: ChunkedBody | LengthBody | CloseDelimitedBody, pieces: list[bytes]) -> bytes:
    return b"".join(reader.feed(p) for p in pieces)


LIVE = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in [b'data: {"a":1}\n\n'] * 3)


@pytest.mark.parametrize("how", ["whole", "bytes", "per-chunk"])
def test_live_shape_one_chunk_per_read(how: str) -> None:
    wire = LIVE + b"0\r\n\r\n"
    chunk = LIVE[: len(LIVE) // 3]
    pieces = {
        "whole": [wire],
        "bytes": [wire[i : i + 1] for i in range(len(wire))],
        "per-chunk": [chunk, chunk, chunk, b"0\r\n\r\n"],
    }[how]
    reader = ChunkedBody()
    assert feed_all(reader, pieces) == b'data: {"a":1}\n\n' * 3
    assert reader.done and reader.trailing == b""


def test_crlf_after_data_split_across_reads() -> None:
    reader = ChunkedBody()
    assert reader.feed(b"1\r\nx\r") == b"x"
    assert reader.feed(b"\n1\r\ny\r\n0\r\n\r\n") == b"y"
    assert reader.done
    reader = ChunkedBody()
    assert reader.feed(b"1\r\nx\r") == b"x"
    with pytest.raises(RemoteProtocolError, match=r"^chunk data not followed by CRLF$"):
        reader.feed(b"\r\n0\r\n\r\n")
    assert via_h11([CHUNKED_HEAD + b"1\r\nx\r", b"\r\n0\r\n\r\n"]).failed


def test_one_bytes_per_read_not_one_per_chunk() -> None:
    reader = ChunkedBody()
    assert reader.feed(b"3\r\nabc\r\n2\r\nde\r\n1") == b"abcde"
    assert reader.feed(b"\r\nf\r\n0\r\n\r\n") == b"f"
    assert reader.done


def test_chunk_data_is_returned_as_it_arrives() -> None:
    reader = ChunkedBody()
    assert reader.feed(b"a\r\n01234") == b"01234"
    assert reader.feed(b"56") == b"56"
    assert reader.feed(b"789\r") == b"789"
    assert reader.feed(b"\n0\r\n") == b""
    assert not reader.done
    assert reader.feed(b"\r\n") == b""
    assert reader.done


def test_extensions_whitespace_and_trailers_are_accepted_and_dropped() -> None:
    wire = b"5;name=value;x\t \r\nhello\r\n0;last\r\nX-Sum: 1\r\n folded\r\n\r\nNEXT"
    assert agree(CHUNKED_HEAD + wire, [7, 19, 40]) == Outcome(b"hello", False, True, b"NEXT", False)
    reader = ChunkedBody()
    assert reader.feed(wire) == b"hello"
    assert reader.done and reader.trailing == b"NEXT"


@pytest.mark.parametrize("size", [b"1a", b"1A", b"010"])
def test_a_size_with_an_extension_is_read_as_hex(size: bytes) -> None:
    # A size line with an extension leaves the bare-hex fast path: its pattern's digits
    # are hex as well (0x1a = 26 bytes; 0x10 with a leading zero = 16).
    data = bytes(range(97, 97 + 26))[: int(size, 16)]
    wire = size + b";ext=1\r\n" + data + b"\r\n0\r\n\r\n"
    assert agree(CHUNKED_HEAD + wire, [5]) == Outcome(data, False, True, b"", True)
    reader = ChunkedBody()
    assert reader.feed(wire) == data
    assert reader.done


def test_bytes_after_the_end_are_trailing_and_forbid_reuse() -> None:
    reader = ChunkedBody()
    assert reader.feed(b"1\r\na\r\n0\r\n\r\nHTTP/1.1") == b"a"
    assert reader.done and reader.trailing == b"HTTP/1.1"
    assert reader.feed(b" 200") == b""
    assert reader.trailing == b"HTTP/1.1 200"
    reader.end_of_input()
    assert reader.trailing == b"HTTP/1.1 200"


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"g\r\n", "invalid chunk-size line b'g'"),
        (b"0x5\r\nhello\r\n", "invalid chunk-size line b'0x5'"),
        (b" 5\r\nhello\r\n", "invalid chunk-size line b' 5'"),
        (b"5 ;x\r\nhello\r\n", "invalid chunk-size line b'5 ;x'"),
        (b"\r\n", "invalid chunk-size line b''"),
        (b"5\nhello\r\n", "invalid chunk-size line b'5\\nhello'"),
        (b"5\r\nhelloXY", "chunk data not followed by CRLF"),
        (b"5\r\nhello\n", "chunk data not followed by CRLF"),
        (b"5\r\nhello\r\r", "chunk data not followed by CRLF"),
        (b"0\r\nbad line\r\n\r\n", "invalid trailer field b'bad line'"),
        (b"0\r\n folded\r\n\r\n", "a trailer section starts with a continuation line"),
        (b"0\r\nContent-Length: 1, 2\r\n\r\n", "invalid Content-Length trailer"),
        (b"0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "invalid Content-Length trailer"),
        (b"0\r\nTransfer-Encoding: gzip\r\n\r\n", "invalid Transfer-Encoding trailer"),
        (
            b"0\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "invalid Transfer-Encoding trailer",
        ),
    ],
)
def test_malformed_framing_is_a_typed_error_naming_the_fault(wire: bytes, message: str) -> None:
    assert agree(CHUNKED_HEAD + wire, [3]).failed
    for pieces in ([wire], [wire[i : i + 1] for i in range(len(wire))]):
        reader = ChunkedBody()
        with pytest.raises(RemoteProtocolError) as caught:
            feed_all(reader, pieces)
        assert str(caught.value) == message
        assert type(caught.value) is RemoteProtocolError


@pytest.mark.parametrize(
    ("section", "ok"),
    [
        (b"Content-Length: 5, 5\r\n\r\n", True),
        (b"Content-Length: 5\r\ncontent-length:5\r\n\r\n", True),
        (b"Content-Length: 5\r\n 5\r\n\r\n", False),  # folded: "5 5"
        (b"Content-Length: 5,\r\n 5\r\n\r\n", True),  # folded: "5, 5"
        (b"Content-Length: 1234567890123456789\r\n\r\n", True),
        (b"Content-Length: 123456789012345678901\r\n\r\n", False),
        (b"Transfer-Encoding: CHUNKED\r\n\r\n", True),
        (b"X: a b\t c  \r\n\tmore\r\n\r\n", True),
        (b"X: a\rb\r\n\r\n", False),
        (b"X:\r\n\n", True),
    ],
)
def test_trailer_fields_are_checked_as_h11_checks_them(section: bytes, ok: bool) -> None:
    wire = b"1\r\nx\r\n0\r\n" + section
    assert agree(CHUNKED_HEAD + wire, [12]).failed is not ok
    reader = ChunkedBody()
    if ok:
        assert reader.feed(wire) == b"x" and reader.done
    else:
        with pytest.raises(RemoteProtocolError):
            reader.feed(wire)


def test_error_messages_quote_only_a_few_bytes() -> None:
    reader = ChunkedBody()
    with pytest.raises(RemoteProtocolError) as caught:
        reader.feed(b"Bearer sk-live-0123456789abcdef\r\n")
    assert str(caught.value) == "invalid chunk-size line b'Bearer s'..."


def test_body_bytes_before_a_fault_ride_on_the_exception() -> None:
    reader = ChunkedBody()
    with pytest.raises(RemoteProtocolError) as caught:
        reader.feed(b"3\r\nabc\r\n2\r\nde\r\nzz\r\n")
    assert caught.value.items == [b"abcde"]
    with pytest.raises(LocalProtocolError, match="the body reader already failed"):
        reader.feed(b"0\r\n\r\n")


def test_end_of_input_before_the_end_is_an_incomplete_body() -> None:
    for wire in [b"", b"5\r\nhel", b"5\r\nhello\r\n", b"0\r\n", b"0\r\nX: 1\r\n"]:
        assert agree(CHUNKED_HEAD + wire, [4]).failed
        reader = ChunkedBody()
        if wire:
            reader.feed(wire)
        with pytest.raises(RemoteProtocolError, match=r"^the peer closed before the end of the"):
            reader.feed(b"")
    length = LengthBody(5)
    assert length.feed(b"hel") == b"hel"
    with pytest.raises(RemoteProtocolError, match=r"^the peer closed after 3 of 5 body bytes$"):
        length.end_of_input()
    with pytest.raises(LocalProtocolError):
        length.feed(b"lo")


def test_content_length_body() -> None:
    reader = LengthBody(5)
    assert reader.feed(b"he") == b"he"
    assert not reader.done
    assert reader.feed(b"lloHTTP") == b"llo"
    assert reader.done and reader.trailing == b"HTTP"
    empty = LengthBody(0)
    assert empty.done
    assert empty.feed(b"x") == b"" and empty.trailing == b"x"
    with pytest.raises(LocalProtocolError):
        LengthBody(-1)


def test_close_delimited_body_ends_at_close() -> None:
    reader = CloseDelimitedBody()
    assert reader.feed(b"abc") == b"abc"
    assert not reader.done
    assert reader.feed(b"") == b""
    assert reader.done and reader.trailing == b""


# --- bounds: each at the limit and one past ------------------------------------------------


def h11_byte_by_byte_fails(wire: bytes) -> bool:
    return via_h11([wire[i : i + 1] for i in range(len(wire))]).failed


def test_size_digits_bound_20_and_21() -> None:
    ok = b"0" * 19 + b"1\r\nx\r\n0\r\n\r\n"
    assert agree(CHUNKED_HEAD + ok, [30]) == Outcome(b"x", False, True, b"", True)
    assert agree(CHUNKED_HEAD + b"0" + ok, [30]).failed
    huge = b"f" * 20 + b"\r\nabc"  # 2**80 - 1: no allocation, bytes flow as they come
    reader = ChunkedBody()
    assert reader.feed(huge) == b"abc"


@pytest.mark.parametrize("extra", [0, 1])
def test_size_line_bound_matches_h11_byte_by_byte(extra: int) -> None:
    # The size line's bytes up to and including its CR: MAX_LINE is allowed.
    line = b"1;" + b"e" * (MAX_LINE - 3 + extra)
    wire = line + b"\r\nx\r\n0\r\n\r\n"
    assert len(line) + 1 == MAX_LINE + extra
    fails = bool(extra)
    assert h11_byte_by_byte_fails(CHUNKED_HEAD + wire) is fails
    for pieces in ([wire], [wire[i : i + 1] for i in range(len(wire))], [line, wire[len(line) :]]):
        reader = ChunkedBody()
        if fails:
            with pytest.raises(LimitExceeded, match=r"^the chunk-size line is too long$"):
                feed_all(reader, pieces)
        else:
            assert feed_all(reader, pieces) == b"x" and reader.done
    # The documented difference: h11 takes the over-long line when it comes in one read.
    assert not via_h11([CHUNKED_HEAD + wire]).failed


def test_held_size_line_bound() -> None:
    reader = ChunkedBody()
    assert reader.feed(b"1;" + b"e" * (MAX_LINE - 2)) == b""  # MAX_LINE held: still fine
    with pytest.raises(LimitExceeded, match=r"^the chunk-size line is too long$"):
        reader.feed(b"e")
    assert h11_byte_by_byte_fails(CHUNKED_HEAD + b"1;" + b"e" * (MAX_LINE - 1))
    assert not via_h11([CHUNKED_HEAD + b"1;" + b"e" * (MAX_LINE - 2), b"\r\nx\r\n0\r\n\r\n"]).failed


@pytest.mark.parametrize("extra", [0, 1])
def test_trailer_section_bound_matches_h11_byte_by_byte(extra: int) -> None:
    # The section's bytes before its final LF: MAX_LINE is allowed.
    field = b"X: " + b"v" * (MAX_LINE - 6 + extra) + b"\r\n"
    section = field + b"\r\n"
    assert len(section) - 1 == MAX_LINE + extra
    wire = b"1\r\nx\r\n0\r\n" + section
    fails = bool(extra)
    assert h11_byte_by_byte_fails(CHUNKED_HEAD + wire) is fails
    for pieces in ([wire], [wire[i : i + 1] for i in range(len(wire))]):
        reader = ChunkedBody()
        if fails:
            with pytest.raises(LimitExceeded) as caught:
                feed_all(reader, pieces)
            assert str(caught.value) == "the trailer section is too long"
        else:
            assert feed_all(reader, pieces) == b"x" and reader.done
    assert not via_h11([CHUNKED_HEAD + wire]).failed  # the documented difference


def test_held_trailer_bound() -> None:
    reader = ChunkedBody()
    reader.feed(b"0\r\n")
    assert reader.feed(b"X: " + b"v" * (MAX_LINE - 3)) == b""  # MAX_LINE held
    with pytest.raises(LimitExceeded, match=r"^the trailer section is too long$"):
        reader.feed(b"v")


@pytest.mark.parametrize(
    "pieces",
    [
        [b"0\r\n", b"\r", b"\n"],
        [b"0\r\nX: 1\r", b"\n", b"\r", b"\nrest"],
        [b"0\r\nX: 1\n", b"\nrest"],
        [b"0\r\nX: 1\r\n\r", b"\nrest"],
        [b"0\r\n\n", b"rest"],
        [b"0\r\nx", b"\n\r\n"],
    ],
)
def test_trailer_end_split_across_reads(pieces: list[bytes]) -> None:
    wire = b"".join(pieces)
    if pieces[0] == b"0\r\nx":  # one byte held, then LF: not an empty section
        with pytest.raises(RemoteProtocolError, match=r"^invalid trailer field b'x'$"):
            feed_all(ChunkedBody(), pieces)
        assert agree(CHUNKED_HEAD + wire, [len(CHUNKED_HEAD) + 4]).failed
        return
    expected = b"rest" if wire.endswith(b"rest") else b""
    reader = ChunkedBody()
    assert feed_all(reader, pieces) == b""
    assert reader.done and reader.trailing == expected
    assert agree(CHUNKED_HEAD + wire, [len(CHUNKED_HEAD) + len(pieces[0])]).trailing == expected


# --- framing and keep-alive from the head -------------------------------------------------


@pytest.mark.parametrize(
    ("method", "head", "kind", "alive"),
    [
        (b"GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", ChunkedBody, True),
        (
            b"GET",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            ChunkedBody,
            True,
        ),
        (b"GET", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", LengthBody, True),
        (
            b"GET",
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n",
            CloseDelimitedBody,
            False,
        ),
        (b"GET", b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", LengthBody, False),
        (
            b"GET",
            b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
            LengthBody,
            True,
        ),
        (b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", LengthBody, True),
        (b"GET", b"HTTP/1.1 304 Not Modified\r\n\r\n", LengthBody, True),
    ],
)
def test_reader_for_and_keeps_alive_follow_h11(
    method: bytes, head: bytes, kind: type, alive: bool
) -> None:
    conn = client(method)
    conn.receive_data(head)
    response = conn.next_event()
    assert type(response) is h11.Response
    reader = reader_for(method, response)
    assert type(reader) is kind
    assert keeps_alive(response) is alive
    if kind is LengthBody:
        assert isinstance(reader, LengthBody)
        assert reader.length == (3 if b"Content-Length: 3" in head and method == b"GET" else 0)


@given(
    st.lists(
        st.tuples(
            st.binary(min_size=1, max_size=50), st.sampled_from(SIZE_FORMS[0] + SIZE_FORMS[1])
        ),
        max_size=6,
    ),
    st.sampled_from([0, 0, -1, 1]),
)
def test_one_chunk_per_read_agrees_with_h11(chunks: list[tuple[bytes, str]], skew: int) -> None:
    # The live shape takes ChunkedBody's one-chunk fast path: it must judge as h11 does.
    frames = [
        form.format(max(len(data) + skew, 0)).encode() + b"\r\n" + data + b"\r\n"
        for data, form in chunks
    ]
    pieces = [CHUNKED_HEAD, *frames, b"0\r\n\r\n"]
    assert via_reader(pieces) == via_h11(pieces)


def test_fuzz_target_passes_its_seeds() -> None:
    root = Path(__file__).resolve().parent.parent / "fuzz"
    spec = importlib.util.spec_from_file_location("fuzz_http1body", root / "fuzz_http1body.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seeds = sorted((root / "corpus" / "http1body").iterdir())
    assert len(seeds) >= 10
    for seed in seeds:
        module.TestOneInput(seed.read_bytes())


# --- pinned by mutation testing (mutate/run.py http1body) ------------------------------------


def test_a_close_delimited_body_after_its_end_keeps_late_bytes_as_trailing() -> None:
    reader = CloseDelimitedBody()
    assert reader.feed(b"abc") == b"abc"
    assert reader.feed(b"") == b""
    assert reader.feed(b"late") == b""
    assert reader.done and reader.trailing == b"late"


def test_a_negative_length_is_refused_by_name() -> None:
    with pytest.raises(LocalProtocolError) as refused:
        LengthBody(-1)
    assert str(refused.value) == "a body length cannot be negative"


@pytest.mark.parametrize(
    ("headers", "alive"),
    [
        (b"X-Note: close\r\n", True),  # only the Connection header decides
        (b"Connection: upgrade, close\r\n", False),
        (b"Connection: upgrade,CLOSE\r\n", False),
        (b"Connection: closed\r\n", True),  # a token, not a substring
        (b"Connection: keep-alive\r\n", True),
    ],
)
def test_keeps_alive_reads_only_the_connection_tokens(headers: bytes, alive: bool) -> None:
    conn = client(b"POST")
    conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + headers + b"\r\n")
    response = conn.next_event()
    assert type(response) is h11.Response
    assert keeps_alive(response) is alive


@pytest.mark.parametrize(
    ("method", "status", "length"),
    [
        (b"CONNECT", 200, 0),  # a tunnel: the bytes after the head are not a body
        (b"CONNECT", 201, 0),
        (b"CONNECT", 299, 0),
        (b"CONNECT", 300, 3),
        (b"CONNECT", 404, 3),
        (b"connect", 200, 3),  # methods are case-sensitive
        (b"POST", 200, 3),
    ],
)
def test_a_2xx_answer_to_connect_has_no_body(method: bytes, status: int, length: int) -> None:
    response = h11.Response(status_code=status, headers=[("Content-Length", "3")])
    reader = reader_for(method, response)
    assert isinstance(reader, LengthBody) and reader.length == length


def test_a_failed_reader_is_not_done_and_refuses_more() -> None:
    reader = ChunkedBody()
    with pytest.raises(RemoteProtocolError):
        reader.feed(b"zz\r\n")
    assert reader.done is False
    with pytest.raises(LocalProtocolError) as refused:
        reader.feed(b"0\r\n\r\n")
    assert str(refused.value) == "the body reader already failed"


def test_an_empty_trailer_split_after_its_cr_ends_exactly_there() -> None:
    reader = ChunkedBody()
    assert reader.feed(b"3\r\nabc\r\n0\r\n\r") == b"abc"
    assert not reader.done
    assert reader.feed(b"\nNEXT") == b""
    assert reader.done and reader.trailing == b"NEXT"


def test_a_blank_line_inside_chunk_data_does_not_end_the_trailer_section() -> None:
    # The trailer section is searched from where it starts, not from the read's start.
    wire = b"5\r\na\n\nbc\r\n0\r\nX-Sum: 1\r\n\r\n"
    reader = ChunkedBody()
    assert reader.feed(wire) == b"a\n\nbc"
    assert reader.done and reader.trailing == b""
    reader = ChunkedBody()
    assert reader.feed(wire + b"MORE") == b"a\n\nbc"
    assert reader.done and reader.trailing == b"MORE"


# The one-chunk-per-read fast path of ChunkedBody.feed must give what the general reader
# gives: each case is a read shape that could fool a looser check.
FAST_PATH_CASES = [
    # mid-chunk bytes that look like a whole chunk are chunk data
    ([b"6\r\n", b"1\r\nx\r\n"], [b"", b"1\r\nx\r\n"], None),
    # a size line split across reads ("21" hex), not a chunk of size 1
    ([b"2", b"1\r\nx\r\n"], [b"", b"x\r\n"], None),
    ([b"0" * 19 + b"1\r\nx\r\n"], [b"x"], None),  # 20 digits: the bound
    ([b"0" * 20 + b"1\r\nx\r\n"], [], "invalid chunk-size line b'00000000'..."),  # 21
    ([b"0" * 21 + b"1\r\nx\r\n"], [], "invalid chunk-size line b'00000000'..."),  # 22
    ([b"0" * 29 + b"1\x00\x00x\r\n"], [], "invalid chunk-size line b'00000000'..."),
    ([b"4XX\r\nXX\r\n"], [], "invalid chunk-size line b'4XX'"),
    ([b" \r\nx\r\n"], [], "invalid chunk-size line b' '"),
    # one byte too many for the size: the slow path finds no CRLF after the data
    ([b"10\r\n" + b"y" * 17 + b"\r\n"], [], "chunk data not followed by CRLF"),
    # a read shorter than its chunk leaves the reader inside the chunk
    ([b"02\r\n", b"ab\r\n0\r\n\r\n"], [b"", b"ab"], None),
    ([b"c\r\nabcd\r\n"], [b"abcd\r\n"], None),
    # the right length, but no CRLF after the data
    ([b"4\r\nXX\r\nXX"], [], "chunk data not followed by CRLF"),
    # the same inside a read of several chunks (the whole-chunk shortcut of _feed)
    ([b"1\r\nxXX\r\nXX"], [], "chunk data not followed by CRLF"),
    # the CRLF is looked for after the chunk's last byte, not at the read's start
    ([b"3\r\nab", b"\r\nXX"], [b"ab"], "chunk data not followed by CRLF"),
]


@pytest.mark.parametrize(("reads", "bodies", "fault"), FAST_PATH_CASES)
def test_the_one_chunk_fast_path_agrees_with_the_general_reader(
    reads: list[bytes], bodies: list[bytes], fault: str | None
) -> None:
    reader = ChunkedBody()
    got = []
    if fault is None:
        got = [reader.feed(read) for read in reads]
    else:
        with pytest.raises(RemoteProtocolError) as exc:
            for read in reads:
                got.append(reader.feed(read))
        assert str(exc.value) == fault
    assert got == bodies
    assert reader.done is (reads[-1].endswith(b"0\r\n\r\n") and fault is None)


def test_held_bounds_count_only_the_held_bytes_when_they_start_mid_read() -> None:
    # The held part begins after a whole chunk (pos > 0): only its own bytes count.
    reader = ChunkedBody()
    assert reader.feed(b"1\r\nx\r\n1;" + b"e" * (MAX_LINE - 2)) == b"x"  # MAX_LINE held
    with pytest.raises(LimitExceeded, match=r"^the chunk-size line is too long$"):
        reader.feed(b"e")
    reader = ChunkedBody()
    assert reader.feed(b"1\r\nx\r\n0\r\nX: " + b"v" * (MAX_LINE - 3)) == b"x"  # MAX_LINE held
    with pytest.raises(LimitExceeded, match=r"^the trailer section is too long$"):
        reader.feed(b"v")


def test_a_size_line_past_the_bound_in_one_read_is_named() -> None:
    for wire in (b"1;" + b"e" * (MAX_LINE - 1), b"1\r\nx\r\n1;" + b"e" * (MAX_LINE - 1)):
        with pytest.raises(LimitExceeded) as caught:
            ChunkedBody().feed(wire)
        assert str(caught.value) == "the chunk-size line is too long"


def test_a_size_line_is_bounded_by_its_own_length_not_its_place_in_the_read() -> None:
    big = b"d" * MAX_LINE
    wire = b"%x\r\n" % len(big) + big + b"\r\n1;ext=1\r\nx\r\n0\r\n\r\n"
    reader = ChunkedBody()
    assert reader.feed(wire) == big + b"x"
    assert reader.done and reader.trailing == b""
