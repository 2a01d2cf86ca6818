"""The OpenAI Responses dialect: fixtures through the Call, a hypothesis-generated event
stream encoded here (not by the dialect) with random SSE framing, render round trips, and
request building."""

from __future__ import annotations

import json
from typing import Any

import pytest
from decoding import (
    ANY_JSON,
    SCALARS,
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
)
from hypothesis import given
from hypothesis import strategies as st
from wire import (
    all_splittings,
    chunked_response,
    cut_at,
    fixture,
    fixture_names,
    sized_response,
    sse_frame,
)

from libchatty.call import Call
from libchatty.dialects import get_dialect
from libchatty.dialects.openai_responses import _HANDLERS as HANDLERS
from libchatty.dialects.openai_responses import OpenAIResponsesDecoder
from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done, Error, Event, ToolCall, Usage
from libchatty.exceptions import RemoteProtocolError
from libchatty.replay import Script, get_renderer
from libchatty.request import ChatRequest, Message, Tool
from libchatty.sse import ServerSentEvent

DIALECT = get_dialect("openai-responses")
RENDERER = get_renderer("openai-responses")
BASE = "https://api.openai.com/v1"
KEY = "sk-EXAMPLE-not-a-real-key"


def make_call(stream: bool = True) -> Call:
    request = ChatRequest("gpt-4.1-mini", [Message("user", "hi")], stream=stream)
    return Call(Endpoint(BASE, KEY, dialect="openai-responses"), request)


# --- every fixture, whole, byte by byte and at random splits --------------------------------
SHARED = [n for n in fixture_names("openai-responses") if "/mine-" not in n]


@pytest.mark.parametrize("name", SHARED)
def test_fixture(name: str) -> None:
    check_fixture(name, make_call)


def test_fixture_details() -> None:
    events = feed(make_call(), [fixture("openai-responses/stream-function-call.http")])
    heads = [e for e in events if isinstance(e, Delta) and e.tool_name]
    assert heads == [Delta("", "tool_call", 0, "call_Wq3tY8kP2mZrL5vN9xHc1JbD", "get_weather")]
    done = events[-1]
    assert isinstance(done, Done)
    assert done.usage == Usage(71, 19, 90, reasoning_tokens=0, cached_tokens=0)
    failed = feed(make_call(), [fixture("openai-responses/stream-failed.http")])[-1]
    assert isinstance(failed, Error) and failed.retryable  # a server error: try again
    reasoning = feed(make_call(), [fixture("openai-responses/stream-reasoning-incomplete.http")])
    assert isinstance(reasoning[-1], Done)
    assert reasoning[-1].usage is not None and reasoning[-1].usage.reasoning_tokens == 192


# --- my fixtures ------------------------------------------------------------------------------
def test_mine_cut_off_is_incomplete() -> None:
    want = {"kind": "incomplete", "partial": "Half an answer", "status": 200}
    last = check_fields("openai-responses/mine-cut-off.http", make_call, want)
    assert isinstance(last, Error)


def test_mine_refusal() -> None:
    want = {"refusal": "I can’t help with that.", "text": "", "finish_reason": "stop"}
    last = check_fields("openai-responses/mine-refusal.http", make_call, want)
    assert isinstance(last, Done)


def test_mine_rate_limit_error_event() -> None:
    want = {
        "kind": "rate_limit",
        "provider_type": "rate_limit_exceeded",
        "status": 200,
        "retryable": True,
        "partial": "Hi",
    }
    last = check_fields("openai-responses/mine-error-rate-limit.http", make_call, want)
    assert isinstance(last, Error)
    assert last.message.startswith("Rate limit reached")


def test_mine_parallel_calls_interleaved_with_crlf_framing() -> None:
    want = {
        "reasoning": "Two cities.",
        "text": "Checking both.",
        "tool_calls": (
            ToolCall("call_A", "get_weather", '{"city":"Paris"}'),
            ToolCall("call_B", "get_weather", '{"city":"Tokyo"}'),
        ),
        "finish_reason": "tool_calls",
        "usage": Usage(80, 40, 120, reasoning_tokens=12, cached_tokens=64),
    }
    last = check_fields("openai-responses/mine-parallel-calls-crlf.http", make_call, want)
    assert isinstance(last, Done)


# --- the decoder on hand-made events ----------------------------------------------------------
def sse(value: Any, event: str = "message") -> ServerSentEvent:
    return ServerSentEvent(event, json.dumps(value))


def test_decoder_ignores_unknown_empty_and_done_events() -> None:
    decoder = OpenAIResponsesDecoder()
    assert decoder.sse_event(sse({"type": "response.web_search_call.searching"})) == []
    assert decoder.sse_event(ServerSentEvent("message", "")) == []
    assert decoder.sse_event(ServerSentEvent("message", "[DONE]")) == []
    assert decoder.sse_event(sse({"type": "response.output_text.delta", "delta": ""})) == []
    # Without a type in the data, the event name decides.
    assert decoder.sse_event(sse({"delta": "x"}, "response.output_text.delta")) == [Delta("x")]


def test_decoder_call_without_added_and_without_ids() -> None:
    decoder = OpenAIResponsesDecoder()
    # Deltas that name no item continue the last call (or open the first).
    assert decoder.sse_event(sse({"type": "response.function_call_arguments.delta", "delta": "{"}))
    decoder.sse_event(sse({"type": "response.function_call_arguments.delta", "delta": "}"}))
    item = {"type": "function_call", "id": "fc_2", "call_id": "c2", "name": "g", "arguments": "[]"}
    events = decoder.sse_event(
        sse({"type": "response.output_item.done", "output_index": 5, "item": item})
    )
    assert events == [Delta("[]", "tool_call", 1, "c2", "g")]
    (done,) = decoder.sse_event(sse({"type": "response.completed", "response": {}}))
    assert isinstance(done, Done)
    assert [(c.id, c.name, c.arguments) for c in done.tool_calls] == [
        (None, "", "{}"),
        ("c2", "g", "[]"),
    ]
    assert done.raw_finish_reason == "completed" and done.usage is None


def test_decoder_arguments_done_replaces_fragments() -> None:
    decoder = OpenAIResponsesDecoder()
    item = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": ""}
    decoder.sse_event(sse({"type": "response.output_item.added", "output_index": 0, "item": item}))
    decoder.sse_event(
        sse({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": "{x"})
    )
    decoder.sse_event(
        sse({"type": "response.function_call_arguments.done", "item_id": "fc_1", "arguments": "{}"})
    )
    (done,) = decoder.sse_event(sse({"type": "response.completed", "response": {}}))
    assert isinstance(done, Done) and done.tool_calls == (ToolCall("c1", "f", "{}"),)


@pytest.mark.parametrize(
    ("value", "kind", "provider_type", "retryable"),
    [
        (
            {"type": "error", "code": "server_error", "message": "m"},
            "provider",
            "server_error",
            True,
        ),
        ({"type": "error", "code": "insufficient_quota", "message": "m"}, "billing", None, False),
        ({"type": "error", "code": "invalid_prompt", "message": "m"}, "provider", None, False),
        ({"type": "error", "code": "slow_down", "message": "m"}, "overloaded", None, True),
        (
            {"type": "error", "error": {"type": "invalid_request_error", "message": "m"}},
            "provider",
            "invalid_request_error",
            False,
        ),
        ({"type": "error", "message": "m"}, "provider", None, False),
    ],
)
def test_decoder_error_events(
    value: dict[str, Any], kind: str, provider_type: str | None, retryable: bool
) -> None:
    decoder = OpenAIResponsesDecoder()
    decoder.sse_event(sse({"type": "response.output_text.delta", "delta": "so far"}))
    (error,) = decoder.sse_event(sse(value, "error"))
    assert isinstance(error, Error)
    assert (error.kind, error.retryable, error.partial, error.status) == (
        kind,
        retryable,
        "so far",
        200,
    )
    assert error.message == "m"
    assert error.provider_type == (provider_type or value.get("code"))


def test_decoder_plain_text_error_event_and_long_message() -> None:
    (error,) = OpenAIResponsesDecoder().sse_event(ServerSentEvent("error", "upstream went away"))
    assert isinstance(error, Error) and error.message == "upstream went away"
    (error,) = OpenAIResponsesDecoder().sse_event(sse({"type": "error", "message": "x" * 10**5}))
    assert isinstance(error, Error) and len(error.message) <= 2000


def test_decoder_incomplete_without_reason() -> None:
    value = {"type": "response.incomplete", "response": {"incomplete_details": None}}
    (done,) = OpenAIResponsesDecoder().sse_event(sse(value))
    assert isinstance(done, Done) and done.raw_finish_reason == "incomplete"


@pytest.mark.parametrize(
    "data",
    [
        "{not json",
        "[1]",
        json.dumps({"type": "response.output_text.delta", "delta": 5}),
        json.dumps({"type": "response.completed"}),
        json.dumps({"type": "response.failed", "response": "x"}),
        json.dumps(
            {
                "type": "response.output_item.added",
                "item": {"type": "function_call", "arguments": 1},
            }
        ),
    ],
)
def test_decoder_rejects_wrong_shapes(data: str) -> None:
    with pytest.raises(RemoteProtocolError):
        OpenAIResponsesDecoder().sse_event(ServerSentEvent("message", data))


def test_decoder_end_is_incomplete() -> None:
    decoder = OpenAIResponsesDecoder()
    decoder.sse_event(sse({"type": "response.output_text.delta", "delta": "x"}))
    end = decoder.end()
    assert isinstance(end, Error) and (end.kind, end.partial) == ("incomplete", "x")


def test_decode_body_shapes() -> None:
    body = {
        "status": "incomplete",
        "incomplete_details": {"reason": "content_filter"},
        "output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
            {"type": "message", "content": [{"type": "refusal", "refusal": "no"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "web_search_call", "id": "ws"},
        ],
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    events = DIALECT.decode_body(body)
    assert events[:3] == [
        Delta("hmm", "reasoning"),
        Delta("no", "refusal"),
        Delta("{}", "tool_call", 0, "c", "f"),
    ]
    done = events[-1]
    assert isinstance(done, Done)
    assert (done.finish_reason, done.raw_finish_reason) == ("content_filter", "content_filter")
    failed = DIALECT.decode_body(
        {"status": "failed", "error": {"code": "server_error", "message": "bad"}, "output": []}
    )
    assert isinstance(failed[-1], Error) and failed[-1].message == "bad"
    envelope = DIALECT.decode_body({"error": {"message": "nope", "type": "x"}})
    assert isinstance(envelope[-1], Error) and envelope[-1].provider_type == "x"
    queued = DIALECT.decode_body({"status": "queued", "output": []})
    assert isinstance(queued[-1], Error)
    with pytest.raises(RemoteProtocolError):
        DIALECT.decode_body({"status": "completed"})


# --- a hypothesis-generated stream, encoded here with random SSE framing -----------------------
TEXT = st.text(min_size=1, max_size=12)
NAME = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
CALL_ID = st.from_regex(r"call_[A-Za-z0-9]{1,12}", fullmatch=True)
PART = st.one_of(
    st.tuples(st.sampled_from(["text", "reasoning", "reasoning_raw", "refusal"]), TEXT),
    st.tuples(
        st.just("call"), NAME, CALL_ID, st.lists(st.text(max_size=6), max_size=4), st.booleans()
    ),
    st.tuples(st.just("noise")),
)
ENDING = st.one_of(
    st.tuples(
        st.just("completed"),
        st.one_of(st.none(), st.tuples(st.integers(0, 10**6), st.integers(0, 10**6))),
    ),
    st.tuples(st.just("incomplete"), st.sampled_from(["max_output_tokens", "content_filter"])),
    st.tuples(st.just("failed"), st.sampled_from(["server_error", "rate_limit_exceeded"]), TEXT),
    st.tuples(
        st.just("error"), st.sampled_from(["server_error", "rate_limit_exceeded", None]), TEXT
    ),
    st.tuples(st.just("cut")),
)
FRAMING = st.fixed_dictionaries(
    {
        "newline": st.sampled_from(["\n", "\r\n", "\r"]),
        "space": st.booleans(),  # "data: x" or "data:x"
        "named": st.booleans(),  # an "event:" line or not
        "multiline": st.booleans(),  # JSON spread over several data lines
        "comments": st.booleans(),  # ": keep-alive" between events
        "ascii": st.booleans(),
    }
)


def encode_event(value: dict[str, Any], framing: dict[str, Any]) -> str:
    if framing["multiline"]:
        text = json.dumps(value, indent=1, ensure_ascii=framing["ascii"])
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=framing["ascii"])
    return sse_frame(
        text,
        event=value["type"] if framing["named"] else None,
        eol=framing["newline"],
        data_space=framing["space"],
        event_space=framing["space"],
        comment="keep-alive" if framing["comments"] else None,
    )


def encode_parts(parts: list[tuple[Any, ...]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The wire events for ``parts`` and what they must decode to."""
    events: list[dict[str, Any]] = []
    want: dict[str, Any] = {"text": [], "reasoning": [], "refusal": [], "calls": []}
    for output_index, part in enumerate(parts):
        kind = part[0]
        at = {"item_id": f"item_{output_index}", "output_index": output_index}
        if kind == "noise":
            events.append({"type": "response.content_part.added", **at, "part": {}})
        elif kind == "call":
            _, name, call_id, pieces, settle = part
            item = {
                "type": "function_call",
                "id": at["item_id"],
                "call_id": call_id,
                "name": name,
                "arguments": "",
            }
            events.append(
                {"type": "response.output_item.added", "output_index": output_index, "item": item}
            )
            events.extend(
                {"type": "response.function_call_arguments.delta", **at, "delta": p} for p in pieces
            )
            arguments = "".join(pieces)
            if settle:
                events.append(
                    {"type": "response.function_call_arguments.done", **at, "arguments": arguments}
                )
                events.append(
                    {
                        "type": "response.output_item.done",
                        "output_index": output_index,
                        "item": {**item, "arguments": arguments},
                    }
                )
            want["calls"].append(ToolCall(call_id, name, arguments))
        else:
            wire = {
                "text": "response.output_text.delta",
                "reasoning": "response.reasoning_summary_text.delta",
                "reasoning_raw": "response.reasoning_text.delta",
                "refusal": "response.refusal.delta",
            }[kind]
            events.append({"type": wire, **at, "delta": part[1]})
            want["reasoning" if kind == "reasoning_raw" else kind].append(part[1])
    return events, want


@given(
    parts=st.lists(PART, max_size=10),
    ending=ENDING,
    framing=FRAMING,
    chunk_cuts=st.lists(st.integers(0, 10**6), max_size=8),
    read_cuts=st.lists(st.integers(0, 10**6), max_size=8),
)
def test_generated_stream(
    parts: list[tuple[Any, ...]],
    ending: tuple[Any, ...],
    framing: dict[str, Any],
    chunk_cuts: list[int],
    read_cuts: list[int],
) -> None:
    events, want = encode_parts(parts)
    events.insert(0, {"type": "response.created", "response": {"status": "in_progress"}})
    if ending[0] == "completed":
        usage = None
        if ending[1] is not None:
            usage = {"input_tokens": ending[1][0], "output_tokens": ending[1][1]}
        events.append(
            {"type": "response.completed", "response": {"status": "completed", "usage": usage}}
        )
    elif ending[0] == "incomplete":
        events.append(
            {
                "type": "response.incomplete",
                "response": {"status": "incomplete", "incomplete_details": {"reason": ending[1]}},
            }
        )
    elif ending[0] == "failed":
        error = {"code": ending[1], "message": ending[2]}
        events.append({"type": "response.failed", "response": {"status": "failed", "error": error}})
    elif ending[0] == "error":
        events.append({"type": "error", "code": ending[1], "message": ending[2], "param": None})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    body = "".join(encode_event(event, framing) for event in events).encode()
    data = chunked_response(cut_at(body, chunk_cuts), "text/event-stream; charset=utf-8")

    got = feed(make_call(), cut_at(data, read_cuts))
    last = check_shape(got)
    deltas = [e for e in got if isinstance(e, Delta)]
    assert "".join(e.text for e in deltas if e.kind == "text") == "".join(want["text"])
    assert "".join(e.text for e in deltas if e.kind == "reasoning") == "".join(want["reasoning"])
    assert "".join(e.text for e in deltas if e.kind == "refusal") == "".join(want["refusal"])
    if ending[0] == "completed":
        assert isinstance(last, Done)
        assert last.tool_calls == tuple(want["calls"])
        assert last.raw_finish_reason == "completed"
        assert last.finish_reason == ("tool_calls" if want["calls"] else "stop")
        if ending[1] is None:
            assert last.usage is None
        else:
            prompt, completion = ending[1]
            assert last.usage == Usage(prompt, completion, prompt + completion)
    elif ending[0] == "incomplete":
        assert isinstance(last, Done)
        assert last.raw_finish_reason == ending[1]
        assert last.finish_reason == {"max_output_tokens": "length"}.get(ending[1], ending[1])
    else:
        assert isinstance(last, Error)
        assert last.partial == "".join(want["text"])
        if ending[0] == "cut":
            assert last.kind == "incomplete"
        else:
            assert last.message == ending[2]
            assert last.kind == ("rate_limit" if ending[1] == "rate_limit_exceeded" else "provider")
            assert last.retryable is (ending[1] is not None)
            assert last.provider_type == ending[1]


# --- render_* round trips ---------------------------------------------------------------------
ARGS = st.dictionaries(
    st.text(max_size=6), st.one_of(st.integers(), st.text(max_size=8), st.none()), max_size=3
).map(lambda a: json.dumps(a, ensure_ascii=False))
SCRIPT = st.builds(
    Script,
    text=st.text(max_size=60),
    reasoning=st.text(max_size=40),
    tool_calls=st.lists(st.builds(ToolCall, id=CALL_ID, name=NAME, arguments=ARGS), max_size=3).map(
        tuple
    ),
    finish_reason=st.sampled_from(["stop", "length", "tool_calls", "content_filter"]),
    usage=st.one_of(
        st.none(),
        st.builds(
            lambda i, o, r, c: Usage(i, o, i + o, r, c),
            st.integers(0, 10**5),
            st.integers(0, 10**5),
            st.one_of(st.none(), st.integers(0, 100)),
            st.one_of(st.none(), st.integers(0, 100)),
        ),
    ),
)


def assert_matches_script(done: Event, script: Script) -> None:
    assert isinstance(done, Done)
    assert (done.text, done.reasoning) == (script.text, script.reasoning)
    assert done.tool_calls == script.tool_calls
    if script.finish_reason in ("length", "content_filter"):
        assert done.finish_reason == script.finish_reason
    else:
        assert done.finish_reason == ("tool_calls" if script.tool_calls else "stop")
    assert done.usage == script.usage


@given(script=SCRIPT, cuts=st.lists(st.integers(0, 10**6), max_size=6))
def test_render_stream_round_trip(script: Script, cuts: list[int]) -> None:
    events = RENDERER.render_stream(script)
    assert all(event.endswith(b"\n\n") and event.count(b"\n\n") == 1 for event in events)
    data = chunked_response(cut_at(b"".join(events), cuts), "text/event-stream; charset=utf-8")
    assert_matches_script(check_shape(feed(make_call(), cut_at(data, cuts))), script)


@given(script=SCRIPT)
def test_render_body_round_trip(script: Script) -> None:
    events = feed(make_call(stream=False), [sized_response(RENDERER.render_body(script))])
    assert_matches_script(check_shape(events), script)


@every_error_status
def test_render_error(status: int, kind: str) -> None:
    body = RENDERER.render_error(status, "it went wrong")
    events = feed(make_call(), [sized_response(body, status=status, reason="Oops")])
    check_error_event(events, kind, status, "it went wrong")


def test_render_stream_error() -> None:
    events = RENDERER.render_stream(Script(text="Hello there"))
    events = [*events[:-1], RENDERER.render_stream_error("it broke")]
    data = chunked_response(cut_at(b"".join(events), [5, 300]))
    last = feed(make_call(), [data])[-1]
    assert isinstance(last, Error)
    assert (last.kind, last.message, last.partial) == ("provider", "it broke", "Hello there")


def test_server_side_matching() -> None:
    assert RENDERER.matches("POST", "/v1/responses")
    assert RENDERER.matches("POST", "/openai/v1/responses?api-version=x")
    assert not RENDERER.matches("POST", "/v1/chat/completions")
    assert not RENDERER.matches("GET", "/v1/responses")
    assert RENDERER.is_stream_request("/v1/responses", {"stream": True})
    assert not RENDERER.is_stream_request("/v1/responses", {"model": "m"})


# --- requests -----------------------------------------------------------------------------------
def test_request_matches_fixture() -> None:
    call = Call(Endpoint(BASE, KEY, dialect="openai-responses"), ChatRequest("gpt-4.1-mini", SKY))
    check_like_fixture(call, "request/openai-responses.http", ("authorization",))


def test_request_fields_and_tool_loop() -> None:
    call = ToolCall("call_1", "get_weather", '{"city":"Paris"}')
    request = ChatRequest(
        "gpt-4.1",
        [
            Message("system", "one"),
            Message("developer", "two"),
            Message("user", "weather?"),
            Message("assistant", "Let me check.", tool_calls=(call,)),
            Message("tool", "18C", tool_call_id="call_1"),
            Message("system", "later"),
        ],
        stream=False,
        temperature=0.5,
        top_p=0.5,
        max_tokens=100,
        tools=[Tool("get_weather", "Weather.", {"type": "object"})],
        tool_choice="get_weather",
        extra={"store": False, "reasoning": {"effort": "low"}},
    )
    spec = DIALECT.build_request(Endpoint(BASE, KEY, dialect="openai-responses"), request)
    assert (spec.method, spec.target) == ("POST", "/v1/responses")
    assert spec.headers == (("Authorization", f"Bearer {KEY}"),)
    assert json.loads(spec.body) == {
        "model": "gpt-4.1",
        "instructions": "one\n\ntwo",
        "input": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "Let me check."},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
            {"role": "system", "content": "later"},
        ],
        "temperature": 0.5,
        "top_p": 0.5,
        "max_output_tokens": 100,
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather.",
                "parameters": {"type": "object"},
            }
        ],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "store": False,
        "reasoning": {"effort": "low"},
    }


def test_request_refuses_what_the_api_cannot_take() -> None:
    endpoint = Endpoint(BASE, KEY, dialect="openai-responses")
    with pytest.raises(ValueError, match="stop"):
        DIALECT.build_request(endpoint, ChatRequest("m", [Message("user", "x")], stop="\n"))
    no_id = Message("assistant", None, tool_calls=(ToolCall(None, "f", "{}"),))
    with pytest.raises(ValueError) as info:
        DIALECT.build_request(endpoint, ChatRequest("m", [no_id]))
    assert str(info.value) == (
        "tool call 'f' has no id; the OpenAI Responses API needs one to match its result"
    )


def test_request_without_key_and_with_own_headers() -> None:
    endpoint = Endpoint(
        "http://localhost:8000/v1", dialect="openai-responses", headers={"X-Team": "a"}
    )
    spec = DIALECT.build_request(endpoint, ChatRequest("m", [Message("user", "x")]))
    assert spec.headers == (("X-Team", "a"),)
    assert json.loads(spec.body)["stream"] is True


def test_decoder_bounds() -> None:
    decoder = OpenAIResponsesDecoder()
    for number in range(1024):
        item = {"type": "function_call", "id": f"fc_{number}", "call_id": "c", "name": "f"}
        decoder.sse_event(
            sse({"type": "response.output_item.added", "output_index": number, "item": item})
        )
    item = {"type": "function_call", "id": "fc_x", "call_id": "c", "name": "f"}
    with pytest.raises(RemoteProtocolError, match="function calls"):
        decoder.sse_event(sse({"type": "response.output_item.added", "item": item}))
    (error,) = OpenAIResponsesDecoder().sse_event(
        sse({"type": "error", "code": "x" * 10_000, "message": "m"})
    )
    assert isinstance(error, Error) and error.provider_type is not None
    assert len(error.provider_type) <= 100


# Any JSON value in any field a handler reads: events or RemoteProtocolError, nothing else.
FIELDS = st.sampled_from(
    [
        "delta",
        "item",
        "item_id",
        "output_index",
        "arguments",
        "response",
        "code",
        "message",
        "error",
        "type",
        "id",
        "call_id",
        "name",
        "status",
        "usage",
        "incomplete_details",
        "output",
        "content",
        "summary",
        "text",
        "refusal",
    ]
)
SHAPE = st.dictionaries(FIELDS, ANY_JSON, max_size=6)
PART_SHAPE = st.fixed_dictionaries(
    {"type": st.sampled_from(["output_text", "refusal", "summary_text", "reasoning_text"])},
    optional={"text": ANY_JSON, "refusal": ANY_JSON},
)


@given(
    kinds=st.lists(st.sampled_from(sorted(HANDLERS)), min_size=1, max_size=4),
    values=st.lists(SHAPE, min_size=4, max_size=4),
    body=SHAPE,
    item=st.fixed_dictionaries(
        {"type": st.sampled_from(["message", "reasoning", "function_call", "web_search_call"])},
        optional={
            key: st.one_of(SCALARS, st.lists(st.one_of(PART_SHAPE, SCALARS), max_size=2), ANY_JSON)
            for key in ("content", "summary", "arguments", "call_id", "name", "id")
        },
    ),
)
def test_decoders_never_leak_other_exceptions(
    kinds: list[str], values: list[dict[str, Any]], body: dict[str, Any], item: dict[str, Any]
) -> None:
    for value in values:
        if isinstance(value.get("item"), dict):
            value["item"] = {**value["item"], **item}
    wire = [sse({**value, "type": kind}) for kind, value in zip(kinds, values, strict=False)]
    decoder = OpenAIResponsesDecoder()
    check_decoder_survives(decoder.sse_event, wire, decoder.end, decoder.acc)
    for whole in (body, {**body, "output": [item]}, {**body, "output": [item], "status": "x"}):
        check_body_survives(DIALECT, whole)


def test_final_output_is_read_when_nothing_was_streamed() -> None:
    output = [
        {"type": "message", "content": [{"type": "output_text", "text": "All at once."}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    ]
    decoder = OpenAIResponsesDecoder()
    assert decoder.sse_event(sse({"type": "response.created", "response": {}})) == []
    final = {"type": "response.completed", "response": {"status": "completed", "output": output}}
    events = decoder.sse_event(sse(final))
    assert events[:2] == [Delta("All at once."), Delta("{}", "tool_call", 0, "c1", "f")]
    assert isinstance(events[2], Done) and events[2].text == "All at once."
    # After streamed deltas the final output only repeats them.
    decoder = OpenAIResponsesDecoder()
    decoder.sse_event(sse({"type": "response.output_text.delta", "delta": "All"}))
    (done,) = decoder.sse_event(sse(final))
    assert isinstance(done, Done) and done.text == "All" and not done.tool_calls


@pytest.mark.parametrize(
    "bad",
    [
        5,  # a later item that is not an object
        {"type": "message", "content": "not a list"},
        {"type": "function_call", "arguments": 7},
    ],
)
def test_a_bad_later_output_item_gives_no_partial_that_was_never_a_delta(bad: Any) -> None:
    output = [{"type": "message", "content": [{"type": "output_text", "text": "lost"}]}, bad]
    final = {"type": "response.completed", "response": {"status": "completed", "output": output}}
    decoder = OpenAIResponsesDecoder()
    with pytest.raises(RemoteProtocolError):
        decoder.sse_event(sse(final))
    assert decoder.acc.partial == ""  # the final output's text never became a delta


# --- issue 12: parts, text.format, reasoning, refusals, metadata ----------------------------
# Expected bodies written from the Responses API reference (input_text / input_image /
# input_file content, text.format, reasoning), not from the renderer.
from libchatty.content import AudioPart, DocumentPart, ImagePart, TextPart  # noqa: E402
from libchatty.options import JSONSchema, Reasoning  # noqa: E402

_PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8
_PNG_B64 = "iVBORw0KGgoAAAAAAAAAAA=="
_DIALECT = get_dialect("openai-responses")
_ENDPOINT = Endpoint("https://api.openai.com/v1", "sk-k", dialect="openai-responses")


def responses_body(**fields: Any) -> dict[str, Any]:
    fields.setdefault("messages", [Message("user", "hi")])
    request = ChatRequest(model="gpt-5", stream=False, **fields)
    return json.loads(_DIALECT.build_request(_ENDPOINT, request).body)  # type: ignore[no-any-return]


def test_request_parts_in_the_documented_form() -> None:
    message = Message(
        "user",
        [
            TextPart("Read these"),
            ImagePart(data=_PNG, detail="high"),
            ImagePart(url="https://example.com/a.png"),
            DocumentPart(data=b"%PDF-1.7", name="r.pdf"),
            DocumentPart(url="https://example.com/r.pdf"),
        ],
    )
    assert responses_body(messages=[message])["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Read these"},
                {
                    "type": "input_image",
                    "image_url": "data:image/png;base64," + _PNG_B64,
                    "detail": "high",
                },
                {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"},
                {
                    "type": "input_file",
                    "filename": "r.pdf",
                    "file_data": "data:application/pdf;base64,JVBERi0xLjc=",
                },
                {"type": "input_file", "file_url": "https://example.com/r.pdf"},
            ],
        }
    ]


def test_request_refusals_name_the_api_and_the_part() -> None:
    with pytest.raises(ValueError) as caught:
        responses_body(messages=[Message("user", [AudioPart(b"RIFF", "audio/wav")])])
    assert str(caught.value) == (
        "the OpenAI Responses API cannot send audio; use the openai-chat dialect with an "
        "audio model (AudioPart)"
    )
    for field, value, message in (
        ("seed", 1, "ChatRequest.seed: the Responses API has no seed"),
        ("n", 2, "the Responses API returns one answer per request: ChatRequest.n must be 1"),
    ):
        with pytest.raises(ValueError) as caught:
            responses_body(**{field: value})
        assert str(caught.value) == message
    assert "n" not in responses_body(n=1)


def test_request_text_format_and_reasoning() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert responses_body(response_format="json")["text"] == {"format": {"type": "json_object"}}
    assert responses_body(response_format=JSONSchema("ans", schema))["text"] == {
        "format": {
            "type": "json_schema",
            "name": "ans",
            "schema": {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "additionalProperties": False,
                "required": ["a"],
            },
            "strict": True,
        }
    }
    body = responses_body(reasoning=Reasoning(effort="high", summary=True), max_tokens=9)
    assert (body["reasoning"], body["max_output_tokens"]) == (
        {"effort": "high", "summary": "auto"},
        9,
    )
    assert responses_body(reasoning=Reasoning(budget_tokens=8193))["reasoning"] == {
        "effort": "high"
    }
    assert "reasoning" not in responses_body(reasoning=Reasoning())


def test_done_carries_the_response_id_and_model() -> None:
    for how, pieces in all_splittings(fixture("openai-responses/stream-text.http")):
        done = feed(make_call(True), pieces)[-1]
        assert isinstance(done, Done), how
        assert (done.response_id, done.model) == (
            "resp_0f9c4b2f224d858000695fa062bf048197a680f357bbb09000",
            "gpt-4o-mini-2024-07-18",
        ), how
    done = feed(make_call(False), [fixture("openai-responses/nonstream-text.http")])[-1]
    assert isinstance(done, Done)
    assert (done.response_id, done.model) == (
        "resp_689a0b2545288193953c892439b42e2800b2e36c65a1fd4b",
        "gpt-4o-mini-2024-07-18",
    )
    with pytest.raises(RemoteProtocolError, match="the response's 'model' is not a string"):
        _DIALECT.decode_body({"status": "completed", "output": [], "model": 3})


# --- mutation testing (issue 16): exact messages and values --------------------------------------
def stream_refusal(value: Any) -> str:
    data = value if type(value) is str else json.dumps(value)
    with pytest.raises(RemoteProtocolError) as caught:
        OpenAIResponsesDecoder().sse_event(ServerSentEvent("message", data))
    return str(caught.value)


def completed(*output: Any) -> dict[str, Any]:
    return {"type": "response.completed", "response": {"output": list(output)}}


def test_decoder_refusals_say_what_is_wrong() -> None:
    assert stream_refusal("{not json") == "invalid JSON in a data line: '{not json'"
    assert stream_refusal("x" * 81) == f"invalid JSON in a data line: {'x' * 80!r}..."
    assert stream_refusal("x" * 80) == f"invalid JSON in a data line: {'x' * 80!r}"
    assert stream_refusal("[1]") == "a data line is not a JSON object: '[1]'"
    for kind, what in [
        ("response.output_text.delta", "output_text.delta"),
        ("response.reasoning_summary_text.delta", "a reasoning delta"),
        ("response.reasoning_text.delta", "a reasoning delta"),
        ("response.refusal.delta", "refusal.delta"),
        ("response.function_call_arguments.delta", "function_call_arguments.delta"),
    ]:
        assert stream_refusal({"type": kind, "delta": 5}) == f"{what} is not a string"
    for kind in ("response.completed", "response.incomplete", "response.failed"):
        assert stream_refusal({"type": kind, "response": "x"}) == (
            f"a {kind} event without a 'response' object"
        )
    call = {"type": "function_call", "arguments": 1}
    added = {"type": "response.output_item.added", "item": call}
    assert stream_refusal(added) == "function_call.arguments is not a string"
    assert stream_refusal({**completed(), "response": {"output": 3}}) == (
        "response.output is not a list"
    )
    assert stream_refusal(completed(3)) == "an output item is not a JSON object"
    message = {"type": "message", "content": 3}
    assert stream_refusal(completed(message)) == "message.content is not a list"
    assert stream_refusal(completed({**message, "content": [3]})) == (
        "a content part is not a JSON object"
    )
    text = {"type": "output_text", "text": 3}
    assert stream_refusal(completed({**message, "content": [text]})) == (
        "output_text.text is not a string"
    )
    refusal = {"type": "refusal", "refusal": 3}
    assert stream_refusal(completed({**message, "content": [refusal]})) == (
        "refusal.refusal is not a string"
    )
    assert stream_refusal(completed({"type": "reasoning", "summary": 3})) == (
        "reasoning.summary is not a list"
    )
    assert stream_refusal(completed({"type": "reasoning", "content": 3})) == (
        "reasoning.content is not a list"
    )
    summary = [{"type": "summary_text", "text": 3}]
    assert stream_refusal(completed({"type": "reasoning", "summary": summary})) == (
        "reasoning text is not a string"
    )
    assert stream_refusal({"type": "response.completed", "response": {"id": 3}}) == (
        "the response's 'id' is not a string"
    )


def test_decoder_end_exactly() -> None:
    decoder = OpenAIResponsesDecoder()
    decoder.sse_event(sse({"type": "response.output_text.delta", "delta": "x"}))
    assert decoder.end() == Error(
        "incomplete",
        "the stream ended before response.completed, response.incomplete or an error",
        status=200,
        partial="x",
    )


def test_decode_body_refusals_and_statuses_exactly() -> None:
    dialect = get_dialect("openai-responses")
    for body, message in [
        ([], "the response body is not a JSON object"),
        ({"output": 3}, "the response body has no 'output' list"),
    ]:
        with pytest.raises(RemoteProtocolError) as caught:
            dialect.decode_body(body)
        assert str(caught.value) == message
    assert dialect.decode_body({"status": "queued", "output": []}) == [
        Error("provider", "the response is 'queued'", status=200)
    ]
    quota = {"error": {"message": "m", "code": "rate_limit_exceeded"}}
    assert dialect.decode_body(quota) == [
        Error("rate_limit", "m", status=200, retryable=True, provider_type="rate_limit_exceeded")
    ]
    failed = {"error": {"message": "m"}, "output": [], "status": "failed"}
    assert dialect.decode_body(failed) == [Error("provider", "m", status=200)]
    # an error beside an output that did not fail is not the answer's end
    kept = dialect.decode_body({"error": {"message": "m"}, "output": []})
    assert kept == [Done("stop", "", raw_finish_reason="completed")]


def test_request_input_items_at_their_edges() -> None:
    assert responses_body(messages=[Message("system", "s")]) == {
        "model": "gpt-5",
        "instructions": "s",
        "input": [],
    }
    # no leading system message: no instructions key at all; an empty turn is still a turn
    for empty in ("", None):
        assert responses_body(messages=[Message("user", "hi"), Message("assistant", empty)]) == {
            "model": "gpt-5",
            "input": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}],
        }
    calls = (ToolCall("c", "f", ""),)
    turns = [
        Message("user", "hi"),
        Message("assistant", None, tool_calls=calls),
        Message("tool", None, tool_call_id="c"),
    ]
    assert responses_body(messages=turns)["input"] == [
        {"role": "user", "content": "hi"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": ""},
    ]


def test_request_refusals_exactly() -> None:
    image = Message("system", [TextPart("a"), ImagePart(data=_PNG, media_type="image/png")])
    with pytest.raises(ValueError) as caught:
        responses_body(messages=[image])
    assert str(caught.value) == (
        "the OpenAI Responses API cannot send a non-text part in a system message (ImagePart)"
    )
    refused: list[tuple[ImagePart | DocumentPart, str]] = [
        (ImagePart(url="gs://b/x.png"), "an image"),
        (DocumentPart(url="s3://b/x.pdf"), "a document"),
    ]
    for part, what in refused:
        with pytest.raises(ValueError) as caught:
            responses_body(messages=[Message("user", [part])])
        assert str(caught.value) == (
            f"the OpenAI Responses API cannot send {what} by a gs:// or s3:// URL; pass an"
            f" https:// URL or the bytes ({type(part).__name__})"
        )
    with pytest.raises(ValueError) as caught:
        responses_body(stop="x")
    assert str(caught.value) == "ChatRequest.stop: the Responses API has no stop sequences"


def test_request_plain_http_urls_and_tool_choice_words() -> None:
    parts: list[ImagePart | DocumentPart] = [
        ImagePart(url="http://h/x.png"),
        DocumentPart(url="HTTPS://h/x.pdf"),
    ]
    assert responses_body(messages=[Message("user", parts)])["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "input_image", "image_url": "http://h/x.png", "detail": "auto"},
                {"type": "input_file", "file_url": "HTTPS://h/x.pdf"},
            ],
        }
    ]
    for word in ("auto", "none", "required"):
        assert responses_body(tools=[Tool("f")], tool_choice=word)["tool_choice"] == word


def feed_events(*values: dict[str, Any]) -> tuple[OpenAIResponsesDecoder, list[Event]]:
    decoder = OpenAIResponsesDecoder()
    out: list[Event] = []
    for value in values:
        out += decoder.sse_event(sse(value))
    return decoder, out


def added(item_id: Any = None, output_index: Any = None, **item: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "type": "response.output_item.added",
        "item": {"type": "function_call", "id": item_id, **item},
    }
    if output_index is not None:
        value["output_index"] = output_index
    return value


def args_delta(piece: str, **where: Any) -> dict[str, Any]:
    return {"type": "response.function_call_arguments.delta", "delta": piece, **where}


COMPLETED: dict[str, Any] = {"type": "response.completed", "response": {}}


def calls_of(events: list[Event]) -> tuple[ToolCall, ...]:
    done = events[-1]
    assert type(done) is Done
    return done.tool_calls


def test_decoder_calls_are_found_by_item_id_or_output_index() -> None:
    # deltas name a call by item id alone, or by output index alone
    _, events = feed_events(
        added("a", call_id="c1", name="f", arguments=""),
        added("b", call_id="c2", name="g", arguments=""),
        args_delta("1", item_id="a"),
        args_delta("2", item_id="b", output_index=7),
        args_delta("3", output_index=7),
        {"type": "response.function_call_arguments.done", "item_id": "a", "arguments": "A"},
        COMPLETED,
    )
    assert calls_of(events) == (ToolCall("c1", "f", "A"), ToolCall("c2", "g", "23"))
    _, events = feed_events(
        added("a", 0, call_id="c1", name="f"),
        added("b", 1, call_id="c2", name="g"),
        args_delta("x", output_index=0),
        COMPLETED,
    )
    assert calls_of(events) == (ToolCall("c1", "f", "x"), ToolCall("c2", "g", ""))
    # an item id that is not a string is no key: it cannot take output index 5's call
    _, events = feed_events(
        added(5, 0, call_id="c1", name="f"),
        added("b", 5, call_id="c2", name="g"),
        args_delta("y", output_index=5),
        COMPLETED,
    )
    assert calls_of(events) == (ToolCall("c1", "f", ""), ToolCall("c2", "g", "y"))


def test_decoder_item_done_settles_a_known_call() -> None:
    item = {"type": "function_call", "id": "a", "call_id": "c1", "name": "f", "arguments": "{}"}
    _, events = feed_events(
        added("a", call_id="c1", name="f", arguments=""),
        args_delta("{x", item_id="a"),
        {"type": "response.output_item.done", "item": item},
        COMPLETED,
    )
    assert events[:-1] == [Delta("", "tool_call", 0, "c1", "f"), Delta("{x", "tool_call", 0)]
    assert calls_of(events) == (ToolCall("c1", "f", "{}"),)
    # an item.done naming no item continues the last call: nothing new to announce
    anonymous = {"type": "function_call", "arguments": "[]"}
    _, events = feed_events(
        added("a", call_id="c1", name="f", arguments=""),
        {"type": "response.output_item.done", "item": anonymous},
        COMPLETED,
    )
    assert events[:-1] == [Delta("", "tool_call", 0, "c1", "f")]
    assert calls_of(events) == (ToolCall("c1", "f", "[]"),)


def test_decoder_empty_and_odd_fields() -> None:
    _, events = feed_events(
        {"type": "response.reasoning_summary_text.delta", "delta": ""},
        {"type": "response.refusal.delta", "delta": ""},
        added("a", call_id="", name=""),
        args_delta("", item_id="a"),
        added("b", call_id=5, name=5),
    )
    assert events == [Delta("", "tool_call", 0), Delta("", "tool_call", 1)]


def test_decoder_endings_exactly() -> None:
    usage = {"input_tokens": 1, "output_tokens": 2, "total_tokens": 9}
    for status, finish, raw in [
        ("weird", "weird", "weird"),
        ("", "stop", "completed"),
        (5, "stop", "completed"),
    ]:
        value = {"type": "response.completed", "response": {"status": status, "usage": usage}}
        _, (done,) = feed_events(value)
        assert done == Done(finish, "", usage=Usage(1, 2, 9), raw_finish_reason=raw)
    incomplete = {"type": "response.incomplete", "response": {"incomplete_details": {"reason": 5}}}
    _, (done,) = feed_events(incomplete)
    assert type(done) is Done and done.raw_finish_reason == "incomplete"
    _, (failed,) = feed_events({"type": "response.failed", "response": {"error": None}})
    assert failed == Error("provider", "the response failed", status=200)
    _, (error,) = feed_events({"type": "error"})
    assert error == Error("provider", "the provider reported an error", status=200)
    body = get_dialect("openai-responses").decode_body({"error": {}})
    assert body == [Error("provider", "the response failed", status=200)]


def test_decoder_error_names_and_retry_words() -> None:
    for word in ("server", "overload", "timeout", "unavailable", "internal"):
        _, (error,) = feed_events({"type": "error", "code": f"x_{word}", "message": "m"})
        assert error == Error(
            "provider", "m", status=200, retryable=True, provider_type=f"x_{word}"
        )
    # an empty code gives way to the type
    _, (error,) = feed_events({"type": "error", "code": "", "message": "m", "error": None})
    assert error == Error("provider", "m", status=200)
    value = {"type": "response.failed", "response": {"error": {"code": "", "type": "t"}}}
    _, (error,) = feed_events(value)
    assert error == Error("provider", "the response failed", status=200, provider_type="t")


def test_decode_body_items_at_their_edges() -> None:
    dialect = get_dialect("openai-responses")
    reasoning = {
        "type": "reasoning",
        "summary": [3, {"type": "summary_text", "text": "s"}],
        "content": [{"type": "reasoning_text", "text": "r"}],
    }
    call = {"type": "function_call", "call_id": "", "name": 5, "arguments": "{}"}
    events = dialect.decode_body({"output": [reasoning, call], "status": "completed"})
    assert events[:-1] == [
        Delta("s", "reasoning"),
        Delta("r", "reasoning"),
        Delta("{}", "tool_call", 0),
    ]
    with pytest.raises(RemoteProtocolError) as caught:
        dialect.decode_body({"output": [{**call, "arguments": 3}]})
    assert str(caught.value) == "function_call.arguments is not a string"
    from libchatty.dialects.plumbing import MAX_TOOL_CALLS

    many = [{"type": "function_call", "call_id": f"c{i}", "name": "f"} for i in range(1025)]
    events = dialect.decode_body({"output": many[:MAX_TOOL_CALLS]})
    assert len(calls_of(events)) == MAX_TOOL_CALLS
    with pytest.raises(RemoteProtocolError) as caught:
        dialect.decode_body({"output": many[: MAX_TOOL_CALLS + 1]})
    assert str(caught.value) == f"more than {MAX_TOOL_CALLS} function calls"


def test_decoder_item_done_finds_its_call_by_item_id() -> None:
    first = {"type": "function_call", "id": "a", "call_id": "c1", "name": "f", "arguments": "{}"}
    _, events = feed_events(
        added("a", call_id="c1", name="f", arguments=""),
        added("b", call_id="c2", name="g", arguments=""),
        {"type": "response.output_item.done", "item": first},
        COMPLETED,
    )
    assert calls_of(events) == (ToolCall("c1", "f", "{}"), ToolCall("c2", "g", ""))
