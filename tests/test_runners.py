"""bindings/_runners.py and _chat_run.py: which reads :func:`adrive` hands to
``receive_next`` (the one a backend may rest before: only a read that follows a delivery
of streamed output),
:func:`arun`, which hands each delivery to a hook instead of yielding its events, and the
relay (:class:`Relay`: the body of a streamed answer read, fed and delivered by the runner
until something other than streamed output comes) that the loop asks for when no clock
runs, as :func:`drive` and :func:`adrive` serve it. Driven by scripted backends: no
socket, no clock but a list."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any
from unittest.mock import patch

import pytest
from libchatty.bindings._api import Timeout
from libchatty.bindings._exchange import DRAIN_TIMEOUT, Exchange
from libchatty.bindings._ops import (
    Conn,
    Connect,
    Deliver,
    IOFailure,
    Op,
    Receive,
    Relay,
    Runtime,
    Send,
)
from libchatty.bindings._pool import Pool
from libchatty.bindings._runners import AsyncBackend, Body, SyncBackend, adrive, arun, drive
from test_driver import config

from libchatty.events import Delta, Done, Error, Event
from libchatty.request import ChatRequest, Message

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
END = b"0\r\n\r\n"


def chunk(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    event = f"data: {data}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(event), event)


def piece(text: str) -> bytes:
    return chunk({"choices": [{"index": 0, "delta": {"content": text}}]})


STOP = chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + chunk("[DONE]")


class FakeConn:
    def abort(self) -> None:
        pass


class ScriptedBackend(AsyncBackend):
    """Reads return the script's items in turn; ``reads`` records which method served
    each one."""

    def __init__(self, script: list[bytes]) -> None:
        self.script = list(script)
        self.reads: list[str] = []

    async def connect(self, host: str, port: int, timeout: float | None) -> Conn:
        return FakeConn()

    async def start_tls(self, conn: Any, server_hostname: str, timeout: float | None) -> Conn:
        raise AssertionError("plain HTTP only")

    async def send(self, conn: Any, data: bytes, timeout: float | None) -> None:
        pass

    async def receive(self, conn: Any, timeout: float | None) -> bytes:
        self.reads.append("receive")
        return self.script.pop(0) if self.script else b""

    def receive_next(self, conn: Any, timeout: float | None) -> Awaitable[bytes | None]:
        self.reads.append("receive_next")
        return self._next()

    async def _next(self) -> bytes:
        return self.script.pop(0) if self.script else b""

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("no retries here")

    async def probe(self, conn: Any) -> bool:
        return False


def exchange(timeout: Timeout | None = None, pool: Pool | None = None) -> Exchange:
    request = ChatRequest("m", [Message("user", "hi")], stream=True)
    runtime = Runtime(lambda: 0.0, lambda: 0.0, lambda: 0.0)
    return Exchange(config(timeout=timeout), request, pool or Pool(), runtime)


def test_only_reads_after_a_delivery_of_streamed_output_go_to_receive_next() -> None:
    # The head alone (no delivery), the first piece, two more, then the end of the
    # stream with Done, and the end of the body read after it.
    backend = ScriptedBackend([HEAD, piece("a"), piece("b") + piece("c"), STOP, END])

    async def main() -> list[Event]:
        return [event async for event in adrive(exchange().run(), backend)]

    events = asyncio.run(main())
    assert [e.text for e in events if type(e) is Delta] == ["a", "b", "c"]
    assert type(events[-1]) is Done and events[-1].text == "abc"
    # The first read, the one after the head and the one after Done never rest.
    assert backend.reads == ["receive", "receive", "receive_next", "receive_next", "receive"]


def test_arun_hands_each_delivery_to_the_hook_and_yields_nothing() -> None:
    backend = ScriptedBackend([HEAD + piece("a"), piece("b") + piece("c"), STOP + END])
    deliveries: list[list[Event]] = []
    run = exchange()

    asyncio.run(arun(run.run(), backend, deliveries.append))
    assert [[type(e) for e in batch] for batch in deliveries] == [[Delta], [Delta, Delta], [Done]]
    texts = [[e.text for e in batch if not isinstance(e, Error)] for batch in deliveries]
    assert texts == [["a"], ["b", "c"], ["abc"]]
    assert run.completion().text == "abc"
    assert backend.reads == ["receive", "receive_next", "receive_next"]


def test_the_default_receive_next_is_receive() -> None:
    backend = ScriptedBackend([b"x"])
    reading = AsyncBackend.receive_next(backend, FakeConn(), 1.0)
    assert asyncio.run(reading) == b"x"  # type: ignore[arg-type]
    assert backend.reads == ["receive"]


# --- the relay --------------------------------------------------------------------------------

def comment() -> bytes:
    event = b": ping\n\n"
    return b"%x\r\n%s\r\n" % (len(event), event)


class ScriptedSyncBackend(SyncBackend):
    """Reads return the script's items in turn (an exception is raised); ``reads``
    records each read's timeout. Keeps the default ``perform``: :func:`drive` calls
    ``receive`` itself."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.reads: list[float | None] = []
        self.conn = ScriptedConn()

    def connect(self, host: str, port: int, timeout: float | None) -> Conn:
        return self.conn

    def start_tls(self, conn: Any, server_hostname: str, timeout: float | None) -> Conn:
        raise AssertionError("plain HTTP only")

    def send(self, conn: Any, data: bytes, timeout: float | None) -> None:
        pass

    def receive(self, conn: Any, timeout: float | None) -> bytes:
        assert not self.conn.aborted
        self.reads.append(timeout)
        item = self.script.pop(0) if self.script else b""
        if isinstance(item, BaseException):
            raise item
        return item

    def sleep(self, seconds: float) -> None:
        raise AssertionError("no retries here")

    def probe(self, conn: Any) -> bool:
        return False


class ScriptedConn:
    aborted = False

    def abort(self) -> None:
        self.aborted = True


class PerformingBackend(ScriptedSyncBackend):
    """A backend that overrides ``perform`` (as the threads binding does, to make every
    read cancellable): the relay's reads go through it too."""

    def __init__(self, script: list[Any]) -> None:
        super().__init__(script)
        self.ops: list[Op] = []

    def perform(self, op: Op) -> Any:
        self.ops.append(op)
        return super().perform(op)


def ops_of(loop: Any, backend: SyncBackend) -> tuple[list[str], list[Relay]]:
    """Step ``loop`` by hand, as a runner without a relay would: each operation's name
    (a relay is served read by read: ``Relay`` then one ``read`` per read it makes), and
    the relays asked for."""
    kinds: list[str] = []
    relays: list[Relay] = []
    op: Any = next(loop)
    try:
        while True:
            kinds.append(type(op).__name__)
            if type(op) is Deliver:
                kinds[-1] += f"({''.join(type(e).__name__[0] for e in op.events)})"
                op = loop.send(None)
            elif type(op) is Relay:
                relays.append(op)
                while True:  # what Relay says, written out plainly
                    kinds.append("read")
                    data = backend.perform(op.read)
                    if not data:
                        op = loop.send(data)
                        break
                    events = op.feed(data)
                    if not events or type(events[-1]) is not Delta:
                        op = loop.send(events)
                        break
                    kinds.append(f"deliver({''.join(type(e).__name__[0] for e in events)})")
            else:
                op = loop.send(backend.perform(op))
    except StopIteration:
        pass
    return kinds, relays


def test_with_no_clock_running_the_body_is_relayed_after_the_first_delivery() -> None:
    backend = ScriptedSyncBackend([HEAD, piece("a"), piece("b") + piece("c"), piece("d"),
                                   STOP, END])
    kinds, relays = ops_of(exchange(Timeout(idle=60)).run(), backend)
    # The head and the first delta come through the loop; the deltas after it are
    # relayed; Done comes back to the loop, which delivers it and drains the body.
    assert kinds == ["Connect", "Send", "Receive", "Receive", "Deliver(D)", "Relay",
                     "read", "deliver(DD)", "read", "deliver(D)", "read", "Deliver(D)",
                     "Receive"]
    read = relays[0].read
    assert type(read) is Receive and read.timeout == 60
    assert backend.reads == [60, 60, 60, 60, 60, DRAIN_TIMEOUT]


def test_a_read_that_completes_no_event_ends_the_relay() -> None:
    # A keep-alive comment: the loop takes the next read itself (a backend may rest
    # only after a delivery), then relays again after the next delivery.
    backend = ScriptedSyncBackend([HEAD + piece("a"), comment(), piece("b"), piece("c"),
                                   STOP + END])
    kinds, relays = ops_of(exchange(Timeout(idle=60)).run(), backend)
    assert kinds == ["Connect", "Send", "Receive", "Deliver(D)", "Relay", "read", "Receive",
                     "Deliver(D)", "Relay", "read", "deliver(D)", "read", "Deliver(D)"]
    assert len(relays) == 2


def test_the_end_of_the_body_ends_the_relay_and_is_fed_by_the_loop() -> None:
    backend = ScriptedSyncBackend([HEAD + piece("a"), piece("b")])  # then b"": cut short
    run = exchange(Timeout(idle=60))
    kinds, _ = ops_of(run.run(), backend)
    assert kinds == ["Connect", "Send", "Receive", "Deliver(D)", "Relay", "read",
                     "deliver(D)", "read", "Deliver(E)"]
    error = run.terminal
    assert type(error) is Error and error.kind == "incomplete" and error.partial == "ab"


@pytest.mark.parametrize("timeout", [Timeout(idle=60, total=600), Timeout(idle=60, stall=30)])
def test_no_relay_while_a_clock_runs(timeout: Timeout) -> None:
    # Each read's wait is cut to a deadline: the loop computes it read by read.
    backend = ScriptedSyncBackend([HEAD + piece("a"), piece("b"), piece("c"), STOP + END])
    kinds, relays = ops_of(exchange(timeout).run(), backend)
    assert relays == []
    assert kinds == ["Connect", "Send", "Receive", "Deliver(D)", "Receive", "Deliver(D)",
                     "Receive", "Deliver(D)", "Receive", "Deliver(D)"]


def text_of(event: Event) -> str:
    assert isinstance(event, (Delta, Done))
    return event.text


def relayed_run(backend: SyncBackend, pool: Pool | None = None) -> tuple[list[Event], Exchange]:
    run = exchange(Timeout(idle=60), pool)
    return list(drive(run.run(), backend)), run


def test_drive_relays_every_split_to_the_same_events() -> None:
    body = b"".join([piece("a"), piece("b"), comment(), piece("c"), piece("d"), STOP, END])
    want = None
    for size in (1, 2, 3, 7, 16, 64, len(body)):
        pieces = [HEAD] + [body[i : i + size] for i in range(0, len(body), size)]
        for backend in (ScriptedSyncBackend(pieces), PerformingBackend(pieces)):
            pool = Pool()
            events, run = relayed_run(backend, pool)
            got = [(type(e).__name__, getattr(e, "text", None)) for e in events]
            want = want or got
            assert got == want, size
            # Every read up to Done waits the idle timeout, every one after it the drain's.
            waits = [wait or 0.0 for wait in backend.reads]
            assert len(waits) == len(pieces) and waits == sorted(waits, reverse=True), size
            assert set(waits) <= {60, DRAIN_TIMEOUT} and waits[0] == 60, size
            assert pool.idle_count(run.key) == 1 and not backend.conn.aborted
    assert want == [("Delta", "a"), ("Delta", "b"), ("Delta", "c"), ("Delta", "d"),
                    ("Done", "abcd")]


def test_a_backend_that_overrides_perform_is_handed_every_relayed_read() -> None:
    backend = PerformingBackend([HEAD + piece("a"), piece("b"), comment(), piece("c"),
                                 STOP + END])
    relayed_run(backend)
    assert [type(op) for op in backend.ops][:2] == [Connect, Send]
    reads = [op for op in backend.ops if type(op) is Receive]
    assert len(reads) == 5 and all(read.timeout == 60 for read in reads)
    # The first read is the loop's; the relay's (b, the comment) are its one read; the
    # comment completes no event, so the next read is the loop's again; a new relay
    # after c reads STOP.
    first, b, ping, c, stop = reads
    assert b is ping and first is not b and c is not b and stop is not c


def test_a_relayed_read_with_streamed_output_and_the_end_delivers_each_event_once() -> None:
    for backend in (ScriptedSyncBackend([HEAD + piece("a"), piece("b") + STOP + END]),
                    ScriptedSyncBackend([HEAD + piece("a"), piece("b"), piece("c") + STOP])):
        events, run = relayed_run(backend)
        texts = [text_of(e) for e in events]
        assert texts in (["a", "b", "ab"], ["a", "b", "c", "abc"])
        assert type(events[-1]) is Done and run.terminal is events[-1]


def test_a_failed_relayed_read_is_the_loops_to_map_with_the_partial_text() -> None:
    backend = ScriptedSyncBackend([HEAD + piece("a"), piece("b"),
                                   IOFailure("connection", "reset by peer")])
    events, run = relayed_run(backend)
    error = events[-1]
    assert [type(e) for e in events] == [Delta, Delta, Error]
    assert type(error) is Error and error.kind == "connection" and error.partial == "ab"
    assert backend.conn.aborted and run.requests == 1  # after a delta: never retried


class Boom(Exception):
    pass


def test_an_exception_from_a_relayed_read_closes_and_propagates() -> None:
    backend = ScriptedSyncBackend([HEAD + piece("a"), piece("b"), Boom("x")])
    with pytest.raises(Boom):
        relayed_run(backend)
    assert backend.conn.aborted


def test_leaving_the_events_during_the_relay_closes_the_connection() -> None:
    backend = ScriptedSyncBackend([HEAD + piece("a"), piece("b"), piece("c"), STOP + END])
    pool = Pool()
    run = exchange(Timeout(idle=60), pool)
    events = drive(run.run(), backend)
    assert [text_of(next(events)) for _ in range(2)] == ["a", "b"]
    events.close()
    assert backend.conn.aborted and pool.idle_count(run.key) == 0
    assert len(backend.reads) == 2  # nothing read after the caller left


def test_adrive_relays_with_receive_next_after_deliveries_only() -> None:
    # After a read that completes no event, the next read is the loop's, a plain receive.
    backend = ScriptedBackend([HEAD + piece("a"), piece("b"), comment(), piece("c"),
                               piece("d"), STOP, END])
    run = exchange(Timeout(idle=60))

    async def main() -> list[Event]:
        return [event async for event in adrive(run.run(), backend)]

    events = asyncio.run(main())
    assert [text_of(e) for e in events] == ["a", "b", "c", "d", "abcd"]
    assert backend.reads == ["receive", "receive_next", "receive_next", "receive",
                             "receive_next", "receive_next", "receive"]


def test_arun_hands_relayed_deliveries_to_the_hook() -> None:
    backend = ScriptedBackend([HEAD + piece("a"), piece("b") + piece("c"), comment(),
                               piece("d"), STOP + END])
    deliveries: list[list[str]] = []
    run = exchange(Timeout(idle=60))
    asyncio.run(arun(run.run(), backend,
                     lambda events: deliveries.append([type(e).__name__ for e in events])))
    assert deliveries == [["Delta"], ["Delta", "Delta"], ["Delta"], ["Done"]]
    assert run.completion().text == "abcd"


# --- the callbacks ------------------------------------------------------------------------------


def test_on_delta_is_given_answer_text_and_done_only() -> None:
    from libchatty.bindings._chat_run import arun_callbacks, run_callbacks

    given: list[tuple[str, bool]] = []

    def on_delta(text: str, done: bool) -> None:
        given.append((text, done))

    events: list[Event] = [
        Delta("a"), Delta(""), Delta("think", "reasoning"), Delta("{", "tool_call", 0, "c", "f"),
        Delta("no", "refusal"), Delta("b", "text", 1), Done("stop", text="a"),
        Error("connection", "x"),
    ]
    for event in events:
        assert run_callbacks(event, on_delta, None) is False
    assert given == [("a", False), ("b", False), ("", True)]
    given.clear()
    for event in events:
        assert asyncio.run(arun_callbacks(event, on_delta, None)) is False
    assert given == [("a", False), ("b", False), ("", True)]


def test_stop_in_the_middle_of_a_read_returns_exactly_the_answer_text_given_out() -> None:
    # One read brings several deltas (reasoning, choice 1's text, choice 0's): STOP at
    # "b" answers the choice-0 text the callbacks saw, "ab" -- not "abc", which the call
    # had already read -- on both runners, whichever callback says STOP.
    from libchatty.bindings._api import STOP as STOPPED
    from libchatty.bindings._chat_run import arun_exchange, run_exchange

    def mixed(*fields: tuple[int, str, str]) -> bytes:
        return chunk({"choices": [{"index": i, "delta": {k: v}} for i, k, v in fields]})

    body = [HEAD + piece("a"),
            mixed((0, "reasoning_content", "hm"), (1, "content", "X")) + piece("b")
            + piece("c") + STOP + END]

    def stop_at_b(text: str, done: bool) -> object:
        return STOPPED if text == "b" else None

    def stop_at_b_event(event: Event) -> object:
        return STOPPED if type(event) is Delta and event.text == "b" else None

    async def async_stop_at_b(text: str, done: bool) -> object:
        return stop_at_b(text, done)

    for on_delta, on_event in ((stop_at_b, None), (None, stop_at_b_event)):
        answer = run_exchange(exchange(), ScriptedSyncBackend(list(body)), on_delta, on_event)
        assert (answer.text, answer.finish_reason) == ("ab", "stopped")
    for async_delta in (stop_at_b, async_stop_at_b):
        answer = asyncio.run(arun_exchange(exchange(), ScriptedBackend(list(body)),
                                           async_delta, None))
        assert (answer.text, answer.finish_reason) == ("ab", "stopped")


# --- chat()'s callbacks, handed each delivery whole -----------------------------------------

# One read after the first brings five events: choice 0's "b", a reasoning piece, choice
# 1's "X", choice 0's "c" and "d"; then the end of the answer. STOP may come at any of them.
_BATCH = [HEAD + piece("a"),
          piece("b") + chunk({"choices": [{"index": 0, "delta": {"reasoning_content": "hm"}}]})
          + chunk({"choices": [{"index": 1, "delta": {"content": "X"}}]})
          + piece("c") + piece("d"), STOP + END]


class ClosingBackend(ScriptedBackend):
    """:class:`ScriptedBackend` whose connection records that it was closed."""

    def __init__(self, script: list[bytes]) -> None:
        super().__init__(script)
        self.conn = ScriptedConn()

    async def connect(self, host: str, port: int, timeout: float | None) -> Conn:
        return self.conn


def _chat(on_delta: Any, on_event: Any, asynchronous: bool) -> tuple[Any, ScriptedConn]:
    """chat()'s body over :data:`_BATCH`: its result and its connection."""
    from libchatty.bindings._chat_run import arun_exchange, run_exchange

    if asynchronous:
        backend: Any = ClosingBackend(list(_BATCH))
        answer = asyncio.run(arun_exchange(exchange(), backend, on_delta, on_event))
    else:
        backend = ScriptedSyncBackend(list(_BATCH))
        answer = run_exchange(exchange(), backend, on_delta, on_event)
    return answer, backend.conn


def _stopping_at(count: int, kind: str) -> Any:
    """A callback (``on_delta`` or ``on_event``, plain or ``async def``: ``kind``) that
    answers STOP at the ``count``-th time it is given something, None before."""
    from libchatty.bindings._api import STOP as STOPPED

    given: list[object] = []

    def note(*args: Any) -> object:
        given.append(args)
        return STOPPED if len(given) == count else None

    async def anote(*args: Any) -> object:
        return note(*args)

    return anote if kind == "async" else note


# What a STOP at each call of the callback returns: on_delta is given "a", then "b", "X"
# (choice 1), "c", "d" from one read, then Done; on_event every event: "a"; "b",
# reasoning, "X", "c", "d"; Done.
STOPPED_TEXTS = {
    "on_delta": ["a", "ab", "ab", "abc", "abcd"],
    "on_event": ["a", "ab", "ab", "ab", "abc", "abcd"],
}


@pytest.mark.parametrize("callback", ["on_delta", "on_event"])
@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize("kind", ["plain", "async"])
def test_stop_at_every_event_of_a_read_cuts_the_text_exactly_there(
    callback: str, asynchronous: bool, kind: str
) -> None:
    # A STOP at each returns the choice-0 text given out so far and closes the
    # connection; a STOP at Done returns the answer.
    if kind == "async" and not asynchronous:
        pytest.skip("a blocking chat() does not await its callbacks")

    def chat(count: int) -> tuple[Any, Any]:
        stopping = _stopping_at(count, kind)
        if callback == "on_delta":
            return _chat(stopping, None, asynchronous)
        return _chat(None, stopping, asynchronous)

    texts = STOPPED_TEXTS[callback]
    for count, text in enumerate(texts, start=1):
        answer, conn = chat(count)
        assert (answer.text, answer.finish_reason) == (text, "stopped"), count
        assert conn.aborted
    answer, _ = chat(len(texts) + 1)
    assert (answer.text, answer.finish_reason) == ("abcd", "stop")


class _AwaitsNothing:
    """An awaitable that a blocking chat() never awaits (and an async one awaits: None)."""

    def __await__(self) -> Any:
        return iter(())


@pytest.mark.parametrize("answer", [5, "text", _AwaitsNothing()])
def test_a_callbacks_answers_other_than_stop_go_on(answer: object) -> None:
    # sys.stdout.write answers an int: only STOP ends the run, and a blocking run has no
    # verdict to ask about other answers (no call per token); an async run awaits an
    # awaitable, then goes on.
    from libchatty.bindings import _chat_run

    verdicts: list[object] = []
    real = _chat_run._Callbacks._verdict

    def spy(self: Any, result: object, *args: Any) -> Any:
        verdicts.append(result)
        return real(self, result, *args)

    callbacks = ((lambda text, done: answer, None), (None, lambda event: answer))
    with patch.object(_chat_run._Callbacks, "_verdict", spy):
        for on_delta, on_event in callbacks:
            result, _ = _chat(on_delta, on_event, asynchronous=False)
            assert (result.text, result.finish_reason) == ("abcd", "stop")
        assert verdicts == []
        for on_delta, on_event in callbacks:
            result, _ = _chat(on_delta, on_event, asynchronous=True)
            assert (result.text, result.finish_reason) == ("abcd", "stop")
    assert verdicts and all(verdict is answer for verdict in verdicts)


def test_perform_hands_out_the_backends_own_coroutine() -> None:
    # No coroutine of perform() waits around a connect or a send: thousands of calls
    # connect at once.
    from libchatty.bindings._ops import Connect, Send

    backend = ScriptedBackend([])
    for op, method in ((Connect("h", 80, 1.0), ScriptedBackend.connect),
                       (Send(FakeConn(), b"x", 1.0), ScriptedBackend.send)):
        performing = backend.perform(op)
        assert performing.cr_code is method.__code__  # type: ignore[attr-defined]
        performing.close()


@pytest.mark.parametrize("count", [None, 1, 4, 6])
def test_arun_parts_is_arun_exchange_run_in_the_callers_frame(count: int | None) -> None:
    # chat() runs the loop itself (one frame less per waiting call): the run yields
    # nothing, and the callbacks' result is arun_exchange's -- with or without callbacks,
    # with a STOP anywhere, and the connection closed at a STOP the same way.
    from libchatty.bindings._chat_run import arun_parts

    async def parts() -> tuple[Any, ScriptedConn]:
        backend = ClosingBackend(list(_BATCH))
        on_delta = None if count is None else _stopping_at(count, "async")
        events, callbacks = arun_parts(exchange(), backend, on_delta, None)
        assert [event async for event in events] == []
        return callbacks.result(), backend.conn

    answer, conn = asyncio.run(parts())
    expected, expected_conn = _chat(None if count is None else _stopping_at(count, "async"),
                                    None, asynchronous=True)
    assert (answer.text, answer.finish_reason) == (expected.text, expected.finish_reason)
    assert conn.aborted is expected_conn.aborted
    assert answer.finish_reason == ("stopped" if count in (1, 4) else "stop")


def test_both_callbacks_are_given_each_event_in_turn_and_either_may_stop() -> None:
    # on_event, then on_delta, for each event; async answers awaited before the next one.
    order: list[str] = []

    def on_event(event: Event) -> None:
        order.append(f"event:{type(event).__name__}")

    def on_delta(text: str, done: bool) -> None:
        order.append(f"delta:{text or done}")

    async def aon_delta(text: str, done: bool) -> None:
        on_delta(text, done)

    for asynchronous, delta in ((False, on_delta), (True, on_delta), (True, aon_delta)):
        order.clear()
        answer, _ = _chat(delta, on_event, asynchronous)
        assert answer.text == "abcd"
        assert order == ["event:Delta", "delta:a", "event:Delta", "delta:b", "event:Delta",
                         "event:Delta", "delta:X", "event:Delta", "delta:c", "event:Delta",
                         "delta:d", "event:Done", "delta:True"]

    async def stop_at_c(text: str, done: bool) -> object:
        from libchatty.bindings._api import STOP as STOPPED

        return STOPPED if text == "c" else None

    answer, _ = _chat(stop_at_c, on_event, asynchronous=True)
    assert (answer.text, answer.finish_reason) == ("abc", "stopped")


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_raising_callback_closes_the_connection_and_its_exception_goes_on(
    asynchronous: bool,
) -> None:
    def on_delta(text: str, done: bool) -> None:
        if text == "c":
            raise Boom("c")

    with pytest.raises(Boom):
        _chat(on_delta, None, asynchronous)
    backend: Any = ClosingBackend(list(_BATCH)) if asynchronous else ScriptedSyncBackend(
        list(_BATCH))
    from libchatty.bindings._chat_run import arun_exchange, run_exchange

    with pytest.raises(Boom):
        if asynchronous:
            asyncio.run(arun_exchange(exchange(), backend, on_delta, None))
        else:
            run_exchange(exchange(), backend, on_delta, None)
    assert backend.conn.aborted


def test_a_callbacks_stop_iteration_is_not_taken_for_the_end_of_the_run() -> None:
    # The runner is a generator: a StopIteration from a callback must reach the caller as
    # it would from any function (a blocking chat() raises it as is; in a coroutine it
    # is a RuntimeError), never end the run as if the answer were complete.
    def on_delta(text: str, done: bool) -> None:
        if text == "c":
            raise StopIteration

    with pytest.raises(StopIteration):
        _chat(on_delta, None, asynchronous=False)
    with pytest.raises(RuntimeError) as raised:
        _chat(on_delta, None, asynchronous=True)
    assert type(raised.value.__cause__) is StopIteration

    async def aon_delta(text: str, done: bool) -> None:
        if text == "c":
            raise StopAsyncIteration

    with pytest.raises(StopAsyncIteration):
        _chat(aon_delta, None, asynchronous=True)


# --- a body's reads (AsyncBackend.body) --------------------------------------------------------


class RecordingBody(Body):
    """A :class:`Body` that reads its backend's script and records what the runner does
    with it: entered, each read, each rest, and how it was exited."""

    def __init__(self, backend: BodyBackend) -> None:
        self.backend = backend

    def __enter__(self) -> RecordingBody:
        self.backend.log.append("enter")
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        self.backend.log.append("exit" if kind is None else f"exit {kind.__name__}")

    async def receive(self) -> bytes:
        self.backend.log.append("read")
        item = self.backend.script.pop(0) if self.backend.script else b""
        if isinstance(item, BaseException):
            raise item
        return item

    def rest(self) -> None:
        self.backend.log.append("rest")


class BodyBackend(ClosingBackend):
    """:class:`ClosingBackend` whose relayed reads to a hook share a :class:`RecordingBody`
    (a script item that is an exception is raised by that read)."""

    def __init__(self, script: list[Any]) -> None:
        super().__init__(script)
        self.log: list[str] = []

    def body(self, conn: Any, timeout: float | None) -> Body:
        self.log.append(f"body {timeout}")
        return RecordingBody(self)


_BODY = [HEAD + piece("a"), piece("b"), piece("c"), STOP + END]


def body_chat(script: list[Any], on_delta: Any) -> tuple[list[str], BodyBackend, Any]:
    """chat()'s body over ``script`` with a :class:`BodyBackend`: its log, itself, and
    the result (or the exception raised)."""
    from libchatty.bindings._chat_run import arun_exchange

    backend = BodyBackend(script)
    try:
        answer: Any = asyncio.run(arun_exchange(exchange(Timeout(idle=60)), backend,
                                                on_delta, None))
    except BaseException as exc:  # the test looks at which
        answer = exc
    return backend.log, backend, answer


def test_a_bodys_reads_to_a_hook_share_one_body_entered_and_exited_once() -> None:
    texts: list[str] = []
    log, backend, answer = body_chat(list(_BODY), lambda text, done: texts.append(text))
    assert answer.text == "abc" and texts == ["a", "b", "c", ""]
    # The head's read is the loop's own; the relay's three are the body's, then its end.
    assert backend.reads == ["receive"]
    assert log == ["body 60", "enter", "read", "read", "read", "exit"]


def test_a_body_rests_before_each_awaited_callback_and_never_for_a_plain_one() -> None:
    async def aon_delta(text: str, done: bool) -> None:
        pass

    log, _, answer = body_chat(list(_BODY), aon_delta)
    assert answer.text == "abc"
    assert log == ["body 60", "enter", "read", "rest", "read", "rest", "read", "exit"]


@pytest.mark.parametrize(
    ("failure", "raised"),
    [
        (IOFailure("timeout", "reading"), None),  # mapped: the call's Error, raised by chat()
        (Boom("read"), Boom),  # anything else goes through the loop and on
        (asyncio.CancelledError(), asyncio.CancelledError),
    ],
)
def test_a_body_is_exited_when_a_read_fails_with_the_text_so_far(
    failure: BaseException, raised: type[BaseException] | None
) -> None:
    from libchatty.exceptions import ChatError

    log, backend, answer = body_chat([HEAD + piece("a"), piece("b"), failure], None)
    assert backend.conn.aborted
    if raised is None:
        assert isinstance(answer, ChatError) and answer.kind == "timeout"
        assert answer.partial == "ab"
        assert log == ["body 60", "enter", "read", "read", "exit"]
    else:  # it goes on through the body
        assert type(answer) is raised
        assert log == ["body 60", "enter", "read", "read", f"exit {raised.__name__}"]


@pytest.mark.parametrize("kind", ["plain", "async"])
def test_a_body_is_exited_at_a_callbacks_stop(kind: str) -> None:
    log, backend, answer = body_chat(list(_BODY), _stopping_at(2, kind))
    assert (answer.text, answer.finish_reason) == ("ab", "stopped")
    # "a" came with the head (no body yet); "b" is the body's first read.
    rests = ["rest"] if kind == "async" else []
    assert log == ["body 60", "enter", "read", *rests, "exit"]
    assert backend.conn.aborted


def test_a_body_is_exited_when_a_callback_raises() -> None:
    def on_delta(text: str, done: bool) -> None:
        if text == "b":
            raise Boom("b")

    log, backend, answer = body_chat(list(_BODY), on_delta)
    assert type(answer) is Boom
    assert log == ["body 60", "enter", "read", "exit Boom"]  # "b": the body's first read
    assert backend.conn.aborted


def test_no_body_for_events_yielded_one_by_one() -> None:
    # stream(): the caller's code runs between the reads (at each yield), outside any
    # context of the runner's.
    backend = BodyBackend(list(_BODY))

    async def main() -> list[Event]:
        return [event async for event in adrive(exchange(Timeout(idle=60)).run(), backend)]

    assert [text_of(e) for e in asyncio.run(main())] == ["a", "b", "c", "abc"]
    assert backend.log == [] and backend.reads == ["receive"] + ["receive_next"] * 3
