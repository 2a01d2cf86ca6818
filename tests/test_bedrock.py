"""The Bedrock Converse dialect.

Streams are written here by an event stream encoder of this file (struct and zlib, not
``libchatty.eventstream``), checked against botocore's ``EventStreamBuffer``, and fed
through :class:`~libchatty.eventstream.EventStreamDecoder` and the dialect's decoder
whole, byte by byte and at random splits. The recorded-shape transcripts in
``fixtures/bedrock/*.jsonl`` (written from the API reference and botocore's service
model, padding field ``p`` included) are encoded into the ``.bin`` files beside them.
Requests are checked against botocore's own serializer (same body, same path) and its
SigV4 signer (same ``Authorization``), with no packet sent.

The dialect is not registered in ``libchatty.dialects`` yet, and ``Call`` does not route
event streams yet: everything here drives the dialect directly.
"""

from __future__ import annotations

import contextlib
import json
import struct
import zlib
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import h11
import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.eventstream import EventStreamBuffer  # type: ignore[import-untyped]
from botocore.session import Session  # type: ignore[import-untyped]
from decoding import ANY_JSON, check_body_survives, check_decoder_survives, check_shape
from hypothesis import given
from hypothesis import strategies as st
from wire import all_splittings, cut_at

from libchatty.content import AudioPart, DocumentPart, ImagePart, TextPart
from libchatty.dialects.bedrock import (
    DIALECT,
    EXCEPTIONS,
    BedrockStreamDecoder,
    decode_error,
    sign_request,
)
from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done, Error, Event, ToolCall, Usage
from libchatty.eventstream import EventStreamDecoder
from libchatty.exceptions import LocalProtocolError, RemoteProtocolError
from libchatty.options import JSONSchema, Reasoning
from libchatty.replay.bedrock import RENDERER
from libchatty.replay.script import Script
from libchatty.request import ChatRequest, Message, Tool
from libchatty.sigv4 import AWSCredentials

FIXTURES = Path(__file__).parent / "fixtures" / "bedrock"
BASE = "https://bedrock-runtime.us-east-1.amazonaws.com"
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
CREDS = AWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FQoGZXIvYXdz")
AT = datetime(2025, 5, 1, 12, 34, 56, tzinfo=timezone.utc)


# --- an independent event stream encoder ------------------------------------------------------
def es_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message with string headers (all Bedrock sends), lengths and CRCs by hand."""
    head = b""
    for name, value in headers.items():
        raw = value.encode()
        head += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw
    prelude = struct.pack(">II", 16 + len(head) + len(payload), len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def ev(name: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": name, ":content-type": "application/json", ":message-type": "event"}
    return es_message(headers, json.dumps(payload).encode())


def transcript(name: str) -> list[tuple[dict[str, str], bytes]]:
    lines = (FIXTURES / f"{name}.jsonl").read_text().splitlines()
    return [
        (item["headers"], json.dumps(item["payload"]).encode()) for item in map(json.loads, lines)
    ]


def botocore_decode(stream: bytes) -> list[tuple[dict[str, Any], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(stream)
    return [(m.headers, m.payload) for m in buffer]


def run(pieces: Iterable[bytes]) -> list[Event]:
    """What a Call will do with a 200 event stream: frame, decode, stop at the terminal
    event; at the end, ``end()`` (a stream cut inside a message is incomplete too)."""
    framing = EventStreamDecoder()
    decoder = DIALECT.stream_decoder(ChatRequest(MODEL, [Message("user", "hi")]))
    events: list[Event] = []
    for piece in pieces:
        for message in framing.feed(piece):  # (a framing fault raises: none expected here)
            got = decoder.stream_message(message)
            events.extend(got)
            if got and type(got[-1]) is not Delta:
                return events
    with contextlib.suppress(RemoteProtocolError):
        framing.close()  # a cut inside a message: what came before was delivered
    events.append(decoder.end())
    return events


def every_way(stream: bytes) -> list[Event]:
    """The events of ``stream``, the same whole, byte by byte and at random splits."""
    reference: list[Event] | None = None
    for how, pieces in all_splittings(stream):
        events = run(pieces)
        if reference is None:
            reference = events
        assert events == reference, how
    assert reference is not None
    check_shape(reference)  # a call with no input fragment gets "{}" at its end
    return reference


# --- the transcripts ------------------------------------------------------------------------
STREAMS = [p.stem for p in sorted(FIXTURES.glob("*.jsonl"))]


def fixture_stream(name: str) -> bytes:
    stream = b"".join(es_message(h, p) for h, p in transcript(name))
    if name == "stream-cut":
        stream = stream[:-40]  # cut inside the last message
    return stream


@pytest.mark.parametrize("name", STREAMS)
def test_bin_fixture_is_its_transcript_and_botocore_reads_it(name: str) -> None:
    stream = (FIXTURES / f"{name}.bin").read_bytes()
    assert stream == fixture_stream(name)
    if name != "stream-cut":
        assert botocore_decode(stream) == transcript(name)


def stream_fixture(name: str) -> list[Event]:
    return every_way((FIXTURES / f"{name}.bin").read_bytes())


def test_text() -> None:
    events = stream_fixture("stream-text")
    assert [e.text for e in events[:-1] if isinstance(e, Delta)] == [
        "The sky",
        " is blue because",
        " of Rayleigh scattering.",
    ]
    assert events[-1] == Done(
        "stop",
        "The sky is blue because of Rayleigh scattering.",
        usage=Usage(21, 14, 35),
        raw_finish_reason="end_turn",
    )


def test_tool_use_two_calls_one_without_arguments() -> None:
    events = stream_fixture("stream-tool-use")
    assert events[:4] == [
        Delta("Let me check the weather."),
        Delta("", "tool_call", 0, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "get_weather"),
        Delta('{"city": "Pa', "tool_call", 0),
        Delta('ris", "unit": "c"}', "tool_call", 0),
    ]
    assert events[-1] == Done(
        "tool_calls",
        "Let me check the weather.",
        tool_calls=(
            ToolCall(
                "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "get_weather", '{"city": "Paris", "unit": "c"}'
            ),
            ToolCall("tooluse_2ndCallNoArgs00000", "get_time", "{}"),
        ),
        usage=Usage(310, 62, 372),
        raw_finish_reason="tool_use",
    )


def test_reasoning_with_signature() -> None:
    events = stream_fixture("stream-reasoning")
    assert events[:3] == [
        Delta("The user asks about 2+2.", "reasoning"),
        Delta(" That is 4.", "reasoning"),
        Delta("2 + 2 = 4."),
    ]
    assert events[-1] == Done(
        "stop",
        "2 + 2 = 4.",
        reasoning="The user asks about 2+2. That is 4.",
        usage=Usage(45, 38, 83, None, 32),
        raw_finish_reason="end_turn",
        reasoning_signature="ErUBCkgIAxABGAIiQJx3Xq0ZmZ",
    )


def test_throttling_mid_stream_keeps_the_partial_text() -> None:
    assert stream_fixture("stream-throttling")[-1] == Error(
        "rate_limit",
        "Too many tokens, please wait before trying again.",
        status=200,
        retryable=True,
        partial="Partial answer",
        provider_type="throttlingException",
    )


def test_model_stream_error_names_the_model_failure() -> None:
    assert stream_fixture("stream-model-error")[-1] == Error(
        "provider",
        "Model stream error (model: upstream model crashed)",
        status=200,
        retryable=True,
        partial="Once upon",
        provider_type="modelStreamErrorException",
    )


def test_guardrail_is_content_filter() -> None:
    done = stream_fixture("stream-guardrail")[-1]
    assert isinstance(done, Done)
    assert (done.finish_reason, done.raw_finish_reason) == (
        "content_filter",
        "guardrail_intervened",
    )


def test_message_stop_without_metadata_is_done_without_usage() -> None:
    assert stream_fixture("stream-no-metadata")[-1] == Done(
        "stop", "The sky is blue because of Rayleigh scattering.", raw_finish_reason="end_turn"
    )


def test_cut_inside_a_message_is_incomplete_with_the_partial_text() -> None:
    assert stream_fixture("stream-cut")[-1] == Error(
        "incomplete",
        "the Bedrock stream ended before messageStop",
        partial="The sky is blue because",
    )


def test_empty_stream_is_incomplete_before_message_start() -> None:
    assert run([]) == [Error("incomplete", "the Bedrock stream ended before messageStart")]


# --- exceptions and HTTP errors -------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kind", "retryable"),
    [
        ("throttlingException", "rate_limit", True),
        ("modelStreamErrorException", "provider", True),
        ("validationException", "bad_request", False),
        ("internalServerException", "server", True),
        ("serviceUnavailableException", "overloaded", True),
        ("modelTimeoutException", "timeout", True),
        ("somethingNewException", "provider", False),
    ],
)
def test_every_exception_type(name: str, kind: str, retryable: bool) -> None:
    headers = {
        ":exception-type": name,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    stream = ev("messageStart", {"role": "assistant"}) + ev(
        "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "so far"}}
    )
    stream += es_message(headers, b'{"message":"it failed"}')
    assert every_way(stream)[-1] == Error(
        kind, "it failed", status=200, retryable=retryable, partial="so far", provider_type=name
    )


def test_exception_table_covers_the_service_model() -> None:
    # botocore's bedrock-runtime model lists the exceptions ConverseStream's stream carries.
    model = Session().get_service_model("bedrock-runtime")
    members = model.shape_for("ConverseStreamOutput").members
    names = {n for n, shape in members.items() if shape.metadata.get("exception")}
    assert names == set(EXCEPTIONS) - {"modelTimeoutException"}


def test_error_message_without_payload_and_error_message_type() -> None:
    bare = es_message({":exception-type": "throttlingException", ":message-type": "exception"}, b"")
    assert run([bare]) == [
        Error(
            "rate_limit",
            "Bedrock raised throttlingException in the stream",
            status=200,
            retryable=True,
            provider_type="throttlingException",
        )
    ]
    failed = es_message(
        {":error-code": "InternalFailure", ":error-message": "boom", ":message-type": "error"}, b""
    )
    assert run([failed]) == [Error("provider", "boom", status=200, provider_type="InternalFailure")]


def http_response(name: str) -> tuple[int, str, list[tuple[bytes, bytes]], bytes]:
    client = h11.Connection(h11.CLIENT)
    client.send(
        h11.Request(method="POST", target="/", headers=[("Host", "x"), ("Content-Length", "0")])
    )
    client.send(h11.EndOfMessage())
    client.receive_data((FIXTURES / name).read_bytes())
    head = client.next_event()
    assert isinstance(head, h11.Response)
    data = client.next_event()
    assert isinstance(data, h11.Data)
    return head.status_code, head.reason.decode(), list(head.headers), bytes(data.data)


@pytest.mark.parametrize(
    ("name", "want"),
    [
        (
            "error-validation.http",
            Error("bad_request", "The provided model identifier is invalid.", 400,
                  provider_type="ValidationException"),
        ),
        (
            "error-throttling.http",
            Error("rate_limit", "Too many requests, please wait before trying again.", 429,
                  retryable=True, provider_type="ThrottlingException"),
        ),
        (
            "error-auth.http",
            Error("auth", "The security token included in the request is invalid.", 403,
                  provider_type="UnrecognizedClientException"),
        ),
    ],
)  # fmt: skip
def test_http_error_bodies(name: str, want: Error) -> None:
    assert decode_error(*http_response(name)) == want


@pytest.mark.parametrize(
    ("status", "error_type", "kind", "retryable"),
    [
        (424, "ModelErrorException", "server", False),
        (408, "ModelTimeoutException", "timeout", True),
        (429, "ModelNotReadyException", "overloaded", True),
        (503, "ServiceUnavailableException", "overloaded", True),
        (500, "InternalServerException", "server", True),
        (404, "ResourceNotFoundException", "not_found", False),
        (403, "AccessDeniedException", "permission", False),
        (400, "ServiceQuotaExceededException", "bad_request", False),
    ],
)
def test_http_error_types(status: int, error_type: str, kind: str, retryable: bool) -> None:
    # The JSON protocol's body-only form: the type in __type.
    body = json.dumps({"__type": f"com.amazon.bedrock#{error_type}", "message": "m"}).encode()
    error = decode_error(status, "X", [(b"content-type", b"application/json")], body, "part")
    assert error == Error(
        kind, "m", status, retryable=retryable, partial="part", provider_type=error_type
    )


# --- a whole body ---------------------------------------------------------------------------
def test_nonstream_body() -> None:
    body = json.loads((FIXTURES / "nonstream-tool.json").read_text())
    assert DIALECT.decode_body(body) == [
        Delta("Need the weather tool.", "reasoning"),
        Delta("I'll look that up."),
        Delta('{"city":"Paris","unit":"c"}', "tool_call", 0, "tooluse_abc123", "get_weather"),
        Done(
            "tool_calls",
            "I'll look that up.",
            reasoning="Need the weather tool.",
            tool_calls=(ToolCall("tooluse_abc123", "get_weather", '{"city":"Paris","unit":"c"}'),),
            usage=Usage(402, 71, 473),
            raw_finish_reason="tool_use",
            reasoning_signature="EqoBCkgIARABGAIiQ",
        ),
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], "response body is not a JSON object"),
        ({}, "response output is not a JSON object"),
        ({"output": {"message": {"content": "x"}}}, "has no content list"),
        ({"output": {"message": {"content": [{"text": 1}]}}}, "text block has no string 'text'"),
    ],
)
def test_bad_bodies_say_what_was_expected(body: Any, error: str) -> None:
    with pytest.raises(RemoteProtocolError, match=error):
        DIALECT.decode_body(body)


@given(ANY_JSON)
def test_any_json_body_decodes_or_is_a_protocol_error(body: Any) -> None:
    check_body_survives(DIALECT, body)


# --- generated streams through the independent encoder ------------------------------------------
TEXT = st.text(min_size=1, max_size=6)
STOP = st.sampled_from(["end_turn", "tool_use", "max_tokens", "stop_sequence", "content_filtered"])
NORMAL = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "content_filtered": "content_filter",
}


@st.composite
def answers(draw: st.DrawFn) -> tuple[bytes, Done, list[Delta]]:
    """A stream of random blocks, the Done it must give and its deltas."""
    reasoning = draw(st.lists(TEXT, max_size=3))
    signature = draw(st.sampled_from([None, "c2ln", "EqoB/+=="]))
    text = draw(st.lists(TEXT, max_size=4))
    calls = draw(
        st.lists(st.tuples(st.text(min_size=1, max_size=4), st.lists(TEXT, max_size=3)), max_size=3)
    )
    stop = draw(STOP)
    usage = draw(st.none() | st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)))
    out = [ev("messageStart", {"role": "assistant"})]
    deltas: list[Delta] = []
    block = 0

    def delta(body: dict[str, Any]) -> None:
        out.append(ev("contentBlockDelta", {"contentBlockIndex": block, "delta": body}))

    if reasoning or signature:
        for piece in reasoning:
            delta({"reasoningContent": {"text": piece}})
            deltas.append(Delta(piece, "reasoning"))
        if signature:
            delta({"reasoningContent": {"signature": signature}})
        out.append(ev("contentBlockStop", {"contentBlockIndex": block}))
        block += 1
    for piece in text:
        delta({"text": piece})
        deltas.append(Delta(piece))
    tool_calls = []
    for n, (name, pieces) in enumerate(calls):
        block += 1
        start = {"toolUse": {"toolUseId": f"tooluse_{n}", "name": name}}
        out.append(ev("contentBlockStart", {"contentBlockIndex": block, "start": start}))
        deltas.append(Delta("", "tool_call", n, f"tooluse_{n}", name))
        for piece in pieces:
            delta({"toolUse": {"input": piece}})
            deltas.append(Delta(piece, "tool_call", n))
        out.append(ev("contentBlockStop", {"contentBlockIndex": block}))
        tool_calls.append(ToolCall(f"tooluse_{n}", name, "".join(pieces) or "{}"))
    out.append(ev("messageStop", {"stopReason": stop}))
    metadata: dict[str, Any] = {"metrics": {"latencyMs": 1}}
    if usage is not None:
        metadata["usage"] = {
            "inputTokens": usage[0],
            "outputTokens": usage[1],
            "totalTokens": sum(usage),
        }
    out.append(ev("metadata", metadata))
    normal = NORMAL[stop]
    done = Done(
        "tool_calls" if normal == "stop" and tool_calls else normal,
        "".join(text),
        reasoning="".join(reasoning),
        tool_calls=tuple(tool_calls),
        usage=Usage(usage[0], usage[1], sum(usage)) if usage else None,
        raw_finish_reason=stop,
        reasoning_signature=signature,
    )
    return b"".join(out), done, deltas


@given(answers(), st.lists(st.integers(0, 10**6), max_size=12))
def test_generated_streams_any_split(
    answer: tuple[bytes, Done, list[Delta]], cuts: list[int]
) -> None:
    stream, done, deltas = answer
    assert run(cut_at(stream, cuts)) == [*deltas, done]
    assert run([stream[i : i + 1] for i in range(len(stream))]) == [*deltas, done]
    # botocore reads our independently encoded stream message for message as we do.
    ours = [(m.headers, m.payload) for m in EventStreamDecoder().feed(stream)]
    assert ours == botocore_decode(stream)


EVENT_TYPES = st.sampled_from(
    ["messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop",
     "metadata", "unknownEvent"]
)  # fmt: skip


@given(
    st.lists(
        st.tuples(
            EVENT_TYPES,
            ANY_JSON
            | st.builds(
                lambda d, i: {"contentBlockIndex": i, "delta": d}, ANY_JSON, st.integers(-1, 2)
            ),
        ),
        max_size=8,
    )
)
def test_any_json_in_any_event_gives_events_or_a_protocol_error(
    items: list[tuple[str, Any]],
) -> None:
    decoder = BedrockStreamDecoder()
    framing = EventStreamDecoder()
    messages = [framing.feed(ev(name, payload))[0] for name, payload in items]
    check_decoder_survives(decoder.stream_message, messages, decoder.end)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (ev("messageStop", {"stopReason": 3}), "messageStop has no string 'stopReason'"),
        (ev("metadata", {"usage": {}}), "metadata came before messageStop"),
        (ev("contentBlockDelta", {"delta": {"text": "x"}}), "has no contentBlockIndex"),
        (
            ev("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": 1}}),
            "text delta is not a string",
        ),
        (
            ev("contentBlockDelta", {"contentBlockIndex": 4, "delta": {"toolUse": {"input": "{"}}}),
            "for block 4, not a tool",
        ),
        (
            ev("contentBlockStart", {"contentBlockIndex": 0, "start": {"toolUse": {"name": "f"}}}),
            "no string 'toolUseId'",
        ),
        (
            es_message({":event-type": "messageStart", ":message-type": "event"}, b"{nope"),
            "messageStart payload is not JSON",
        ),
        (es_message({":event-type": "messageStart"}, b"{}"), "has no :message-type event"),
    ],
)  # fmt: skip
def test_malformed_events_say_what_was_expected(message: bytes, error: str) -> None:
    [decoded] = EventStreamDecoder().feed(message)
    with pytest.raises(RemoteProtocolError, match=error):
        BedrockStreamDecoder().stream_message(decoded)


def test_tool_calls_are_bounded() -> None:
    decoder = BedrockStreamDecoder()
    framing = EventStreamDecoder()

    def start(index: int) -> list[Event]:
        use = {"toolUse": {"toolUseId": f"t{index}", "name": "f"}}
        [message] = framing.feed(
            ev("contentBlockStart", {"contentBlockIndex": index, "start": use})
        )
        return decoder.stream_message(message)

    for index in range(1024):
        assert start(index) == [Delta("", "tool_call", index, f"t{index}", "f")]
    with pytest.raises(RemoteProtocolError, match="more than 1024 tool calls"):
        start(1024)


# --- requests -------------------------------------------------------------------------------
def endpoint(**fields: Any) -> Endpoint:
    return Endpoint(BASE, dialect="bedrock", region="us-east-1", aws_credentials=CREDS, **fields)


WEATHER = Tool(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}},
)
LOOP = (
    Message("system", "Be brief."),
    Message("user", "Weather in Paris?"),
    Message(
        "assistant",
        "Checking.",
        (ToolCall("tooluse_1", "get_weather", '{"city":"Paris"}'),),
        reasoning="Use the tool.",
        reasoning_signature="c2ln",
    ),
    Message("tool", '{"temp": 21}', tool_call_id="tooluse_1"),
    Message("user", "And tomorrow?"),
)


def test_request_body_and_target() -> None:
    chat = ChatRequest(
        MODEL, LOOP, max_tokens=512, temperature=0.5, top_p=0.9, stop=["END"],
        tools=[WEATHER], tool_choice="get_weather",
    )  # fmt: skip
    request = DIALECT.build_request(endpoint(), chat)
    assert (request.method, request.target) == (
        "POST",
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream",
    )
    assert request.headers == ()  # signed later, by sign_request
    assert json.loads(request.body) == {
        "messages": [
            {"role": "user", "content": [{"text": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "reasoningContent": {
                            "reasoningText": {"text": "Use the tool.", "signature": "c2ln"}
                        }
                    },
                    {"text": "Checking."},
                    {
                        "toolUse": {
                            "toolUseId": "tooluse_1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        }
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "toolResult": {
                            "toolUseId": "tooluse_1",
                            "content": [{"text": '{"temp": 21}'}],
                        }
                    },
                    {"text": "And tomorrow?"},
                ],
            },
        ],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {
            "maxTokens": 512,
            "temperature": 0.5,
            "topP": 0.9,
            "stopSequences": ["END"],
        },
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "inputSchema": {
                            "json": {"type": "object", "properties": {"city": {"type": "string"}}}
                        },
                    }
                }
            ],
            "toolChoice": {"tool": {"name": "get_weather"}},
        },
    }


@pytest.mark.parametrize(
    ("choice", "messages", "want"),
    [
        ("auto", LOOP[:2], {"auto": {}}),
        ("required", LOOP[:2], {"any": {}}),
        (None, LOOP[:2], None),
        ("none", LOOP, None),  # tool blocks in the history: tools sent, no toolChoice
    ],
)
def test_tool_choice(choice: str | None, messages: tuple[Message, ...], want: Any) -> None:
    chat = ChatRequest(MODEL, messages, tools=[WEATHER], tool_choice=choice)
    config = json.loads(DIALECT.build_request(endpoint(), chat).body)["toolConfig"]
    assert config.get("toolChoice") == want


def test_tool_choice_none_without_tool_history_offers_no_tools() -> None:
    chat = ChatRequest(MODEL, LOOP[:2], tools=[WEATHER], tool_choice="none")
    assert "toolConfig" not in json.loads(DIALECT.build_request(endpoint(), chat).body)


def test_tool_choice_none_with_only_a_tool_result_in_the_history_still_sends_tools() -> None:
    # A toolResult block needs a toolConfig, even when the call's turn was trimmed away.
    history = [Message("user", "x"), Message("tool", "r", tool_call_id="t")]
    chat = ChatRequest(MODEL, history, tools=[WEATHER], tool_choice="none")
    config = json.loads(DIALECT.build_request(endpoint(), chat).body)["toolConfig"]
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    spec = {
        "name": "get_weather",
        "description": "Weather for a city",
        "inputSchema": {"json": schema},
    }
    assert config == {"tools": [{"toolSpec": spec}]}


def test_nonstream_target_arn_and_extra() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v2"
    extra = {"additionalModelRequestFields": {"top_k": 5}}
    chat = ChatRequest(arn, [Message("user", "hi")], stream=False, extra=extra)
    request = DIALECT.build_request(endpoint(), chat)
    assert request.target == (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile"
        "%2Fus.anthropic.claude-v2/converse"
    )
    assert json.loads(request.body) == {
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "additionalModelRequestFields": {"top_k": 5},
    }


class _Captured(Exception):
    pass


def botocore_request(operation: str, params: dict[str, Any]) -> Any:
    """The request botocore's bedrock-runtime client would send (never sent: the
    ``before-send`` hook stops it), signed at ``AT``."""
    client = Session().create_client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id=CREDS.access_key_id,
        aws_secret_access_key=CREDS.secret_access_key, aws_session_token=CREDS.session_token,
    )  # fmt: skip
    captured: list[Any] = []

    def stop(request: Any, **_: Any) -> None:
        captured.append(request)
        raise _Captured

    client.meta.events.register("before-send", stop)
    clock = mock.patch("botocore.auth.get_current_datetime", return_value=AT.replace(tzinfo=None))
    with clock, pytest.raises(_Captured):
        getattr(client, operation)(**params)
    return captured[0]


@pytest.mark.parametrize("stream", [True, False])
def test_botocore_serializes_the_same_request(stream: bool) -> None:
    chat = ChatRequest(
        MODEL, LOOP, stream=stream, max_tokens=64, tools=[WEATHER], tool_choice="auto"
    )
    ours = DIALECT.build_request(endpoint(), chat)
    body = json.loads(ours.body)
    # botocore validates the parameters against the service model, then serializes them.
    sent = botocore_request("converse_stream" if stream else "converse", {"modelId": MODEL, **body})
    assert sent.url == BASE + ours.target
    assert json.loads(sent.body) == body


def test_sigv4_matches_botocore() -> None:
    chat = ChatRequest(MODEL, LOOP[:2], max_tokens=64)
    spec = DIALECT.build_request(endpoint(), chat)
    sent = [("Content-Type", "application/json"), ("Accept", "application/vnd.amazon.eventstream")]
    ours = dict(sign_request(spec, endpoint(), AT, sent))
    request = AWSRequest(method="POST", url=BASE + spec.target, data=spec.body)
    request.headers["Host"] = "bedrock-runtime.us-east-1.amazonaws.com"
    for name, value in sent:
        request.headers[name] = value
    creds = Credentials(CREDS.access_key_id, CREDS.secret_access_key, CREDS.session_token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=AT.replace(tzinfo=None)):
        SigV4Auth(creds, "bedrock", "us-east-1").add_auth(request)
    assert ours == {
        "Authorization": request.headers["Authorization"],
        "X-Amz-Date": "20250501T123456Z",
        "X-Amz-Security-Token": "FQoGZXIvYXdz",
    }
    assert ours["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250501/us-east-1/bedrock/aws4_request, "
        "SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token, Signature="
    )


def test_signing_needs_now_and_bearer_keys_are_not_signed() -> None:
    spec = DIALECT.build_request(endpoint(), ChatRequest(MODEL, [Message("user", "hi")]))
    with pytest.raises(LocalProtocolError, match="needs now="):
        sign_request(spec, endpoint(), None)
    bearer = Endpoint(BASE, "ABSKbedrockapikey", dialect="bedrock", region="us-east-1")
    spec = DIALECT.build_request(bearer, ChatRequest(MODEL, [Message("user", "hi")]))
    assert spec.headers == (("Authorization", "Bearer ABSKbedrockapikey"),)
    assert sign_request(spec, bearer, None) == []
    plain = Endpoint(BASE, dialect="bedrock", region="us-east-1")
    assert (
        sign_request(
            DIALECT.build_request(plain, ChatRequest(MODEL, [Message("user", "x")])), plain, None
        )
        == []
    )


# --- the replay renderer, decoded back ----------------------------------------------------------
SCRIPT = Script(
    text="Hello there, world.",
    reasoning="Think first.",
    tool_calls=(ToolCall("tu_1", "get_weather", '{"city": "Paris, France"}'),),
    finish_reason="tool_calls",
    usage=Usage(10, 20, 30, None, 4),
)


def test_rendered_stream_decodes_to_the_script() -> None:
    stream = b"".join(RENDERER.render_stream(SCRIPT))
    assert [(m.headers, m.payload) for m in EventStreamDecoder().feed(stream)] == botocore_decode(
        stream
    )
    done = every_way(stream)[-1]
    assert done == Done(
        "tool_calls", "Hello there, world.", reasoning="Think first.",
        tool_calls=SCRIPT.tool_calls, usage=Usage(10, 20, 30, None, 4),
        raw_finish_reason="tool_use", reasoning_signature="c2lnbmF0dXJl",
    )  # fmt: skip


def test_rendered_body_and_errors_decode() -> None:
    [*_, done] = DIALECT.decode_body(json.loads(RENDERER.render_body(SCRIPT)))
    assert isinstance(done, Done)
    assert (done.text, done.reasoning, done.usage) == (
        "Hello there, world.",
        "Think first.",
        Usage(10, 20, 30, None, 4),
    )
    assert done.tool_calls == (ToolCall("tu_1", "get_weather", '{"city":"Paris, France"}'),)
    headers = [(b"x-amzn-errortype", b"ThrottlingException:http://internal.amazon.com/coral/")]
    assert decode_error(429, "X", headers, RENDERER.render_error(429, "slow down")) == Error(
        "rate_limit", "slow down", 429, retryable=True, provider_type="ThrottlingException"
    )
    stream = RENDERER.render_stream(Script(text="ab"))[:2]
    stream.append(RENDERER.render_stream_error("lost the model"))
    assert run(stream)[-1] == Error(
        "provider", "lost the model", status=200, retryable=True, partial="ab",
        provider_type="modelStreamErrorException",
    )  # fmt: skip


def test_renderer_reads_converse_targets() -> None:
    target = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    assert RENDERER.matches("POST", target) and not RENDERER.matches("GET", target)
    assert RENDERER.is_stream_request(target, {})
    assert not RENDERER.is_stream_request(target.removesuffix("-stream"), {})
    assert RENDERER.model_of(target, {}) == MODEL
    assert not RENDERER.matches("POST", "/v1/messages")


# --- content parts ------------------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def test_images_and_documents_go_as_bytes() -> None:
    parts = (TextPart("What is in these?"), ImagePart(PNG), DocumentPart(b"%PDF-1.7", name="q3"))
    chat = ChatRequest(MODEL, [Message("user", parts)])
    [message] = json.loads(DIALECT.build_request(endpoint(), chat).body)["messages"]
    assert message == {
        "role": "user",
        "content": [
            {"text": "What is in these?"},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgoAAAAAAAAAAA=="}}},
            {"document": {"format": "pdf", "name": "q3", "source": {"bytes": "JVBERi0xLjc="}}},
        ],
    }


@pytest.mark.parametrize(
    ("part", "error"),
    [
        (
            ImagePart(url="https://example.com/a.png?X-Amz-Signature=secret"),
            "Bedrock cannot send an image from an http(s) URL; pass the bytes (data=...) or an "
            "s3:// URL",
        ),
        (
            DocumentPart(url="https://example.com/q3.pdf"),
            "Bedrock cannot send a document from an http(s) URL; pass the bytes (data=...) or "
            "an s3:// URL",
        ),
        (
            AudioPart(b"RIFF", "audio/wav"),
            "Bedrock cannot send AudioPart: Converse takes no audio",
        ),
        (
            ImagePart(b"BM\x00\x00", media_type="image/bmp"),
            "Bedrock takes PNG, JPEG, GIF and WebP images, not image/bmp",
        ),
        (
            DocumentPart(b"PK\x03\x04", media_type="application/zip"),
            "Bedrock takes PDF, CSV, HTML, plain-text and Markdown documents, not application/zip",
        ),
    ],
)
def test_parts_converse_cannot_carry_are_refused(part: Any, error: str) -> None:
    chat = ChatRequest(MODEL, [Message("user", (part,))])
    with pytest.raises(ValueError) as caught:
        DIALECT.build_request(endpoint(), chat)
    assert str(caught.value) == error


def test_s3_urls_are_s3_locations_and_botocore_accepts_them() -> None:
    # ImageSource / DocumentSource are unions of bytes and s3Location {uri} (API reference).
    parts = (
        ImagePart(url="s3://bucket/cat.jpeg", media_type="image/jpeg"),
        DocumentPart(url="s3://bucket/q3.pdf", name="q3"),
    )
    chat = ChatRequest(MODEL, [Message("user", parts)], stream=False)
    body = json.loads(DIALECT.build_request(endpoint(), chat).body)
    assert body == {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/cat.jpeg"}}}},
                    {"document": {"format": "pdf", "name": "q3", "source": {"s3Location": {"uri": "s3://bucket/q3.pdf"}}}},
                ],
            }
        ]
    }  # fmt: skip
    sent = botocore_request("converse", {"modelId": MODEL, **body})
    assert json.loads(sent.body) == body


def test_error_messages_are_cut_at_2000_characters() -> None:
    headers = {":exception-type": "validationException", ":message-type": "exception"}
    for size, kept in ((2000, 2000), (2001, 2000)):
        payload = json.dumps({"message": "x" * size}).encode()
        [error] = run([es_message(headers, payload)])
        assert isinstance(error, Error) and error.message == "x" * kept


# --- issue 12: structured output, reasoning, seed/n, headers, metadata --------------------------
# Expected bodies written from the Bedrock runtime API reference (OutputConfig ->
# OutputFormat {type: json_schema, structure: {jsonSchema: JsonSchemaDefinition {schema:
# JSON text, name, description}}}; Anthropic's thinking in additionalModelRequestFields),
# and each one also validated by botocore's bedrock-runtime service model.
PERSON = {"type": "object", "properties": {"name": {"type": "string"}}}
STRICT_PERSON = (
    '{"type":"object","properties":{"name":{"type":"string"}},'
    '"additionalProperties":false,"required":["name"]}'
)


def body_and_botocore(chat: ChatRequest) -> dict[str, Any]:
    body = json.loads(DIALECT.build_request(endpoint(), chat).body)
    operation = "converse_stream" if chat.stream else "converse"
    assert json.loads(botocore_request(operation, {"modelId": chat.model, **body}).body) == body
    return body


def text_format(schema: str, name: str, **description: str) -> dict[str, Any]:
    definition = {"schema": schema, "name": name, **description}
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}


@pytest.mark.parametrize(
    ("response_format", "output_config"),
    [
        (JSONSchema("person", PERSON), text_format(STRICT_PERSON, "person")),
        (
            JSONSchema("person", PERSON, strict=False, description="A person."),
            text_format(
                '{"type":"object","properties":{"name":{"type":"string"}}}',
                "person",
                description="A person.",
            ),
        ),
        ("json", text_format('{"type":"object"}', "json")),
    ],
)
def test_structured_output_is_output_config(response_format: Any, output_config: Any) -> None:
    chat = ChatRequest(MODEL, [Message("user", "Who?")], response_format=response_format)
    assert body_and_botocore(chat) == {
        "messages": [{"role": "user", "content": [{"text": "Who?"}]}],
        "outputConfig": output_config,
    }


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "budget", "sent_max"),
    [
        (Reasoning(), None, 8192, 8192 + 4096),
        (Reasoning(effort="low"), None, 2048, 2048 + 4096),
        (Reasoning(effort="high"), 30000, 24576, 30000),
        (Reasoning(effort="low", budget_tokens=1024), 1025, 1024, 1025),
    ],
)
def test_reasoning_is_anthropic_thinking(
    reasoning: Reasoning, max_tokens: int | None, budget: int, sent_max: int
) -> None:
    model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
    chat = ChatRequest(model, [Message("user", "2+2?")], reasoning=reasoning, max_tokens=max_tokens)
    assert body_and_botocore(chat) == {
        "messages": [{"role": "user", "content": [{"text": "2+2?"}]}],
        "inferenceConfig": {"maxTokens": sent_max},
        "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": budget}},
    }


def test_reasoning_refusals_and_extra_fields_merge() -> None:
    at_budget = ChatRequest(MODEL, [Message("user", "x")], reasoning=Reasoning(), max_tokens=8192)
    with pytest.raises(ValueError) as caught:
        DIALECT.build_request(endpoint(), at_budget)
    assert str(caught.value) == (
        "Bedrock needs max_tokens (8192) above the thinking budget (8192) for an Anthropic "
        "model: raise max_tokens or lower the reasoning effort or budget_tokens"
    )
    nova = ChatRequest("amazon.nova-pro-v1:0", [Message("user", "x")], reasoning=Reasoning())
    with pytest.raises(ValueError) as caught:
        DIALECT.build_request(endpoint(), nova)
    assert str(caught.value) == (
        "Bedrock: no reasoning setting is known for model 'amazon.nova-pro-v1:0' (only "
        "Anthropic models'); pass the model's own fields in "
        "ChatRequest.extra['additionalModelRequestFields']"
    )
    merged = ChatRequest(
        MODEL,
        [Message("user", "x")],
        reasoning=Reasoning(budget_tokens=2000),
        max_tokens=3000,
        extra={"additionalModelRequestFields": {"top_k": 5}, "requestMetadata": {"app": "t"}},
    )
    assert body_and_botocore(merged) == {
        "messages": [{"role": "user", "content": [{"text": "x"}]}],
        "inferenceConfig": {"maxTokens": 3000},
        "additionalModelRequestFields": {
            "thinking": {"type": "enabled", "budget_tokens": 2000},
            "top_k": 5,
        },
        "requestMetadata": {"app": "t"},
    }


def test_seed_and_n_are_refused() -> None:
    with pytest.raises(ValueError) as caught:
        DIALECT.build_request(endpoint(), ChatRequest(MODEL, [Message("user", "x")], seed=1))
    assert str(caught.value) == "Bedrock Converse has no seed: ChatRequest.seed must be None"
    with pytest.raises(ValueError) as caught:
        DIALECT.build_request(endpoint(), ChatRequest(MODEL, [Message("user", "x")], n=2))
    assert str(caught.value) == (
        "Bedrock Converse returns one answer per request: ChatRequest.n must be 1"
    )
    one = json.loads(
        DIALECT.build_request(endpoint(), ChatRequest(MODEL, [Message("user", "x")], n=1)).body
    )
    assert one == {"messages": [{"role": "user", "content": [{"text": "x"}]}]}


def test_request_headers_are_sent_and_signed_as_botocore_signs_them() -> None:
    chat = ChatRequest(MODEL, [Message("user", "hi")], headers={"X-Trace": "t-1"})
    spec = DIALECT.build_request(endpoint(headers={"X-A": "1"}), chat)
    assert spec.headers == (("X-A", "1"), ("X-Trace", "t-1"))
    sent = [("Content-Type", "application/json")]
    ours = dict(sign_request(spec, endpoint(headers={"X-A": "1"}), AT, sent))
    request = AWSRequest(method="POST", url=BASE + spec.target, data=spec.body)
    request.headers["Host"] = "bedrock-runtime.us-east-1.amazonaws.com"
    for name, value in [*sent, *spec.headers]:
        request.headers[name] = value
    creds = Credentials(CREDS.access_key_id, CREDS.secret_access_key, CREDS.session_token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=AT.replace(tzinfo=None)):
        SigV4Auth(creds, "bedrock", "us-east-1").add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert (
        "SignedHeaders=content-type;host;x-a;x-amz-date;x-amz-security-token;x-trace,"
        in (ours["Authorization"])
    )


def test_done_has_no_response_id_or_model_converse_reports_neither() -> None:
    script = Script(text='{"name": "Ada"}')
    streamed = run(RENDERER.render_stream(script))
    whole = DIALECT.decode_body(json.loads(RENDERER.render_body(script)))
    for events in (streamed, whole):
        done = events[-1]
        assert isinstance(done, Done)
        assert (done.text, done.response_id, done.model) == ('{"name": "Ada"}', None, None)


def test_structured_output_round_trip_through_the_renderer() -> None:
    # The request the replay renderer recognises, and its answer decoded as plain text:
    # with outputConfig the JSON streams as ordinary text blocks.
    chat = ChatRequest(MODEL, [Message("user", [TextPart("Who?"), ImagePart(PNG)])],
                       response_format=JSONSchema("person", PERSON))  # fmt: skip
    spec = DIALECT.build_request(endpoint(), chat)
    assert RENDERER.matches(spec.method, spec.target)
    assert RENDERER.is_stream_request(spec.target, json.loads(spec.body))
    script = Script(text='{"name": "Ada Lovelace"}')
    pieces = [b"".join(RENDERER.render_stream(script))]
    for how, split in all_splittings(pieces[0]):
        done = run(split)[-1]
        assert isinstance(done, Done), how
        assert done.text == '{"name": "Ada Lovelace"}', how


# --- the shared reading of error responses that decode_error is built from ---------------------
def test_refined_errors_reads_status_body_and_headers_then_refines() -> None:
    # decode_error is refined_errors(_refine_error), built at import: this builds one now,
    # with a refiner that records what it is given.
    from dataclasses import replace

    from libchatty.dialects.error_bodies import refined_errors

    seen: list[tuple[Error, dict[str, Any], Any]] = []

    def refine(error: Error, parsed: dict[str, Any], headers: Any) -> Error:
        seen.append((error, parsed, headers))
        return replace(error, provider_type="refined")

    read = refined_errors(refine)
    headers = [(b"retry-after", b"7")]
    read_error = read(429, "Too Many Requests", headers, b'{"message":"slow"}', "so far")
    shared = Error("rate_limit", "slow", 429, retry_after=7.0, retryable=True, partial="so far")
    assert read_error == replace(shared, provider_type="refined")
    assert seen == [(shared, {"message": "slow"}, headers)]
    # No partial given: none; an empty body: the reason; a body that is no JSON object:
    # the refiner gets {}.
    assert read(500, "Internal Oops", [], b"") == Error(
        "server", "HTTP 500 Internal Oops", 500, retryable=True, provider_type="refined"
    )
    assert read(500, "X", [], b"[1]") == Error(
        "server", "[1]", 500, retryable=True, provider_type="refined"
    )
    assert [parsed for _, parsed, _ in seen] == [{"message": "slow"}, {}, {}]


def test_an_exception_whose_payload_is_not_an_object_is_named_by_its_type() -> None:
    headers = {
        ":exception-type": "throttlingException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    stream = ev("messageStart", {"role": "assistant"}) + es_message(headers, b"[1]")
    assert every_way(stream)[-1] == Error(
        "rate_limit",
        "Bedrock raised throttlingException in the stream",
        status=200,
        retryable=True,
        provider_type="throttlingException",
    )


# --- a whole body and an error response: every edge pinned ----------------------------------------
def _content(blocks: list[Any]) -> dict[str, Any]:
    return {"output": {"message": {"content": blocks}}}


def _deep() -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for _ in range(100_000):
        nested = {"a": nested}
    return nested


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (3, "response body is not a JSON object"),
        ({"output": 3}, "response output is not a JSON object"),
        ({"output": {"message": 3}}, "response output.message is not a JSON object"),
        ({"output": {"message": {}}}, "response message has no content list"),
        (_content([3]), "content block is not a JSON object"),
        (_content([{"text": 3}]), "text block has no string 'text'"),
        (_content([{"toolUse": 3}]), "toolUse block is not a JSON object"),
        (_content([{"toolUse": {"name": "f"}}]), "toolUse block has no string 'toolUseId'"),
        (_content([{"toolUse": {"toolUseId": "a"}}]), "toolUse block has no string 'name'"),
        (_content([{"reasoningContent": 3}]), "reasoningContent is not a JSON object"),
        (_content([{"reasoningContent": {"reasoningText": 3}}]),
         "reasoningContent.reasoningText is not a JSON object"),
        (_content([{"reasoningContent": {"reasoningText": {}}}]),
         "reasoningText has no string 'text'"),
    ],
)  # fmt: skip
def test_each_malformed_body_names_what_was_wrong(body: Any, message: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        DIALECT.decode_body(body)
    assert str(caught.value) == f"Bedrock {message}"


def test_deep_tool_input_is_a_protocol_error() -> None:
    body = _content([{"toolUse": {"toolUseId": "a", "name": "f", "input": _deep()}}])
    with pytest.raises(RemoteProtocolError) as caught:
        DIALECT.decode_body(body)
    assert str(caught.value) == "Bedrock toolUse.input is nested too deeply"


def test_body_tool_calls_count_up_and_take_no_input_as_an_empty_object() -> None:
    use = {"toolUse": {"toolUseId": "a", "name": "f"}}
    events = DIALECT.decode_body(_content([use, use, use]))
    assert events[:3] == [Delta("{}", "tool_call", i, "a", "f") for i in range(3)]


_JSON = [(b"content-type", b"application/json")]


@pytest.mark.parametrize(
    ("status", "headers", "body", "want"),
    [
        # The body's "message" wins over the shared reading's choice ("error.message").
        (400, _JSON, {"message": "m", "error": {"message": "other"}},
         Error("bad_request", "m", 400)),
        # A "message" that is not a string is no message.
        (400, _JSON, {"message": 7}, Error("bad_request", "7", 400)),
        # The header names the type, even when the body names another.
        (429, [*_JSON, (b"X-Amzn-ErrorType", b"ThrottlingException:http://x")],
         {"__type": "a#ValidationException"},
         Error("rate_limit", '{"__type": "a#ValidationException"}', 429, retryable=True,
               provider_type="ThrottlingException")),
        # The type is what follows the last '#'; a known type sets retryable.
        (400, _JSON, {"__type": "a#b#ThrottlingException"},
         Error("rate_limit", '{"__type": "a#b#ThrottlingException"}', 400, retryable=True,
               provider_type="ThrottlingException")),
    ],
)  # fmt: skip
def test_error_response_refinements(
    status: int, headers: list[tuple[bytes, bytes]], body: Any, want: Error
) -> None:
    assert decode_error(status, "X", headers, json.dumps(body).encode()) == want


def test_an_error_type_is_cut_at_200_characters() -> None:
    body = json.dumps({"__type": "E" * 201}).encode()
    assert decode_error(400, "X", _JSON, body).provider_type == "E" * 200


def test_an_exception_without_a_type_is_named_exception() -> None:
    headers = {":content-type": "application/json", ":message-type": "exception"}
    stream = ev("messageStart", {"role": "assistant"}) + es_message(headers, b"{}")
    assert every_way(stream)[-1] == Error(
        "provider",
        "Bedrock raised exception in the stream",
        status=200,
        provider_type="exception",
    )


def _msg(name: str, payload: Any) -> Any:
    from libchatty.eventstream import EventStreamMessage

    headers = {":event-type": name, ":message-type": "event", ":content-type": "application/json"}
    return EventStreamMessage(dict(headers), json.dumps(payload).encode())


_TOOL_START = (
    "contentBlockStart",
    {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "a", "name": "f"}}},
)


def _block(name: str, index: Any, key: str, value: Any) -> tuple[str, dict[str, Any]]:
    return (name, {"contentBlockIndex": index, key: value})


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([("contentBlockStart", {"start": {}})], "contentBlockStart has no contentBlockIndex"),
        ([_block("contentBlockStart", -1, "start", {})],
         "contentBlockStart has no contentBlockIndex"),
        ([_block("contentBlockStart", 0, "start", 3)],
         "contentBlockStart.start is not a JSON object"),
        ([_block("contentBlockStart", 0, "start", {"toolUse": 3})],
         "contentBlockStart.start.toolUse is not a JSON object"),
        ([_TOOL_START, _TOOL_START], "content block 0 started twice"),
        ([_block("contentBlockStart", 0, "start", {"toolUse": {"name": "f"}})],
         "toolUse start has no string 'toolUseId'"),
        ([_block("contentBlockStart", 0, "start", {"toolUse": {"toolUseId": "a"}})],
         "toolUse start has no string 'name'"),
        ([("contentBlockDelta", {"delta": {}})], "contentBlockDelta has no contentBlockIndex"),
        ([_block("contentBlockDelta", 0, "delta", 3)],
         "contentBlockDelta.delta is not a JSON object"),
        ([_block("contentBlockDelta", 0, "delta", {"toolUse": 3})],
         "contentBlockDelta.toolUse is not a JSON object"),
        ([_block("contentBlockDelta", 0, "delta", {"toolUse": {"input": "x"}})],
         "toolUse delta for block 0, not a tool"),
        ([_TOOL_START, _block("contentBlockDelta", 0, "delta", {"toolUse": {"input": 3}})],
         "toolUse delta has no string 'input'"),
        ([_block("contentBlockDelta", 0, "delta", {"reasoningContent": 3})],
         "contentBlockDelta.reasoningContent is not a JSON object"),
        ([_block("contentBlockDelta", 0, "delta", {"text": 3})], "text delta is not a string"),
        ([("contentBlockStop", {})], "contentBlockStop has no contentBlockIndex"),
        ([("messageStop", {})], "messageStop has no string 'stopReason'"),
        ([("metadata", {})], "metadata came before messageStop"),
        ([("messageStart", "x")], "messageStart payload is not a JSON object"),
    ],
)  # fmt: skip
def test_each_malformed_stream_message_names_what_was_wrong(
    messages: list[tuple[str, Any]], message: str
) -> None:
    decoder = BedrockStreamDecoder()
    with pytest.raises(RemoteProtocolError) as caught:
        for name, payload in messages:
            decoder.stream_message(_msg(name, payload))
    assert str(caught.value) == f"Bedrock {message}"


def test_payloads_that_are_not_json_and_messages_of_no_known_type() -> None:
    from libchatty.eventstream import EventStreamMessage

    def message_of(headers: dict[str, str], payload: bytes) -> str:
        with pytest.raises(RemoteProtocolError) as caught:
            BedrockStreamDecoder().stream_message(EventStreamMessage(dict(headers), payload))
        return str(caught.value)

    event = {":message-type": "event"}
    assert message_of({**event, ":event-type": "contentBlockDelta"}, b"{") == (
        "Bedrock contentBlockDelta payload is not JSON"
    )
    assert message_of({**event, ":event-type": "messageStart"}, b"{") == (
        "Bedrock messageStart payload is not JSON"
    )
    assert message_of({":message-type": "weird"}, b"{}") == (
        "Bedrock event stream message has no :message-type event"
    )


def test_a_stream_error_in_headers() -> None:
    from libchatty.eventstream import EventStreamMessage

    def error_of(headers: dict[str, str]) -> list[Event]:
        message = EventStreamMessage({":message-type": "error", **headers}, b"")
        return BedrockStreamDecoder().stream_message(message)

    assert error_of({":error-code": "E1"}) == [
        Error("provider", "Bedrock stream error E1", 200, provider_type="E1")
    ]
    assert error_of({":error-code": "E1", ":error-message": "boom"}) == [
        Error("provider", "boom", 200, provider_type="E1")
    ]


def test_tool_starts_at_the_limit_and_one_past_it() -> None:
    decoder = BedrockStreamDecoder()
    for index in range(1024):
        start = {"toolUse": {"toolUseId": f"c{index}", "name": "f"}}
        events = decoder.stream_message(
            _msg("contentBlockStart", {"contentBlockIndex": index, "start": start})
        )
    assert events == [Delta("", "tool_call", 1023, "c1023", "f")]
    last = {"contentBlockIndex": 1024, "start": {"toolUse": {"toolUseId": "x", "name": "f"}}}
    with pytest.raises(RemoteProtocolError) as caught:
        decoder.stream_message(_msg("contentBlockStart", last))
    assert str(caught.value) == "more than 1024 tool calls"


def test_body_usage_with_any_one_count_and_odd_stop_reasons_or_signatures() -> None:
    def done_of(**fields: Any) -> Done:
        block = {"reasoningContent": {"reasoningText": {"text": "t", "signature": 7}}}
        done = DIALECT.decode_body({**_content([block]), **fields})[-1]
        assert type(done) is Done
        return done

    assert done_of(usage={"inputTokens": 3}).usage == Usage(3, None, None, None, None)
    assert done_of(usage={"outputTokens": 4}).usage == Usage(None, 4, None, None, None)
    assert done_of(usage={"totalTokens": 5}).usage == Usage(None, None, 5, None, None)
    done = done_of(stopReason=7)
    assert (done.raw_finish_reason, done.reasoning, done.reasoning_signature) == (None, "t", None)


def test_exceptions_and_stream_errors_with_headers_or_fields_of_the_wrong_type() -> None:
    from libchatty.eventstream import EventStreamMessage

    def last(headers: dict[str, Any], payload: bytes = b"{}") -> Event:
        (event,) = BedrockStreamDecoder().stream_message(EventStreamMessage(headers, payload))
        return event

    exception = {":message-type": "exception"}
    assert last({**exception, ":exception-type": 7}) == Error(
        "provider", "Bedrock raised exception in the stream", 200, provider_type="exception"
    )
    said = b'{"message": 7, "originalMessage": 7}'
    assert last({**exception, ":exception-type": "x"}, said) == Error(
        "provider", "Bedrock raised x in the stream", 200, provider_type="x"
    )
    both = b'{"message": "m", "originalMessage": "o"}'
    assert last({**exception, ":exception-type": "x"}, both) == Error(
        "provider", "m (model: o)", 200, provider_type="x"
    )
    error = {":message-type": "error"}
    assert last({**error, ":error-code": 5, ":error-message": 7}) == Error(
        "provider", "Bedrock stream error None", 200
    )


def test_reasoning_deltas_of_the_wrong_type_are_ignored() -> None:
    decoder = BedrockStreamDecoder()
    delta = {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": 7, "signature": 7}}}
    assert decoder.stream_message(_msg("contentBlockDelta", delta)) == []
    decoder.stream_message(_msg("messageStop", {"stopReason": "end_turn"}))
    done = decoder.end()
    assert type(done) is Done
    assert (done.reasoning, done.reasoning_signature) == ("", None)


def test_a_tool_call_cut_before_its_block_stop_has_empty_object_arguments() -> None:
    decoder = BedrockStreamDecoder()
    decoder.stream_message(_msg(*_TOOL_START))
    decoder.stream_message(_msg("messageStop", {"stopReason": "tool_use"}))
    (done,) = decoder.stream_message(_msg("metadata", {}))
    assert type(done) is Done
    assert done.tool_calls == (ToolCall("a", "f", "{}"),)


# --- request edges -------------------------------------------------------------------------------
def test_a_conversation_with_parallel_results_then_a_document_and_more() -> None:
    from libchatty.dialects.bedrock_request import request_body

    calls = [ToolCall("a", "f", "{}"), ToolCall("b", "f", "{}")]
    messages = [
        Message("developer", "sys"),
        Message("user", None),
        Message("assistant", None, tool_calls=calls),
        Message("tool", "r1", tool_call_id="a"),
        Message("tool", "r2", tool_call_id="b"),
        Message("user", [DocumentPart(data=b"%PDF")]),
        Message("assistant", "ok"),
    ]
    use = [{"toolUse": {"toolUseId": i, "name": "f", "input": {}}} for i in "ab"]
    result = [
        {"toolResult": {"toolUseId": i, "content": [{"text": f"r{n}"}]}}
        for n, i in ((1, "a"), (2, "b"))
    ]
    document = {"document": {"format": "pdf", "name": "document", "source": {"bytes": "JVBERg=="}}}
    assert request_body(ChatRequest("m", messages)) == {
        "messages": [
            {"role": "user", "content": [{"text": ""}]},
            {"role": "assistant", "content": use},
            {"role": "user", "content": [*result, document]},
            {"role": "assistant", "content": [{"text": "ok"}]},
        ],
        "system": [{"text": "sys"}],
    }


def test_request_refusals_are_worded_exactly() -> None:
    from libchatty.dialects.bedrock_request import request_body

    with pytest.raises(ValueError) as caught:
        request_body(
            ChatRequest("m", [Message("user", "x")], extra={"additionalModelRequestFields": 3})
        )
    assert str(caught.value) == (
        "ChatRequest.extra['additionalModelRequestFields'] must be a mapping"
    )
    model = "x" * 81
    with pytest.raises(ValueError) as caught:
        request_body(ChatRequest(model, [Message("user", "x")], reasoning=Reasoning(effort="low")))
    assert str(caught.value) == (
        f"Bedrock: no reasoning setting is known for model {'x' * 80!r} (only Anthropic "
        "models'); pass the model's own fields in ChatRequest.extra['additionalModelRequestFields']"
    )
    no_id = Message("assistant", None, tool_calls=[ToolCall(None, "f", "{}")])
    with pytest.raises(ValueError) as caught:
        request_body(ChatRequest("m", [Message("user", "x"), no_id]))
    assert str(caught.value) == "tool call 'f' has no id; Bedrock needs one to match its result"
    not_json = Message("assistant", None, tool_calls=[ToolCall("t", "f", "{oops")])
    with pytest.raises(ValueError) as caught:
        request_body(ChatRequest("m", [Message("user", "x"), not_json]))
    assert str(caught.value) == (
        "the arguments of tool call 'f' are not valid JSON (Bedrock needs an object)"
    )


def test_signed_reasoning_without_its_text_is_sent_with_empty_text() -> None:
    from libchatty.dialects.bedrock_request import request_body

    signed = Message("assistant", "ok", reasoning=None, reasoning_signature="c2ln")
    assert request_body(ChatRequest("m", [Message("user", "x"), signed]))["messages"][1] == {
        "role": "assistant",
        "content": [
            {"reasoningContent": {"reasoningText": {"text": "", "signature": "c2ln"}}},
            {"text": "ok"},
        ],
    }


def test_a_user_turn_sends_its_content_only() -> None:
    # Tool calls and signed reasoning belong to assistant turns: on a user message they
    # are not sent.
    from libchatty.dialects.bedrock_request import request_body

    user = Message(
        "user", "x", tool_calls=[ToolCall("t", "f", "{}")], reasoning="r", reasoning_signature="s"
    )
    assert request_body(ChatRequest("m", [user]))["messages"] == [
        {"role": "user", "content": [{"text": "x"}]}
    ]


def test_a_user_message_after_the_results_joins_them_and_the_next_one_is_its_own() -> None:
    from libchatty.dialects.bedrock_request import request_body

    messages = [
        Message("user", "x"),
        Message("assistant", None, tool_calls=[ToolCall("a", "f", "{}")]),
        Message("tool", "r", tool_call_id="a"),
        Message("user", "more"),
        Message("user", "again"),
    ]
    result = {"toolResult": {"toolUseId": "a", "content": [{"text": "r"}]}}
    assert request_body(ChatRequest("m", messages))["messages"][2:] == [
        {"role": "user", "content": [result, {"text": "more"}]},
        {"role": "user", "content": [{"text": "again"}]},
    ]
