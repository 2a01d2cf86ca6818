"""Shared checks for decoding responses through a :class:`~libchatty.call.Call`.

Every dialect's tests feed a Call the same ways (:func:`feed`, :func:`decode_every_way`),
check that what comes out has the one legal shape (:func:`check_shape`), and compare it
with ``tests/fixtures/expected.json`` (:func:`summary` against :func:`wanted`, or
:func:`error_fields` for an error alone). Where a dialect needs a stricter check it asks for
it with a keyword, so one copy serves them all and none checks less than it did.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, Literal
from unittest.mock import patch

import pytest
from hypothesis import strategies as st
from wire import all_splittings, expected, fixture, parse_request

from libchatty.accumulate import Accumulator
from libchatty.call import Call
from libchatty.dialects import Dialect
from libchatty.dialects.openai_chat import OpenAIChatDecoder
from libchatty.events import Delta, Done, Error, Event, ToolCall, Usage
from libchatty.exceptions import RemoteProtocolError
from libchatty.replay import Script
from libchatty.request import Message
from libchatty.sse import ServerSentEvent

#: expected.json names some error kinds the fixture README's way; ours are shorter.
KIND: Final[Mapping[str, str]] = {
    "invalid_request": "bad_request",
    "server_error": "server",
    "provider_error_event": "provider",
    "incomplete_stream": "incomplete",
}

#: How tool-call deltas must relate to the calls in ``Done`` (see :func:`check_shape`).
Arguments = Literal["indexed", "streamed", "whole"]


def our_kind(kind: str) -> str:
    """The libchatty error kind for an expected.json error kind."""
    return KIND.get(kind, kind)


# --- feeding a Call ----------------------------------------------------------------------------
def feed(call: Call, pieces: Iterable[bytes], eof: bool = True) -> list[Event]:
    """Start ``call``, feed it ``pieces`` while it wants data, then (with ``eof``) the
    peer's close if it still wants data: what a binding does with each read."""
    call.start()
    events: list[Event] = []
    for piece in pieces:
        if not call.wants_data:
            break
        events.extend(call.receive_data(piece))
    if eof and call.wants_data:
        events.extend(call.receive_data(b""))
    return events


def decode_every_way(
    name: str, make_call: Callable[[bool], Call]
) -> Iterator[tuple[str, list[Event]]]:
    """Fixture ``name`` through a fresh call (``make_call(stream)``, not streamed for a
    ``nonstream`` fixture) whole, byte by byte and at random splits: yields each way's
    name and events. Every way must end the call and give the same events as the whole
    response (asserted here); callers check the events and name the way in their message."""
    reference: list[Event] | None = None
    for how, pieces in all_splittings(fixture(name)):
        call = make_call("nonstream" not in name)
        events = feed(call, pieces)
        assert call.finished and not call.wants_data, (name, how)
        if reference is None:
            reference = events
        assert events == reference, (name, how)
        yield how, events


def check_fixture(
    name: str,
    make_call: Callable[[bool], Call],
    *,
    exact_arguments: bool = True,
    several_choices: bool = False,
    arguments: Arguments = "indexed",
) -> None:
    """Fixture ``name`` decoded every way (:func:`decode_every_way`) is what expected.json
    records (:func:`summary` equals :func:`wanted`)."""
    want = wanted(name, exact_arguments=exact_arguments)
    for how, events in decode_every_way(name, make_call):
        got = summary(
            events,
            exact_arguments=exact_arguments,
            several_choices=several_choices,
            arguments=arguments,
        )
        assert got == want, (name, how)


def check_fields(
    name: str,
    make_call: Callable[[bool], Call],
    want: Mapping[str, Any],
    *,
    several_choices: bool = False,
    arguments: Arguments = "indexed",
) -> Done | Error:
    """Fixture ``name`` decoded every way (:func:`decode_every_way`) has the legal shape
    and a terminal event whose attributes are ``want`` (e.g. ``{"kind": "incomplete"}``);
    returns that event."""
    last: Done | Error | None = None
    for how, events in decode_every_way(name, make_call):
        last = check_shape(events, several_choices=several_choices, arguments=arguments)
        for key, value in want.items():
            assert getattr(last, key) == value, (name, how, key)
    assert last is not None
    return last


# --- the shape of a response ---------------------------------------------------------------------
def joined(events: Iterable[Event], kind: str, index: int = 0) -> str:
    """The text of the ``kind`` deltas at ``index`` (a choice, or a tool call), joined."""
    return "".join(
        e.text for e in events if type(e) is Delta and e.kind == kind and e.index == index
    )


def check_shape(
    events: list[Event], *, several_choices: bool = False, arguments: Arguments = "indexed"
) -> Done | Error:
    """Deltas, then exactly one terminal event, which agrees with the deltas; returns it.

    Reasoning and refusal deltas are choice 0's (``Done`` keeps only those); text deltas
    are too unless ``several_choices``, and then ``Done.choices`` holds each choice's text.
    ``Done.text``/``reasoning``/``refusal`` (or ``Error.partial``) are the joined deltas.
    Tool-call deltas carry exactly the indexes ``0 .. len(tool_calls) - 1``; with
    ``arguments="streamed"`` each call's fragments also join to its arguments, with
    ``"whole"`` each call comes as one delta, in order (a dialect whose provider sends
    whole calls). The default leaves the fragments free: a provider may restate the
    arguments at the end (Responses' ``arguments.done``, Anthropic's start-block input).
    """
    assert events, "no events"
    *deltas, last = events
    assert all(type(e) is Delta for e in deltas), deltas
    assert type(last) in (Done, Error), last
    pieces = [e for e in deltas if isinstance(e, Delta)]
    for e in pieces:
        if e.kind in ("reasoning", "refusal") or (e.kind == "text" and not several_choices):
            assert e.index == 0, e
    text = joined(pieces, "text")
    if isinstance(last, Error):
        assert last.partial == text
        return last
    assert isinstance(last, Done)
    assert last.text == text
    assert last.reasoning == joined(pieces, "reasoning")
    assert last.refusal == joined(pieces, "refusal")
    indexes = {e.index for e in pieces if e.kind == "text"}
    if last.choices:
        assert several_choices, last.choices
        assert indexes <= set(range(len(last.choices))), (indexes, last.choices)
        assert list(last.choices) == [joined(pieces, "text", i) for i in range(len(last.choices))]
    else:
        assert indexes <= {0}, indexes
    calls = [e for e in pieces if e.kind == "tool_call"]
    assert {e.index for e in calls} == set(range(len(last.tool_calls)))
    if arguments == "whole":
        assert [e.index for e in calls] == list(range(len(last.tool_calls)))
        assert [e.text for e in calls] == [c.arguments for c in last.tool_calls]
    elif arguments == "streamed":
        for i, call in enumerate(last.tool_calls):
            assert joined(calls, "tool_call", i) == call.arguments, (i, call)
    return last


def check_error_event(events: list[Event], kind: str, status: int, message: str) -> Error:
    """``events`` are one ``Error`` of ``kind``, ``status`` and ``message``, with nothing
    delivered before it (an HTTP error answer); returns it."""
    [error] = events
    assert type(error) is Error, error
    assert (error.kind, error.status, error.message, error.partial) == (kind, status, message, "")
    return error


#: Statuses a replayed error answer is rendered with, and the kind each must decode to.
every_error_status = pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "bad_request"),
        (401, "auth"),
        (403, "permission"),
        (404, "not_found"),
        (429, "rate_limit"),
        (500, "server"),
        (503, "overloaded"),
        (529, "overloaded"),
    ],
)


# --- expected.json's terms -----------------------------------------------------------------------
def summary(
    events: list[Event],
    *,
    exact_arguments: bool = True,
    several_choices: bool = False,
    arguments: Arguments = "indexed",
) -> dict[str, Any]:
    """The decoded result in expected.json's terms, after :func:`check_shape`. Tool-call
    arguments are compared as text, or parsed (``exact_arguments=False``) for a dialect
    whose provider sends them as an object: the README says to compare those parsed."""
    last = check_shape(events, several_choices=several_choices, arguments=arguments)
    deltas = [e for e in events if isinstance(e, Delta)]
    out: dict[str, Any] = {
        "text": "".join(e.text for e in deltas if e.kind == "text"),
        "reasoning": "".join(e.text for e in deltas if e.kind == "reasoning"),
        "refusal": "".join(e.text for e in deltas if e.kind == "refusal"),
        "complete": isinstance(last, Done),
        "tool_calls": [],
        "finish_reason": None,
        "finish_reason_normalized": None,
        "usage": None,
        "error": None,
    }
    if isinstance(last, Done):
        out["tool_calls"] = [
            {
                "id": c.id,
                "name": c.name,
                "arguments": c.arguments if exact_arguments else json.loads(c.arguments),
            }
            for c in last.tool_calls
        ]
        out["finish_reason"] = last.raw_finish_reason
        out["finish_reason_normalized"] = last.finish_reason
        if last.usage is not None:
            out["usage"] = {
                "input_tokens": last.usage.input_tokens,
                "output_tokens": last.usage.output_tokens,
            }
    else:
        out["error"] = error_fields(last)
    return out


def error_fields(error: Error) -> dict[str, Any]:
    """An error in expected.json's terms: the fields it records for one."""
    return {
        "status": error.status,
        "kind": error.kind,
        "message": error.message,
        "provider_type": error.provider_type,
        "retry_after": error.retry_after,
    }


def wanted(name: str, *, exact_arguments: bool = True) -> dict[str, Any]:
    """What expected.json records for fixture ``name``, as :func:`summary` gives it: our
    error kinds, tool arguments parsed unless ``exact_arguments``, and the
    :data:`DELIBERATE` differences applied."""
    entry = expected(name)
    keys = (
        "text",
        "reasoning",
        "refusal",
        "complete",
        "finish_reason",
        "finish_reason_normalized",
        "usage",
    )
    want = {key: entry[key] for key in keys}
    want["tool_calls"] = [
        {**c, "arguments": c["arguments"] if exact_arguments else json.loads(c["arguments"])}
        for c in entry["tool_calls"]
    ]
    want["error"] = entry["error"]
    if entry["error"] is not None:
        error = {**entry["error"], "kind": our_kind(entry["error"]["kind"])}
        want["error"] = {**error, **DELIBERATE.get(name, {})}
    return want


#: Where we decode an error differently from expected.json, on purpose, field by field.
#: (Its error entries are suggestions; everything not named here must match exactly.)
DELIBERATE: Final[Mapping[str, Mapping[str, Any]]] = {
    # An overloaded_error event is kind "overloaded" (what to do: retry later); status 200
    # and provider_type still say it came inside the stream.
    "anthropic/stream-error-overloaded.http": {"kind": "overloaded"},
    # Google says "bad key" with a 400 and reason API_KEY_INVALID: that is "auth", which is
    # what the user must fix.
    "gemini/error-400.http": {"kind": "auth"},
    # expected.json ignores x-ratelimit-reset-*; the bucket that ran dry says how long.
    "openai-chat/error-429.http": {"retry_after": 2.524},
    # expected.json records no message for an HTML page; its title is one.
    "compat/error-502-html.http": {"message": "502 Bad Gateway"},
    # OpenRouter's error code is an integer; provider_type is always text.
    "compat/openrouter-error-402.http": {"provider_type": "402"},
    # llama.cpp's `error:` line is not an SSE field; expected.json records what a pure
    # WHATWG decoder reports and, in its notes, the ideal decode -- which is what we give.
    "compat/llamacpp-error-field.http": {
        "kind": "provider",
        "message": "the request exceeds the available context size, try increasing it",
        "provider_type": "exceed_context_size_error",
    },
}


# --- the request side ----------------------------------------------------------------------------
#: The conversation every request in ``tests/fixtures/request/`` carries.
SKY: Final = (
    Message("system", "You are a concise assistant."),
    Message("user", "Why is the sky blue? One sentence."),
)


def check_like_fixture(
    call: Call, name: str, auth: Iterable[str] = (), extra_body: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """``call.start()`` writes the request of fixture ``name``: the same request line, the
    same JSON body (plus ``extra_body``), and the same host, content type, accept, accept
    encoding and ``auth`` headers. Returns the headers written, by lower-case name."""
    want_head, want_headers, want_body = parse_request(fixture(name))
    head, headers, body = parse_request(call.start())
    line = (head.method, head.target, head.http_version)
    assert line == (want_head.method, want_head.target, want_head.http_version), line
    assert body == {**want_body, **(extra_body or {})}
    for header in ("host", "content-type", "accept", "accept-encoding", *auth):
        assert headers[header] == want_headers[header], header
    return headers


# --- generated input ------------------------------------------------------------------------------
#: Small JSON values (tool arguments, unknown fields), nested a little.
JSON_VALUES: Final = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)

#: Any JSON scalar, and any JSON value made of them: what a decoder must survive in a field.
SCALARS: Final = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
ANY_JSON: Final = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


def check_decoder_survives(
    step: Callable[[Any], list[Event]],
    inputs: Iterable[Any],
    end: Callable[[], Event],
    acc: Accumulator | None = None,
    *,
    ends_without_marker: bool = False,
) -> None:
    """Fed ``inputs`` one by one, a stream decoder returns only events or raises
    :class:`RemoteProtocolError` (then stops being fed); it stops being fed after a
    terminal event too, and if none came, its ``end()`` is an ``Error``. With ``acc``
    (the decoder's accumulator), its ``partial`` must always be exactly the text the
    deltas carried: a field that fails after text never leaves unseen text behind.
    ``ends_without_marker``: the stream has no end marker (Gemini), so ``end()`` may
    also be a ``Done``."""
    seen: list[str] = []
    for item in inputs:
        try:
            events = step(item)
        except RemoteProtocolError:
            if acc is not None:
                assert acc.partial == "".join(seen), (acc.partial, seen)
            return
        assert all(type(e) in (Delta, Done, Error) for e in events), events
        seen += [e.text for e in events if type(e) is Delta and e.kind == "text" and not e.index]
        if acc is not None:
            assert acc.partial == "".join(seen), (acc.partial, seen)
        if events and type(events[-1]) is not Delta:
            return
    assert type(end()) in ((Done, Error) if ends_without_marker else (Error,))


def check_body_survives(dialect: Dialect, body: Any) -> None:
    """Any JSON value as a whole body decodes to deltas and one terminal event, or raises
    :class:`RemoteProtocolError`."""
    try:
        events = dialect.decode_body(body)
    except RemoteProtocolError:
        return
    assert events, body
    assert all(type(e) is Delta for e in events[:-1]), events
    assert type(events[-1]) in (Done, Error), events


def mutations(value: Any) -> Iterator[tuple[list[Any], Any]]:
    """Every path into ``value`` (dict keys and list items), as (path, sub-value)."""
    yield [], value
    if isinstance(value, dict):
        for key, item in value.items():
            for path, sub in mutations(item):
                yield [key, *path], sub
    elif isinstance(value, list):
        for n, item in enumerate(value):
            for path, sub in mutations(item):
                yield [n, *path], sub


def replaced(value: Any, path: list[Any], new: Any) -> Any:
    """A deep copy of ``value`` with the item at ``path`` replaced by ``new``."""
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


def mutated_events(data: st.DataObject, events: list[Any]) -> list[Any]:
    """``events`` (JSON values) with arbitrary JSON at one path of one of them."""
    position = data.draw(st.integers(0, len(events) - 1))
    path = data.draw(st.sampled_from([p for p, _ in mutations(events[position])]))
    out = list(events)
    out[position] = replaced(events[position], path, data.draw(ANY_JSON))
    return out


@st.composite
def scripts(draw: st.DrawFn, id_prefix: str) -> Script:
    """A scripted answer for a renderer round trip: text, reasoning, up to three tool calls
    (ids ``<id_prefix><n>``, as the provider names them) and usage or none."""
    calls = draw(
        st.lists(
            st.builds(
                lambda n, args: ToolCall(f"{id_prefix}{n}", "fn", json.dumps(args)),
                st.integers(0, 99),
                st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3),
            ),
            max_size=3,
            unique_by=lambda c: c.id,
        )
    )
    usage = draw(
        st.none()
        | st.builds(
            lambda i, o, c: Usage(i, o, i + o, None, c),
            st.integers(0, 10**6),
            st.integers(0, 10**6),
            st.none() | st.integers(0, 10**6),
        )
    )
    return Script(
        text=draw(st.text(max_size=40)),
        reasoning=draw(st.text(max_size=40)),
        tool_calls=tuple(calls),
        finish_reason=draw(st.sampled_from(["stop", "length", "tool_calls", "content_filter"])),
        usage=usage,
    )


@contextmanager
def given_to_sse_event() -> Iterator[list[ServerSentEvent]]:
    """The events OpenAIChatDecoder.sse_event is given while the block runs."""
    real = OpenAIChatDecoder.sse_event
    seen: list[ServerSentEvent] = []

    def spy(self: OpenAIChatDecoder, event: ServerSentEvent) -> list[Event]:
        seen.append(event)
        return real(self, event)

    with patch.object(OpenAIChatDecoder, "sse_event", spy):
        yield seen
