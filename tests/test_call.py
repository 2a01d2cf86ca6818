"""Call: the generic request/response machine (dialect-specific decoding is tested per
dialect). The OpenAI chat dialect stands in for all of them here."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import replace
from typing import Any

import pytest
from decoding import check_shape, feed
from hypothesis import given
from hypothesis import strategies as st
from wire import all_splittings, chunked_response, fixture, sized_response, splits_at

from libchatty import (
    Call,
    ChatRequest,
    Delta,
    Done,
    Endpoint,
    Error,
    LocalProtocolError,
    Message,
)
from libchatty.dialects import get_dialect
from libchatty.redact import MARKER, Redactor

KEY = "sk-test-EXAMPLE-key"


def make_call(stream: bool = True, **limits: Any) -> Call:
    endpoint = Endpoint("https://api.openai.com/v1", KEY)
    request = ChatRequest("gpt-4o-mini", [Message("user", "hi")], stream=stream)
    return Call(endpoint, request, **limits)


def sse_response(*events: bytes, head: bytes = b"") -> bytes:
    return chunked_response(events, headers=head)


def chunk(text: str, finish: str | None = None) -> bytes:
    delta = {"content": text} if text else {}
    payload = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


GOOD = sse_response(chunk("Hel"), chunk("lo"), chunk("", "stop"), b"data: [DONE]\n\n")


# --- the request ----------------------------------------------------------------------------


def test_start_writes_a_complete_request() -> None:
    call = make_call()
    data = call.start()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    lines = head.lower().split(b"\r\n")
    assert b"host: api.openai.com" in lines
    assert b"accept: text/event-stream" in lines
    assert b"accept-encoding: identity" in lines
    assert b"content-type: application/json" in lines
    assert f"content-length: {len(body)}".encode() in lines
    assert json.loads(body)["stream"] is True
    assert (call.host, call.port, call.tls) == ("api.openai.com", 443, True)


def test_non_streaming_request_asks_for_json() -> None:
    data = make_call(stream=False).start()
    assert b"Accept: application/json\r\n" in data
    assert "stream" not in json.loads(data.partition(b"\r\n\r\n")[2])


def test_misuse_raises() -> None:
    call = make_call()
    with pytest.raises(LocalProtocolError):
        call.receive_data(b"HTTP/1.1 200 OK\r\n")
    call.start()
    with pytest.raises(LocalProtocolError):
        call.start()
    call.receive_data(GOOD)
    assert not call.wants_data
    with pytest.raises(LocalProtocolError):
        call.receive_data(b"more")


# --- a good stream --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "pieces"), list(all_splittings(GOOD)))
def test_stream_whole_and_split(name: str, pieces: list[bytes]) -> None:
    call = make_call()
    events = feed(call, pieces, eof=False)
    check_shape(events)
    assert [e for e in events if isinstance(e, Delta)] == [Delta("Hel"), Delta("lo")]
    assert isinstance(events[-1], Done)
    assert events[-1].text == "Hello"
    assert events[-1].finish_reason == "stop"
    assert call.finished and call.delivered
    assert call.reusable
    assert call.text == "Hello"


def test_done_before_body_end_drains_for_reuse() -> None:
    call = make_call()
    call.start()
    head_and_events = GOOD[: GOOD.index(b"0\r\n\r\n")]
    events = call.receive_data(head_and_events)
    assert isinstance(events[-1], Done)
    assert call.finished
    assert call.wants_data and not call.reusable  # the last chunk is still to come
    assert call.receive_data(b"0\r\n\r\n") == []
    assert call.reusable and not call.wants_data


def test_peer_closing_after_done_loses_only_reuse() -> None:
    call = make_call()
    call.start()
    events = call.receive_data(GOOD[: GOOD.index(b"0\r\n\r\n")])
    assert isinstance(events[-1], Done)
    assert call.receive_data(b"") == []
    assert not call.wants_data and not call.reusable


def test_connection_close_is_not_reusable() -> None:
    call = make_call()
    events = feed(
        call,
        [sse_response(chunk("x", "stop"), b"data: [DONE]\n\n", head=b"Connection: close\r\n")],
    )
    assert isinstance(events[-1], Done)
    assert not call.reusable


def test_a_request_saying_connection_close_is_not_reusable() -> None:
    # Our side closes: the server's head keeps the connection, h11 (which wrote our
    # request) does not.
    endpoint = Endpoint("https://api.openai.com/v1", KEY, headers={"Connection": "close"})
    call = Call(endpoint, ChatRequest("gpt-4o-mini", [Message("user", "hi")], stream=True))
    assert b"\r\nConnection: close\r\n" in call.start()
    events = call.receive_data(GOOD)
    assert isinstance(events[-1], Done) and not call.wants_data
    assert not call.reusable


def test_a_stream_holds_no_h11_connection_after_its_head() -> None:
    # Memory per stream (issue 14): the body is read by http1body, so h11's receive
    # buffer (a copy of the first read) and state are dropped once the head is parsed;
    # a Call is slotted (no __dict__).
    call = make_call()
    call.start()
    head_and_first = GOOD[: GOOD.index(b"lo")]
    assert call.receive_data(GOOD[:20]) == [] and call._h11 is not None  # head incomplete
    events = call.receive_data(head_and_first[20:])
    assert events == [Delta("Hel")]
    assert call._h11 is None
    assert not hasattr(call, "__dict__")
    assert isinstance(call.receive_data(GOOD[len(head_and_first) :])[-1], Done)
    assert call.reusable and not call.wants_data


# --- streams that go wrong ------------------------------------------------------------------


def test_eof_mid_stream_is_incomplete_with_partial_text() -> None:
    cut = GOOD[: GOOD.index(b"lo") + 10]
    events = feed(make_call(), [cut])
    error = events[-1]
    assert isinstance(error, Error)
    assert error.kind == "incomplete"
    assert error.partial == "Hel"
    assert error.status == 200


def test_body_end_without_done_marker_is_incomplete() -> None:
    events = feed(make_call(), [sse_response(chunk("Hel"), chunk("lo"))])
    assert isinstance(events[-1], Error)
    assert events[-1].kind == "incomplete"
    assert events[-1].partial == "Hello"


def test_eof_before_any_response_is_a_connection_error() -> None:
    events = feed(make_call(), [])
    assert len(events) == 1 and isinstance(events[0], Error)
    assert events[0].kind == "connection" and events[0].retryable


def test_garbage_instead_of_http_is_a_protocol_error() -> None:
    events = feed(make_call(), [b"SSH-2.0-OpenSSH_9.6\r\n\r\n"])
    assert isinstance(events[-1], Error) and events[-1].kind == "protocol"


def test_invalid_json_in_a_data_line_is_a_protocol_error_keeping_partial() -> None:
    events = feed(make_call(), [sse_response(chunk("Hel"), b"data: {not json\n\n")])
    assert isinstance(events[-1], Error)
    assert events[-1].kind == "protocol"
    assert events[-1].partial == "Hel"
    assert len([e for e in events if isinstance(e, (Done, Error))]) == 1


def test_head_limit() -> None:
    head = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n"
    events = feed(make_call(max_head_size=1024), [head])
    assert isinstance(events[-1], Error) and events[-1].kind == "limit"


def test_head_limit_when_the_head_arrives_in_small_reads() -> None:
    head = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n"
    events = feed(make_call(max_head_size=1024), [head[i : i + 100] for i in range(0, 5100, 100)])
    assert isinstance(events[-1], Error) and events[-1].kind == "limit"


def test_event_limit_keeps_partial() -> None:
    big = b"data: " + b"x" * 5000 + b"\n\n"
    events = feed(make_call(max_event_size=1024), [sse_response(chunk("ok"), big)])
    assert isinstance(events[-1], Error)
    assert events[-1].kind == "limit"
    assert events[-1].partial == "ok"


def test_json_body_limit() -> None:
    body = b'{"pad": "' + b"x" * 5000 + b'"}'
    events = feed(make_call(stream=False, max_body_size=1024), [sized_response(body)])
    assert isinstance(events[-1], Error) and events[-1].kind == "limit"


def test_error_body_is_bounded_but_read_to_the_end_for_reuse() -> None:
    body = b'{"error": {"message": "' + b"m" * 5000 + b'"}}'
    response = sized_response(body, status=500, reason="Internal Server Error")
    call = make_call(max_error_body_size=100)
    events = feed(call, [response], eof=False)
    assert len(events) == 1 and isinstance(events[0], Error)
    assert events[0].kind == "server" and events[0].status == 500 and events[0].retryable
    assert events[0].message == body[:100].decode()  # exactly the kept start of the body
    assert call.reusable


@pytest.mark.parametrize("extra", [0, 1])
def test_error_body_kept_at_the_limit_and_one_past(extra: int) -> None:
    body = b"x" * (100 + extra)  # not JSON: the message is the body's start, as kept
    response = sized_response(body, status=500, reason="Internal Server Error")
    bytewise = [response[i : i + 1] for i in range(len(response))]
    for chunks in ([response], bytewise):
        call = make_call(max_error_body_size=100)
        events = feed(call, chunks, eof=False)
        assert [type(e) for e in events] == [Error]
        assert events[0].message == "x" * 100
        assert call.reusable


def test_redirect_is_an_error_not_followed() -> None:
    response = (
        b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://elsewhere/\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    events = feed(make_call(), [response])
    assert isinstance(events[0], Error) and events[0].kind == "redirect"
    assert "https://elsewhere/" in events[0].message


def test_json_answer_to_a_stream_request_is_one_delta_and_done() -> None:
    events = feed(make_call(), [fixture("compat/json-for-stream-request.http")])
    assert [type(e) for e in events] == [Delta, Done]
    assert events[0] == Delta("Bonjour ! Comment puis-je vous aider ?")


def test_key_never_appears_in_events() -> None:
    response = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
    events = feed(make_call(), [response])
    assert KEY not in repr(events)


# --- every split gives the same events ------------------------------------------------------


@given(st.lists(st.integers(0, len(GOOD)), max_size=12))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    reference = feed(make_call(), [GOOD], eof=False)
    assert feed(make_call(), splits_at(GOOD, cuts), eof=False) == reference


def test_key_never_appears_in_reprs_of_anything_the_call_holds() -> None:

    endpoint = Endpoint("https://api.openai.com/v1", KEY)
    request = ChatRequest("gpt-4o-mini", [Message("user", "hi")])
    for name in ("openai-chat", "openai-responses", "anthropic", "gemini", "ollama"):
        spec = get_dialect(name).build_request(endpoint, request)
        assert KEY not in repr(spec), name
        assert any(KEY in value for _, value in spec.headers), name  # it is sent, though
    call = make_call()
    assert KEY not in repr(call.endpoint)


# --- secrets never leave in an Error (issue 9, point 1) -------------------------------------


DIALECTS = ("openai-chat", "openai-responses", "anthropic", "gemini", "ollama")
LONG_KEY = "sk-proj-Abc123Def456Ghi789Jkl0MnoPqr"


def jdump(value: Any) -> bytes:
    return json.dumps(value).encode()


def sse(data: Any, event: str | None = None) -> bytes:
    return (f"event: {event}\n" if event else "").encode() + b"data: " + jdump(data) + b"\n\n"


#: Each provider's 401 body around a message (its documented error envelope), written
#: here rather than by the replay renderers.
ERROR_BODIES = {
    "openai-chat": lambda m: {
        "error": {
            "message": m,
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    },
    "openai-responses": lambda m: {
        "error": {
            "message": m,
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    },
    "anthropic": lambda m: {
        "type": "error",
        "error": {"type": "authentication_error", "message": m},
    },
    "gemini": lambda m: {"error": {"code": 401, "message": m, "status": "UNAUTHENTICATED"}},
    "ollama": lambda m: {"error": m},
}

#: Each provider's stream up to the answer text "Hi" (no terminal marker), and its
#: in-stream error event around a message.
OPENINGS = {
    "openai-chat": [chunk("Hi")],
    "openai-responses": [
        sse(
            {
                "type": "response.created",
                "sequence_number": 0,
                "response": {"id": "resp_1", "status": "in_progress", "output": []},
            },
            "response.created",
        ),
        sse(
            {
                "type": "response.output_text.delta",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": "Hi",
                "sequence_number": 1,
            },
            "response.output_text.delta",
        ),
    ],
    "anthropic": [
        sse(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "m",
                    "stop_reason": None,
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                },
            },
            "message_start",
        ),
        sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        ),
        sse(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
            "content_block_delta",
        ),
    ],
    "gemini": [
        sse({"candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"}, "index": 0}]})
    ],
    "ollama": [
        jdump(
            {
                "model": "m",
                "created_at": "2025-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": "Hi"},
                "done": False,
            }
        )
        + b"\n"
    ],
}
STREAM_ERRORS = {
    "openai-chat": lambda m: sse({"error": {"message": m, "type": "server_error"}}),
    "openai-responses": lambda m: sse(
        {
            "type": "error",
            "code": "server_error",
            "message": m,
            "param": None,
            "sequence_number": 2,
        },
        "error",
    ),
    "anthropic": lambda m: sse(
        {"type": "error", "error": {"type": "overloaded_error", "message": m}}, "error"
    ),
    "gemini": lambda m: sse({"error": {"code": 500, "message": m, "status": "INTERNAL"}}),
    "ollama": lambda m: jdump({"error": m}) + b"\n",
}


def dialect_call(name: str, stream: bool = True, key: str = LONG_KEY, **options: Any) -> Call:
    endpoint = Endpoint("https://api.example.com/v1", key, name)
    return Call(endpoint, ChatRequest("m", [Message("user", "hi")], stream=stream), **options)


def stream_response(name: str, events: list[bytes], head: bytes = b"") -> bytes:
    content_type = "application/x-ndjson" if name == "ollama" else "text/event-stream"
    return chunked_response(events, content_type, headers=head)


@pytest.mark.parametrize("name", DIALECTS)
def test_a_key_echoed_in_a_401_body_is_redacted(name: str) -> None:
    message = f"Incorrect API key provided: {LONG_KEY}. Yours ends in sk-proj-****MnoPqr"
    body = jdump(ERROR_BODIES[name](message))
    events = feed(dialect_call(name), [sized_response(body, status=401, reason="Unauthorized")])
    [error] = events
    assert isinstance(error, Error)
    assert (error.kind, error.status) == ("auth", 401)
    assert error.message == (
        f"Incorrect API key provided: {MARKER}. Yours ends in {MARKER}****MnoPqr"
    )


@pytest.mark.parametrize("name", DIALECTS)
def test_a_key_quoted_by_an_in_stream_error_event_is_redacted(name: str) -> None:
    error_event = STREAM_ERRORS[name](f"key {LONG_KEY[4:20]} was revoked")
    for how, pieces in all_splittings(stream_response(name, [*OPENINGS[name], error_event])):
        events = feed(dialect_call(name), pieces)
        assert events[:-1] == [Delta("Hi")], (name, how)
        error = events[-1]
        assert isinstance(error, Error), (name, how)
        assert error.message == f"key {MARKER} was revoked", (name, how)
        assert (error.status, error.partial) == (200, "Hi"), (name, how)
        assert not Redactor([LONG_KEY]).leaks(repr(events)), (name, how)


def test_every_textual_field_is_redacted_but_partial_is_kept() -> None:
    body = json.dumps({"error": {"message": "slow down", "type": f"quota:{KEY}"}}).encode()
    response = (
        b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
        + f"Retry-After: Thu, 01 Jan 2099 00:00:00 GMT {KEY}\r\n".encode()
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    [error] = feed(make_call(), [response])
    assert isinstance(error, Error)
    assert error.provider_type == f"quota:{MARKER}"
    assert error.retry_after_date == f"Thu, 01 Jan 2099 00:00:00 GMT {MARKER}"
    # The model's own answer is the caller's already (as deltas): never rewritten.
    stream = sse_response(
        chunk(f"echo {KEY}"), b'data: {"error": {"message": "' + KEY.encode() + b'"}}\n\n'
    )
    events = feed(make_call(), [stream])
    assert events[0] == Delta(f"echo {KEY}")
    error = events[-1]
    assert isinstance(error, Error)
    assert (error.message, error.partial) == (MARKER, f"echo {KEY}")


def test_credential_headers_query_keys_and_driver_secrets_are_redacted() -> None:
    endpoint = Endpoint(
        "https://example.com/v1?key=query-key-0123456789",
        KEY,
        headers={"X-Custom-Token": "custom-token-abcdef", "OpenAI-Project": "proj_visible_1"},
    )
    request = ChatRequest("m", [Message("user", "hi")])
    call = Call(endpoint, request, secrets=["proxy-password-42", "pw1"])
    message = "echo: query-key-0123456789 custom-token-abcdef proxy-password-42 pw1 proj_visible_1"
    body = json.dumps({"error": {"message": message}}).encode()
    [error] = feed(call, [sized_response(body, status=500, reason="Oops")])
    assert isinstance(error, Error)
    assert error.message == f"echo: {MARKER} {MARKER} {MARKER} {MARKER} proj_visible_1"


def test_a_protocol_fault_quoting_raw_bytes_is_redacted() -> None:
    stream = sse_response(chunk("ok"), b'data: {"choices": [' + KEY.encode() + b"]}\n\n")
    events = feed(make_call(), [stream])
    error = events[-1]
    assert isinstance(error, Error) and error.kind == "protocol"
    assert error.message.startswith("malformed response: ")
    assert not Redactor([KEY]).leaks(error.message)


# --- Error.status is the response's in every dialect (point 14b) ---------------------------


@pytest.mark.parametrize("name", DIALECTS)
def test_a_cut_off_stream_has_status_200_in_every_dialect(name: str) -> None:
    opening = OPENINGS[name]
    for cut in range(len(opening) + 1):  # every prefix: none has the terminal marker
        whole = stream_response(name, opening[:cut])
        for pieces in ([whole], [whole[: whole.rindex(b"0\r\n\r\n")]]):  # body end, or EOF
            events = feed(dialect_call(name), pieces)
            error = events[-1]
            assert isinstance(error, Error), (name, cut)
            assert (error.kind, error.status) == ("incomplete", 200), (name, cut, error)


# --- reuse: nothing may follow the response (point 4b) -------------------------------------


def test_a_sized_response_read_exactly_is_reusable() -> None:
    call = make_call(stream=False)
    events = feed(call, [fixture("openai-chat/nonstream-text.http")], eof=False)
    assert isinstance(events[-1], Done)
    assert call.reusable


def test_bytes_past_content_length_make_the_connection_unusable() -> None:
    call = make_call(stream=False)
    events = feed(call, [fixture("openai-chat/nonstream-text.http") + b"{}"], eof=False)
    assert isinstance(events[-1], Done)
    assert not call.wants_data
    assert not call.reusable


def test_an_extra_pipelined_response_makes_the_connection_unusable() -> None:
    call = make_call()
    events = feed(call, [GOOD + GOOD], eof=False)
    assert isinstance(events[-1], Done) and events[-1].text == "Hello"
    assert not call.reusable


def test_bytes_after_the_last_chunk_in_a_later_read_make_it_unusable() -> None:
    call = make_call()
    call.start()
    events = call.receive_data(GOOD[: GOOD.index(b"0\r\n\r\n")])
    assert isinstance(events[-1], Done) and call.wants_data
    assert call.receive_data(b"0\r\n\r\nHTTP/1.1 408 Request Timeout\r\n") == []
    assert not call.wants_data and not call.reusable


# --- Content-Encoding (point 7) --------------------------------------------------------------


SSE_BODY = chunk("Hel") + chunk("lo") + chunk("", "stop") + b"data: [DONE]\n\n"


def coded_response(
    body: bytes,
    coding: str,
    content_type: str = "text/event-stream",
    status: int = 200,
    reason: str = "OK",
    cuts: tuple[int, ...] = (),
    extra_head: bytes = b"",
) -> bytes:
    """``body`` compressed by the standard library, chunked at ``cuts`` of the compressed
    bytes, behind a head naming ``coding``."""
    if coding == "gzip":
        packed = gzip.compress(body)
    else:
        wbits = zlib.MAX_WBITS if coding == "deflate" else -zlib.MAX_WBITS
        packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
        packed = packer.compress(body) + packer.flush()
    name = b"deflate" if coding == "raw-deflate" else coding.encode()
    return chunked_response(
        splits_at(packed, list(cuts)),
        content_type,
        status,
        reason,
        headers=b"Content-Encoding: " + name + b"\r\n" + extra_head,
    )


@given(
    st.sampled_from(["gzip", "deflate", "raw-deflate"]),
    st.lists(st.integers(0, 200), max_size=6),
    st.lists(st.integers(0, 400), max_size=12),
)
def test_a_compressed_stream_gives_the_plain_events_at_any_split(
    coding: str, chunk_cuts: list[int], read_cuts: list[int]
) -> None:
    reference = feed(make_call(), [GOOD], eof=False)
    response = coded_response(SSE_BODY, coding, cuts=tuple(chunk_cuts))
    call = make_call()
    assert feed(call, splits_at(response, read_cuts), eof=False) == reference
    assert call.reusable


def test_a_compressed_stream_byte_by_byte() -> None:
    reference = feed(make_call(), [GOOD], eof=False)
    response = coded_response(SSE_BODY, "gzip")
    assert feed(make_call(), [response[i : i + 1] for i in range(len(response))]) == reference


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
def test_a_compressed_json_body_and_error_body(coding: str) -> None:
    body = fixture("openai-chat/nonstream-text.http").partition(b"\r\n\r\n")[2]
    events = feed(make_call(stream=False), [coded_response(body, coding, "application/json")])
    plain = feed(make_call(stream=False), [fixture("openai-chat/nonstream-text.http")])
    assert events == plain
    error_body = json.dumps({"error": {"message": f"bad key {KEY}"}}).encode()
    [error] = feed(make_call(), [coded_response(error_body, coding, "application/json", 401, "No")])
    assert error == Error("auth", f"bad key {MARKER}", status=401, retryable=False, partial="")


def test_an_unsupported_coding_is_a_protocol_error_naming_it() -> None:
    response = sse_response(b"\x1b\x00binary", head=b"Content-Encoding: br\r\n")
    call = make_call()
    events = feed(call, [response], eof=False)
    assert events == [
        Error(
            "protocol",
            "the response body uses Content-Encoding 'br', which libchatty does not decode "
            "(only gzip and deflate)",
            status=200,
        )
    ]
    assert not call.wants_data and not call.reusable


def test_stacked_codings_are_refused_by_name() -> None:
    response = sse_response(b"x", head=b"Content-Encoding: gzip\r\nContent-Encoding: zstd\r\n")
    [error] = feed(make_call(), [response])
    assert isinstance(error, Error) and error.kind == "protocol"
    assert error.message == (
        "the response body uses Content-Encoding 'gzip, zstd', which libchatty does not "
        "decode (only gzip and deflate)"
    )


def test_an_error_status_in_an_unsupported_coding_keeps_its_kind_and_wait() -> None:
    response = sized_response(b"\x1b\x00\xffbinary", status=429, reason="Too Many Requests")
    response = response.replace(b"\r\n\r\n", b"\r\nContent-Encoding: br\r\nRetry-After: 7\r\n\r\n")
    call = make_call()
    [error] = feed(call, [response], eof=False)
    assert error == Error(
        "rate_limit",
        "HTTP 429 Too Many Requests (the response body uses Content-Encoding 'br', which "
        "libchatty does not decode (only gzip and deflate))",
        status=429,
        retry_after=7.0,
        retryable=True,
    )
    assert call.reusable  # the body was read to its end, unread


def test_truncated_gzip_is_a_protocol_error() -> None:
    # A sync flush after two events, then nothing: the deflate stream never ends.
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    packed = packer.compress(chunk("Hel") + chunk("lo")) + packer.flush(zlib.Z_SYNC_FLUSH)
    response = chunked_response([packed], headers=b"Content-Encoding: gzip\r\n")
    events = feed(make_call(), [response])
    error = events[-1]
    assert isinstance(error, Error)
    assert (error.kind, error.message, error.status, error.partial) == (
        "protocol",
        "malformed response: the gzip body ends before its compressed data",
        200,
        "Hello",
    )


def test_corrupt_gzip_is_a_protocol_error_without_raw_bytes() -> None:
    response = chunked_response([b"data: {oops}\n\n"], headers=b"Content-Encoding: gzip\r\n")
    [error] = feed(make_call(), [response])
    assert error == Error(
        "protocol",
        "malformed response: the gzip body is corrupt "
        "(Error -3 while decompressing data: incorrect header check)",
        status=200,
    )


def test_a_zip_bomb_ends_in_a_limit_error() -> None:
    bomb = b"data: " + b"x" * (8 * 1024 * 1024)  # one endless line: no event ever completes
    response = coded_response(bomb, "gzip")
    call = make_call(max_decoded_size=1024 * 1024, max_event_size=16 * 1024 * 1024)
    [error] = feed(call, [response])
    assert error == Error("limit", "the decoded response body exceeds 1048576 bytes", status=200)


def test_decoded_size_at_the_limit_and_one_past() -> None:
    body = fixture("openai-chat/nonstream-text.http").partition(b"\r\n\r\n")[2]
    response = coded_response(body, "gzip", "application/json")
    done = feed(make_call(stream=False, max_decoded_size=len(body)), [response])
    assert isinstance(done[-1], Done)
    [error] = feed(make_call(stream=False, max_decoded_size=len(body) - 1), [response])
    assert error == Error(
        "limit", f"the decoded response body exceeds {len(body) - 1} bytes", status=200
    )


# --- max_response_size (point 8) ---------------------------------------------------------------


def test_max_response_size_exactly_is_done_one_less_is_a_limit_error() -> None:
    events = feed(make_call(max_response_size=5), [GOOD])
    assert isinstance(events[-1], Done) and events[-1].text == "Hello"
    events = feed(make_call(max_response_size=4), [GOOD])
    assert events[:2] == [Delta("Hel"), Delta("lo")]
    assert events[-1] == Error(
        "limit", "the streamed answer exceeds 4 characters", status=200, partial="Hello"
    )


def test_max_response_size_counts_tool_arguments_and_reasoning() -> None:
    tool = {
        "index": 0,
        "id": "c1",
        "type": "function",
        "function": {"name": "f", "arguments": '{"a":1}'},
    }
    payload = {
        "choices": [
            {
                "index": 0,
                "delta": {"reasoning_content": "why", "tool_calls": [tool]},
                "finish_reason": "tool_calls",
            }
        ]
    }
    stream = sse_response(
        chunk("ok"), b"data: " + json.dumps(payload).encode() + b"\n\n", b"data: [DONE]\n\n"
    )
    size = len("ok") + len("why") + len('{"a":1}')
    done = feed(make_call(max_response_size=size), [stream])[-1]
    assert isinstance(done, Done)
    assert (done.text, done.reasoning, done.tool_calls[0].arguments) == ("ok", "why", '{"a":1}')
    error = feed(make_call(max_response_size=size - 1), [stream])[-1]
    assert isinstance(error, Error) and error.kind == "limit" and error.partial == "ok"


def test_max_response_size_stops_a_long_stream_before_it_ends() -> None:
    from libchatty.accumulate import COMPACT_AT

    # head + 100 events, chunked, without the last chunk
    reads = [sse_response(*[chunk("x")] * 100)[: -len(b"0\r\n\r\n")]]
    more = chunked_response([chunk("x")] * 100).partition(b"\r\n\r\n")[2][: -len(b"0\r\n\r\n")]
    reads += [more] * 40  # 4100 one-character deltas in reads of 100, never a [DONE]
    call = make_call(max_response_size=1524)
    events = feed(call, reads, eof=False)
    error = events[-1]
    # Answer text is compacted and counted after a read that leaves COMPACT_AT or more
    # pieces pending -- here every read of 100 -- so the count is exact after each read:
    # after read 16 (1600 pieces) it is over the limit, and the error comes there, long
    # before the body ends.
    assert COMPACT_AT <= 100
    assert isinstance(error, Error) and error.kind == "limit"
    assert error.message == "the streamed answer exceeds 1524 characters"
    assert error.partial == "x" * 1600
    assert len(events) == 1601 and not call.wants_data


# --- error metadata: the request id and the response head ----------------------------------
ERROR_HEAD = (
    b"x-amzn-RequestId: amzn-0001\r\n"
    b"Request-Id: req_anthropic_2\r\n"
    b"X-Request-Id: req_openai_1\r\n"
    b"Set-Cookie: __cf_bm=session-cookie-value; path=/\r\n"
    b"X-Api-Key: echoed-header-value\r\n"
    b"x-ratelimit-remaining-tokens: 0\r\n"
    b"X-Echo: your key was " + KEY.encode() + b"\r\n"
)


def test_an_error_carries_the_request_id_and_the_safe_headers() -> None:
    body = b'{"error": {"message": "slow down", "type": "tokens"}}'
    response = chunked_response([body], "application/json", 429, "Too Many Requests", ERROR_HEAD)
    call = make_call()
    [error] = feed(call, [response])
    assert isinstance(error, Error)
    assert error.request_id == "req_openai_1"  # x-request-id first
    assert error.headers == (
        ("content-type", "application/json"),
        ("x-amzn-requestid", "amzn-0001"),
        ("request-id", "req_anthropic_2"),
        ("x-request-id", "req_openai_1"),
        ("x-ratelimit-remaining-tokens", "0"),
        ("x-echo", f"your key was {MARKER}"),
    )
    assert call.request_id == "req_openai_1"
    assert call.response_headers == error.headers
    assert not Redactor([KEY]).leaks(repr(error.headers))


@pytest.mark.parametrize(
    ("lines", "want"),
    [
        (b"request-id: r2\r\nx-amzn-requestid: r3\r\n", "r2"),
        (b"x-amzn-requestid: r3\r\napim-request-id: r4\r\n", "r3"),
        (b"apim-request-id: r4\r\ncf-ray: 8c1a-AMS\r\n", "r4"),
        (b"cf-ray: 8c1a-AMS\r\n", None),
        (b"x-request-id:\r\nrequest-id: r2\r\n", "r2"),
    ],
)
def test_the_request_id_header_order(lines: bytes, want: str | None) -> None:
    response = chunked_response([b"{}"], "application/json", 500, "Internal Server Error", lines)
    call = make_call()
    [error] = feed(call, [response])
    assert isinstance(error, Error) and error.request_id == want == call.request_id


def test_a_stream_error_carries_the_head_too() -> None:
    response = sse_response(chunk("Hel"), head=b"x-request-id: req_cut\r\n")
    [delta, error] = feed(make_call(), [response])
    assert delta == Delta("Hel")
    assert error == Error(
        "incomplete", "the stream ended before 'data: [DONE]'", status=200, partial="Hel"
    )
    assert isinstance(error, Error) and error.request_id == "req_cut"
    assert error.headers == (("content-type", "text/event-stream"), ("x-request-id", "req_cut"))


def test_metadata_is_not_part_of_equality() -> None:
    assert Error("server", "x", request_id="a", headers=(("k", "v"),)) == Error("server", "x")
    assert "headers" not in repr(Error("server", "x", headers=(("k", "v"),)))


# --- our bugs are not the server's fault ------------------------------------------------------


def test_a_dialect_bug_propagates_instead_of_becoming_a_protocol_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call = make_call()
    call.start()
    call.receive_data(sse_response(head=b"")[: sse_response().index(b"\r\n\r\n") + 4])

    def broken(event: Any) -> list[Any]:
        return {}["missing"]  # type: ignore[no-any-return]

    call._handle = broken
    with pytest.raises(KeyError):
        call.receive_data(b"%x\r\n%s\r\n" % (len(chunk("x")), chunk("x")))


def test_a_wire_shape_fault_is_still_a_protocol_error() -> None:
    response = sse_response(b'data: {"choices": 5}\n\n')
    [error] = feed(make_call(), [response])
    assert isinstance(error, Error) and error.kind == "protocol"
    assert error.message.startswith("malformed response: ")


# --- pinned by mutation testing (mutate/run.py callbody) ---------------------------------------


def _truncated_gzip(body: bytes) -> bytes:
    """``body`` gzip-compressed and sync-flushed, without the end of the stream."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return packer.compress(body) + packer.flush(zlib.Z_SYNC_FLUSH)


def test_a_json_body_exactly_at_its_bound_still_checks_the_coding_ended() -> None:
    # Holding max_body_size bytes ends nothing for an answer (only for an error body):
    # the gzip stream must still be whole.
    body = fixture("openai-chat/nonstream-text.http").partition(b"\r\n\r\n")[2]
    response = chunked_response(
        [_truncated_gzip(body)], "application/json", headers=b"Content-Encoding: gzip\r\n"
    )
    [error] = feed(make_call(stream=False, max_body_size=len(body)), [response])
    assert error == Error(
        "protocol", "malformed response: the gzip body ends before its compressed data", status=200
    )


def test_a_compressed_error_body_is_inflated_only_until_it_is_full() -> None:
    # 1 MiB of error text in gzip: once the 1000 bytes kept are in, nothing more is
    # inflated (one step of 64 KiB at most), so an error page cannot be a zip bomb.
    body = b"x" * (1024 * 1024)
    response = chunked_response(
        [gzip.compress(body)], "text/plain", 500, "Boom", headers=b"Content-Encoding: gzip\r\n"
    )
    call = make_call(max_error_body_size=1000)
    [error] = feed(call, [response])
    assert error == Error("server", "x" * 1000, status=500, retryable=True)
    assert call._coding is not None and call._coding.size == 64 * 1024
    assert call.reusable


def test_a_compressed_error_body_past_its_decoded_bound_is_not_inflated_again() -> None:
    # Stored (level 0) gzip: each read carries its own share of decoded bytes. The first
    # read goes past max_decoded_size; the later ones are drained, never inflated.
    body = bytes(range(256)) * 20
    packed = gzip.compress(body, compresslevel=0)
    response = chunked_response(
        [packed], "text/plain", 500, "Boom", headers=b"Content-Encoding: gzip\r\n"
    )
    head_end = response.index(b"\r\n\r\n") + 4
    reads = [response[: head_end + 1000], response[head_end + 1000 :]]
    call = make_call(max_decoded_size=100, max_error_body_size=1000)
    [error] = feed(call, reads)
    assert error == Error("server", "HTTP 500 Boom", status=500, retryable=True)
    assert call._coding is not None and call._coding.size == 101
    assert call.reusable


def test_a_body_that_is_not_json_is_a_protocol_error_quoting_the_parser() -> None:
    from libchatty.jsonload import loads

    with pytest.raises(ValueError) as parser:
        loads(b"<p>not json</p>")
    [error] = feed(make_call(stream=False), [sized_response(b"<p>not json</p>")])
    assert error == Error(
        "protocol",
        f"malformed response: the response body is not JSON ({parser.value})",
        status=200,
    )


@pytest.mark.parametrize(
    "decoded",
    [[], [Delta("a")], [Done("stop", text="a"), Delta("b")]],
    ids=["nothing", "only-deltas", "ends-in-a-delta"],
)
def test_a_whole_body_without_a_terminal_event_is_a_protocol_error(
    monkeypatch: pytest.MonkeyPatch, decoded: list[Any]
) -> None:
    call = make_call(stream=False)
    monkeypatch.setattr(type(call.dialect), "decode_body", lambda self, value: decoded)
    [error] = feed(call, [sized_response(b'{"id": "x"}')])
    assert error == Error("protocol", "the response body has no result", status=200)


def test_a_whole_body_ending_in_done_after_deltas_gives_them_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call = make_call(stream=False)
    decoded = [Delta("a"), Delta("b"), Done("stop", text="ab")]
    monkeypatch.setattr(type(call.dialect), "decode_body", lambda self, value: decoded)
    assert feed(call, [sized_response(b'{"id": "x"}')]) == decoded
    assert call.delivered


def test_a_stream_decoder_whose_end_raises_gives_a_protocol_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from libchatty.exceptions import RemoteProtocolError

    call = make_call()
    decoder_type = type(call.dialect.stream_decoder(call.request))

    def end(self: Any) -> Any:
        raise RemoteProtocolError("the last tool call is cut")

    monkeypatch.setattr(decoder_type, "end", end)
    events = feed(call, [sse_response(chunk("Hel"))])
    assert events == [
        Delta("Hel"),
        Error(
            "protocol",
            "malformed response: the last tool call is cut",
            status=200,
            partial="Hel",
        ),
    ]


def test_answer_size_counts_every_part_and_the_other_choices() -> None:
    from libchatty.callbody import _answer_size
    from libchatty.events import ToolCall

    done = Done(
        "stop",
        text="ab",
        reasoning="c",
        refusal="defg",
        tool_calls=(ToolCall("c1", "f", '{"a":1}'), ToolCall("c2", "g", "{}")),
        choices=("ab", "xy", "zzz"),
    )
    # 2 text + 1 reasoning + 4 refusal + 7 + 2 arguments + the 2nd and 3rd choices (2 + 3);
    # the first choice is the text itself, not counted twice.
    assert _answer_size(done) == 21
    assert _answer_size(Done("stop", text="ab", choices=("ab",))) == 2


def _ollama_line(content: str) -> bytes:
    message = {"role": "assistant", "content": content}
    return json.dumps({"model": "m", "message": message, "done": False}).encode() + b"\n"


def test_a_bad_last_ndjson_line_without_its_newline_is_a_protocol_error() -> None:
    # The line is only parsed when the body ends (the framer's close()); everything fed
    # in the same read as the end is still delivered first.
    call = Call(
        Endpoint("http://127.0.0.1:11434", dialect="ollama"),
        ChatRequest("m", [Message("user", "hi")]),
    )
    body = _ollama_line("Hel") + _ollama_line("lo") + b'{"model": "m", "mess'
    response = chunked_response([body], "application/x-ndjson")
    from libchatty.exceptions import RemoteProtocolError
    from libchatty.ndjson import NDJSONDecoder

    framer = NDJSONDecoder(1024)
    framer.feed(body)
    with pytest.raises(RemoteProtocolError) as why:  # the parser's words (orjson or json)
        framer.close()
    assert str(why.value).startswith("NDJSON line 3: invalid JSON: ")
    events = feed(call, [response])
    assert events == [
        Delta("Hel"),
        Delta("lo"),
        Error("protocol", f"malformed response: {why.value}", status=200, partial="Hello"),
    ]
    assert call.delivered and call.finished


def test_a_decoders_own_status_and_request_id_are_kept_when_sealed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # _seal fills in what the decoder left empty, never what it set.
    head = b"x-request-id: req-outer\r\n"
    [error] = feed(make_call(), [sse_response(b'data: {"error": {"message": "m"}}\n\n', head=head)])
    assert isinstance(error, Error)
    assert (error.status, error.request_id) == (200, "req-outer")
    call = make_call()
    decoder_type = type(call.dialect.stream_decoder(call.request))
    inner = Error("overloaded", "busy", status=529, request_id="req-inner", retryable=True)
    monkeypatch.setattr(decoder_type, "sse_event", lambda self, event: [inner])
    [error] = feed(call, [sse_response(chunk("x"), head=head)])
    assert isinstance(error, Error)
    assert (error.status, error.request_id) == (529, "req-inner")


def test_a_wire_shape_fault_message_exactly_and_nothing_delivered() -> None:
    call = make_call()
    [error] = feed(call, [sse_response(b'data: {"choices": 5}\n\n')])
    assert error == Error("protocol", "malformed response: 'choices' is not a list", status=200)
    assert not call.delivered


def test_a_lone_terminal_event_delivers_nothing() -> None:
    # delivered says a retry could duplicate output: an error or an empty answer alone
    # delivered none; a Done after deltas in the same batch did.
    call = make_call()
    [error] = feed(call, [sse_response(b'data: {"error": {"message": "m"}}\n\n')])
    assert isinstance(error, Error) and not call.delivered
    call = make_call()
    events = feed(call, [sse_response(chunk("", "stop"), b"data: [DONE]\n\n")])
    assert [type(e) for e in events] == [Done] and not call.delivered
    call = make_call()
    events = feed(call, [GOOD])
    assert isinstance(events[-1], Done) and call.delivered


# --- how the head picks the body mode (callbody._on_head) ------------------------------------


NONSTREAM_BODY = fixture("openai-chat/nonstream-text.http").partition(b"\r\n\r\n")[2]


def test_a_json_suffixed_media_type_is_a_whole_body_even_when_a_stream_was_asked() -> None:
    plain = feed(make_call(stream=False), [fixture("openai-chat/nonstream-text.http")])
    assert isinstance(plain[-1], Done)
    for media in ("application/vnd.openai+json", "Application/Problem+JSON"):
        response = sized_response(NONSTREAM_BODY, media)
        assert feed(make_call(stream=True), [response]) == plain, media


def test_an_unlabelled_body_of_a_non_streamed_request_is_json() -> None:
    plain = feed(make_call(stream=False), [fixture("openai-chat/nonstream-text.http")])
    for media in ("text/plain", ""):
        response = sized_response(NONSTREAM_BODY, media)
        assert feed(make_call(stream=False), [response]) == plain, media


def test_an_unlabelled_stream_is_read_in_the_dialects_framing() -> None:
    reference = feed(make_call(), [GOOD])
    response = chunked_response([SSE_BODY], "text/plain")
    assert feed(make_call(), [response]) == reference
    # Ollama streams NDJSON: an unlabelled Ollama stream is NDJSON, not SSE.
    ollama = Call(
        Endpoint("http://127.0.0.1:11434", dialect="ollama"),
        ChatRequest("m", [Message("user", "hi")]),
    )
    last = json.dumps({"model": "m", "message": {"content": ""}, "done": True}).encode()
    body = _ollama_line("Hel") + _ollama_line("lo") + last + b"\n"
    events = feed(ollama, [chunked_response([body], "application/octet-stream")])
    assert events[:2] == [Delta("Hel"), Delta("lo")]
    assert isinstance(events[2], Done) and events[2].text == "Hello" and len(events) == 3


@pytest.mark.parametrize("status", [300, 301, 399])
def test_a_3xx_head_is_an_error_body_not_an_answer(status: int) -> None:
    response = sized_response(NONSTREAM_BODY, status=status, reason="Moved")
    [error] = feed(make_call(stream=False), [response])
    assert isinstance(error, Error)
    assert (error.kind, error.status) == ("redirect", status)


def test_a_299_head_is_an_answer() -> None:
    response = sized_response(NONSTREAM_BODY, status=299, reason="Odd")
    plain = feed(make_call(stream=False), [fixture("openai-chat/nonstream-text.http")])
    assert feed(make_call(stream=False), [response]) == plain


def test_an_unknown_sse_field_reaches_the_dialect() -> None:
    # llama.cpp's "error:" line is no SSE field; the OpenAI chat decoder keeps it and
    # reports it when the stream ends.
    line = b'error: {"code": 500, "message": "llama died", "type": "server_error"}\n\n'
    events = feed(make_call(), [sse_response(chunk("Hi"), line)])
    assert events == [
        Delta("Hi"),
        Error(
            "provider",
            "llama died",
            status=200,
            retryable=True,
            partial="Hi",
            provider_type="server_error",
        ),
    ]


LLAMA_ERROR = b'error: {"code": 500, "message": "llama died", "type": "server_error"}\n\n'
LLAMA_DIED = Error(
    "provider", "llama died", status=200, retryable=True, partial="Hi", provider_type="server_error"
)


@pytest.mark.parametrize(
    ("body", "last"),
    [
        # After the terminal event the field is past the end: the answer stands.
        (chunk("Hi") + b"data: [DONE]\n\n" + LLAMA_ERROR, Done(None, text="Hi")),
        (chunk("Hi") + LLAMA_ERROR + b"data: [DONE]\n\n", LLAMA_DIED),
        (chunk("Hi") + LLAMA_ERROR[:-1] + b"data: [DONE]\n\n", LLAMA_DIED),  # same event
    ],
)
def test_an_unknown_sse_field_counts_in_stream_order_at_any_split(
    body: bytes, last: Done | Error
) -> None:
    # Found by the call fuzz campaign: the field callback runs inside the SSE decoder's
    # feed, before the events of the same read reach the dialect, so a read holding
    # "[DONE]" and then an error: line ended in the error, and byte by byte in Done.
    response = sse_response(body)
    after_hi = response.index(b"\n\n") + 2  # a first read ending after the first event
    for pieces in (
        [response],
        [response[:after_hi], response[after_hi:]],
        [response[i : i + 1] for i in range(len(response))],
    ):
        assert feed(make_call(), pieces) == [Delta("Hi"), last]


def test_an_unknown_sse_field_between_events_of_a_later_read_keeps_its_place() -> None:
    # The second read holds an event, the field, an event, then [DONE]: the field counts
    # before [DONE], and nothing after it is lost, though an earlier read held events.
    body = chunk("Hi") + chunk("!") + LLAMA_ERROR + chunk("?") + b"data: [DONE]\n\n"
    response = sse_response(body)
    after_hi = response.index(b"\n\n") + 2
    died = replace(LLAMA_DIED, partial="Hi!?")
    assert feed(make_call(), [response[:after_hi], response[after_hi:]]) == [
        Delta("Hi"),
        Delta("!"),
        Delta("?"),
        died,
    ]


def test_a_whole_body_of_one_delta_and_done_was_delivered() -> None:
    call = make_call(stream=False)
    events = feed(call, [fixture("openai-chat/nonstream-text.http")])
    assert [type(e) for e in events] == [Delta, Done]
    assert call.delivered


def test_a_whole_body_at_max_body_size_and_one_past() -> None:
    at = feed(
        make_call(stream=False, max_body_size=len(NONSTREAM_BODY)), [sized_response(NONSTREAM_BODY)]
    )
    assert isinstance(at[-1], Done)
    [error] = feed(
        make_call(stream=False, max_body_size=len(NONSTREAM_BODY) - 1),
        [sized_response(NONSTREAM_BODY)],
    )
    assert error == Error(
        "limit", f"the response body exceeds {len(NONSTREAM_BODY) - 1} bytes", status=200
    )


def test_a_count_equal_to_max_response_size_is_not_past_it() -> None:
    # COMPACT_AT one-character deltas in one read: counted all at once, exactly the limit.
    from libchatty.accumulate import COMPACT_AT

    deltas = sse_response(b"".join(chunk("x") for _ in range(COMPACT_AT)))
    deltas = deltas[: -len(b"0\r\n\r\n")]  # the body goes on in the next read
    tail = chunk("", "stop") + b"data: [DONE]\n\n"
    end = b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail)
    events = feed(make_call(max_response_size=COMPACT_AT), [deltas, end])
    assert isinstance(events[-1], Done) and events[-1].text == "x" * COMPACT_AT
    events = feed(make_call(max_response_size=COMPACT_AT - 1), [deltas, end])
    assert events[-1] == Error(
        "limit",
        f"the streamed answer exceeds {COMPACT_AT - 1} characters",
        status=200,
        partial="x" * COMPACT_AT,
    )


# --- pinned by mutation testing (mutate/run.py call) --------------------------------------------


def test_head_faults_say_exactly_what_went_wrong() -> None:
    head = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n"
    # Arriving in small reads, h11 refuses it (its 431) before any status is known.
    small_reads = [head[i : i + 100] for i in range(0, 5100, 100)]
    assert feed(make_call(max_head_size=1024), small_reads) == [
        Error("limit", "the response head is too large")
    ]
    # In one large read, the head is parsed, then measured: its status is known.
    assert feed(make_call(max_head_size=1024), [head]) == [
        Error("limit", "the response head is too large", status=200)
    ]
    assert feed(make_call(), [b"HTTP/1.1 200 OK\r\n"]) == [
        Error(
            "connection",
            "the server closed the connection before sending a response",
            retryable=True,
        )
    ]
    assert feed(make_call(), [b"garbage\r\n\r\n"]) == [
        Error("protocol", "malformed HTTP response: illegal status line: bytearray(b'garbage')")
    ]


def test_body_before_a_framing_fault_in_the_same_read_is_delivered() -> None:
    response = sse_response(chunk("Hel"))
    bad = response[: -len(b"0\r\n\r\n")] + b"zz\r\n"
    call = make_call()
    assert feed(call, [bad]) == [
        Delta("Hel"),
        Error(
            "protocol",
            "malformed HTTP response: invalid chunk-size line b'zz'",
            status=200,
            partial="Hel",
        ),
    ]
    assert not call.reusable


def test_the_framed_door_takes_status_999_and_the_callers_reason() -> None:
    call = make_call()
    call.http_request()
    assert call.receive_head(999, [], reason="Odd Status") == []
    assert call.receive_end() == [Error("server", "HTTP 999 Odd Status", status=999)]
    call = make_call()
    call.http_request()
    call.receive_head(503, [])
    assert call.receive_end() == [
        Error("overloaded", "HTTP 503 Service Unavailable", status=503, retryable=True)
    ]


def test_a_head_in_one_read_of_exactly_max_head_size_is_not_measured_again() -> None:
    # The measure counts 4 bytes of punctuation per header ("name: value\r\n"), more than
    # a compact "a:b\r\n" takes, so it would overcount this head: it is only used on a
    # read larger than the bound, which h11 could not have bounded itself.
    head = b"HTTP/1.1 503 Busy\r\n" + b"a:b\r\n" * 40 + b"content-length:0\r\n\r\n"
    assert feed(make_call(max_head_size=len(head)), [head]) == [
        Error("overloaded", "HTTP 503 Busy", status=503, retryable=True)
    ]
    assert feed(make_call(max_head_size=len(head) - 1), [head]) == [
        Error("limit", "the response head is too large", status=503)
    ]


def test_an_informational_head_is_skipped_for_the_real_one() -> None:
    reference = feed(make_call(), [GOOD])
    continued = b"HTTP/1.1 100 Continue\r\n\r\n" + GOOD
    assert feed(make_call(), [continued]) == reference
    assert feed(make_call(), [continued[:25], continued[25:]]) == reference


def test_a_large_read_measures_the_head_at_its_bound_and_one_past() -> None:
    # One read bigger than max_head_size (the body comes with it), so the parsed head is
    # measured: each header counts name + value + 4 (": " and CRLF).
    head = b"HTTP/1.1 503 Busy\r\nContent-Length: 1000\r\nX-Pad: " + b"p" * 300 + b"\r\n\r\n"
    response = head + b"<" + b"b" * 999  # markup: the message is the status line
    measured = len("Content-Length") + len("1000") + 4 + len("X-Pad") + 300 + 4
    assert feed(make_call(max_head_size=measured), [response]) == [
        Error("overloaded", "HTTP 503 Busy", status=503, retryable=True)
    ]
    assert feed(make_call(max_head_size=measured - 1), [response]) == [
        Error("limit", "the response head is too large", status=503)
    ]


# --- pinned by mutation testing (mutate/run.py framing) -----------------------------------------


def test_an_error_body_in_several_reads_keeps_exactly_its_bound() -> None:
    response = sized_response(b"abcdefgh" * 4, "text/plain", 500, "Boom")
    body_at = len(response) - 32
    reads = splits_at(response, [body_at + 8, body_at + 16])
    call = make_call(max_error_body_size=10)
    assert feed(call, reads) == [Error("server", "abcdefghab", status=500, retryable=True)]
    assert call.reusable


def test_a_json_body_in_several_reads_past_its_bound_is_a_limit_error() -> None:
    response = sized_response(NONSTREAM_BODY)
    body_at = len(response) - len(NONSTREAM_BODY)
    half = len(NONSTREAM_BODY) // 2
    reads = [response[: body_at + half], response[body_at + half :]]
    at = feed(make_call(stream=False, max_body_size=len(NONSTREAM_BODY)), reads)
    assert isinstance(at[-1], Done)
    [error] = feed(make_call(stream=False, max_body_size=len(NONSTREAM_BODY) - 1), reads)
    assert error == Error(
        "limit", f"the response body exceeds {len(NONSTREAM_BODY) - 1} bytes", status=200
    )


def test_a_header_h11_refuses_is_a_local_error_that_quotes_nothing() -> None:
    call = make_call(user_agent=f"agent\r\nx-leak: {KEY}")
    with pytest.raises(LocalProtocolError) as refused:
        call.start()
    assert str(refused.value) == "the request has an invalid header or target"
    assert refused.value.__context__ is None and refused.value.__cause__ is None


# --- pinned by mutation testing (mutate/run.py callhead) ----------------------------------------


@pytest.mark.parametrize(
    "media", ["application/json; charset=utf-8", "Application/JSON ; charset=utf-8; x=1"]
)
def test_media_type_parameters_are_ignored(media: str) -> None:
    # A JSON answer to a stream request: only the media type says it is not a stream.
    plain = feed(make_call(stream=False), [fixture("openai-chat/nonstream-text.http")])
    assert feed(make_call(), [sized_response(NONSTREAM_BODY, media)]) == plain


def test_only_content_encoding_names_the_coding() -> None:
    # "content-language" has the length of "content-encoding": the name decides.
    reference = feed(make_call(), [GOOD])
    response = sse_response(SSE_BODY, head=b"Content-Language: en\r\n")
    assert feed(make_call(), [response]) == reference


def test_a_new_call_has_no_status_and_delivered_nothing() -> None:
    call = make_call()
    assert call.status is None and call.delivered is False
    call.start()
    assert call.status is None and call.delivered is False and not call.reusable
