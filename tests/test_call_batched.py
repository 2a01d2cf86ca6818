"""The batched shape through ``Call``: reads that hold many events.

With a dialect that has the ``message_data`` shortcut (OpenAI chat), the SSE decoder
hands the call the bulk lane's events as their data's bytes (``undecoded_messages``):
the shortcut reads them, and an event is built only for a payload it declines. These
tests hold that to the path it replaced -- every event built and given to
``sse_event`` -- for arbitrary streams split arbitrarily.
"""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import patch

from decoding import given_to_sse_event
from hypothesis import given
from hypothesis import strategies as st
from wire import cut_at

import libchatty.callbody
from libchatty import Call, ChatRequest, Delta, Done, Endpoint, Error, Message
from libchatty.sse import ServerSentEvent, SSEDecoder

KEY = "sk-test-batched-0123456789"


class EventsOnly(SSEDecoder):
    """The SSE decoder without the bytes lane: every event built (the path before it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["undecoded_messages"] = False
        super().__init__(*args, **kwargs)


def run(body: bytes, cuts: list[int], *, lane: bool = True, **limits: Any) -> list[Any]:
    """Events, text and ``delivered`` of a framed call fed ``body`` cut at ``cuts``."""
    call = Call(
        Endpoint("https://api.example.test/v1", KEY),
        ChatRequest("m", [Message("user", "hi")]),
        **limits,
    )
    call.http_request()
    if lane:
        events = call.receive_head(200, [("content-type", "text/event-stream")])
        for piece in cut_at(body, cuts):
            if not call.wants_data:
                break
            events += call.receive_body(piece)
    else:
        with patch.object(libchatty.callbody, "SSEDecoder", EventsOnly):
            events = call.receive_head(200, [("content-type", "text/event-stream")])
        assert type(call._framer) is EventsOnly
        for piece in cut_at(body, cuts):
            if not call.wants_data:
                break
            events += call.receive_body(piece)
    if call.wants_data:
        events += call.receive_end()
    errors = [(e.request_id, e.headers) for e in events if isinstance(e, Error)]
    return [events, errors, call.text, call.delivered]


def chunk(delta: dict[str, Any], *, ascii_only: bool = True, **extra: Any) -> bytes:
    document = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta}], **extra}
    return b"data: " + json.dumps(document, ensure_ascii=ascii_only).encode() + b"\n\n"


ROLE = chunk({"role": "assistant", "content": ""})
STOP = b'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
DONE = b"data: [DONE]\n\n"


def text_chunk(text: str) -> bytes:
    return chunk({"content": text})


# Mostly the common chunk (texts with quotes, backslashes, controls, non-ASCII, written
# escaped and raw), and everything else a stream may hold between them.
events = st.one_of(
    st.builds(
        lambda text, ascii_only: chunk({"content": text}, ascii_only=ascii_only),
        st.text(st.characters(blacklist_categories=["Cs"]), max_size=8),
        st.booleans(),
    ),
    st.sampled_from(
        [
            ROLE,
            STOP,
            DONE,
            b"data: [DONE]\r\n\r\n",
            text_chunk("crlf").replace(b"\n\n", b"\r\n\r\n"),
            text_chunk("ab").replace(b"ab", b"a\xffb"),  # bad UTF-8 inside the text
            text_chunk("\u00e9").replace(b"\\u00e9", b"\xc3\xa9"),
            text_chunk("x" * 300),  # over a small max_event_size
            chunk({"content": "u"}, usage={"prompt_tokens": 1}),
            chunk({"refusal": "no"}),
            b": ping\n\n",
            b"data: \n\n",
            b"data: not json\n\n",
            b"data: a\ndata: b\n\n",
            b'event: error\ndata: {"message":"boom"}\n\n',
            b'data: {"error":{"message":"in stream"}}\n\n',
            b"id: 7\n\n",
            b"retry: 30\n",
            b'error: {"code":500,"message":"llama"}\n\n',  # llama.cpp's field
            b"event: other\ndata: " + text_chunk("typed")[6:],
        ]
    ),
)


@given(
    st.lists(events, max_size=24).map(lambda parts: ROLE + b"".join(parts)),
    st.lists(st.integers(0, 2000), max_size=8),
    st.sampled_from([{}, {"max_event_size": 200}, {"max_response_size": 12}]),
)
def test_the_bytes_lane_gives_the_events_of_built_events_at_any_split(
    body: bytes, cuts: list[int], limits: dict[str, int]
) -> None:
    # (Split by split: a limit's message may say how the reads were split.)
    assert run(body, [], **limits) == run(body, [], lane=False, **limits)
    assert run(body, cuts, **limits) == run(body, cuts, lane=False, **limits)


def test_a_read_of_common_chunks_builds_no_event() -> None:
    body = ROLE + b"".join(text_chunk(f"w{n} ") for n in range(5)) + DONE
    with given_to_sse_event() as seen:
        # The fields in a read of their own: a read that starts with them is not the
        # bulk lane's (its events are built: the general path).
        fields = b"id: 3\nretry: 9\n\n"
        got, _, text, delivered = run(fields + body, [len(fields), len(fields) + len(body) // 2])
    assert got[:5] == [Delta(f"w{n} ") for n in range(5)] and type(got[5]) is Done
    assert text == "w0 w1 w2 w3 w4 " and delivered
    # Only the role chunk and [DONE], built as the SSE decoder dispatched them.
    assert seen == [
        ServerSentEvent("message", ROLE[6:-2].decode(), "3", 9),
        ServerSentEvent("message", "[DONE]", "3", 9),
    ]


def test_a_declined_payload_reaches_the_dialect_as_its_event() -> None:
    refusal = chunk({"refusal": "no\u00e9"}).replace(b"\\u00e9", b"\xff")
    with given_to_sse_event() as seen:
        first = ROLE + b"id: 5\n\n"
        got = run(first + text_chunk("a") + refusal + text_chunk("b"), [len(first)])[0]
    assert seen[-1] == ServerSentEvent("message", refusal[6:-2].decode("utf-8", "replace"), "5")
    assert got == [Delta("a"), Delta("no\ufffd", "refusal"), Delta("b"), got[-1]]
    assert type(got[-1]) is Error and got[-1].kind == "incomplete"


def test_a_llamacpp_error_field_counts_only_before_done_in_the_same_read() -> None:
    field = b'error: {"code":500,"message":"llama"}\n\n'
    before = run(ROLE + text_chunk("a") + field + text_chunk("b") + DONE, [])[0]
    assert before[:2] == [Delta("a"), Delta("b")]
    assert type(before[2]) is Error and before[2].kind == "provider"
    assert before[2].message == "llama" and before[2].partial == "ab"
    after = run(ROLE + text_chunk("a") + DONE + field + text_chunk("b"), [])[0]
    assert after[0] == Delta("a") and type(after[1]) is Done and len(after) == 2


def test_the_answer_limit_is_checked_once_per_read_of_many_events() -> None:
    body = ROLE + b"".join(text_chunk("x") for _ in range(20)) + DONE
    got = run(body, [], max_response_size=7)[0]
    # Counted at compaction (every 8 pieces): the read's 20 deltas, then the limit.
    assert got[:20] == [Delta("x")] * 20 and len(got) == 21
    assert type(got[20]) is Error and got[20].kind == "limit" and got[20].partial == "x" * 20
