"""bindings/_results.py: the Completion a finished call returns, built from its last
Call and the event that ended it. Pure: calls are fed recorded-shape bytes, the clock
is a function the tests count calls of. (Every binding's use of it: tests/
test_completion_metadata.py, test_options_wiring.py.)"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Final

import pytest
from libchatty.bindings._api import Completion
from libchatty.bindings._results import completion, rate_limit, stopped, streamed

from libchatty.call import Call
from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done, Error, Usage
from libchatty.exceptions import ChatError, LocalProtocolError
from libchatty.options import JSONSchema
from libchatty.ratelimit import RateLimit
from libchatty.request import ChatRequest, Message
from libchatty.structured import StructuredOutputError

NOW: Final = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
ENDPOINT: Final = Endpoint(base_url="http://127.0.0.1:1/v1", api_key="sk-results-test")


class Clock:
    """``now`` for the functions under test, counting its reads."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> datetime:
        self.reads += 1
        return NOW


def sse_head(*extra: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: text/event-stream",
             "Transfer-Encoding: chunked", "X-Request-Id: req_1", *extra]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse_event(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return chunk(f"data: {json.dumps({'choices': [choice]})}\n\n".encode())


def streamed_call(*extra_headers: str) -> tuple[Call, Done]:
    """A streaming call fed a whole answer, "Hello, world", and its Done."""
    call = Call(ENDPOINT, ChatRequest("m", [Message("user", "hi")], stream=True), now=NOW)
    call.start()
    body = (sse_head(*extra_headers) + sse_event("Hello, ") + sse_event("world")
            + sse_event(None, "stop") + chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")  # fmt: skip
    events = call.receive_data(body)
    done = events[-1]
    assert type(done) is Done
    return call, done


def json_call(stream: bool, text: str = "Hello") -> tuple[Call, Done]:
    """A call answered with one plain JSON body (asked to stream or not)."""
    call = Call(ENDPOINT, ChatRequest("m", [Message("user", "hi")], stream=stream), now=NOW)
    call.start()
    body = json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text}}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 2,
                                 "total_tokens": 5}}).encode()  # fmt: skip
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    events = call.receive_data(head + body)
    done = events[-1]
    assert type(done) is Done
    return call, done


# --- streamed ---------------------------------------------------------------------------
def test_no_call_was_not_streamed() -> None:
    assert streamed(None) is False


def test_an_event_stream_was_streamed() -> None:
    call, _ = streamed_call()
    assert streamed(call) is True


def test_a_streaming_request_answered_with_json_was_not_streamed() -> None:
    call, _ = json_call(stream=True)
    assert streamed(call) is False


def test_a_plain_request_was_not_streamed() -> None:
    call, _ = json_call(stream=False)
    assert streamed(call) is False


@pytest.mark.parametrize("stream", [True, False])
def test_before_the_head_what_was_asked_is_reported(stream: bool) -> None:
    # No Content-Type seen yet: a streaming request counts as streamed, a plain one not.
    call = Call(ENDPOINT, ChatRequest("m", [Message("user", "hi")], stream=stream), now=NOW)
    assert streamed(call) is stream


# --- completion -------------------------------------------------------------------------
def test_completion_of_done_carries_the_answer_and_the_head() -> None:
    call, done = streamed_call()
    clock = Clock()
    result = completion(done, call, None, clock)
    assert result == Completion(
        text="Hello, world",
        finish_reason="stop",
        raw_finish_reason="stop",
        streamed=True,
        request_id="req_1",
        headers=call.response_headers,
    )
    assert clock.reads == 0  # no rate-limit headers: the clock is not read


def test_completion_of_a_json_answer_has_its_usage_and_is_not_streamed() -> None:
    call, done = json_call(stream=True)
    result = completion(done, call, None, Clock())
    assert (result.text, result.streamed, result.usage) == (
        "Hello", False, Usage(input_tokens=3, output_tokens=2, total_tokens=5))  # fmt: skip


def test_completion_of_an_error_raises_chat_error_with_it() -> None:
    error = Error("rate_limit", "slow down", status=429, retry_after=2.0, partial="Hel")
    with pytest.raises(ChatError) as raised:
        completion(error, None, None, Clock())
    assert raised.value.error is error


def test_completion_before_the_end_is_the_callers_mistake() -> None:
    with pytest.raises(LocalProtocolError) as raised:
        completion(None, None, None, Clock())
    assert str(raised.value) == "the call has not ended"


def test_completion_parses_the_structured_answer_when_asked() -> None:
    call, done = json_call(stream=False, text='{"answer": 42}')
    schema = JSONSchema("result", {"type": "object"})
    assert completion(done, call, schema, Clock()).parsed == {"answer": 42}
    assert completion(done, call, "json", Clock()).parsed == {"answer": 42}
    assert completion(done, call, None, Clock()).parsed is None


def test_completion_keeps_the_text_when_the_structured_answer_is_not_json() -> None:
    call, done = json_call(stream=False, text="not json")
    with pytest.raises(StructuredOutputError) as raised:
        completion(done, call, "json", Clock())
    assert raised.value.text == "not json"


# --- stopped ----------------------------------------------------------------------------
def test_stopped_on_a_delta_returns_the_text_seen_with_finish_reason_stopped() -> None:
    call, _ = streamed_call()
    result = stopped(Delta("world"), "Hello, world", call, None, Clock())
    assert result == Completion(
        text="Hello, world",
        finish_reason="stopped",
        streamed=True,
        request_id="req_1",
        headers=call.response_headers,
    )


def test_stopped_on_done_is_the_complete_answer() -> None:
    call, done = streamed_call()
    clock = Clock()
    assert stopped(done, "ignored", call, None, clock) == completion(done, call, None, clock)


def test_stopped_without_a_call_has_no_metadata() -> None:
    assert stopped(Delta("a"), "ab", None, None, Clock()) == Completion(
        text="ab", finish_reason="stopped"
    )


# --- rate_limit -------------------------------------------------------------------------
def test_no_rate_limit_headers_means_none_and_no_clock_read() -> None:
    clock = Clock()
    assert rate_limit((("content-type", "text/event-stream"),), clock) is None
    assert clock.reads == 0


def test_rate_limit_headers_are_read_at_now() -> None:
    clock = Clock()
    headers = (("x-ratelimit-limit-requests", "500"),
               ("x-ratelimit-remaining-requests", "499"),
               ("x-ratelimit-reset-requests", "2s"))  # fmt: skip
    assert rate_limit(headers, clock) == RateLimit(
        requests_limit=500,
        requests_remaining=499,
        requests_reset=2.0,
        requests_reset_at=NOW + timedelta(seconds=2),
    )
    assert clock.reads == 1


def test_a_completion_carries_the_rate_limit_of_its_head() -> None:
    call, done = streamed_call("x-ratelimit-remaining-tokens: 7")
    result = completion(done, call, None, Clock())
    assert result.rate_limit == RateLimit(tokens_remaining=7)
