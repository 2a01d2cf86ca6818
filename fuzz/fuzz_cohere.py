"""Fuzz target: the Cohere v2 chat dialect through a whole libchatty.call.Call.

Input layout: byte 0 is the selector -- bit 0: the rest is a raw HTTP response (0) or an
SSE body (1) that this target wraps in a chunked ``200 text/event-stream`` response, so
the fuzzer spends its time on event shapes rather than on HTTP; bit 1: a streaming (0)
or non-streaming (1) request; bit 2: default bounds (0) or tiny ones (1) that exercise
every ``Error("limit")``, the decoder's own included (2 tool calls, 2 citations, 256
bytes of citation JSON). The seeds in ``fuzz/corpus/cohere/`` are the fixtures in
``tests/fixtures/cohere/`` behind a 0x00 selector, and their SSE bodies behind 0x01.

Asserts what fuzz_call.py asserts (see there), fed whole, byte by byte (short inputs) and
at an input-derived split: only well-typed events, one terminal event last, nothing lost,
the call finished at EOF, and with default bounds the same events for every splitting.
Only ``LocalProtocolError`` (feeding a finished call) may leave the call.

Run it with fuzz/run.py (see fuzz/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_call import _comparable, check_event, chunkings

import libchatty.dialects
from libchatty.call import Call
from libchatty.dialects.base import StreamDecoder
from libchatty.dialects.cohere import CohereDialect, CohereStreamDecoder
from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done, Error, Event
from libchatty.exceptions import LocalProtocolError
from libchatty.request import ChatRequest, Message

DEFAULT_BOUNDS = (64 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024, 64 * 1024)
TINY_BOUNDS = (256, 64, 128, 16)
MESSAGES = [Message("user", "hi")]


class _TinyCohere(CohereDialect):
    """The dialect with tiny decoder bounds (registered under its own name)."""

    name = "cohere-tiny"

    def stream_decoder(self, request: ChatRequest) -> StreamDecoder:
        return CohereStreamDecoder(max_tool_calls=2, max_citations=2, max_citation_bytes=256)


# Tiny decoder bounds have no public switch: the tiny variant gets a name of its own.
libchatty.dialects._loaded["cohere-tiny"] = _TinyCohere()


def wrap(body: bytes) -> bytes:
    """``body`` as a chunked 200 event stream (one HTTP chunk per 61 bytes)."""
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 61]), body[i : i + 61]) for i in range(0, len(body), 61)
    )
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    head += b"Transfer-Encoding: chunked\r\n\r\n"
    return head + chunks + b"0\r\n\r\n"


def run(selector: int, chunks: list[bytes]) -> list[Event]:
    tiny = bool(selector & 4)
    head, event, body, error_body = TINY_BOUNDS if tiny else DEFAULT_BOUNDS
    endpoint = Endpoint("https://api.cohere.com", "co-fuzz", "cohere-tiny" if tiny else "cohere")
    request = ChatRequest(model="command-a-03-2025", messages=MESSAGES, stream=not selector & 2)
    call = Call(
        endpoint,
        request,
        max_head_size=head,
        max_event_size=event,
        max_body_size=body,
        max_error_body_size=error_body,
    )
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
    for item in events:
        check_event(item)
    assert events and type(events[-1]) in (Done, Error), events[-3:]
    assert all(type(e) is Delta for e in events[:-1])
    text = "".join(e.text for e in events if type(e) is Delta and e.kind == "text" and not e.index)
    last = events[-1]
    assert (last.text if type(last) is Done else last.partial) == text  # type: ignore[union-attr]
    return events


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    selector, response = data[0], data[1:]
    if selector & 1:
        response = wrap(response)
    results = [run(selector, chunks) for chunks in chunkings(response)]
    if not selector & 4:  # default bounds: every splitting decodes the same
        first = [_comparable(e) for e in results[0]]
        for events in results[1:]:
            assert [_comparable(e) for e in events] == first, (first[-1:], events[-1:])


if __name__ == "__main__":
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
