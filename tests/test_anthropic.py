"""The Anthropic Messages dialect: every fixture through the Call (whole, byte by byte, at
random splits), a hypothesis-generated event stream written by an encoder in this file
(not the dialect's renderer) with random SSE framing, render round trips, malformed
input, and request building."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import pytest
from decoding import (
    ANY_JSON,
    JSON_VALUES,
    SKY,
    check_body_survives,
    check_decoder_survives,
    check_error_event,
    check_fields,
    check_fixture,
    check_like_fixture,
    check_shape,
    every_error_status,
    feed,
    mutated_events,
    scripts,
)
from hypothesis import given
from hypothesis import strategies as st
from wire import fixture, fixture_names, random_chunked, random_splits, sse_frame

from libchatty.accumulate import normalize_finish_reason
from libchatty.call import Call
from libchatty.dialects import get_dialect
from libchatty.dialects.anthropic import DEFAULT_MAX_TOKENS, AnthropicStreamDecoder
from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done, Error, Event, ToolCall, Usage
from libchatty.exceptions import RemoteProtocolError
from libchatty.replay import Script, get_renderer
from libchatty.request import ChatRequest, Message, Tool
from libchatty.sse import ServerSentEvent

DIALECT = get_dialect("anthropic")
RENDERER = get_renderer("anthropic")
BASE = "https://api.anthropic.com"
KEY = "sk-ant-EXAMPLE-not-a-real-key"


def make_call(stream: bool = True, **request: Any) -> Call:
    chat = ChatRequest("claude-sonnet-4-20250514", [Message("user", "hi")], stream=stream)
    return Call(Endpoint(BASE, KEY, dialect="anthropic"), chat, **request)


# --- every shared fixture, whole, byte by byte and at random splits ---------------------------
SHARED = [n for n in fixture_names("anthropic") if not n.startswith("anthropic/mine-")]


@pytest.mark.parametrize("name", SHARED)
def test_fixture(name: str) -> None:
    # Tool input comes as an object in a body: arguments are compared parsed.
    check_fixture(name, make_call, exact_arguments=False)


def test_overloaded_event_is_retryable_and_keeps_the_partial_text() -> None:
    events = feed(make_call(), [fixture("anthropic/stream-error-overloaded.http")])
    last = events[-1]
    assert isinstance(last, Error)
    assert (last.kind, last.status, last.retryable) == ("overloaded", 200, True)
    assert last.partial.startswith("Sure — here is")


def test_cache_reads_are_reported_not_added_to_input() -> None:
    last = feed(make_call(), [fixture("anthropic/stream-thinking-tool-use.http")])[-1]
    assert isinstance(last, Done)
    assert last.usage == Usage(2, 61, 63, None, 13993)


def test_signature_is_not_text() -> None:
    events = feed(make_call(), [fixture("anthropic/stream-thinking.http")])
    assert not any(isinstance(e, Delta) and "Eq" in e.text and e.kind != "text" for e in events)
    last = events[-1]
    assert isinstance(last, Done) and "signature" not in last.reasoning


def test_done_leaves_the_connection_reusable() -> None:
    call = make_call()
    feed(call, [fixture("anthropic/stream-text.http")])
    assert call.finished and call.reusable


# --- fixtures of our own: what the shared set misses --------------------------------------
MINE: dict[str, dict[str, Any]] = {
    # Cut off after two text deltas: no message_delta, no message_stop.
    "anthropic/mine-stream-cut.http": {
        "kind": "incomplete",
        "partial": "Hello, wor",
    },
    # An api_error event after a tool call started: a provider error, worth a retry.
    "anthropic/mine-stream-api-error.http": {
        "kind": "provider",
        "provider_type": "api_error",
        "retryable": True,
        "partial": "Let me look.",
    },
    # Two parallel tool calls after text, cumulative usage sent twice, CRLF framing.
    "anthropic/mine-stream-parallel-tools.http": {
        "text": "Checking both.",
        "tool_calls": (
            ToolCall("toolu_A", "get_weather", '{"city":"Paris"}'),
            ToolCall("toolu_B", "get_time", "{}"),
        ),
        "finish_reason": "tool_calls",
        "usage": Usage(50, 31, 81, None, 0),
    },
    # Non-streamed body with thinking, text and a tool_use whose input is an object.
    "anthropic/mine-nonstream-tool-use.http": {
        "text": "Reading it.",
        "reasoning": "Need the file.",
        "tool_calls": (ToolCall("toolu_C", "Read", '{"path":"/tmp/x"}'),),
        "finish_reason": "tool_calls",
        "usage": Usage(12, 40, 52, None, None),
        "reasoning_signature": "c2ln",  # the thinking block's field, as sent
    },
}


@pytest.mark.parametrize("name", sorted(MINE))
def test_my_fixture(name: str) -> None:
    assert name in fixture_names("anthropic")
    check_fields(name, make_call, MINE[name])


def test_tool_call_delta_index_counts_tool_blocks_not_content_blocks() -> None:
    events = feed(make_call(), [fixture("anthropic/mine-stream-parallel-tools.http")])
    tool_deltas = [e for e in events if isinstance(e, Delta) and e.kind == "tool_call"]
    assert [e.index for e in tool_deltas if e.tool_call_id] == [0, 1]
    assert tool_deltas[0].tool_name == "get_weather" and tool_deltas[0].text == ""


# --- a stream written here, with random framing --------------------------------------------
@dataclass
class Model:
    """What a generated stream must decode to."""

    wire: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)  # event, data, text
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tools: list[ToolCall] = field(default_factory=list)


pieces = st.lists(st.text(max_size=12), max_size=5)


@st.composite
def block_specs(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["text", "thinking", "tool"]))
    if kind == "tool":
        args = json.dumps(draw(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3)))
        cuts = sorted(draw(st.lists(st.integers(0, len(args)), max_size=4)))
        bounds = [0, *cuts, len(args)]
        fragments = [args[a:b] for a, b in pairwise(bounds)]
        name = draw(st.sampled_from(["get_weather", "Read", "lookup"]))
        return kind, (name, fragments)
    return kind, draw(pieces)


@st.composite
def streams(draw: st.DrawFn) -> tuple[Model, str]:
    """A Messages stream as events, and how it ends: ``stop``, ``cut`` or ``error``."""
    model = Model()
    usage: dict[str, int] = {"input_tokens": draw(st.integers(0, 10**6)), "output_tokens": 1}
    if draw(st.booleans()):
        usage["cache_read_input_tokens"] = draw(st.integers(0, 10**6))
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "usage": usage}
    model.wire.append(("message_start", {"type": "message_start", "message": message}, ""))
    for index, (kind, spec) in enumerate(draw(st.lists(block_specs(), max_size=5))):
        if kind == "tool":
            name, fragments = spec
            call_id = f"toolu_{index}"
            model.tools.append(ToolCall(call_id, name, "".join(fragments) or "{}"))
            start = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": f} for f in ["", *fragments]]
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in spec]
            deltas.append({"type": "signature_delta", "signature": "c2ln"})
            model.reasoning.extend(spec)
        else:
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in spec]
        model.wire.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
                "",
            )
        )
        for delta in deltas:
            text = delta["text"] if delta["type"] == "text_delta" else ""
            model.wire.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    text,
                )
            )
            if draw(st.integers(0, 4)) == 0:
                model.wire.append(("ping", {"type": "ping"}, ""))
        model.wire.append(
            ("content_block_stop", {"type": "content_block_stop", "index": index}, "")
        )
    reason = draw(
        st.sampled_from(["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal"])
    )
    for output in sorted(draw(st.lists(st.integers(1, 10**5), min_size=1, max_size=2))):
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": reason},
            "usage": {"output_tokens": output},
        }
        model.wire.append(("message_delta", delta, ""))
    model.wire.append(("message_stop", {"type": "message_stop"}, ""))
    ending = draw(st.sampled_from(["stop", "stop", "cut", "error"]))
    if ending != "stop":
        keep = draw(st.integers(0, len(model.wire) - 1))  # never message_stop
        del model.wire[keep:]
        if ending == "error":
            error_type = draw(
                st.sampled_from(["overloaded_error", "api_error", "invalid_request_error"])
            )
            error = {"type": "error", "error": {"type": error_type, "message": "boom"}}
            model.wire.append(("error", error, ""))
    model.text = [text for _, _, text in model.wire]
    return model, ending


@st.composite
def framings(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "eol": draw(st.sampled_from(["\n", "\r\n", "\r"])),
        "space": draw(st.booleans()),
        "event_line": draw(st.booleans()),
        "separators": draw(st.sampled_from([(",", ":"), (", ", ": ")])),
        "ascii": draw(st.booleans()),
        "pad": draw(st.booleans()),  # spaces before the closing brace, as the live API sends
        "comment": draw(st.booleans()),
    }


def encode(model: Model, framing: dict[str, Any]) -> bytes:
    out = []
    for name, data, _ in model.wire:
        text = json.dumps(data, separators=framing["separators"], ensure_ascii=framing["ascii"])
        if framing["pad"]:
            text = text[:-1] + "    }"
        out.append(
            sse_frame(
                text,
                event=name if framing["event_line"] else None,
                eol=framing["eol"],
                data_space=framing["space"],
                comment="keep-alive" if framing["comment"] else None,
            )
        )
    return "".join(out).encode()


@given(streams(), framings(), st.integers(0, 2**32))
def test_generated_stream(stream: tuple[Model, str], framing: dict[str, Any], seed: int) -> None:
    model, ending = stream
    events = feed(make_call(), random_splits(random_chunked(encode(model, framing)), seed, 97))
    last = check_shape(events)
    if ending == "stop":
        assert isinstance(last, Done)
        assert last.text == "".join(model.text)
        assert last.reasoning == "".join(model.reasoning)
        assert last.tool_calls == tuple(model.tools)
        start = model.wire[0][1]["message"]["usage"]
        final = [d for n, d, _ in model.wire if n == "message_delta"][-1]
        assert last.usage is not None
        assert last.usage.input_tokens == start["input_tokens"]
        assert last.usage.output_tokens == final["usage"]["output_tokens"]
        assert last.usage.cached_tokens == start.get("cache_read_input_tokens")
        assert last.raw_finish_reason == final["delta"]["stop_reason"]
        assert last.finish_reason == normalize_finish_reason(
            last.raw_finish_reason, bool(model.tools)
        )
    else:
        assert isinstance(last, Error)
        assert last.partial == "".join(model.text)
        if ending == "cut":
            assert last.kind == "incomplete"
        else:
            error_type = model.wire[-1][1]["error"]["type"]
            assert last.kind == ("overloaded" if error_type == "overloaded_error" else "provider")
            assert (last.status, last.provider_type, last.message) == (200, error_type, "boom")
            assert last.retryable == (error_type != "invalid_request_error")


# --- the renderers, decoded back -------------------------------------------------------------


def check_script(script: Script, last: Done | Error) -> None:
    assert isinstance(last, Done)
    assert (last.text, last.reasoning) == (script.text, script.reasoning)
    assert [(c.id, c.name, json.loads(c.arguments)) for c in last.tool_calls] == [
        (c.id, c.name, json.loads(c.arguments)) for c in script.tool_calls
    ]
    assert last.usage == script.usage
    assert last.finish_reason == normalize_finish_reason(
        script.finish_reason, bool(script.tool_calls)
    )


@given(scripts("toolu_"), st.integers(0, 2**32))
def test_render_stream_round_trip(script: Script, seed: int) -> None:
    body = b"".join(RENDERER.render_stream(script))
    check_script(script, check_shape(feed(make_call(), random_splits(random_chunked(body), seed))))


@given(scripts("toolu_"))
def test_render_body_round_trip(script: Script) -> None:
    body = random_chunked(RENDERER.render_body(script), content_type="application/json")
    check_script(script, check_shape(feed(make_call(stream=False), [body])))


@every_error_status
def test_render_error_round_trip(status: int, kind: str) -> None:
    body = random_chunked(RENDERER.render_error(status, "nope"), status, "application/json")
    check_error_event(feed(make_call(), [body]), kind, status, "nope")


def test_render_stream_error_keeps_the_partial_text() -> None:
    wire = RENDERER.render_stream(Script(text="Hello there friend"))
    body = b"".join(wire[:5]) + RENDERER.render_stream_error("Overloaded")
    last = check_shape(feed(make_call(), [random_chunked(body)]))
    assert isinstance(last, Error)
    assert (last.kind, last.retryable, last.partial) == ("overloaded", True, "Hello there")


def test_render_matches_and_detects_stream() -> None:
    assert RENDERER.matches("POST", "/v1/messages")
    assert RENDERER.matches("POST", "/anthropic/v1/messages?beta=true")
    assert not RENDERER.matches("GET", "/v1/messages")
    assert not RENDERER.matches("POST", "/v1/chat/completions")
    assert RENDERER.is_stream_request("/v1/messages", {"stream": True})
    assert not RENDERER.is_stream_request("/v1/messages", {"stream": False})
    assert not RENDERER.is_stream_request("/v1/messages", {})


# --- malformed input: typed errors, never a crash ----------------------------------------------
def sse(data: str, event: str = "message") -> ServerSentEvent:
    return ServerSentEvent(event=event, data=data)


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[1, 2]",
        "[" * 100_000,
        '{"type": "message_start", "message": 3}',
        '{"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use"}}',
        '{"type": "content_block_start", "content_block": {"type": "text"}}',
        json.dumps(
            {
                "type": "content_block_delta",
                "index": 5,
                "delta": {"type": "input_json_delta", "partial_json": "{"},
            }
        ),
        '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 7}}',
        '{"type": "content_block_delta", "index": 0, "delta": null}',
    ],
)
def test_malformed_events_raise_remote_protocol_error(data: str) -> None:
    with pytest.raises(RemoteProtocolError):
        AnthropicStreamDecoder().sse_event(sse(data))


def test_malformed_event_through_the_call_is_a_protocol_error_with_partial() -> None:
    body = b"".join(RENDERER.render_stream(Script(text="abc def")))
    cut = body.index(b"event: content_block_stop")
    last = feed(make_call(), [random_chunked(body[:cut] + b"data: {oops\n\n")])[-1]
    assert isinstance(last, Error)
    assert (last.kind, last.partial) == ("protocol", "abc def")


def test_unknown_events_and_blocks_are_ignored() -> None:
    decoder = AnthropicStreamDecoder()
    assert decoder.sse_event(sse('{"type": "brand_new_event", "x": 1}')) == []
    assert (
        decoder.sse_event(
            sse(
                json.dumps(
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "redacted_thinking", "data": "x"},
                    }
                )
            )
        )
        == []
    )
    assert (
        decoder.sse_event(
            sse('{"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta"}}')
        )
        == []
    )


def test_tool_input_in_the_start_block_is_kept_when_no_delta_comes() -> None:
    decoder = AnthropicStreamDecoder()
    start = {"type": "tool_use", "id": "toolu_X", "name": "f", "input": {"a": [1, 2]}}
    events = [json.dumps({"type": "content_block_start", "index": 3, "content_block": start})]
    events += ['{"type": "content_block_stop", "index": 3}', '{"type": "message_stop"}']
    out: list[Event] = []
    for data in events:
        out.extend(decoder.sse_event(sse(data)))
    assert isinstance(out[-1], Done)
    assert out[-1].tool_calls == (ToolCall("toolu_X", "f", '{"a":[1,2]}'),)
    assert out[-1].finish_reason == "tool_calls"


def test_end_before_anything_is_incomplete() -> None:
    last = AnthropicStreamDecoder().end()
    assert isinstance(last, Error) and last.kind == "incomplete"


def test_error_event_with_no_detail() -> None:
    (last,) = AnthropicStreamDecoder().sse_event(sse('{"type": "error"}', "error"))
    assert isinstance(last, Error)
    assert (last.kind, last.status, last.retryable) == ("provider", 200, False)
    assert last.message


def test_body_error_envelope_with_200() -> None:
    (last,) = DIALECT.decode_body({"type": "error", "error": {"type": "api_error", "message": "m"}})
    assert isinstance(last, Error) and (last.kind, last.retryable) == ("provider", True)


def test_body_without_content_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError):
        DIALECT.decode_body({"type": "message", "stop_reason": "end_turn"})


# --- request building ------------------------------------------------------------------------
def build(
    request: ChatRequest, endpoint: Endpoint | None = None
) -> tuple[str, dict[str, str], Any]:
    spec = DIALECT.build_request(endpoint or Endpoint(BASE, KEY, dialect="anthropic"), request)
    assert spec.method == "POST"
    return spec.target, dict(spec.headers), json.loads(spec.body)


def test_request_matches_the_fixture() -> None:
    request = ChatRequest("claude-sonnet-4-20250514", SKY, max_tokens=1024)
    call = Call(Endpoint(BASE, KEY, dialect="anthropic"), request)
    headers = check_like_fixture(call, "request/anthropic.http", ("x-api-key", "anthropic-version"))
    assert "authorization" not in headers


def test_defaults_and_prefixes() -> None:
    request = ChatRequest("m", [Message("user", "hi")], stream=False)
    target, headers, body = build(request)
    assert target == "/v1/messages"
    assert body == {
        "model": "m",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert headers == {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    assert build(request, Endpoint("https://proxy.example/v1", None, dialect="anthropic"))[:2] == (
        "/v1/messages",
        {"anthropic-version": "2023-06-01"},
    )
    assert build(request, Endpoint("http://gw.example/anthropic/", "k", dialect="anthropic"))[
        0
    ] == ("/anthropic/v1/messages")


def test_caller_headers_win_and_are_sent() -> None:
    endpoint = Endpoint(
        BASE,
        KEY,
        dialect="anthropic",
        headers={"Anthropic-Version": "2024-01-01", "anthropic-beta": "x"},
    )
    _, headers, _ = build(ChatRequest("m", [Message("user", "hi")]), endpoint)
    assert headers == {"x-api-key": KEY, "Anthropic-Version": "2024-01-01", "anthropic-beta": "x"}


def test_sampling_fields_tools_and_extra() -> None:
    tool = Tool(
        "get_weather", "Weather now", {"type": "object", "properties": {"city": {"type": "string"}}}
    )
    request = ChatRequest(
        "m",
        [Message("user", "hi")],
        temperature=0.5,
        top_p=0.9,
        max_tokens=77,
        stop=["END", "STOP"],
        tools=[tool],
        tool_choice="required",
        extra={"thinking": {"type": "enabled", "budget_tokens": 2048}},
    )
    _, _, body = build(request)
    assert body["temperature"] == 0.5 and body["top_p"] == 0.9 and body["max_tokens"] == 77
    assert body["stop_sequences"] == ["END", "STOP"]
    assert body["tools"] == [
        {"name": "get_weather", "description": "Weather now", "input_schema": dict(tool.parameters)}
    ]
    assert body["tool_choice"] == {"type": "any"}
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["stream"] is True


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("get_weather", {"type": "tool", "name": "get_weather"}),
    ],
)
def test_tool_choice(choice: str, wire: dict[str, str]) -> None:
    _, _, body = build(
        ChatRequest("m", [Message("user", "hi")], tools=[Tool("get_weather")], tool_choice=choice)
    )
    assert body["tool_choice"] == wire


def test_tool_loop_messages() -> None:
    calls = (
        ToolCall("toolu_1", "get_weather", '{"city": "Paris"}'),
        ToolCall("toolu_2", "get_time", ""),
    )
    request = ChatRequest(
        "m",
        [
            Message("system", "Be brief."),
            Message("developer", "Use tools."),
            Message("user", "Weather and time in Paris?"),
            Message("assistant", "Checking.", tool_calls=calls),
            Message("tool", "18C", tool_call_id="toolu_1"),
            Message("tool", "12:00", tool_call_id="toolu_2"),
            Message("user", "Thanks, and tomorrow?"),
            Message("assistant", None, tool_calls=calls[:1]),
            Message("tool", "20C", tool_call_id="toolu_1"),
        ],
    )
    _, _, body = build(request)
    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use tools."},
    ]
    assert body["messages"] == [
        {"role": "user", "content": "Weather and time in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "12:00"},
                {"type": "text", "text": "Thanks, and tomorrow?"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "20C"}],
        },
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            ToolCall(None, "f", "{}"),
            "tool call 'f' has no id; Anthropic needs one to match its result",
        ),
        (
            ToolCall("t", "f", "{oops"),
            "the arguments of tool call 'f' are not valid JSON (Anthropic needs an object)",
        ),
        (ToolCall("t", "f", "[1]"), "the arguments of tool call 'f' are not a JSON object"),
    ],
)
def test_unsendable_tool_calls_raise_value_error(call: ToolCall, message: str) -> None:
    request = ChatRequest(
        "m", [Message("user", "hi"), Message("assistant", None, tool_calls=(call,))]
    )
    with pytest.raises(ValueError) as caught:
        build(request)
    assert str(caught.value) == message


def test_key_never_in_request_errors() -> None:
    call = ToolCall("t", "f", "{oops")
    request = ChatRequest(
        "m", [Message("user", "hi"), Message("assistant", None, tool_calls=(call,))]
    )
    with pytest.raises(ValueError) as info:
        build(request)
    assert KEY not in str(info.value)


def test_server_tool_use_blocks_are_not_caller_tool_calls() -> None:
    decoder = AnthropicStreamDecoder()
    server = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    result = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
    wire = [
        {"type": "content_block_start", "index": 0, "content_block": server},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"query": "x"}'},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": result},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}},
        {"type": "message_stop"},
    ]
    out: list[Event] = []
    for payload in wire:
        out.extend(decoder.sse_event(sse(json.dumps(payload))))
    assert out[:-1] == [Delta("ok")]
    last = out[-1]
    assert isinstance(last, Done)
    assert (last.text, last.tool_calls, last.finish_reason) == ("ok", (), "stop")
    body = {
        "type": "message",
        "content": [server, result, {"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
    }
    events = DIALECT.decode_body(body)
    assert isinstance(events[-1], Done) and events[-1].tool_calls == ()


def test_no_empty_text_block_after_tool_results() -> None:
    calls = (ToolCall("toolu_1", "f", "{}"),)
    request = ChatRequest(
        "m",
        [
            Message("user", "go"),
            Message("assistant", None, tool_calls=calls),
            Message("tool", "done", tool_call_id="toolu_1"),
            Message("user", ""),
        ],
    )
    assert build(request)[2]["messages"][-1] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}],
    }


# --- signed reasoning (extended thinking): decoded, never text, sent back first ------------
# The signatures the fixtures carry, copied from their signature_delta events.
THINKING_SIGNATURE = (
    "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYdsdlPJnk6e97xhruQMuVpBpxV2OfIb/JASWmgSFHkJfa8"
    "CISBqBCmSgruYqUXR3XSppS+dlPMXkIMaxfN56k1jLdovY2JPZ1LNHOYBA2j0ASYVK2voGZJyK2MaE88OsXRvnI02ODUSdlK"
    "b5rsGeHGawg20VE0ar/t3vTDSFUn19NnTotPJgqJb=="
)
_TOOL_USE_SIGNATURE_TAIL = (
    "CkYICxgCKkBR++kFr7Za2JhF/9OCpjEc46/EcipL75RK+MEbxJ/VBJPWQTWrNGfwb5khWYJtKEpjjkH07cR/MQvThfb7t7Ck"
    "EgwU4pKwL7NuZXd1/wgaDILyd0bYMqQovWo3dyIw95Ny7yZPljNBDLsvMBdBr7w+RtbU+AlSftjBuBZHp0VzI54/W+9u6f7q"
    "fx0JXsVBKldqqOjFvewT8Xm6Qp/77g6/j0zBiuAQABj/6vS1qATjd8KSIFDg9G/tCtzwmV/T/egmzswWd5CBiAhW6lgJgEDR"
    "r+gRUrFSOB7o3hypW8FUnUrr1JtzzwMYAQ=="
)
FIRST_BLOCK_SIGNATURE = "Eu8B" + _TOOL_USE_SIGNATURE_TAIL
SECOND_BLOCK_SIGNATURE = "Aa1B" + _TOOL_USE_SIGNATURE_TAIL


def test_thinking_signature_is_kept_exactly_in_every_splitting() -> None:
    done = check_fields(
        "anthropic/stream-thinking.http",
        make_call,
        {"reasoning_signature": THINKING_SIGNATURE, "finish_reason": "stop"},
    )
    assert isinstance(done, Done) and THINKING_SIGNATURE not in done.reasoning + done.text


def test_two_thinking_blocks_join_their_signatures_in_order() -> None:
    # One Done field for the whole turn: the blocks' signatures are joined like their
    # text (documented in the dialect; only one signed block replays exactly).
    check_fields(
        "anthropic/stream-thinking-tool-use.http",
        make_call,
        {"reasoning_signature": FIRST_BLOCK_SIGNATURE + SECOND_BLOCK_SIGNATURE},
    )


@pytest.mark.parametrize("name", [*SHARED, "anthropic/mine-stream-parallel-tools.http"])
def test_signatures_never_become_deltas(name: str) -> None:
    events = feed(make_call("nonstream" not in name), [fixture(name)])
    signatures = (THINKING_SIGNATURE, FIRST_BLOCK_SIGNATURE, SECOND_BLOCK_SIGNATURE)
    for event in events:
        if isinstance(event, Delta):
            assert not any(sig[:12] in event.text for sig in signatures), event
    last = events[-1]
    if isinstance(last, Done) and "thinking" not in name:
        assert last.reasoning_signature is None


def test_signature_fragments_are_joined() -> None:
    decoder = AnthropicStreamDecoder()
    start = {"type": "thinking", "thinking": "", "signature": ""}
    deltas = [
        {"type": "thinking_delta", "thinking": "hm"},
        {"type": "signature_delta", "signature": "ab"},
        {"type": "signature_delta", "signature": "cd="},
    ]
    payloads: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"usage": {}}},
        {"type": "content_block_start", "index": 0, "content_block": start},
        *({"type": "content_block_delta", "index": 0, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}},
        {"type": "message_stop"},
    ]
    events: list[Event] = []
    for payload in payloads:
        events.extend(decoder.sse_event(ServerSentEvent(payload["type"], json.dumps(payload))))
    assert events[:-1] == [Delta("hm", "reasoning")]
    last = events[-1]
    assert isinstance(last, Done)
    assert (last.reasoning, last.reasoning_signature) == ("hm", "abcd=")


def test_a_signature_delta_without_a_string_is_a_protocol_error() -> None:
    decoder = AnthropicStreamDecoder()
    payload = {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta"}}
    with pytest.raises(RemoteProtocolError, match="signature"):
        decoder.sse_event(ServerSentEvent("content_block_delta", json.dumps(payload)))


def test_redacted_thinking_in_a_body_is_skipped() -> None:
    body = {
        "type": "message",
        "content": [
            {"type": "redacted_thinking", "data": "ENCRYPTED"},
            {"type": "text", "text": "ok"},
        ],
        "stop_reason": "end_turn",
    }
    events = DIALECT.decode_body(body)
    assert events[:-1] == [Delta("ok")]
    last = events[-1]
    assert isinstance(last, Done) and (last.reasoning, last.reasoning_signature) == ("", None)


def _assistant_blocks(message: Message) -> Any:
    request = ChatRequest("m", [Message("user", "hi"), message])
    return build(request)[2]["messages"][1]["content"]


def test_signed_reasoning_is_sent_first_in_the_assistant_turn() -> None:
    call = ToolCall("toolu_1", "Read", '{"path": "/tmp/x"}')
    message = Message(
        "assistant",
        "Reading it.",
        tool_calls=(call,),
        reasoning="Need the file.",
        reasoning_signature=THINKING_SIGNATURE,
    )
    assert _assistant_blocks(message) == [
        {"type": "thinking", "thinking": "Need the file.", "signature": THINKING_SIGNATURE},
        {"type": "text", "text": "Reading it."},
        {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "/tmp/x"}},
    ]


def test_signed_reasoning_without_tool_calls_is_still_a_block() -> None:
    message = Message("assistant", "42", reasoning="think", reasoning_signature="sig")
    assert _assistant_blocks(message) == [
        {"type": "thinking", "thinking": "think", "signature": "sig"},
        {"type": "text", "text": "42"},
    ]


def test_unsigned_reasoning_is_never_sent() -> None:
    call = ToolCall("toolu_1", "Read", "{}")
    with_calls = Message("assistant", None, tool_calls=(call,), reasoning="unsigned")
    assert _assistant_blocks(with_calls) == [
        {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}
    ]
    assert _assistant_blocks(Message("assistant", "42", reasoning="unsigned")) == "42"


# --- decoders fail only on the wire's faults ----------------------------------------------------
ANTHROPIC_EVENTS = [
    {"type": "message_start", "message": {"usage": {"input_tokens": 3}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}},
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "t"},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "s"},
    },
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": "a"}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "b"}},
    {"type": "content_block_start", "index": 2, "content_block": {"type": "server_tool_use"}},
    {
        "type": "content_block_start",
        "index": 3,
        "content_block": {"type": "tool_use", "id": "c", "name": "f", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 3,
        "delta": {"type": "input_json_delta", "partial_json": "{}"},
    },
    {"type": "content_block_stop", "index": 3},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
    {"type": "error", "error": {"type": "overloaded_error", "message": "m"}},
    {"type": "message_stop"},
]
ANTHROPIC_BODY = {
    "type": "message",
    "content": [
        {"type": "thinking", "thinking": "t", "signature": "s"},
        {"type": "text", "text": "a"},
        {"type": "tool_use", "id": "c", "name": "f", "input": {"x": 1}},
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 1, "output_tokens": 2},
}


def _sse(payload: Any) -> ServerSentEvent:
    name = payload.get("type") if isinstance(payload, dict) else None
    return ServerSentEvent(data=json.dumps(payload), event=name if isinstance(name, str) else "x")


@given(st.data())
def test_arbitrary_json_anywhere_in_any_event(data: st.DataObject) -> None:
    events = mutated_events(data, ANTHROPIC_EVENTS)
    decoder = AnthropicStreamDecoder()
    check_decoder_survives(lambda e: decoder.sse_event(_sse(e)), events, decoder.end, decoder.acc)


@given(
    st.lists(ANY_JSON, min_size=1, max_size=4),
    st.sampled_from(sorted({e["type"] for e in ANTHROPIC_EVENTS})),
)
def test_arbitrary_json_as_events(values: list[Any], name: str) -> None:
    decoder = AnthropicStreamDecoder()
    step = lambda e: decoder.sse_event(ServerSentEvent(data=json.dumps(e), event=name))  # noqa: E731
    check_decoder_survives(step, values, decoder.end, decoder.acc)


@given(st.data())
def test_arbitrary_json_anywhere_in_a_body(data: st.DataObject) -> None:
    (body,) = mutated_events(data, [ANTHROPIC_BODY])
    check_body_survives(get_dialect("anthropic"), body)


@given(ANY_JSON)
def test_arbitrary_json_as_a_body(body: Any) -> None:
    check_body_survives(get_dialect("anthropic"), body)


# --- issue 12: content parts, structured output, reasoning, options, metadata ----------------
# Expected bodies are written from Anthropic's Messages API reference (content blocks
# "image"/"document" with base64/url/text sources, output_config.format, thinking), not
# from the renderer.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
PNG_B64 = "iVBORw0KGgoAAAAAAAAAAA=="
PDF = b"%PDF-1.4 tiny"
PDF_B64 = "JVBERi0xLjQgdGlueQ=="
MODEL_ID = "claude-sonnet-4-20250514"


def request_body(**fields: Any) -> dict[str, Any]:
    fields.setdefault("messages", [Message("user", "hi")])
    request = ChatRequest(MODEL_ID, stream=False, **fields)
    built = DIALECT.build_request(Endpoint(BASE, KEY, dialect="anthropic"), request)
    body: dict[str, Any] = json.loads(built.body)
    return body


def user_blocks(*parts: Any) -> Any:
    return request_body(messages=[Message("user", list(parts))])["messages"][0]["content"]


def test_image_bytes_and_text_are_blocks() -> None:
    from libchatty.content import ImagePart, TextPart

    assert user_blocks(TextPart("What is this?"), ImagePart(data=PNG)) == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
    ]


def test_image_url_and_data_url() -> None:
    from libchatty.content import ImagePart

    assert user_blocks(ImagePart(url="https://example.com/cat.jpg")) == [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
    ]
    # A data: URL is inline: its payload is sent as is, never re-encoded.
    assert user_blocks(ImagePart(url="data:image/png;base64," + PNG_B64)) == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}
    ]


def test_documents_pdf_bytes_text_and_url() -> None:
    from libchatty.content import DocumentPart

    assert user_blocks(
        DocumentPart(data=PDF, name="report.pdf"),
        DocumentPart(data="Plain notes, déjà vu.".encode(), media_type="text/plain"),
        DocumentPart(url="https://example.com/paper.pdf"),
    ) == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64},
            "title": "report.pdf",
        },
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "Plain notes, déjà vu."},
        },
        {"type": "document", "source": {"type": "url", "url": "https://example.com/paper.pdf"}},
    ]


def test_tool_result_and_following_user_parts() -> None:
    from libchatty.content import ImagePart, TextPart

    call = ToolCall("toolu_1", "screenshot", "{}")
    body = request_body(
        messages=[
            Message("user", "look"),
            Message("assistant", None, tool_calls=[call]),
            Message("tool", [TextPart("done"), ImagePart(data=PNG)], tool_call_id="toolu_1"),
            Message("user", [TextPart("and this"), ImagePart(url="https://example.com/b.gif")]),
        ]
    )
    image = {"type": "base64", "media_type": "image/png", "data": PNG_B64}
    assert body["messages"][2] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [{"type": "text", "text": "done"}, {"type": "image", "source": image}],
            },
            {"type": "text", "text": "and this"},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/b.gif"}},
        ],
    }


@pytest.mark.parametrize(
    ("part", "message"),
    [
        (
            "audio",
            "Anthropic cannot send audio (an AudioPart in a user message); transcribe it first",
        ),
        ("bmp", "Anthropic takes JPEG, PNG, GIF or WebP images, not image/bmp (ImagePart)"),
        (
            "gs",
            "Anthropic cannot fetch an image (ImagePart) from a gs:// URL; pass the bytes "
            "(data=...) or an http(s):// URL",
        ),
        (
            "docx",
            "Anthropic takes PDF or text/plain documents inline, not application/msword "
            "(DocumentPart)",
        ),
        ("texturl", "Anthropic takes PDF documents by URL, not text/plain (DocumentPart)"),
        ("latin1", "Anthropic: a text/plain DocumentPart must hold UTF-8 text"),
    ],
)
def test_parts_anthropic_cannot_carry_are_refused(part: str, message: str) -> None:
    from libchatty.content import AudioPart, DocumentPart, ImagePart

    parts = {
        "audio": lambda: AudioPart(b"RIFF0000WAVE", "audio/wav"),
        "bmp": lambda: ImagePart(data=b"BM\x00\x00", media_type="image/bmp"),
        "gs": lambda: ImagePart(url="gs://bucket/cat.png"),
        "docx": lambda: DocumentPart(data=b"PK", media_type="application/msword"),
        "texturl": lambda: DocumentPart(url="https://example.com/a.txt", media_type="text/plain"),
        "latin1": lambda: DocumentPart(data=b"caf\xe9", media_type="text/plain"),
    }
    with pytest.raises(ValueError) as caught:
        user_blocks(parts[part]())
    assert str(caught.value) == message


def test_json_schema_is_output_config_strict_and_not() -> None:
    from libchatty.options import JSONSchema

    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    assert request_body(response_format=JSONSchema("person", schema))["output_config"] == {
        "format": {
            "type": "json_schema",
            "schema": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "additionalProperties": False,
                "required": ["name"],
            },
        }
    }
    loose = request_body(response_format=JSONSchema("person", schema, strict=False))
    assert loose["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "tools" not in loose and "tool_choice" not in loose


def test_json_mode_is_a_forced_tool() -> None:
    body = request_body(response_format="json", tools=[Tool("lookup")])
    assert body["tools"] == [
        {
            "name": "lookup",
            "description": "",
            "input_schema": {"type": "object", "properties": {}},
        },
        {
            "name": "json_answer",
            "description": "Give the answer as one JSON object.",
            "input_schema": {"type": "object"},
        },
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "json_answer"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"response_format": "json", "tool_choice": "auto"},
            "Anthropic's JSON mode (response_format='json') is a forced tool call, which "
            "excludes tool_choice and reasoning; pass a JSONSchema instead",
        ),
        (
            {"tools": [Tool("json_answer")]},
            "the tool name 'json_answer' is reserved for Anthropic JSON mode",
        ),
        ({"seed": 7}, "Anthropic has no seed option; leave ChatRequest.seed unset"),
        (
            {"n": 2},
            "Anthropic returns one answer per request: ChatRequest.n must be 1",
        ),
    ],
)
def test_request_options_anthropic_cannot_honour(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        request_body(**fields)
    assert str(caught.value) == message


def test_reasoning_is_thinking_with_a_budget() -> None:
    from libchatty.options import Reasoning

    high = request_body(reasoning=Reasoning(effort="high"))
    assert high["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert high["max_tokens"] == 24576 + 4096  # no max_tokens given: budget + default
    low = request_body(reasoning=Reasoning(effort="low", summary=True))
    assert (low["thinking"], low["max_tokens"]) == (
        {"type": "enabled", "budget_tokens": 2048},
        2048 + 4096,
    )
    default = request_body(reasoning=Reasoning())
    assert default["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    # An explicit budget wins over the effort; max_tokens one above it is enough.
    exact = request_body(reasoning=Reasoning("low", budget_tokens=5000), max_tokens=5001)
    assert (exact["thinking"], exact["max_tokens"]) == (
        {"type": "enabled", "budget_tokens": 5000},
        5001,
    )
    assert request_body(n=1)["max_tokens"] == DEFAULT_MAX_TOKENS
    assert "n" not in request_body(n=1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"max_tokens": 5000},
            "Anthropic needs max_tokens (5000) above the thinking budget (5000): raise "
            "max_tokens or lower the reasoning effort or budget_tokens",
        ),
        (
            {"temperature": 0.5},
            "Anthropic does not allow temperature with extended thinking (reasoning=...); "
            "leave ChatRequest.temperature unset",
        ),
        (
            {"tools": [Tool("f")], "tool_choice": "f"},
            "Anthropic allows only tool_choice 'auto' or 'none' with extended thinking",
        ),
        (
            {"response_format": "json"},
            "Anthropic's JSON mode (response_format='json') is a forced tool call, which "
            "excludes tool_choice and reasoning; pass a JSONSchema instead",
        ),
    ],
)
def test_reasoning_refusals(fields: dict[str, Any], message: str) -> None:
    from libchatty.options import Reasoning

    with pytest.raises(ValueError) as caught:
        request_body(reasoning=Reasoning(budget_tokens=5000), **fields)
    assert str(caught.value) == message


def test_request_headers_come_after_the_endpoints_and_replace_same_names() -> None:
    endpoint = Endpoint(BASE, KEY, dialect="anthropic", headers={"X-Team": "a"})
    request = ChatRequest(
        MODEL_ID,
        [Message("user", "hi")],
        headers={"anthropic-version": "2099-01-01", "X-Trace": "t1"},
    )
    built = DIALECT.build_request(endpoint, request)
    assert built.headers == (
        ("x-api-key", KEY),
        ("X-Team", "a"),
        ("anthropic-version", "2099-01-01"),
        ("X-Trace", "t1"),
    )


# --- response metadata ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "response_id", "model"),
    [
        (
            "anthropic/stream-text.http",
            "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK",
            "claude-3-opus-latest",
        ),
        (
            "anthropic/nonstream-text.http",
            "msg_01Hm3Yq7Vd2Lc9Xw5Rt8NbKp",
            "claude-sonnet-4-20250514",
        ),
        ("anthropic/mine-nonstream-tool-use.http", "msg_mine2", "claude-sonnet-4-20250514"),
    ],
)
def test_response_id_and_model_from_fixtures(name: str, response_id: str, model: str) -> None:
    from decoding import decode_every_way

    for how, events in decode_every_way(name, make_call):
        done = events[-1]
        assert type(done) is Done, (name, how)
        assert (done.response_id, done.model) == (response_id, model), (name, how)


def _stream(*payloads: dict[str, Any]) -> bytes:
    body = "".join(sse_frame(json.dumps(p), event=p["type"]) for p in payloads).encode()
    return random_chunked(body)


START = {
    "type": "message_start",
    "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 3}},
}
STOP = {"type": "message_stop"}


def _decoded(raw: bytes, stream: bool = True) -> list[Event]:
    from decoding import feed
    from wire import all_splittings

    reference: list[Event] | None = None
    for how, pieces in all_splittings(raw):
        events = feed(make_call(stream), pieces)
        if reference is None:
            reference = events
        assert events == reference, how
    assert reference is not None
    return reference


@pytest.mark.parametrize(
    ("message", "wanted"),
    [
        ({"usage": {}}, (None, None)),
        ({"id": None, "model": "", "usage": {}}, (None, None)),
        ({"id": "msg_9", "usage": {}}, ("msg_9", None)),
    ],
)
def test_absent_or_empty_metadata_is_none(message: dict[str, Any], wanted: Any) -> None:
    start = {"type": "message_start", "message": message}
    done = _decoded(_stream(start, STOP))[-1]
    assert type(done) is Done
    assert (done.response_id, done.model) == wanted


@pytest.mark.parametrize("key", ["id", "model"])
def test_a_non_string_id_or_model_is_a_protocol_error(key: str) -> None:
    message = {"id": "msg_1", "model": "m", "usage": {}, key: 42}
    error = _decoded(_stream({"type": "message_start", "message": message}, STOP))[-1]
    assert type(error) is Error
    assert (error.kind, error.message) == (
        "protocol",
        f"malformed response: Anthropic message {key!r} is not a string",
    )


def test_json_mode_answer_streams_as_text_not_a_tool_call() -> None:
    block = {"type": "tool_use", "id": "toolu_j", "name": "json_answer", "input": {}}
    events = _decoded(
        _stream(
            START,
            {"type": "content_block_start", "index": 0, "content_block": block},
            *(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                }
                for piece in ["", '{"na', 'me": "Zoë"', "}"]
            ),
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}},
            STOP,
        )
    )
    assert [(e.kind, e.text) for e in events if type(e) is Delta] == [
        ("text", '{"na'),
        ("text", 'me": "Zoë"'),
        ("text", "}"),
    ]
    done = events[-1]
    assert type(done) is Done
    assert (done.text, done.tool_calls, done.finish_reason) == ('{"name": "Zoë"}', (), "stop")
    assert (done.raw_finish_reason, done.response_id) == ("end_turn", "msg_1")


def test_json_mode_answer_without_fragments_and_in_a_body() -> None:
    block = {"type": "tool_use", "id": "toolu_j", "name": "json_answer", "input": {"a": [1]}}
    streamed = _decoded(
        _stream(
            START,
            {"type": "content_block_start", "index": 0, "content_block": block},
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}},
            STOP,
        )
    )
    body = {
        "id": "msg_2",
        "model": "claude-x",
        "type": "message",
        "content": [block],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    whole = DIALECT.decode_body(body)
    for events in (streamed, whole):
        done = events[-1]
        assert type(done) is Done
        assert (done.text, done.tool_calls, done.finish_reason) == ('{"a":[1]}', (), "stop")
    assert [(e.kind, e.text) for e in whole if type(e) is Delta] == [("text", '{"a":[1]}')]


# --- mutation testing (issue 16): exact messages and values --------------------------------------
def refused_event(data: Any) -> str:
    text = data if type(data) is str else json.dumps(data)
    with pytest.raises(RemoteProtocolError) as caught:
        AnthropicStreamDecoder().sse_event(sse(text))
    return str(caught.value)


def refused_body(body: Any) -> str:
    with pytest.raises(RemoteProtocolError) as caught:
        DIALECT.decode_body(body)
    return str(caught.value)


def test_stream_refusals_say_what_is_wrong() -> None:
    start = "content_block_start"
    assert refused_event({"type": "message_start", "message": 3}) == (
        "Anthropic message_start.message is not a JSON object"
    )
    assert refused_event({"type": start, "index": 0, "content_block": {"type": "tool_use"}}) == (
        "Anthropic tool_use block has no string 'name'"
    )
    for bad in ({"content_block": {"type": "text"}}, {"index": 0, "content_block": {"type": 3}}):
        assert refused_event({"type": start, **bad}) == (
            "Anthropic content_block_start lacks an index or a type"
        )
    assert refused_event({"type": start, "index": 0, "content_block": 3}) == (
        "Anthropic content_block_start.content_block is not a JSON object"
    )
    json_delta = {"type": "input_json_delta", "partial_json": "{"}
    assert refused_event({"type": "content_block_delta", "index": 5, "delta": json_delta}) == (
        "Anthropic input_json_delta for block 5 which is not a tool_use"
    )
    assert refused_event({"type": "content_block_delta", "delta": json_delta}) == (
        "Anthropic input_json_delta for block None which is not a tool_use"
    )
    for kind, key in [
        ("text_delta", "text"),
        ("thinking_delta", "thinking"),
        ("signature_delta", "signature"),
    ]:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": kind, key: 7}}
        assert refused_event(delta) == f"Anthropic {kind} has no string {key!r}"
    assert refused_event({"type": "content_block_delta", "index": 0, "delta": None}) == (
        "Anthropic content_block_delta.delta is not a JSON object"
    )


def test_body_refusals_say_what_is_wrong() -> None:
    assert refused_body(3) == "Anthropic response body is not a JSON object"
    assert refused_body({"type": "message"}) == "Anthropic response body has no content list"
    assert refused_body({"content": [3]}) == "Anthropic content block is not a JSON object"
    assert refused_body({"content": [{"type": "text"}]}) == (
        "Anthropic text block has no string 'text'"
    )
    assert refused_body({"content": [{"type": "thinking"}]}) == (
        "Anthropic thinking block has no string 'thinking'"
    )
    assert refused_body({"content": [{"type": "tool_use", "id": "t"}]}) == (
        "Anthropic tool_use block has no string 'name'"
    )
    assert refused_body({"id": 3, "content": []}) == "Anthropic message 'id' is not a string"


def test_stream_ends_and_errors_exactly() -> None:
    assert AnthropicStreamDecoder().end() == Error(
        "incomplete", "the Anthropic stream ended before message_start"
    )
    decoder = AnthropicStreamDecoder()
    decoder.sse_event(sse(json.dumps({"type": "message_start", "message": {"id": "m"}})))
    assert decoder.end() == Error("incomplete", "the Anthropic stream ended before message_stop")
    assert AnthropicStreamDecoder().sse_event(sse('{"type": "error"}', "error")) == [
        Error("provider", "Anthropic reported an error in the stream", status=200)
    ]
    assert AnthropicStreamDecoder().sse_event(sse('{"type": "error", "error": 3}', "error")) == [
        Error("provider", "Anthropic reported an error in the stream", status=200)
    ]
    for kind, wanted, retryable in [
        ("overloaded_error", "overloaded", True),
        ("api_error", "provider", True),
        ("rate_limit_error", "provider", True),
        ("timeout_error", "provider", True),
        ("invalid_request_error", "provider", False),
    ]:
        payload = {"type": "error", "error": {"type": kind, "message": "m"}}
        assert AnthropicStreamDecoder().sse_event(sse(json.dumps(payload), "error")) == [
            Error(wanted, "m", status=200, retryable=retryable, provider_type=kind)
        ]


def test_tool_use_blocks_at_the_limit_and_one_past() -> None:
    from libchatty.dialects.plumbing import MAX_TOOL_CALLS

    def opened(count: int) -> list[Event]:
        decoder = AnthropicStreamDecoder()
        out: list[Event] = []
        for i in range(count):
            block = {"type": "tool_use", "id": f"t{i}", "name": "f", "input": {}}
            start = {"type": "content_block_start", "index": i, "content_block": block}
            out += decoder.sse_event(sse(json.dumps(start)))
        return out

    events = opened(MAX_TOOL_CALLS)
    assert events[-1] == Delta("", "tool_call", MAX_TOOL_CALLS - 1, f"t{MAX_TOOL_CALLS - 1}", "f")
    with pytest.raises(RemoteProtocolError) as caught:
        opened(MAX_TOOL_CALLS + 1)
    assert str(caught.value) == f"more than {MAX_TOOL_CALLS} tool calls"


def run_events(*payloads: dict[str, Any]) -> list[Event]:
    decoder = AnthropicStreamDecoder()
    out: list[Event] = []
    for payload in payloads:
        out += decoder.sse_event(sse(json.dumps(payload)))
    return out


def block_start(index: int, **block: Any) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


MESSAGE_STOP: dict[str, Any] = {"type": "message_stop"}


def test_start_blocks_carry_text_thinking_and_signature() -> None:
    events = run_events(
        block_start(0, type="thinking", thinking="t", signature="s"),
        block_start(1, type="thinking", thinking="", signature=5),
        block_start(2, type="text", text="Hi"),
        block_start(3, type="text", text=""),
        MESSAGE_STOP,
    )
    assert events[:-1] == [Delta("t", "reasoning"), Delta("Hi")]
    done = events[-1]
    assert type(done) is Done
    assert (done.text, done.reasoning, done.reasoning_signature) == ("Hi", "t", "s")


def test_start_inputs_null_or_absent_are_empty_objects() -> None:
    events = run_events(
        block_start(0, type="tool_use", id=5, name="f", input=None),
        {"type": "content_block_stop", "index": 0},
        block_start(1, type="tool_use", id="t2", name="g"),
        {"type": "content_block_stop", "index": 1},
        MESSAGE_STOP,
    )
    assert events[:2] == [
        Delta("", "tool_call", 0, None, "f"),
        Delta("", "tool_call", 1, "t2", "g"),
    ]
    done = events[-1]
    assert type(done) is Done
    assert done.tool_calls == (ToolCall(None, "f", "{}"), ToolCall("t2", "g", "{}"))
    answer = run_events(
        block_start(0, type="tool_use", id="j", name="json_answer"),
        {"type": "content_block_stop", "index": 0},
    )
    assert answer == [Delta("{}")]


def test_fast_path_only_reads_text_deltas_of_content_blocks() -> None:
    odd_message_delta = {"type": "message_delta", "delta": {"type": "text_delta", "text": "x"}}
    assert run_events(odd_message_delta) == []
    thinking = {"type": "thinking_delta", "thinking": "t", "text": "x"}
    assert run_events({"type": "content_block_delta", "index": 0, "delta": thinking}) == [
        Delta("t", "reasoning")
    ]


def test_partial_json_refusals_exactly() -> None:
    not_a_string = {"type": "input_json_delta", "partial_json": 3}
    for start in (
        block_start(0, type="tool_use", id="t", name="f"),
        block_start(0, type="tool_use", id="j", name="json_answer"),
    ):
        decoder = AnthropicStreamDecoder()
        decoder.sse_event(sse(json.dumps(start)))
        with pytest.raises(RemoteProtocolError) as caught:
            decoder.sse_event(
                sse(json.dumps({"type": "content_block_delta", "index": 0, "delta": not_a_string}))
            )
        assert str(caught.value) == "Anthropic input_json_delta has no string 'partial_json'"
    assert refused_event("not json") == "Anthropic event 'message' carries data that is not JSON"
    assert refused_event("[1]") == "Anthropic event 'message' is not a JSON object"


def test_body_blocks_at_their_edges() -> None:
    content = [
        {"type": "thinking", "thinking": "t", "signature": 5},
        {"type": "tool_use", "id": 5, "name": "f"},
        {"type": "tool_use", "id": "t2", "name": "g", "input": {"a": 1}},
    ]
    events = DIALECT.decode_body({"content": content, "stop_reason": "tool_use"})
    assert events[:-1] == [
        Delta("t", "reasoning"),
        Delta("{}", "tool_call", 0, None, "f"),
        Delta('{"a":1}', "tool_call", 1, "t2", "g"),
    ]
    done = events[-1]
    assert type(done) is Done and done.reasoning_signature is None
    answer = DIALECT.decode_body(
        {"content": [{"type": "tool_use", "id": "j", "name": "json_answer"}]}
    )
    assert answer[0] == Delta("{}")


def test_request_parts_and_turns_at_their_edges() -> None:
    from libchatty.content import DocumentPart, ImagePart, TextPart
    from libchatty.options import Reasoning

    def refusal(**fields: Any) -> str:
        with pytest.raises(ValueError) as caught:
            request_body(**fields)
        return str(caught.value)

    tail = "pass the bytes (data=...) or an http(s):// URL"
    image = ImagePart(url="gs://a:b/x.png")
    assert refusal(messages=[Message("user", [image])]) == (
        f"Anthropic cannot fetch an image (ImagePart) from a gs:// URL; {tail}"
    )
    pdf = DocumentPart(url="s3://b/x.pdf", media_type="application/pdf")
    assert refusal(messages=[Message("user", [pdf])]) == (
        f"Anthropic cannot fetch a document (DocumentPart) from a s3:// URL; {tail}"
    )
    system = Message("system", [ImagePart(url="https://h/x.png")])
    assert refusal(messages=[system]) == (
        "Anthropic messages carry text only here; an ImagePart in a system message cannot be sent"
    )
    bad_arguments = Message("assistant", None, tool_calls=(ToolCall("a", "f", "{x"),))
    assert refusal(messages=[Message("user", "q"), bad_arguments]) == (
        "the arguments of tool call 'f' are not valid JSON (Anthropic needs an object)"
    )
    assert user_blocks(TextPart(""), TextPart("a"), ImagePart(url="http://h/x.png")) == [
        {"type": "text", "text": "a"},
        {"type": "image", "source": {"type": "url", "url": "http://h/x.png"}},
    ]
    signed = Message("assistant", "ok", reasoning_signature="sig")
    assert request_body(messages=[Message("user", "q"), signed])["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "", "signature": "sig"},
            {"type": "text", "text": "ok"},
        ],
    }
    # a tool result after the user turn that closed the previous results opens a new turn
    calls = (ToolCall("a", "f", "{}"), ToolCall("b", "g", "{}"))
    turns = [
        Message("user", "q"),
        Message("assistant", None, tool_calls=calls),
        Message("tool", "1", tool_call_id="a"),
        Message("user", "x"),
        Message("tool", "2", tool_call_id="b"),
    ]
    assert request_body(messages=turns)["messages"][2:] == [
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "a", "content": "1"},
                {"type": "text", "text": "x"},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "b", "content": "2"}]},
    ]
    for word in ("auto", "none"):
        body = request_body(
            tools=[Tool("f")], tool_choice=word, reasoning=Reasoning(budget_tokens=2000)
        )
        assert body["tool_choice"] == {"type": word}
    assert request_body(response_format="json")["tools"] == [
        {
            "name": "json_answer",
            "description": "Give the answer as one JSON object.",
            "input_schema": {"type": "object"},
        }
    ]


def test_inputs_nested_too_deeply_name_what_and_who() -> None:
    # Built in Python (no parser would hand it over): deeper than json.dumps can encode.
    deep: Any = {}
    for _ in range(100_000):
        deep = {"a": deep}
    tool = {"type": "tool_use", "id": "t", "name": "f", "input": deep}
    answer = {"type": "tool_use", "id": "j", "name": "json_answer", "input": deep}
    for block, what in [(tool, "tool_use.input"), (answer, "JSON answer")]:
        assert refused_body({"content": [block]}) == f"Anthropic {what} is nested too deeply"
    for block, what in [(tool, "tool input"), (answer, "JSON answer")]:
        decoder = AnthropicStreamDecoder()
        decoder._block_start({"index": 0, "content_block": block})
        with pytest.raises(RemoteProtocolError) as caught:
            decoder._block_stop({"index": 0})
        assert str(caught.value) == f"Anthropic {what} is nested too deeply"
