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
from ._ops import READ_SIZE, Runtime
from ._runners import AsyncBackend
from ._transport import (
    ExceptionTable,
    default_ssl_context,
    io_failure,
    map_exceptions,
    system_runtime,
)
from ._trio_streams import TrioConn, open_tcp, read_now, write

if TYPE_CHECKING:
    import ssl

__all__ = ["STOP", "AsyncClient", "Completion", "MissingAPIKeyError", "Timeout", "TrioBackend"]

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
        # thousand concurrent streams. A plain socket is read after the checkpoint rather
        # than before it: trio's receive_some returns through a checkpoint, so under load
        # every task woken in one batch held its read (4-5 KB each at 10,000 streams)
        # while the others ran; here the bytes go to the call before the task sleeps
        # again, and a cancel scope exists only while a read waits.
        sock = conn.socket
        data: bytes | bytearray | None = None
        try:
            if sock is not None:
                await trio.lowlevel.checkpoint()
                data = read_now(sock)
            if data is None:
                # Without a timeout, no scope: one is ~900 bytes of every waiting read.
                with (
                    _NO_SCOPE
                    if timeout is None
                    else trio.CancelScope(deadline=trio.current_time() + timeout)
                ):
                    if sock is None:
                        data = await conn.stream.receive_some(READ_SIZE)
                    else:
                        while data is None:
                            await trio.lowlevel.wait_readable(sock)
                            data = read_now(sock)
                if data is None:  # the scope's deadline passed first
                    raise trio.TooSlowError
        except _MAPPED as exc:
            raise io_failure(_ERRORS, exc, "reading") from None
        # A socket gives bytes; other streams may give a bytearray (copied only then).
        return data if type(data) is bytes else bytes(data)

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)

    async def probe(self, conn: TrioConn) -> bool:
        return conn.waiting()


class AsyncClient(AsyncClientBase):
    """A chat client for trio; see the module docstring."""

    def make_backend(self, ssl_context: ssl.SSLContext | None) -> TrioBackend:
        return TrioBackend(ssl_context)

    def make_runtime(self) -> Runtime:
        # trio's clock, so that timeouts follow trio.testing's autojump clock in tests.
        return system_runtime(trio.current_time)
