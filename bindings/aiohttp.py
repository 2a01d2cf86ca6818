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
``sock_connect``/``sock_read``); a read is further cut to the stall and total deadlines.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from libchatty.callhead import HTTPRequest

from ._api import STOP, Completion, MissingAPIKeyError, Timeout
from ._async_client import AsyncClientBase
from ._framed import FramedAsyncBackend, FramedExchange, sending, where
from ._transport import ExceptionTable, io_failure

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
# Caught around each read with try/except (cheaper per read than a context manager).
_CAUGHT: Final = tuple(_ERRORS)


class _Response:
    """An aiohttp response, as the loop's connection."""

    __slots__ = ("headers", "read", "response", "status")

    def __init__(self, response: aiohttp.ClientResponse, read: float | None) -> None:
        self.response = response
        self.status = response.status
        self.headers = response.headers
        self.read = read

    def abort(self) -> None:
        # Synchronous in aiohttp: back to the pool when the body was read to its end,
        # else the connection is closed.
        if self.response.content.at_eof():
            self.response.release()
        else:
            self.response.close()


class AiohttpBackend(FramedAsyncBackend):
    def __init__(self, session: aiohttp.ClientSession | None, ssl: Any) -> None:
        self.session = session
        self.ssl = ssl

    async def send_request(self, request: HTTPRequest, connect: float | None,
                           read: float | None) -> _Response:
        session = self.session
        if session is None:  # made here, in the running loop, at the first call
            session = self.session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read,
                                        connect=connect)
        with sending(_CONNECT_ERRORS, _ERRORS, where(request)):
            response = await session.request(
                request.method, request.url, headers=request.headers, data=request.body,
                timeout=timeout, allow_redirects=False, ssl=self.ssl,
            )
        return _Response(response, read)

    async def receive(self, conn: _Response, timeout: float | None) -> bytes | None:
        try:
            if timeout is None or (conn.read is not None and timeout >= conn.read):
                return await conn.response.content.readany()  # aiohttp's own sock_read
            # The stall or total deadline is nearer than aiohttp's own read timeout.
            return await asyncio.wait_for(conn.response.content.readany(), timeout)
        except aiohttp.ClientPayloadError:  # the peer cut the body short
            return None
        except _CAUGHT as exc:
            raise io_failure(_ERRORS, exc, "reading") from None

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
