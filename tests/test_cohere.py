"""The Cohere v2 chat dialect: every fixture through the Call (whole, byte by byte, at
random splits), citations through the decoder the same ways, a hypothesis-generated event
stream written by an encoder in this file (not the replay renderer) with random SSE and
HTTP framing, render round trips, malformed input, bounds, and request building.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

import h11
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
    decode_every_way,
    every_error_status,
    feed,
    mutations,
    replaced,
    scripts,
)
from hypothesis import given
from hypothesis import strategies as st
from wire import all_splittings, fixture, fixture_names, random_chunked, random_splits, sse_frame

import libchatty.dialects.cohere as cohere
from libchatty.call import Call
from libchatty.content import AudioPart, DocumentPart, ImagePart, TextPart
from libchatty.dialects.cohere import (
    DIALECT,
    MAX_CITATION_BYTES,
    MAX_CITATIONS,
    MAX_TOOL_CALLS,
    CohereStreamDecoder,
)
from libchatty.endpoint import Endpoint
from libchatty.events import Citation, Delta, Done, Error, Event, ToolCall, Usage
from libchatty.exceptions import LimitExceeded, RemoteProtocolError
from libchatty.options import JSONSchema, Reasoning
from libchatty.replay import Script
from libchatty.replay import cohere as replay_cohere
from libchatty.replay.cohere import RENDERER
from libchatty.request import ChatRequest, Message, Tool
from libchatty.sse import ServerSentEvent, SSEDecoder

BASE = "https://api.cohere.com"
KEY = "co-EXAMPLE-not-a-real-key"


def make_call(stream: bool = True) -> Call:
    chat = ChatRequest("command-a-03-2025", [Message("user", "hi")], stream=stream)
    return Call(Endpoint(BASE, KEY, dialect="cohere"), chat)


# --- the shared fixture and ours, whole, byte by byte and at random splits -------------------
def test_shared_fixture() -> None:
    check_fixture("cohere/stream-text.http", make_call)


def test_shared_fixture_usage_is_tokens_not_billed_units() -> None:
    done = check_fields("cohere/stream-text.http", make_call, {"raw_finish_reason": "COMPLETE"})
    assert isinstance(done, Done) and done.usage == Usage(69, 9, 78, None, None)


PLAN = "I will look up the weather in Madrid and Brasília."
ANSWER = "The tallest penguins are the Emperor penguins, which only live in the Antártida."
DOCS = (
    {
        "type": "document",
        "id": "doc:0",
        "document": {
            "id": "doc:0",
            "snippet": "Emperor penguins are the tallest.",
            "title": "Tall penguins",
        },
    },
    {
        "type": "document",
        "id": "doc:1",
        "document": {
            "id": "doc:1",
            "snippet": "Emperor penguins only live in Antártida.",
            "title": "Penguin habitats",
        },
    },
)
CITATIONS = (
    Citation(29, 45, "Emperor penguins", (DOCS[0],), "TEXT_CONTENT"),
    Citation(70, 79, "Antártida", (DOCS[1],), "TEXT_CONTENT"),
)

MINE: dict[str, dict[str, Any]] = {
    # Tool plan (reasoning), two parallel calls with fragmented arguments, CRLF framing.
    "cohere/mine-stream-tool-calls.http": {
        "text": "",
        "reasoning": PLAN,
        "tool_calls": (
            ToolCall("get_weather_8sgxbn2h4pzk", "get_weather", '{\n    "location": "Madrid"\n}'),
            ToolCall("get_weather_b6xgbm1k0sgq", "get_weather", '{\n    "location": "Brasília"\n}'),
        ),
        "finish_reason": "tool_calls",
        "raw_finish_reason": "TOOL_CALL",
        "usage": Usage(1143, 71, 1214, None, None),
    },
    # RAG answer with two citations; a chunk boundary inside "á".
    "cohere/mine-stream-citations.http": {
        "text": ANSWER,
        "finish_reason": "stop",
        "raw_finish_reason": "COMPLETE",
        "usage": Usage(1204, 27, 1231, None, None),
    },
    # A reasoning model: a thinking block, then the text; ended by a stop sequence.
    "cohere/mine-stream-thinking.http": {
        "text": "Autumn moonlight—\na worm digs silently",
        "reasoning": "The user wants a haiku.",
        "finish_reason": "stop",
        "raw_finish_reason": "STOP_SEQUENCE",
        "usage": Usage(52, 30, 82, None, None),
    },
    "cohere/mine-stream-max-tokens.http": {
        "text": "1, 2, 3, 4,",
        "finish_reason": "length",
        "raw_finish_reason": "MAX_TOKENS",
        "usage": Usage(211, 8, 219, None, None),
    },
    # The body ends (properly chunked) without message-end.
    "cohere/mine-stream-cut.http": {
        "kind": "incomplete",
        "message": "the Cohere stream ended before message-end",
        "partial": "Once upon a time",
        "status": 200,
    },
    # message-end with finish_reason ERROR and an error text: a failure, worth a retry.
    "cohere/mine-stream-error.http": {
        "kind": "provider",
        "message": "internal server error, please try again later",
        "partial": "Let me think",
        "status": 200,
        "retryable": True,
        "provider_type": "ERROR",
    },
    "cohere/mine-error-400.http": {
        "kind": "bad_request",
        "status": 400,
        "message": "invalid request: messages must contain at least one user message.",
        "retryable": False,
        "partial": "",
    },
    "cohere/mine-error-401.http": {
        "kind": "auth",
        "status": 401,
        "message": "invalid api token",
        "retryable": False,
    },
    "cohere/mine-error-429.http": {
        "kind": "rate_limit",
        "status": 429,
        "retryable": True,
        "retry_after": None,
        "message": (
            "You are using a Trial key, which is limited to 20 API calls / minute. You can "
            "continue to use the Trial key for free or upgrade to a Production key with higher "
            "rate limits at 'https://dashboard.cohere.com/api-keys'. Contact us on "
            "'https://discord.gg/XW44jPfYJu' or email us at support@cohere.com with any questions"
        ),
    },
    "cohere/mine-nonstream-citations.http": {
        "text": ANSWER,
        "finish_reason": "stop",
        "usage": Usage(1204, 27, 1231, None, None),
    },
    "cohere/mine-nonstream-tool-calls.http": {
        "text": "",
        "reasoning": "I will look up the weather in Madrid.",
        "tool_calls": (
            ToolCall("get_weather_1byjy32y4hvq", "get_weather", '{"location":"Madrid"}'),
        ),
        "finish_reason": "tool_calls",
        "usage": Usage(1143, 25, 1168, None, None),
    },
}


def test_every_fixture_is_checked() -> None:
    assert set(fixture_names("cohere")) == {*MINE, "cohere/stream-text.http"}


@pytest.mark.parametrize("name", sorted(MINE))
def test_my_fixture(name: str) -> None:
    check_fields(name, make_call, MINE[name], arguments="streamed")


def test_citations_index_the_answer() -> None:
    for citation in CITATIONS:
        assert ANSWER[citation.start : citation.end] == citation.text


# --- citations, through the decoder and on Done ------------------------------------------------
def response_body(raw: bytes) -> bytes:
    """The de-framed body of one HTTP response, read by h11 (not by the code under test)."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="POST", target="/v2/chat", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(raw)
    client.receive_data(b"")
    body = []
    for _ in range(len(raw) + 2):
        event = client.next_event()
        if isinstance(event, h11.Data):
            body.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            return b"".join(body)
    raise AssertionError("no end of message")


def decode_stream(
    pieces: list[bytes], decoder: CohereStreamDecoder | None = None
) -> tuple[list[Event], CohereStreamDecoder]:
    """``pieces`` of an SSE body through an SSEDecoder and a CohereStreamDecoder, as the
    Call drives them; stops at the first terminal event."""
    decoder = decoder or CohereStreamDecoder()
    sse = SSEDecoder()
    events: list[Event] = []
    for piece in [*pieces, None]:
        items = sse.feed(piece) if piece is not None else sse.close()
        for item in items:
            try:
                got = decoder.sse_event(item)
            except RemoteProtocolError as exc:
                kind = "limit" if isinstance(exc, LimitExceeded) else "protocol"
                return [*events, decoder.acc.error(kind, str(exc))], decoder
            events.extend(got)
            if got and type(got[-1]) is not Delta:
                return events, decoder
    return [*events, decoder.end()], decoder


def test_stream_citations_in_every_splitting() -> None:
    body = response_body(fixture("cohere/mine-stream-citations.http"))
    for how, pieces in all_splittings(body):
        events, decoder = decode_stream(pieces)
        assert decoder.citations == CITATIONS, how
        last = events[-1]
        assert isinstance(last, Done) and last.text == ANSWER, how


def test_body_citations_reach_done() -> None:
    body = json.loads(response_body(fixture("cohere/mine-nonstream-citations.http")))
    last = DIALECT.decode_body(body)[-1]
    assert isinstance(last, Done) and last.text == ANSWER
    assert last.citations == CITATIONS
    assert last.response_id == "c14c80c3-18eb-4519-9460-6c92edd8cfb4"
    events, _ = decode_stream([response_body(fixture("cohere/mine-stream-citations.http"))])
    last = events[-1]
    assert isinstance(last, Done)
    assert last.citations == CITATIONS
    assert last.response_id == "9d1c2f0e-0000-4000-8000-000000000002"


def test_citations_reach_done_through_the_call_every_way() -> None:
    for how, events in decode_every_way("cohere/mine-stream-citations.http", make_call):
        last = events[-1]
        assert isinstance(last, Done), how
        assert last.citations == CITATIONS, how


def test_citation_is_hashable_and_frozen() -> None:
    assert hash(CITATIONS[0]) == hash(Citation(29, 45, "Emperor penguins", (), "TEXT_CONTENT"))
    with pytest.raises(AttributeError):
        CITATIONS[0].text = "x"  # type: ignore[misc]


# --- a stream written here, with random framing ----------------------------------------------
# The finish reasons this test expects, written from Cohere's reference (not the dialect).
NORMAL = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
}


@dataclass
class Model:
    """What a generated stream must decode to."""

    wire: list[dict[str, Any]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tools: list[ToolCall] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)


def _msg(kind: str, message: dict[str, Any], index: int | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": kind, "delta": {"message": message}}
    if index is not None:
        payload["index"] = index
    return payload


@st.composite
def streams(draw: st.DrawFn) -> tuple[Model, str]:
    """A v2 chat stream as payloads, and how it ends: ``end``, ``cut`` or ``error``."""
    model = Model()
    model.wire.append(_msg("message-start", {"role": "assistant", "content": []}) | {"id": "m"})
    pieces = st.lists(st.text(max_size=10), max_size=4)
    content = 0
    for block in draw(st.lists(st.sampled_from(["text", "thinking", "plan", "tool", "cite"]))):
        if block in ("text", "thinking"):
            parts = draw(pieces)
            opening = {"type": block, block: ""}
            model.wire.append(_msg("content-start", {"content": opening}, content))
            for part in parts:
                model.wire.append(_msg("content-delta", {"content": {block: part}}, content))
                (model.text if block == "text" else model.reasoning).append(part)
            model.wire.append({"type": "content-end", "index": content})
            content += 1
        elif block == "plan":
            for part in draw(pieces):
                model.wire.append(_msg("tool-plan-delta", {"tool_plan": part}))
                model.reasoning.append(part)
        elif block == "tool":
            n = len(model.tools)
            args = json.dumps(draw(st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=3)))
            cuts = sorted(draw(st.lists(st.integers(0, len(args)), max_size=3)))
            name = draw(st.sampled_from(["get_weather", "search"]))
            call = {
                "id": f"{name}_{n}",
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            model.wire.append(_msg("tool-call-start", {"tool_calls": call}, n))
            for a, b in pairwise([0, *cuts, len(args)]):
                fragment = {"tool_calls": {"function": {"arguments": args[a:b]}}}
                model.wire.append(_msg("tool-call-delta", fragment, n))
            model.wire.append({"type": "tool-call-end", "index": n})
            model.tools.append(ToolCall(f"{name}_{n}", name, args))
        else:
            start, length = draw(st.integers(0, 99)), draw(st.integers(0, 9))
            text = draw(st.text(max_size=8))
            source = {"type": "document", "id": "doc:0", "document": {"id": "doc:0", "t": text}}
            wire = {"start": start, "end": start + length, "text": text, "sources": [source]}
            model.wire.append(_msg("citation-start", {"citations": wire}, len(model.citations)))
            model.wire.append({"type": "citation-end", "index": len(model.citations)})
            model.citations.append(Citation(start, start + length, text, (source,)))
    reason = draw(st.sampled_from(sorted(NORMAL)))
    tokens = {"input_tokens": draw(st.integers(0, 10**6)), "output_tokens": draw(st.integers(0, 9))}
    usage = {"billed_units": {"input_tokens": 1, "output_tokens": 1}, "tokens": tokens}
    model.wire.append({"type": "message-end", "delta": {"finish_reason": reason, "usage": usage}})
    ending = draw(st.sampled_from(["end", "end", "cut", "error"]))
    if ending != "end":
        keep = draw(st.integers(0, len(model.wire) - 1))  # never message-end
        del model.wire[keep:]
        model.text = [
            e["delta"]["message"]["content"]["text"]
            for e in model.wire
            if e["type"] == "content-delta" and "text" in e["delta"]["message"]["content"]
        ]
        if ending == "error":
            error = {"finish_reason": "ERROR", "error": "boom"}
            model.wire.append({"type": "message-end", "delta": error})
    return model, ending


@st.composite
def framings(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "eol": draw(st.sampled_from(["\n", "\r\n", "\r"])),
        "space": draw(st.booleans()),
        "event_line": draw(st.booleans()),
        "separators": draw(st.sampled_from([(",", ":"), (", ", ": ")])),
        "ascii": draw(st.booleans()),
        "done": draw(st.booleans()),
        "comment": draw(st.booleans()),
    }


def encode(model: Model, framing: dict[str, Any]) -> bytes:
    out = []
    for payload in model.wire:
        text = json.dumps(payload, separators=framing["separators"], ensure_ascii=framing["ascii"])
        out.append(
            sse_frame(
                text,
                event=payload["type"] if framing["event_line"] else None,
                eol=framing["eol"],
                data_space=framing["space"],
                comment="keep-alive" if framing["comment"] else None,
            )
        )
    if framing["done"]:
        out.append(sse_frame("[DONE]", eol=framing["eol"]))
    return "".join(out).encode()


@given(streams(), framings(), st.integers(0, 2**32))
def test_generated_stream(stream: tuple[Model, str], framing: dict[str, Any], seed: int) -> None:
    model, ending = stream
    body = encode(model, framing)
    events = feed(make_call(), random_splits(random_chunked(body), seed, 97))
    last = check_shape(events, arguments="streamed")
    # The citations, from the decoder fed the same body at other splits.
    direct, decoder = decode_stream(random_splits(body, seed + 1, 13))
    if isinstance(direct[-1], Error):  # the Call names the HTTP status the decoder leaves out
        direct[-1] = replace(direct[-1], status=200)
    assert direct == events
    if ending == "end":
        assert isinstance(last, Done)
        assert last.text == "".join(model.text)
        assert last.reasoning == "".join(model.reasoning)
        assert last.tool_calls == tuple(model.tools)
        assert decoder.citations == tuple(model.citations)
        final = model.wire[-1]["delta"]
        tokens = final["usage"]["tokens"]
        total = tokens["input_tokens"] + tokens["output_tokens"]
        assert last.usage == Usage(tokens["input_tokens"], tokens["output_tokens"], total)
        assert last.raw_finish_reason == final["finish_reason"]
        normal = NORMAL[final["finish_reason"]]
        # A plain stop with tool calls is a tool-call stop; a length cut stays one.
        assert last.finish_reason == ("tool_calls" if model.tools and normal == "stop" else normal)
    else:
        assert isinstance(last, Error)
        assert last.partial == "".join(model.text)
        assert last.status == 200
        if ending == "cut":
            assert last.kind == "incomplete"
        else:
            assert (last.kind, last.message, last.provider_type, last.retryable) == (
                "provider",
                "boom",
                "ERROR",
                True,
            )


# --- the renderers, decoded back -------------------------------------------------------------


def check_script(script: Script, last: Done | Error) -> None:
    assert isinstance(last, Done)
    assert (last.text, last.reasoning) == (script.text, script.reasoning)
    assert last.tool_calls == script.tool_calls
    assert last.usage == script.usage
    want = "tool_calls" if script.tool_calls and script.finish_reason == "stop" else None
    assert last.finish_reason == (want or script.finish_reason)


WIRE_CITATIONS = (
    {"start": 0, "end": 1, "text": "a", "sources": [DOCS[0]], "type": "TEXT_CONTENT"},
)


@given(scripts("call_"), st.integers(0, 2**32))
def test_render_stream_round_trip(script: Script, seed: int) -> None:
    body = b"".join(RENDERER.render_stream(script))
    check_script(script, check_shape(feed(make_call(), random_splits(random_chunked(body), seed))))
    cited = b"".join(replay_cohere.render_stream(script, WIRE_CITATIONS))
    _, decoder = decode_stream(random_splits(cited, seed, 31))
    want = (
        (Citation(0, 1, "a", (DOCS[0],), "TEXT_CONTENT"),)
        if script.text or not script.tool_calls
        else ()
    )
    assert decoder.citations == want


@given(scripts("call_"))
def test_render_body_round_trip(script: Script) -> None:
    body = random_chunked(RENDERER.render_body(script), content_type="application/json")
    check_script(script, check_shape(feed(make_call(stream=False), [body])))


@every_error_status
def test_render_error_round_trip(status: int, kind: str) -> None:
    body = random_chunked(RENDERER.render_error(status, "nope"), status, "application/json")
    check_error_event(feed(make_call(), [body]), kind, status, "nope")


def test_render_stream_error_keeps_the_partial_text() -> None:
    wire = RENDERER.render_stream(Script(text="Hello there friend"))
    body = b"".join(wire[:4]) + RENDERER.render_stream_error("overloaded, try again")
    last = check_shape(feed(make_call(), [random_chunked(body)]))
    assert isinstance(last, Error)
    want = ("provider", 200, True, "ERROR", "overloaded, try again", "Hello there")
    assert (
        last.kind,
        last.status,
        last.retryable,
        last.provider_type,
        last.message,
        last.partial,
    ) == want


def test_matches_and_stream_requests() -> None:
    assert RENDERER.matches("POST", "/v2/chat")
    assert RENDERER.matches("POST", "/cohere/v2/chat?x=1")
    assert not RENDERER.matches("GET", "/v2/chat")
    assert not RENDERER.matches("POST", "/v1/chat")
    assert RENDERER.is_stream_request("/v2/chat", {"stream": True})
    assert not RENDERER.is_stream_request("/v2/chat", {"stream": False})
    assert not RENDERER.is_stream_request("/v2/chat", {})


# --- malformed input: typed errors, never a crash ----------------------------------------------
def sse(payload: Any, event: str = "message") -> ServerSentEvent:
    return ServerSentEvent(
        event=event, data=payload if isinstance(payload, str) else json.dumps(payload)
    )


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[1, 2]",
        "[" * 100_000,
        {"type": "content-delta", "index": 0, "delta": 3},
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": 7}}}},
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {}}}},
        {"type": "content-start", "index": 0, "delta": {"message": {"content": "x"}}},
        {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": None}}},
        {
            "type": "tool-call-start",
            "delta": {"message": {"tool_calls": {"function": {"name": "f"}}}},
        },
        {
            "type": "tool-call-start",
            "index": 0,
            "delta": {"message": {"tool_calls": {"function": {}}}},
        },
        {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": [{}, {}]}}},
        {
            "type": "tool-call-delta",
            "index": 5,
            "delta": {"message": {"tool_calls": {"function": {"arguments": "{"}}}},
        },
        {"type": "citation-start", "index": 0, "delta": {"message": {"citations": {"start": "1"}}}},
        {
            "type": "citation-start",
            "index": 0,
            "delta": {"message": {"citations": {"sources": {}}}},
        },
        {"type": "message-end", "delta": {"finish_reason": 3}},
        {"type": "message-end", "delta": None},
    ],
)
def test_malformed_events_raise_remote_protocol_error(data: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        CohereStreamDecoder().sse_event(sse(data))


def test_a_tool_call_started_twice_is_a_protocol_error() -> None:
    decoder = CohereStreamDecoder()
    start = _msg("tool-call-start", {"tool_calls": {"id": "a", "function": {"name": "f"}}}, 0)
    assert decoder.sse_event(sse(start)) == [Delta("", "tool_call", 0, "a", "f")]
    with pytest.raises(RemoteProtocolError, match="twice"):
        decoder.sse_event(sse(start))


def test_malformed_event_through_the_call_is_a_protocol_error_with_partial() -> None:
    body = b"".join(RENDERER.render_stream(Script(text="abc def")))
    cut = body.index(b"event: content-end")
    last = feed(make_call(), [random_chunked(body[:cut] + b"data: {oops\n\n")])[-1]
    assert isinstance(last, Error)
    assert (last.kind, last.partial, last.status) == ("protocol", "abc def", 200)


def test_unknown_events_done_marker_and_bare_starts_are_ignored() -> None:
    decoder = CohereStreamDecoder()
    assert decoder.sse_event(sse({"type": "debug", "x": 1})) == []
    assert decoder.sse_event(sse({"type": "content-start", "index": 0})) == []
    assert decoder.sse_event(sse("[DONE]")) == []
    last = decoder.end()
    assert isinstance(last, Error)
    assert (last.kind, last.message) == (
        "incomplete",
        "the Cohere stream ended before message-start",
    )


def test_events_named_only_by_the_event_line() -> None:
    decoder = CohereStreamDecoder()
    delta = {"delta": {"message": {"content": {"text": "hi"}}}}
    assert decoder.sse_event(sse(delta, "content-delta")) == [Delta("hi")]
    end = {"delta": {"finish_reason": "COMPLETE"}}
    assert decoder.sse_event(sse(end, "message-end")) == [
        Done("stop", "hi", raw_finish_reason="COMPLETE")
    ]


@pytest.mark.parametrize(
    ("usage", "want"),
    [
        ({"billed_units": {"input_tokens": 3, "output_tokens": 9}}, None),
        ({"tokens": {"input_tokens": 5}}, Usage(5, None, None)),
        (
            {"tokens": {"input_tokens": 5, "output_tokens": 2}, "cached_tokens": 4},
            Usage(5, 2, 7, None, 4),
        ),
        ({"tokens": {"input_tokens": True, "output_tokens": "2"}}, None),
        (None, None),
    ],
)
def test_usage_is_tokens_only(usage: Any, want: Usage | None) -> None:
    (last,) = CohereStreamDecoder().sse_event(
        sse({"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": usage}})
    )
    assert isinstance(last, Done) and last.usage == want


@pytest.mark.parametrize("reason", ["ERROR", "TIMEOUT"])
def test_failed_finish_reasons_are_errors(reason: str) -> None:
    (last,) = CohereStreamDecoder().sse_event(
        sse({"type": "message-end", "delta": {"finish_reason": reason}})
    )
    want = Error(
        "provider",
        f"Cohere ended the response with finish_reason {reason}",
        200,
        None,
        True,
        "",
        reason,
    )
    assert last == want


def test_error_event_from_a_gateway() -> None:
    (last,) = CohereStreamDecoder().sse_event(sse({"type": "error", "message": "upstream reset"}))
    assert last == Error("provider", "upstream reset", 200)


def test_body_error_envelope_with_200() -> None:
    assert DIALECT.decode_body({"id": "x", "message": "m"}) == [Error("provider", "m", 200)]


def test_body_with_a_message_that_is_not_an_object_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError):
        DIALECT.decode_body({"id": "x", "message": 3})


PAYLOADS = {
    "content-start": _msg("content-start", {"content": {"type": "text", "text": "a"}}, 0),
    "content-delta": _msg("content-delta", {"content": {"text": "b"}}, 0),
    "tool-plan-delta": _msg("tool-plan-delta", {"tool_plan": "p"}),
    "tool-call-start": _msg(
        "tool-call-start",
        {"tool_calls": {"id": "i", "function": {"name": "f", "arguments": ""}}},
        0,
    ),
    "tool-call-delta": _msg(
        "tool-call-delta", {"tool_calls": {"function": {"arguments": "{}"}}}, 0
    ),
    "citation-start": _msg(
        "citation-start", {"citations": {"start": 0, "end": 1, "text": "a", "sources": []}}, 0
    ),
    "message-end": {
        "type": "message-end",
        "delta": {"finish_reason": "COMPLETE", "usage": {"tokens": {}}},
    },
}


@given(st.data())
def test_arbitrary_json_anywhere_in_any_event(data: st.DataObject) -> None:
    events = [{"type": "message-start", "delta": {"message": {"role": "assistant"}}}]
    events += [
        PAYLOADS[name]
        for name in data.draw(st.lists(st.sampled_from(sorted(PAYLOADS)), max_size=6))
    ]
    position = data.draw(st.integers(0, len(events) - 1))
    paths = [path for path, _ in mutations(events[position])]
    path = data.draw(st.sampled_from(paths))
    events[position] = replaced(events[position], path, data.draw(ANY_JSON))
    decoder = CohereStreamDecoder()
    check_decoder_survives(lambda e: decoder.sse_event(sse(e)), events, decoder.end)


BODY = json.loads(response_body(fixture("cohere/mine-nonstream-tool-calls.http")))
BODY["message"]["content"] = [{"type": "text", "text": "t"}, {"type": "thinking", "thinking": "r"}]
BODY["message"]["citations"] = [
    {"start": 0, "end": 1, "text": "t", "sources": [{"type": "tool", "id": "x"}]}
]


@given(st.data())
def test_arbitrary_json_anywhere_in_a_body(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from([p for p, _ in mutations(BODY)]))
    check_body_survives(DIALECT, replaced(BODY, path, data.draw(ANY_JSON)))


@given(ANY_JSON)
def test_arbitrary_json_as_a_body(body: Any) -> None:
    check_body_survives(DIALECT, body)


# --- bounds: at the limit and one past it ------------------------------------------------------
def _starts(n: int) -> list[ServerSentEvent]:
    return [
        sse(_msg("tool-call-start", {"tool_calls": {"function": {"name": "f"}}}, i))
        for i in range(n)
    ]


def test_tool_call_bound() -> None:
    decoder = CohereStreamDecoder(max_tool_calls=3)
    for event in _starts(3):
        decoder.sse_event(event)
    with pytest.raises(LimitExceeded, match="more than 3 tool calls"):
        decoder.sse_event(_starts(4)[3])
    assert MAX_TOOL_CALLS == 1024


def _citation_event(n: int) -> ServerSentEvent:
    return sse(_msg("citation-start", {"citations": {"start": n, "end": n, "text": ""}}, n))


def test_citation_count_bound() -> None:
    decoder = CohereStreamDecoder(max_citations=2)
    decoder.sse_event(_citation_event(0))
    decoder.sse_event(_citation_event(1))
    assert decoder.citations == (Citation(0, 0, ""), Citation(1, 1, ""))
    with pytest.raises(LimitExceeded, match="more than 2 citations"):
        decoder.sse_event(_citation_event(2))
    assert MAX_CITATIONS == 4096


def test_citation_bytes_bound() -> None:
    size = len(_citation_event(0).data)
    at_limit = CohereStreamDecoder(max_citation_bytes=2 * size)
    at_limit.sse_event(_citation_event(0))
    at_limit.sse_event(_citation_event(1))
    assert len(at_limit.citations) == 2
    past = CohereStreamDecoder(max_citation_bytes=2 * size - 1)
    past.sse_event(_citation_event(0))
    with pytest.raises(LimitExceeded, match=f"exceed {2 * size - 1} bytes"):
        past.sse_event(_citation_event(1))
    assert MAX_CITATION_BYTES == 16 * 1024 * 1024


def test_body_citation_bound() -> None:
    body = {"message": {"citations": [{"text": "a"}] * 3}, "finish_reason": "COMPLETE"}
    assert isinstance(cohere.decode_body(body, max_citations=3)[-1], Done)
    with pytest.raises(LimitExceeded, match="more than 2 citations"):
        cohere.decode_body(body, max_citations=2)


def test_citation_limit_through_the_call_keeps_the_partial_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        DIALECT, "stream_decoder", lambda request: CohereStreamDecoder(max_citations=0)
    )
    body = b"".join(replay_cohere.render_stream(Script(text="a b"), WIRE_CITATIONS))
    last = feed(make_call(), [random_chunked(body)])[-1]
    assert isinstance(last, Error)
    assert (last.kind, last.partial, last.message) == ("limit", "a b", "more than 0 citations")


# --- request building ------------------------------------------------------------------------
def build(
    request: ChatRequest, endpoint: Endpoint | None = None
) -> tuple[str, dict[str, str], Any]:
    spec = DIALECT.build_request(endpoint or Endpoint(BASE, KEY, dialect="cohere"), request)
    assert spec.method == "POST"
    return spec.target, dict(spec.headers), json.loads(spec.body)


def test_request_matches_the_fixture() -> None:
    key = "EXAMPLE-not-a-real-key"  # the fixture's placeholder
    call = Call(Endpoint(BASE, key, dialect="cohere"), ChatRequest("command-a-03-2025", SKY))
    check_like_fixture(call, "request/cohere.http", ("authorization",))


def test_defaults_prefixes_and_headers() -> None:
    request = ChatRequest("m", [Message("user", "hi")], stream=False)
    assert build(request) == (
        "/v2/chat",
        {"Authorization": f"Bearer {KEY}"},
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert build(request, Endpoint("https://gw.example/cohere/v2", None, dialect="cohere"))[:2] == (
        "/cohere/v2/chat",
        {},
    )
    own = Endpoint(
        BASE, KEY, dialect="cohere", headers={"authorization": "Bearer other", "X-Client-Name": "t"}
    )
    assert build(request, own)[1] == {"authorization": "Bearer other", "X-Client-Name": "t"}


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
        extra={"seed": 7, "safety_mode": "OFF"},
    )
    _, _, body = build(request)
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather now",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        "tool_choice": "REQUIRED",
        "temperature": 0.5,
        "p": 0.9,
        "max_tokens": 77,
        "stop_sequences": ["END", "STOP"],
        "stream": True,
        "seed": 7,
        "safety_mode": "OFF",
    }


@pytest.mark.parametrize(
    ("choice", "choice_wire", "offered"),
    [
        ("auto", None, ["a", "b"]),
        ("none", "NONE", ["a", "b"]),
        ("required", "REQUIRED", ["a", "b"]),
        ("b", "REQUIRED", ["b"]),
    ],
)
def test_tool_choice(choice: str, choice_wire: str | None, offered: list[str]) -> None:
    _, _, body = build(
        ChatRequest("m", [Message("user", "hi")], tools=[Tool("a"), Tool("b")], tool_choice=choice)
    )
    assert body.get("tool_choice") == choice_wire
    assert [t["function"]["name"] for t in body["tools"]] == offered


def test_a_named_tool_without_tools_cannot_be_forced() -> None:
    with pytest.raises(ValueError, match="cannot force tool 'f'"):
        build(ChatRequest("m", [Message("user", "hi")], tool_choice="f"))


def test_tool_loop_messages() -> None:
    calls = (ToolCall("c1", "get_weather", '{"city": "Paris"}'), ToolCall("c2", "get_time", ""))
    request = ChatRequest(
        "m",
        [
            Message("system", "Be brief."),
            Message("developer", "Use tools."),
            Message("user", "Weather and time in Paris?"),
            Message("assistant", None, tool_calls=calls, reasoning="I will call both."),
            Message("tool", '{"temp": 18}', tool_call_id="c1"),
            Message("tool", "12:00", tool_call_id="c2"),
            Message("assistant", "18C at noon."),
        ],
    )
    assert build(request)[2]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {
            "role": "assistant",
            "tool_plan": "I will call both.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": [{"type": "document", "document": {"data": '{"temp": 18}'}}],
        },
        {
            "role": "tool",
            "tool_call_id": "c2",
            "content": [{"type": "document", "document": {"data": "12:00"}}],
        },
        {"role": "assistant", "content": "18C at noon."},
    ]


def test_a_tool_call_without_id_cannot_be_sent() -> None:
    request = ChatRequest(
        "m",
        [
            Message("user", "hi"),
            Message("assistant", None, tool_calls=(ToolCall(None, "f", "{}"),)),
        ],
    )
    with pytest.raises(ValueError) as info:
        build(request)
    assert str(info.value) == "tool call 'f' has no id; Cohere needs one to match its result"


def test_documents() -> None:
    documents = [
        "plain text",
        {"id": "d1", "data": {"title": "T", "snippet": "S"}},
        {"data": {"text": "x"}},
    ]
    request = ChatRequest("m", [Message("user", "hi")], extra={"documents": documents})
    assert build(request)[2]["documents"] == documents


@pytest.mark.parametrize(
    "documents",
    [
        "one string",
        [3],
        [{"title": "no data"}],
        [{"data": "not an object"}],
        [{"data": {}, "id": 4}],
        [{"data": {}, "x": 1}],
    ],
)
def test_invalid_documents_raise_value_error(documents: Any) -> None:
    request = ChatRequest("m", [Message("user", "hi")], extra={"documents": documents})
    with pytest.raises(ValueError, match=r"extra\['documents'\] must be a list"):
        build(request)


def test_key_never_in_the_request_repr() -> None:
    spec = DIALECT.build_request(
        Endpoint(BASE, KEY, dialect="cohere"), ChatRequest("m", [Message("user", "hi")])
    )
    assert KEY not in repr(spec)


# --- issue 12: parts, structured output, reasoning, seed/n, headers, response id ---------------
# Expected bodies written from Cohere's v2 chat reference (docs.cohere.com/reference/chat):
# user content blocks {"type": "text"} / {"type": "image_url", "image_url": {"url",
# "detail"}}; response_format {"type": "json_object", "json_schema"?}; thinking {"type":
# "enabled", "token_budget"?}; seed. Not from the renderer.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x01\x02\xff" * 3
PNG_URL = "data:image/png;base64,iVBORw0KGgoAAQL/AAEC/wABAv8="
PERSON = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
VISION = "command-a-vision-07-2025"


def body_of(request: ChatRequest) -> dict[str, Any]:
    return json.loads(DIALECT.build_request(Endpoint(BASE, "k", dialect="cohere"), request).body)


def test_image_parts_as_documented() -> None:
    parts = [
        TextPart("Describe both."),
        ImagePart(PNG),
        ImagePart(url="https://example.com/cat.jpg", detail="low"),
    ]
    request = ChatRequest(VISION, [Message("system", "Be brief."), Message("user", parts)])
    assert body_of(request) == {
        "model": VISION,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe both."},
                    {"type": "image_url", "image_url": {"url": PNG_URL}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"},
                    },
                ],
            },
        ],
        "stream": True,
    }
    text_only = ChatRequest(VISION, [Message("user", [TextPart("a"), TextPart("b")])], stream=False)
    assert body_of(text_only) == {"model": VISION, "messages": [{"role": "user", "content": "ab"}]}


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            Message("user", [TextPart("x"), DocumentPart(b"%PDF-1.7")]),
            "Cohere cannot send a DocumentPart (part 1 of a user message): it takes text and "
            "images (grounding documents go in ChatRequest.extra['documents'])",
        ),
        (
            Message("user", [AudioPart(b"RIFF....WAVE", "audio/wav")]),
            "Cohere cannot send an AudioPart (part 0 of a user message): it takes text and "
            "images (grounding documents go in ChatRequest.extra['documents'])",
        ),
        (
            Message("system", [ImagePart(PNG)]),
            "Cohere takes images in user messages only (part 0 of a system message)",
        ),
        (
            Message("tool", [ImagePart(PNG)], tool_call_id="c1"),
            "Cohere takes images in user messages only (part 0 of a tool message)",
        ),
    ],
)
def test_parts_cohere_cannot_carry_are_refused(message: Message, error: str) -> None:
    with pytest.raises(ValueError) as caught:
        body_of(ChatRequest(VISION, [message]))
    assert str(caught.value) == error


@pytest.mark.parametrize(
    ("response_format", "wire"),
    [
        ("json", {"type": "json_object"}),
        (JSONSchema("person", PERSON), {"type": "json_object", "json_schema": PERSON}),
        (
            JSONSchema("person", PERSON, strict=False, description="d"),
            {"type": "json_object", "json_schema": PERSON},
        ),
    ],
)
def test_structured_output_as_documented(response_format: Any, wire: dict[str, Any]) -> None:
    request = ChatRequest("command-a-03-2025", [Message("user", "Who?")], stream=False,
                          response_format=response_format)  # fmt: skip
    assert body_of(request) == {
        "model": "command-a-03-2025",
        "messages": [{"role": "user", "content": "Who?"}],
        "response_format": wire,
    }


@pytest.mark.parametrize(
    ("reasoning", "thinking"),
    [
        (Reasoning(), {"type": "enabled"}),
        (Reasoning(effort="low"), {"type": "enabled", "token_budget": 2048}),
        (Reasoning(effort="medium"), {"type": "enabled", "token_budget": 8192}),
        (Reasoning(effort="high"), {"type": "enabled", "token_budget": 24576}),
        (Reasoning(effort="high", budget_tokens=1024), {"type": "enabled", "token_budget": 1024}),
        (Reasoning(budget_tokens=5000, summary=True), {"type": "enabled", "token_budget": 5000}),
    ],
)
def test_reasoning_is_thinking(reasoning: Reasoning, thinking: dict[str, Any]) -> None:
    request = ChatRequest("command-a-reasoning-08-2025", [Message("user", "2+2?")],
                          stream=False, reasoning=reasoning, seed=-5, n=1)  # fmt: skip
    assert body_of(request) == {
        "model": "command-a-reasoning-08-2025",
        "messages": [{"role": "user", "content": "2+2?"}],
        "thinking": thinking,
        "seed": -5,
    }


def test_n_above_one_is_refused_and_headers_follow_the_endpoints() -> None:
    with pytest.raises(ValueError) as caught:
        body_of(ChatRequest("m", [Message("user", "x")], n=2))
    assert str(caught.value) == "Cohere returns one answer per request: ChatRequest.n must be 1"
    endpoint = Endpoint(BASE, "k", dialect="cohere", headers={"X-Client-Name": "app"})
    request = ChatRequest("m", [Message("user", "x")], headers={"X-Trace": "t-1"})
    assert DIALECT.build_request(endpoint, request).headers == (
        ("Authorization", "Bearer k"),
        ("X-Client-Name", "app"),
        ("X-Trace", "t-1"),
    )


def test_response_id_streamed_every_way_and_whole() -> None:
    for how, events in decode_every_way("cohere/stream-text.http", make_call):
        last = events[-1]
        assert isinstance(last, Done), how
        assert (last.response_id, last.model) == ("8b32f432-fd1f-4183-96c4-76693feb6820", None)
    message = {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}
    body = {"id": "r-1", "finish_reason": "COMPLETE", "message": message}
    assert DIALECT.decode_body(body)[-1] == Done(
        "stop", "hi", raw_finish_reason="COMPLETE", response_id="r-1"
    )
    with pytest.raises(RemoteProtocolError, match=r"Cohere response\.id is not a string"):
        DIALECT.decode_body({**body, "id": 7})
    decoder = CohereStreamDecoder()
    start = ServerSentEvent(data='{"type": "message-start", "id": ["x"]}', event="message-start")
    with pytest.raises(RemoteProtocolError, match=r"Cohere message-start\.id is not a string"):
        decoder.sse_event(start)


def test_parts_and_format_round_trip_through_the_replay_server() -> None:
    from libchatty.bindings.server import ReplayServer
    from test_ollama import loopback_events

    with ReplayServer(script=Script(text='{"name": "Ada"}'), keep_credentials=True) as server:
        endpoint = Endpoint(server.base_url.removesuffix("/v1"), "k", dialect="cohere")
        for stream in (True, False):
            request = ChatRequest(
                VISION,
                [Message("user", [TextPart("Who?"), ImagePart(PNG)])],
                stream=stream,
                response_format=JSONSchema("person", PERSON),
                reasoning=Reasoning(budget_tokens=2000),
                seed=1,
            )
            last = loopback_events(server, endpoint, request)[-1]
            assert isinstance(last, Done)
            assert last.text == '{"name": "Ada"}'
            sent = server.requests[-1]
            assert sent.path == "/v2/chat"
            expected: dict[str, Any] = {
                "model": VISION,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "Who?"},
                            {"type": "image_url", "image_url": {"url": PNG_URL}},
                        ],
                    }
                ],
                "response_format": {"type": "json_object", "json_schema": PERSON},
                "thinking": {"type": "enabled", "token_budget": 2000},
                "seed": 1,
            }
            if stream:
                expected["stream"] = True
            assert sent.json == expected


def test_request_headers_replace_endpoint_headers_of_the_same_name() -> None:
    from libchatty.dialects.cohere import DIALECT as COHERE
    from libchatty.endpoint import Endpoint
    from libchatty.request import ChatRequest, Message

    endpoint = Endpoint("https://api.cohere.com", "k", "cohere", headers={"X-Client-Name": "a"})
    request = ChatRequest("m", [Message("user", "x")], headers={"x-client-name": "b"})
    assert COHERE.build_request(endpoint, request).headers == (
        ("Authorization", "Bearer k"),
        ("x-client-name", "b"),
    )


# --- an event's data: JSON object or a protocol error naming the event (40 characters) -------
def _payload_error(data: str, event: str) -> str:
    with pytest.raises(RemoteProtocolError) as caught:
        CohereStreamDecoder().sse_event(ServerSentEvent(event=event, data=data))
    return str(caught.value)


def test_event_data_that_is_not_json_names_the_event() -> None:
    assert _payload_error("{", "content-delta") == (
        "Cohere event 'content-delta' carries data that is not JSON"
    )
    assert _payload_error("[1]", "content-delta") == (
        "Cohere event 'content-delta' is not a JSON object"
    )


def test_a_long_event_name_is_cut_at_40_characters() -> None:
    name = "e" * 40 + "f"
    assert _payload_error("{", name) == f"Cohere event {'e' * 40!r} carries data that is not JSON"
    assert _payload_error("7", name) == f"Cohere event {'e' * 40!r} is not a JSON object"


# --- every malformed event names what was wrong, exactly ---------------------------------------
_STARTED = {
    "type": "tool-call-start",
    "index": 0,
    "delta": {"message": {"tool_calls": {"id": "a", "function": {"name": "f"}}}},
}


def _start(call: Any) -> dict[str, Any]:
    return {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": call}}}


def _more(delta: Any) -> dict[str, Any]:
    return {"type": "tool-call-delta", "index": 0, "delta": delta}


def _cite(citation: Any) -> dict[str, Any]:
    return {"type": "citation-start", "index": 0, "delta": {"message": {"citations": citation}}}


def _content_event(kind: str, content: Any) -> dict[str, Any]:
    return {"type": kind, "index": 0, "delta": {"message": {"content": content}}}


@pytest.mark.parametrize(
    ("payloads", "message"),
    [
        ([{"type": "tool-plan-delta", "delta": 3}], "tool-plan-delta.delta is not a JSON object"),
        ([{"type": "tool-plan-delta", "delta": {"message": 3}}],
         "tool-plan-delta.delta.message is not a JSON object"),
        ([{"type": "tool-plan-delta", "delta": {"message": {"tool_plan": 3}}}],
         "tool-plan-delta has no string tool_plan"),
        ([{"type": "tool-call-start"}], "tool-call-start has no integer index"),
        ([{"type": "tool-call-start", "index": 0, "delta": 3}],
         "tool-call-start.delta is not a JSON object"),
        ([_start(3)], "tool-call-start call is not a JSON object"),
        ([_start({"function": 3})], "tool-call-start call.function is not a JSON object"),
        ([_start({"function": {"name": ""}})], "tool-call-start call has no function name"),
        ([_start({"id": 7, "function": {"name": "f"}})], "tool-call-start call.id is not a string"),
        ([_start({"function": {"name": "f", "arguments": 7}})],
         "tool-call-start arguments are not a string"),
        ([{"type": "tool-call-delta"}], "tool-call-delta has no integer index"),
        ([{"type": "tool-call-delta", "index": 5}],
         "tool-call-delta for tool call 5 never started"),
        ([_STARTED, _more(3)], "tool-call-delta.delta is not a JSON object"),
        ([_STARTED, _more({"message": {"tool_calls": 3}})],
         "tool-call-delta call is not a JSON object"),
        ([_STARTED, _more({"message": {"tool_calls": {"function": 3}}})],
         "tool call is not a JSON object"),
        ([_STARTED, _more({"message": {"tool_calls": {"function": {"arguments": 3}}}})],
         "tool-call-delta has no string arguments"),
        ([{"type": "content-start", "index": 0, "delta": 3}],
         "content-start.delta is not a JSON object"),
        ([{"type": "content-delta", "index": 0, "delta": {"message": 3}}],
         "content-delta.delta.message is not a JSON object"),
        ([_content_event("content-start", 3)],
         "content-start.delta.message.content is not a JSON object"),
        ([_content_event("content-delta", {"text": 7})],
         "content-delta content.text is not a string"),
        ([_content_event("content-delta", {"thinking": 7})],
         "content-delta content.thinking is not a string"),
        ([_content_event("content-delta", {})], "content-delta has neither text nor thinking"),
        ([{"type": "message-start", "id": 7}], "message-start.id is not a string"),
        ([{"type": "message-end", "delta": 3}], "message-end.delta is not a JSON object"),
        ([{"type": "message-end", "delta": {"finish_reason": 3}}], "finish_reason is not a string"),
        ([{"type": "message-end", "delta": {"usage": 3}}], "usage is not a JSON object"),
        ([_cite({"start": "1"})], "citation start/end is not an integer"),
        ([_cite({"end": "1"})], "citation start/end is not an integer"),
        ([_cite({"sources": {}})], "citation.sources is not a list"),
        ([_cite({"sources": [3]})], "citation source is not a JSON object"),
        ([_cite({"text": 7})], "citation.text is not a string"),
        ([_cite({"type": 7})], "citation.type is not a string"),
        ([_cite(3)], "citation is not a JSON object"),
    ],
)  # fmt: skip
def test_each_malformed_event_names_what_was_wrong(
    payloads: list[dict[str, Any]], message: str
) -> None:
    decoder = CohereStreamDecoder()
    with pytest.raises(RemoteProtocolError) as caught:
        for payload in payloads:
            decoder.sse_event(ServerSentEvent(event=payload["type"], data=json.dumps(payload)))
    assert str(caught.value) == f"Cohere {message}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (3, "response body is not a JSON object"),
        ({"message": 3}, "response body's message is not a JSON object"),
        ({"message": {"tool_plan": 3}}, "response message.tool_plan is not a string"),
        ({"message": {"content": [3]}}, "content item is not a JSON object"),
        ({"message": {"content": {}}}, "response message.content is not a list"),
        ({"message": {"content": [{"type": "thinking", "thinking": 3}]}},
         "thinking content.thinking is not a string"),
        ({"message": {"content": [{"type": "text", "text": 3}]}},
         "text content.text is not a string"),
        ({"message": {"tool_calls": [3]}}, "tool call is not a JSON object"),
        ({"message": {"tool_calls": {}}}, "response message.tool_calls is not a list"),
        ({"message": {"citations": {}}}, "response message.citations is not a list"),
        ({"message": {"citations": [3]}}, "citation is not a JSON object"),
        ({"id": 3, "message": {}}, "response.id is not a string"),
    ],
)  # fmt: skip
def test_each_malformed_body_names_what_was_wrong(body: Any, message: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        cohere.decode_body(body)
    assert str(caught.value) == f"Cohere {message}"


def _events(*payloads: dict[str, Any]) -> list[Event]:
    decoder = CohereStreamDecoder()
    out: list[Event] = []
    for payload in payloads:
        out += decoder.sse_event(ServerSentEvent(event=payload["type"], data=json.dumps(payload)))
    return out


def test_empty_plans_and_fragments_make_no_delta() -> None:
    empty_plan = {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": ""}}}
    assert _events(empty_plan) == []
    empty_fragment = _more({"message": {"tool_calls": {"function": {"arguments": ""}}}})
    assert _events(_STARTED, empty_fragment) == [Delta("", "tool_call", 0, "a", "f")]


def test_an_error_event_without_a_string_message_says_so() -> None:
    default = "Cohere reported an error in the stream"
    assert _events({"type": "error", "message": 7}) == [Error("provider", default, 200)]
    assert _events({"type": "error", "message": ""}) == [Error("provider", default, 200)]


def test_a_whole_body_with_thinking_an_empty_error_or_deep_arguments() -> None:
    body = {
        "message": {
            "content": [
                {"type": "thinking", "thinking": "hm"},
                {"type": "text", "text": "hi"},
            ]
        },
        "finish_reason": "COMPLETE",
    }
    events = cohere.decode_body(body)
    assert events[:2] == [Delta("hm", "reasoning"), Delta("hi")]
    assert cohere.decode_body({"id": "x", "message": ""}) == [
        Error("provider", "Cohere error", 200)
    ]
    deep: dict[str, Any] = {}
    for _ in range(100_000):
        deep = {"a": deep}
    call = {"function": {"name": "f", "arguments": deep}}
    with pytest.raises(RemoteProtocolError) as caught:
        cohere.decode_body({"message": {"tool_calls": [call]}})
    assert str(caught.value) == "Cohere arguments is nested too deeply"


def test_a_citation_start_without_a_delta_object_is_named() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        _events({"type": "citation-start", "index": 0, "delta": 3})
    assert str(caught.value) == "Cohere citation-start.delta is not a JSON object"


def test_an_empty_text_next_to_thinking_is_reasoning_not_an_empty_text_delta() -> None:
    # Bug: the hot path took any string text, so an empty one dropped the thinking beside it.
    assert _events(_content_event("content-delta", {"text": "", "thinking": "t"})) == [
        Delta("t", "reasoning")
    ]
    assert _events(_content_event("content-delta", {"text": ""})) == []


def test_the_hot_path_is_only_for_content_deltas_with_text() -> None:
    # The fast path skips the checks of the slow one: it must take exactly the events it
    # is written for (a string text in a content-delta's delta.message.content).
    assert _events(_content_event("content-delta", {"text": "x", "thinking": 7})) == [Delta("x")]
    plan = {
        "type": "tool-plan-delta",
        "delta": {"message": {"tool_plan": "p", "content": {"text": "x"}}},
    }
    assert _events(plan) == [Delta("p", "reasoning")]


def test_one_element_lists_are_unwrapped_and_longer_ones_refused() -> None:
    call = {"id": "a", "function": {"name": "f"}}
    assert _events(_start([call])) == [Delta("", "tool_call", 0, "a", "f")]
    with pytest.raises(RemoteProtocolError) as caught:
        _events(_start([call, call]))
    assert str(caught.value) == "Cohere tool-call-start call is not a JSON object"
    with pytest.raises(RemoteProtocolError) as caught:
        _events(_start({"function": {"name": 7}}))
    assert str(caught.value) == "Cohere tool-call-start call has no function name"


def test_bare_events_and_odd_endings() -> None:
    start = {"type": "content-start", "index": 0, "delta": {}}
    bare_end = {"type": "message-end"}
    (done,) = _events(start, bare_end)
    assert type(done) is Done
    assert (done.finish_reason, done.raw_finish_reason) == (None, None)
    # An unknown finish reason is kept as it is; an error that is not a string is no
    # error; a failed finish with one is described by the reason.
    unknown = {"type": "message-end", "delta": {"finish_reason": "WEIRD", "error": 7}}
    (done,) = _events(unknown)
    assert type(done) is Done
    assert (done.finish_reason, done.raw_finish_reason) == ("WEIRD", "WEIRD")
    failed = {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": 7}}
    assert _events(failed) == [
        Error(
            "provider",
            "Cohere ended the response with finish_reason ERROR",
            200,
            retryable=True,
            provider_type="ERROR",
        )
    ]


# --- request edges -------------------------------------------------------------------------------
def _request_body(**fields: Any) -> dict[str, Any]:
    spec = cohere.DIALECT.build_request(
        Endpoint(BASE, KEY, dialect="cohere"), ChatRequest("m", **fields)
    )
    body: dict[str, Any] = json.loads(spec.body)
    return body


def test_null_content_is_empty_and_an_assistant_keeps_its_text_beside_calls() -> None:
    assistant = Message("assistant", "let me look", tool_calls=[ToolCall("c", "f", "{}")])
    body = _request_body(messages=[Message("user", None), assistant])
    assert body["messages"] == [
        {"role": "user", "content": ""},
        {
            "role": "assistant",
            "content": "let me look",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
    ]


def test_forcing_a_tool_without_tools_is_refused() -> None:
    with pytest.raises(ValueError) as caught:
        _request_body(messages=[Message("user", "x")], tool_choice="f")
    assert str(caught.value) == (
        "Cohere cannot force tool 'f' without ChatRequest.tools (it is forced by offering it alone)"
    )


def test_whole_body_tool_calls_and_errors() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        cohere.decode_body({"message": {"tool_calls": [{"function": 3}]}})
    assert str(caught.value) == "Cohere tool call.function is not a JSON object"
    call = {"function": {"name": "f"}}
    events = cohere.decode_body({"message": {"tool_calls": [call]}, "finish_reason": "TOOL_CALL"})
    assert events[0] == Delta("{}", "tool_call", 0, None, "f")
    assert cohere.decode_body({"message": {}, "error": "boom"}) == [
        Error("provider", "boom", 200, retryable=True)
    ]
