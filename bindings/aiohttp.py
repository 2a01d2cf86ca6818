"""libchatty over aiohttp: ``AsyncClient`` over an ``aiohttp.ClientSession``.

::

    import aiohttp
    from libchatty.bindings.aiohttp import AsyncClient

    async with aiohttp.ClientSession() as session:
        client = AsyncClient("openai", session=session)
        answer = await client.chat("Say hi", "gpt-4o-mini")

The API is the other async bindings' (``chat``, ``stream``, callbacks, :data:`STOP`,
``ChatError``, retries, fallback, timeouts; see :mod:`libchatty.bindings.trio`), plus
``session=``: your session, with its connector, proxies, TLS, tracing and middlewares,
used as it is and never closed by libchatty (one made here, when none is given -- inside
a running loop, at the first call -- is closed by ``aclose()``). Connections are pooled
by aiohttp. Each request carries the connect timeout and the idle timeout (aiohttp's
``sock_connect``/``sock_read``, the latter for the head only: the body's is one lazy
timer per response); a read is further cut to the stall and total deadlines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from time import monotonic
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from libchatty.callhead import HTTPRequest

from ._api import STOP, Completion, MissingAPIKeyError, Timeout
from ._async_client import AsyncClientBase
from ._framed import FramedAsyncBackend, FramedExchange, Memo, Response, sending
from ._transport import ExceptionTable

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Unpack

    from ._config import ClientOptions

__all__ = ["STOP", "AsyncClient", "Completion", "MissingAPIKeyError", "Timeout"]

_CONNECT_ERRORS: Final[ExceptionTable] = {
    aiohttp.ConnectionTimeoutError: "timeout",
    aiohttp.ClientConnectorError: "connection",
}
_ERRORS: Final[ExceptionTable] = {
    TimeoutError: "timeout",  # aiohttp's ServerTimeoutError is one, as is asyncio's
    aiohttp.ClientError: "connection",
    OSError: "connection",
}


class _Response(Response):
    """An aiohttp response, whose body's idle timeout (``read``) is a lazy timer.

    aiohttp's own (``sock_read``) makes a timer handle per piece of the body -- created,
    pushed on the loop's heap, cancelled -- the largest cost of a read. It bounds the
    wait for the head only; then a read notes when it started and the body's byte count,
    and one timer, armed at most once per ``read`` seconds, fails the reads
    (``TimeoutError``) once no byte has come for ``read`` seconds since a read started."""

    __slots__ = ("content", "count", "response", "started", "timer")

    ends_with_empty = True  # readany() answers b"" at the end

    def __init__(self, response: aiohttp.ClientResponse, read: float | None) -> None:
        # The head as received, bytes pairs: what Call.receive_head reads without decoding.
        super().__init__(response.status, response.raw_headers, self._read_piece, read)
        self.response = response
        self.content = response.content
        self.count = 0  # the body's bytes when the last read started
        self.started = monotonic()  # when it started
        self.timer: asyncio.TimerHandle | None = None
        connection = response.connection
        protocol = None if connection is None else connection.protocol
        if read is not None and protocol is not None:
            protocol.read_timeout = None  # from the next piece on: see the class docstring
            self.timer = asyncio.get_running_loop().call_later(read, self._check)

    def _read_piece(self) -> Awaitable[bytes]:
        content = self.content
        self.count = content.total_bytes
        self.started = monotonic()
        return content.readany()  # b"" at the end

    def _check(self) -> None:
        read = self.read
        assert read is not None
        content = self.content
        left = self.started + read - monotonic()
        if content.is_eof():  # the whole body has come: nothing left to wait for
            self.timer = None
            return
        if content.total_bytes != self.count:  # bytes came: the next read's turn
            left = read
        elif left <= 0:  # and the last read took them all: nothing unread is lost
            self.timer = None
            content.set_exception(TimeoutError("no data within the read timeout"))
            return
        self.timer = asyncio.get_running_loop().call_later(left, self._check)

    def ready(self) -> bool:
        return self.content.is_eof()  # what is left is buffered: readany() returns at once

    def abort(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        # Synchronous in aiohttp: back to the pool when the body was read to its end,
        # else the connection is closed.
        if self.content.at_eof():
            self.response.release()
        else:
            self.response.close()


def _client_timeout(timeouts: tuple[float | None, float | None]) -> aiohttp.ClientTimeout:
    connect, read = timeouts
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read,
                                 connect=connect)


class AiohttpBackend(FramedAsyncBackend):
    cut_short = aiohttp.ClientPayloadError  # the peer cut the body short
    read_errors = _ERRORS

    def __init__(self, session: aiohttp.ClientSession | None, ssl: Any) -> None:
        self.session = session
        self.ssl = ssl
        # An attrs class, frozen: made once while the timeouts stay the same.
        self._timeout = Memo(_client_timeout)

    async def send_request(self, request: HTTPRequest, connect: float | None,
                           read: float | None) -> _Response:
        session = self.session
        if session is None:  # made here, in the running loop, at the first call
            session = self.session = aiohttp.ClientSession()
        with sending(_CONNECT_ERRORS, _ERRORS, request):
            response = await session.request(
                request.method, request.url, headers=request.headers, data=request.body,
                timeout=self._timeout((connect, read)), allow_redirects=False, ssl=self.ssl,
            )
        return _Response(response, read)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class AsyncClient(AsyncClientBase):
    """A chat client over an ``aiohttp.ClientSession``; see the module docstring."""

    exchange_type = FramedExchange

    def __init__(self, provider: str | None = None, *,
                 session: aiohttp.ClientSession | None = None,
                 **options: Unpack[ClientOptions]) -> None:
        self._own = session is None
        self._session = session
        super().__init__(provider, **options)

    def make_backend(self, ssl_context: ssl.SSLContext | None) -> AiohttpBackend:
        return AiohttpBackend(self._session, True if ssl_context is None else ssl_context)

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session in use (None until the first call when this client makes it)."""
        backend: AiohttpBackend = self.backend  # type: ignore[assignment]
        return backend.session

    async def aclose(self) -> None:
        """Close the session if this client made it."""
        session = self.session
        if self._own and session is not None:
            await session.close()
