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
own. Timeouts end the call with ``Error("timeout")`` raised as ``ChatError``. A client
(and its keep-alive pool) belongs to the event loop it is first used on: make one per
``asyncio.run``; tasks on that loop may share it freely.

The transport is a small :class:`asyncio.Protocol` rather than asyncio streams: a read
waits on one future with one timer handle, instead of a ``wait_for`` task per read --
it matters at ten thousand concurrent streams.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from typing import Any, Final

from ._api import STOP, Completion, MissingAPIKeyError, Timeout
from ._driver import AsyncBackend, AsyncClientBase, IOFailure, Runtime
from .blocking import default_ssl_context, describe

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
        self.transport.abort()


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
