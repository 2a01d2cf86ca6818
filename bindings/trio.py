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

import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from ._api import STOP, Completion, MissingAPIKeyError, Timeout
from ._driver import READ_SIZE, AsyncBackend, AsyncClientBase, IOFailure, Runtime
from .blocking import default_ssl_context, describe, waiting

__all__ = ["STOP", "AsyncClient", "Completion", "MissingAPIKeyError", "Timeout", "TrioBackend"]

OpenStream = Callable[[str, int], Awaitable[trio.abc.Stream]]


def close_now(stream: trio.abc.AsyncResource) -> None:
    """Close ``stream`` synchronously (a ``finally`` under cancellation cannot await):
    the socket under any TLS layers, or a memory stream's halves."""
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    if isinstance(stream, trio.SocketStream):
        stream.socket.close()
        return
    close = getattr(stream, "close", None)
    if callable(close):
        close()
        return
    for half in (getattr(stream, "send_stream", None), getattr(stream, "receive_stream", None)):
        if half is not None:
            close_now(half)


def stream_waiting(stream: trio.abc.Stream) -> bool:
    """Whether anything waits, unread, on an idle ``stream`` (see
    :class:`~libchatty.bindings._driver.Probe`): the TLS layers' buffers, then the
    socket under them (polled, not read). A stream with no socket under it (a test's
    memory stream, a custom opener's) cannot be looked into without reading, and is
    taken as clean: such a transport is the opener's to vouch for."""
    while isinstance(stream, trio.SSLStream):
        if stream.pending():  # decrypted bytes held by the SSLObject
            return True
        # Encrypted bytes read from the socket but not yet decrypted (trio keeps them
        # in a MemoryBIO with no public accessor).
        incoming = getattr(stream, "_incoming", None)
        if incoming is not None and incoming.pending:
            return True
        stream = stream.transport_stream
    if isinstance(stream, trio.SocketStream):
        return waiting(stream.socket)
    return False


class TrioConn:
    __slots__ = ("stream",)

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream

    def abort(self) -> None:
        close_now(self.stream)


async def _open_tcp(host: str, port: int) -> trio.abc.Stream:
    return await trio.open_tcp_stream(host, port)


def _failure(exc: BaseException, doing: str) -> IOFailure:
    """Map a trio/OS/TLS exception to an :class:`IOFailure`."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = cause.verify_message or cause.reason
        return IOFailure("connection", f"TLS certificate verification failed: {reason}", False)
    if isinstance(cause, OSError):
        return IOFailure("connection", f"{doing} failed: {describe(cause)}")
    return IOFailure("connection", f"{doing} failed: {cause or type(cause).__name__}")


_IO_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class TrioBackend(AsyncBackend):
    """trio streams. ``open_stream(host, port)`` opens the TCP stream (default
    ``trio.open_tcp_stream``); ``ssl_context`` is used for TLS (default: verified,
    system CAs)."""

    def __init__(
        self, ssl_context: ssl.SSLContext | None = None, open_stream: OpenStream | None = None
    ) -> None:
        self.ssl_context = ssl_context
        self.open_stream: OpenStream = open_stream or _open_tcp

    async def connect(self, host: str, port: int, timeout: float | None) -> TrioConn:
        try:
            with trio.fail_after(timeout if timeout is not None else float("inf")):
                stream = await self.open_stream(host, port)
        except trio.TooSlowError:
            raise IOFailure("timeout", "connect timed out") from None
        except _IO_ERRORS as exc:
            raise _failure(exc, f"connecting to {host}:{port}") from None
        return TrioConn(stream)

    async def start_tls(
        self, conn: TrioConn, server_hostname: str, timeout: float | None
    ) -> TrioConn:
        context = self.ssl_context or default_ssl_context()
        stream = trio.SSLStream(
            conn.stream, context, server_hostname=server_hostname, https_compatible=True
        )
        tls = TrioConn(stream)
        try:
            with trio.fail_after(timeout if timeout is not None else float("inf")):
                await stream.do_handshake()
        except trio.TooSlowError:
            raise IOFailure("timeout", "TLS handshake timed out") from None
        except _IO_ERRORS as exc:
            raise _failure(exc, f"the TLS handshake with {server_hostname}") from None
        return tls

    async def send(self, conn: TrioConn, data: bytes, timeout: float | None) -> None:
        try:
            if timeout is None:
                await conn.stream.send_all(data)
            else:
                with trio.fail_after(timeout):
                    await conn.stream.send_all(data)
        except trio.TooSlowError:
            raise IOFailure("timeout", "send timed out") from None
        except _IO_ERRORS as exc:
            raise _failure(exc, "sending") from None

    async def receive(self, conn: TrioConn, timeout: float | None) -> bytes:
        try:
            if timeout is None:
                return bytes(await conn.stream.receive_some(READ_SIZE))
            with trio.fail_after(timeout):
                return bytes(await conn.stream.receive_some(READ_SIZE))
        except trio.TooSlowError:
            raise IOFailure("timeout", "read timed out") from None
        except _IO_ERRORS as exc:
            raise _failure(exc, "reading") from None

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)

    async def probe(self, conn: TrioConn) -> bool:
        return stream_waiting(conn.stream)


def _random() -> float:
    import random

    return random.random()


class AsyncClient(AsyncClientBase):
    """A chat client for trio; see the module docstring."""

    backend: Any

    def make_backend(self, ssl_context: ssl.SSLContext | None) -> TrioBackend:
        return TrioBackend(ssl_context)

    def make_runtime(self) -> Runtime:
        # trio's clock, so that timeouts follow trio.testing's autojump clock in tests.
        return Runtime(trio.current_time, _random, time.time)
