"""Ollama's ``/api/generate`` as a dialect (``"ollama-generate"``): requests built from a
ChatRequest (checked against docs/api.md, "Generate a completion", and the request
fixture), the refusals for what a prompt cannot carry, and its streams decoded whole,
byte by byte and at random splits, with the model reported on ``Done``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from decoding import check_like_fixture, decode_every_way
from test_ollama import PERSON, PNG, PNG_B64, loopback_events

from libchatty.call import Call
from libchatty.content import ImagePart, TextPart
from libchatty.dialects import DIALECT_NAMES, PROMPT_DIALECT_NAMES, get_dialect
from libchatty.endpoint import Endpoint
from libchatty.events import Done, ToolCall, Usage
from libchatty.options import JSONSchema, Reasoning
from libchatty.providers import resolve
from libchatty.replay import Script
from libchatty.request import ChatRequest, Message, Tool

DIALECT = get_dialect("ollama-generate")
BASE = "http://localhost:11434"
ENDPOINT = Endpoint(BASE, dialect="ollama-generate")


def body_of(request: ChatRequest) -> dict[str, Any]:
    return json.loads(DIALECT.build_request(ENDPOINT, request).body)


def make_call(stream: bool = True) -> Call:
    return Call(ENDPOINT, ChatRequest("gemma3", [Message("user", "hi")], stream=stream))


def test_chosen_by_name_and_kept_out_of_the_conversation_dialects() -> None:
    assert PROMPT_DIALECT_NAMES == ("ollama-generate",)
    assert "ollama-generate" not in DIALECT_NAMES
    assert DIALECT.name == "ollama-generate"
    assert DIALECT.framing == "ndjson"
    assert resolve("ollama", dialect="ollama-generate", env={}).dialect == "ollama-generate"


def test_request_matches_fixture() -> None:
    request = ChatRequest(
        "gemma3",
        [
            Message("system", "You are a concise assistant."),
            Message("user", "Tell me a short joke."),
        ],
    )
    check_like_fixture(
        Call(ENDPOINT, request), "request/ollama-generate.http", extra_body={"stream": True}
    )


def test_every_setting_rendered_as_documented() -> None:
    request = ChatRequest(
        "llava",
        [
            Message("developer", "Answer in JSON."),
            Message("user", [TextPart("Who is "), ImagePart(PNG), TextPart("this?")]),
        ],
        stream=False,
        temperature=0.5,
        max_tokens=100,
        stop=["\n"],
        seed=3,
        response_format=JSONSchema("person", PERSON),
        reasoning=Reasoning(effort="high"),
        extra={"options": {"num_ctx": 4096}, "keep_alive": "1m", "raw": False},
    )
    assert body_of(request) == {
        "model": "llava",
        "prompt": "Who is this?",
        "system": "Answer in JSON.",
        "images": [PNG_B64],
        "stream": False,
        "format": PERSON,
        "think": "high",
        "options": {
            "temperature": 0.5,
            "num_predict": 100,
            "stop": ["\n"],
            "seed": 3,
            "num_ctx": 4096,
        },
        "keep_alive": "1m",
        "raw": False,
    }
    json_mode = ChatRequest("m", [Message("user", "x")], response_format="json", n=1)
    assert body_of(json_mode) == {"model": "m", "prompt": "x", "stream": True, "format": "json"}


def test_request_headers() -> None:
    endpoint = Endpoint("https://ollama.com", "k", dialect="ollama-generate")
    request = ChatRequest("m", [Message("user", "x")], headers={"X-Trace": "t"})
    spec = DIALECT.build_request(endpoint, request)
    assert (spec.method, spec.target) == ("POST", "/api/generate")
    assert spec.headers == (("Authorization", "Bearer k"), ("X-Trace", "t"))


HOW = "use the 'ollama' dialect (/api/chat) for a conversation"
PREFIX = "Ollama /api/generate takes one prompt (an optional system message, then one user message)"


@pytest.mark.parametrize(
    ("messages", "tools", "why"),
    [
        ([Message("user", "a"), Message("assistant", "b"), Message("user", "c")], None,
         "this request has 3 messages after the system message"),
        ([Message("system", "s")], None, "this request has 0 messages after the system message"),
        ([Message("assistant", "a")], None, "the last message has role 'assistant', not 'user'"),
        ([Message("user", "a")], [Tool("f")], "it has no tools"),
        ([Message("system", [TextPart("s"), ImagePart(PNG)]), Message("user", "u")], None,
         "the system message carries images"),
        ([Message("system", "s"), Message("system", "t"), Message("user", "u")], None,
         "this request has 2 messages after the system message"),
        ([Message("tool", "r", tool_call_id="c")], None,
         "the last message has role 'tool', not 'user'"),
    ],
)  # fmt: skip
def test_what_a_prompt_cannot_carry_is_refused(
    messages: list[Message], tools: list[Tool] | None, why: str
) -> None:
    with pytest.raises(ValueError) as caught:
        body_of(ChatRequest("m", messages, tools=tools))
    assert str(caught.value) == f"{PREFIX}: {why}; {HOW}"


def test_image_url_n_and_tool_calls_are_refused() -> None:
    with pytest.raises(ValueError) as caught:
        body_of(ChatRequest("m", [Message("user", [ImagePart(url="https://x.test/a.png")])]))
    assert str(caught.value) == (
        "Ollama /api/generate cannot send an image by URL (part 0 of a user message); pass "
        "the bytes (ImagePart(data=...))"
    )
    with pytest.raises(ValueError) as caught:
        body_of(ChatRequest("m", [Message("user", "x")], n=2))
    assert str(caught.value) == (
        "Ollama /api/generate returns one answer per request: ChatRequest.n must be 1"
    )
    system = Message("system", "s", tool_calls=(ToolCall("c", "f", "{}"),))
    with pytest.raises(ValueError) as caught:
        body_of(ChatRequest("m", [system, Message("user", "u")]))
    assert str(caught.value) == (
        f"{PREFIX}: the system message carries tool calls or a tool result; {HOW}"
    )


def test_stream_decoded_every_way_with_model() -> None:
    text = "Why don't scientists trust atoms? Because they make up everything!"
    for how, events in decode_every_way("ollama/stream-generate.ndjson.http", make_call):
        done = events[-1]
        assert isinstance(done, Done), how
        assert (done.text, done.finish_reason, done.usage) == (text, "stop", Usage(13, 14, 27))
        assert (done.model, done.response_id) == ("gemma3", None), how
    for how, events in decode_every_way("ollama/mine-generate-thinking.ndjson.http", make_call):
        done = events[-1]
        assert isinstance(done, Done), how
        assert (done.text, done.reasoning, done.model) == ("42", "The answer is 42.", "qwen3")
        assert done.usage == Usage(7, 9, 16)


def test_whole_body() -> None:
    body = {
        "model": "gemma3",
        "created_at": "2025-06-11T15:58:21Z",
        "response": "Hi!",
        "thinking": "greet",
        "done": True,
        "done_reason": "length",
        "context": [1, 2],
        "prompt_eval_count": 3,
        "eval_count": 2,
    }
    events = DIALECT.decode_body(body)
    assert events[-1] == Done(
        "length",
        "Hi!",
        reasoning="greet",
        usage=Usage(3, 2, 5),
        raw_finish_reason="length",
        model="gemma3",
    )


def test_round_trip_through_the_replay_server() -> None:
    from libchatty.bindings.server import ReplayServer

    with ReplayServer(script=Script(text="A joke.", model="gemma3")) as server:
        endpoint = Endpoint(server.base_url, dialect="ollama-generate")
        for stream in (True, False):
            request = ChatRequest(
                "gemma3",
                [
                    Message("system", "Be brief."),
                    Message("user", [TextPart("Joke?"), ImagePart(PNG)]),
                ],
                stream=stream,
                response_format="json",
                reasoning=Reasoning(),
            )
            done = loopback_events(server, endpoint, request)[-1]
            assert isinstance(done, Done)
            assert (done.text, done.model) == ("A joke.", "gemma3")
            sent = server.requests[-1]
            assert sent.path == "/v1/api/generate"
            assert sent.json == {
                "model": "gemma3",
                "prompt": "Joke?",
                "system": "Be brief.",
                "images": [PNG_B64],
                "stream": stream,
                "format": "json",
                "think": True,
            }


def test_a_user_tool_result_and_a_system_document_are_refused_by_name() -> None:
    from libchatty.content import DocumentPart

    user = Message("user", "u", tool_call_id="c")
    with pytest.raises(ValueError) as caught:
        body_of(ChatRequest("m", [user]))
    assert str(caught.value) == (
        f"{PREFIX}: the user message carries tool calls or a tool result; {HOW}"
    )
    system = Message("system", [DocumentPart(data=b"%PDF")])
    with pytest.raises(ValueError) as caught:
        body_of(ChatRequest("m", [system, Message("user", "u")]))
    assert str(caught.value) == (
        "Ollama /api/generate cannot send a DocumentPart (part 0 of a system message): it "
        "takes text and images only"
    )
