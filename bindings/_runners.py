"""The runners: what performs the request loop's I/O, and the ``chat()`` loops on top.

:func:`drive` runs an :class:`~libchatty.bindings._exchange.Exchange` with a blocking
:class:`SyncBackend` (the blocking and threads bindings), :func:`adrive` with an
:class:`AsyncBackend` (trio, asyncio). A backend is only its six I/O calls, each
raising :class:`~libchatty.bindings._ops.IOFailure` for a transport failure. The sync
and async halves of this module are the same code with and without ``await``, kept side
by side so that a change to one is seen to need the same change to the other:
:func:`drive`/:func:`adrive`, :func:`run_callbacks`/:func:`arun_callbacks` and
:func:`run_exchange`/:func:`arun_exchange` (the body of ``chat()``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Generator
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
    Send,
    SendRequest,
    Sleep,
    StartTLS,
)

__all__ = [
    "AsyncBackend",
    "SyncBackend",
    "adrive",
    "arun_callbacks",
    "arun_exchange",
    "drive",
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

    async def perform(self, op: Op) -> Any:
        if type(op) is Receive:  # the one operation per read: no table look-up
            return await self.receive(op.conn, op.timeout)
        return await _performer(op)(self, op)

    @abstractmethod
    async def connect(self, host: str, port: int, timeout: float | None) -> Conn: ...

    @abstractmethod
    async def start_tls(self, conn: Any, server_hostname: str, timeout: float | None) -> Conn: ...

    @abstractmethod
    async def send(self, conn: Any, data: bytes, timeout: float | None) -> None: ...

    @abstractmethod
    async def receive(self, conn: Any, timeout: float | None) -> bytes | None:
        """See :class:`~libchatty.bindings._ops.Receive` (None: a framed body cut short)."""

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


def drive(loop: Generator[Op, Any, Any], backend: SyncBackend) -> Generator[Event, None, None]:
    """Run ``loop`` with blocking I/O, yielding the events it delivers.

    An exception from the backend is thrown into the loop (it maps ``IOFailure``, and
    closes its connection on anything else); closing this iterator closes the loop,
    which closes its connection.
    """
    send = loop.send
    perform = backend.perform
    try:
        op = next(loop)
        while True:
            if type(op) is Deliver:
                yield from op.events
                op = send(None)
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
    loop: Generator[Op, Any, Any], backend: AsyncBackend
) -> AsyncGenerator[Event, None]:
    """:func:`drive` for async backends. Cancellation arrives as an exception from the
    backend and goes through the loop the same way (closing the connection)."""
    send = loop.send
    perform = backend.perform
    try:
        op = next(loop)
        while True:
            if type(op) is Deliver:
                for event in op.events:
                    yield event
                op = send(None)
                continue
            try:
                value = await perform(op)
            except BaseException as exc:  # includes trio.Cancelled / CancelledError
                op = loop.throw(exc)
                del exc
                continue
            op = send(value)
            del value
    except StopIteration:
        pass
    finally:
        loop.close()
        await backend.settle()


# --- the callbacks (see libchatty.bindings._api) -------------------------------------------


def run_callbacks(event: Event, on_delta: OnDelta | None, on_event: OnEvent | None) -> bool:
    """Give ``event`` to the callbacks; True when one of them returned :data:`STOP`.
    An ``Error`` is not given to callbacks (it is raised)."""
    kind = type(event)
    if kind is Error:
        return False
    if on_event is not None and on_event(event) is STOP:
        return True
    if on_delta is not None:
        if kind is Delta:
            if event.kind == "text" and event.text:  # type: ignore[union-attr]
                return on_delta(event.text, False) is STOP  # type: ignore[union-attr]
        elif kind is Done:
            return on_delta("", True) is STOP
    return False


async def arun_callbacks(
    event: Event, on_delta: AsyncOnDelta | None, on_event: AsyncOnEvent | None
) -> bool:
    """:func:`run_callbacks` for callbacks that may be ``async def`` (their result is
    awaited)."""
    kind = type(event)
    if kind is Error:
        return False
    if on_event is not None:
        result = on_event(event)
        if hasattr(result, "__await__"):
            result = await result
        if result is STOP:
            return True
    if on_delta is not None:
        if kind is Delta:
            if event.kind != "text" or not event.text:  # type: ignore[union-attr]
                return False
            result = on_delta(event.text, False)  # type: ignore[union-attr]
        elif kind is Done:
            result = on_delta("", True)
        else:
            return False
        if hasattr(result, "__await__"):
            result = await result
        return result is STOP
    return False


# --- the body of chat() -----------------------------------------------------------------------

# What a partial_stream yields besides PartialObjects.
_EVENT_TYPES: Final = (Delta, Done, Error)



def _answer_text(event: Event, texts: list[str]) -> None:
    """Keep the answer text the callbacks saw (choice 0), for a STOP mid-answer."""
    if type(event) is Delta and event.kind == "text" and event.index == 0:
        texts.append(event.text)


def run_exchange(
    exchange: Exchange,
    backend: SyncBackend,
    on_delta: OnDelta | None,
    on_event: OnEvent | None,
    on_partial: OnPartial | None = None,
) -> Completion:
    """Run ``exchange`` to its end, giving events to the callbacks (none: a plain
    request) and partial objects to ``on_partial``; the :class:`Completion`, or
    :class:`~libchatty.exceptions.ChatError`."""
    events = drive(exchange.run(), backend)
    try:
        if on_delta is None and on_event is None and on_partial is None:
            for _ in events:
                pass
        else:
            texts: list[str] = []
            last: Event | None = None
            if on_partial is None:
                items: Any = events
            else:  # only a call that asks for partials imports them
                from ._partials import partial_objects, partial_stream

                items = partial_stream(events, partial_objects(exchange.request))
            for item in items:
                if type(item) not in _EVENT_TYPES:  # a PartialObject
                    assert on_partial is not None
                    if on_partial(item) is STOP:
                        return exchange.stopped(last or item, texts)
                    continue
                last = item
                _answer_text(item, texts)
                if run_callbacks(item, on_delta, on_event):
                    return exchange.stopped(item, texts)
    finally:
        events.close()  # after a raising callback too: closes the connection
    return exchange.completion()


async def arun_exchange(
    exchange: Exchange,
    backend: AsyncBackend,
    on_delta: AsyncOnDelta | None,
    on_event: AsyncOnEvent | None,
    on_partial: AsyncOnPartial | None = None,
) -> Completion:
    """:func:`run_exchange` with async I/O and callbacks that may be ``async def``."""
    events = adrive(exchange.run(), backend)
    try:
        if on_delta is None and on_event is None and on_partial is None:
            async for _ in events:
                pass
        else:
            texts: list[str] = []
            last: Event | None = None
            if on_partial is None:
                items: Any = events
            else:  # only a call that asks for partials imports them
                from ._partials import apartial_stream, partial_objects

                items = apartial_stream(events, partial_objects(exchange.request))
            async for item in items:
                if type(item) not in _EVENT_TYPES:  # a PartialObject
                    assert on_partial is not None
                    result = on_partial(item)
                    if hasattr(result, "__await__"):
                        result = await result
                    if result is STOP:
                        return exchange.stopped(last or item, texts)
                    continue
                last = item
                _answer_text(item, texts)
                if await arun_callbacks(item, on_delta, on_event):
                    return exchange.stopped(item, texts)
    finally:
        await events.aclose()  # synchronous inside: safe under cancellation
    return exchange.completion()
