"""The body of ``chat()``: a run of the exchange with its callbacks and partial objects.

``chat()`` gives each delivery to its callbacks in one call (:class:`_Callbacks`, written
once for the sync and async halves) -- no generator step per event --, and a callback's
``STOP`` ends the run at the event it was answered for, with the text given out so far.
Asked for partial objects, it goes one event at a time among them (:class:`_Seen`). The
sync and async halves are the same code with and without ``await``, side by side:
:func:`run_callbacks`/:func:`arun_callbacks` and :func:`run_exchange`/
:func:`arun_exchange`. :func:`arun_parts` is :func:`arun_exchange` in two halves for the
async ``chat()``, which runs the loop in its own frame (thousands of calls wait at once:
a frame less in each).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Final

from libchatty.events import Delta, Done, Error, Event

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
from ._runners import AsyncBackend, SyncBackend, adrive, drive, run

__all__ = ["arun_callbacks", "arun_exchange", "arun_parts", "run_callbacks", "run_exchange"]


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
        # What _verdict can act on: a STOP, or an awaitable from an async runner's
        # callback. A sync runner's other answers (``sys.stdout.write``'s int) are
        # passed over here, without a call per token.
        asynchronous = self.asynchronous
        try:
            for event in events:
                kind = type(event)
                if on_event is not None and kind is not Error:
                    result = on_event(event)
                    if result is not None and (result is STOP or asynchronous):
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
                if result is not None and (result is STOP or asynchronous):
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
