"""The runners: what performs the request loop's I/O, and the ``chat()`` loops on top.

:func:`drive` runs an :class:`~libchatty.bindings._exchange.Exchange` with a blocking
:class:`SyncBackend` (the blocking and threads bindings), :func:`adrive` with an
:class:`AsyncBackend` (trio, asyncio). A backend is only its six I/O calls, each
raising :class:`~libchatty.bindings._ops.IOFailure` for a transport failure; the
runner delivers, and relays the body of a streamed answer
(:class:`~libchatty.bindings._ops.Relay`: read, feed, deliver, with the backend's reads). The sync
and async halves of this module are the same code with and without ``await``, kept side
by side so that a change to one is seen to need the same change to the other:
:func:`drive`/:func:`adrive`, :func:`run`/:func:`arun`, :func:`run_callbacks`/
:func:`arun_callbacks` and :func:`run_exchange`/:func:`arun_exchange` (the body of
``chat()``).

A runner yields the events it delivers one by one (``stream()``), or hands each delivery
whole to an ``on_deliver`` hook (:func:`run`/:func:`arun`): ``chat()`` gives a delivery
to its callbacks in one call (:class:`_Callbacks`, written once for both halves), with no
generator step per event; a callback's ``STOP`` ends the run there. Two things are
async only: :meth:`AsyncBackend.receive_next`, the read after a delivery, which the
asyncio binding may make wait (its ``read_interval``); and :func:`arun_parts`, the
halves of :func:`arun_exchange` for the async ``chat()``, which runs the loop in its own
frame (thousands of calls wait at once: a frame less in each).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Final

from libchatty.events import Delta, Done, Error, Event

if TYPE_CHECKING:
    from libchatty.endpoint import Endpoint

    from ._credentials import CredentialSource

from ._api import (
    STOP,
    AsyncOnDelta,
    AsyncOnEvent,
    AsyncOnPartial,
    Completion,
    OnDelta,
    OnEvent,
    OnPartial,
)
from ._exchange import Exchange
from ._ops import (
    Authenticate,
    Conn,
    Connect,
    Deliver,
    Op,
    Probe,
    Receive,
    Relay,
    Send,
    SendRequest,
    Sleep,
    StartTLS,
)

__all__ = [
    "AsyncBackend",
    "SyncBackend",
    "adrive",
    "arun",
    "arun_callbacks",
    "arun_exchange",
    "arun_parts",
    "drive",
    "run",
    "run_callbacks",
    "run_exchange",
]

# --- the backends ---------------------------------------------------------------------------

# Which backend method performs an operation (an async method's call is its awaitable,
# so one table serves both kinds).
_PERFORM: Final[dict[type[Any], Callable[[Any, Any], Any]]] = {
    Receive: lambda backend, op: backend.receive(op.conn, op.timeout),
    Send: lambda backend, op: backend.send(op.conn, op.data, op.timeout),
    Connect: lambda backend, op: backend.connect(op.host, op.port, op.timeout),
    StartTLS: lambda backend, op: backend.start_tls(op.conn, op.server_hostname, op.timeout),
    Sleep: lambda backend, op: backend.sleep(op.seconds),
    Probe: lambda backend, op: backend.probe(op.conn),
    Authenticate: lambda backend, op: backend.authenticate(op.source),
    # A framed backend's (httpx, aiohttp): see libchatty.bindings._framed.
    SendRequest: lambda backend, op: backend.send_request(op.request, op.connect, op.read),
}


def _performer(op: Op) -> Callable[[Any, Any], Any]:
    perform = _PERFORM.get(type(op))
    if perform is None:
        raise TypeError(f"unknown operation {op!r}")
    return perform


class SyncBackend(ABC):
    """Blocking I/O for :func:`drive`. Every transport failure is raised as
    :class:`~libchatty.bindings._ops.IOFailure`; anything else (a cancellation, a bug)
    passes through."""

    def perform(self, op: Op) -> Any:
        if type(op) is Receive:  # the one operation per read: no table look-up
            return self.receive(op.conn, op.timeout)
        return _performer(op)(self, op)

    @abstractmethod
    def connect(self, host: str, port: int, timeout: float | None) -> Conn: ...

    @abstractmethod
    def start_tls(self, conn: Any, server_hostname: str, timeout: float | None) -> Conn: ...

    @abstractmethod
    def send(self, conn: Any, data: bytes, timeout: float | None) -> None: ...

    @abstractmethod
    def receive(self, conn: Any, timeout: float | None) -> bytes | None:
        """See :class:`~libchatty.bindings._ops.Receive` (None: a framed body cut short)."""

    @abstractmethod
    def sleep(self, seconds: float) -> None: ...

    @abstractmethod
    def probe(self, conn: Any) -> bool:
        """See :class:`~libchatty.bindings._ops.Probe`: never blocks, never raises (a
        failure is True)."""

    def authenticate(self, source: CredentialSource) -> Endpoint:
        """See :class:`~libchatty.bindings._ops.Authenticate`: the refresh, here."""
        return source.refresh()


class AsyncBackend(ABC):
    """Async I/O for :func:`adrive` (trio, asyncio); same contract as
    :class:`SyncBackend`."""

    def perform(self, op: Op) -> Coroutine[Any, Any, Any]:
        """The backend's own coroutine that performs ``op``, to await: not one of ours
        around it -- thousands of calls connect and send at once, and a frame here was
        ~500 bytes of each. (:func:`adrive` reads with :meth:`receive` itself; a
        ``Receive`` given here is the backend's read, whatever awaitable it is.)"""
        performing: Coroutine[Any, Any, Any] = _performer(op)(self, op)
        return performing

    @abstractmethod
    async def connect(self, host: str, port: int, timeout: float | None) -> Conn: ...

    @abstractmethod
    async def start_tls(self, conn: Any, server_hostname: str, timeout: float | None) -> Conn: ...

    @abstractmethod
    async def send(self, conn: Any, data: bytes, timeout: float | None) -> None: ...

    @abstractmethod
    def receive(self, conn: Any, timeout: float | None) -> Awaitable[bytes | None]:
        """See :class:`~libchatty.bindings._ops.Receive` (None: a framed body cut short):
        a coroutine (``async def``), or any awaitable -- the asyncio binding answers its
        protocol's future, so that a waiting read holds no frame of its own."""

    def read_failed(self, exc: BaseException) -> bytes | None:
        """What a read from :meth:`receive_next` that raised ``exc`` answers, or the
        failure to throw into the loop (by default ``exc`` itself): a backend whose
        ``receive_next`` hands out another library's awaitable maps its failures here."""
        raise exc

    def receive_next(self, conn: Any, timeout: float | None) -> Awaitable[bytes | None]:
        """The read that follows a delivery of streamed output (never the first read of
        a response, nor one after ``Done``): :meth:`receive`, unless the backend rests
        first (the asyncio binding's ``read_interval``)."""
        return self.receive(conn, timeout)

    @abstractmethod
    async def sleep(self, seconds: float) -> None: ...

    @abstractmethod
    async def probe(self, conn: Any) -> bool:
        """See :class:`~libchatty.bindings._ops.Probe`: never waits, never raises (a
        failure is True)."""

    async def authenticate(self, source: CredentialSource) -> Endpoint:
        """See :class:`~libchatty.bindings._ops.Authenticate`: the refresh, on a worker
        thread (trio's or asyncio's, whichever runs this)."""
        try:
            import asyncio

            asyncio.get_running_loop()
        except RuntimeError:
            import trio

            return await trio.to_thread.run_sync(source.refresh)
        return await asyncio.to_thread(source.refresh)

    async def settle(self) -> None:  # noqa: B027 -- a hook, empty by default
        """Finish releasing what the loop dropped: ``Conn.abort()`` is synchronous, and
        a transport whose release must be awaited (httpx's ``AsyncClient``) finishes it
        here. :func:`adrive` awaits it when the loop is over. Default: nothing."""


# --- running the loop --------------------------------------------------------------------------


def drive(
    loop: Generator[Op, Any, Any],
    backend: SyncBackend,
    on_deliver: Callable[[list[Event]], object] | None = None,
) -> Generator[Event, None, None]:
    """Run ``loop`` with blocking I/O, yielding the events it delivers.

    An exception from the backend is thrown into the loop (it maps ``IOFailure``, and
    closes its connection on anything else); closing this iterator closes the loop,
    which closes its connection.

    ``on_deliver``, when given, is handed each delivery (its events, in order) in place
    of yielding them one by one (nothing is yielded: see :func:`run`); a true answer
    ends the run there, closing the loop (a callback's ``STOP``). Its exceptions go
    through the loop's ``finally`` likewise.
    """
    send = loop.send
    perform = backend.perform
    # A backend that keeps this perform reads with receive: called here, one frame less
    # per read (one that overrides perform, as the threads binding does, is handed each).
    receive = backend.receive if type(backend).perform is SyncBackend.perform else None
    try:
        op = next(loop)
        while True:
            if type(op) is Deliver:
                if on_deliver is None:
                    yield from op.events
                elif on_deliver(op.events):
                    return
                op = send(None)
                continue
            if type(op) is Relay:
                read, feed = op.read, op.feed
                conn, timeout = read.conn, read.timeout
                while True:  # the relay: read, feed, deliver (see Relay)
                    try:
                        data = perform(read) if receive is None else receive(conn, timeout)
                    except BaseException as exc:
                        op = loop.throw(exc)
                        del exc
                        break
                    if not data:
                        op = send(data)
                        break
                    events = feed(data)
                    del data  # not kept while the next read waits
                    if not events or type(events[-1]) is not Delta:
                        op = send(events)
                        break
                    if on_deliver is None:
                        yield from events
                    elif on_deliver(events):
                        return
                    del events
                continue
            # The result is sent, the failure thrown; neither is kept alive meanwhile.
            try:
                value = perform(op)
            except BaseException as exc:  # thrown into the loop, which re-raises non-I/O
                op = loop.throw(exc)
                del exc
                continue
            op = send(value)
            del value
    except StopIteration:
        pass
    finally:
        loop.close()


async def adrive(
    loop: Generator[Op, Any, Any],
    backend: AsyncBackend,
    on_deliver: Callable[[list[Event]], bool | Awaitable[bool] | None] | None = None,
) -> AsyncGenerator[Event, None]:
    """:func:`drive` for async backends. Cancellation arrives as an exception from the
    backend and goes through the loop the same way (closing the connection).

    ``on_deliver`` as for :func:`drive` (see :func:`arun`), and it may answer an
    awaitable (an ``async def`` callback's result): awaited here, its answer is the
    delivery's. A read that follows a delivery of streamed output (its last event a
    ``Delta``) is :meth:`AsyncBackend.receive_next`."""
    # No bound methods kept in locals (as drive does): this frame waits in every read of
    # thousands of streams, and each would be ~64 bytes of every one.
    streaming = False  # the last operation delivered streamed output
    try:
        op = next(loop)
        while True:
            if type(op) is Deliver:
                events = op.events
                if on_deliver is None:
                    for event in events:
                        yield event
                    del event  # a delivery is never empty
                else:
                    stop = on_deliver(events)
                    if stop and (stop is True or await stop):
                        return
                    del stop  # (an awaited coroutine) not kept while the next read waits
                streaming = type(events[-1]) is Delta
                # Not kept while the next read waits: thousands of streams wait.
                del events
                op = loop.send(None)
                continue
            if type(op) is Relay:
                read, feed = op.read, op.feed
                conn, timeout = read.conn, read.timeout
                # The loop asks for a relay right after a delivery of streamed output:
                # every read of a relay follows one.
                while True:  # the relay: read, feed, deliver (see Relay)
                    try:
                        data = await backend.receive_next(conn, timeout)
                    except BaseException as exc:  # includes trio.Cancelled / CancelledError
                        try:
                            data = backend.read_failed(exc)
                        except BaseException as failure:
                            op = loop.throw(failure)
                            del failure
                            break
                    if not data:
                        op = loop.send(data)
                        break
                    events = feed(data)
                    del data  # not kept while the next read waits
                    if not events or type(events[-1]) is not Delta:
                        op = loop.send(events)
                        break
                    if on_deliver is None:
                        for event in events:
                            yield event
                        del event  # a delivery is never empty
                    else:
                        stop = on_deliver(events)
                        if stop and (stop is True or await stop):
                            return
                        del stop
                    del events
                streaming = False  # the relay ended with a read
                continue
            reading_on, streaming = streaming, False
            try:
                if type(op) is not Receive:
                    value = await backend.perform(op)
                elif reading_on:
                    try:
                        value = await backend.receive_next(op.conn, op.timeout)
                    except BaseException as exc:
                        value = backend.read_failed(exc)
                else:
                    # The read itself, not perform()'s coroutine around it: thousands of
                    # calls wait here for their response head at once.
                    value = await backend.receive(op.conn, op.timeout)
            except BaseException as exc:  # includes trio.Cancelled / CancelledError
                op = loop.throw(exc)
                del exc
                continue
            op = loop.send(value)
            del value
    except StopIteration:
        pass
    finally:
        loop.close()
        await backend.settle()


def run(
    loop: Generator[Op, Any, Any],
    backend: SyncBackend,
    on_deliver: Callable[[list[Event]], object],
) -> None:
    """Run ``loop`` to its end (or until ``on_deliver`` answers true) with blocking I/O,
    handing each delivery to ``on_deliver``: :func:`drive` without a step per event, for
    a caller that takes its result from the exchange at the end (``chat()``)."""
    for _ in drive(loop, backend, on_deliver):
        pass  # nothing is yielded: every delivery went to on_deliver


async def arun(
    loop: Generator[Op, Any, Any],
    backend: AsyncBackend,
    on_deliver: Callable[[list[Event]], bool | Awaitable[bool] | None],
) -> None:
    """:func:`run` with async I/O (``on_deliver`` as :func:`adrive` takes it):
    ``chat()``, and ``libchatty batch``, which notes the time of the first ``Delta``."""
    async for _ in adrive(loop, backend, on_deliver):
        pass  # nothing is yielded: every delivery went to on_deliver


# --- the callbacks (see libchatty.bindings._api) -------------------------------------------


def run_callbacks(event: Event, on_delta: OnDelta | None, on_event: OnEvent | None) -> bool:
    """Give ``event`` to the callbacks; True when one of them returned :data:`STOP`.
    An ``Error`` is not given to callbacks (it is raised)."""
    if type(event) is Error:
        return False
    if on_event is not None and on_event(event) is STOP:
        return True
    return on_delta is not None and _give_delta(event, on_delta) is STOP


async def arun_callbacks(
    event: Event, on_delta: AsyncOnDelta | None, on_event: AsyncOnEvent | None
) -> bool:
    """:func:`run_callbacks` for callbacks that may be ``async def`` (their result is
    awaited)."""
    if type(event) is Error:
        return False
    if on_event is not None:
        result = on_event(event)
        if hasattr(result, "__await__"):
            result = await result
        if result is STOP:
            return True
    if on_delta is not None:
        result = _give_delta(event, on_delta)
        if hasattr(result, "__await__"):
            result = await result
        return result is STOP
    return False


def _give_delta(event: Event, on_delta: Callable[[str, bool], Any]) -> Any:
    """What ``on_delta`` returns for ``event`` (not awaited): it is given answer text
    (a text ``Delta`` with something in it) and ``Done``; None for any other event."""
    kind = type(event)
    if kind is Delta:
        if event.kind == "text" and event.text:  # type: ignore[union-attr]
            return on_delta(event.text, False)  # type: ignore[union-attr]
    elif kind is Done:
        return on_delta("", True)
    return None


# --- the body of chat() -----------------------------------------------------------------------

# What a partial_stream yields besides PartialObjects.
_EVENT_TYPES: Final = (Delta, Done, Error)


class _Callbacks:
    """``chat()``'s ``on_delta`` and ``on_event`` over one exchange, handed each
    delivery whole (:func:`run`/:func:`arun`): no generator step per event. Shared by
    :func:`run_exchange` and :func:`arun_exchange`; with ``asynchronous``, a callback
    may answer an awaitable (``async def``), awaited before the next event is given.

    A ``STOP`` ends the run at the event it was answered for: ``last`` is that event and
    ``unseen`` the answer text (choice 0) its delivery holds after it, which the call
    has read but no callback was given -- the result's text is the call's without it
    (see :meth:`~libchatty.bindings._exchange.Exchange.stopped`). Counted once, at the
    ``STOP``, rather than a running count at every event.
    """

    __slots__ = ("asynchronous", "escaped", "exchange", "last", "on_delta", "on_event", "unseen")

    def __init__(
        self, exchange: Exchange, on_delta: Any, on_event: Any, asynchronous: bool
    ) -> None:
        self.exchange = exchange
        self.on_delta = on_delta
        self.on_event = on_event
        self.asynchronous = asynchronous
        self.last: Event | None = None
        self.unseen = 0
        # A StopIteration (StopAsyncIteration) from a callback: raised by result(), so
        # that the runner's generator does not take it for the loop's end.
        self.escaped: BaseException | None = None

    def deliver(self, events: list[Event]) -> bool | Awaitable[bool]:
        """Give ``events`` to the callbacks, in order: True when one answered ``STOP``;
        an awaitable that finishes the delivery (answering the same) when one answered
        an awaitable. An ``Error`` is not given to callbacks (it is raised). The runner's
        ``on_deliver``, as a bound method: 64 bytes of every call, where calling the
        instance (``__call__``) would cost ~500 instructions more per read."""
        on_delta, on_event = self.on_delta, self.on_event
        try:
            for event in events:
                kind = type(event)
                if on_event is not None and kind is not Error:
                    result = on_event(event)
                    if result is not None:
                        verdict = self._verdict(result, events, event, on_delta is not None)
                        if verdict is not None:
                            return verdict
                if on_delta is None:
                    continue
                # _give_delta, inlined: this is once per token.
                if kind is Delta:
                    if event.kind != "text" or not event.text:  # type: ignore[union-attr]
                        continue
                    result = on_delta(event.text, False)  # type: ignore[union-attr]
                elif kind is Done:
                    result = on_delta("", True)
                else:
                    continue
                if result is not None:
                    verdict = self._verdict(result, events, event, False)
                    if verdict is not None:
                        return verdict
        except (StopIteration, StopAsyncIteration) as exc:
            self.escaped = exc
            return True
        return False

    def _verdict(
        self, result: object, events: list[Event], event: Event, delta_next: bool
    ) -> bool | Awaitable[bool] | None:
        """What a callback's answer ``result`` (not None) for ``event`` means: True for
        ``STOP``, an awaitable that awaits it and gives the rest of ``events`` (on_delta
        this ``event`` first, when ``delta_next``), None to go on."""
        if result is STOP:
            self._stop(events, event)
            return True
        if self.asynchronous and hasattr(result, "__await__"):
            return self._finish(result, events, event, delta_next)
        return None

    async def _finish(
        self, pending: Any, events: list[Event], event: Event, delta_next: bool
    ) -> bool:
        """The rest of a delivery once a callback answered an awaitable for ``event``:
        one event at a time, awaiting what the callbacks answer."""
        try:
            if await pending is STOP or (
                delta_next and await arun_callbacks(event, self.on_delta, None)
            ):
                self._stop(events, event)
                return True
            for later in events[_position(events, event) + 1 :]:
                if await arun_callbacks(later, self.on_delta, self.on_event):
                    self._stop(events, later)
                    return True
        except StopAsyncIteration as exc:  # a StopIteration is a RuntimeError here
            self.escaped = exc
            return True
        return False

    def _stop(self, events: list[Event], event: Event) -> None:
        self.last = event
        self.unseen = sum(
            len(later.text)
            for later in events[_position(events, event) + 1 :]
            if type(later) is Delta and later.kind == "text" and later.index == 0
        )

    def result(self) -> Completion:
        """The call's result once the run is over: the :class:`Completion` (or
        :class:`~libchatty.exceptions.ChatError`), or a ``STOP``'s."""
        escaped, self.escaped = self.escaped, None
        if escaped is not None:
            raise escaped
        if self.last is None:
            return self.exchange.completion()
        exchange = self.exchange
        return exchange.stopped(self.last, len(exchange.text) - self.unseen)


def _position(events: list[Event], event: Event) -> int:
    """Where ``event`` itself is in ``events`` (events may be equal, not identical)."""
    return next(i for i, candidate in enumerate(events) if candidate is event)


class _Seen:
    """What ``chat()``'s callbacks have seen of one exchange when partial objects are
    asked for (events come one at a time, among the partials) -- how much answer text
    (choice 0) and the last event -- for the result when one of them returns
    :data:`STOP`. Shared by :func:`run_exchange` and :func:`arun_exchange`, whose loops
    differ only by their ``await``."""

    __slots__ = ("exchange", "last", "seen")

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.seen = 0  # characters of answer text given out
        self.last: Event | None = None

    def items(self, events: Any, asynchronous: bool) -> Any:
        """``events`` (an iterator, or an async one), with the partial objects among
        them."""
        # Only a call that asks for partials imports them.
        from ._partials import apartial_stream, partial_objects, partial_stream

        stream: Any = apartial_stream if asynchronous else partial_stream
        return stream(events, partial_objects(self.exchange.request))

    def event(self, item: Any) -> bool:
        """Note ``item`` if it is an event (True); False for a partial object."""
        if type(item) not in _EVENT_TYPES:
            return False
        self.last = item
        if type(item) is Delta and item.kind == "text" and item.index == 0:
            self.seen += len(item.text)
        return True

    def stopped(self, item: Any) -> Completion:
        """The result of a STOP returned for ``item``."""
        # A count, not the pieces (~60 bytes each, of every stream): see Exchange.stopped.
        return self.exchange.stopped(self.last or item, self.seen)


def run_exchange(
    exchange: Exchange,
    backend: SyncBackend,
    on_delta: OnDelta | None,
    on_event: OnEvent | None,
    on_partial: OnPartial | None = None,
) -> Completion:
    """Run ``exchange`` to its end, giving events to the callbacks (none: a plain
    request) and partial objects to ``on_partial``; the :class:`Completion`, or
    :class:`~libchatty.exceptions.ChatError`. A raising callback closes the connection
    (the loop's ``finally``) and its exception goes on."""
    if on_partial is not None:
        return _run_partials(exchange, backend, on_delta, on_event, on_partial)
    if on_delta is None and on_event is None:
        run(exchange.run(), backend, _ignore)
        return exchange.completion()
    callbacks = _Callbacks(exchange, on_delta, on_event, asynchronous=False)
    run(exchange.run(), backend, callbacks.deliver)
    return callbacks.result()


async def arun_exchange(
    exchange: Exchange,
    backend: AsyncBackend,
    on_delta: AsyncOnDelta | None,
    on_event: AsyncOnEvent | None,
    on_partial: AsyncOnPartial | None = None,
) -> Completion:
    """:func:`run_exchange` with async I/O and callbacks that may be ``async def``."""
    if on_partial is not None:
        return await _arun_partials(exchange, backend, on_delta, on_event, on_partial)
    events, callbacks = arun_parts(exchange, backend, on_delta, on_event)
    del exchange, on_delta, on_event  # not kept while the call runs: the callbacks hold them
    # arun's loop written out: its frame would wait in every read of thousands of calls.
    async for _ in events:
        pass  # nothing is yielded: every delivery went to the callbacks
    return callbacks.result()


def arun_parts(
    exchange: Exchange,
    backend: AsyncBackend,
    on_delta: AsyncOnDelta | None,
    on_event: AsyncOnEvent | None,
) -> tuple[AsyncGenerator[Event, None], _Callbacks]:
    """:func:`arun_exchange` without ``on_partial``, in two halves for a caller that runs
    the loop in its own frame (``chat()``: one frame less waiting in every read of
    thousands of calls): the run, which yields nothing (``async for _ in events:
    pass``), and the callbacks, whose ``result()`` is the call's once the run is over."""
    callbacks = _Callbacks(exchange, on_delta, on_event, asynchronous=True)
    return adrive(exchange.run(), backend, callbacks.deliver), callbacks


def _run_partials(
    exchange: Exchange,
    backend: SyncBackend,
    on_delta: OnDelta | None,
    on_event: OnEvent | None,
    on_partial: OnPartial,
) -> Completion:
    """:func:`run_exchange` with ``on_partial``: events and partials one at a time."""
    events = drive(exchange.run(), backend)
    try:
        seen = _Seen(exchange)
        for item in seen.items(events, asynchronous=False):
            if seen.event(item):
                if run_callbacks(item, on_delta, on_event):
                    return seen.stopped(item)
            elif on_partial(item) is STOP:
                return seen.stopped(item)
    finally:
        events.close()  # after a raising callback too: closes the connection
    return exchange.completion()


async def _arun_partials(
    exchange: Exchange,
    backend: AsyncBackend,
    on_delta: AsyncOnDelta | None,
    on_event: AsyncOnEvent | None,
    on_partial: AsyncOnPartial,
) -> Completion:
    """:func:`_run_partials` with async I/O and callbacks that may be ``async def``."""
    events = adrive(exchange.run(), backend)
    try:
        seen = _Seen(exchange)
        async for item in seen.items(events, asynchronous=True):
            if seen.event(item):
                if await arun_callbacks(item, on_delta, on_event):
                    return seen.stopped(item)
                continue
            result = on_partial(item)
            if hasattr(result, "__await__"):
                result = await result
            if result is STOP:
                return seen.stopped(item)
    finally:
        await events.aclose()  # synchronous inside: safe under cancellation
    return exchange.completion()


def _ignore(events: list[Event]) -> None:
    """The ``on_deliver`` of a call without callbacks: its result is all it wants."""
