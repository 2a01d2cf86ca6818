"""The OpenAI chat-completions dialect: every fixture through ``Call`` (whole, byte by byte,
random splits), the stream decoder's quirks one by one, generated streams through an
independent test encoder, the replay renderers, and the request bytes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

import pytest
from decoding import (
    ANY_JSON,
    SKY,
    check_body_survives,
    check_decoder_survives,
    check_error_event,
    check_fixture,
    check_like_fixture,
    check_shape,
    every_error_status,
    feed,
    joined,
    mutated_events,
    summary,
    wanted,
)
from hypothesis import given
from hypothesis import strategies as st
from wire import (
    all_splittings,
    chunked_response,
    cycle_sizes,
    expected,
    fixture,
    fixture_names,
    parse_request,
    random_splits,
    sized_response,
    sse_frame,
)

from libchatty.accumulate import Accumulator
from libchatty.call import Call
from libchatty.dialects import get_dialect
from libchatty.dialects import openai_chat_fields as fields
from libchatty.dialects.base import StreamDecoder
from libchatty.dialects.openai_chat import (
    _UNPARSED,
    DIALECT,
    FRAME_LEARNS,
    OpenAIChat,
    OpenAIChatDecoder,
)
from libchatty.dialects.plumbing import MAX_TOOL_CALLS
from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done, Error, Event, ToolCall, Usage
from libchatty.exceptions import RemoteProtocolError
from libchatty.replay import Script, get_renderer
from libchatty.request import ChatRequest, Message, Tool
from libchatty.sse import ServerSentEvent

ENDPOINT = Endpoint("https://api.openai.com/v1", "sk-test-key")
STREAM = ChatRequest(model="gpt-4o-mini", messages=[Message("user", "hi")])
NO_STREAM = ChatRequest(model="gpt-4o-mini", messages=[Message("user", "hi")], stream=False)
RENDERER = get_renderer("openai-chat")

FIXTURES = fixture_names("openai-chat") + fixture_names("compat")
# Text deltas carry the choice index (n > 1); argument fragments join to each call's
# arguments (the wire has no other source for them).
SHAPE: dict[str, Any] = {"several_choices": True, "arguments": "streamed"}


# --- helpers ----------------------------------------------------------------------------
def make_call(stream: bool = True) -> Call:
    return Call(ENDPOINT, STREAM if stream else NO_STREAM)


def run_call(
    pieces: Iterable[bytes],
    request: ChatRequest = STREAM,
    endpoint: Endpoint = ENDPOINT,
) -> list[Event]:
    """Feed response pieces to a fresh Call (then EOF), as a binding would."""
    call = Call(endpoint, request)
    events = feed(call, pieces)
    assert call.finished
    return events


def request_for(name: str) -> ChatRequest:
    return NO_STREAM if "nonstream" in name else STREAM


# --- every fixture, every splitting -----------------------------------------------------------
@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_every_splitting(name: str) -> None:
    check_fixture(name, make_call, **SHAPE)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_cut_short_is_never_done(name: str) -> None:
    """Any prefix of a response that is missing its end gives an Error carrying the text
    delivered so far -- never Done, never an exception."""
    raw = fixture(name)
    exp = expected(name)
    for cut in sorted({len(raw) // 3, len(raw) // 2, len(raw) - 40, len(raw) - 7}):
        last = check_shape(run_call([raw[:cut]], request_for(name)), **SHAPE)
        if type(last) is Done:
            # Only possible once [DONE] was read: the cut fell in the HTTP trailer.
            assert exp["error"] is None and last.text == exp["text"]
        else:
            assert type(last) is Error  # whose partial is the text delivered (check_shape)


def test_nonstream_fixtures_work_for_a_stream_request_too() -> None:
    """A server that ignores "stream": true answers with JSON: same result."""
    for name in ("openai-chat/nonstream-text.http", "openai-chat/nonstream-tool-calls.http"):
        assert summary(run_call([fixture(name)], STREAM), **SHAPE) == wanted(name), name


def test_connection_reusable_after_done() -> None:
    call = Call(ENDPOINT, STREAM)
    call.start()
    events = call.receive_data(fixture("openai-chat/stream-usage.http"))
    assert type(events[-1]) is Done
    assert not call.wants_data and call.reusable
    assert call.text == events[-1].text


# --- the stream decoder, quirk by quirk --------------------------------------------------------
def chunk(*choices: dict[str, Any], **top: Any) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps({"object": "chat.completion.chunk", "choices": list(choices), **top})
    )


def content(text: str | None, index: int = 0, **delta: Any) -> dict[str, Any]:
    return {"index": index, "delta": {"content": text, **delta}, "finish_reason": None}


def finish(reason: str, index: int = 0, **extra: Any) -> dict[str, Any]:
    return {"index": index, "delta": {}, "finish_reason": reason, **extra}


DONE = ServerSentEvent(data="[DONE]")


def decode(*items: ServerSentEvent, end: bool = False) -> list[Event]:
    decoder = DIALECT.stream_decoder(STREAM)
    out: list[Event] = []
    for item in items:
        got = decoder.sse_event(item)
        out.extend(got)
        if got and type(got[-1]) is not Delta:
            return out
    if end:
        out.append(decoder.end())
    return out


def test_role_chunk_and_empty_content_emit_nothing() -> None:
    events = decode(
        chunk({"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None}}),
        chunk(content("")),
        chunk(content(None)),
        chunk(content("Hi")),
        chunk(finish("stop")),
        DONE,
    )
    assert events == [Delta("Hi"), Done("stop", "Hi", raw_finish_reason="stop")]


def test_reasoning_under_both_names_comes_before_text() -> None:
    events = decode(
        chunk(content(None, reasoning_content="think ")),
        chunk(content(None, reasoning="more")),
        chunk(content("answer", reasoning=None)),
        chunk(finish("stop")),
        DONE,
    )
    assert events[:-1] == [
        Delta("think ", "reasoning"),
        Delta("more", "reasoning"),
        Delta("answer"),
    ]
    done = events[-1]
    assert type(done) is Done and done.reasoning == "think more" and done.text == "answer"


def test_refusal() -> None:
    events = decode(
        chunk(content(None, refusal="")),
        chunk({"index": 0, "delta": {"refusal": "No."}}),
        chunk(finish("stop")),
        DONE,
    )
    assert events[0] == Delta("No.", "refusal")
    done = events[-1]
    assert type(done) is Done and done.refusal == "No." and done.text == ""


def test_parallel_tool_calls_merge_by_index() -> None:
    def call(index: int, args: str, **head: Any) -> dict[str, Any]:
        function = {"arguments": args, **({"name": head["name"]} if "name" in head else {})}
        out: dict[str, Any] = {"index": index, "function": function}
        if "id" in head:
            out.update(id=head["id"], type="function")
        return out

    events = decode(
        chunk({"index": 0, "delta": {"role": "assistant", "content": None}}),
        chunk({"index": 0, "delta": {"tool_calls": [call(0, "", id="a", name="f")]}}),
        chunk({"index": 0, "delta": {"tool_calls": [call(1, '{"y"', id="b", name="g")]}}),
        chunk({"index": 0, "delta": {"tool_calls": [call(0, '{"x": 1}'), call(1, ": 2}")]}}),
        chunk(finish("tool_calls")),
        DONE,
    )
    assert events[:2] == [
        Delta("", "tool_call", 0, "a", "f"),
        Delta('{"y"', "tool_call", 1, "b", "g"),
    ]
    done = events[-1]
    assert type(done) is Done
    assert done.tool_calls == (ToolCall("a", "f", '{"x": 1}'), ToolCall("b", "g", '{"y": 2}'))
    assert done.finish_reason == "tool_calls"


def test_tool_calls_without_index() -> None:
    """Some compatible servers omit ``index``: a new id opens a call, none continues it."""
    events = decode(
        chunk(
            {"delta": {"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{"}}]}}
        ),
        chunk({"delta": {"tool_calls": [{"function": {"arguments": "}"}}]}}),
        chunk(
            {
                "delta": {
                    "tool_calls": [{"id": "b", "function": {"name": "g", "arguments": {"k": 1}}}]
                }
            }
        ),
        chunk(finish("tool_calls")),
        DONE,
    )
    done = events[-1]
    assert type(done) is Done
    assert done.tool_calls == (ToolCall("a", "f", "{}"), ToolCall("b", "g", '{"k":1}'))


def test_n_greater_than_one() -> None:
    events = decode(
        chunk(content("A"), content("B", 1), content("C", 2)),
        chunk(content("a", 0), content("b", 1)),
        chunk(finish("stop", 0), finish("length", 1), finish("stop", 2)),
        DONE,
    )
    assert [(e.text, e.index) for e in events if type(e) is Delta] == [
        ("A", 0),
        ("B", 1),
        ("C", 2),
        ("a", 0),
        ("b", 1),
    ]
    done = events[-1]
    assert type(done) is Done
    assert done.text == "Aa" and done.choices == ("Aa", "Bb", "C")
    assert done.raw_finish_reason == "stop"


@pytest.mark.parametrize(
    "items",
    [
        # OpenAI with stream_options: a trailing chunk with empty choices.
        [
            chunk(finish("stop")),
            chunk(usage={"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}),
        ],
        # DeepSeek/Mistral: on the finish chunk.
        [
            chunk(
                finish("stop"),
                usage={"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
            )
        ],
        # Groq: x_groq.usage.
        [
            chunk(
                finish("stop"),
                x_groq={"id": "r", "usage": {"prompt_tokens": 3, "completion_tokens": 5}},
            )
        ],
        # Moonshot: inside the finish choice.
        [
            chunk(
                finish(
                    "stop", usage={"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
                )
            )
        ],
        # "usage": null on every chunk, then the real one.
        [
            chunk(content("", usage=None), usage=None),
            chunk(finish("stop"), usage=None),
            chunk(usage={"prompt_tokens": 3, "completion_tokens": 5}),
        ],
    ],
)
def test_usage_wherever_it_comes(items: list[ServerSentEvent]) -> None:
    done = decode(*items, DONE)[-1]
    assert type(done) is Done
    assert done.usage == Usage(3, 5, 8)


def test_usage_details() -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "total_tokens": 30,
        "completion_tokens_details": {"reasoning_tokens": 7},
        "prompt_tokens_details": {"cached_tokens": 4},
    }
    done = decode(chunk(finish("stop")), chunk(usage=usage), DONE)[-1]
    assert type(done) is Done and done.usage == Usage(10, 20, 30, 7, 4)


def test_no_usage_is_none_not_zero() -> None:
    done = decode(chunk(content("x")), chunk(finish("stop")), DONE)[-1]
    assert type(done) is Done and done.usage is None


def test_error_object_in_stream_ends_at_once() -> None:
    decoder = DIALECT.stream_decoder(STREAM)
    assert decoder.sse_event(chunk(content("Once"))) == [Delta("Once")]
    error = {"message": "boom", "type": "server_error", "param": None, "code": None}
    [event] = decoder.sse_event(ServerSentEvent(data=json.dumps({"error": error})))
    assert event == Error(
        "provider", "boom", status=200, retryable=True, partial="Once", provider_type="server_error"
    )


@pytest.mark.parametrize(
    ("error", "provider_type", "retryable"),
    [
        ({"message": "m", "type": "invalid_request_error"}, "invalid_request_error", False),
        ({"message": "m", "type": "InternalServerError", "code": 500}, "InternalServerError", True),
        ({"message": "m", "code": 429}, "429", True),
        ({"message": "m", "code": "server_error"}, "server_error", True),
        ("plain text", None, False),
    ],
)
def test_stream_error_types(error: Any, provider_type: str | None, retryable: bool) -> None:
    [event] = decode(ServerSentEvent(data=json.dumps({"error": error})))
    assert type(event) is Error and event.kind == "provider" and event.status == 200
    assert event.provider_type == provider_type and event.retryable is retryable
    assert event.message == (error["message"] if isinstance(error, dict) else error)


def test_error_event_name() -> None:
    error = ServerSentEvent(event="error", data="upstream timed out")
    [event] = decode(chunk(content("a")), error)[1:]
    assert type(event) is Error and event.message == "upstream timed out" and event.partial == "a"


def test_openrouter_finish_reason_error_without_object_is_not_success() -> None:
    events = decode(chunk(content("half")), chunk(finish("error")), DONE)
    last = events[-1]
    assert type(last) is Error and last.kind == "provider" and last.partial == "half"


def test_llamacpp_error_field_wins_over_done() -> None:
    decoder = DIALECT.stream_decoder(STREAM)
    decoder.sse_field("error", '{"code":500,"message":"oops","type":"server_error"}')
    decoder.sse_field("error", "a second one is ignored")
    decoder.sse_field("x-unknown", "ignored")
    [event] = decoder.sse_event(DONE)
    assert event == Error(
        "provider", "oops", status=200, retryable=True, provider_type="server_error"
    )
    decoder = DIALECT.stream_decoder(STREAM)
    decoder.sse_field("error", "not json")
    end = decoder.end()
    assert type(end) is Error and end.kind == "provider" and end.message == "not json"


def test_end_without_done_is_incomplete() -> None:
    events = decode(chunk(content("cut")), end=True)
    last = events[-1]
    assert type(last) is Error and last.kind == "incomplete" and last.partial == "cut"
    events = decode(chunk(content("all")), chunk(finish("stop")), end=True)
    last = events[-1]
    assert type(last) is Error and last.kind == "incomplete" and "'stop'" in last.message


def test_blank_data_is_a_keep_alive_and_done_may_have_spaces() -> None:
    events = decode(chunk(content("a")), ServerSentEvent(data=""), ServerSentEvent(data=" [DONE] "))
    assert events == [Delta("a"), Done(None, "a")]


def test_done_without_finish_reason() -> None:
    done = decode(chunk(content("x")), DONE)[-1]
    assert type(done) is Done and done.finish_reason is None and done.text == "x"


def test_mistral_content_parts() -> None:
    parts = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
        {"type": "text", "text": "yes"},
    ]
    events = decode(chunk({"index": 0, "delta": {"content": parts}}), chunk(finish("stop")), DONE)
    assert events[:2] == [Delta("hmm", "reasoning"), Delta("yes")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ('{"choices": [', "invalid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"choices": {"0": 1}}', "not a list"),
        ('{"choices": [3]}', "not a JSON object"),
        ('{"choices": [{"delta": [1]}]}', "'delta'"),
        ('{"choices": [{"delta": {"content": 5}}]}', "not a string"),
        ('{"choices": [{"index": 99999999, "delta": {"content": "x"}}]}', "choice index"),
        ('{"choices": [{"index": "0x", "delta": {"content": "x"}}]}', "choice index"),
        ('{"choices": [{"delta": {"tool_calls": [{"index": -1}]}}]}', "tool call index"),
        ('{"choices": [{"delta": {"tool_calls": {"a": 1}}}]}', "not a list"),
        ('{"choices": [{"delta": {"tool_calls": [{"function": 7}]}}]}', "'function'"),
    ],
)
def test_malformed_chunks_raise_remote_protocol_error(data: str, message: str) -> None:
    decoder = DIALECT.stream_decoder(STREAM)
    with pytest.raises(RemoteProtocolError, match=message):
        decoder.sse_event(ServerSentEvent(data=data))


def test_invalid_json_through_call_is_protocol_error_with_partial() -> None:
    body = b'data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\ndata: {"choices": [\n\n'
    events = run_call([sized_response(body, "text/event-stream")])
    last = events[-1]
    assert type(last) is Error and last.kind == "protocol" and last.partial == "ok"
    assert "invalid JSON" in last.message


# --- generated streams through an independent test encoder ---------------------------------------
@dataclass
class Plan:
    """A response to encode: text pieces per choice, tool calls, usage and where it goes."""

    texts: list[list[str]]
    reasoning: list[str]
    tools: list[tuple[str, str, list[str]]]
    order: list[int]  # the order in which tool-call fragments are sent (by call index)
    usage: tuple[int, int] | None
    usage_where: str
    finish: str
    ascii_json: bool
    crlf: bool
    comments: bool
    extra: dict[str, Any] = field(default_factory=dict)


def encode_plan(plan: Plan) -> bytes:
    """The SSE body of ``plan``, written from the OpenAI wire format directly (not with
    the dialect's renderer)."""
    events: list[dict[str, Any]] = []
    n = len(plan.texts)
    events.append(
        {"choices": [{"index": i, "delta": {"role": "assistant", "content": ""}} for i in range(n)]}
    )
    for piece in plan.reasoning:
        events.append(
            {
                "choices": [
                    {"index": 0, "delta": {"reasoning_content": piece}, "finish_reason": None}
                ]
            }
        )
    longest = max(len(t) for t in plan.texts)
    for step in range(longest):
        choices = [
            {"index": i, "delta": {"content": texts[step]}, "finish_reason": None}
            for i, texts in enumerate(plan.texts)
            if step < len(texts)
        ]
        events.append({"choices": choices})
    sent_head = [False] * len(plan.tools)
    cursors = [0] * len(plan.tools)
    for index in plan.order:
        call_id, name, fragments = plan.tools[index]
        call: dict[str, Any] = {"index": index, "function": {}}
        if not sent_head[index]:
            sent_head[index] = True
            call.update(id=call_id, type="function")
            call["function"]["name"] = name
        fragment = fragments[cursors[index]] if cursors[index] < len(fragments) else ""
        cursors[index] += 1
        call["function"]["arguments"] = fragment
        events.append({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    usage = None
    if plan.usage is not None:
        usage = {
            "prompt_tokens": plan.usage[0],
            "completion_tokens": plan.usage[1],
            "total_tokens": sum(plan.usage),
        }
    fin: dict[str, Any] = {
        "choices": [{"index": i, "delta": {}, "finish_reason": plan.finish} for i in range(n)]
    }
    if usage is not None and plan.usage_where == "finish":
        fin["usage"] = usage
    elif usage is not None and plan.usage_where == "x_groq":
        fin["x_groq"] = {"id": "req", "usage": usage}
    events.append(fin)
    if usage is not None and plan.usage_where == "trailing":
        events.append({"choices": [], "usage": usage})
    eol = "\r\n" if plan.crlf else "\n"
    out = []
    for number, event in enumerate(events):
        event = {"id": "chatcmpl-x", "object": "chat.completion.chunk", **event}
        if plan.comments and number % 3 == 0:
            out.append(f": keep-alive{eol}{eol}")
        out.append(sse_frame(json.dumps(event, ensure_ascii=plan.ascii_json), eol=eol))
    out.append(sse_frame("[DONE]", eol=eol))
    return "".join(out).encode()


def chunked(body: bytes, sizes: list[int]) -> bytes:
    """``body`` in a chunked event stream, chunk sizes cycling through ``sizes``."""
    return chunked_response(cycle_sizes(body, sizes), "text/event-stream; charset=utf-8")


pieces = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12
)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    n = draw(st.integers(1, 3))
    texts = [draw(st.lists(pieces, min_size=1, max_size=8)) for _ in range(n)]
    tools = []
    for i in range(draw(st.integers(0, 3))):
        fragments = draw(st.lists(pieces, min_size=0, max_size=5))
        tools.append((f"call_{i}", draw(st.sampled_from(["get", "put", "f_ü"])), fragments))
    order = [i for i, (_, _, frags) in enumerate(tools) for _ in range(max(1, len(frags)))]
    order = draw(st.permutations(order)) if order else []
    # The head of each call must come first for that call: permutations keep counts, and
    # the encoder sends the head with whatever fragment comes first.
    usage = draw(st.none() | st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)))
    return Plan(
        texts=texts,
        reasoning=draw(st.lists(pieces, max_size=3)),
        tools=tools,
        order=list(order),
        usage=usage,
        usage_where=draw(st.sampled_from(["trailing", "finish", "x_groq"])),
        finish=draw(st.sampled_from(["stop", "length", "tool_calls", "content_filter"])),
        ascii_json=draw(st.booleans()),
        crlf=draw(st.booleans()),
        comments=draw(st.booleans()),
    )


@given(
    plan=plans(),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=5),
    seed=st.integers(0, 2**16),
)
def test_generated_streams(plan: Plan, sizes: list[int], seed: int) -> None:
    raw = chunked(encode_plan(plan), sizes)
    events = run_call(random_splits(raw, seed, max_piece=97))
    done = check_shape(events, **SHAPE)
    assert type(done) is Done, done
    texts = ["".join(t) for t in plan.texts]
    assert done.text == texts[0] == joined(events, "text", 0)
    if len(texts) > 1:
        assert done.choices == tuple(texts)
        for i, text in enumerate(texts):
            assert joined(events, "text", i) == text
    assert done.reasoning == "".join(plan.reasoning)
    assert done.tool_calls == tuple(
        ToolCall(cid, name, "".join(frags)) for cid, name, frags in plan.tools
    )
    assert done.raw_finish_reason == plan.finish
    if plan.usage is None:
        assert done.usage is None
    else:
        assert done.usage == Usage(plan.usage[0], plan.usage[1], sum(plan.usage))


# --- replay renderers round-trip -------------------------------------------------------------
SCRIPTS = [
    Script(text="Hello, wörld! 👋 “quoted” \\ back\nslash", usage=Usage(12, 7, 19)),
    Script(
        text="",
        tool_calls=(ToolCall("call_1", "lookup", '{"q": "ß"}'), ToolCall("call_2", "x", "{}")),
        finish_reason="tool_calls",
        usage=Usage(5, 6, 11, 2, 1),
    ),
    Script(text="Because.", reasoning="Think first, then answer.", finish_reason="length"),
    Script(text="pieces", pieces=("pi", "", "eces")),
]


def check_script(done: Event, script: Script) -> None:
    assert type(done) is Done, done
    assert done.text == script.text and done.reasoning == script.reasoning
    assert done.tool_calls == script.tool_calls
    assert done.finish_reason == script.finish_reason
    assert done.usage == script.usage


@pytest.mark.parametrize("script", SCRIPTS)
def test_render_stream_round_trip(script: Script) -> None:
    items = RENDERER.render_stream(script)
    assert items[-1] == b"data: [DONE]\n\n"
    assert all(item.startswith(b"data: ") and item.endswith(b"\n\n") for item in items)
    raw = chunked_response(items, "text/event-stream; charset=utf-8")  # an item per chunk
    events = run_call([raw])
    check_script(events[-1], script)
    assert joined(events, "text") == script.text
    assert [e.text for e in events if type(e) is Delta and e.kind == "text"] == script.text_pieces()


@pytest.mark.parametrize("script", SCRIPTS)
def test_render_body_round_trip(script: Script) -> None:
    body = RENDERER.render_body(script)
    check_script(DIALECT.decode_body(json.loads(body))[-1], script)
    events = run_call([sized_response(body)], NO_STREAM)
    check_script(events[-1], script)


@every_error_status
def test_render_error_round_trip(status: int, kind: str) -> None:
    body = RENDERER.render_error(status, "nope ✗")
    error = json.loads(body)["error"]
    assert error["message"] == "nope ✗" and set(error) == {"message", "type", "param", "code"}
    events = run_call([sized_response(body, status=status, reason="X")])
    check_error_event(events, kind, status, "nope ✗")


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, "bad_request", False),
        (401, "auth", False),
        (402, "billing", False),
        (403, "permission", False),
        (404, "not_found", False),
        (408, "timeout", True),
        (409, "bad_request", True),
        (413, "bad_request", False),
        (422, "bad_request", False),
        (429, "rate_limit", True),
        (500, "server", True),
        (502, "server", True),
        (503, "overloaded", True),
        (504, "server", True),
        (529, "overloaded", True),
    ],
)
def test_every_error_status(status: int, kind: str, retryable: bool) -> None:
    """An OpenAI-shaped error body at every status, streamed request or not, every split."""
    body = RENDERER.render_error(status, f"status {status} said no")
    raw = sized_response(body, status=status, reason="Whatever")
    for request in (STREAM, NO_STREAM):
        for _, pieces in all_splittings(raw, seeds=2):
            [event] = run_call(pieces, request)
            assert type(event) is Error and (event.kind, event.status) == (kind, status)
            assert event.retryable is retryable and event.message == f"status {status} said no"
            assert event.partial == ""


def test_render_stream_error_round_trip() -> None:
    script = Script(text="partial answer")
    items = [*RENDERER.render_stream(script)[:3], RENDERER.render_stream_error("engine died")]
    events = run_call([chunked(b"".join(items), [50])])
    last = events[-1]
    assert type(last) is Error and last.kind == "provider" and last.message == "engine died"
    assert last.partial == "partial answer" == joined(events, "text")


def test_server_side_matching() -> None:
    assert RENDERER.matches("POST", "/v1/chat/completions")
    assert RENDERER.matches("POST", "/openai/v1/chat/completions?x=1")
    assert not RENDERER.matches("GET", "/v1/chat/completions")
    assert not RENDERER.matches("POST", "/v1/responses")
    assert RENDERER.is_stream_request("/v1/chat/completions", {"stream": True})
    assert not RENDERER.is_stream_request("/v1/chat/completions", {"stream": "true"})
    assert not RENDERER.is_stream_request("/v1/chat/completions", {})


# --- non-streaming bodies -----------------------------------------------------------------------
def test_decode_body_shapes() -> None:
    body = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "A", "reasoning": "r"},
                "finish_reason": "stop",
            },
            {"index": 1, "message": {"content": "B", "refusal": None}, "finish_reason": "length"},
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2},
    }
    events = DIALECT.decode_body(body)
    assert events[:-1] == [Delta("r", "reasoning"), Delta("A"), Delta("B", index=1)]
    done = events[-1]
    assert type(done) is Done and done.choices == ("A", "B") and done.usage == Usage(1, 2, 3)


def test_decode_body_simple_and_general_paths_agree() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    for text in ("Hello ✓", ""):
        for finish in ("stop", "length", None):
            simple: dict[str, Any] = {
                "role": "assistant",
                "content": text,
                "refusal": None,
                "tool_calls": [],
            }
            parts = {"role": "assistant", "content": [{"type": "text", "text": text}]}
            results = [
                DIALECT.decode_body(
                    {
                        "choices": [{"index": 0, "message": m, "finish_reason": finish}],
                        "usage": usage,
                    }
                )
                for m in (simple, parts)
            ]
            assert results[0] == results[1]
            done = results[0][-1]
            assert type(done) is Done and done.text == text and done.usage == Usage(3, 4, 7)
            assert done.raw_finish_reason == finish


def test_decode_body_error_envelope_in_200() -> None:
    [event] = DIALECT.decode_body({"error": {"message": "bad", "type": "server_error"}})
    assert type(event) is Error and event.kind == "provider" and event.message == "bad"


@pytest.mark.parametrize("body", [[], {"choices": []}, {"id": "x"}, {"choices": [{"message": 3}]}])
def test_decode_body_malformed(body: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        DIALECT.decode_body(body)


# --- requests -----------------------------------------------------------------------------------
GROQ = Endpoint("https://api.groq.com/openai/v1", "gsk_EXAMPLE-not-a-real-key")


@pytest.mark.parametrize(
    ("name", "endpoint", "model"),
    [
        (
            "request/openai-chat.http",
            Endpoint("https://api.openai.com/v1", "sk-EXAMPLE-not-a-real-key"),
            "gpt-4o-mini",
        ),
        ("request/openai-compat-groq.http", GROQ, "llama-3.3-70b-versatile"),
    ],
)
def test_request_matches_fixture(name: str, endpoint: Endpoint, model: str) -> None:
    request = ChatRequest(model=model, messages=SKY)
    want_head, want_headers, want_body = parse_request(fixture(name))
    spec = DIALECT.build_request(endpoint, request)
    assert (spec.method.encode(), spec.target.encode()) == (want_head.method, want_head.target)
    assert json.loads(spec.body) == want_body
    assert ("Authorization", want_headers["authorization"]) in spec.headers
    # Through Call: the whole head, as a server sees it.
    check_like_fixture(Call(endpoint, request), name, ("authorization",))
    assert spec.body == json.dumps(want_body, separators=(",", ":"), ensure_ascii=False).encode()


def test_request_without_stream_has_nothing_stream_related() -> None:
    body = json.loads(DIALECT.build_request(ENDPOINT, NO_STREAM).body)
    assert "stream" not in body and "stream_options" not in body


def test_request_without_include_usage() -> None:
    endpoint = Endpoint("https://api.mistral.ai/v1", "k", include_usage=False)
    body = json.loads(DIALECT.build_request(endpoint, STREAM).body)
    assert body["stream"] is True and "stream_options" not in body


def test_request_every_field() -> None:
    request = ChatRequest(
        model="m",
        messages=[
            Message("user", "weather?"),
            Message("assistant", None, tool_calls=(ToolCall("c1", "get", '{"city":"Oslo"}'),)),
            Message("tool", "cold", tool_call_id="c1"),
        ],
        temperature=0.5,
        top_p=0.9,
        max_tokens=64,
        stop="END",
        tools=[
            Tool(
                "get", "Get weather", {"type": "object", "properties": {"city": {"type": "string"}}}
            )
        ],
        tool_choice="get",
        extra={"seed": 7, "temperature": 0.1},
    )
    body = json.loads(DIALECT.build_request(ENDPOINT, request).body)
    assert body["messages"] == [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "content": "cold", "tool_call_id": "c1"},
    ]
    assert body["temperature"] == 0.1  # extra is merged last
    # api.openai.com takes max_completion_tokens (its reasoning models refuse max_tokens)
    assert (body["top_p"], body["max_completion_tokens"], body["stop"], body["seed"]) == (
        0.9,
        64,
        ["END"],
        7,
    )
    assert "max_tokens" not in body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get",
                "description": "Get weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get"}}
    assert list(body)[:2] == ["model", "messages"]
    for mode in ("auto", "none", "required"):
        r = ChatRequest(model="m", messages=[Message("user", "x")], tool_choice=mode)
        assert json.loads(DIALECT.build_request(ENDPOINT, r).body)["tool_choice"] == mode


def test_request_headers() -> None:
    endpoint = Endpoint("http://localhost:8000/v1", None, headers={"X-Title": "t"})
    spec = DIALECT.build_request(endpoint, STREAM)
    assert spec.headers == (("X-Title", "t"),) and spec.target == "/v1/chat/completions"
    endpoint = Endpoint("https://gw.example", "k", headers={"authorization": "Basic abc"})
    spec = DIALECT.build_request(endpoint, STREAM)
    assert spec.headers == (("authorization", "Basic abc"),)
    assert spec.target == "/chat/completions"


def test_registry_finds_the_dialect() -> None:
    assert get_dialect("openai-chat") is DIALECT
    assert isinstance(DIALECT, OpenAIChat) and DIALECT.name == "openai-chat"
    assert isinstance(DIALECT.stream_decoder(STREAM), OpenAIChatDecoder)


# --- a bad later field leaves nothing half-accumulated (partial agrees with the deltas) --------
@pytest.mark.parametrize(
    "chunk",
    [
        {"choices": [{"delta": {"content": "Hi", "refusal": 5}}]},
        {"choices": [{"delta": {"content": "Hi", "tool_calls": {"x": 1}}}]},
        {"choices": [{"delta": {"content": "Hi", "tool_calls": [{"index": "0"}]}}]},
        {"choices": [{"delta": {"content": "Hi"}}, {"index": 1, "delta": {"content": 7}}]},
        {"choices": [{"delta": {"content": "Hi"}}, "not a choice"]},
    ],
)
def test_a_bad_field_after_text_gives_no_partial_that_was_never_a_delta(
    chunk: dict[str, Any],
) -> None:
    body = b"data: " + json.dumps({"choices": [{"delta": {"content": "Ok "}}]}).encode()
    body += b"\n\ndata: " + json.dumps(chunk).encode() + b"\n\n"
    for how, pieces in all_splittings(sized_response(body, "text/event-stream")):
        events = feed(make_call(), pieces)
        assert [e for e in events if isinstance(e, Delta)] == [Delta("Ok ")], how
        last = events[-1]
        assert isinstance(last, Error)
        assert (last.kind, last.partial) == ("protocol", "Ok "), how


# --- decoders fail only on the wire's faults ----------------------------------------------------
CHAT_CHUNKS = [
    {"choices": [{"index": 0, "delta": {"content": "a", "reasoning_content": "r"}}]},
    {
        "choices": [
            {
                "index": 0,
                "delta": {
                    "content": [
                        {"type": "text", "text": "b"},
                        {"type": "thinking", "thinking": "t"},
                    ],
                    "refusal": "no",
                    "tool_calls": [
                        {"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}},
                        {"id": "d", "function": {"arguments": {"x": 1}}},
                    ],
                },
            },
            {"index": 1, "delta": {"content": "B"}, "finish_reason": "stop"},
        ],
        "x_groq": {"usage": {"prompt_tokens": 1}},
    },
    {
        "choices": [{"delta": {}, "finish_reason": "stop", "usage": {}}],
        "usage": {"total_tokens": 3},
    },
    {"error": {"message": "m", "type": "server_error", "code": 503}},
]
CHAT_BODY = {
    "choices": [
        {
            "index": 0,
            "message": {
                "content": "a",
                "reasoning": "r",
                "refusal": "no",
                "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
            },
            "finish_reason": "tool_calls",
        },
        {"index": 1, "message": {"content": [{"type": "text", "text": "b"}]}},
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2},
}


def _data(payload: Any) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(payload))


@given(st.data())
def test_arbitrary_json_anywhere_in_any_chunk(data: st.DataObject) -> None:
    chunks = mutated_events(data, CHAT_CHUNKS)
    decoder = OpenAIChatDecoder()
    check_decoder_survives(lambda c: decoder.sse_event(_data(c)), chunks, decoder.end, decoder.acc)


@given(st.lists(ANY_JSON, min_size=1, max_size=4))
def test_arbitrary_json_as_chunks(values: list[Any]) -> None:
    decoder = OpenAIChatDecoder()
    check_decoder_survives(lambda c: decoder.sse_event(_data(c)), values, decoder.end, decoder.acc)


@given(st.data())
def test_arbitrary_json_anywhere_in_a_body(data: st.DataObject) -> None:
    (body,) = mutated_events(data, [CHAT_BODY])
    check_body_survives(DIALECT, body)


@given(ANY_JSON)
def test_arbitrary_json_as_a_body(body: Any) -> None:
    check_body_survives(DIALECT, body)


# --- issue 12: parts, structured output, reasoning, seed/n, headers, metadata --------------
# Expected bodies are written from OpenAI's chat-completions API reference (the
# ``messages[].content`` array parts, ``response_format``, ``reasoning_effort``), not from
# the renderer.
from libchatty.content import AudioPart, DocumentPart, ImagePart, TextPart  # noqa: E402
from libchatty.options import JSONSchema, Reasoning  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8  # base64: iVBORw0KGgoAAAAAAAAAAA==
PNG_B64 = "iVBORw0KGgoAAAAAAAAAAA=="
PDF = b"%PDF-1.7"  # base64: JVBERi0xLjc=
WAV = b"RIFF"  # base64: UklGRg==


def chat_body(endpoint: Endpoint = ENDPOINT, **fields: Any) -> dict[str, Any]:
    fields.setdefault("messages", [Message("user", "hi")])
    request = ChatRequest(model="gpt-4o", stream=False, **fields)
    return json.loads(DIALECT.build_request(endpoint, request).body)  # type: ignore[no-any-return]


def test_request_every_content_part_in_the_documented_form() -> None:
    message = Message(
        "user",
        [
            TextPart("What is in these?"),
            ImagePart(data=PNG, detail="low"),
            ImagePart(url="https://example.com/cat.jpg"),
            AudioPart(WAV, "audio/wav"),
            AudioPart(WAV, "audio/mpeg"),
            DocumentPart(data=PDF, name="report.pdf"),
            DocumentPart(data=PDF),
        ],
    )
    assert chat_body(messages=[message])["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64," + PNG_B64, "detail": "low"},
                },
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "mp3"}},
                {
                    "type": "file",
                    "file": {
                        "filename": "report.pdf",
                        "file_data": "data:application/pdf;base64,JVBERi0xLjc=",
                    },
                },
                {
                    "type": "file",
                    "file": {
                        "filename": "document.pdf",
                        "file_data": "data:application/pdf;base64,JVBERi0xLjc=",
                    },
                },
            ],
        }
    ]


def test_request_text_only_parts_stay_one_string() -> None:
    message = Message("user", [TextPart("a"), "b"])
    assert chat_body(messages=[message])["messages"] == [{"role": "user", "content": "ab"}]


@pytest.mark.parametrize(
    ("part", "message"),
    [
        (
            DocumentPart(url="https://example.com/a.pdf"),
            "OpenAI chat completions cannot send a document by URL; pass the bytes "
            "(DocumentPart(data=...)) (DocumentPart)",
        ),
        (
            DocumentPart(data=b"hello", media_type="text/plain"),
            "OpenAI chat completions cannot send a text/plain document; only PDF (DocumentPart)",
        ),
        (
            AudioPart(WAV, "audio/ogg"),
            "OpenAI chat completions cannot send audio/ogg audio; only wav and mp3 (AudioPart)",
        ),
        (
            ImagePart(url="gs://bucket/cat.png"),
            "OpenAI chat completions cannot send an image by a gs:// or s3:// URL; pass an "
            "https:// URL or the bytes (ImagePart)",
        ),
    ],
)
def test_request_refuses_a_part_it_cannot_carry(part: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        chat_body(messages=[Message("user", [part])])
    assert str(caught.value) == message


def test_request_refuses_an_image_outside_a_user_message() -> None:
    with pytest.raises(ValueError) as caught:
        chat_body(messages=[Message("system", [ImagePart(data=PNG)])])
    assert str(caught.value) == (
        "OpenAI chat completions cannot send a non-text part in a system message (ImagePart)"
    )


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def test_request_response_formats() -> None:
    assert chat_body(response_format="json")["response_format"] == {"type": "json_object"}
    assert chat_body(response_format=JSONSchema("city", SCHEMA, description="A city"))[
        "response_format"
    ] == {
        "type": "json_schema",
        "json_schema": {
            "name": "city",
            "schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "additionalProperties": False,
                "required": ["city"],
            },
            "strict": True,
            "description": "A city",
        },
    }
    assert chat_body(response_format=JSONSchema("city", SCHEMA, strict=False))[
        "response_format"
    ] == {"type": "json_schema", "json_schema": {"name": "city", "schema": SCHEMA, "strict": False}}
    assert "response_format" not in chat_body()


@pytest.mark.parametrize(
    ("reasoning", "effort"),
    [
        (Reasoning(effort="high"), "high"),
        (Reasoning(effort="low", budget_tokens=30000), "low"),
        (Reasoning(budget_tokens=2048), "low"),
        (Reasoning(budget_tokens=2049), "medium"),
        (Reasoning(budget_tokens=8192), "medium"),
        (Reasoning(budget_tokens=8193), "high"),
        (Reasoning(budget_tokens=100000), "high"),
        (Reasoning(effort="medium", summary=True), "medium"),
    ],
)
def test_request_reasoning_effort(reasoning: Reasoning, effort: str) -> None:
    body = chat_body(reasoning=reasoning)
    assert body["reasoning_effort"] == effort
    assert "reasoning" not in body


def test_request_reasoning_without_effort_or_budget_sends_nothing() -> None:
    assert "reasoning_effort" not in chat_body(reasoning=Reasoning(summary=True))


@pytest.mark.parametrize(
    ("option", "sent"),
    [
        ({"temperature": 0.5}, {"temperature": 0.5}),
        ({"top_p": 0.9}, {"top_p": 0.9}),
        ({"max_tokens": 5}, {"max_completion_tokens": 5}),
        ({}, {}),
    ],
)
def test_request_sends_each_sampling_option_set_alone(
    option: dict[str, Any], sent: dict[str, Any]
) -> None:
    body = chat_body(**option)
    assert body == {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **sent}


def test_request_max_tokens_field_seed_n_and_headers() -> None:
    body = chat_body(max_tokens=5, seed=-3, n=2)
    assert (body["max_completion_tokens"], body["seed"], body["n"]) == (5, -3, 2)
    assert "max_tokens" not in body
    compatible = Endpoint("http://127.0.0.1:8000/v1")
    assert chat_body(compatible, max_tokens=5)["max_tokens"] == 5
    forced = Endpoint("http://127.0.0.1:8000/v1", max_tokens_field="max_completion_tokens")
    assert chat_body(forced, max_tokens=5)["max_completion_tokens"] == 5
    request = ChatRequest(
        "m", [Message("user", "x")], headers={"X-Trace": "t1", "authorization": "Bearer other"}
    )
    endpoint = Endpoint("https://api.openai.com/v1", "sk-a", headers={"OpenAI-Project": "p"})
    assert DIALECT.build_request(endpoint, request).headers == (
        ("OpenAI-Project", "p"),
        ("X-Trace", "t1"),
        ("authorization", "Bearer other"),
    )


def test_done_carries_the_response_id_and_model_streamed_and_whole() -> None:
    for how, pieces in all_splittings(fixture("openai-chat/stream-text.http")):
        done = feed(make_call(True), pieces)[-1]
        assert isinstance(done, Done), how
        assert (done.response_id, done.model) == (
            "chatcmpl-Bh4QxT2vKp9ZrLm8Yc3Nw1DsEaFgJ",
            "gpt-4o-mini-2024-07-18",
        ), how
    done = feed(make_call(False), [fixture("openai-chat/nonstream-text.http")])[-1]
    assert isinstance(done, Done)
    assert (done.response_id, done.model) == (
        "chatcmpl-ABfvaueLEMLNYbT8YzpJxsmiQ6HSY",
        "gpt-4o-2024-08-06",
    )


def test_response_metadata_shapes() -> None:
    decoder = OpenAIChatDecoder()
    chunk = {"id": 7, "choices": [{"index": 0, "delta": {"content": "x"}}]}
    with pytest.raises(RemoteProtocolError, match="the response's 'id' is not a string"):
        decoder.sse_event(ServerSentEvent(data=json.dumps(chunk)))
    body = {"id": "", "model": None, "choices": [{"message": {"content": "x"}}]}
    done = DIALECT.decode_body(body)[-1]
    assert isinstance(done, Done) and (done.response_id, done.model) == (None, None)
    many = {"id": "c", "model": "m", "choices": [{"message": {"content": "x", "refusal": "r"}}]}
    done = DIALECT.decode_body(many)[-1]
    assert isinstance(done, Done) and (done.response_id, done.model) == ("c", "m")


def over_loopback(call: Call, port: int) -> list[Event]:
    """``call`` driven over a socket to the replay server on 127.0.0.1: bounded in reads
    and in time (the chat() options for parts and formats are the bindings' work)."""
    import socket

    events: list[Event] = []
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        sock.sendall(call.start())
        for _ in range(10_000):
            if call.finished:
                break
            data = sock.recv(65536)
            events.extend(call.receive_data(data))
            if not data:
                break
    return events


def test_replay_round_trip_of_parts_and_structured_output() -> None:
    from libchatty.bindings.server import ReplayServer

    message = Message("user", [TextPart("Where?"), ImagePart(data=PNG)])
    with ReplayServer(script=Script(text='{"city":"Paris"}')) as server:
        request = ChatRequest("gpt-4o", [message], response_format=JSONSchema("c", SCHEMA))
        port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
        events = over_loopback(Call(Endpoint(server.base_url, "k"), request), port)
        sent = server.requests[-1].json
    done = events[-1]
    assert isinstance(done, Done) and done.text == '{"city":"Paris"}'
    assert (done.response_id, done.model) == ("replay-0001", "replay-1")  # the script's
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Where?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG_B64}},
            ],
        }
    ]
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "c",
            "schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "additionalProperties": False,
                "required": ["city"],
            },
            "strict": True,
        },
    }


# --- mutation testing (issue 16): exact messages, n > 1 fields, slots, the fast path's guards ---
def raised(body: Any) -> str:
    with pytest.raises(RemoteProtocolError) as caught:
        DIALECT.decode_body(body)
    return str(caught.value)


def stream_raised(*items: ServerSentEvent) -> str:
    with pytest.raises(RemoteProtocolError) as caught:
        decode(*items)
    return str(caught.value)


def test_decode_body_malformed_messages() -> None:
    assert raised([]) == "the response body is not a JSON object"
    assert raised({"choices": []}) == "the response body has no 'choices'"
    assert raised({"choices": [[1]]}) == "a choice is not a JSON object"
    assert raised({"choices": [{}, "x"]}) == "a choice is not a JSON object"
    assert raised({"choices": [{"message": 3}]}) == "'message' is not a JSON object"
    reply = {"content": "a", "reasoning": 3}
    assert raised({"choices": [{"message": reply}]}) == "message.reasoning is not a string: '3'"
    assert raised({"choices": [{"message": {"content": 3}}]}) == (
        "message.content is not a string: '3'"
    )
    assert raised({"choices": [{"message": {"refusal": 3}}]}) == (
        "message.refusal is not a string: '3'"
    )
    assert raised({"choices": [{"message": {"tool_calls": 3}}]}) == "'tool_calls' is not a list"
    replies: list[dict[str, Any]] = [{"content": "a"}, {"refusal": "a"}]
    for reply in replies:
        assert raised({"id": 3, "choices": [{"message": reply}]}) == (
            "the response's 'id' is not a string"
        )


def test_decode_body_every_field_of_a_second_choice() -> None:
    second = {
        "reasoning": "r",
        "refusal": "nope",
        "content": [{"type": "thinking", "thinking": "t"}, {"type": "text", "text": "x"}],
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
    }
    events = DIALECT.decode_body(
        {
            "choices": [
                {"index": 0, "message": {"content": "a", "refusal": "no"}},
                {"index": 1, "message": second, "finish_reason": "tool_calls"},
            ]
        }
    )
    assert events[:-1] == [
        Delta("a"),
        Delta("no", "refusal"),
        Delta("r", "reasoning", 1),
        Delta("t", "reasoning", 1),
        Delta("x", "text", 1),
        Delta("nope", "refusal", 1),
        Delta("{}", "tool_call", 0, "c", "f"),
    ]
    done = events[-1]
    assert type(done) is Done
    assert (done.text, done.refusal, done.choices, done.tool_calls) == ("a", "no", ("a", "x"), ())
    assert done.raw_finish_reason == "tool_calls"


def test_decode_body_which_choice_names_the_finish() -> None:
    def finish_of(*choices: tuple[int, str]) -> str | None:
        body = {
            "choices": [
                {"index": i, "message": {"content": str(i)}, "finish_reason": reason}
                for i, reason in choices
            ]
        }
        done = DIALECT.decode_body(body)[-1]
        assert type(done) is Done
        return done.raw_finish_reason

    assert finish_of((0, "stop"), (1, "length")) == "stop"
    assert finish_of((1, "length"), (0, "stop")) == "stop"
    assert finish_of((1, "length")) == "length"


def test_decode_body_single_choices_off_the_simple_path() -> None:
    two = DIALECT.decode_body(
        {
            "choices": [
                {"index": 0, "message": {"content": "a"}, "finish_reason": "stop"},
                {"index": 1, "message": {"content": "b"}, "finish_reason": "length"},
            ]
        }
    )
    assert two[:2] == [Delta("a"), Delta("b", "text", 1)]
    assert two[2] == Done("stop", "a", raw_finish_reason="stop", choices=("a", "b"))
    second_only = DIALECT.decode_body(
        {"choices": [{"index": 1, "message": {"content": "b"}, "finish_reason": "length"}]}
    )
    assert second_only == [
        Delta("b", "text", 1),
        Done("length", "", raw_finish_reason="length", choices=("", "b")),
    ]
    odd_finish = DIALECT.decode_body(
        {"choices": [{"message": {"content": "a"}, "finish_reason": 5}]}
    )
    assert odd_finish == [Delta("a"), Done(None, "a")]


def test_stream_malformed_messages() -> None:
    assert stream_raised(chunk("x")) == "a choice is not a JSON object"  # type: ignore[arg-type]
    assert stream_raised(chunk({"delta": [1]})) == "'delta' is not a JSON object"
    assert stream_raised(chunk(content("a", reasoning=3))) == (
        "delta.reasoning is not a string: '3'"
    )
    assert stream_raised(chunk(content(3))) == (  # type: ignore[arg-type]
        "delta.content is not a string: '3'"
    )
    assert stream_raised(chunk(content("a", refusal=3))) == "delta.refusal is not a string: '3'"
    assert stream_raised(chunk(content("a", tool_calls=3))) == "'tool_calls' is not a list"
    bad_choices = ServerSentEvent(data=json.dumps({"choices": 3}))
    assert stream_raised(bad_choices) == "'choices' is not a list"


def test_stream_every_field_of_a_second_choice() -> None:
    second = {
        "index": 1,
        "delta": {
            "reasoning": "r",
            "refusal": "no",
            "content": [{"type": "thinking", "thinking": "t"}],
            "tool_calls": [{"index": 2, "id": "c", "function": {"name": "f", "arguments": "{"}}],
        },
    }
    assert decode(chunk(content("A"), second)) == [
        Delta("A"),
        Delta("r", "reasoning", 1),
        Delta("t", "reasoning", 1),
        Delta("no", "refusal", 1),
        Delta("{", "tool_call", 2, "c", "f"),
    ]


def test_stream_which_choice_names_the_finish() -> None:
    def finish_of(*reasons: tuple[int, str]) -> str | None:
        done = decode(*(chunk(finish(reason, i)) for i, reason in reasons), DONE)[-1]
        assert type(done) is Done
        return done.raw_finish_reason

    assert finish_of((0, "stop"), (1, "length")) == "stop"
    assert finish_of((1, "length"), (0, "stop")) == "stop"
    assert finish_of((1, "length")) == "length"


def test_stream_terminal_errors_exactly() -> None:
    assert decode(chunk(finish("error")), DONE) == [
        Error(
            "provider",
            "the provider ended the stream with finish_reason 'error'",
            status=200,
        )
    ]
    assert decode(chunk(content("A")), end=True) == [
        Delta("A"),
        Error("incomplete", "the stream ended before 'data: [DONE]'", status=200, partial="A"),
    ]
    # a finish_reason that is not a string is no finish reason
    odd = chunk({"index": 0, "delta": {}, "finish_reason": 7})
    assert decode(odd, end=True) == [
        Error("incomplete", "the stream ended before 'data: [DONE]'", status=200)
    ]


def test_stream_error_event_with_a_json_body() -> None:
    boom = ServerSentEvent(data=json.dumps({"message": "boom"}), event="error")
    assert decode(boom) == [Error("provider", "boom", status=200)]
    # a content chunk under ``event: error`` is an error, also after the fast path is open
    shaped = ServerSentEvent(
        data=json.dumps({"choices": [{"delta": {"content": "B"}}]}), event="error"
    )
    assert decode(chunk(content("A")), shaped) == [
        Delta("A"),
        Error("provider", '{"choices":[{"delta":{"content":"B"}}]}', status=200, partial="A"),
    ]


def test_fast_path_guards_send_odd_chunks_the_general_way() -> None:
    first = chunk(content("A"))
    listed = chunk(content([{"type": "text", "text": "L"}]))  # type: ignore[arg-type]
    assert decode(first, listed) == [Delta("A"), Delta("L")]
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    done = decode(first, chunk(content("B"), usage=usage), DONE)[-1]
    assert type(done) is Done and done.usage == Usage(1, 2, 3)
    groq = decode(first, chunk(content("B"), x_groq={"usage": usage}), DONE)[-1]
    assert type(groq) is Done and groq.usage == Usage(1, 2, 3)
    error = decode(first, chunk(content("B"), error={"message": "bad"}))
    assert error == [Delta("A"), Error("provider", "bad", status=200, partial="A")]


def test_response_meta_is_taken_from_the_first_chunk_that_names_an_id() -> None:
    head = ServerSentEvent(data=json.dumps({"id": "r1", "choices": []}))
    later = chunk(content("A"), id="r2", model="m2")
    done = decode(head, later, DONE)[-1]
    assert type(done) is Done and (done.response_id, done.model) == ("r1", None)
    anonymous = ServerSentEvent(data=json.dumps({"choices": [{"delta": {"content": "A"}}]}))
    done = decode(ServerSentEvent(data=json.dumps({"id": "r1", "model": "m"})), anonymous, DONE)[-1]
    assert type(done) is Done and (done.response_id, done.model) == ("r1", "m")


def test_tool_call_slots_without_index() -> None:
    def calls(*items: dict[str, Any]) -> ServerSentEvent:
        return chunk({"delta": {"tool_calls": list(items)}})

    # the very first fragment, with neither index nor id, is call 0
    assert decode(calls({"function": {"arguments": "x"}})) == [Delta("x", "tool_call", 0)]
    # an id alone (no name, no fragment) is worth a delta
    assert decode(calls({"index": 0, "id": "a"})) == [Delta("", "tool_call", 0, "a")]
    # an id first seen with an index keeps it when it comes back without one
    events = decode(
        calls({"index": 3, "id": "a", "function": {"name": "f"}}),
        calls({"id": "a", "function": {"arguments": "{}"}}),
    )
    assert events == [Delta("", "tool_call", 3, "a", "f"), Delta("{}", "tool_call", 3, "a")]
    # a fragment with no id does not take a slot: the next new id opens call 1
    events = decode(
        calls({"id": "a", "function": {"arguments": "{"}}),
        calls({"function": {"arguments": "}"}}),
        calls({"id": "b", "function": {"arguments": "{}"}}),
    )
    assert [e.index for e in events if type(e) is Delta] == [0, 0, 1]


def test_tool_call_ids_without_index_at_the_limit_and_one_past() -> None:
    def opened(count: int) -> list[Event]:
        items = [{"id": f"c{i}", "function": {"arguments": "{}"}} for i in range(count)]
        return decode(chunk({"delta": {"tool_calls": items}}))

    events = opened(MAX_TOOL_CALLS)
    assert [e.index for e in events if type(e) is Delta] == list(range(MAX_TOOL_CALLS))
    with pytest.raises(RemoteProtocolError) as caught:
        opened(MAX_TOOL_CALLS + 1)
    assert str(caught.value) == "too many tool calls"


def test_ids_past_the_limit_are_not_remembered() -> None:
    # MAX_TOOL_CALLS + 1 ids with an explicit index: only the first MAX_TOOL_CALLS are kept,
    # so the last one, back without an index, is a new call past the limit
    items = [
        {"index": i % MAX_TOOL_CALLS, "id": f"c{i}", "function": {"arguments": ""}}
        for i in range(MAX_TOOL_CALLS + 1)
    ]
    back = {"id": f"c{MAX_TOOL_CALLS}", "function": {"arguments": "x"}}
    assert stream_raised(
        chunk({"delta": {"tool_calls": items}}), chunk({"delta": {"tool_calls": [back]}})
    ) == ("too many tool calls")
    kept = {"id": f"c{MAX_TOOL_CALLS - 1}", "function": {"arguments": "x"}}
    events = decode(
        chunk({"delta": {"tool_calls": items}}), chunk({"delta": {"tool_calls": [kept]}})
    )
    assert events[-1] == Delta("x", "tool_call", MAX_TOOL_CALLS - 1, f"c{MAX_TOOL_CALLS - 1}")


# --- openai_chat_fields, reader by reader (mutation testing, issue 16) -------------------------
def fields_raise(reader: Any, *args: Any) -> str:
    with pytest.raises(RemoteProtocolError) as caught:
        reader(*args)
    return str(caught.value)


def test_excerpt_at_its_limit_and_one_past() -> None:
    assert fields.excerpt("a" * 80) == repr("a" * 80)
    assert fields.excerpt("a" * 81) == repr("a" * 80) + "..."
    assert fields.excerpt("abc", 2) == "'ab'..."


def test_choice_index_bounds() -> None:
    assert [fields.choice_index(v) for v in (None, 0, False, 1, 127)] == [0, 0, 0, 1, 127]
    assert fields.MAX_CHOICES == 128
    assert fields_raise(fields.choice_index, 128) == "invalid choice index '128'"
    assert fields_raise(fields.choice_index, -1) == "invalid choice index '-1'"
    assert fields_raise(fields.choice_index, "1") == "invalid choice index '1'"
    assert fields_raise(fields.choice_index, True) == "invalid choice index 'True'"


def test_text_of_every_shape() -> None:
    assert fields.text_of(None, "w") == ""
    assert fields.text_of("s", "w") == "s"
    parts = [
        {"type": "text", "text": "a"},
        {"type": "image", "text": "no"},
        {"type": "text", "text": 3},
        {"type": "text"},
        "text",
        {"type": "text", "text": "b"},
    ]
    assert fields.text_of(parts, "w") == "ab"
    assert fields_raise(fields.text_of, 3, "the thing") == "the thing is not a string: '3'"


def test_arguments_text_every_shape() -> None:
    assert fields.arguments_text(None) == ""
    assert fields.arguments_text('{"a": 1}') == '{"a": 1}'
    assert fields.arguments_text({"a": [1, 2]}) == '{"a":[1,2]}'
    assert fields.arguments_text([1, "x"]) == '[1,"x"]'
    assert fields_raise(fields.arguments_text, 3) == ("tool call arguments are not a string: '3'")


def test_tool_call_fields_every_shape() -> None:
    full = {"index": 2, "id": "c", "function": {"name": "f", "arguments": "{}"}}
    assert fields.tool_call_fields(full) == ("c", "f", "{}", 2)
    empty = {"id": "", "function": {"name": "", "arguments": None}}
    assert fields.tool_call_fields(empty) == (None, None, "", None)
    assert fields.tool_call_fields({"id": 3, "function": None}) == (None, None, "", None)
    assert fields.tool_call_fields({"index": MAX_TOOL_CALLS - 1}) == (
        None,
        None,
        "",
        MAX_TOOL_CALLS - 1,
    )
    assert fields_raise(fields.tool_call_fields, {"index": MAX_TOOL_CALLS}) == (
        f"invalid tool call index '{MAX_TOOL_CALLS}'"
    )
    assert fields_raise(fields.tool_call_fields, {"index": -1}) == "invalid tool call index '-1'"
    assert fields_raise(fields.tool_call_fields, {"index": "0"}) == "invalid tool call index '0'"
    assert fields_raise(fields.tool_call_fields, [1]) == "a tool call is not a JSON object"
    assert fields_raise(fields.tool_call_fields, {"function": "f"}) == (
        "a tool call's 'function' is not a JSON object"
    )


def test_usage_of_every_field() -> None:
    raw = {
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "total_tokens": 4,
        "completion_tokens_details": {"reasoning_tokens": 5},
        "prompt_tokens_details": {"cached_tokens": 6},
    }
    assert fields.usage_of(raw) == Usage(1, 2, 4, 5, 6)
    odd = {
        "prompt_tokens": "1",
        "completion_tokens": 2,
        "completion_tokens_details": [5],
        "prompt_tokens_details": 6,
    }
    assert fields.usage_of(odd) == Usage(None, 2, None, None, None)
    assert fields.usage_of([1]) is None
    assert fields.usage_of({}) is None


def test_provider_error_every_shape() -> None:
    acc = Accumulator()
    assert fields.provider_error(acc, "down") == Error("provider", "down", status=200)
    assert fields.provider_error(acc, 3) == Error("provider", "3", status=200)
    assert fields.provider_error(acc, {"code": 5}) == Error(
        "provider", '{"code":5}', status=200, provider_type="5"
    )
    assert fields.provider_error(acc, {"message": "", "type": "t"}) == Error(
        "provider", '{"message":"","type":"t"}', status=200, provider_type="t"
    )
    typed = {"message": "m", "type": "invalid", "code": 503}
    assert fields.provider_error(acc, typed) == Error(
        "provider", "m", status=200, retryable=True, provider_type="invalid"
    )
    not_retryable = {"message": "m", "type": "invalid", "code": 400}
    assert fields.provider_error(acc, not_retryable) == Error(
        "provider", "m", status=200, provider_type="invalid"
    )
    text_code = {"message": "m", "code": "503"}
    assert fields.provider_error(acc, text_code) == Error(
        "provider", "m", status=200, provider_type="503"
    )
    for word in ("server", "overload", "rate", "timeout", "unavailable", "internal"):
        error = fields.provider_error(acc, {"message": "m", "type": f"x_{word.upper()}_y"})
        assert error == Error(
            "provider", "m", status=200, retryable=True, provider_type=f"x_{word.upper()}_y"
        )


def test_content_parts_every_shape() -> None:
    parts = [
        {"type": "text", "text": "a"},
        {"type": "text", "text": ""},
        {"type": "text", "text": 3},
        {"type": "thinking", "thinking": "t"},
        {"type": "thinking", "thinking": [{"type": "text", "text": "u"}]},
        {"type": "thinking", "thinking": None},
        {"type": "image"},
        "text",
    ]
    assert fields.content_parts(parts) == [("a", False), ("t", True), ("u", True)]
    assert fields_raise(fields.content_parts, [{"type": "thinking", "thinking": 3}]) == (
        "a thinking part is not a string: '3'"
    )


def test_decode_body_checks_falsy_fields_on_the_simple_path_too() -> None:
    """A one-choice text answer with a falsy field of the wrong type is refused like the
    same field in a two-choice body (it once slipped through the simple path)."""
    for key in ("reasoning", "refusal"):
        one = {"choices": [{"message": {"content": "a", key: 0}}]}
        two = {"choices": [one["choices"][0], {"index": 1, "message": {"content": "b"}}]}
        assert raised(one) == raised(two) == f"message.{key} is not a string: '0'"
    empty: object
    for empty in ("", [], {}, 0):
        body: dict[str, Any] = {
            "choices": [{"message": {"content": "a", "refusal": None, "tool_calls": empty}}]
        }
        assert DIALECT.decode_body(body) == [Delta("a"), Done(None, "a")]


def test_provider_error_empty_text_and_parts_after_a_non_object() -> None:
    acc = Accumulator()
    assert fields.provider_error(acc, "") == Error(
        "provider", "the provider reported an error", status=200
    )
    parts = ["x", {"type": "text", "text": "a"}, 3, {"type": "thinking", "thinking": "t"}]
    assert fields.content_parts(parts) == [("a", False), ("t", True)]


def test_request_name_default_max_tokens_field_and_http_image() -> None:
    endpoint = Endpoint("http://127.0.0.1:8000/v1", None)
    image = ImagePart(url="http://h/x.png")
    request = ChatRequest(
        "m",
        [Message("user", [TextPart("see"), image], name="bob")],
        stream=False,
        temperature=0.5,
        max_tokens=7,
    )
    body = json.loads(DIALECT.build_request(endpoint, request).body)
    assert body == {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "see"},
                    {"type": "image_url", "image_url": {"url": "http://h/x.png"}},
                ],
                "name": "bob",
            }
        ],
        "temperature": 0.5,
        "max_tokens": 7,
    }


def test_second_choice_tool_calls_are_not_collected_and_empty_simple_answers() -> None:
    second = {
        "index": 1,
        "delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f"}}]},
    }
    events = decode(chunk(content("A"), second), chunk(finish("tool_calls")), DONE)
    assert events[:2] == [Delta("A"), Delta("", "tool_call", 0, "c", "f")]
    done = events[-1]
    assert type(done) is Done and done.tool_calls == ()
    empty = {"choices": [{"message": {"content": ""}, "finish_reason": "stop"}]}
    assert DIALECT.decode_body(empty) == [Done("stop", "", raw_finish_reason="stop")]
    every_key = {"content": "a", "reasoning_content": "r", "reasoning": "", "refusal": ""}
    body = {"choices": [{"message": {**every_key, "tool_calls": []}}]}
    assert DIALECT.decode_body(body) == [
        Delta("r", "reasoning"),
        Delta("a"),
        Done(None, "a", reasoning="r"),
    ]


# --- the live shortcut: message_data is sse_event, or declines and changes nothing ----------
ROLE = chunk(content("", role="assistant"), id="chatcmpl-1", model="m")


def plain(text: Any = "Hi", **changes: Any) -> dict[str, Any]:
    """The common chunk (``changes`` replace or add keys; None values are kept)."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [content(text)],
        **changes,
    }


def started() -> OpenAIChatDecoder:
    decoder = DIALECT.stream_decoder(STREAM)
    assert isinstance(decoder, OpenAIChatDecoder)
    assert decoder.sse_event(ROLE) == []
    return decoder


def test_message_data_reads_the_common_chunk() -> None:
    decoder = started()
    assert decoder.message_data(json.dumps(plain("Hi")).encode()) == [Delta("Hi")]
    assert decoder.message_data(json.dumps(plain("")).encode()) == []
    assert decoder.acc.partial == "Hi"


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps(plain(usage={"prompt_tokens": 1})).encode(),
        json.dumps(plain(choices=[{**content("Hi"), "finish_reason": "stop"}])).encode(),
        json.dumps(plain(choices=[content("Hi", index=1)])).encode(),
        json.dumps(plain(choices=[content("Hi"), content("Yo", index=1)])).encode(),
        json.dumps(plain(choices=[content("Hi", role="assistant")])).encode(),
        json.dumps(plain(choices=[])).encode(),
        json.dumps(plain(None)).encode(),
        json.dumps(plain(7)).encode(),
        json.dumps(plain(error={"message": "x"})).encode(),
        json.dumps(plain(x_groq={"usage": {}})).encode(),
        json.dumps([plain()]).encode(),
        b"[DONE]",
        b"",
        b'{"choices": [{"delta": {"content": "\xff"}}]}',
        b"{",
    ],
)
def test_message_data_declines_every_other_payload(payload: bytes) -> None:
    decoder = started()
    assert decoder.message_data(payload) is None
    assert decoder.acc.partial == ""


def test_message_data_declines_before_the_first_chunk_was_read() -> None:
    # The response id and model come from the general path's first chunk.
    assert DIALECT.stream_decoder(STREAM).message_data(json.dumps(plain()).encode()) is None


def outcome(decoder: StreamDecoder, event: ServerSentEvent) -> Any:
    try:
        return decoder.sse_event(event)
    except RemoteProtocolError as exc:
        return str(exc)


live_payloads = st.one_of(
    st.builds(
        plain,
        st.one_of(st.text(max_size=5), st.none(), st.integers()),
        **{
            key: st.one_of(st.none(), values)
            for key, values in {
                "usage": st.just({"prompt_tokens": 1, "completion_tokens": 2}),
                "error": st.just({"message": "boom"}),
            }.items()
        },
    ).map(lambda value: json.dumps(value).encode()),
    st.builds(
        lambda choices: json.dumps(plain(choices=choices)).encode(),
        st.lists(
            st.fixed_dictionaries(
                {
                    "delta": st.dictionaries(
                        st.sampled_from(["content", "role", "refusal"]),
                        st.one_of(st.text(max_size=3), st.none()),
                    )
                },
                optional={
                    "index": st.sampled_from([0, 1, None]),
                    "finish_reason": st.sampled_from([None, "stop", "length"]),
                },
            ),
            max_size=2,
        ),
    ),
    st.binary(max_size=30),
)


@given(live_payloads, st.booleans())
def test_message_data_is_sse_event_or_declines(payload: bytes, after_first: bool) -> None:
    short = started() if after_first else DIALECT.stream_decoder(STREAM)
    full = started() if after_first else DIALECT.stream_decoder(STREAM)
    event = ServerSentEvent(data=payload.decode("utf-8", "replace"))
    got = short.message_data(payload)
    if got is None:
        assert short.acc.partial == full.acc.partial
        assert outcome(short, event) == outcome(full, event)
    else:
        assert got == full.sse_event(event)
    assert short.acc.partial == full.acc.partial
    assert short.end() == full.end()


def test_sse_event_reads_a_common_chunk_without_the_general_path() -> None:
    decoder = started()
    general = OpenAIChatDecoder._chunk

    def refuse(self: OpenAIChatDecoder, chunk: Any, event: ServerSentEvent) -> list[Event]:
        raise AssertionError("the general path read a common chunk")

    with patch.object(OpenAIChatDecoder, "_chunk", refuse):
        assert decoder.sse_event(ServerSentEvent(data=json.dumps(plain("Hi")))) == [Delta("Hi")]
    assert OpenAIChatDecoder._chunk is general


# --- the common chunk's frame: read without a parse, exactly as the parse reads it ---------
def counting_parses() -> tuple[list[bytes | str], Any]:
    """A spy on both places the decoder parses a chunk (its own loads, the frame's probe)."""
    seen: list[bytes | str] = []

    def spy(data: bytes | str) -> Any:
        seen.append(data)
        return json.loads(data)

    patches = patch.multiple("libchatty.dialects.openai_chat", loads=spy)
    probe = patch("libchatty.jsonframe.loads", spy)
    return seen, (patches, probe)


def live(decoder: OpenAIChatDecoder, payload: bytes) -> list[Event]:
    """What the call does with one whole event: message_data, else sse_event."""
    events = decoder.message_data(payload)
    if events is None:
        events = decoder.sse_event(ServerSentEvent(data=payload.decode("utf-8", "replace")))
    return events


def test_a_stream_of_common_chunks_is_parsed_once() -> None:
    decoder = started()
    seen, (patches, probe) = counting_parses()
    with patches, probe:
        texts = [live(decoder, json.dumps(plain(f"w{n} ")).encode()) for n in range(10)]
    assert texts == [[Delta(f"w{n} ")] for n in range(10)]
    # the first text chunk, and the probe that proves its frame; nothing after
    assert [json.loads(data)["choices"][0]["delta"]["content"] for data in seen] == ["w0 ", "~w0 "]
    assert decoder.acc.partial == "".join(f"w{n} " for n in range(10))


def test_every_chunk_of_a_live_stream_is_parsed_at_most_once() -> None:
    # The role, stop and usage chunks are not the common chunk: message_data parses
    # each and sse_event reads that parse (once, not three times); [DONE] is not parsed.
    decoder = DIALECT.stream_decoder(STREAM)
    assert isinstance(decoder, OpenAIChatDecoder)
    role = json.dumps(plain(choices=[content("", role="assistant")])).encode()
    stop = json.dumps(plain(choices=[finish("stop")])).encode()
    usage = json.dumps(plain(choices=[], usage={"prompt_tokens": 2, "completion_tokens": 3}))
    seen, (patches, probe) = counting_parses()
    with patches, probe:
        got = [live(decoder, payload) for payload in (role, b'{"choices":[{"index":0,'
               b'"delta":{"content":"A"}}],"id":"chatcmpl-1","model":"m"}', stop,
               usage.encode(), b"[DONE]")]  # fmt: skip
    assert got[:4] == [[], [Delta("A")], [], []]
    assert type(got[4][0]) is Done and got[4][0].usage == Usage(2, 3, 5)
    assert [json.loads(data).get("usage") for data in seen] == [
        None,  # role
        None,  # "A"
        None,  # "A"'s frame, proved
        None,  # stop
        {"prompt_tokens": 2, "completion_tokens": 3},
    ]
    assert decoder._parsed is _UNPARSED  # nothing kept after its event


def test_a_chunk_parsed_by_message_data_is_read_by_the_next_sse_event_only() -> None:
    decoder = started()
    stop = plain(choices=[finish("stop")])
    assert decoder.message_data(json.dumps(stop).encode()) is None
    seen, (patches, probe) = counting_parses()
    with patches, probe:
        # sse_event reads the kept parse (not its own event's data: the call hands the
        # same event), and the next one parses again.
        assert decoder.sse_event(ServerSentEvent(data=json.dumps(plain("x")))) == []
        assert decoder.sse_event(ServerSentEvent(data=json.dumps(plain("y")))) == [Delta("y")]
    # "x" never parsed; "y" parsed, and its frame proved
    assert [json.loads(data)["choices"][0]["delta"]["content"] for data in seen] == ["y", "~y"]
    assert decoder.acc.partial == "y" and decoder._finish == "stop"


def test_text_the_frame_cannot_hold_is_parsed_and_the_frame_kept() -> None:
    decoder = started()
    live(decoder, json.dumps(plain("A")).encode())
    seen, (patches, probe) = counting_parses()
    with patches, probe:
        assert live(decoder, json.dumps(plain("two\nlines")).encode()) == [Delta("two\nlines")]
        assert live(decoder, json.dumps(plain('"q"')).encode()) == [Delta('"q"')]
        assert live(decoder, json.dumps(plain("B")).encode()) == [Delta("B")]
    assert len(seen) == 2  # the two escaped texts; "B" fits the frame
    assert decoder.acc.partial == 'Atwo\nlines"q"B'


def test_a_frame_is_learned_at_most_frame_learns_times() -> None:
    decoder = started()
    seen, (patches, probe) = counting_parses()
    with patches, probe:
        # Every chunk differs in more than its text: each parsed, the first
        # FRAME_LEARNS of them also probed, none after.
        for n in range(FRAME_LEARNS + 3):
            assert live(decoder, json.dumps(plain("t", id=f"c{n}")).encode()) == [Delta("t")]
    assert len(seen) == FRAME_LEARNS + 3 + FRAME_LEARNS
    assert FRAME_LEARNS == 3


def test_a_frame_is_relearned_when_it_stops_fitting() -> None:
    decoder = started()
    live(decoder, json.dumps(plain("A", system_fingerprint="fp1")).encode())  # an odd first
    seen, (patches, probe) = counting_parses()
    with patches, probe:
        for text in "BCDE":
            assert live(decoder, json.dumps(plain(text)).encode()) == [Delta(text)]
    assert len(seen) == 2  # "B" parsed and its frame proved; C, D, E fit it


def framed_payloads(frame_text: str) -> Any:
    """Payloads around the common chunk's frame: plain and escaped texts, any bytes in the
    hole, other fields changed, other chunks."""
    # The text is the chunk's last string (it may also be the model's or the id's).
    whole = json.dumps(plain(frame_text)).encode()
    prefix, _, suffix = whole.rpartition(json.dumps(frame_text).encode())
    return st.one_of(
        st.text(max_size=6).map(lambda text: json.dumps(plain(text)).encode()),
        st.binary(max_size=8).map(lambda hole: prefix + b'"' + hole + b'"' + suffix),
        st.text(max_size=4).map(lambda text: json.dumps(plain(text), ensure_ascii=False).encode()),
        st.sampled_from(
            [
                json.dumps(plain("x", id="other")).encode(),
                json.dumps(plain("x", usage={"prompt_tokens": 1})).encode(),
                json.dumps(plain(choices=[{**content("x"), "finish_reason": "stop"}])).encode(),
                json.dumps(plain(choices=[content("x", index=1)])).encode(),
                b"[DONE]",
                b"{",
            ]
        ),
    )


@given(st.data(), st.text(min_size=1, max_size=3))
def test_frames_change_no_event(data: st.DataObject, frame_text: str) -> None:
    payloads = data.draw(st.lists(framed_payloads(frame_text), max_size=12))
    framed, parsed = started(), started()
    parsed._learns = 0  # never a frame: every chunk parsed

    def outcome(decoder: OpenAIChatDecoder, payload: bytes) -> Any:
        try:
            return live(decoder, payload)
        except RemoteProtocolError as exc:
            return str(exc)

    for payload in [json.dumps(plain(frame_text)).encode(), *payloads]:
        assert outcome(framed, payload) == outcome(parsed, payload)
        assert framed.acc.partial == parsed.acc.partial
    assert framed.end() == parsed.end()


def test_request_bodies_are_compact_utf8_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from libchatty.dialects import base

    monkeypatch.setattr(base, "_encode", None)  # as in a fresh process: made by the first call
    assert base.dumps({"a": "é", "b": [1, {"c": None}]}) == '{"a":"é","b":[1,{"c":null}]}'.encode()
    assert base._encode is not None
    assert base.dumps(["x"]) == b'["x"]'  # the same encoder from then on


def test_the_kept_target_and_headers_follow_the_endpoint_and_its_headers() -> None:
    from libchatty import ChatRequest, Endpoint, Message
    from libchatty.dialects import get_dialect

    request = ChatRequest("m", [Message("user", "hi")])
    for name, path in (("openai-chat", "/chat/completions"), ("openai-responses", "/responses")):
        dialect = get_dialect(name)
        given = {"X-Title": "t"}
        first = Endpoint("http://127.0.0.1:9/v1", "k1", name, headers=given)
        spec = dialect.build_request(first, request)
        assert (spec.target, spec.headers) == (
            "/v1" + path, (("Authorization", "Bearer k1"), ("X-Title", "t")))  # fmt: skip
        assert dialect.build_request(first, request).headers == spec.headers  # kept
        other = Endpoint("http://127.0.0.1:9/v2?q=1", "k2", name)  # another endpoint
        spec = dialect.build_request(other, request)
        assert (spec.target, spec.headers) == (
            "/v2" + path + "?q=1", (("Authorization", "Bearer k2"),))  # fmt: skip
        # The same endpoint object, whose headers mapping the caller changed: read anew.
        given["X-Title"] = "u"
        assert dialect.build_request(first, request).headers[-1] == ("X-Title", "u")
        # The request's own headers still replace the endpoint's.
        own = ChatRequest("m", [Message("user", "hi")], headers={"x-title": "v"})
        assert dialect.build_request(first, own).headers == (
            ("Authorization", "Bearer k1"), ("x-title", "v"))  # fmt: skip
        assert dialect.build_request(first, request).headers[-1] == ("X-Title", "u")


def test_the_body_is_compact_json_as_the_json_module_writes_it() -> None:
    import json

    import pytest

    from libchatty.dialects.base import dumps

    value = {"b": [1, 2.5, None, True, "é\u2028", 1e16, float("nan")], "a": {"c": (1, 2)}}
    assert dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert dumps(value).startswith(b'{"b":[1,2.5,null,true,"\xc3\xa9\xe2\x80\xa8",1e+16,NaN]')
    with pytest.raises(TypeError, match="keys must be str"):
        dumps({(1, 2): "a tuple key is neither written nor skipped"})
    assert (dumps("x"), dumps(3), dumps([])) == (b'"x"', b"3", b"[]")
    loop: dict[str, object] = {}
    loop["self"] = loop
    shared = [1]
    with pytest.raises(ValueError, match="Circular reference"):
        dumps({"a": shared, "loop": loop})
    # A failure leaves nothing behind: the same list is written again.
    assert dumps({"a": shared, "b": shared}) == b'{"a":[1],"b":[1]}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"a": shared, "b": object()})
    assert dumps([shared, shared]) == b"[[1],[1]]"


def test_a_target_keeps_the_last_endpoints_url_and_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh _Target (the module's own are made at import): the URL and bearer headers
    # are made once per endpoint object and headers mapping, and anew otherwise.
    from libchatty.dialects import openai_request

    made: list[str] = []
    bearer = openai_request.bearer

    def counted(endpoint: Endpoint) -> tuple[tuple[str, str], ...]:
        made.append(endpoint.api_key or "")
        return bearer(endpoint)

    monkeypatch.setattr(openai_request, "bearer", counted)
    target = openai_request._Target("/chat/completions")
    given = {"X-Title": "t"}
    first = Endpoint("http://127.0.0.1:9/v1", "k1", headers=given)
    got = target.of(first)
    assert got == ("/v1/chat/completions", (("Authorization", "Bearer k1"), ("X-Title", "t")))
    again = target.of(first)
    assert again[0] is got[0] and again[1] is got[1] and made == ["k1"]  # kept
    twin = Endpoint("http://127.0.0.1:9/v1", "k2", headers={"X-Title": "t"})  # equal headers
    assert target.of(twin)[1][0] == ("Authorization", "Bearer k2") and made == ["k1", "k2"]
    assert target.of(first)[1][0] == ("Authorization", "Bearer k1") and len(made) == 3
    given["X-Title"] = "u"  # the same endpoint object, its headers changed
    assert target.of(first)[1] == (("Authorization", "Bearer k1"), ("X-Title", "u"))
    assert target.of(first)[1][1] == ("X-Title", "u") and len(made) == 4
