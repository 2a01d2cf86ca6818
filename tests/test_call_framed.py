"""Call's framed door (http_request / receive_head / receive_body / receive_end): the same
events as the raw door for every fixture at any split, the request a stack sends, the
header forms stacks hand over, and every misuse with its exact message."""

from __future__ import annotations

import gzip
import json
from typing import Any

import h11
import pytest
from decoding import given_to_sse_event
from hypothesis import given
from hypothesis import strategies as st
from wire import chunked_response, cut_at, fixture, fixture_names, sized_response

from libchatty import (
    Call,
    ChatRequest,
    Delta,
    Done,
    Endpoint,
    Error,
    Event,
    HTTPRequest,
    LocalProtocolError,
    Message,
)
from libchatty.accumulate import COMPACT_AT
from libchatty.redact import Redactor
from libchatty.sse import ServerSentEvent

KEY = "sk-test-framed-0123456789"
# Fixture folder -> dialect (Ollama's generate fixtures speak ollama-generate).
FOLDERS = {
    "openai-chat": "openai-chat",
    "compat": "openai-chat",
    "azure": "openai-chat",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "ollama": "ollama",
    "cohere": "cohere",
    "openai-responses": "openai-responses",
}
FIXTURES = [name for folder in FOLDERS for name in fixture_names(folder) if name.endswith(".http")]


def dialect_of(name: str) -> str:
    dialect = FOLDERS[name.split("/")[0]]
    return "ollama-generate" if dialect == "ollama" and "generate" in name else dialect


def make_call(name: str = "openai-chat/stream-text.http", **kwargs: Any) -> Call:
    endpoint = Endpoint("https://api.example.test/v1", KEY, dialect=dialect_of(name))
    request = ChatRequest("m", [Message("user", "hi")], stream="nonstream" not in name)
    return Call(endpoint, request, **kwargs)


def parse(response: bytes) -> tuple[int, str, list[tuple[bytes, bytes]], bytes, bool]:
    """(status, reason, headers, de-chunked body, whether the body ended as framed): what
    an HTTP stack hands its user, read here with h11 (not the code under test)."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="POST", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(response)
    conn.receive_data(b"")
    head: Any = None
    body: list[bytes] = []
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            complete = False
            break
        if type(event) is h11.Response:
            head = event
        elif type(event) is h11.Data:
            body.append(bytes(event.data))
        elif type(event) is h11.EndOfMessage:
            complete = True
            break
    assert head is not None
    reason = head.reason.decode("latin-1")
    return head.status_code, reason, list(head.headers.raw_items()), b"".join(body), complete


def raw_door(call: Call, pieces: list[bytes]) -> list[Event]:
    call.start()
    events: list[Event] = []
    for piece in pieces:
        if not call.wants_data:
            break
        events += call.receive_data(piece)
    if call.wants_data:
        events += call.receive_data(b"")
    return events


def framed_door(call: Call, response: bytes, cuts: list[int]) -> list[Event]:
    status, reason, headers, body, complete = parse(response)
    call.http_request()
    # Names and values as str, the way httpx and aiohttp hand them over.
    pairs = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]
    events = call.receive_head(status, pairs, reason=reason)
    for piece in cut_at(body, cuts):
        if not call.wants_data:
            break
        events += call.receive_body(piece)
    if call.wants_data:
        events += call.receive_end(complete)
    assert not call.wants_data
    return events


def metadata(events: list[Event]) -> list[Any]:
    """What == leaves out of an Error: its request id and headers."""
    return [(e.request_id, e.headers) for e in events if isinstance(e, Error)]


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_gives_the_same_events_through_both_doors(name: str) -> None:
    response = fixture(name)
    raw_call = make_call(name)
    raw = raw_door(raw_call, [response])
    assert raw and isinstance(raw[-1], Done | Error)
    for cuts in ([], list(range(len(response)))):  # whole, byte by byte
        framed_call = make_call(name)
        framed = framed_door(framed_call, response, cuts)
        assert framed == raw, name
        assert metadata(framed) == metadata(raw), name
        assert framed_call.text == raw_call.text
        assert framed_call.request_id == raw_call.request_id
        assert framed_call.response_headers == raw_call.response_headers


@given(
    st.sampled_from(FIXTURES),
    st.lists(st.integers(0, 1 << 20), max_size=12),
    st.lists(st.integers(0, 1 << 20), max_size=12),
)
def test_both_doors_agree_at_random_splits(name: str, raw_cuts: list[int], cuts: list[int]) -> None:
    response = fixture(name)
    whole = raw_door(make_call(name), [response])
    assert raw_door(make_call(name), cut_at(response, raw_cuts)) == whole
    assert framed_door(make_call(name), response, cuts) == whole


# --- the request -------------------------------------------------------------------------


def test_http_request_is_what_a_stack_sends() -> None:
    call = make_call()
    request = call.http_request()
    assert isinstance(request, HTTPRequest)
    assert request.method == "POST"
    assert request.url == "https://api.example.test/v1/chat/completions"
    assert request.headers == [
        ("User-Agent", "libchatty/0.1"),
        ("Accept", "text/event-stream"),
        ("Accept-Encoding", "identity"),
        ("Content-Type", "application/json"),
        ("Authorization", f"Bearer {KEY}"),
    ]
    assert json.loads(request.body)["stream"] is True
    # The raw door sends the same body and these headers, plus Host and Content-Length.
    raw = make_call().start()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert body == request.body
    assert head.split(b"\r\n")[1:] == [
        b"Host: api.example.test",
        *(f"{n}: {v}".encode() for n, v in request.headers),
        f"Content-Length: {len(body)}".encode(),
    ]


def test_http_request_keeps_the_query_and_hides_credentials_in_its_repr() -> None:
    endpoint = Endpoint(
        "https://example.test/v1beta?key=AIzaSECRET-query-key", None, dialect="gemini"
    )
    call = Call(endpoint, ChatRequest("gemini-x", [Message("user", "hi")]))
    request = call.http_request()
    assert request.url == (
        "https://example.test/v1beta/models/gemini-x:streamGenerateContent"
        "?key=AIzaSECRET-query-key&alt=sse"
    )
    assert repr(request) == (
        "HTTPRequest(method='POST', url='https://example.test/v1beta/models/"
        "gemini-x:streamGenerateContent?...', headers=[User-Agent, Accept, "
        f"Accept-Encoding, Content-Type], body=<{len(request.body)} bytes>)"
    )
    keyed = make_call().http_request()
    assert not Redactor([KEY]).leaks(repr(keyed))
    with pytest.raises(AttributeError):
        keyed.method = "GET"  # type: ignore[misc]


# --- the head as stacks give it -------------------------------------------------------------
GOOD_BODY = (
    b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)
WANT = [Delta("Hi"), Done(text="Hi", finish_reason="stop", raw_finish_reason="stop")]


class MultiHeaders:
    """httpx's Headers, in the part used: items() joins repeated names, multi_items() not."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def items(self) -> list[tuple[str, str]]:
        raise AssertionError("items() joins repeated headers; multi_items() must be used")

    def multi_items(self) -> list[tuple[str, str]]:
        return self.pairs


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/event-stream"},
        [(b"content-type", b"text/event-stream; charset=utf-8")],
        [("Content-Type", "text/event-stream")],
        MultiHeaders([("content-type", "text/event-stream"), ("x-a", "1"), ("x-a", "2")]),
        # The framing as the wire had it: ignored, the body is already plain.
        [
            ("Content-Type", "text/event-stream"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Encoding", "gzip"),
            ("Content-Length", "3"),
        ],
    ],
    ids=["dict", "bytes-pairs", "str-pairs", "multi", "framing-ignored"],
)
def test_receive_head_takes_what_stacks_give(headers: Any) -> None:
    call = make_call()
    call.http_request()
    events = call.receive_head(200, headers)
    for i in range(0, len(GOOD_BODY), 7):
        events += call.receive_body(GOOD_BODY[i : i + 7])
    events += call.receive_end()
    assert events == WANT
    assert not call.wants_data and not call.reusable


def test_repeated_headers_stay_separate() -> None:
    call = make_call()
    call.http_request()
    call.receive_head(
        200, MultiHeaders([("content-type", "text/event-stream"), ("X-A", "1"), ("x-a", "2")])
    )
    assert call.headers == [(b"content-type", b"text/event-stream"), (b"x-a", b"1"), (b"x-a", b"2")]


def test_an_informational_head_is_skipped() -> None:
    call = make_call()
    call.http_request()
    assert call.receive_head(100, []) == []
    assert call.receive_head(200, [("content-type", "text/event-stream")]) == []
    assert call.receive_body(GOOD_BODY) + call.receive_end() == WANT


def test_an_error_status_without_a_reason_reads_as_through_the_raw_door() -> None:
    raw = raw_door(make_call(), [sized_response(b"", status=503, reason="Service Unavailable")])
    call = make_call()
    call.http_request()
    framed = call.receive_head(503, []) + call.receive_end()
    assert (
        framed
        == raw
        == [Error("overloaded", "HTTP 503 Service Unavailable", status=503, retryable=True)]
    )


# --- the end -------------------------------------------------------------------------------


def test_a_transport_failure_is_incomplete_with_the_partial_text() -> None:
    call = make_call()
    call.http_request()
    events = call.receive_head(200, {"content-type": "text/event-stream"})
    events += call.receive_body(GOOD_BODY[:80])
    events += call.receive_end(complete=False)
    assert events == [
        Delta("Hi"),
        Error(
            "incomplete",
            "the connection closed before the response ended",
            status=200,
            partial="Hi",
        ),
    ]


def test_a_transport_failure_after_the_terminal_event_changes_nothing() -> None:
    call = make_call()
    call.http_request()
    events = call.receive_head(200, {"content-type": "text/event-stream"})
    events += call.receive_body(GOOD_BODY)
    assert events == WANT and call.wants_data
    assert call.receive_body(b"more bytes after the end") == []
    assert call.receive_end(complete=False) == []
    assert not call.wants_data


def test_a_complete_end_without_the_terminal_marker_is_incomplete() -> None:
    call = make_call()
    call.http_request()
    call.receive_head(200, {"content-type": "text/event-stream"})
    events = call.receive_body(GOOD_BODY[:80]) + call.receive_end()
    assert type(events[-1]) is Error and events[-1].kind == "incomplete"
    assert events[-1].partial == "Hi"


def test_a_whole_json_body_through_the_framed_door() -> None:
    body = {"choices": [{"index": 0, "message": {"content": "Yes"}, "finish_reason": "stop"}]}
    data = json.dumps(body).encode()
    call = make_call("openai-chat/nonstream-text.http")
    call.http_request()
    events = call.receive_head(200, {"content-type": "application/json"})
    events += call.receive_body(data[:5]) + call.receive_body(data[5:]) + call.receive_end()
    assert events == [
        Delta("Yes"),
        Done(text="Yes", finish_reason="stop", raw_finish_reason="stop"),
    ]


def test_a_raw_door_gzip_body_is_decoded() -> None:
    packed = gzip.compress(GOOD_BODY)
    raw = raw_door(
        make_call(),
        [chunked_response([packed], headers=b"Content-Encoding: gzip\r\n")],
    )
    assert raw == WANT


def test_a_coding_the_raw_door_refuses_is_the_stacks_to_decode() -> None:
    # Found by the call fuzz campaign: a garbled head said ``Content-Encoding: chunked``.
    # The raw door refuses a coding it cannot undo; the framed door is handed the body as
    # the user's stack decoded it (or passed it through) and ignores the header by contract.
    response = chunked_response([GOOD_BODY], headers=b"Content-Encoding: chunked\r\n")
    raw = raw_door(make_call(), [response])
    assert raw == [
        Error(
            "protocol",
            "the response body uses Content-Encoding 'chunked', which libchatty does not "
            "decode (only gzip and deflate)",
            status=200,
        )
    ]
    assert framed_door(make_call(), response, []) == WANT


@pytest.mark.parametrize("kind", [bytearray, memoryview])
@pytest.mark.parametrize("stream", [True, False])
def test_a_buffer_the_stack_reuses_is_copied_before_it_is_kept(kind: Any, stream: bool) -> None:
    # Stacks hand over bytearrays and memoryviews of buffers they refill: a piece kept
    # (the start of an event, the start of a whole JSON body) must not change when the
    # caller's buffer does.
    if stream:
        call, body, want = make_call(), GOOD_BODY, WANT
        content_type = "text/event-stream"
    else:
        answer = {"choices": [{"index": 0, "message": {"content": "Yes"}, "finish_reason": "stop"}]}
        call, body = make_call("openai-chat/nonstream-text.http"), json.dumps(answer).encode()
        want = [Delta("Yes"), Done(text="Yes", finish_reason="stop", raw_finish_reason="stop")]
        content_type = "application/json"
    call.http_request()
    events = call.receive_head(200, {"Content-Type": content_type})
    buffer = bytearray(body[:30])
    events += call.receive_body(kind(buffer))
    buffer[:] = b"x" * len(buffer)  # refilled by the stack
    events += call.receive_body(body[30:]) + call.receive_end()
    assert events == want


# --- misuse -----------------------------------------------------------------------------------
FRAMED_MSG = (
    "on a call started with Call.http_request(): this call uses the framed door; feed it "
    "with Call.receive_head(), Call.receive_body() and Call.receive_end()"
)
RAW_MSG = (
    "on a call started with Call.start(): this call uses the raw door; feed it the bytes "
    "read with Call.receive_data()"
)


def misuse(call: Call, method: str, *args: Any) -> str:
    with pytest.raises(LocalProtocolError) as info:
        getattr(call, method)(*args)
    return str(info.value)


def test_every_misuse_says_what_to_call() -> None:
    new = make_call()
    assert misuse(new, "receive_head", 200, []) == "Call.receive_head() before Call.http_request()"
    assert misuse(new, "receive_body", b"x") == "Call.receive_body() before Call.http_request()"
    assert misuse(new, "receive_end") == "Call.receive_end() before Call.http_request()"
    assert misuse(new, "receive_data", b"x") == "Call.receive_data() before Call.start()"

    framed = make_call()
    framed.http_request()
    assert misuse(framed, "start") == f"Call.start() {FRAMED_MSG}"
    assert misuse(framed, "receive_data", b"x") == f"Call.receive_data() {FRAMED_MSG}"
    assert misuse(framed, "http_request") == "Call.http_request() was already called"
    assert misuse(framed, "receive_body", b"x") == "Call.receive_body() before Call.receive_head()"
    assert misuse(framed, "receive_end") == "Call.receive_end() before Call.receive_head()"
    framed.receive_head(200, {"content-type": "text/event-stream"})
    assert misuse(framed, "receive_head", 200, []) == (
        "Call.receive_head() was already called: feed the body with Call.receive_body(), "
        "then call Call.receive_end()"
    )
    framed.receive_end()
    for method, args in (
        ("receive_head", (200, [])),
        ("receive_body", (b"x",)),
        ("receive_end", ()),
    ):
        assert misuse(framed, method, *args) == f"Call.{method}() after the response ended"

    raw = make_call()
    raw.start()
    assert misuse(raw, "http_request") == f"Call.http_request() {RAW_MSG}"
    for method, args in (
        ("receive_head", (200, [])),
        ("receive_body", (b"x",)),
        ("receive_end", ()),
    ):
        assert misuse(raw, method, *args) == f"Call.{method}() {RAW_MSG}"
    assert misuse(raw, "start") == "Call.start() was already called"


@pytest.mark.parametrize("status", [99, 1000, True, "200", 200.0])
def test_a_status_that_is_not_an_http_status_is_refused(status: Any) -> None:
    call = make_call()
    call.http_request()
    assert misuse(call, "receive_head", status, []) == (
        f"Call.receive_head() wants an HTTP status code (100-999), not {status!r}"
    )


PAIRS_MSG = "receive_head() wants headers as (name, value) pairs or a mapping"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ("content-type: x", PAIRS_MSG),
        (b"x", PAIRS_MSG),
        ([("a",)], PAIRS_MSG),
        (5, PAIRS_MSG),
        ([(1, "x")], "receive_head() wants header names as str or bytes, not int"),
        ([("x", None)], "receive_head() wants header values as str or bytes, not NoneType"),
    ],
)
def test_headers_that_are_not_pairs_are_refused(headers: Any, message: str) -> None:
    call = make_call()
    call.http_request()
    with pytest.raises(LocalProtocolError) as info:
        call.receive_head(200, headers)
    assert str(info.value) == message


# --- pinned by mutation testing (mutate/run.py callhead) --------------------------------------

STANDARD_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    424: "Failed Dependency",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@pytest.mark.parametrize(("status", "phrase"), sorted(STANDARD_REASONS.items()))
def test_the_framed_door_supplies_the_standard_reason_phrase(status: int, phrase: str) -> None:
    from libchatty.callhead import reason_phrase

    assert reason_phrase(status) == phrase
    if status >= 300:  # what a user sees: the message an empty error body gets
        call = make_call()
        call.http_request()
        call.receive_head(status, [])
        [error] = call.receive_end()
        assert isinstance(error, Error) and error.message == f"HTTP {status} {phrase}"


@pytest.mark.parametrize("status", [201, 418, 499, 505, 529, 599])
def test_a_status_without_a_standard_phrase_has_none(status: int) -> None:
    from libchatty.callhead import reason_phrase

    assert reason_phrase(status) == ""


def test_an_http_request_repr_without_a_query_shows_the_whole_url() -> None:
    from libchatty.callhead import HTTPRequest

    request = HTTPRequest("POST", "https://api.example.test/v1/chat", [("A", "b")], b"xy")
    assert repr(request) == (
        "HTTPRequest(method='POST', url='https://api.example.test/v1/chat', headers=[A], "
        "body=<2 bytes>)"
    )


def test_header_values_of_every_shape_become_bytes() -> None:
    from libchatty.callhead import header_pairs

    pairs = [
        ("X-Latin", "caf\u00e9"),  # latin-1, as HTTP defines header bytes
        ("X-Cup", "caf\u00e9 \u2615"),  # not latin-1: a stack that decoded UTF-8
        (bytearray(b"X-Array"), memoryview(b"mv")),
    ]
    assert header_pairs(pairs) == [
        (b"x-latin", b"caf\xe9"),
        (b"x-cup", "caf\u00e9 \u2615".encode()),
        (b"x-array", b"mv"),
    ]


def test_headers_from_any_object_with_items_are_read() -> None:
    from libchatty.callhead import header_pairs

    class ItemsOnly:  # not a Mapping: only the items() a stack's headers object offers
        def items(self) -> list[tuple[str, str]]:
            return [("Content-Type", "text/event-stream"), ("Content-Length", "9")]

    assert header_pairs(ItemsOnly()) == [(b"content-type", b"text/event-stream")]


def test_the_first_of_repeated_request_id_headers_is_the_id() -> None:
    from libchatty.callhead import request_id

    raw = [(b"X-Request-Id", b" first "), (b"x-request-id", b"second"), (b"request-id", b"r")]
    assert request_id(raw) == "first"


def test_only_content_type_names_the_media_type() -> None:
    # "x-request-id" has the length of "content-type": the name decides, not the size.
    call = make_call()
    call.http_request()
    head = [("Content-Type", "application/json"), ("X-Request-Id", "text/event-stream")]
    assert call.receive_head(200, head) == []
    body = json.dumps(
        {"choices": [{"index": 0, "message": {"content": "Hi"}, "finish_reason": "stop"}]}
    ).encode()
    events = call.receive_body(body) + call.receive_end()
    assert events[0] == Delta("Hi")
    assert isinstance(events[1], Done) and events[1].text == "Hi" and len(events) == 2


def test_a_2xx_head_without_content_type_follows_the_request() -> None:
    body = json.dumps(
        {"choices": [{"index": 0, "message": {"content": "Hi"}, "finish_reason": "stop"}]}
    ).encode()
    call = Call(
        Endpoint("https://api.example.test/v1", KEY),
        ChatRequest("m", [Message("user", "hi")], stream=False),
    )
    call.http_request()
    assert call.receive_head(200, []) == []
    events = call.receive_body(body) + call.receive_end()
    assert events[0] == Delta("Hi") and isinstance(events[1], Done) and len(events) == 2


# --- the live shape: one whole event per read, through both doors ----------------------------
def at_events(body: bytes) -> list[int]:
    """Offsets just after each blank line of an event stream: one event per piece."""
    return [i + 2 for i in range(len(body)) if body[i : i + 2] == b"\n\n"]


SSE_FIXTURES = [
    name for name in FIXTURES if b"text/event-stream" in fixture(name).split(b"\r\n\r\n")[0]
]


@pytest.mark.parametrize("name", SSE_FIXTURES)
def test_one_event_per_read_gives_the_events_of_one_read(name: str) -> None:
    # The live shape takes the shortcut (CallBody._frame): the same events, text and
    # request metadata as the whole response in one read.
    response = fixture(name)
    whole_call = make_call(name)
    whole = raw_door(whole_call, [response])
    *_, body, complete = parse(response)
    cuts = at_events(body)
    framed_call = make_call(name)
    assert framed_door(framed_call, response, cuts) == whole
    assert framed_call.text == whole_call.text
    head = response.split(b"\r\n\r\n")[0].split(b"\r\n")
    kept = [line for line in head if not line.lower().startswith(b"transfer-encoding")]
    rechunked = b"\r\n".join([*kept, b"Transfer-Encoding: chunked"]) + b"\r\n\r\n"
    pieces = cut_at(body, cuts)
    reads = [rechunked] + [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p]
    if complete:
        reads.append(b"0\r\n\r\n")
    raw_call = make_call(name)
    assert raw_door(raw_call, reads) == whole
    assert raw_call.text == whole_call.text


def test_the_live_shape_ends_at_done_and_drains_the_rest() -> None:
    call = make_call()
    call.http_request()
    call.receive_head(200, [("content-type", "text/event-stream")])
    first = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}
    assert call.receive_body(b"data: %s\n\n" % json.dumps(first).encode()) == []
    assert call.receive_body(b"data: %s\n\n" % json.dumps(chunk).encode()) == [Delta("Hi")]
    done = call.receive_body(b"data: [DONE]\n\n")
    assert [type(e) for e in done] == [Done] and done[0].text == "Hi"
    assert call.receive_body(b"data: %s\n\n" % json.dumps(chunk).encode()) == []
    assert call.receive_end() == []
    assert call.text == "Hi"


def live_call(**kwargs: Any) -> Call:
    """A framed call past its head and the stream's first (uncommon) chunk."""
    call = make_call(**kwargs)
    call.http_request()
    call.receive_head(200, [("content-type", "text/event-stream")])
    first = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
    assert call.receive_body(b"data: %s\n\n" % json.dumps(first).encode()) == []
    return call


def text_chunk(text: str) -> bytes:
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {"content": text}}]}
    return b"data: %s\n\n" % json.dumps(chunk).encode()


@pytest.mark.parametrize(
    ("limit", "pieces", "ends_at"),
    [
        (300, 300, "done"),  # at the limit
        (300, 301, "done"),  # one past, found by the Done check
        (COMPACT_AT, COMPACT_AT, "done"),  # at the limit when the answer is counted
        (COMPACT_AT - 1, COMPACT_AT, "counted"),  # one past then: ends before [DONE]
    ],
)
def test_max_response_size_in_the_live_shape(limit: int, pieces: int, ends_at: str) -> None:
    call = live_call(max_response_size=limit)
    events: list[Event] = []
    for _ in range(pieces):
        events += call.receive_body(text_chunk("x"))
    if ends_at == "counted":
        assert call.finished and len(events) == pieces + 1
    else:
        assert not call.finished
        events += call.receive_body(b"data: [DONE]\n\n")
    if pieces > limit:
        assert type(events[-1]) is Error and events[-1].kind == "limit"
        assert events[-1].message == f"the streamed answer exceeds {limit} characters"
        assert events[-1].partial == "x" * pieces
    else:
        assert type(events[-1]) is Done and events[-1].text == "x" * limit


def test_the_live_shape_builds_no_event_for_a_common_chunk() -> None:
    # The shortcut is the point: a common chunk read alone never becomes a
    # ServerSentEvent for sse_event (only the uncommon ones do).
    with given_to_sse_event() as seen:
        call = live_call()
        assert len(seen) == 1 and not call.delivered
        assert call.receive_body(text_chunk("Hi")) == [Delta("Hi")]
        assert call.delivered
        assert call.receive_body(text_chunk("")) == []
        assert len(seen) == 1
        done = call.receive_body(b"data: [DONE]\n\n")
    assert [type(e) for e in done] == [Done] and len(seen) == 2


def test_an_uncommon_chunk_read_alone_reaches_the_dialect_as_its_event() -> None:
    # What the SSE decoder counted is what sse_event gets: type, data (invalid UTF-8
    # replaced, as the decoder does), the last event ID and the retry in force.
    with given_to_sse_event() as seen:
        call = live_call()
        assert call.receive_body(b"id: 5\nretry: 7\n\n") == []
        refusal = {"id": "c", "choices": [{"index": 0, "delta": {"refusal": "no\u00e9"}}]}
        data = json.dumps(refusal).encode().replace(b"\\u00e9", b"\xff")
        events = call.receive_body(b"data: " + data + b"\n\n")
    text = data.decode("utf-8", "replace")
    assert seen[-1] == ServerSentEvent("message", text, "5", 7)
    assert events == [Delta("no\ufffd", "refusal")]


def test_invalid_utf8_in_a_common_chunk_read_alone_is_replaced_as_in_one_read() -> None:
    body = b'data: {"choices":[{"index":0,"delta":{"role":"assistant"}}],"id":"c"}\n\n'
    body += b'data: {"choices":[{"index":0,"delta":{"content":"a\xffb"}}],"id":"c"}\n\n'
    body += b"data: [DONE]\n\n"
    response = chunked_response([body])
    whole = framed_door(make_call(), response, [])
    assert framed_door(make_call(), response, at_events(body)) == whole
    assert whole[0] == Delta("a\ufffdb")


def test_content_type_is_the_first_one_as_sent() -> None:
    call = make_call()
    call.http_request()
    assert call.content_type is None  # no head yet
    call.receive_head(200, [("X-Content-Type", "no"), ("Content-Type", "Text/Event-Stream"),
                            ("content-type", "application/json")])
    assert call.content_type == b"Text/Event-Stream"
    odd = make_call()  # a head kept as pairs (a name with a colon): read the same way
    odd.http_request()
    odd.receive_head(200, [("a:b", "c"), ("Content-Type", "text/event-stream")])
    assert odd.content_type == b"text/event-stream"
