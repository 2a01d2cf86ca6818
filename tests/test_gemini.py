"""The Gemini dialect: every fixture through the Call (whole, byte by byte, at random
splits), a hypothesis-generated stream written by an encoder in this file (not the
dialect's renderer) with random SSE framing and Google's escapes, render round trips,
malformed input, and request building."""

from __future__ import annotations

import json
import re
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
    check_like_fixture,
    check_shape,
    decode_every_way,
    every_error_status,
    feed,
    mutated_events,
    summary,
    wanted,
)
from hypothesis import given
from hypothesis import strategies as st
from wire import (
    all_splittings,
    fixture,
    fixture_names,
    parse_request,
    random_chunked,
    random_splits,
    sized_response,
    sse_frame,
)

from libchatty.accumulate import normalize_finish_reason
from libchatty.call import Call
from libchatty.dialects import get_dialect
from libchatty.dialects.base import synthetic_call_id
from libchatty.dialects.gemini import GeminiStreamDecoder
from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done, Error, ToolCall, Usage
from libchatty.exceptions import RemoteProtocolError
from libchatty.replay import Script, get_renderer
from libchatty.request import ChatRequest, Message, Tool
from libchatty.sse import ServerSentEvent

DIALECT = get_dialect("gemini")
RENDERER = get_renderer("gemini")
BASE = "https://generativelanguage.googleapis.com/v1beta"
KEY = "AIzaEXAMPLE-not-a-real-key"
# Gemini sends each function call whole, in one part: one delta per call, in order. Text
# deltas carry the candidate index.
SHAPE: dict[str, Any] = {"several_choices": True, "arguments": "whole"}


def make_call(stream: bool = True) -> Call:
    chat = ChatRequest("gemini-2.5-flash", [Message("user", "hi")], stream=stream)
    return Call(Endpoint(BASE, KEY, dialect="gemini"), chat)


# --- every shared fixture, whole, byte by byte and at random splits ---------------------------
SHARED = [n for n in fixture_names("gemini") if not n.startswith("gemini/mine-")]


@pytest.mark.parametrize("name", SHARED)
def test_fixture(name: str) -> None:
    # functionCall.args is an object on the wire: arguments are compared parsed.
    # expected.json records Gemini's calls without ids, as on the wire; libchatty gives
    # each one a synthetic id (SYNTHETIC_IDS pins them).
    want = wanted(name, exact_arguments=False)
    for call, call_id in zip(want["tool_calls"], SYNTHETIC_IDS.get(name, ()), strict=True):
        assert call["id"] is None
        call["id"] = call_id
    for how, events in decode_every_way(name, make_call):
        assert summary(events, exact_arguments=False, **SHAPE) == want, (name, how)


#: The synthetic ids of the fixtures' tool calls: sha256 of responseId, index, name and
#: arguments. Pinned: the same bytes must always give the same ids.
SYNTHETIC_IDS: dict[str, tuple[str, ...]] = {
    "gemini/stream-function-call.http": ("call_63f80b5fadcef27f4d68214b",),
    "gemini/mine-nonstream-function-call.http": ("call_080dcd89adefd6af52363514",),
    "gemini/mine-stream-parallel-calls.http": (
        "call_a4e616b3d1781496397fc56e",
        "call_45c1e17fe09f233156922546",
    ),
}


def test_thinking_tokens_count_as_output_and_as_reasoning() -> None:
    last = feed(make_call(), [fixture("gemini/stream-thinking.http")])[-1]
    assert isinstance(last, Done)
    assert last.usage == Usage(17, 211, 228, 187, None)


def test_function_call_has_no_id_and_finishes_as_tool_calls() -> None:
    events = feed(make_call(), [fixture("gemini/stream-function-call.http")])
    (delta,) = [e for e in events if isinstance(e, Delta)]
    assert (delta.kind, delta.index, delta.tool_call_id) == (
        "tool_call",
        0,
        "call_63f80b5fadcef27f4d68214b",
    )
    assert delta.tool_name == "get_current_weather"
    last = events[-1]
    assert isinstance(last, Done)
    assert (last.finish_reason, last.raw_finish_reason) == ("tool_calls", "STOP")


def test_retry_delay_from_the_body() -> None:
    last = feed(make_call(), [fixture("gemini/error-429.http")])[-1]
    assert isinstance(last, Error)
    assert (last.kind, last.retry_after, last.retryable) == ("rate_limit", 39.0, True)


# --- fixtures of our own: what the shared set misses --------------------------------------
MINE: dict[str, dict[str, Any]] = {
    # Two chunks, then the body ends without a finishReason.
    "gemini/mine-stream-cut.http": {
        "kind": "incomplete",
        "partial": "Rayleigh scattering <makes> it",
    },
    # An error object inside the 200 stream after some text.
    "gemini/mine-stream-error.http": {
        "kind": "provider",
        "status": 200,
        "provider_type": "INTERNAL",
        "retryable": True,
        "partial": "Partial answer",
    },
    # The prompt was blocked: no candidates at all.
    "gemini/mine-stream-blocked.http": {
        "finish_reason": "content_filter",
        "raw_finish_reason": "PROHIBITED_CONTENT",
        "text": "",
        "usage": Usage(9, None, 9, None, None),
    },
    # Thought summary, text, then two calls in one part list; usage grows chunk by chunk.
    "gemini/mine-stream-parallel-calls.http": {
        "text": "I'll check both.",
        "reasoning": "Comparing both cities.",
        "tool_calls": (
            # Only the first call is signed: its thoughtSignature, split across chunks and
            # written with escaped padding, is kept whole; the second has none.
            ToolCall("call_a4e616b3d1781496397fc56e", "get_weather", '{"city":"Paris"}', "c2ln=="),
            ToolCall(
                "call_45c1e17fe09f233156922546", "get_weather", '{"city":"Oslo","units":["c"]}'
            ),
        ),
        "finish_reason": "tool_calls",
        "usage": Usage(30, 32, 62, 12, None),
    },
    "gemini/mine-nonstream-function-call.http": {
        "reasoning": "Plan: call it.",
        "tool_calls": (ToolCall("call_080dcd89adefd6af52363514", "lookup", '{"q":"a&b"}'),),
        "finish_reason": "tool_calls",
        "usage": Usage(8, 12, 20, 7, None),
    },
    # streamGenerateContent without alt=sse: one JSON array, decoded as a whole body.
    "gemini/mine-stream-json-array.http": {
        "text": "Hello world",
        "finish_reason": "length",
        "usage": Usage(4, 2, 6, None, None),
    },
}


@pytest.mark.parametrize("name", sorted(MINE))
def test_my_fixture(name: str) -> None:
    assert name in fixture_names("gemini")
    check_fields(name, make_call, MINE[name], **SHAPE)


# --- a stream written here, with random framing --------------------------------------------
part_specs = st.one_of(
    st.tuples(st.just("text"), st.text(max_size=12)),
    st.tuples(st.just("thought"), st.text(max_size=12)),
    st.tuples(
        st.just("call"),
        st.sampled_from(["get_weather", "lookup"]),
        st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3),
    ),
)
usage_specs = st.none() | st.fixed_dictionaries(
    {"promptTokenCount": st.integers(0, 10**6)},
    optional={
        "candidatesTokenCount": st.integers(0, 10**6),
        "thoughtsTokenCount": st.integers(0, 10**6),
        "totalTokenCount": st.integers(0, 10**7),
        "cachedContentTokenCount": st.integers(0, 10**6),
    },
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str]:
    """GenerateContentResponse chunks, and how the stream ends: stop, cut or error."""
    chunks: list[dict[str, Any]] = []
    for spec in draw(st.lists(st.lists(part_specs, max_size=3), min_size=1, max_size=5)):
        parts: list[dict[str, Any]] = []
        for kind, *rest in spec:
            if kind == "call":
                parts.append({"functionCall": {"name": rest[0], "args": rest[1]}})
            else:
                parts.append({"text": rest[0], **({"thought": True} if kind == "thought" else {})})
            if draw(st.integers(0, 5)) == 0:
                parts[-1]["thoughtSignature"] = "c2lnbmF0dXJl=="
        chunk: dict[str, Any] = {"candidates": [{"content": {"parts": parts, "role": "model"}}]}
        if draw(st.booleans()):
            chunk["candidates"][0]["index"] = 0
        usage = draw(usage_specs)
        if usage is not None:
            chunk["usageMetadata"] = usage
        chunks.append(chunk)
    ending = draw(st.sampled_from(["stop", "stop", "cut", "error"]))
    if ending == "stop":
        reason = draw(st.sampled_from(["STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER"]))
        chunks[-1]["candidates"][0]["finishReason"] = reason
    elif ending == "error":
        status = draw(
            st.sampled_from([(500, "INTERNAL"), (503, "UNAVAILABLE"), (400, "INVALID_ARGUMENT")])
        )
        chunks.append({"error": {"code": status[0], "message": "boom", "status": status[1]}})
    return chunks, ending


@st.composite
def framings(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "eol": draw(st.sampled_from(["\r\n", "\r\n", "\n", "\r"])),
        "space": draw(st.booleans()),
        "separators": draw(st.sampled_from([(",", ": "), (",", ":"), (", ", ": ")])),
        "ascii": draw(st.booleans()),
        "google_escapes": draw(st.booleans()),
    }


def encode(chunks: list[dict[str, Any]], framing: dict[str, Any]) -> bytes:
    out = []
    for chunk in chunks:
        text = json.dumps(chunk, separators=framing["separators"], ensure_ascii=framing["ascii"])
        if framing["google_escapes"]:
            # Only ever inside strings in JSON text, so a plain replace is exact.
            for char in "'=<>&":
                text = text.replace(char, f"\\u{ord(char):04x}")
        out.append(sse_frame(text, eol=framing["eol"], data_space=framing["space"]))
    return "".join(out).encode()


def model_of(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    text, reasoning, calls, usage, finish = [], [], [], None, None
    for chunk in chunks:
        if "error" in chunk:
            continue
        candidate = chunk["candidates"][0]
        for part in candidate["content"]["parts"]:
            if "functionCall" in part:
                call = part["functionCall"]
                # A call's thoughtSignature is kept with it; a text part's is dropped.
                calls.append((call["name"], call["args"], part.get("thoughtSignature")))
            elif part.get("thought"):
                reasoning.append(part["text"])
            else:
                text.append(part["text"])
        finish = candidate.get("finishReason", finish)
        usage = chunk.get("usageMetadata", usage)
    return {
        "text": "".join(text),
        "reasoning": "".join(reasoning),
        "calls": calls,
        "usage": usage,
        "finish": finish,
    }


def usage_of(metadata: dict[str, int] | None) -> Usage | None:
    if metadata is None:
        return None
    candidates = metadata.get("candidatesTokenCount")
    thoughts = metadata.get("thoughtsTokenCount")
    output = (
        None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    )
    prompt = metadata["promptTokenCount"]
    total = metadata.get("totalTokenCount")
    if total is None and output is not None:
        total = prompt + output
    return Usage(prompt, output, total, thoughts, metadata.get("cachedContentTokenCount"))


@given(streams(), framings(), st.integers(0, 2**32))
def test_generated_stream(
    stream: tuple[list[dict[str, Any]], str], framing: dict[str, Any], seed: int
) -> None:
    chunks, ending = stream
    want = model_of(chunks)
    events = feed(make_call(), random_splits(random_chunked(encode(chunks, framing)), seed, 97))
    last = check_shape(events, **SHAPE)
    if ending == "stop":
        assert isinstance(last, Done)
        assert (last.text, last.reasoning) == (want["text"], want["reasoning"])
        assert [(c.id, c.name, json.loads(c.arguments), c.signature) for c in last.tool_calls] == [
            (synthetic_id("", i, name, json.dumps(args)), name, args, signature)
            for i, (name, args, signature) in enumerate(want["calls"])
        ]
        # Each call's delta carries the id that Done has.
        assert [
            e.tool_call_id for e in events if isinstance(e, Delta) and e.kind == "tool_call"
        ] == [c.id for c in last.tool_calls]
        assert last.usage == usage_of(want["usage"])
        assert last.raw_finish_reason == want["finish"]
        assert last.finish_reason == normalize_finish_reason(want["finish"], bool(want["calls"]))
    else:
        assert isinstance(last, Error)
        assert last.partial == want["text"]
        if ending == "cut":
            assert last.kind == "incomplete"
        else:
            error = chunks[-1]["error"]
            kind = "overloaded" if error["status"] == "UNAVAILABLE" else "provider"
            assert (last.kind, last.status, last.message) == (kind, 200, "boom")
            assert last.provider_type == error["status"]
            assert last.retryable == (error["status"] != "INVALID_ARGUMENT")


# --- the renderers, decoded back -------------------------------------------------------------
@st.composite
def scripts(draw: st.DrawFn) -> Script:
    calls = draw(
        st.lists(
            st.builds(
                lambda name, args: ToolCall(None, name, json.dumps(args)),
                st.sampled_from(["get_weather", "lookup"]),
                st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3),
            ),
            max_size=3,
        )
    )

    @st.composite
    def usages(draw: st.DrawFn) -> Usage:
        prompt, output = draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6))
        reasoning = draw(st.none() | st.integers(0, output))
        cached = draw(st.none() | st.integers(0, prompt))
        return Usage(prompt, output, prompt + output, reasoning, cached)

    return Script(
        text=draw(st.text(max_size=40)),
        reasoning=draw(st.text(max_size=40)),
        tool_calls=tuple(calls),
        finish_reason=draw(st.sampled_from(["stop", "length", "tool_calls", "content_filter"])),
        usage=draw(st.none() | usages()),
    )


def synthetic_id(response_id: str, index: int, name: str, arguments: str) -> str:
    """The id libchatty gives a Gemini call that has none (arguments as compact JSON)."""
    compact = json.dumps(json.loads(arguments or "{}"), separators=(",", ":"), ensure_ascii=False)
    return synthetic_call_id(response_id, index, name, compact)


def check_script(script: Script, last: Done | Error) -> None:
    assert isinstance(last, Done)
    assert (last.text, last.reasoning) == (script.text, script.reasoning)
    # The rendering sends no ids (as Gemini): each call gets its synthetic id.
    assert [(c.id, c.name, json.loads(c.arguments)) for c in last.tool_calls] == [
        (synthetic_id(script.response_id, i, c.name, c.arguments), c.name, json.loads(c.arguments))
        for i, c in enumerate(script.tool_calls)
    ]
    assert last.usage == script.usage
    assert last.finish_reason == normalize_finish_reason(
        "stop" if script.finish_reason == "tool_calls" else script.finish_reason,
        bool(script.tool_calls),
    )


@given(scripts(), st.integers(0, 2**32))
def test_render_stream_round_trip(script: Script, seed: int) -> None:
    wire = RENDERER.render_stream(script)
    assert all(item.startswith(b"data: ") and item.endswith(b"\r\n\r\n") for item in wire)
    events = feed(make_call(), random_splits(random_chunked(b"".join(wire)), seed))
    check_script(script, check_shape(events, **SHAPE))


@given(scripts())
def test_render_body_round_trip(script: Script) -> None:
    body = random_chunked(RENDERER.render_body(script), content_type="application/json")
    check_script(script, check_shape(feed(make_call(stream=False), [body]), **SHAPE))


@every_error_status
def test_render_error_round_trip(status: int, kind: str) -> None:
    body = random_chunked(RENDERER.render_error(status, "nope"), status, "application/json")
    check_error_event(feed(make_call(), [body]), kind, status, "nope")


def test_render_stream_error_keeps_the_partial_text() -> None:
    wire = RENDERER.render_stream(Script(text="Hello there friend"))
    body = b"".join(wire[:2]) + RENDERER.render_stream_error("An internal error has occurred.")
    last = check_shape(feed(make_call(), [random_chunked(body)]), **SHAPE)
    assert isinstance(last, Error)
    assert (last.kind, last.status, last.retryable) == ("provider", 200, True)
    assert last.partial == "Hello there"


def test_matches_and_detects_stream() -> None:
    stream = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    with_key = stream + "&key=" + KEY
    plain = "/v1beta/models/gemini-2.5-flash:generateContent"
    assert RENDERER.matches("POST", stream) and RENDERER.matches("POST", with_key)
    assert RENDERER.matches("POST", plain)
    assert not RENDERER.matches("GET", stream)
    assert not RENDERER.matches("POST", "/v1/chat/completions")
    assert RENDERER.is_stream_request(with_key, {}) and not RENDERER.is_stream_request(plain, {})


# --- malformed and unusual input ---------------------------------------------------------------
def sse(value: Any) -> ServerSentEvent:
    return ServerSentEvent(data=value if isinstance(value, str) else json.dumps(value))


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[" * 100_000,
        [1, 2],
        {"candidates": {"0": {}}},
        {"candidates": [3]},
        {"candidates": [{"content": {"parts": "text"}}]},
        {"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]},
        {"candidates": [{"index": 99, "content": {"parts": []}}]},
    ],
)
def test_malformed_chunks_raise_remote_protocol_error(data: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        GeminiStreamDecoder().sse_event(sse(data))


def test_deeply_nested_args_are_a_protocol_error_not_a_crash() -> None:
    deep = '{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":'
    deep += '{"a":' * 3000 + "1" + "}" * 3000 + "}}]}}]}"
    with pytest.raises(RemoteProtocolError):
        GeminiStreamDecoder().sse_event(sse(deep))


def test_malformed_chunk_through_the_call_keeps_the_partial_text() -> None:
    body = RENDERER.render_stream(Script(text="abc def ghi"))[0] + b"data: {oops\r\n\r\n"
    last = feed(make_call(), [random_chunked(body)])[-1]
    assert isinstance(last, Error)
    assert (last.kind, last.partial) == ("protocol", "abc")


def test_other_candidates_and_non_text_parts() -> None:
    decoder = GeminiStreamDecoder()
    chunk = {
        "candidates": [
            {"index": 0, "content": {"parts": [{"text": "A"}, {"inlineData": {"data": "x"}}]}},
            {"index": 1, "content": {"parts": [{"text": "B"}]}, "finishReason": "STOP"},
        ]
    }
    events = decoder.sse_event(sse(chunk))
    assert [(e.text, e.index) for e in events if isinstance(e, Delta)] == [("A", 0), ("B", 1)]
    chunk = {
        "candidates": [
            {"index": 0, "content": {"parts": [{"text": "!"}]}, "finishReason": "MAX_TOKENS"}
        ]
    }
    decoder.sse_event(sse(chunk))
    last = decoder.end()
    assert isinstance(last, Done)
    assert (last.text, last.choices, last.raw_finish_reason) == ("A!", ("A!", "B"), "MAX_TOKENS")


def test_safety_stop_mid_answer_is_a_content_filter_done() -> None:
    decoder = GeminiStreamDecoder()
    decoder.sse_event(sse({"candidates": [{"content": {"parts": [{"text": "Once"}]}}]}))
    decoder.sse_event(sse({"candidates": [{"content": {"parts": []}, "finishReason": "SAFETY"}]}))
    last = decoder.end()
    assert isinstance(last, Done)
    assert (last.text, last.finish_reason, last.raw_finish_reason) == (
        "Once",
        "content_filter",
        "SAFETY",
    )


def test_overloaded_error_in_the_stream() -> None:
    decoder = GeminiStreamDecoder()
    (last,) = decoder.sse_event(
        sse({"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}})
    )
    assert isinstance(last, Error)
    assert (last.kind, last.status, last.retryable, last.provider_type) == (
        "overloaded",
        200,
        True,
        "UNAVAILABLE",
    )


def test_body_error_and_empty_body() -> None:
    (last,) = DIALECT.decode_body(
        {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}
    )
    assert isinstance(last, Error) and (last.kind, last.retryable) == ("provider", False)
    (last,) = DIALECT.decode_body({"candidates": [{"content": {"parts": [], "role": "model"}}]})
    assert isinstance(last, Done) and last.finish_reason is None


# --- request building ------------------------------------------------------------------------
def build(
    request: ChatRequest, base: str = BASE, **endpoint: Any
) -> tuple[str, dict[str, str], Any]:
    spec = DIALECT.build_request(
        Endpoint(base, endpoint.pop("key", KEY), dialect="gemini", **endpoint), request
    )
    assert spec.method == "POST"
    return spec.target, dict(spec.headers), json.loads(spec.body)


def test_request_matches_the_fixture() -> None:
    request = ChatRequest("gemini-2.5-flash", SKY, max_tokens=1024)
    call = Call(Endpoint(BASE, KEY, dialect="gemini"), request)
    headers = check_like_fixture(call, "request/gemini.http", ("x-goog-api-key",))
    assert "authorization" not in headers


def test_key_in_query_fixture_has_the_same_body_but_we_keep_keys_out_of_urls() -> None:
    want_head, _, want_body = parse_request(fixture("request/gemini-key-in-query.http"))
    target, _, body = build(ChatRequest("gemini-2.5-flash", SKY, max_tokens=1024))
    assert body == want_body
    assert want_head.target.decode().startswith(target + "&key=")
    assert KEY not in target


@pytest.mark.parametrize(
    ("base", "model", "stream", "target"),
    [
        (BASE, "gemini-2.5-flash", False, "/v1beta/models/gemini-2.5-flash:generateContent"),
        (
            "https://generativelanguage.googleapis.com",
            "gemini-2.5-flash",
            True,
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        ),
        (
            "https://gw.example/v1",
            "models/gemini-2.5-pro",
            False,
            "/v1/models/gemini-2.5-pro:generateContent",
        ),
        (BASE, "tunedModels/my-model-1", False, "/v1beta/tunedModels/my-model-1:generateContent"),
        (BASE, "odd name?x", False, "/v1beta/models/odd%20name%3Fx:generateContent"),
    ],
)
def test_targets(base: str, model: str, stream: bool, target: str) -> None:
    assert build(ChatRequest(model, [Message("user", "hi")], stream=stream), base)[0] == target


def test_headers() -> None:
    request = ChatRequest("m", [Message("user", "hi")])
    assert build(request)[1] == {"x-goog-api-key": KEY}
    assert build(request, key=None)[1] == {}
    headers = build(request, headers={"X-Goog-Api-Key": "other", "x-goog-user-project": "p"})[1]
    assert headers == {"X-Goog-Api-Key": "other", "x-goog-user-project": "p"}


def test_generation_config_tools_and_extra() -> None:
    weather = Tool(
        "get_weather",
        "Weather now",
        {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "additionalProperties": False,
        },
    )
    request = ChatRequest(
        "m",
        [Message("user", "hi")],
        temperature=0.2,
        top_p=0.8,
        max_tokens=55,
        stop="END",
        tools=[weather, Tool("now", "The time")],
        tool_choice="auto",
        extra={
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
        },
    )
    _, _, body = build(request)
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.8,
        "maxOutputTokens": 55,
        "stopSequences": ["END"],
    }
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather now",
                    "parametersJsonSchema": dict(weather.parameters),
                },
                {"name": "now", "description": "The time"},
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assert body["safetySettings"][0]["threshold"] == "BLOCK_NONE"
    assert "systemInstruction" not in body


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ("get_weather", {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
    ],
)
def test_tool_choice(choice: str, config: dict[str, Any]) -> None:
    request = ChatRequest(
        "m", [Message("user", "hi")], tools=[Tool("get_weather")], tool_choice=choice
    )
    assert build(request)[2]["toolConfig"] == {"functionCallingConfig": config}


def test_tool_loop_contents() -> None:
    calls = (
        ToolCall(None, "get_weather", '{"city": "Paris"}'),
        ToolCall("call_7", "get_time", ""),
    )
    request = ChatRequest(
        "m",
        [
            Message("system", "Be brief."),
            Message("user", "Weather and time?"),
            Message("assistant", None, tool_calls=calls),
            Message("tool", '{"temp": 18}', tool_call_id="get_weather"),
            Message("tool", "12:00", tool_call_id="call_7"),
            Message("user", "Thanks."),
            Message("assistant", "You are welcome."),
            Message("tool", "[1, 2]", tool_call_id="x", name="lookup"),
        ],
    )
    _, _, body = build(request)
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather and time?"}]},
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}},
                {"functionResponse": {"name": "get_time", "response": {"result": "12:00"}}},
                {"text": "Thanks."},
            ],
        },
        {"role": "model", "parts": [{"text": "You are welcome."}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "lookup", "response": {"result": [1, 2]}}}],
        },
    ]


def test_unsendable_tool_arguments_raise_value_error() -> None:
    call = ToolCall(None, "f", "[1]")
    request = ChatRequest(
        "m", [Message("user", "hi"), Message("assistant", None, tool_calls=(call,))]
    )
    with pytest.raises(ValueError, match="not a JSON object") as info:
        build(request)
    assert KEY not in str(info.value)


@pytest.mark.parametrize(
    ("model", "signed"),
    [
        ("gemini-3-pro-preview", True),
        ("gemini-3", True),
        ("models/gemini-3.1-flash", True),
        ("gemini-2.5-flash", False),
        ("gemma-3-27b-it", False),
    ],
)
def test_replayed_calls_carry_the_signature_sentinel_for_gemini_3(model: str, signed: bool) -> None:
    call = ToolCall(None, "f", "{}")
    request = ChatRequest(
        model,
        [Message("user", "hi"), Message("assistant", None, tool_calls=(call,))],
    )
    (part,) = build(request)[2]["contents"][1]["parts"]
    assert part.get("thoughtSignature") == ("skip_thought_signature_validator" if signed else None)


# --- thought signatures: kept on their calls, sent back unchanged --------------------------
# The signature stream-function-call.http carries (its "=" padding escaped as \u003d on the
# wire). stream-thinking.http carries none.
FUNCTION_CALL_SIGNATURE = (
    "CiQB0e2KbLZeWcM91NXqA95XQvY3K+GBsQs4coS26beDMayaNgRqLo42jUI6vPCUKy/6XFlHIm/Hn6WpMFqcGltwdtDI"
    "N+gxCYcPcVLJKlUVFQk3nrH0TNS1mWiRzjPMU=="
)


def test_function_call_signature_is_kept_exactly_in_every_splitting() -> None:
    want = ToolCall(
        "call_63f80b5fadcef27f4d68214b",
        "get_current_weather",
        '{"location":"Boston, MA","unit":"fahrenheit"}',
        FUNCTION_CALL_SIGNATURE,
    )
    check_fields("gemini/stream-function-call.http", make_call, {"tool_calls": (want,)})


def test_thinking_fixture_has_no_signature() -> None:
    last = feed(make_call(), [fixture("gemini/stream-thinking.http")])[-1]
    assert isinstance(last, Done)
    assert last.tool_calls == () and last.reasoning_signature is None


def test_a_text_parts_signature_is_dropped() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "Sure.", "thoughtSignature": "dGV4dA=="},
                        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "Y2FsbA=="},
                    ]
                },
                "finishReason": "STOP",
            }
        ]
    }
    events = DIALECT.decode_body(body)
    last = events[-1]
    assert isinstance(last, Done)
    assert last.text == "Sure." and last.reasoning_signature is None
    assert last.tool_calls == (ToolCall(synthetic_id("", 0, "f", "{}"), "f", "{}", "Y2FsbA=="),)
    assert not any(isinstance(e, Delta) and "dGV4dA" in e.text for e in events)


def _replayed_parts(model: str, *calls: ToolCall) -> Any:
    request = ChatRequest(model, [Message("user", "hi"), Message("assistant", None, calls)])
    return build(request)[2]["contents"][1]["parts"]


@pytest.mark.parametrize("model", ["gemini-3-pro-preview", "gemini-2.5-flash", "gemma-3-27b-it"])
def test_a_real_signature_is_replayed_unchanged_on_any_model(model: str) -> None:
    signed = ToolCall(None, "f", '{"a": 1}', FUNCTION_CALL_SIGNATURE)
    unsigned = ToolCall(None, "g", "{}")
    first, second = _replayed_parts(model, signed, unsigned)
    assert first == {
        "functionCall": {"name": "f", "args": {"a": 1}},
        "thoughtSignature": FUNCTION_CALL_SIGNATURE,
    }
    # The documented placeholder only where a signature is missing, and only where needed.
    placeholder = "skip_thought_signature_validator" if model.startswith("gemini-3") else None
    assert second.get("thoughtSignature") == placeholder


# --- every tool call has an id (issue 9, point 10a) --------------------------------------------
def _call_response(call: dict[str, Any], response_id: str = "r-1") -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"parts": [{"functionCall": call}]}, "finishReason": "STOP", "index": 0}
        ],
        "responseId": response_id,
    }


def test_a_function_call_id_from_gemini_is_kept() -> None:
    events = DIALECT.decode_body(_call_response({"id": "fc-7", "name": "f", "args": {"a": 1}}))
    assert events[0] == Delta('{"a":1}', "tool_call", 0, "fc-7", "f")
    last = events[-1]
    assert isinstance(last, Done) and last.tool_calls == (ToolCall("fc-7", "f", '{"a":1}'),)


def test_synthetic_ids_are_pinned_and_differ_per_response_and_index() -> None:
    def ids(response: dict[str, Any]) -> tuple[str | None, ...]:
        last = DIALECT.decode_body(response)[-1]
        assert isinstance(last, Done)
        return tuple(c.id for c in last.tool_calls)

    call = {"name": "f", "args": {"a": 1}}
    first = ids(_call_response(call))
    assert first == ("call_29b91649e3c80ecdb2f46216",)
    assert first == ids(_call_response(call))  # deterministic
    assert first != ids(_call_response(call, "r-2"))  # another turn, another id
    two = _call_response(call)
    two["candidates"][0]["content"]["parts"].append({"functionCall": call})
    a, b = ids(two)
    assert a == first[0] and b != a  # same call twice in one answer: distinct ids
    assert re.fullmatch(r"call_[0-9a-f]{24}", b)


# --- decoders fail only on the wire's faults ----------------------------------------------------
GEMINI_EVENTS = [
    {
        "responseId": "r",
        "candidates": [
            {
                "index": 0,
                "content": {
                    "parts": [
                        {"text": "Hi "},
                        {"text": "hm", "thought": True},
                        {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "s"},
                    ]
                },
            },
            {"index": 1, "content": {"parts": [{"text": "B"}]}},
        ],
    },
    {
        "candidates": [{"content": {"parts": [{"text": "there"}]}, "finishReason": "STOP"}],
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 2},
    },
    {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}},
]


@given(st.data())
def test_arbitrary_json_anywhere_in_any_response(data: st.DataObject) -> None:
    events = mutated_events(data, GEMINI_EVENTS)
    decoder = GeminiStreamDecoder()
    check_decoder_survives(
        decoder.response, events, decoder.end, decoder.acc, ends_without_marker=True
    )
    check_body_survives(get_dialect("gemini"), events)
    check_body_survives(get_dialect("gemini"), events[0])


@given(st.lists(ANY_JSON, min_size=1, max_size=4))
def test_arbitrary_json_as_responses_and_bodies(values: list[Any]) -> None:
    decoder = GeminiStreamDecoder()
    check_decoder_survives(
        decoder.response, values, decoder.end, decoder.acc, ends_without_marker=True
    )
    check_body_survives(get_dialect("gemini"), values)
    check_body_survives(get_dialect("gemini"), values[0])


@pytest.mark.parametrize(
    "bad",
    [
        {"content": {"parts": [{"text": "x"}, 5]}},  # a later part
        {"content": {"parts": [{"text": "x"}, {"functionCall": {"name": ""}}]}},
        {"index": 99, "content": {"parts": [{"text": "x"}]}},  # a later candidate
    ],
)
def test_a_bad_later_part_or_candidate_gives_no_partial_that_was_never_a_delta(
    bad: dict[str, Any],
) -> None:
    first = {"candidates": [{"content": {"parts": [{"text": "Ok "}]}}]}
    second = {"candidates": [{"content": {"parts": [{"text": "lost"}]}}, bad]}
    body = (sse_frame(json.dumps(first)) + sse_frame(json.dumps(second))).encode()
    for how, pieces in all_splittings(sized_response(body, "text/event-stream")):
        events = feed(make_call(), pieces)
        assert [e for e in events if isinstance(e, Delta)] == [Delta("Ok ")], how
        last = events[-1]
        assert isinstance(last, Error)
        assert (last.kind, last.partial) == ("protocol", "Ok "), how


# --- issue 12: content parts, structured output, reasoning, options, metadata ----------------
# Expected bodies are written from the Gemini API reference (Part.inlineData/fileData,
# GenerationConfig.responseMimeType/responseJsonSchema/thinkingConfig/seed/candidateCount),
# not from the renderer.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
PNG_B64 = "iVBORw0KGgoAAAAAAAAAAA=="


def request_body(model: str = "gemini-2.5-flash", **fields: Any) -> dict[str, Any]:
    fields.setdefault("messages", [Message("user", "hi")])
    request = ChatRequest(model, stream=False, **fields)
    built = DIALECT.build_request(Endpoint(BASE, KEY, dialect="gemini"), request)
    body: dict[str, Any] = json.loads(built.body)
    return body


def test_parts_are_inline_data_and_file_data() -> None:
    from libchatty.content import AudioPart, DocumentPart, ImagePart, TextPart

    parts = [
        TextPart("Compare these."),
        ImagePart(data=PNG),
        ImagePart(url="https://example.com/cat.jpg"),
        ImagePart(url="gs://bucket/dog.webp", media_type="image/webp"),
        DocumentPart(data=b"%PDF-1.4 tiny"),
        AudioPart(b"ID3\x00", "audio/mpeg"),
        TextPart(""),
    ]
    assert request_body(messages=[Message("user", parts)])["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Compare these."},
                {"inlineData": {"mimeType": "image/png", "data": PNG_B64}},
                {"fileData": {"fileUri": "https://example.com/cat.jpg"}},
                {"fileData": {"mimeType": "image/webp", "fileUri": "gs://bucket/dog.webp"}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjQgdGlueQ=="}},
                {"inlineData": {"mimeType": "audio/mpeg", "data": "SUQzAA=="}},
            ],
        }
    ]


def test_an_s3_url_is_refused() -> None:
    from libchatty.content import DocumentPart

    with pytest.raises(ValueError) as caught:
        request_body(messages=[Message("user", [DocumentPart(url="s3://bucket/a.pdf")])])
    assert str(caught.value) == (
        "Gemini cannot read a DocumentPart from an s3:// URL (in a user message); pass the "
        "bytes (data=...) or an https:// or gs:// URL"
    )


def test_structured_output_is_response_mime_type_and_json_schema() -> None:
    from libchatty.options import JSONSchema

    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "$defs": {}}
    assert request_body(response_format=JSONSchema("count", schema))["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": {
            "type": "object",
            "properties": {"n": {"type": "integer"}},
            "$defs": {},
        },
    }
    assert request_body(response_format="json")["generationConfig"] == {
        "responseMimeType": "application/json"
    }


@pytest.mark.parametrize(
    ("model", "reasoning", "config"),
    [
        ("gemini-2.5-flash", {"effort": "high"}, {"thinkingBudget": 24576}),
        (
            "gemini-2.5-pro",
            {"effort": "low", "summary": True},
            {
                "thinkingBudget": 1024,
                "includeThoughts": True,
            },
        ),
        ("gemini-2.5-flash", {"effort": "medium"}, {"thinkingBudget": 8192}),
        ("gemini-2.5-flash", {"budget_tokens": 3000, "effort": "high"}, {"thinkingBudget": 3000}),
        ("gemini-3-pro-preview", {"effort": "low"}, {"thinkingLevel": "low"}),
        ("gemini-3-pro-preview", {"budget_tokens": 2048}, {"thinkingBudget": 2048}),
        ("gemini-3-flash", {"summary": True}, {"includeThoughts": True}),
    ],
)
def test_reasoning_is_thinking_config(
    model: str, reasoning: dict[str, Any], config: dict[str, Any]
) -> None:
    from libchatty.options import Reasoning

    body = request_body(model, reasoning=Reasoning(**reasoning))
    assert body["generationConfig"] == {"thinkingConfig": config}


def test_reasoning_with_nothing_set_sends_nothing() -> None:
    from libchatty.options import Reasoning

    assert "generationConfig" not in request_body(reasoning=Reasoning())


@pytest.mark.parametrize("seed", [2**31 - 1, -(2**31), 0])
def test_seed_at_the_int32_limits(seed: int) -> None:
    assert request_body(seed=seed)["generationConfig"] == {"seed": seed}


@pytest.mark.parametrize("seed", [2**31, -(2**31) - 1])
def test_seed_one_past_the_int32_limits(seed: int) -> None:
    with pytest.raises(ValueError) as caught:
        request_body(seed=seed)
    assert str(caught.value) == (
        "Gemini takes a 32-bit seed: ChatRequest.seed must be from -2147483648 to 2147483647"
    )


def test_n_is_candidate_count_up_to_eight() -> None:
    assert request_body(n=8, max_tokens=50)["generationConfig"] == {
        "maxOutputTokens": 50,
        "candidateCount": 8,
    }
    with pytest.raises(ValueError) as caught:
        request_body(n=9)
    assert str(caught.value) == "Gemini returns at most 8 candidates (ChatRequest.n)"


def test_request_headers_come_after_the_endpoints_and_replace_same_names() -> None:
    endpoint = Endpoint(BASE, KEY, dialect="gemini", headers={"X-Team": "a"})
    request = ChatRequest(
        "gemini-2.5-flash", [Message("user", "hi")], headers={"X-Team": "b", "X-Trace": "t"}
    )
    assert DIALECT.build_request(endpoint, request).headers == (
        ("x-goog-api-key", KEY),
        ("X-Team", "b"),
        ("X-Trace", "t"),
    )


@pytest.mark.parametrize(
    ("name", "response_id"),
    [
        ("gemini/stream-text.http", "k9BKaPzLN4mD1MkPq7zR8QE"),
        ("gemini/nonstream-text.http", "Tq9KaJ7xC9GB1MkPsLmG6Qk"),
        ("gemini/mine-stream-json-array.http", "mine"),
    ],
)
def test_response_id_and_model_from_fixtures(name: str, response_id: str) -> None:
    from decoding import decode_every_way

    for how, events in decode_every_way(name, make_call):
        done = events[-1]
        assert type(done) is Done, (name, how)
        assert (done.response_id, done.model) == (response_id, "gemini-2.5-flash"), (name, how)


def _chunk(**fields: Any) -> dict[str, Any]:
    candidate = {"content": {"parts": [{"text": "ok"}], "role": "model"}, "finishReason": "STOP"}
    return {"candidates": [candidate], **fields}


@pytest.mark.parametrize(
    ("fields", "wanted"),
    [
        ({}, (None, None)),
        ({"responseId": None, "modelVersion": ""}, (None, None)),
        ({"modelVersion": "gemini-3-pro"}, (None, "gemini-3-pro")),
    ],
)
def test_absent_or_empty_metadata_is_none(fields: dict[str, Any], wanted: Any) -> None:
    done = DIALECT.decode_body(_chunk(**fields))[-1]
    assert type(done) is Done
    assert (done.response_id, done.model) == wanted


@pytest.mark.parametrize("key", ["responseId", "modelVersion"])
def test_a_non_string_response_id_or_model_is_a_protocol_error(key: str) -> None:
    body = json.dumps(_chunk(**{key: 7})).encode()
    events: list[Any] = []
    from decoding import feed

    events = feed(make_call(), [random_chunked(b"data: " + body + b"\r\n\r\n")])
    error = events[-1]
    assert type(error) is Error
    assert (error.kind, error.message) == (
        "protocol",
        f"malformed response: Gemini {key} is not a string",
    )


# --- shapes, in-stream errors and message text, as Gemini words them ------------------------
def _protocol_message(value: Any) -> str:
    with pytest.raises(RemoteProtocolError) as caught:
        GeminiStreamDecoder().response(value)
    return str(caught.value)


def test_wrong_shapes_name_what_was_expected() -> None:
    assert _protocol_message([]) == "a Gemini response is not a JSON object"
    assert _protocol_message({"candidates": {}}) == "Gemini candidates is not a list"
    assert _protocol_message({"candidates": [1]}) == "a Gemini candidate is not a JSON object"


def test_candidate_index_at_the_limit_and_one_past_it() -> None:
    decoder = GeminiStreamDecoder()
    (delta,) = decoder.response(
        {"candidates": [{"index": 7, "content": {"parts": [{"text": "x"}]}}]}
    )
    assert (type(delta), delta.index, delta.text) == (Delta, 7, "x")
    assert _protocol_message({"candidates": [{"index": 8}]}) == (
        "a Gemini candidate index is not an integer below 8"
    )


def test_an_in_stream_error_with_only_a_code_is_named_by_the_code() -> None:
    (error,) = GeminiStreamDecoder().response({"error": {"code": 503, "message": "busy"}})
    assert type(error) is Error
    assert (error.kind, error.retryable, error.provider_type, error.message, error.status) == (
        "overloaded",
        True,
        "503",
        "busy",
        200,
    )


def test_system_text_parts_and_null_assistant_content_are_text() -> None:
    from libchatty.content import TextPart

    body = request_body(
        messages=[
            Message("system", [TextPart("be "), TextPart("brief")]),
            Message("user", "hi"),
            Message("assistant", None),
        ]
    )
    assert body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert body["contents"][1] == {"role": "model", "parts": [{"text": ""}]}


def test_an_image_in_a_system_message_is_refused_by_name() -> None:
    from libchatty.content import ImagePart

    with pytest.raises(ValueError) as caught:
        request_body(messages=[Message("system", [ImagePart(data=PNG)]), Message("user", "hi")])
    assert str(caught.value) == (
        "Gemini messages carry text only here; an ImagePart in a system message cannot be sent"
    )


# --- what every dialect shares (dialects.base), seen through Gemini ----------------------------
def test_a_lone_surrogate_in_args_still_gets_a_synthetic_id() -> None:
    # The id hashes the arguments' UTF-8 with surrogates passed through: a lone surrogate
    # the provider escaped must not break the call.
    data = '{"responseId":"r1","candidates":[{"content":{"parts":[{"functionCall":'
    data += '{"name":"f","args":{"a":"\\ud800"}}}]}}]}'
    (delta,) = GeminiStreamDecoder().sse_event(ServerSentEvent(data=data))
    assert (delta.text, delta.tool_call_id) == ('{"a":"\ud800"}', "call_120f5d7c3e3854218743b7d4")


def test_request_body_is_compact_utf8_and_the_repr_names_headers_only() -> None:
    request = ChatRequest(
        "gemini-2.5-flash", [Message("user", "héllo")], stream=False, headers={"X-Trace": "t"}
    )
    built = DIALECT.build_request(Endpoint(BASE, KEY, dialect="gemini"), request)
    assert built.body == '{"contents":[{"role":"user","parts":[{"text":"héllo"}]}]}'.encode()
    assert repr(built) == (
        "RequestSpec(method='POST', target='/v1beta/models/gemini-2.5-flash:generateContent', "
        "headers=[x-goog-api-key, X-Trace], body=<58 bytes>)"
    )


def test_gemini_streams_neither_json_lines_nor_aws_messages() -> None:
    from libchatty.eventstream import EventStreamMessage

    decoder = GeminiStreamDecoder()
    with pytest.raises(RemoteProtocolError) as caught:
        decoder.json_line({})
    assert str(caught.value) == "this provider does not stream JSON lines"
    with pytest.raises(RemoteProtocolError) as caught:
        decoder.stream_message(EventStreamMessage({}, b""))
    assert str(caught.value) == "this provider does not stream AWS event stream messages"


def test_an_error_response_is_the_shared_reading() -> None:
    assert DIALECT.decode_error(500, "Internal Oops", [], b"") == Error(
        "server", "HTTP 500 Internal Oops", 500, retryable=True
    )
    assert DIALECT.decode_error(500, "Internal Oops", [], b"", "so far") == Error(
        "server", "HTTP 500 Internal Oops", 500, retryable=True, partial="so far"
    )


# --- the decoder's edges, each pinned ------------------------------------------------------------
def _call_part(**call: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"parts": [{"functionCall": call}]}}]}


def test_in_stream_errors_of_every_shape() -> None:
    def error(payload: Any) -> tuple[Any, ...]:
        (got,) = GeminiStreamDecoder().response({"error": payload})
        assert type(got) is Error
        return (got.kind, got.message, got.retryable, got.provider_type, got.status)

    assert error("boom") == ("provider", "boom", False, None, 200)
    # An empty status: the code names it.
    assert error({"status": "", "code": 429, "message": "m"}) == ("provider", "m", True, "429", 200)
    assert error({"code": 400}) == (
        "provider",
        "Gemini reported an error in the stream",
        False,
        "400",
        200,
    )


def test_wrong_shapes_inside_a_candidate_name_what_was_expected() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        GeminiStreamDecoder().sse_event(ServerSentEvent(data="{"))
    assert str(caught.value) == "Gemini sent an event whose data is not JSON"
    bad_parts = {"candidates": [{"content": {"parts": {}}}]}
    assert _protocol_message(bad_parts) == "Gemini content.parts is not a list"
    bad_part = {"candidates": [{"content": {"parts": [3]}}]}
    assert _protocol_message(bad_part) == "a Gemini part is not a JSON object"
    bad_call = {"candidates": [{"content": {"parts": [{"functionCall": []}]}}]}
    assert _protocol_message(bad_call) == "a Gemini functionCall is not a JSON object"
    assert _protocol_message(_call_part(name="")) == "Gemini functionCall has no name"
    nested: dict[str, Any] = {}
    for _ in range(100_000):
        nested = {"a": nested}
    assert _protocol_message(_call_part(name="f", args=nested)) == (
        "Gemini functionCall.args is nested too deeply"
    )


def test_the_first_finish_reason_of_any_candidate_counts_until_candidate_zeros() -> None:
    decoder = GeminiStreamDecoder()
    assert decoder.response({"candidates": [{"index": 1, "finishReason": "MAX_TOKENS"}]}) == []
    done = decoder.end()
    assert type(done) is Done
    assert done.raw_finish_reason == "MAX_TOKENS"
    decoder = GeminiStreamDecoder()
    decoder.response({"candidates": [{"index": 0, "finishReason": "SAFETY"}]})
    decoder.response({"candidates": [{"index": 1, "finishReason": "MAX_TOKENS"}]})
    decoder.response({"candidates": [{"index": 0, "finishReason": "STOP"}]})
    done = decoder.end()
    assert type(done) is Done
    assert done.raw_finish_reason == "STOP"


def test_thought_text_keeps_its_candidate_index() -> None:
    part = {"text": "hmm", "thought": True}
    events = GeminiStreamDecoder().response(
        {"candidates": [{"index": 1, "content": {"parts": [part]}}]}
    )
    assert events == [Delta("hmm", "reasoning", 1)]


def test_tool_calls_at_the_limit_and_one_past_it() -> None:
    parts = [{"functionCall": {"name": "f", "id": f"c{i}"}} for i in range(1024)]
    decoder = GeminiStreamDecoder()
    events = decoder.response({"candidates": [{"content": {"parts": parts}}]})
    assert len(events) == 1024
    assert events[-1] == Delta("{}", "tool_call", 1023, "c1023", "f")
    with pytest.raises(RemoteProtocolError) as caught:
        decoder.response(_call_part(name="f"))
    assert str(caught.value) == "more than 1024 tool calls"


def test_a_call_without_args_id_or_string_signature() -> None:
    # No args: {}; an empty id: a synthetic one; a signature that is not a string: none.
    decoder = GeminiStreamDecoder()
    part = {"functionCall": {"name": "f", "id": ""}, "thoughtSignature": 7}
    (delta,) = decoder.response({"responseId": "r", "candidates": [{"content": {"parts": [part]}}]})
    call_id = synthetic_call_id("r", 0, "f", "{}")
    assert delta == Delta("{}", "tool_call", 0, call_id, "f")
    done = decoder.end(whole=True)
    assert type(done) is Done
    assert done.tool_calls == (ToolCall(call_id, "f", "{}", None),)


def test_usage_metadata_that_is_empty_or_not_an_object_keeps_the_last_one() -> None:
    decoder = GeminiStreamDecoder()
    decoder.response({"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4}})
    decoder.response({"usageMetadata": {}})
    decoder.response({"usageMetadata": 7})
    decoder.response({"candidates": [{"finishReason": "STOP"}]})
    done = decoder.end()
    assert type(done) is Done
    assert done.usage == Usage(3, 4, 7, None, None)


def test_a_blocked_prompt_is_a_content_filter_whatever_the_reason() -> None:
    decoder = GeminiStreamDecoder()
    assert decoder.response({"promptFeedback": {"blockReason": "OTHER"}}) == []
    done = decoder.end()
    assert type(done) is Done
    assert (done.finish_reason, done.raw_finish_reason) == ("content_filter", "OTHER")


def test_a_stream_without_a_finish_reason_is_incomplete() -> None:
    decoder = GeminiStreamDecoder()
    decoder.response({"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]})
    assert decoder.end() == Error(
        "incomplete", "the Gemini stream ended without a finishReason", partial="Hel"
    )


# --- request edges -------------------------------------------------------------------------------
def test_developer_is_system_and_empty_user_messages_are_one_empty_text_part() -> None:
    from libchatty.content import TextPart

    body = request_body(
        messages=[
            Message("developer", "sys"),
            Message("user", None),
            Message("user", [TextPart("")]),
        ]
    )
    assert body == {
        "systemInstruction": {"parts": [{"text": "sys"}]},
        "contents": [{"role": "user", "parts": [{"text": ""}, {"text": ""}]}],
    }


def test_a_model_path_keeps_its_at_sign_and_a_non_object_schema_is_declared() -> None:
    request = ChatRequest(
        "tunedModels/a@b",
        [Message("user", "x")],
        stream=False,
        tools=[Tool("f", "d", {"type": "string"})],
    )
    built = DIALECT.build_request(Endpoint(BASE, KEY, dialect="gemini"), request)
    assert built.target == "/v1beta/tunedModels/a@b:generateContent"
    assert json.loads(built.body)["tools"] == [
        {
            "functionDeclarations": [
                {"name": "f", "description": "d", "parametersJsonSchema": {"type": "string"}}
            ]
        }
    ]


def test_replayed_arguments_that_are_not_json_are_refused_by_name() -> None:
    call = ToolCall("i", "f", "{")
    with pytest.raises(ValueError) as caught:
        request_body(messages=[Message("user", "x"), Message("assistant", None, tool_calls=[call])])
    assert str(caught.value) == (
        "the arguments of tool call 'f' are not valid JSON (Gemini needs an object)"
    )
