"""The Ollama native dialect: fixtures through the Call, a hypothesis-generated NDJSON
stream encoded here (not by the dialect), render round trips, and request building."""

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
    check_like_fixture,
    check_shape,
    decode_every_way,
    feed,
    summary,
    wanted,
)
from hypothesis import given
from hypothesis import strategies as st
from wire import (
    all_splittings,
    chunked_response,
    cut_at,
    fixture,
    fixture_names,
    parse_request,
    sized_response,
)

from libchatty.call import Call
from libchatty.content import AudioPart, DocumentPart, ImagePart, TextPart
from libchatty.dialects import get_dialect
from libchatty.dialects.ollama import OllamaStreamDecoder
from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done, Error, Event, ToolCall, Usage
from libchatty.exceptions import RemoteProtocolError
from libchatty.options import JSONSchema, Reasoning
from libchatty.replay import Script, get_renderer
from libchatty.request import ChatRequest, Message, Tool

DIALECT = get_dialect("ollama")
RENDERER = get_renderer("ollama")
BASE = "http://localhost:11434"


def make_call(stream: bool = True, key: str | None = None) -> Call:
    request = ChatRequest("llama3.2", [Message("user", "hi")], stream=stream)
    return Call(Endpoint(BASE, key, dialect="ollama"), request)


# --- every fixture, whole, byte by byte and at random splits --------------------------------
SHARED = [n for n in fixture_names("ollama") if not n.startswith("ollama/mine-")]


@pytest.mark.parametrize("name", SHARED)
def test_fixture(name: str) -> None:
    # function.arguments is an object on the wire: arguments are compared parsed.
    # expected.json records Ollama's calls without ids, as on the wire; libchatty gives
    # each one a synthetic id (SYNTHETIC_IDS pins them).
    want = wanted(name, exact_arguments=False)
    for call, call_id in zip(want["tool_calls"], SYNTHETIC_IDS.get(name, ()), strict=True):
        assert call["id"] is None
        call["id"] = call_id
    for how, events in decode_every_way(name, make_call):
        assert summary(events, exact_arguments=False) == want, (name, how)


#: The synthetic ids of the fixture's calls (sha256 of created_at, index, name and
#: arguments), pinned: the same bytes must always give the same ids.
SYNTHETIC_IDS: dict[str, tuple[str, ...]] = {
    "ollama/stream-chat-tool-calls.ndjson.http": (
        "call_78aaa5c98dac8b48ea74a6ae",
        "call_4940d5d65b9a037e1cb3e8d7",
    ),
}


def test_error_fixture_is_not_retryable_and_streaming_error_keeps_partial() -> None:
    events = feed(make_call(), [fixture("ollama/stream-error-midstream.ndjson.http")])
    error = events[-1]
    assert isinstance(error, Error) and not error.retryable
    assert [e.text for e in events[:-1] if isinstance(e, Delta)] == [" Yes", ".", "I", "can"]


def test_tool_call_deltas_carry_index_and_name() -> None:
    events = feed(make_call(), [fixture("ollama/stream-chat-tool-calls.ndjson.http")])
    calls = [e for e in events if isinstance(e, Delta) and e.kind == "tool_call"]
    assert [(c.index, c.tool_name, c.tool_call_id) for c in calls] == [
        (0, "get_current_weather", "call_78aaa5c98dac8b48ea74a6ae"),
        (1, "get_current_weather", "call_4940d5d65b9a037e1cb3e8d7"),
    ]
    done = events[-1]
    assert isinstance(done, Done)
    assert [c.id for c in done.tool_calls] == [c.tool_call_id for c in calls]


# --- my fixtures: cut off, error, generate with thinking ------------------------------------
MINE = {
    # The body ends (cleanly, by chunked framing) without a done line.
    "ollama/mine-cut-off.ndjson.http": ("incomplete", "The sky is"),
    # The connection drops in the middle of a line.
    "ollama/mine-eof-mid-line.ndjson.http": ("incomplete", "The sky"),
    # /api/generate with "think": reasoning at the top level.
    "ollama/mine-generate-thinking.ndjson.http": ("done", "42"),
    # A busy server says so inside the stream.
    "ollama/mine-busy.ndjson.http": ("overloaded", ""),
}


@pytest.mark.parametrize("name", sorted(MINE))
def test_my_fixture(name: str) -> None:
    what, text = MINE[name]
    for how, events in decode_every_way(name, make_call):
        last = check_shape(events)
        if what == "done":
            assert isinstance(last, Done), how
            assert last.text == text
            assert last.reasoning == "The answer is 42."
            assert last.usage == Usage(7, 9, 16)
        else:
            assert isinstance(last, Error), how
            assert last.kind == what
            assert last.partial == text
            assert last.retryable is (what == "overloaded")


# --- the decoder on hand-made lines ---------------------------------------------------------
def test_decoder_tool_call_shapes() -> None:
    decoder = OllamaStreamDecoder()
    line: dict[str, Any] = {
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_1", "function": {"name": "a", "arguments": '{"x":1}'}},
                {"function": {"index": 0, "name": "b", "arguments": None}},
            ],
        },
        "done": False,
    }
    assert decoder.json_line(line) == [
        Delta('{"x":1}', "tool_call", 0, "call_1", "a"),
        Delta("{}", "tool_call", 1, "call_6d5019611ed21392a703457a", "b"),  # synthetic
    ]
    # A later line restarts the wire's index at 0: it is still a new call.
    line["message"]["tool_calls"] = [{"function": {"name": "c", "arguments": {"é": [1]}}}]
    assert decoder.json_line(line) == [
        Delta('{"é":[1]}', "tool_call", 2, "call_4d692200e97b6c7999ab30af", "c")
    ]
    done = decoder.json_line({"done": True, "done_reason": "stop"})
    assert isinstance(done[-1], Done)
    assert done[-1].finish_reason == "tool_calls" and done[-1].raw_finish_reason == "stop"
    assert [c.name for c in done[-1].tool_calls] == ["a", "b", "c"]


def test_decoder_done_without_reason_or_counts() -> None:
    decoder = OllamaStreamDecoder()
    decoder.json_line({"message": {"content": "hi"}, "done": False})
    (done,) = decoder.json_line({"done": True})
    assert done == Done("stop", "hi", raw_finish_reason="stop")


def test_decoder_final_line_may_carry_text() -> None:
    events = OllamaStreamDecoder().json_line(
        {"message": {"content": "bye"}, "done": True, "done_reason": "length", "eval_count": 3}
    )
    assert events[0] == Delta("bye")
    assert isinstance(events[1], Done)
    assert events[1].finish_reason == "length"
    assert events[1].usage == Usage(None, 3, None)


@pytest.mark.parametrize(
    "line",
    [
        [1, 2],
        "text",
        {"message": "not an object"},
        {"message": {"content": 5}},
        {"message": {"thinking": ["x"]}},
        {"response": {"a": 1}},
        {"message": {"tool_calls": {"function": {}}}},
        {"message": {"tool_calls": [{"function": "f"}]}},
        {"message": {"tool_calls": [{"function": {"name": 3}}]}},
    ],
)
def test_decoder_rejects_wrong_shapes(line: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        OllamaStreamDecoder().json_line(line)


def test_decoder_error_line_variants() -> None:
    decoder = OllamaStreamDecoder()
    decoder.json_line({"response": "par", "done": False})
    (error,) = decoder.json_line({"error": {"message": "boom"}})
    assert error == Error("provider", "boom", status=200, partial="par")
    (busy,) = OllamaStreamDecoder().json_line(
        {"error": "server busy, please try again.  maximum pending requests exceeded"}
    )
    assert isinstance(busy, Error) and busy.kind == "overloaded" and busy.retryable
    (long,) = OllamaStreamDecoder().json_line({"error": "x" * 100_000})
    assert isinstance(long, Error) and len(long.message) <= 2000


def test_decoder_end_without_done_is_incomplete() -> None:
    decoder = OllamaStreamDecoder()
    decoder.json_line({"message": {"content": "half"}, "done": False})
    end = decoder.end()
    assert isinstance(end, Error)
    assert (end.kind, end.partial, end.status) == ("incomplete", "half", 200)


def test_decode_body_without_done_flag_and_with_error() -> None:
    events = DIALECT.decode_body({"message": {"content": "x"}, "done_reason": "stop"})
    assert isinstance(events[-1], Done) and events[-1].text == "x"
    (error,) = DIALECT.decode_body({"error": "nope"})
    assert isinstance(error, Error) and error.kind == "provider"
    with pytest.raises(RemoteProtocolError):
        DIALECT.decode_body([])


# --- a hypothesis-generated stream, encoded here ----------------------------------------------
TEXT = st.text(min_size=1, max_size=12)
NAME = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
ARGS = st.dictionaries(
    st.text(max_size=6),
    st.one_of(st.integers(-(10**6), 10**6), st.text(max_size=8), st.booleans(), st.none()),
    max_size=3,
)
LINE = st.one_of(
    st.tuples(st.just("text"), TEXT),
    st.tuples(st.just("thinking"), TEXT),
    st.tuples(st.just("generate"), TEXT),
    st.tuples(st.just("tools"), st.lists(st.tuples(NAME, ARGS), min_size=1, max_size=3)),
)
ENDING = st.one_of(
    st.tuples(
        st.just("done"),
        st.sampled_from(["stop", "length", "load", None]),
        st.one_of(st.none(), st.integers(0, 10**6)),
        st.one_of(st.none(), st.integers(0, 10**6)),
    ),
    st.tuples(st.just("error"), st.text(min_size=1, max_size=30)),
    st.tuples(st.just("cut")),
)


def encode_line(value: dict[str, Any], ascii_only: bool) -> bytes:
    # Go's encoder escapes <, > and & and keeps other text raw; Python's escapes everything.
    text = json.dumps(value, ensure_ascii=ascii_only)
    if not ascii_only:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode()


@given(
    lines=st.lists(LINE, max_size=12),
    ending=ENDING,
    ascii_only=st.booleans(),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    chunk_cuts=st.lists(st.integers(0, 10**6), max_size=8),
    read_cuts=st.lists(st.integers(0, 10**6), max_size=8),
)
def test_generated_stream(
    lines: list[tuple[Any, ...]],
    ending: tuple[Any, ...],
    ascii_only: bool,
    newline: bytes,
    chunk_cuts: list[int],
    read_cuts: list[int],
) -> None:
    wire: list[bytes] = []
    text, reasoning, calls = [], [], []
    for kind, payload in lines:
        if kind == "text":
            line: dict[str, Any] = {"message": {"role": "assistant", "content": payload}}
            text.append(payload)
        elif kind == "thinking":
            line = {"message": {"role": "assistant", "content": "", "thinking": payload}}
            reasoning.append(payload)
        elif kind == "generate":
            line = {"response": payload}
            text.append(payload)
        else:
            wire_calls = []
            for position, (name, args) in enumerate(payload):
                function: dict[str, Any] = {"name": name, "arguments": args}
                if position:
                    function["index"] = position
                wire_calls.append({"function": function})
                calls.append((name, args))
            line = {"message": {"role": "assistant", "content": "", "tool_calls": wire_calls}}
        line = {"model": "m", "created_at": "2025-06-11T16:40:02Z", **line, "done": False}
        wire.append(encode_line(line, ascii_only))
    if ending[0] == "done":
        _, reason, prompt, completion = ending
        final: dict[str, Any] = {"model": "m", "message": {"content": ""}, "done": True}
        if reason is not None:
            final["done_reason"] = reason
        if prompt is not None:
            final["prompt_eval_count"] = prompt
        if completion is not None:
            final["eval_count"] = completion
        wire.append(encode_line(final, ascii_only))
    elif ending[0] == "error":
        wire.append(encode_line({"error": ending[1]}, ascii_only))
    body = b"".join(line + newline for line in wire)
    data = chunked_response(cut_at(body, chunk_cuts), "application/x-ndjson")

    events = feed(make_call(), cut_at(data, read_cuts))
    last = check_shape(events)
    assert "".join(e.text for e in events if isinstance(e, Delta) and e.kind == "text") == "".join(
        text
    )
    if ending[0] == "done":
        assert isinstance(last, Done)
        assert last.text == "".join(text) and last.reasoning == "".join(reasoning)
        assert [(c.name, json.loads(c.arguments)) for c in last.tool_calls] == calls
        assert last.raw_finish_reason == (ending[1] or "stop")
        if ending[2] is None and ending[3] is None:
            assert last.usage is None
        else:
            assert last.usage is not None
            assert (last.usage.input_tokens, last.usage.output_tokens) == (ending[2], ending[3])
    else:
        assert isinstance(last, Error)
        assert last.partial == "".join(text)
        if ending[0] == "error":
            # Ollama's errors have no type: a busy server is known by its words.
            busy = any(h in ending[1].lower() for h in ("server busy", "overloaded", "try again"))
            assert last.kind == ("overloaded" if busy else "provider")
            assert last.retryable is busy and last.message == ending[1][:2000]
        else:
            assert last.kind == "incomplete"


# --- render_* round trips ---------------------------------------------------------------------
SCRIPT = st.builds(
    Script,
    text=st.text(max_size=60),
    reasoning=st.text(max_size=40),
    tool_calls=st.lists(
        st.builds(
            ToolCall,
            id=st.none(),
            name=NAME,
            arguments=ARGS.map(lambda a: json.dumps(a, separators=(",", ":"), ensure_ascii=False)),
        ),
        max_size=3,
    ).map(tuple),
    finish_reason=st.sampled_from(["stop", "length", "tool_calls", "content_filter"]),
    usage=st.one_of(
        st.none(),
        st.tuples(st.integers(0, 10**5), st.integers(0, 10**5)).map(
            lambda t: Usage(t[0], t[1], t[0] + t[1])
        ),
    ),
)


def assert_matches_script(done: Event, script: Script) -> None:
    assert isinstance(done, Done)
    assert done.text == script.text
    assert done.reasoning == script.reasoning
    assert [(c.name, json.loads(c.arguments)) for c in done.tool_calls] == [
        (c.name, json.loads(c.arguments)) for c in script.tool_calls
    ]
    if script.finish_reason == "length":
        assert done.finish_reason == "length"
    else:  # Ollama says "stop" for tool calls and has no content filter
        assert done.finish_reason == ("tool_calls" if script.tool_calls else "stop")
    assert done.usage == script.usage


@given(script=SCRIPT, cuts=st.lists(st.integers(0, 10**6), max_size=6))
def test_render_stream_round_trip(script: Script, cuts: list[int]) -> None:
    lines = RENDERER.render_stream(script)
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    data = chunked_response(cut_at(b"".join(lines), cuts), "application/x-ndjson")
    events = feed(make_call(), cut_at(data, cuts))
    assert_matches_script(check_shape(events), script)


@given(script=SCRIPT)
def test_render_body_round_trip(script: Script) -> None:
    data = sized_response(RENDERER.render_body(script), "application/json; charset=utf-8")
    events = feed(make_call(stream=False), [data])
    assert_matches_script(check_shape(events), script)


def test_render_error_and_stream_error() -> None:
    body = RENDERER.render_error(404, "model 'x' not found")
    events = feed(make_call(), [sized_response(body, status=404, reason="Not Found")])
    check_error_event(events, "not_found", 404, "model 'x' not found")
    script = Script(text="Hello there")
    lines = [*RENDERER.render_stream(script)[:-1], RENDERER.render_stream_error("it broke")]
    data = chunked_response(cut_at(b"".join(lines), [7]), "application/x-ndjson")
    events = feed(make_call(), [data])
    assert isinstance(events[-1], Error)
    assert (events[-1].kind, events[-1].message, events[-1].partial) == (
        "provider",
        "it broke",
        "Hello there",
    )


def test_server_side_matching() -> None:
    assert RENDERER.matches("POST", "/api/chat")
    assert RENDERER.matches("POST", "/prefix/api/generate?x=1")
    assert not RENDERER.matches("GET", "/api/chat")
    assert not RENDERER.matches("POST", "/v1/chat/completions")
    assert RENDERER.is_stream_request("/api/chat", {"model": "m"})
    assert RENDERER.is_stream_request("/api/chat", {"stream": True})
    assert not RENDERER.is_stream_request("/api/chat", {"stream": False})


# --- requests -----------------------------------------------------------------------------------
def test_request_matches_fixture() -> None:
    call = Call(Endpoint(BASE, dialect="ollama"), ChatRequest("llama3.2", SKY))
    # Streaming is Ollama's default; libchatty says so explicitly.
    headers = check_like_fixture(call, "request/ollama-chat.http", extra_body={"stream": True})
    assert "authorization" not in headers
    head = parse_request(fixture("request/ollama-chat.http"))[0]
    assert (head.method, head.target, head.http_version) == (b"POST", b"/api/chat", b"1.1")
    assert (call.host, call.port, call.tls) == ("localhost", 11434, False)


def test_request_options_tools_and_auth() -> None:
    request = ChatRequest(
        "qwen3",
        [Message("developer", "be brief"), Message("user", "hi")],
        stream=False,
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        stop=["\n\n", "END"],
        tools=[Tool("get_weather", "Weather.", {"type": "object", "properties": {}})],
        extra={"think": True, "options": {"num_ctx": 8192}, "keep_alive": "5m"},
    )
    endpoint = Endpoint("https://ollama.com/", "cloud-key", dialect="ollama")
    spec = DIALECT.build_request(endpoint, request)
    assert (spec.method, spec.target) == ("POST", "/api/chat")
    assert ("Authorization", "Bearer cloud-key") in spec.headers
    body = json.loads(spec.body)
    assert body == {
        "model": "qwen3",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ],
        "stream": False,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather.",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ],
        "options": {
            "temperature": 0.2,
            "top_p": 0.9,
            "num_predict": 64,
            "stop": ["\n\n", "END"],
            "num_ctx": 8192,
        },
        "think": True,
        "keep_alive": "5m",
    }
    none = DIALECT.build_request(
        endpoint, ChatRequest("m", [Message("user", "x")], tools=request.tools, tool_choice="none")
    )
    assert "tools" not in json.loads(none.body)


def test_request_tool_loop_messages() -> None:
    call = ToolCall("call_9", "get_weather", '{"city":"Paris"}')
    request = ChatRequest(
        "llama3.1",
        [
            Message("user", "weather?"),
            Message("assistant", None, tool_calls=(call, ToolCall(None, "noop", ""))),
            Message("tool", "18C", tool_call_id="call_9"),
            Message("tool", "ok", tool_call_id="other", name="noop"),
        ],
    )
    body = json.loads(DIALECT.build_request(Endpoint(BASE, dialect="ollama"), request).body)
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "noop", "arguments": {}}},
            ],
        },
        {"role": "tool", "content": "18C", "tool_name": "get_weather"},
        {"role": "tool", "content": "ok", "tool_name": "noop"},
    ]


@pytest.mark.parametrize("arguments", ["[1, 2]", "{not json"])
def test_request_rejects_tool_arguments_ollama_cannot_take(arguments: str) -> None:
    request = ChatRequest(
        "m", [Message("assistant", None, tool_calls=(ToolCall("c", "f", arguments),))]
    )
    with pytest.raises(ValueError, match="arguments"):
        DIALECT.build_request(Endpoint(BASE, dialect="ollama"), request)


def test_endpoint_headers_and_prefix() -> None:
    endpoint = Endpoint(
        "http://gpu-box:8080/ollama", "k", dialect="ollama", headers={"Authorization": "Basic x"}
    )
    spec = DIALECT.build_request(endpoint, ChatRequest("m", [Message("user", "x")]))
    assert spec.target == "/ollama/api/chat"
    assert spec.headers == (("Authorization", "Basic x"),)


def test_decoder_bounds() -> None:
    nested: dict[str, Any] = {}
    for _ in range(100_000):
        nested = {"a": nested}
    line = {"message": {"tool_calls": [{"function": {"name": "f", "arguments": nested}}]}}
    with pytest.raises(RemoteProtocolError, match="nested"):
        OllamaStreamDecoder().json_line(line)
    many = [{"function": {"name": "f", "arguments": {}}}] * 1025
    with pytest.raises(RemoteProtocolError, match="tool calls"):
        OllamaStreamDecoder().json_line({"message": {"tool_calls": many}})


# Any JSON value in any field the decoder reads: events or RemoteProtocolError, nothing else.
FUNCTION = st.fixed_dictionaries(
    {}, optional={"name": ANY_JSON, "arguments": ANY_JSON, "index": ANY_JSON}
)
CALLS = st.lists(
    st.one_of(
        SCALARS,
        st.fixed_dictionaries(
            {}, optional={"function": st.one_of(FUNCTION, ANY_JSON), "id": ANY_JSON}
        ),
    ),
    max_size=3,
)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={"content": ANY_JSON, "thinking": ANY_JSON, "tool_calls": st.one_of(CALLS, ANY_JSON)},
)
LINE_SHAPE = st.fixed_dictionaries(
    {},
    optional={
        "message": st.one_of(MESSAGE, ANY_JSON),
        "response": ANY_JSON,
        "thinking": ANY_JSON,
        "done": st.one_of(st.booleans(), ANY_JSON),
        "done_reason": ANY_JSON,
        "prompt_eval_count": ANY_JSON,
        "eval_count": ANY_JSON,
        "error": ANY_JSON,
    },
)


@given(lines=st.lists(st.one_of(LINE_SHAPE, ANY_JSON), min_size=1, max_size=4))
def test_decoder_never_leaks_other_exceptions(lines: list[Any]) -> None:
    decoder = OllamaStreamDecoder()
    check_decoder_survives(decoder.json_line, lines, decoder.end, decoder.acc)
    check_body_survives(DIALECT, lines[0])


@pytest.mark.parametrize(
    "bad",
    [
        {"message": {"content": "lost", "tool_calls": [5]}},
        {"message": {"content": "lost", "tool_calls": "no"}},
        {"message": {"content": "lost"}, "response": 7},
        {"message": {"thinking": "hm", "content": "lost"}, "thinking": []},
    ],
)
def test_a_bad_later_field_gives_no_partial_that_was_never_a_delta(bad: dict[str, Any]) -> None:
    body = (json.dumps({"message": {"content": "Ok "}}) + "\n" + json.dumps(bad) + "\n").encode()
    for how, pieces in all_splittings(sized_response(body, "application/x-ndjson")):
        events = feed(make_call(), pieces)
        assert [e for e in events if isinstance(e, Delta)] == [Delta("Ok ")], how
        last = events[-1]
        assert isinstance(last, Error)
        assert (last.kind, last.partial) == ("protocol", "Ok "), how


# --- issue 12: parts, structured output, reasoning, seed/n, headers, metadata ------------------
# Expected bodies are written from ollama/ollama docs/api.md ("Generate a chat completion":
# message ``images`` is a list of base64 strings; ``format`` is "json" or a JSON schema;
# ``think`` is a bool or "low"/"medium"/"high"; ``options.seed``), not from the renderer.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x01\x02\xff" * 3
PNG_B64 = "iVBORw0KGgoAAQL/AAEC/wABAv8="
PERSON = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def body_of(request: ChatRequest, endpoint: Endpoint | None = None) -> dict[str, Any]:
    spec = DIALECT.build_request(endpoint or Endpoint(BASE, dialect="ollama"), request)
    return json.loads(spec.body)


def test_image_parts_go_in_images_as_base64() -> None:
    import base64

    assert base64.b64encode(PNG).decode() == PNG_B64  # the constant is what Ollama wants
    parts = [
        TextPart("What is in "),
        ImagePart(PNG),
        TextPart("this picture?"),
        ImagePart(url="data:image/jpeg;base64,/9j/4AAQ"),
    ]
    body = body_of(ChatRequest("llava", [Message("user", parts)], stream=False))
    assert body == {
        "model": "llava",
        "messages": [
            {
                "role": "user",
                "content": "What is in this picture?",
                "images": [PNG_B64, "/9j/4AAQ"],
            }
        ],
        "stream": False,
    }


@pytest.mark.parametrize(
    ("part", "message"),
    [
        (
            ImagePart(url="https://example.com/cat.png?sig=secret"),
            "Ollama cannot send an image by URL (part 1 of a user message); pass the bytes "
            "(ImagePart(data=...))",
        ),
        (
            DocumentPart(b"%PDF-1.7"),
            "Ollama cannot send a DocumentPart (part 1 of a user message): it takes text and "
            "images only",
        ),
        (
            AudioPart(b"RIFF....WAVE", "audio/wav"),
            "Ollama cannot send an AudioPart (part 1 of a user message): it takes text and "
            "images only",
        ),
    ],
)
def test_parts_ollama_cannot_carry_are_refused(part: Any, message: str) -> None:
    request = ChatRequest("llava", [Message("user", [TextPart("look"), part])])
    with pytest.raises(ValueError) as caught:
        body_of(request)
    assert str(caught.value) == message
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("response_format", "wire"),
    [
        ("json", "json"),
        (JSONSchema("person", PERSON), PERSON),
        (JSONSchema("person", PERSON, strict=False, description="A person."), PERSON),
        (None, None),
    ],
)
def test_structured_output_is_format(response_format: Any, wire: Any) -> None:
    request = ChatRequest(
        "llama3.2", [Message("user", "Who?")], stream=False, response_format=response_format
    )
    expected: dict[str, Any] = {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "Who?"}],
        "stream": False,
    }
    if wire is not None:
        expected["format"] = wire
    assert body_of(request) == expected


@pytest.mark.parametrize(
    ("reasoning", "think"),
    [
        (Reasoning(), True),
        (Reasoning(effort="low"), "low"),
        (Reasoning(effort="medium"), "medium"),
        (Reasoning(effort="high", budget_tokens=2048), "high"),
        (Reasoning(budget_tokens=1024), True),
        (Reasoning(summary=True), True),
    ],
)
def test_reasoning_is_think(reasoning: Reasoning, think: Any) -> None:
    request = ChatRequest("gpt-oss", [Message("user", "2+2?")], reasoning=reasoning)
    assert body_of(request) == {
        "model": "gpt-oss",
        "messages": [{"role": "user", "content": "2+2?"}],
        "stream": True,
        "think": think,
    }


def test_seed_goes_in_options_and_n_above_one_is_refused() -> None:
    request = ChatRequest(
        "llama3.2", [Message("user", "hi")], temperature=0.0, seed=42, n=1, stream=False
    )
    assert body_of(request) == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
        "options": {"temperature": 0.0, "seed": 42},
    }
    with pytest.raises(ValueError) as caught:
        body_of(ChatRequest("llama3.2", [Message("user", "hi")], n=2))
    assert str(caught.value) == "Ollama returns one answer per request: ChatRequest.n must be 1"


def test_request_headers_follow_the_endpoints() -> None:
    endpoint = Endpoint("https://ollama.com", "cloud-key", dialect="ollama", headers={"X-A": "1"})
    request = ChatRequest("m", [Message("user", "x")], headers={"X-Trace": "t-1", "X-B": "2"})
    spec = DIALECT.build_request(endpoint, request)
    assert spec.headers == (
        ("Authorization", "Bearer cloud-key"),
        ("X-A", "1"),
        ("X-Trace", "t-1"),
        ("X-B", "2"),
    )


def test_done_carries_the_model_streamed_and_whole() -> None:
    for how, events in decode_every_way("ollama/stream-chat.ndjson.http", make_call):
        done = events[-1]
        assert isinstance(done, Done), how
        assert (done.model, done.response_id) == ("llama3.2", None), how
    for how, events in decode_every_way("ollama/nonstream-chat.http", make_call):
        done = events[-1]
        assert isinstance(done, Done), how
        assert (done.model, done.response_id) == ("llama3.2", None), how
    body = {"model": "qwen3:8b", "message": {"content": "hi"}, "done": True}
    assert DIALECT.decode_body(body)[-1] == Done(
        "stop", "hi", raw_finish_reason="stop", model="qwen3:8b"
    )
    decoder = OllamaStreamDecoder()
    with pytest.raises(RemoteProtocolError, match="'model'"):
        decoder.json_line({"model": 7, "done": True})


def loopback_events(server: Any, endpoint: Endpoint, request: ChatRequest) -> list[Event]:
    """One call to the replay server over a loopback socket: bounded in reads and time."""
    import socket

    call = Call(endpoint, request)
    events: list[Event] = []
    with socket.create_connection((call.host, call.port), timeout=5) as sock:
        sock.sendall(call.start())
        for _ in range(10_000):
            if not call.wants_data:
                break
            events.extend(call.receive_data(sock.recv(65536)))
    assert call.finished
    return events


def test_parts_and_format_round_trip_through_the_replay_server() -> None:
    from libchatty.bindings.server import ReplayServer

    script = Script(text='{"name": "Ada"}', model="llava")
    with ReplayServer(script=script, keep_credentials=True) as server:
        endpoint = Endpoint(server.base_url, dialect="ollama")
        for stream in (True, False):
            request = ChatRequest(
                "llava",
                [Message("user", [TextPart("Who is this?"), ImagePart(PNG)])],
                stream=stream,
                response_format=JSONSchema("person", PERSON),
                reasoning=Reasoning(effort="low"),
                seed=7,
                headers={"X-Trace": "t-1"},
            )
            events = loopback_events(server, endpoint, request)
            done = events[-1]
            assert isinstance(done, Done)
            assert (done.text, done.model) == ('{"name": "Ada"}', "llava")
            sent = server.requests[-1]
            assert sent.path == "/v1/api/chat"
            assert sent.headers["x-trace"] == "t-1"
            assert sent.json == {
                "model": "llava",
                "messages": [{"role": "user", "content": "Who is this?", "images": [PNG_B64]}],
                "stream": stream,
                "format": PERSON,
                "think": "low",
                "options": {"seed": 7},
            }


def test_ollama_does_not_stream_server_sent_events() -> None:
    from libchatty.sse import ServerSentEvent

    with pytest.raises(RemoteProtocolError) as caught:
        OllamaStreamDecoder().sse_event(ServerSentEvent(data="{}"))
    assert str(caught.value) == "this provider does not stream server-sent events"


# --- the decoder's edges, each pinned ------------------------------------------------------------
def _protocol_message(*lines: Any) -> str:
    decoder = OllamaStreamDecoder()
    with pytest.raises(RemoteProtocolError) as caught:
        for line in lines:
            decoder.json_line(line)
    return str(caught.value)


def _calls(count: int) -> dict[str, Any]:
    call = {"id": "c", "function": {"name": "f", "arguments": {}}}
    return {"message": {"tool_calls": [call] * count}}


def _deep() -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for _ in range(100_000):
        nested = {"a": nested}
    return nested


def test_a_stream_without_its_done_line_is_incomplete() -> None:
    decoder = OllamaStreamDecoder()
    decoder.json_line({"message": {"content": "Hel"}})
    assert decoder.end() == Error(
        "incomplete", "the Ollama stream ended before its final 'done' line", 200, partial="Hel"
    )


def test_wrong_tool_call_shapes_name_what_was_expected() -> None:
    assert _protocol_message({"message": {"tool_calls": {"a": 1}}}) == (
        "Ollama sent 'tool_calls' that is not a list"
    )
    assert _protocol_message({"message": {"tool_calls": [{"name": "f"}]}}) == (
        "Ollama sent a tool call without a 'function' object"
    )
    assert _protocol_message({"message": {"tool_calls": [{"function": {"name": 7}}]}}) == (
        "Ollama sent a tool call's name as int, not a string"
    )
    deep = {"message": {"tool_calls": [{"function": {"name": "f", "arguments": _deep()}}]}}
    assert _protocol_message(deep) == "Ollama tool call arguments is nested too deeply"
    assert _protocol_message({"error": _deep()}) == "Ollama error is nested too deeply"


def test_tool_calls_at_the_limit_and_one_past_it() -> None:
    decoder = OllamaStreamDecoder()
    events = decoder.json_line(_calls(1024))
    assert len(events) == 1024
    assert events[-1] == Delta("{}", "tool_call", 1023, "c", "f")
    assert _protocol_message(_calls(1025)) == "more than 1024 tool calls"
    assert _protocol_message(_calls(1023), _calls(2)) == "more than 1024 tool calls"


def test_an_error_that_is_an_object_or_empty() -> None:
    (error,) = OllamaStreamDecoder().json_line({"error": {"code": 7}})
    assert error == Error("provider", '{"code":7}', 200)
    (error,) = OllamaStreamDecoder().json_line({"error": ""})
    assert error == Error("provider", "Ollama reported an error", 200)


def test_wrong_line_shapes_name_what_was_expected() -> None:
    assert _protocol_message([1]) == "expected one JSON object per line, got list"
    assert _protocol_message({"message": "hi"}) == "Ollama sent 'message' that is not an object"
    assert _protocol_message({"message": {"content": 7}}) == (
        "Ollama sent 'content' as int, not a string"
    )
    assert _protocol_message({"message": {"thinking": 7}}) == (
        "Ollama sent 'thinking' as int, not a string"
    )
    assert _protocol_message({"done": True, "model": 7}) == (
        "Ollama sent 'model' as int, not a string"
    )


def test_an_empty_call_id_gets_a_synthetic_one_and_an_odd_done_reason_is_stop() -> None:
    from libchatty.dialects.base import synthetic_call_id

    call = {"id": "", "function": {"name": "f"}}
    line = {"created_at": "t", "message": {"tool_calls": [call]}, "done": True, "done_reason": 7}
    events = OllamaStreamDecoder().json_line(line)
    assert events[0] == Delta("{}", "tool_call", 0, synthetic_call_id("t", 0, "f", "{}"), "f")
    done = events[1]
    assert type(done) is Done
    assert (done.finish_reason, done.raw_finish_reason) == ("tool_calls", "stop")


def test_request_refusals_name_ollama() -> None:
    call = ToolCall("i", "f", "{")
    with pytest.raises(ValueError) as caught:
        body_of(
            ChatRequest("m", [Message("user", "x"), Message("assistant", None, tool_calls=[call])])
        )
    assert str(caught.value) == (
        "the arguments of tool call 'f' are not valid JSON (Ollama needs an object)"
    )
    with pytest.raises(ValueError) as caught:
        body_of(ChatRequest("m", [Message("user", "x")], extra={"options": 3}))
    assert str(caught.value) == "ChatRequest.extra['options'] must be a mapping for Ollama"
