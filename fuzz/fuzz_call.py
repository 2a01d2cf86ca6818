"""Fuzz target: libchatty.call.Call, the whole response state machine.

Input layout: byte 0 picks the dialect (bits 0-2; OpenAI chat completions most often),
streaming or not (bit 3) and the bounds (bits 4-5: defaults, or tiny limits that exercise
every ``Error("limit")``); the rest is the raw HTTP response. The seeds in
``fuzz/corpus/call/`` are the wire fixtures behind a 0x00 selector.

Bit 6 turns the rest into a *body* sent with ``Content-Encoding``: gzip-compressed here
(so the fuzzer's bytes reach the dialect through the inflater), or -- with bit 7 too --
sent as it is under a ``deflate`` label (so the inflater meets arbitrary data).

Asserts, for the response fed whole, byte by byte (short inputs) and at an input-derived
split, each followed by EOF (``b""``) when the call still wants data:

* only ``Delta``/``Done``/``Error`` come out, with fields of the documented types and
  kinds; exactly one terminal event, last, and nothing after it; after EOF the call is
  always finished (never a hang);
* nothing received is lost: ``Done.text`` and ``Error.partial`` equal the text deltas of
  choice 0;
* feeding a call that no longer wants data raises ``LocalProtocolError`` -- the only
  exception allowed out. Strict: a dialect raises only ``RemoteProtocolError`` for wire
  data of the wrong shape, and ``Call`` turns that into ``Error``; any other exception
  (``KeyError``, ``TypeError``...) is a bug of ours and escapes as a crash;
* with the default bounds, every splitting gives the same events (for malformed HTTP,
  the same error kind, status and partial text: h11 words its message by where it stopped);
* with the default bounds, a response h11 de-frames without a fault (complete, or cut
  short by the peer's close) gives the same events through the framed door
  (``receive_head``/``receive_body``/``receive_end``) at an input-derived split and one
  event per piece (the live shape) -- when its
  body is used as it comes (no ``Content-Encoding`` but ``identity``): the framed door is
  handed decoded bodies and ignores the header by contract, so an unsupported coding the
  raw door refuses (``Content-Encoding: chunked``) is the user's stack's to decode.

Run it with fuzz/run.py (see fuzz/README.md).
"""

from __future__ import annotations

import gzip
from typing import Any

import h11

from libchatty.call import Call
from libchatty.endpoint import Endpoint
from libchatty.events import DELTA_KINDS, ERROR_KINDS, Delta, Done, Error, Event
from libchatty.exceptions import LocalProtocolError
from libchatty.request import ChatRequest, Message

DIALECTS = (
    "openai-chat",
    "openai-chat",
    "openai-chat",
    "openai-chat",
    "openai-responses",
    "anthropic",
    "gemini",
    "ollama",
)
DEFAULT_BOUNDS = (64 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024, 64 * 1024)
# (max_head_size, max_event_size, max_body_size, max_error_body_size)
BOUNDS = (DEFAULT_BOUNDS, DEFAULT_BOUNDS, DEFAULT_BOUNDS, (256, 64, 128, 16))
MESSAGES = [Message("user", "hi")]
BYTEWISE_MAX = 4096  # byte-by-byte feeding of longer inputs would slow the campaign down


def make_call(selector: int) -> tuple[Call, bool]:
    dialect = DIALECTS[selector & 7]
    stream = not selector & 8
    head, event, body, error_body = bounds = BOUNDS[(selector >> 4) & 3]
    endpoint = Endpoint("https://api.example.com/v1", "sk-fuzz", dialect)
    request = ChatRequest(model="m", messages=MESSAGES, stream=stream)
    call = Call(
        endpoint,
        request,
        max_head_size=head,
        max_event_size=event,
        max_body_size=body,
        max_error_body_size=error_body,
    )
    return call, bounds == DEFAULT_BOUNDS


def chunkings(data: bytes) -> list[list[bytes]]:
    out = [[data]]
    if len(data) <= BYTEWISE_MAX:
        out.append([data[i : i + 1] for i in range(len(data))])
    # Chunk sizes taken from the input itself, so the fuzzer steers the boundaries.
    sizes = [1 + b % 29 for b in data[:64]] or [1]
    derived, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        derived.append(data[i : i + n])
        i, k = i + n, k + 1
    out.append(derived)
    return out


def check_event(event: Any) -> None:
    kind = type(event)
    assert kind in (Delta, Done, Error), event
    if kind is Delta:
        assert type(event.text) is str and event.kind in DELTA_KINDS
        assert type(event.index) is int and event.index >= 0
        assert event.tool_call_id is None or type(event.tool_call_id) is str
        assert event.tool_name is None or type(event.tool_name) is str
    elif kind is Done:
        assert type(event.text) is str and type(event.reasoning) is str
        assert event.finish_reason is None or type(event.finish_reason) is str
        for call in event.tool_calls:
            assert type(call.name) is str and type(call.arguments) is str
    else:
        assert event.kind in ERROR_KINDS, event.kind
        assert type(event.message) is str and event.message
        assert type(event.partial) is str
        assert event.status is None or type(event.status) is int


def run(selector: int, chunks: list[bytes]) -> tuple[list[Event], bool]:
    call, default_bounds = make_call(selector)
    call.start()
    events: list[Event] = []
    for chunk in chunks:
        if not call.wants_data:
            break
        got = call.receive_data(chunk)
        assert not (got and events and type(events[-1]) is not Delta), "event after the end"
        events.extend(got)
    if call.wants_data:
        events.extend(call.receive_data(b""))
    assert not call.wants_data and call.finished, "the call did not end at EOF"
    try:
        call.receive_data(b"more")
    except LocalProtocolError:
        pass
    else:
        raise AssertionError("a finished call accepted more data")

    for event in events:
        check_event(event)
    assert events and type(events[-1]) in (Done, Error), events[-3:]
    assert all(type(e) is Delta for e in events[:-1])
    text = "".join(e.text for e in events if type(e) is Delta and e.kind == "text" and not e.index)
    last = events[-1]
    if type(last) is Done:
        assert last.text == text, (last.text, text)
    else:
        assert type(last) is Error, last
        assert last.partial == text, (last.partial, text)
    return events, default_bounds


_CONTENT_TYPES = {"ndjson": b"application/x-ndjson", "sse": b"text/event-stream"}


def coded_response(selector: int, body: bytes) -> bytes:
    """``body`` behind a 200 head with a Content-Encoding (see the module docstring)."""
    if selector & 0x80:
        coding, payload = b"deflate", body
    else:
        coding, payload = b"gzip", gzip.compress(body, mtime=0)
    if selector & 8:
        content_type = b"application/json"
    else:
        from libchatty.dialects import get_dialect

        content_type = _CONTENT_TYPES[get_dialect(DIALECTS[selector & 7]).framing]
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: "
        + content_type
        + b"\r\nContent-Encoding: "
        + coding
        + b"\r\nContent-Length: %d\r\n\r\n" % len(payload)
        + payload
    )


def deframe(response: bytes) -> tuple[h11.Response, bytes, bool] | None:
    """(head, body, complete) as an HTTP stack would hand them over, read with h11; None
    when h11 finds a fault before the peer's close (the stack would raise, not hand over)."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="POST", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    head: h11.Response | None = None
    body: list[bytes] = []
    for data in (response, b""):
        conn.receive_data(data)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                if data or head is None:
                    return None
                return head, b"".join(body), False  # cut short by the close
            if type(event) is h11.Response:
                head = event
            elif type(event) is h11.Data:
                body.append(bytes(event.data))
            elif type(event) is h11.EndOfMessage:
                assert head is not None
                return head, b"".join(body), True
            elif event is h11.NEED_DATA or type(event) is h11.ConnectionClosed:
                break
    return None


def body_as_it_comes(head: h11.Response) -> bool:
    """Whether the raw door uses the body undecoded (no coding but ``identity``)."""
    codings = b",".join(v for n, v in head.headers.raw_items() if n.lower() == b"content-encoding")
    return all(t.strip().lower() in (b"", b"identity") for t in codings.split(b","))


def at_blank_lines(body: bytes) -> list[bytes]:
    """``body`` cut just after every LF LF: one SSE event per piece, the live shape
    (``Call`` hands such a piece to the dialect without building the event)."""
    pieces = body.split(b"\n\n")
    return [piece + b"\n\n" for piece in pieces[:-1]] + [pieces[-1]]


def run_framed(
    selector: int, head: h11.Response, body: bytes, complete: bool, pieces: list[bytes]
) -> list[Event]:
    call, _ = make_call(selector)
    call.http_request()
    headers = head.headers.raw_items()
    events = call.receive_head(head.status_code, headers, reason=head.reason.decode("latin-1"))
    for piece in pieces:
        if not call.wants_data:
            break
        events += call.receive_body(piece)
    if call.wants_data:
        events += call.receive_end(complete)
    assert not call.wants_data and call.finished, "the framed call did not end"
    return events


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    selector, response = data[0], data[1:]
    if selector & 0x40:
        response = coded_response(selector, response)
    results = [run(selector, chunks) for chunks in chunkings(response)]
    if results[0][1]:  # default bounds: every splitting decodes the same
        first = [_comparable(e) for e in results[0][0]]
        for events, _ in results[1:]:
            assert [_comparable(e) for e in events] == first, (first[-1:], events[-1:])
        # The framed door: the same events for what a stack would hand over. Not for a
        # coded body (a stack decodes it; this one would not).
        parts = None if selector & 0x40 else deframe(response)
        if parts is not None and parts[0].status_code >= 200 and body_as_it_comes(parts[0]):
            body = parts[1]
            for pieces in (chunkings(body)[-1], at_blank_lines(body)):
                framed = [_comparable(e) for e in run_framed(selector, *parts, pieces)]
                assert framed == first, (first[-1:], framed[-1:])


def _comparable(event: Event) -> Any:
    # h11's wording of a malformed-HTTP message depends on where the bytes were cut;
    # what the error is (kind, status, partial text) must not.
    if type(event) is Error and event.kind == "protocol":
        return (event.kind, event.status, event.partial)
    return event


if __name__ == "__main__":
    import sys

    import atheris

    atheris.instrument_all()  # coverage feedback for libchatty and h11
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
