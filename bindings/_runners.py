"""The runners: what performs the request loop's I/O.

:func:`drive` runs an :class:`~libchatty.bindings._exchange.Exchange` with a blocking
:class:`SyncBackend` (the blocking and threads bindings), :func:`adrive` with an
:class:`AsyncBackend` (trio, asyncio). A backend is only its six I/O calls, each
raising :class:`~libchatty.bindings._ops.IOFailure` for a transport failure; the
runner delivers, and relays the body of a streamed answer
(:class:`~libchatty.bindings._ops.Relay`: read, feed, deliver, with the backend's reads). The sync
and async halves of this module are the same code with and without ``await``, kept side
by side so that a change to one is seen to need the same change to the other:
:func:`drive`/:func:`adrive` and :func:`run`/:func:`arun`.

A runner yields the events it delivers one by one (``stream()``), or hands each delivery
whole to an ``on_deliver`` hook (:func:`run`/:func:`arun`; ``chat()``'s callbacks are
such a hook: :mod:`libchatty.bindings._chat_run`); a true answer from the hook (a
callback's ``STOP``) ends the run there. Two things are async only:
:meth:`AsyncBackend.receive_next`, the read after a delivery, which the asyncio binding
may make wait (its ``read_interval``); and :meth:`AsyncBackend.body`, what the reads of
a relayed body handed to ``on_deliver`` may share (the trio binding's cancel scope).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from libchatty.events import Delta, Event

if TYPE_CHECKING:
    from libchatty.endpoint import Endpoint

    from ._credentials import CredentialSource

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
    "Body",
    "SyncBackend",
    "adrive",
    "arun",
    "drive",
    "run",
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

    def body(self, conn: Any, timeout: float | None) -> Body | None:
        """The reads of one relayed body whose deliveries go to ``on_deliver`` (``chat()``:
        nothing is yielded between them), for a backend that makes something per read
        which they may share (trio: one cancel scope whose deadline each read moves);
        None, the default: each read is :meth:`receive_next`. Asked once per body."""
        return None

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


class Body(ABC):
    """The reads of one relayed body (see :meth:`AsyncBackend.body`): :func:`adrive`
    enters it before the first read and exits it after the last, on every path (the
    end of the body, a failure, a cancellation, a callback's ``STOP``); between the
    reads it runs ``chat()``'s callbacks, having called :meth:`rest` before it awaits
    one's answer."""

    def __enter__(self) -> Body:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return None

    @abstractmethod
    def receive(self) -> Awaitable[bytes | None]:
        """The next read of the body: :meth:`AsyncBackend.receive_next`'s answer and
        failures."""

    def rest(self) -> None:  # noqa: B027 -- a hook, empty by default
        """The caller's code is about to be awaited between two reads: nothing of a
        read (its deadline) may reach it. Default: nothing."""


_NO_BODY: Final = contextlib.nullcontext()  # reusable: enters and exits as nothing


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
                # every read of a relay follows one. Nothing is yielded between the reads
                # of a relay to on_deliver: they may share a Body.
                body = None if on_deliver is None else backend.body(conn, timeout)
                with _NO_BODY if body is None else body:
                    while True:  # the relay: read, feed, deliver (see Relay)
                        try:
                            data = await (
                                backend.receive_next(conn, timeout)
                                if body is None
                                else body.receive()
                            )
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
                            if stop and stop is not True:  # an awaitable: a callback's
                                if body is not None:
                                    body.rest()
                                stop = await stop
                            if stop:
                                return
                            del stop
                        del events
                del body
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
