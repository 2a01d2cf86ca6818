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

``AsyncClient(..., read_interval=0.1)`` (default None: off) trades latency between
tokens for CPU: after each delivery of streamed output, the call stops reading its
socket for that many seconds, then takes all the server sent meanwhile in one wake-up
-- a read per interval instead of one per token (``libchatty batch`` uses 0.1 s: a
third less CPU per request in bench/bench_batch.py). Unchanged: the first read of a
response, hence time to first token; the end of a stream, at most one interval later;
the timeouts -- a rest is never taken for the server's silence (a read whose deadline is
nearer than two intervals does not rest), so an idle, stall or total timeout ends a call
when it did before. Memory stays bounded: what the server sends during a rest waits in
the kernel's socket buffer, held there by TCP flow control.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from ._api import STOP, Completion, MissingAPIKeyError, Timeout
from ._async_client import AsyncClientBase
from ._asyncio_protocol import ERRORS, AsyncioConn, ChatProtocol
from ._ops import IOFailure
from ._runners import AsyncBackend
from ._transport import default_ssl_context, map_exceptions

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Unpack  # typing.Unpack from 3.11; not needed at run time

    from ._config import ClientOptions

__all__ = [
    "STOP",
    "AsyncClient",
    "AsyncioBackend",
    "Completion",
    "MissingAPIKeyError",
    "Timeout",
]

T = TypeVar("T")


class AsyncioBackend(AsyncBackend):
    """asyncio transports; ``ssl_context`` for TLS (default: verified, system CAs);
    ``read_interval`` (None: off) the rest before a read that follows a delivery (see
    the module docstring)."""

    def __init__(
        self, ssl_context: ssl.SSLContext | None = None, read_interval: float | None = None
    ) -> None:
        if read_interval is not None and not 0 <= read_interval < float("inf"):
            raise ValueError("read_interval must be a number of seconds >= 0, or None")
        self.ssl_context = ssl_context
        self.read_interval = read_interval or 0.0

    async def connect(self, host: str, port: int, timeout: float | None) -> AsyncioConn:
        loop = asyncio.get_running_loop()
        protocol = ChatProtocol(loop)
        with map_exceptions(ERRORS, f"connecting to {host}:{port}"):
            transport, _ = await _within(
                timeout, loop.create_connection(lambda: protocol, host, port)
            )
        return AsyncioConn(transport, protocol)

    async def start_tls(
        self, conn: AsyncioConn, server_hostname: str, timeout: float | None
    ) -> AsyncioConn:
        loop = asyncio.get_running_loop()
        context = self.ssl_context or default_ssl_context()
        with map_exceptions(ERRORS, f"the TLS handshake with {server_hostname}"):
            transport = await _within(
                timeout,
                loop.start_tls(
                    conn.transport, conn.protocol, context, server_hostname=server_hostname
                ),
            )
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

    def receive(
        self, conn: AsyncioConn, timeout: float | None, rest: float = 0.0
    ) -> asyncio.Future[bytes]:
        # The protocol's future, which it answers (its failures mapped): no frame of ours
        # waits in every read of thousands of streams.
        return conn.protocol.receive(timeout, rest)

    def receive_next(self, conn: AsyncioConn, timeout: float | None) -> asyncio.Future[bytes]:
        # receive()'s own future: nothing of its own on the per-read path.
        return self.receive(conn, timeout, self.read_interval)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def probe(self, conn: AsyncioConn) -> bool:
        return conn.waiting()


async def _within(timeout: float | None, step: Awaitable[T]) -> T:
    """What ``step`` gives, or TimeoutError after ``timeout`` seconds (None: no limit).
    ``asyncio.timeout`` from Python 3.11: ``wait_for`` (before 3.12) wraps the step in a
    task of its own, ~1.1 KB more of every connect (thousands connect at once)."""
    if sys.version_info < (3, 11):
        return await asyncio.wait_for(step, timeout)
    async with asyncio.timeout(timeout):
        return await step


class AsyncClient(AsyncClientBase):
    """A chat client for asyncio; see the module docstring. ``read_interval``: seconds
    a stream rests between reads (None, the default: it reads as data arrives); the
    other keywords are every client's (:class:`~libchatty.bindings._config.ClientOptions`)."""

    def __init__(
        self,
        provider: str | None = None,
        *,
        read_interval: float | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.read_interval = read_interval  # make_backend() reads it
        super().__init__(provider, **options)

    def make_backend(self, ssl_context: ssl.SSLContext | None) -> AsyncioBackend:
        return AsyncioBackend(ssl_context, self.read_interval)
