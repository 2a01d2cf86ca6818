"""The trio binding: ``AsyncClient`` on trio.

::

    import trio
    from libchatty.bindings.trio import AsyncClient

    async def main():
        async with AsyncClient("openai") as client:
            answer = await client.chat("Say hi", "gpt-4o-mini")          # one JSON body

            async def show(text, done):                                 # or a plain def
                print(text, end="", flush=True)
            await client.chat("Count to 5", "gpt-4o-mini", on_delta=show)

            async with client.stream("Tell a story", "gpt-4o-mini") as events:
                async for event in events:         # Delta..., then Done or Error
                    ...

    trio.run(main)

The API is the blocking ``Client``'s (see :mod:`libchatty.bindings.blocking`: the same
constructor arguments, options, callbacks, :data:`STOP`, ``ChatError``), with ``await``:
``await client.chat(...)``, ``async with client.stream(...) as events``, ``async with
AsyncClient(...)`` / ``await client.aclose()``. Callbacks may be plain or ``async def``.

Connections are opened with ``trio.open_tcp_stream`` and wrapped in
``trio.SSLStream(..., https_compatible=True)`` for HTTPS; the keep-alive pool is shared by
every task using the client (a client belongs to one ``trio.run``). Cancellation (a
cancel scope, a nursery that fails) closes the call's connection at once and leaves
nothing running: the client starts no task of its own. Timeouts end the call with
``Error("timeout")`` raised as ``ChatError``.

To run over another transport (tests use ``trio.testing`` memory streams), give the
client a backend with your own opener: ``client.backend = TrioBackend(open_stream=f)``
where ``await f(host, port)`` returns a ``trio.abc.Stream``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

import trio

from ._api import STOP, Completion, MissingAPIKeyError, Timeout
from ._async_client import AsyncClientBase
from ._ops import Runtime
from ._runners import AsyncBackend, Body
from ._transport import (
    ExceptionTable,
    default_ssl_context,
    io_failure,
    map_exceptions,
    system_runtime,
)
from ._trio_streams import TrioConn, open_tcp, read_now, readable, receive_some, write

if TYPE_CHECKING:
    import ssl
    from types import TracebackType

__all__ = [
    "STOP",
    "AsyncClient",
    "Completion",
    "MissingAPIKeyError",
    "Timeout",
    "TrioBackend",
    "TrioBody",
]

OpenStream = Callable[[str, int], Awaitable[trio.abc.Stream]]

# What trio raises, and what it means. OS and TLS errors arrive as the cause of a
# BrokenResourceError: map_exceptions looks at the cause first.
_ERRORS: Final[ExceptionTable] = {
    trio.TooSlowError: "timeout",
    trio.BrokenResourceError: "connection",
    trio.ClosedResourceError: "connection",
    OSError: "connection",
}
_MAPPED: Final = tuple(_ERRORS)
_FOREVER: Final = float("inf")
_NO_SCOPE: Final = contextlib.nullcontext()  # reusable: enters and exits as nothing


class TrioBackend(AsyncBackend):
    """trio streams. ``open_stream(host, port)`` opens the TCP stream (default
    ``trio.open_tcp_stream``); ``ssl_context`` is used for TLS (default: verified,
    system CAs)."""

    def __init__(
        self, ssl_context: ssl.SSLContext | None = None, open_stream: OpenStream | None = None
    ) -> None:
        self.ssl_context = ssl_context
        self.open_stream: OpenStream = open_stream or open_tcp

    async def connect(self, host: str, port: int, timeout: float | None) -> TrioConn:
        with map_exceptions(_ERRORS, f"connecting to {host}:{port}"):
            with trio.fail_after(_FOREVER if timeout is None else timeout):
                return TrioConn(await self.open_stream(host, port))

    async def start_tls(
        self, conn: TrioConn, server_hostname: str, timeout: float | None
    ) -> TrioConn:
        context = self.ssl_context or default_ssl_context()
        stream = trio.SSLStream(
            conn.stream, context, server_hostname=server_hostname, https_compatible=True
        )
        with map_exceptions(_ERRORS, f"the TLS handshake with {server_hostname}"):
            with trio.fail_after(_FOREVER if timeout is None else timeout):
                await stream.do_handshake()
        return TrioConn(stream)

    async def send(self, conn: TrioConn, data: bytes, timeout: float | None) -> None:
        # The checkpoint first, outside the context managers: while thousands of tasks
        # send at once, each waits for its turn holding nothing but its request.
        await trio.lowlevel.checkpoint()
        with map_exceptions(_ERRORS, "sending"):
            if timeout is None:
                await write(conn, data)
            else:
                with trio.fail_after(timeout):
                    await write(conn, data)

    async def receive(self, conn: TrioConn, timeout: float | None) -> bytes:
        # try/except and a bare CancelScope rather than map_exceptions and fail_after:
        # those two generator context managers per read were a tenth of the CPU of a
        # thousand concurrent streams. Without a timeout, no scope: one is ~900 bytes
        # of every waiting read. (A body's reads to chat() share one: see TrioBody.)
        try:
            with (
                _NO_SCOPE
                if timeout is None
                else trio.CancelScope(deadline=trio.current_time() + timeout)
            ):
                data = await receive_some(conn)
                return data if type(data) is bytes else bytes(data)
        except _MAPPED as exc:
            raise io_failure(_ERRORS, exc, "reading") from None
        # Here only when the scope's deadline passed first (it caught its Cancelled).
        raise io_failure(_ERRORS, trio.TooSlowError(), "reading")

    def body(self, conn: TrioConn, timeout: float | None) -> TrioBody | None:
        return None if timeout is None else TrioBody(conn, timeout)

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)

    async def probe(self, conn: TrioConn) -> bool:
        return conn.waiting()


class TrioBody(Body):
    """The reads of one body relayed to ``chat()``'s callbacks (see
    :meth:`~libchatty.bindings._runners.AsyncBackend.body`): one cancel scope for all
    of them instead of one per read (~9 µs, and 6 objects the cyclic GC tracks, of every
    waiting read).

    Each read has its own deadline, as with a scope per read: ``timeout`` seconds from
    its start. On a plain socket the scope's deadline is that of an earlier read of the
    body, moved to the read's own only when it is more than half a timeout behind it
    (moving it is ~3 µs): it never passes after the read's, and when it passes first
    (the server was silent for half a timeout) the spent scope is replaced by one with
    the read's own deadline and the read waits on -- a wait on a socket is safe to
    cancel. Other streams (TLS) have no such promise: each read moves the deadline to
    its own. A rest (before an awaited callback) clears the deadline: callbacks run
    with none, as they did between reads with a scope each."""

    __slots__ = ("armed", "conn", "scope", "slack", "timeout")

    def __init__(self, conn: TrioConn, timeout: float) -> None:
        self.conn = conn
        self.timeout = timeout
        # How far behind a read's deadline the scope's may be.
        self.slack = timeout / 2 if conn.socket is not None else 0.0
        self.scope = trio.CancelScope()
        self.armed = _FOREVER  # the scope's deadline

    def __enter__(self) -> TrioBody:
        self.scope.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return self.scope.__exit__(kind, exc, tb)

    def rest(self) -> None:
        if self.armed != _FOREVER:
            self.scope.deadline = self.armed = _FOREVER

    async def receive(self) -> bytes:
        deadline = trio.current_time() + self.timeout
        scope = self.scope
        if scope.cancel_called:  # spent by an earlier read's deadline (see below)
            scope = self._renew(deadline)
        elif self.armed > deadline or self.armed < deadline - self.slack:
            scope.deadline = self.armed = deadline
        conn = self.conn
        sock = conn.socket
        data: bytes | bytearray | None
        while True:
            try:
                if sock is None:
                    data = await receive_some(conn)
                    break
                # receive_some's loop, inlined: a coroutine less in every waiting read.
                await readable(conn)
                if (data := read_now(sock)) is not None:
                    break
            except trio.Cancelled:
                if not scope.cancel_called:
                    raise  # not ours: the caller's cancellation
                if trio.current_time() >= deadline:
                    # The relay ends; the spent scope's exit is its own, after it.
                    raise io_failure(_ERRORS, trio.TooSlowError(), "reading") from None
                scope = self._renew(deadline)  # an earlier read's deadline: wait on
            except _MAPPED as exc:
                raise io_failure(_ERRORS, exc, "reading") from None
        if scope.cancel_called:
            # Its deadline passed in the tick the bytes came (trio wakes the read
            # first): a callback's checkpoint would be cancelled by the spent scope.
            self._renew(_FOREVER)
        return data if type(data) is bytes else bytes(data)

    def _renew(self, deadline: float) -> trio.CancelScope:
        """A fresh scope for a spent one (a read is the innermost: nothing was entered
        inside the spent one meanwhile)."""
        self.scope.__exit__(None, None, None)
        scope = self.scope = trio.CancelScope(deadline=deadline)
        self.armed = deadline
        scope.__enter__()
        return scope


class AsyncClient(AsyncClientBase):
    """A chat client for trio; see the module docstring."""

    def make_backend(self, ssl_context: ssl.SSLContext | None) -> TrioBackend:
        return TrioBackend(ssl_context)

    def make_runtime(self) -> Runtime:
        # trio's clock, so that timeouts follow trio.testing's autojump clock in tests.
        return system_runtime(trio.current_time)
