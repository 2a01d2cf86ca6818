"""A real two-turn tool loop in every dialect, and signed reasoning that survives it.

Turn 1 asks with tools and gets tool calls; the user code appends
``completion.to_message()`` and one ``tool`` message per call, and turn 2 gets the final
answer. The test then reads the second request as the server recorded it and checks the
assistant turn and the tool results in that dialect's exact wire shape.

The replay server answers every request with one script, so each turn has its own
server (the tool-calling one, then the answering one) and the client is built for each
from the same settings; the conversation is what carries over, as in a real loop.

Signatures: the replay server signs Anthropic thinking (a fixed ``signature_delta``), so
that round trip runs over the wire. It cannot sign Gemini calls, so the real
``thoughtSignature`` round trip is checked at unit level: the recorded fixture through a
``Call``, ``Completion.to_message()``, then ``build_request``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
from decoding import feed
from libchatty.bindings._api import Completion, Timeout
from libchatty.bindings.blocking import Client
from libchatty.bindings.server import RecordedRequest, ReplayServer
from wire import fixture

from libchatty.call import Call
from libchatty.dialects import DIALECT_NAMES, get_dialect
from libchatty.endpoint import Endpoint
from libchatty.events import Done, ToolCall
from libchatty.replay import Script, get_renderer
from libchatty.request import ChatRequest, Message, Tool

API_KEY: Final = "test-key"
QUESTION: Final = "What is the weather in Paris, and what time is it there?"
REASONING: Final = "Two facts: call both tools at once."
CALLS: Final = (
    ToolCall("call_1", "get_weather", '{"city": "Paris"}'),
    ToolCall("call_2", "get_time", '{"tz": "Europe/Paris"}'),
)
RESULTS: Final = {"get_weather": '{"temp_c": 21, "sky": "clear"}', "get_time": '"14:05"'}
FINAL: Final = "It is 21 °C and clear in Paris, and 14:05."
TOOLS: Final = [
    Tool("get_weather", "Weather in a city", {"type": "object", "properties": {"city": {}}}),
    Tool("get_time", "Local time in a zone", {"type": "object", "properties": {"tz": {}}}),
]
# Gemini 3 wants a signature on every replayed call: with this model the dialect's
# placeholder shows up where the replay server sent none.
MODELS: Final = {"gemini": "gemini-3-flash-preview"}
MODEL: Final = "some-model"
# Generous, never reached when things work; they only turn a hang into a failure.
TIMEOUT: Final = Timeout(connect=5.0, idle=5.0, total=20.0)
# The signature the replay server's Anthropic rendering puts on thinking.
REPLAY_SIGNATURE: Final = "c2lnbmF0dXJl"

GEMINI_IDS: Final = ["call_16602b68e69aa37fbcb87aab", "call_a764e13300f1b13379eecc08"]
OLLAMA_IDS: Final = ["call_6050d5e08f692a7a2488eb26", "call_7e370dfe162080f94a0e374c"]
TOOL_TURN: Final = Script(reasoning=REASONING, tool_calls=CALLS, finish_reason="tool_calls")
ANSWER_TURN: Final = Script(text=FINAL)


@pytest.fixture(scope="module")
def tool_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=TOOL_TURN) as server:
        yield server


@pytest.fixture(scope="module")
def answer_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=ANSWER_TURN) as server:
        yield server


def client(server: ReplayServer, dialect: str) -> Client:
    # OpenAI base URLs end in /v1; the others are the bare host (the dialect adds its path).
    base = server.base_url
    if not dialect.startswith("openai"):
        parts = urlsplit(base)
        base = f"{parts.scheme}://{parts.netloc}"
    return Client(base_url=base, api_key=API_KEY, dialect=dialect, timeout=TIMEOUT, env={})


# --- the user's code: one tool loop, the same in every dialect ---------------------------------
def run_tool(call: ToolCall) -> str:
    return RESULTS[call.name]


def tool_loop(
    first: Client, second: Client, model: str, streamed: bool, with_name: bool = True
) -> list[Completion]:
    """Ask, run the tools the model called, send their results, get the answer: the
    README's recipe, verbatim (every call has an id, in every dialect). ``with_name``
    False leaves the name out: dialects that match results by name find it from the id."""
    pieces: list[str] = []

    def collect(text: str, done: bool) -> None:
        pieces.append(text)

    on_delta = collect if streamed else None
    messages: list[Message] = [Message("user", QUESTION)]
    turns = [first.chat(messages, model, tools=TOOLS, on_delta=on_delta)]
    for _ in range(3):  # bounded: this script needs one round of tools
        completion = turns[-1]
        if completion.finish_reason != "tool_calls":
            break
        messages.append(completion.to_message())
        for call in completion.tool_calls:
            if with_name:
                messages.append(
                    Message("tool", run_tool(call), tool_call_id=call.id, name=call.name)
                )
            else:
                messages.append(Message("tool", run_tool(call), tool_call_id=call.id))
        turns.append(second.chat(messages, model, tools=TOOLS, on_delta=on_delta))
    return turns


# --- what the second request must carry, per dialect -------------------------------------------
def arguments(call: ToolCall) -> Any:
    return json.loads(call.arguments)


def openai_chat_turns(ids: list[str]) -> list[Any]:
    return [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call_id, call in zip(ids, CALLS, strict=True)
            ],
        },
        *(
            {
                "role": "tool",
                "content": RESULTS[call.name],
                "tool_call_id": call_id,
                "name": call.name,
            }
            for call_id, call in zip(ids, CALLS, strict=True)
        ),
    ]


def openai_responses_turns(ids: list[str]) -> list[Any]:
    return [
        {"role": "user", "content": QUESTION},
        *(
            {
                "type": "function_call",
                "call_id": call_id,
                "name": call.name,
                "arguments": call.arguments,
            }
            for call_id, call in zip(ids, CALLS, strict=True)
        ),
        *(
            {"type": "function_call_output", "call_id": call_id, "output": RESULTS[call.name]}
            for call_id, call in zip(ids, CALLS, strict=True)
        ),
    ]


def anthropic_turns(ids: list[str]) -> list[Any]:
    return [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": [
                # The signed thinking goes back first and unchanged.
                {"type": "thinking", "thinking": REASONING, "signature": REPLAY_SIGNATURE},
                *(
                    {"type": "tool_use", "id": call_id, "name": call.name, "input": arguments(call)}
                    for call_id, call in zip(ids, CALLS, strict=True)
                ),
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call_id, "content": RESULTS[call.name]}
                for call_id, call in zip(ids, CALLS, strict=True)
            ],
        },
    ]


def gemini_turns(ids: list[str]) -> list[Any]:
    return [
        {"role": "user", "parts": [{"text": QUESTION}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": call.name, "args": arguments(call)},
                    "thoughtSignature": "skip_thought_signature_validator",
                }
                for call in CALLS
            ],
        },
        {
            "role": "user",
            "parts": [
                # A result that is not a JSON object is wrapped, as Google's SDKs do.
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"temp_c": 21, "sky": "clear"},
                    }
                },
                {"functionResponse": {"name": "get_time", "response": {"result": "14:05"}}},
            ],
        },
    ]


def ollama_turns(ids: list[str]) -> list[Any]:
    return [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"function": {"name": call.name, "arguments": arguments(call)}} for call in CALLS
            ],
        },
        *(
            {"role": "tool", "content": RESULTS[call.name], "tool_name": call.name}
            for call in CALLS
        ),
    ]


def cohere_turns(ids: list[str]) -> list[Any]:
    return [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            # The tool plan (the turn's reasoning) goes back with the calls.
            "tool_plan": REASONING,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call_id, call in zip(ids, CALLS, strict=True)
            ],
        },
        *(
            {
                "role": "tool",
                "tool_call_id": call_id,
                # One citable document per result.
                "content": [{"type": "document", "document": {"data": RESULTS[call.name]}}],
            }
            for call_id, call in zip(ids, CALLS, strict=True)
        ),
    ]


def bedrock_turns(ids: list[str]) -> list[Any]:
    # Converse: content blocks; the signed reasoning goes back first, then the calls;
    # the results go back in one user turn (toolResult blocks with text content).
    return [
        {"role": "user", "content": [{"text": QUESTION}]},
        {
            "role": "assistant",
            "content": [
                {
                    "reasoningContent": {
                        "reasoningText": {"text": REASONING, "signature": REPLAY_SIGNATURE}
                    }
                },
                *(
                    {
                        "toolUse": {
                            "toolUseId": call_id,
                            "name": call.name,
                            "input": arguments(call),
                        }
                    }
                    for call_id, call in zip(ids, CALLS, strict=True)
                ),
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": call_id, "content": [{"text": RESULTS[call.name]}]}}
                for call_id, call in zip(ids, CALLS, strict=True)
            ],
        },
    ]


EXPECTED_TURNS: Final = {
    "openai-chat": ("messages", openai_chat_turns),
    "openai-responses": ("input", openai_responses_turns),
    "anthropic": ("messages", anthropic_turns),
    "gemini": ("contents", gemini_turns),
    "ollama": ("messages", ollama_turns),
    "cohere": ("messages", cohere_turns),
    "bedrock": ("messages", bedrock_turns),
}


def test_every_dialect_has_an_expected_shape() -> None:
    assert set(EXPECTED_TURNS) == set(DIALECT_NAMES)


# Ids as the provider sent them; Gemini and Ollama send none, so libchatty made them
# (sha256 of the response's responseId / created_at, the index, name and arguments):
# the same whether streamed or not, distinct, and pinned here.
SENT_IDS: Final = {
    "openai-chat": ["call_1", "call_2"],
    "openai-responses": ["call_1", "call_2"],
    "anthropic": ["call_1", "call_2"],
    "gemini": GEMINI_IDS,
    "ollama": OLLAMA_IDS,
    "cohere": ["call_1", "call_2"],
    "bedrock": ["call_1", "call_2"],
}


@pytest.mark.parametrize("with_name", [True, False], ids=["named", "id-only"])
@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_two_turn_tool_loop(
    dialect: str,
    streamed: bool,
    with_name: bool,
    tool_server: ReplayServer,
    answer_server: ReplayServer,
) -> None:
    model = MODELS.get(dialect, MODEL)
    before, asked = len(answer_server.requests), len(tool_server.requests)
    with client(tool_server, dialect) as first, client(answer_server, dialect) as second:
        turns = tool_loop(first, second, model, streamed, with_name)

    assert len(turns) == 2
    calls, answer = turns
    assert [c.id for c in calls.tool_calls] == SENT_IDS[dialect]
    assert calls.finish_reason == "tool_calls"
    assert [(c.name, arguments(c)) for c in calls.tool_calls] == [
        (c.name, arguments(c)) for c in CALLS
    ]
    assert calls.reasoning == REASONING
    signature = REPLAY_SIGNATURE if dialect in ("anthropic", "bedrock") else None
    assert calls.reasoning_signature == signature
    assert (answer.text, answer.finish_reason, answer.tool_calls) == (FINAL, "stop", ())

    assert len(tool_server.requests) == asked + 1
    (request,) = answer_server.requests[before:]
    wire = get_renderer(dialect)
    assert wire.matches(request.method, request.target)
    assert wire.is_stream_request(request.target, request.json) is streamed
    key, expected = EXPECTED_TURNS[dialect]
    if dialect == "openai-chat" and not with_name:
        want = expected(SENT_IDS[dialect])
        for turn in want[2:]:
            del turn["name"]
    else:
        want = expected(SENT_IDS[dialect])
    assert sent_turns(request, key) == want


def azure_client(server: ReplayServer) -> Client:
    """``Client("azure")`` configured as a user does, the resource being the server."""
    parts = urlsplit(server.base_url)
    env = {
        "AZURE_OPENAI_ENDPOINT": f"{parts.scheme}://{parts.netloc}",
        "AZURE_OPENAI_API_KEY": API_KEY,
    }
    return Client("azure", timeout=TIMEOUT, env=env)


@pytest.mark.parametrize("with_name", [True, False], ids=["named", "id-only"])
@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "whole"])
def test_two_turn_tool_loop_on_azure(
    streamed: bool, with_name: bool, tool_server: ReplayServer, answer_server: ReplayServer
) -> None:
    """The same loop through ``Client("azure")``: OpenAI chat completions on Azure's v1
    path, the key in ``api-key`` (recorded redacted: the servers keep no credentials)."""
    before, asked = len(answer_server.requests), len(tool_server.requests)
    with azure_client(tool_server) as first, azure_client(answer_server) as second:
        turns = tool_loop(first, second, MODEL, streamed, with_name)

    calls, answer = turns
    assert [c.id for c in calls.tool_calls] == ["call_1", "call_2"]
    assert calls.reasoning == REASONING
    assert (answer.text, answer.finish_reason, answer.tool_calls) == (FINAL, "stop", ())
    (ask,) = tool_server.requests[asked:]
    (request,) = answer_server.requests[before:]
    want = openai_chat_turns(["call_1", "call_2"])
    if not with_name:
        for turn in want[2:]:
            del turn["name"]
    assert sent_turns(request, "messages") == want
    for sent in (ask, request):
        assert sent.target == "/openai/v1/chat/completions"
        assert get_renderer("openai-chat").is_stream_request(sent.target, sent.json) is streamed
        assert sent.headers["api-key"] == "***"
        assert "authorization" not in sent.headers


def sent_turns(request: RecordedRequest, key: str) -> Any:
    body = request.json
    assert isinstance(body, dict), request.body[:200]
    return body[key]


# --- real signatures, from recorded provider responses, through build_request -----------------
ANTHROPIC_SIGNATURE: Final = (
    "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYdsdlPJnk6e97xhruQMuVpBpxV2OfIb/JASWmgSFHkJfa8"
    "CISBqBCmSgruYqUXR3XSppS+dlPMXkIMaxfN56k1jLdovY2JPZ1LNHOYBA2j0ASYVK2voGZJyK2MaE88OsXRvnI02ODUSdlK"
    "b5rsGeHGawg20VE0ar/t3vTDSFUn19NnTotPJgqJb=="
)
GEMINI_SIGNATURE: Final = (
    "CiQB0e2KbLZeWcM91NXqA95XQvY3K+GBsQs4coS26beDMayaNgRqLo42jUI6vPCUKy/6XFlHIm/Hn6WpMFqcGltwdtDI"
    "N+gxCYcPcVLJKlUVFQk3nrH0TNS1mWiRzjPMU=="
)


def completion_of(dialect: str, name: str, model: str) -> Completion:
    """Fixture ``name`` decoded by a real ``Call``, as ``chat()`` would return it."""
    endpoint = Endpoint("https://provider.example", "k", dialect=dialect)
    call = Call(endpoint, ChatRequest(model, [Message("user", QUESTION)]))
    done = feed(call, [fixture(name)])[-1]
    assert isinstance(done, Done), done
    return Completion.from_done(done, streamed=True)


def second_request(dialect: str, model: str, turn: Message, *results: Message) -> Any:
    endpoint = Endpoint("https://provider.example", "k", dialect=dialect)
    messages = [Message("user", QUESTION), turn, *results]
    spec = get_dialect(dialect).build_request(endpoint, ChatRequest(model, messages))
    return json.loads(spec.body)


def test_anthropic_thinking_signature_comes_back_unchanged() -> None:
    completion = completion_of("anthropic", "anthropic/stream-thinking.http", "claude-sonnet-4-5")
    assert completion.reasoning_signature == ANTHROPIC_SIGNATURE
    turn = completion.to_message()
    body = second_request("anthropic", "claude-sonnet-4-5", turn, Message("user", "And 27 * 454?"))
    blocks = body["messages"][1]["content"]
    assert blocks[0] == {
        "type": "thinking",
        "thinking": completion.reasoning,
        "signature": ANTHROPIC_SIGNATURE,
    }
    assert blocks[1:] == [{"type": "text", "text": completion.text}]


@pytest.mark.parametrize("model", ["gemini-3-pro-preview", "gemini-2.5-flash"])
def test_gemini_thought_signature_comes_back_unchanged(model: str) -> None:
    completion = completion_of("gemini", "gemini/stream-function-call.http", model)
    (call,) = completion.tool_calls
    assert call.signature == GEMINI_SIGNATURE
    result = Message("tool", '{"temp": 48}', tool_call_id=call.name, name=call.name)
    body = second_request("gemini", model, completion.to_message(), result)
    assert body["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": call.name, "args": arguments(call)},
                    "thoughtSignature": GEMINI_SIGNATURE,  # never the placeholder
                }
            ],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": call.name, "response": {"temp": 48}}}],
        },
    ]


def test_gemini_parallel_calls_keep_each_own_signature() -> None:
    completion = completion_of(
        "gemini", "gemini/mine-stream-parallel-calls.http", "gemini-3-pro-preview"
    )
    assert [c.signature for c in completion.tool_calls] == ["c2ln==", None]
    body = second_request("gemini", "gemini-3-pro-preview", completion.to_message())
    parts = body["contents"][1]["parts"]
    assert [p.get("thoughtSignature") for p in parts if "functionCall" in p] == [
        "c2ln==",
        "skip_thought_signature_validator",  # the unsigned call only
    ]
