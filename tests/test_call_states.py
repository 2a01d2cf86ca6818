"""Call's state table (libchatty.callstate): every mode driven with every caller input, and
random input sequences through both doors -- each input is either in the table for the
mode (and the call moves as the table says) or refused with LocalProtocolError, leaving
the call as it was. Modelled on h2's tests/test_state_machines.py."""

from __future__ import annotations

import enum
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire import chunked_response

from libchatty import Call, ChatRequest, Done, Endpoint, Error, Event, LocalProtocolError, Message
from libchatty.callstate import CALLER_INPUTS, TRANSITIONS, Input, Mode

SSE_BODY = (
    b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)
JSON_BODY = json.dumps(
    {"choices": [{"index": 0, "message": {"content": "Hi"}, "finish_reason": "stop"}]}
).encode()
SSE = [("content-type", "text/event-stream")]
HEADS: dict[Mode, tuple[int, list[tuple[str, str]]]] = {
    Mode.SSE: (200, SSE),
    Mode.NDJSON: (200, [("content-type", "application/x-ndjson")]),
    Mode.EVENTSTREAM: (200, [("content-type", "application/vnd.amazon.eventstream")]),
    Mode.JSON_BODY: (200, [("content-type", "application/json")]),
    Mode.ERROR_BODY: (500, []),
}
RAW_HEADS = {
    mode: b"HTTP/1.1 %d X\r\nTransfer-Encoding: chunked\r\n%s\r\n"
    % (status, b"".join(f"{n}: {v}\r\n".encode() for n, v in headers))
    for mode, (status, headers) in HEADS.items()
}


def new_call() -> Call:
    endpoint = Endpoint("https://api.openai.com/v1", "sk-test-states-key")
    return Call(endpoint, ChatRequest("m", [Message("user", "hi")]))


def reach(mode: Mode, door: str) -> Call:
    """A call in ``mode``, driven there through ``door`` ("raw" or "framed")."""
    call = new_call()
    if mode is Mode.NEW:
        return call
    if door == "raw":
        call.start()
        if mode in RAW_HEADS:
            call.receive_data(RAW_HEADS[mode])
        elif mode is Mode.DRAIN:
            call.receive_data(RAW_HEADS[Mode.SSE] + b"%x\r\n%s\r\n" % (len(SSE_BODY), SSE_BODY))
        elif mode is Mode.CLOSED:
            call.receive_data(
                chunked_response([SSE_BODY], headers=b"Content-Type: text/event-stream\r\n")
            )
    else:
        call.http_request()
        if mode in HEADS:
            call.receive_head(*HEADS[mode])
        elif mode in (Mode.DRAIN, Mode.CLOSED):
            call.receive_head(200, SSE)
            call.receive_body(SSE_BODY)
            if mode is Mode.CLOSED:
                call.receive_end()
    assert call._mode is mode
    return call


# One call of each caller input, with arguments that are valid whatever the mode.
ACTIONS: dict[Input, Callable[[Call], list[Event] | Any]] = {
    Input.START: lambda call: call.start(),
    Input.HTTP_REQUEST: lambda call: call.http_request(),
    Input.DATA: lambda call: call.receive_data(b"HTTP/1.1 200 OK\r\n"),
    Input.HEAD: lambda call: call.receive_head(200, SSE),
    Input.BODY: lambda call: call.receive_body(b"data: {"),
    Input.END: lambda call: call.receive_end(),
}
RAW_INPUTS = {Input.START, Input.DATA}
DOORS = ["raw", "framed"]
ALL_MODES = list(Mode)
# The raw door's bytes carry a head, body and end: h11 and the body reader find them and
# the call gives itself the framed door's inputs.
CARRIED = {Input.DATA: {Input.HEAD, Input.BODY, Input.END}}


def own_closure(mode: Mode, what: Input) -> set[Mode]:
    """Every mode the call can be in after the caller's ``what`` in ``mode``: the
    table's next mode, then any its own inputs (and those ``what`` carries) lead to."""
    first = TRANSITIONS[mode][what]
    extra = CARRIED.get(what, set())
    seen = {first}
    todo = [first]
    while todo:
        for step, nxt in TRANSITIONS[todo.pop()].items():
            if (step not in CALLER_INPUTS or step in extra) and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_table_covers_every_mode_and_only_known_inputs() -> None:
    assert set(TRANSITIONS) == set(Mode)
    assert TRANSITIONS[Mode.CLOSED] == {}
    # Every mode but NEW is reachable from NEW.
    reachable = {Mode.NEW}
    todo = [Mode.NEW]
    while todo:
        for nxt in TRANSITIONS[todo.pop()].values():
            if nxt not in reachable:
                reachable.add(nxt)
                todo.append(nxt)
    assert reachable == set(Mode)


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("mode", ALL_MODES, ids=[m.name for m in ALL_MODES])
@pytest.mark.parametrize("what", CALLER_INPUTS, ids=[i.name for i in CALLER_INPUTS])
def test_every_mode_with_every_input(door: str, mode: Mode, what: Input) -> None:
    call = reach(mode, door)
    own_door = mode is Mode.NEW or (what in RAW_INPUTS) == (door == "raw")
    allowed = own_door and what in TRANSITIONS[mode]
    before = call._mode
    if not allowed:
        with pytest.raises(LocalProtocolError):
            ACTIONS[what](call)
        assert call._mode is before  # a refused input changes nothing
        return
    ACTIONS[what](call)
    assert call._mode in own_closure(mode, what)


def check_events(events: list[Event]) -> None:
    """At most one terminal event, and it is last."""
    terminal = [i for i, e in enumerate(events) if isinstance(e, Done | Error)]
    assert terminal in ([], [len(events) - 1])


STEP = st.sampled_from(CALLER_INPUTS)
PIECES = st.sampled_from(
    [
        b"",
        b"HTTP/1.1 200 OK\r\n",
        RAW_HEADS[Mode.SSE],
        b"1c\r\n",
        SSE_BODY,
        JSON_BODY,
        b"0\r\n\r\n",
        b"\xff",
    ]
)


@given(st.sampled_from(DOORS), st.lists(st.tuples(STEP, PIECES, st.booleans()), max_size=20))
def test_random_inputs_follow_the_table(door: str, steps: list[tuple[Input, bytes, bool]]) -> None:
    call = new_call()
    events: list[Event] = []
    for what, piece, flag in steps:
        mode, chosen = call._mode, call._door
        own_door = chosen is None or (what in RAW_INPUTS) == (chosen == "raw")
        allowed = own_door and what in TRANSITIONS[mode]
        actions: dict[Input, Callable[[], Any]] = {
            Input.START: call.start,
            Input.HTTP_REQUEST: call.http_request,
            Input.DATA: lambda: call.receive_data(piece),  # noqa: B023
            Input.HEAD: lambda: call.receive_head(200 if flag else 500, SSE),  # noqa: B023
            Input.BODY: lambda: call.receive_body(piece),  # noqa: B023
            Input.END: lambda: call.receive_end(flag),  # noqa: B023
        }
        if not allowed:
            with pytest.raises(LocalProtocolError):
                actions[what]()
            assert call._mode is mode
            continue
        got = actions[what]()
        if isinstance(got, list):
            assert not (got and call.finished and events and isinstance(events[-1], Done | Error))
            events += got
        assert call._mode in own_closure(mode, what)
        check_events(events)
        assert call.finished == any(isinstance(e, Done | Error) for e in events)
        assert call.wants_data == (call._mode not in (Mode.NEW, Mode.CLOSED))


@pytest.mark.parametrize("made", [Mode, Input], ids=lambda made: made.__name__)
def test_modes_and_inputs_are_the_enums_their_class_statements_make(made: Any) -> None:
    # callstate makes them with enum._simple_enum where there is one (Python 3.11+): the
    # twin is the class statement they replace, and the stdlib's own check compares the
    # two -- class attributes, members, their order, values, hashing, pickling.
    members = "".join(f"    {member.name} = {member.value!r}\n" for member in made)
    scope: dict[str, Any] = {"Enum": enum.Enum, "__name__": made.__module__}
    exec(
        f"class {made.__name__}(Enum):\n    {made.__doc__!r}\n{members}"
        "    __hash__ = object.__hash__\n",
        scope,
    )
    twin = scope[made.__name__]
    if hasattr(enum, "_test_simple_enum"):
        enum._test_simple_enum(twin, made)  # raises TypeError naming what differs
    assert isinstance(made, enum.EnumMeta) and issubclass(made, enum.Enum)
    assert [(m.name, m.value) for m in made] == [(m.name, m.value) for m in twin]
    assert made.__hash__ is object.__hash__ and made.__qualname__ == made.__name__
    for member in made:
        assert made(member.value) is member is made[member.name]
        assert pickle.loads(pickle.dumps(member)) is member
        assert repr(member) == f"<{made.__name__}.{member.name}: {member.value!r}>"
        assert str(member) == f"{made.__name__}.{member.name}"
