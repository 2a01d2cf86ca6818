"""Call: the generic request/response machine (dialect-specific decoding is tested per
dialect). The OpenAI chat dialect stands in for all of them here."""

from __future__ import annotations

import json
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
    assert call.reusable


def test_redirect_is_an_error_not_followed() -> None:
    response = b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://elsewhere/\r\n" \
        b"Content-Length: 0\r\n\r\n"
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
    from libchatty.dialects import get_dialect

    endpoint = Endpoint("https://api.openai.com/v1", KEY)
    request = ChatRequest("gpt-4o-mini", [Message("user", "hi")])
    for name in ("openai-chat", "openai-responses", "anthropic", "gemini", "ollama"):
        spec = get_dialect(name).build_request(endpoint, request)
        assert KEY not in repr(spec), name
        assert any(KEY in value for _, value in spec.headers), name  # it is sent, though
    call = make_call()
    assert KEY not in repr(call.endpoint)
