"""SSEDecoder: the WHATWG event stream interpretation, any chunking, bounded, linear.

Three independent checks: hand-written spec cases; an SSE *encoder* (below) whose random
event sequences must come back unchanged; and a plain line-by-line reference parser
written straight from the specification, compared with the decoder on arbitrary bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire import all_splittings, byte_by_byte, fixture, fixture_names, splits_at

from libchatty.exceptions import LimitExceeded, LocalProtocolError
from libchatty.sse import ServerSentEvent, SSEDecoder

# -- helpers ------------------------------------------------------------------------------


def decode(chunks: list[bytes], **kwargs: object) -> list[ServerSentEvent]:
    decoder = SSEDecoder(**kwargs)  # type: ignore[arg-type]
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def every_way(data: bytes, **kwargs: object) -> list[ServerSentEvent]:
    """Decode whole, byte by byte and at random splits; all must agree."""
    results = {name: decode(chunks, **kwargs) for name, chunks in all_splittings(data)}
    first = results["whole"]
    for name, events in results.items():
        assert events == first, name
    return first


def at_blank_lines(data: bytes) -> list[bytes]:
    """Chunks that each end at a blank line (as a live stream's reads do), then the rest:
    the decoder's whole-events lane."""
    pieces = data.split(b"\n\n")
    chunks = [piece + b"\n\n" for piece in pieces[:-1]]
    return [*chunks, pieces[-1]] if pieces[-1] else chunks


def ev(
    data: str, event: str = "message", id: str = "", retry: int | None = None
) -> ServerSentEvent:
    return ServerSentEvent(event=event, data=data, id=id, retry=retry)


@dataclass
class Reference:
    """The specification's steps, one line at a time, on the decoded text."""

    events: list[ServerSentEvent] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    last_id: str = ""
    retry: int | None = None

    def run(self, stream: bytes) -> Reference:
        if stream.startswith(b"\xef\xbb\xbf"):
            stream = stream[3:]
        text = stream.decode("utf-8", "replace")
        lines = re.split(r"\r\n|\r|\n", text)[:-1]  # the unterminated rest is discarded
        data, event_type, id_buffer = "", "", self.last_id
        for line in lines:
            if line == "":
                self.last_id = id_buffer
                if data == "":
                    event_type = ""
                    continue
                if data.endswith("\n"):
                    data = data[:-1]
                self.events.append(ev(data, event_type or "message", self.last_id, self.retry))
                data, event_type = "", ""
                continue
            if line.startswith(":"):
                self.comments.append(line[2:] if line.startswith(": ") else line[1:])
                continue
            name, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if name == "event":
                event_type = value
            elif name == "data":
                data += value + "\n"
            elif name == "id":
                if "\0" not in value:
                    id_buffer = value
            elif name == "retry":
                if value and all(c in "0123456789" for c in value):
                    self.retry = int(value)
            else:
                self.unknown.append((name, value))
        return self


def observed(chunks: list[bytes]) -> Reference:
    """What the decoder reports, in the Reference's shape."""
    seen = Reference()
    decoder = SSEDecoder(
        on_comment=seen.comments.append, on_unknown_field=lambda n, v: seen.unknown.append((n, v))
    )
    for chunk in chunks:
        seen.events.extend(decoder.feed(chunk))
    seen.events.extend(decoder.close())
    seen.last_id, seen.retry = decoder.last_event_id, decoder.retry
    assert decoder.comments == len(seen.comments)
    return seen


# -- the specification's own examples -----------------------------------------------------


def test_spec_example_stock_ticker() -> None:
    assert every_way(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [ev("YHOO\n+2\n10")]


def test_spec_example_ids_and_unterminated_last_event() -> None:
    stream = (
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
        b"data:  third event\n"
    )
    assert every_way(stream) == [ev("first event", id="1"), ev("second event", id="")]


def test_spec_example_empty_data_lines() -> None:
    assert every_way(b"data\n\ndata\ndata\n\ndata:") == [ev(""), ev("\n")]


def test_spec_example_space_after_colon_is_optional() -> None:
    assert every_way(b"data:test\n\ndata: test\n\n") == [ev("test"), ev("test")]


# -- the points popular decoders get wrong ------------------------------------------------


def test_one_bom_is_stripped_even_split_across_chunks() -> None:
    assert every_way(b"\xef\xbb\xbfdata: x\n\n") == [ev("x")]
    for cut in (1, 2, 3):
        stream = b"\xef\xbb\xbfdata: x\n\n"
        assert decode([stream[:cut], stream[cut:]]) == [ev("x")]


def test_only_one_bom_is_stripped() -> None:
    unknown: list[tuple[str, str]] = []
    decoder = SSEDecoder(on_unknown_field=lambda n, v: unknown.append((n, v)))
    assert decoder.feed(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n") == []
    assert unknown == [("\ufeffdata", "x")]


def test_bom_after_the_start_is_not_stripped() -> None:
    assert every_way(b"data: a\n\n\xef\xbb\xbfdata: b\n\n") == [ev("a")]


def test_partial_bom_then_other_bytes() -> None:
    assert every_way(b"\xef\xbbdata: x\n\n") == []  # "\ufffddata" is an unknown field
    assert every_way(b"\xefdata: x\n\n\ndata: y\n\n") == [ev("y")]


@pytest.mark.parametrize("end", [b"\n", b"\r", b"\r\n"])
def test_every_line_ending(end: bytes) -> None:
    stream = b"event: e" + end + b"data: a" + end + b"data: b" + end + end
    assert every_way(stream) == [ev("a\nb", event="e")]


def test_cr_then_lf_split_across_chunks_is_one_terminator() -> None:
    assert decode([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [ev("a\nb")]
    assert decode([b"data: a\r", b"\r\n"]) == [ev("a")]
    assert decode([b"data: a\r", b"\r", b"\n"]) == [ev("a")]


def test_invalid_utf8_becomes_replacement_and_never_raises() -> None:
    assert every_way(b"data: \xff\xfe\n\n") == [ev("\ufffd\ufffd")]
    assert every_way(b"data: \xe2\x82\n\n") == [ev("\ufffd")]  # one per maximal subpart
    assert every_way(b"data: \xed\xa0\x80\n\n") == [ev("\ufffd\ufffd\ufffd")]  # a surrogate
    assert every_way(b"event: \xc3\n\xff: v\ndata: \xf0\x9f\x98\n\n") == [
        ev("\ufffd", event="\ufffd")
    ]


def test_multibyte_characters_split_across_chunks() -> None:
    stream = "data: é€😀 日本\n\n".encode()
    assert every_way(stream) == [ev("é€😀 日本")]
    for cut in range(len(stream)):
        assert decode([stream[:cut], stream[cut:]]) == [ev("é€😀 日本")]


def test_blank_line_with_empty_data_buffer_dispatches_nothing_and_resets_type() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: add\nid: 7\n\n") == []
    assert decoder.last_event_id == "7"
    # "data:x" (no space) and two data lines are not fast-path shapes: the event is built
    # from the type buffer, which the blank line above must have emptied.
    assert decoder.feed(b"data:x\n\n") == [ev("x", id="7")]
    assert decoder.feed(b"event: add\n\ndata: a\ndata: b\n\n") == [ev("a\nb", id="7")]
    # The same streams whole, byte by byte, at random splits and in reads ending at blank
    # lines: every path that reads the type buffer sees it reset.
    for stream in (
        b"event: add\nid: 7\n\ndata:x\n\n",
        b"event: add\n\ndata: x\n\n",
        b"event: add\n\ndata: x\r\n\r\n",
        b"event: add\r\rdata: x\ndata: y\n\n",
    ):
        expected = [ev("x" if b"y" not in stream else "x\ny", id="7" if b"id" in stream else "")]
        assert every_way(stream) == expected, stream
        assert decode(at_blank_lines(stream)) == expected, stream


def test_last_event_id_is_set_at_dispatch_and_persists() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n") == [ev("a", id="1")]
    assert decoder.last_event_id == "1"
    assert decoder.feed(b"\n") == [ev("b", id="2")]
    assert decoder.last_event_id == "2"
    assert decoder.feed(b"data: c\n\n") == [ev("c", id="2")]
    assert decoder.feed(b"id\ndata: d\n\n") == [ev("d", id="")]
    assert decoder.last_event_id == ""


def test_id_with_nul_is_ignored() -> None:
    assert every_way(b"id: 1\n\nid: a\x00b\ndata: x\n\n") == [ev("x", id="1")]
    assert every_way(b"id: a\x00\ndata: x\n\n") == [ev("x")]


@pytest.mark.parametrize(
    "value",
    [
        b"-1",
        b"+1",
        b" 1",
        b"1 ",
        b"1_0",
        b"1.5",
        b"1e3",
        b"",
        b"\xd9\xa1",
        b"\xef\xbc\x91",
        b"0x10",
    ],
)
def test_retry_ignored_unless_ascii_digits(value: bytes) -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: 5\nretry: " + value + b"\ndata: x\n\n") == [ev("x", retry=5)]
    assert decoder.retry == 5


def test_retry_takes_effect_at_once_and_persists() -> None:
    decoder = SSEDecoder()
    assert decoder.retry is None
    assert decoder.feed(b"retry: 0010\n") == []
    assert decoder.retry == 10
    assert decoder.feed(b"data: x\n\ndata: y\n\n") == [ev("x", retry=10), ev("y", retry=10)]
    assert every_way(b"retry:3000\n\n") == []


def test_absurdly_long_retry_is_ignored_not_an_error() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: 7\nretry: " + b"9" * 5000 + b"\ndata: x\n\n") == [ev("x", retry=7)]


def test_field_without_colon_has_empty_value() -> None:
    assert every_way(b"data\n\n") == [ev("")]
    assert every_way(b"event\ndata: x\n\n") == [ev("x")]


def test_only_one_leading_space_is_removed() -> None:
    assert every_way(b"data:  x \n\n") == [ev(" x ")]
    assert every_way(b"data:\tx\n\n") == [ev("\tx")]
    assert every_way(b"data: a:b: c\n\n") == [ev("a:b: c")]


def test_trailing_lf_of_data_buffer_is_removed_once() -> None:
    assert every_way(b"data: a\ndata:\n\n") == [ev("a\n")]
    assert every_way(b"data:\ndata:\n\n") == [ev("\n")]


def test_unterminated_event_at_end_of_stream_is_discarded() -> None:
    for stream in (b"data: a\n", b"data: a", b"data: a\r", b"data: a\n\ndata: b\n"):
        events = every_way(stream)
        assert [e.data for e in events] == (["a"] if stream.startswith(b"data: a\n\n") else [])


def test_field_names_are_case_sensitive_and_unknown_ones_ignored() -> None:
    assert every_way(b"Data: x\nDATA: y\nfoo: bar\n\n") == []
    assert every_way(b"foo: bar\ndata: x\nevent : y\n\n") == [ev("x")]


def test_unknown_fields_are_reported_in_order_with_dispatch_count() -> None:
    reports: list[tuple[int, str, str]] = []
    decoder: SSEDecoder

    def unknown(name: str, value: str) -> None:
        reports.append((decoder.dispatched, name, value))

    decoder = SSEDecoder(on_unknown_field=unknown)
    events = decoder.feed(b'data: a\n\nerror: {"message":"boom"}\n\ndata: b\n\nx\n\n')
    assert events == [ev("a"), ev("b")]
    assert reports == [(1, "error", '{"message":"boom"}'), (2, "x", "")]
    assert decoder.dispatched == 2


def test_comments_are_counted_and_reported() -> None:
    comments: list[str] = []
    decoder = SSEDecoder(on_comment=comments.append)
    stream = b": OPENROUTER PROCESSING\n\n:ping\ndata: x\n: \xff\n\n:\n\n"
    assert decoder.feed(stream) == [ev("x")]
    assert comments == ["OPENROUTER PROCESSING", "ping", "\ufffd", ""]
    assert decoder.comments == 4
    assert SSEDecoder().feed(b": a\n\n:b\n\n") == []


def test_callback_exception_propagates_and_fails_the_decoder() -> None:
    def boom(text: str) -> None:
        raise RuntimeError(text)

    decoder = SSEDecoder(on_comment=boom)
    with pytest.raises(RuntimeError):
        decoder.feed(b"data: a\n\n: stop\n\n")
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"data: b\n\n")


def test_close_discards_and_feed_after_close_is_misuse() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 3\n\ndata: partial\n") == []
    assert decoder.close() == []
    assert decoder.close() == []
    assert decoder.last_event_id == "3"
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"\n")


def test_empty_feeds_are_harmless() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"data: x\n") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == [ev("x")]


def test_event_type_and_all_fields_together() -> None:
    stream = b'retry: 250\r\nid: 42\r\nevent: delta\r\ndata: {"a":1}\r\n\r\n'
    assert every_way(stream) == [ev('{"a":1}', event="delta", id="42", retry=250)]


def test_fast_construction_equals_the_dataclass_constructor() -> None:
    (fast,) = SSEDecoder().feed(b"data: x\n\n")
    (slow,) = SSEDecoder().feed(b"data:x\n\n")  # not the "data: " shape: general path
    assert type(fast) is ServerSentEvent
    assert fast == slow == ServerSentEvent("message", "x", "", None)
    assert hash(fast) == hash(slow)
    with pytest.raises(AttributeError):
        fast.data = "y"  # type: ignore[misc,unused-ignore]


# -- limits and linearity ------------------------------------------------------------------


def test_event_at_the_limit_passes_over_it_fails() -> None:
    line = b"data: " + b"x" * 10
    assert decode([line + b"\n\n"], max_event_size=16) == [ev("x" * 10)]
    with pytest.raises(LimitExceeded) as info:
        decode([b"data: ok\n\n" + line + b"x\n\n"], max_event_size=16)
    assert info.value.items == [ev("ok")]


def test_accumulated_event_over_the_limit_fails() -> None:
    decoder = SSEDecoder(max_event_size=20)
    assert decoder.feed(b"data: 0123456\n") == []
    with pytest.raises(LimitExceeded):
        decoder.feed(b"data: 0123456\n")
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"\n")


def test_limit_is_hit_before_the_buffer_grows_byte_by_byte() -> None:
    decoder = SSEDecoder(max_event_size=64)
    stream = b"data: a\n\n" + b"data: " + b"y" * 100
    events: list[ServerSentEvent] = []
    with pytest.raises(LimitExceeded):
        for piece in byte_by_byte(stream):
            events.extend(decoder.feed(piece))
            assert decoder.buffered <= 64
    assert events == [ev("a")]


@given(st.binary(max_size=200), st.integers(4, 40), st.lists(st.integers(0, 200), max_size=8))
def test_limit_outcome_is_independent_of_chunking(data: bytes, limit: int, cuts: list[int]) -> None:
    outcomes = []
    for chunks in ([data], byte_by_byte(data), splits_at(data, cuts)):
        decoder = SSEDecoder(max_event_size=limit)
        events: list[ServerSentEvent] = []
        failed = False
        try:
            for chunk in chunks:
                events.extend(decoder.feed(chunk))
                assert decoder.buffered <= limit
            events.extend(decoder.close())
        except LimitExceeded as exc:
            events.extend(exc.items)
            failed = True
        outcomes.append((failed, events))
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_huge_event_in_growing_chunks_is_linear() -> None:
    # One 20 MB data line fed in pieces of 1 byte .. 64 KiB: ~2,600 feeds. A decoder that
    # re-joins its buffer per feed would copy ~26 GB (minutes); this takes a fraction of
    # a second. No timing assertion: a quadratic regression shows up as a hang.
    size = 20 * 1000 * 1000
    decoder = SSEDecoder(max_event_size=32 * 1024 * 1024)
    block = b"z" * 65536
    assert decoder.feed(b"data: ") == []
    fed, piece = 0, 1
    while fed < size:
        n = min(piece, size - fed)
        assert decoder.feed(block[:n]) == []
        fed += n
        piece = 1 if piece == 65536 else piece * 2
    assert decoder.buffered == size + 6
    (event,) = decoder.feed(b"\n\n")
    assert len(event.data) == size
    assert decoder.buffered == 0


def test_rejects_nonsense_limit() -> None:
    with pytest.raises(ValueError):
        SSEDecoder(0)


# -- an independent encoder: random streams must decode to what was encoded ---------------

# Data may contain anything but CR/LF (LF splits it into data lines) and surrogates.
text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=12)
ids = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\x00"), max_size=6
)
names = st.text("abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=6).filter(
    lambda s: s not in ("data", "event", "id", "retry")
)


@dataclass
class Planned:
    data: str
    event: str
    id: str | None  # None: no id line for this event
    retry: int | None
    extras: list[str]  # comment texts and unknown-field lines to sprinkle in


planned_events = st.builds(
    Planned,
    data=st.lists(text, min_size=1, max_size=4).map("\n".join),
    event=st.one_of(st.just(""), text),
    id=st.one_of(st.none(), ids),
    retry=st.one_of(st.none(), st.integers(0, 10**12)),
    extras=st.lists(
        st.one_of(text.map(lambda t: ":" + t), st.tuples(names, text).map(": ".join)), max_size=3
    ),
)


def encode(plan: list[Planned], draw: st.DataObject) -> tuple[bytes, list[ServerSentEvent]]:
    lines: list[str] = []
    expected: list[ServerSentEvent] = []
    last_id, retry = "", None
    for item in plan:
        body: list[str] = []
        if item.event:
            body.append(
                "event:" + item.event
                if not item.event.startswith(" ") and draw.draw(st.booleans())
                else "event: " + item.event
            )
        for value in item.data.split("\n"):
            # "data:" + value only when that does not lose a leading space.
            compact = not value.startswith(" ") and draw.draw(st.booleans())
            body.append(("data:" if compact else "data: ") + value)
        if item.id is not None:
            body.append(
                "id: " + item.id if item.id else draw.draw(st.sampled_from(["id", "id:", "id: "]))
            )
            last_id = item.id
        if item.retry is not None:
            body.append(f"retry: {item.retry}")
            retry = item.retry
        for extra in item.extras:
            body.insert(draw.draw(st.integers(0, len(body))), extra)
        lines.extend(body)
        lines.extend([""] * draw.draw(st.integers(1, 3)))
        expected.append(ev(item.data, item.event or "message", last_id, retry))
    out = [b"\xef\xbb\xbf"] if draw.draw(st.booleans()) else []
    previous = ""
    for line in lines:
        ends = ["\n", "\r", "\r\n"]
        if previous == "\r" and line == "":
            ends = ["\r", "\r\n"]  # CR then a bare LF would be one CRLF, eating the blank line
        previous = draw.draw(st.sampled_from(ends))
        out.append((line + previous).encode())
    return b"".join(out), expected


@given(st.lists(planned_events, max_size=6), st.data())
def test_encoded_streams_round_trip_every_way(plan: list[Planned], draw: st.DataObject) -> None:
    stream, expected = encode(plan, draw)
    cuts = draw.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    assert decode([stream]) == expected
    assert decode(byte_by_byte(stream)) == expected
    assert decode(splits_at(stream, cuts)) == expected
    assert decode(at_blank_lines(stream)) == expected


# -- the reference parser: arbitrary bytes ---------------------------------------------------

sse_bytes = st.lists(
    st.sampled_from(
        [
            b"data",
            b"data:",
            b"data: ",
            b"event:",
            b"event: ",
            b"event: e\ndata: d\n\n",
            b"id:",
            b"id: 1",
            b"retry: 9",
            b"retry:x",
            b":",
            b": c",
            b"x",
            b" ",
            b"\n",
            b"\r",
            b"\r\n",
            b"\n\n",
            b"\xef\xbb\xbf",
            b"\xff",
            b"\xc3",
            b"\xa9",
            b"\x00",
            b"{}",
            b'data: {"a":1}\n\n',
        ]
    ),
    max_size=40,
).map(b"".join)


@given(st.one_of(sse_bytes, st.binary(max_size=120)), st.lists(st.integers(0, 400), max_size=10))
def test_matches_the_reference_parser(stream: bytes, cuts: list[int]) -> None:
    expected = Reference().run(stream)
    for chunks in ([stream], byte_by_byte(stream), splits_at(stream, cuts), at_blank_lines(stream)):
        got = observed(chunks)
        assert got.events == expected.events
        assert got.comments == expected.comments
        assert got.unknown == expected.unknown
        assert (got.last_id, got.retry) == (expected.last_id, expected.retry)


@given(
    st.lists(st.tuples(text.map(lambda t: t.lstrip(" ")), st.booleans()), max_size=30), st.data()
)
def test_fast_path_agrees_with_general_path(
    items: list[tuple[str, bool]], draw: st.DataObject
) -> None:
    # The same events written in the fast shape ("data: x\n\n") and in shapes that force
    # the line-by-line path ("data:x", CRLF): identical results.
    fast = b"".join(b"data: " + v.encode() + b"\n\n" for v, _ in items)
    slow = b"".join(
        (b"data:" if odd else b"data: ") + v.encode() + (b"\r\n\r\n" if odd else b"\n\n")
        for v, odd in items
    )
    cuts = draw.draw(st.lists(st.integers(0, len(fast)), max_size=8))
    assert decode(splits_at(fast, cuts)) == decode([slow]) == [ev(v) for v, _ in items]


# -- recorded provider streams -------------------------------------------------------------


def http_body(raw: bytes) -> tuple[bytes, bytes]:
    """(content type, body) of a recorded HTTP response, de-chunked by h11."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="POST", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(raw)
    conn.receive_data(b"")
    ctype, body = b"", list[bytes]()
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


SSE_FIXTURES = [
    name
    for folder in ("openai-chat", "openai-responses", "anthropic", "gemini", "compat", "cohere")
    for name in fixture_names(folder)
    if http_body(fixture(name))[0].startswith(b"text/event-stream")
]


def test_there_are_sse_fixtures() -> None:
    assert len(SSE_FIXTURES) >= 20


@pytest.mark.parametrize("name", SSE_FIXTURES)
def test_recorded_streams_every_way(name: str) -> None:
    _, body = http_body(fixture(name))
    expected = Reference().run(body)
    events = every_way(body)
    assert events == expected.events
    assert all(e.data for e in events)  # providers never send empty events
    assert observed([body]).comments == expected.comments


def test_openrouter_keepalive_comments_are_seen() -> None:
    _, body = http_body(fixture("compat/openrouter-comments.http"))
    assert "OPENROUTER PROCESSING" in observed(byte_by_byte(body)).comments


def test_llamacpp_error_field_is_reported() -> None:
    _, body = http_body(fixture("compat/llamacpp-error-field.http"))
    unknown = Reference().run(body).unknown
    if not unknown:
        pytest.skip("this recording carries its error in a data line")
    assert observed(byte_by_byte(body)).unknown == unknown


def test_bytearray_and_memoryview_input() -> None:
    # h11 hands the body out as bytearrays; a binding may reuse its read buffer.
    decoder = SSEDecoder()
    buffer = bytearray(b"data: a\n\ndata: b")
    assert decoder.feed(buffer) == [ev("a")]  # type: ignore[arg-type]
    buffer[:] = b"XXXXXXXXXXXXXXXXX"
    assert decoder.feed(memoryview(b"c\n\n")) == [ev("bc")]  # type: ignore[arg-type]
    assert SSEDecoder().feed(bytearray(b"\xef\xbb\xbfdata: x\n\n")) == [ev("x")]  # type: ignore[arg-type]


def test_event_then_data_shape() -> None:
    stream = (
        b"event: message_start\ndata: {}\n\n"
        b'event: content_block_delta\ndata: {"x": 1}\n\n'
        b"event: \ndata: plain\n\n"
        b"event:  spaced\ndata:  two\n\n"
        b"event: e\ndata: a\ndata: b\n\n"
        b"event: no-data\n\n"
        b"event: \xff\ndata: \xc3\n\n"
    )
    assert every_way(stream) == [
        ev("{}", event="message_start"),
        ev('{"x": 1}', event="content_block_delta"),
        ev("plain"),
        ev(" two", event=" spaced"),
        ev("a\nb", event="e"),
        ev("\ufffd", event="\ufffd"),
    ]


@pytest.mark.parametrize("limit", [14, 15, 16, 17, 18, 19])
def test_two_line_event_counts_both_lines_against_the_limit(limit: int) -> None:
    stream = b"event: abc\ndata: 1234\n\n"  # lines of 10 and 10 bytes: an event of 20
    for chunks in ([stream], byte_by_byte(stream)):
        with pytest.raises(LimitExceeded):
            decode(chunks, max_event_size=limit)
    assert decode([stream], max_event_size=20) == [ev("1234", event="abc")]
    assert decode(byte_by_byte(stream), max_event_size=20) == [ev("1234", event="abc")]


def test_whole_events_lane_keeps_state_across_reads() -> None:
    decoder = SSEDecoder(max_event_size=40)
    assert decoder.feed(b"\xef\xbb\xbfid: 1\n\n") == []
    assert decoder.feed(b"data: a\n\n") == [ev("a", id="1")]
    assert decoder.feed(b"retry: 5\ndata: b\n\ndata: c\n\n") == [
        ev("b", id="1", retry=5),
        ev("c", id="1", retry=5),
    ]
    assert decoder.feed(b"data: d\r\n\r\n") == [ev("d", id="1", retry=5)]
    assert decoder.feed(b"data: e\r") == []
    assert decoder.feed(b"\n\ndata: f\n\n") == [ev("e", id="1", retry=5), ev("f", id="1", retry=5)]
    assert decoder.feed(b"data: g\n") == []
    assert decoder.feed(b"\ndata: h\n\n") == [ev("g", id="1", retry=5), ev("h", id="1", retry=5)]
    with pytest.raises(LimitExceeded) as info:
        decoder.feed(b"data: ok\n\ndata: " + b"x" * 40 + b"\n\n")
    assert info.value.items == [ev("ok", id="1", retry=5)]
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"data: i\n\n")


line_bytes = st.binary(max_size=12).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@given(
    st.lists(st.tuples(line_bytes, st.sampled_from([b"data: ", b"data:", b"event: x\ndata: "]))),
    st.sampled_from([b"", b"data: tail", b"data: tail\n", b"\n", b"id: 9\n"]),
    st.lists(st.integers(0, 300), max_size=6),
)
def test_data_line_events_with_any_bytes_match_the_reference(
    items: list[tuple[bytes, bytes]], tail: bytes, cuts: list[int]
) -> None:
    # Mostly the "data: <value>\n\n" shape the bulk lane takes, with arbitrary (often
    # invalid UTF-8) values, a few other shapes mixed in, and a variety of endings.
    stream = b"".join(prefix + value + b"\n\n" for value, prefix in items) + tail
    expected = Reference().run(stream).events
    for chunks in ([stream], splits_at(stream, cuts), at_blank_lines(stream)):
        assert decode(chunks) == expected


# -- exact boundaries: an event of exactly max_event_size passes, one byte more fails ------


def limited(chunks: list[bytes], limit: int) -> tuple[list[ServerSentEvent], str | None]:
    """Events (those before a failure included) and the LimitExceeded message, if any."""
    decoder = SSEDecoder(max_event_size=limit)
    events: list[ServerSentEvent] = []
    try:
        for chunk in chunks:
            events.extend(decoder.feed(chunk))
            assert decoder.buffered <= limit
        events.extend(decoder.close())
    except LimitExceeded as exc:
        events.extend(exc.items)
        return events, str(exc)
    return events, None


def chunkings(stream: bytes) -> list[tuple[str, list[bytes]]]:
    return [*all_splittings(stream), ("at blank lines", at_blank_lines(stream))]


# Each shape (fast single line, general single line, event + data, several lines, CRLF)
# with lines adding up to 20 bytes, terminators not counted, then a small event after it.
EVENTS_OF_20 = [
    (b"data: " + b"x" * 14 + b"\n\n", ev("x" * 14)),
    (b"data:" + b"x" * 15 + b"\n\n", ev("x" * 15)),
    (b"event: abc\ndata: 1234\n\n", ev("1234", event="abc")),
    (b"data: 12\nid: 5\ndata: 3\n\n", ev("12\n3", id="5")),
    (b"data: " + b"y" * 14 + b"\r\n\r\n", ev("y" * 14)),
    (b": 345678901\ndata: zzz\n\n", ev("zzz")),
]


@pytest.mark.parametrize(("stream", "event"), EVENTS_OF_20)
def test_event_of_exactly_max_event_size_passes_every_way(
    stream: bytes, event: ServerSentEvent
) -> None:
    full = b"data: a\n\n" + stream + b"data: b\n\n"
    id = event.id
    for name, chunks in chunkings(full):
        assert limited(chunks, 20) == ([ev("a"), event, ev("b", id=id)], None), name


@pytest.mark.parametrize(("stream", "event"), EVENTS_OF_20)
def test_event_of_max_event_size_plus_one_fails_every_way(
    stream: bytes, event: ServerSentEvent
) -> None:
    full = b"data: a\n\n" + stream + b"data: b\n\n"
    for name, chunks in chunkings(full):
        events, message = limited(chunks, 19)
        assert events == [ev("a")], name
        assert message is not None and message.startswith("SSE "), name


def test_limit_messages_say_which_bound() -> None:
    assert limited([b"data: " + b"x" * 10 + b"\n\n"], 15) == (
        [],
        "SSE line of 16 bytes is longer than the limit of 15 bytes",
    )
    assert limited([b"event: abc\ndata: 1234\n\n"], 19) == ([], "SSE event larger than 19 bytes")
    assert limited([b"data: 0123456\ndata: 0123"], 20) == (
        [],
        "SSE event larger than 20 bytes (no blank line after 23 bytes)",
    )
    assert limited([b"data: 0123456789", b"0123456789"], 20) == (
        [],
        "SSE line longer than 20 bytes (no line end after 26 bytes)",
    )


def test_unterminated_event_at_the_limit_is_held_one_more_byte_fails() -> None:
    decoder = SSEDecoder(max_event_size=20)
    assert decoder.feed(b"data: 12345678\ndata:") == []  # 14 + 5 ...
    assert decoder.feed(b"x") == []  # ... + 1 = 20 held
    assert decoder.buffered == 20
    with pytest.raises(LimitExceeded) as info:
        decoder.feed(b"y")
    assert str(info.value) == "SSE event larger than 20 bytes (no blank line after 21 bytes)"
    with pytest.raises(LocalProtocolError) as misuse:
        decoder.feed(b"\n\n")
    assert str(misuse.value) == "SSEDecoder failed earlier"


# -- the retry digit cap: 640 significant digits are honoured, 641 ignored -----------------


def test_retry_of_exactly_the_digit_cap_is_honoured_every_way() -> None:
    value = b"1" + b"0" * 639  # 640 digits
    stream = b"retry: " + value + b"\ndata: x\n\n"
    for name, chunks in chunkings(stream):
        assert limited(chunks, 1000) == ([ev("x", retry=10**639)], None), name


def test_retry_one_digit_past_the_cap_is_ignored_every_way() -> None:
    stream = b"retry: 5\nretry: 1" + b"0" * 640 + b"\ndata: x\n\n"  # 641 digits
    for name, chunks in chunkings(stream):
        assert limited(chunks, 1000) == ([ev("x", retry=5)], None), name


def test_retry_leading_zeros_do_not_count_against_the_cap() -> None:
    stream = b"retry: " + b"0" * 5000 + b"7\ndata: x\n\nretry: " + b"0" * 5000 + b"\n\n"
    decoder = SSEDecoder()
    assert decoder.feed(stream) == [ev("x", retry=7)]
    assert decoder.retry == 0


# -- state kept between feeds, through the whole-events lane --------------------------------


def test_failure_in_the_whole_events_lane_fails_the_decoder() -> None:
    def boom(text: str) -> None:
        raise RuntimeError(text)

    decoder = SSEDecoder(on_comment=boom)
    assert decoder.feed(b"data: 0\n\n") == [ev("0")]  # now idle: the next read takes the lane
    with pytest.raises(RuntimeError):
        decoder.feed(b": stop\n\n")
    with pytest.raises(LocalProtocolError) as info:
        decoder.feed(b"data: b\n\n")
    assert str(info.value) == "SSEDecoder failed earlier"
    with pytest.raises(LocalProtocolError) as info:
        decoder.close()
    assert str(info.value) == "SSEDecoder failed earlier"


def test_feed_after_close_is_refused_even_for_whole_events() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 0\n\n") == [ev("0")]
    assert decoder.close() == []
    with pytest.raises(LocalProtocolError) as info:
        decoder.feed(b"data: x\n\n")
    assert str(info.value) == "SSEDecoder already closed"


def test_dispatched_counts_across_feeds_and_inside_callbacks() -> None:
    seen: list[tuple[int, str]] = []
    decoder: SSEDecoder

    def unknown(name: str, value: str) -> None:
        seen.append((decoder.dispatched, name))

    decoder = SSEDecoder(on_unknown_field=unknown)
    assert decoder.dispatched == 0
    assert decoder.feed(b"data: a\n\ndata: b\n\n") == [ev("a"), ev("b")]
    assert decoder.dispatched == 2
    assert decoder.feed(b"data: c\n\nfoo: 1\n\n") == [ev("c")]  # the whole-events lane
    assert decoder.dispatched == 3
    assert decoder.feed(b"data:d\n") == []  # the general path
    assert decoder.feed(b"\nbar\n\n") == [ev("d")]
    assert decoder.dispatched == 4
    assert seen == [(3, "foo"), (4, "bar")]


def test_limit_in_lines_after_bulk_events_keeps_the_events() -> None:
    decoder = SSEDecoder(max_event_size=16)
    with pytest.raises(LimitExceeded) as info:
        decoder.feed(b"data: a\n\ndata: b\n\ndata: 1234567\ndata: 1234567\n")
    assert info.value.items == [ev("a"), ev("b")]
    assert str(info.value) == "SSE event larger than 16 bytes"
    decoder = SSEDecoder(max_event_size=20)
    with pytest.raises(LimitExceeded) as info:
        decoder.feed(b"data: a\n\ndata: 0123456\ndata: 0123")
    assert info.value.items == [ev("a")]
    assert str(info.value) == "SSE event larger than 20 bytes (no blank line after 23 bytes)"
    decoder = SSEDecoder(max_event_size=10)
    with pytest.raises(LimitExceeded) as info:
        decoder.feed(b"data: a\n\ndata: 0123456789\n\n")
    assert info.value.items == [ev("a")]
    assert str(info.value) == "SSE line of 16 bytes is longer than the limit of 10 bytes"


def test_invalid_utf8_in_id_and_unknown_fields_becomes_replacement() -> None:
    unknown: list[tuple[str, str]] = []
    decoder = SSEDecoder(on_unknown_field=lambda n, v: unknown.append((n, v)))
    assert decoder.feed(b"id: \xff1\nx\xfe: \xc3\ndata: a\n\n") == [ev("a", id="\ufffd1")]
    assert unknown == [("x\ufffd", "\ufffd")]
    assert decoder.last_event_id == "\ufffd1"


# -- edges found by mutation testing --------------------------------------------------------


def test_fast_paths_carry_the_retry_and_id_in_force() -> None:
    # retry and id set by an earlier event of the same read reach the events each fast
    # shape builds directly (one data line; event then data line), and the bulk lane.
    stream = (
        b"retry: 5\nid: 7\n\nevent: e\ndata: d\n\ndata: plain\n\nretry: 9\n\nevent: f\ndata: g\n\n"
    )
    expected = [
        ev("d", event="e", id="7", retry=5),
        ev("plain", id="7", retry=5),
        ev("g", event="f", id="7", retry=9),
    ]
    assert every_way(stream) == expected
    assert decode(at_blank_lines(stream)) == expected
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: 3\nid: x\n\n") == []
    assert decoder.feed(b"data: a\n\ndata: b\n\n") == [
        ev("a", id="x", retry=3),
        ev("b", id="x", retry=3),
    ]


def test_smallest_limit_is_one_byte() -> None:
    decoder = SSEDecoder(max_event_size=1)
    assert decoder.max_event_size == 1
    assert decoder.feed(b":\n\n:\n\n") == []  # comments of one byte fit
    assert decoder.comments == 2
    with pytest.raises(LimitExceeded) as info:
        decoder.feed(b"ab\n")
    assert str(info.value) == "SSE line of 2 bytes is longer than the limit of 1 bytes"
    for nonsense in (0, -1):
        with pytest.raises(ValueError) as refused:
            SSEDecoder(nonsense)
        assert str(refused.value) == "max_event_size must be at least 1"


@pytest.mark.parametrize("first", [b":\n", b":", b"a"])
def test_short_first_read_that_cannot_start_a_bom_is_not_held(first: bytes) -> None:
    # Only a prefix of the BOM waits for more bytes; a comment in the first read is seen
    # (counted and reported) during that very feed.
    seen: list[str] = []
    decoder = SSEDecoder(on_comment=seen.append)
    assert decoder.feed(first) == []
    assert decoder.buffered == 1  # the comment line, or the incomplete line, counts
    assert decoder.comments == (1 if first == b":\n" else 0)
    assert seen == ([""] if first == b":\n" else [])


@pytest.mark.parametrize("prefix", [b"\xef", b"\xef\xbb", b"\xef\xbb\xbf"])
def test_bom_prefix_then_a_comment(prefix: bytes) -> None:
    seen: list[str] = []
    decoder = SSEDecoder(on_comment=seen.append)
    assert decoder.feed(prefix) == []
    assert decoder.comments == 0
    rest = b"\xef\xbb\xbf"[len(prefix) :] + b": hi\n"
    assert decoder.feed(rest) == []
    assert (decoder.comments, seen) == (1, ["hi"])


def test_event_defaults() -> None:
    assert ServerSentEvent() == ServerSentEvent("message", "", "", None)
    default = ServerSentEvent()
    assert (default.event, default.data, default.id, default.retry) == ("message", "", "", None)
    named = ServerSentEvent("e")
    assert (named.event, named.data, named.id, named.retry) == ("e", "", "", None)


def test_one_line_reads_on_a_live_stream_count_and_stay_exact() -> None:
    # Reads of one "data: " line each (the live shape) after the stream start: every
    # read is one event, counted once, with the id and retry in force.
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 4\nretry: 8\n\n") == []  # now idle
    assert decoder.feed(b"data: a\n\n") == [ev("a", id="4", retry=8)]
    assert decoder.dispatched == 1
    assert decoder.feed(b"data: \n\n") == [ev("", id="4", retry=8)]
    assert decoder.dispatched == 2
    # A blank line more is not part of the value: one event "b", then nothing.
    assert decoder.feed(b"data: b\n\n\n") == [ev("b", id="4", retry=8)]
    assert decoder.dispatched == 3
    assert decoder.feed(b"data: c\n\n\n\n") == [ev("c", id="4", retry=8)]
    assert decoder.feed(b"data: d\ndata: e\n\n") == [ev("d\ne", id="4", retry=8)]
    assert decoder.dispatched == 5
    assert decoder.last_event_id == "4"


# -- live_data: the live shape without the event ---------------------------------------------

live_reads = st.one_of(
    st.binary(max_size=40).map(lambda b: b"data: " + b + b"\n\n"),  # LF, CR inside at times
    st.sampled_from([b"data: {}\n\n", b"data:x\n\n", b"id: 7\n\n", b": ping\n\n", b"retry: 5\n\n"]),
    st.binary(max_size=40),
)


def decoder_state(decoder: SSEDecoder) -> tuple[int, str, int | None, int]:
    return decoder.dispatched, decoder.last_event_id, decoder.retry, decoder.buffered


@given(st.lists(live_reads, max_size=8))
def test_live_data_is_feed_without_building_the_event(reads: list[bytes]) -> None:
    # Either live_data declines and changes nothing, or it returns the data feed's one
    # event carries and leaves the decoder as feed leaves it.
    live, fed = SSEDecoder(48), SSEDecoder(48)
    for data in reads:
        before = decoder_state(live)
        payload = live.live_data(data)
        if payload is None:
            assert decoder_state(live) == before
            try:
                expected = fed.feed(data)
            except LimitExceeded:
                with pytest.raises(LimitExceeded):
                    live.feed(data)
                return
            assert live.feed(data) == expected
        else:
            assert fed.feed(data) == [
                ServerSentEvent(
                    "message", payload.decode("utf-8", "replace"), live.last_event_id, live.retry
                )
            ]
        assert decoder_state(live) == decoder_state(fed)


def test_live_data_takes_the_live_shape_and_nothing_else() -> None:
    decoder = SSEDecoder()
    assert decoder.live_data(b'data: {"a":1}\n\n') is None  # the stream start: BOM undecided
    assert decoder.feed(b"id: 4\nretry: 9\n\n") == []
    assert decoder.live_data(b'data: {"a":1}\n\n') == b'{"a":1}'
    assert decoder.live_data(b"data: \n\n") == b""  # empty data: still the live shape
    assert decoder.dispatched == 2
    assert decoder.feed(b"id: 4\n\n") == []
    assert (decoder.dispatched, decoder.last_event_id, decoder.retry) == (2, "4", 9)
    for other in (
        b"data: a\r\n\r\n",  # CR line ends
        b"data: a\rb\n\n",  # a CR inside: two lines
        b"data: a\nb\n\n",  # two lines
        b"data: a\n",  # not ended
        b"data: a\n\n\n",  # a blank line more
        b"data:a\n\n",  # no space: the line path
        b"event: x\ndata: a\n\n",
        b"data: a\n\ndata: b\n\n",  # two events
        b"",
    ):
        assert decoder.live_data(other) is None, other
    assert decoder.dispatched == 2
    assert decoder.feed(b"data: a\n") == []  # an event carried over: not idle
    assert decoder.live_data(b"data: b\n\n") is None


def test_live_data_at_the_event_limit_and_one_past() -> None:
    # The bound feed's whole-events lane uses: a read of at most max_event_size + 1 bytes.
    limit = 20
    decoder = SSEDecoder(limit)
    decoder.feed(b": start\n\n")
    at = b"data: " + b"x" * (limit + 1 - 8) + b"\n\n"
    assert len(at) == limit + 1
    assert decoder.live_data(at) == b"x" * (limit + 1 - 8)
    past = b"data: " + b"x" * (limit + 2 - 8) + b"\n\n"
    assert decoder.live_data(past) is None
    assert decoder.feed(past) == [ServerSentEvent(data="x" * (limit + 2 - 8))]  # still within


# -- undecoded_messages: the bulk lane's events as their data's bytes -------------------------


def undecoded_run(chunks: list[bytes], limit: int, undecoded: bool) -> list[tuple[object, ...]]:
    """Everything a decoder reports, feed by feed: each feed's events (an undecoded item
    built into the event it stands for right after that feed, as the call does), the
    callbacks' calls with the ``dispatched`` count each saw, the state after the feed,
    and where a LimitExceeded ended it, with its items and message."""
    calls: list[tuple[object, ...]] = []
    decoder = SSEDecoder(
        limit,
        on_comment=lambda text: calls.append(("comment", text, decoder.dispatched)),
        on_unknown_field=lambda n, v: calls.append(("field", n, v, decoder.dispatched)),
        undecoded_messages=undecoded,
    )

    def events(items: list[ServerSentEvent]) -> list[ServerSentEvent]:
        built = [decoder.message_event(i) if type(i) is bytes else i for i in items]
        assert all(type(event) is ServerSentEvent for event in built)
        return built

    for chunk in chunks:
        try:
            calls.append(("events", events(decoder.feed(chunk))))
        except LimitExceeded as exc:
            calls.append(("limit", str(exc), events(exc.items), decoder.dispatched))
            return calls
        calls.append((decoder_state(decoder), decoder.comments))
    calls.append(("close", decoder.close(), decoder_state(decoder)))
    return calls


# What the bytes lane must get exactly right besides the common "data: {...}" event: bad
# UTF-8, CR line ends, comments, the other fields (llama.cpp's "error:" among them), lines
# after the events of a read, [DONE], and events larger than the limit.
undecoded_streams = st.lists(
    st.one_of(
        st.binary(max_size=24).map(lambda b: b"data: " + b.replace(b"\n", b"") + b"\n\n"),
        st.sampled_from(
            [
                b'data: {"a":"\xff\xfe"}\n\n',
                b"data: \xe2\x82\n\n",
                b"data: [DONE]\n\n",
                b"data: x\r\n\r\n",
                b"data: x\rdata: y\r\r",
                b": ping\n\n",
                b"event: error\ndata: e\n\n",
                b"id: 7\n",
                b"id: 8\n\n",
                b"retry: 30\n",
                b'error: {"code":500}\n',
                b"data: a\ndata: b\n\n",
                b"data: " + b"x" * 60 + b"\n\n",
                b"\n",
                b"data: cut",
            ]
        ),
    ),
    max_size=16,
).map(b"".join)


@given(undecoded_streams, st.lists(st.integers(0, 600), max_size=8), st.sampled_from([40, 4096]))
def test_undecoded_messages_are_the_same_events_at_any_split(
    stream: bytes, cuts: list[int], limit: int
) -> None:
    for chunks in (
        [stream],
        splits_at(stream, cuts),
        at_blank_lines(stream),
        byte_by_byte(stream[:80]),
    ):
        assert undecoded_run(chunks, limit, True) == undecoded_run(chunks, limit, False)


def test_undecoded_messages_gives_the_bulk_lane_as_bytes() -> None:
    decoder = SSEDecoder(undecoded_messages=True)
    assert decoder.feed(b"id: 3\nretry: 5\n\n") == []
    assert decoder.feed(b"data: a\xff\n\ndata: ") == [b"a\xff"]
    assert decoder.feed(b'{"b":1}\n\ndata: c\n\n') == [b'{"b":1}', b"c"]
    assert decoder.message_event(b"a\xff") == ev("a\ufffd", id="3", retry=5)
    assert decoder.dispatched == 3
    # Lines after the events in the same read (this retry takes effect at once) or any
    # other shape: events, as without the option.
    assert decoder.feed(b"data: d\n\nretry: 6\n") == [ev("d", id="3", retry=5)]
    assert decoder.feed(b"\ndata: e\n\nid: 4\n\n") == [ev("e", id="3", retry=6)]
    assert decoder.feed(b"data: f\n\ndata: g\nid: 5\n\n") == [
        ev("f", id="4", retry=6),
        ev("g", id="5", retry=6),
    ]
    # Whole events in one read (the idle lane) are bytes too.
    assert decoder.feed(b"data: h\n\ndata: i\n\n") == [b"h", b"i"]
    assert (decoder.dispatched, decoder.last_event_id) == (9, "5")
    assert SSEDecoder().feed(b"data: a\n\ndata: b\n\n") == [ev("a"), ev("b")]  # the default


def test_undecoded_items_before_a_limit_are_the_exceptions_items() -> None:
    decoder = SSEDecoder(20, undecoded_messages=True)
    with pytest.raises(LimitExceeded) as info:
        decoder.feed(b"data: a\n\ndata: b\n\ndata: " + b"x" * 30)
    assert info.value.items == [b"a", b"b"]
    assert decoder.dispatched == 2


def test_message_event_is_what_feed_dispatches() -> None:
    # The event live_data's payload stands for, built as the fast paths build theirs.
    decoder = SSEDecoder()
    decoder.feed(b"id: 9\nretry: 4\n\n")
    assert decoder.live_data(b"data: \xc3\xa9\xff\n\n") == b"\xc3\xa9\xff"
    built = decoder.message_event(b"\xc3\xa9\xff")
    assert built == ev("\u00e9\ufffd", id="9", retry=4)
    assert type(built) is ServerSentEvent and repr(built) == repr(
        ev("\u00e9\ufffd", "message", "9", 4)
    )
