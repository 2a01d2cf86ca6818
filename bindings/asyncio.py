"""The asyncio binding: ``AsyncClient`` on asyncio (FastAPI and friends).

::

    import asyncio
    from libchatty.bindings.asyncio import AsyncClient

    async def main():
        async with AsyncClient("openai") as client:
            answer = await client.chat("Say hi", "gpt-4o-mini")
            await client.chat("Count to 5", "gpt-4o-mini", on_delta=show)  # plain or async
            async with client.stream("Tell a story", "gpt-4o-mini") as events:
                async for event in events:         # Delta..., then Done or Error
                    ...

    asyncio.run(main())

The same API as :mod:`libchatty.bindings.trio` (and the blocking ``Client``). Task
cancellation closes the call's connection at once; the client starts no task of its
own. Timeouts end the call with ``Error("timeout")`` raised as ``ChatError``. Tasks on
one loop may share a client freely; a client may also be used from one ``asyncio.run``
after another: a pooled connection made on another (or a closed) loop is closed, never
reused, and the call opens a fresh one on the running loop.

The transport is a small :class:`asyncio.Protocol` rather than asyncio streams: a read
waits on one future with one timer handle, instead of a ``wait_for`` task per read --
it matters at ten thousand concurrent streams.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl
import time
from typing import Any, Final

from ._api import STOP, Completion, MissingAPIKeyError, Timeout
from ._driver import AsyncBackend, AsyncClientBase, IOFailure, Runtime
from .blocking import default_ssl_context, describe, waiting

__all__ = [
    "STOP",
    "AsyncClient",
    "AsyncioBackend",
    "Completion",
    "MissingAPIKeyError",
    "Timeout",
]

# Bytes buffered from the socket before reading pauses until the call catches up.
_HIGH_WATER: Final = 256 * 1024


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class ChatProtocol(asyncio.Protocol):
    """Buffers what arrives until the call asks for it (bounded: reading pauses above
    :data:`_HIGH_WATER`); one reader at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._paused = False
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    # --- called by the transport ---------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- called by the backend -----------------------------------------------------------
    def has_pending(self) -> bool:
        """Bytes buffered, or the end of stream (or an error) seen, and not yet read."""
        return bool(self._chunks) or self._eof

    async def receive(self, timeout: float | None) -> bytes:
        if not self._chunks and not self._eof:
            waiter = self._waiter = self.loop.create_future()
            timer = None if timeout is None else self.loop.call_later(timeout, _expire, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        chunks = self._chunks
        if chunks:
            data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._size = 0
            if self._paused and self.transport is not None:
                self._paused = False
                self.transport.resume_reading()
            return data
        if self._error is not None:
            error = self._error
            raise error if isinstance(error, OSError) else OSError(str(error))
        return b""


class AsyncioConn:
    __slots__ = ("protocol", "transport")

    def __init__(self, transport: asyncio.Transport, protocol: ChatProtocol) -> None:
        self.transport = transport
        self.protocol = protocol

    def abort(self) -> None:
        """Close now, from whichever loop (or none) we are on: a pooled connection may
        outlive the ``asyncio.run`` that opened it."""
        loop = self.protocol.loop
        if loop.is_closed():
            _close_under(self.transport)  # nothing can be scheduled on a closed loop
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is None or running is loop:
            self.transport.abort()
        else:
            loop.call_soon_threadsafe(self.transport.abort)

    def waiting(self) -> bool:
        """Whether this idle connection cannot be reused: it belongs to another event
        loop (an earlier ``asyncio.run``), or bytes, an end of stream or an error wait
        on it (buffered by the protocol, or still in the socket)."""
        protocol = self.protocol
        try:
            if protocol.loop is not asyncio.get_running_loop():
                return True
        except RuntimeError:
            return True
        if self.transport.is_closing() or protocol.has_pending():
            return True
        sock = self.transport.get_extra_info("socket")
        return sock is None or waiting(sock)


def _close_under(transport: Any) -> None:
    """Close the socket under ``transport`` without its (closed) loop, which can no
    longer run the transport's own closing. asyncio keeps the socket in ``_sock`` of
    the innermost (selector) transport, under any TLS layer; emptying it is what the
    transport's own ``connection_lost`` step does, and keeps its ``__del__`` quiet."""
    while getattr(transport, "_ssl_protocol", None) is not None:
        transport = transport._ssl_protocol._transport
    raw = getattr(transport, "_sock", None)
    if isinstance(raw, socket.socket):
        raw.close()
        transport._sock = None
        return
    sock = transport.get_extra_info("socket")  # another loop's transport: shut it down
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class AsyncioBackend(AsyncBackend):
    """asyncio transports; ``ssl_context`` for TLS (default: verified, system CAs)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context

    async def connect(self, host: str, port: int, timeout: float | None) -> AsyncioConn:
        loop = asyncio.get_running_loop()
        protocol = ChatProtocol(loop)
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(lambda: protocol, host, port), timeout
            )
        except (TimeoutError, asyncio.TimeoutError):
            raise IOFailure("timeout", "connect timed out") from None
        except OSError as exc:
            raise IOFailure(
                "connection", f"cannot connect to {host}:{port}: {describe(exc)}"
            ) from None
        return AsyncioConn(transport, protocol)

    async def start_tls(
        self, conn: AsyncioConn, server_hostname: str, timeout: float | None
    ) -> AsyncioConn:
        loop = asyncio.get_running_loop()
        context = self.ssl_context or default_ssl_context()
        try:
            transport = await asyncio.wait_for(
                loop.start_tls(
                    conn.transport, conn.protocol, context, server_hostname=server_hostname
                ),
                timeout,
            )
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or exc.reason
            raise IOFailure(
                "connection", f"TLS certificate verification failed: {reason}", False
            ) from None
        except (TimeoutError, asyncio.TimeoutError):
            raise IOFailure("timeout", "TLS handshake timed out") from None
        except (OSError, ConnectionError) as exc:
            raise IOFailure(
                "connection", f"the TLS handshake with {server_hostname} failed: {describe(exc)}"
            ) from None
        if transport is None:
            raise IOFailure("connection", "the TLS handshake was aborted")
        conn.protocol.transport = transport
        return AsyncioConn(transport, conn.protocol)

    async def send(self, conn: AsyncioConn, data: bytes, timeout: float | None) -> None:
        # The request is written in one go; the transport buffers what the socket does
        # not take at once, and the read that follows is bounded by its timeout.
        if conn.transport.is_closing():
            raise IOFailure("connection", "sending failed: the connection is closed")
        conn.transport.write(data)

    async def receive(self, conn: AsyncioConn, timeout: float | None) -> bytes:
        try:
            return await conn.protocol.receive(timeout)
        except TimeoutError:
            raise IOFailure("timeout", "read timed out") from None
        except OSError as exc:
            raise IOFailure("connection", f"reading failed: {describe(exc)}") from None

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def probe(self, conn: AsyncioConn) -> bool:
        return conn.waiting()


def _random() -> float:
    import random

    return random.random()


class AsyncClient(AsyncClientBase):
    """A chat client for asyncio; see the module docstring."""

    backend: Any

    def make_backend(self, ssl_context: ssl.SSLContext | None) -> AsyncioBackend:
        return AsyncioBackend(ssl_context)

    def make_runtime(self) -> Runtime:
        return Runtime(time.monotonic, _random, time.time)  # the clock asyncio's loop uses
