"""libchatty over httpx: ``Client`` over an ``httpx.Client``, ``AsyncClient`` over an
``httpx.AsyncClient`` (asyncio or trio) -- with HTTP/2 when that client has it.

::

    import httpx
    from libchatty.bindings.httpx import AsyncClient

    async with AsyncClient("openai", http_client=httpx.AsyncClient(http2=True)) as client:
        answer = await client.chat("Say hi", "gpt-4o-mini")

The API is the other bindings' (``chat``, ``stream``, callbacks, :data:`STOP`,
``ChatError``, retries, fallback, timeouts; see :mod:`libchatty.bindings.blocking`),
plus ``http_client=``: your client, with its proxies, mTLS, auth hooks, event hooks and
tracing, used as it is and never closed by libchatty (one made here, when none is
given, is closed by ``close()``/``aclose()``). Connections are pooled by httpx.

httpx fixes a response's read timeout when it is sent: the connect timeout and the
idle timeout (cut to the stall and to what is left of the total) go with the request.
``AsyncClient`` also cuts each read to the stall and total deadlines; the blocking
``Client`` checks them between reads (a read waits at most that fixed timeout).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final

import httpx

from libchatty.callhead import HTTPRequest

from ._api import STOP, Completion, Messages, MissingAPIKeyError, Timeout
from ._async_client import AsyncClientBase
from ._exchange import Exchange
from ._framed import FramedAsyncBackend, FramedExchange, FramedSyncBackend, sending
from ._transport import ExceptionTable, map_exceptions
from .blocking import Client as _BlockingClient

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping

    from typing_extensions import Unpack

    from ._config import ClientOptions

__all__ = ["STOP", "AsyncClient", "Client", "Completion", "MissingAPIKeyError", "Timeout"]

_CONNECT_ERRORS: Final[ExceptionTable] = {
    httpx.ConnectTimeout: "timeout",
    httpx.PoolTimeout: "timeout",
    httpx.ConnectError: "connection",
}
_ERRORS: Final[ExceptionTable] = {
    httpx.TimeoutException: "timeout",
    httpx.RequestError: "connection",  # transport, proxy, decoding errors
}
_READ_ERRORS: Final[ExceptionTable] = {TimeoutError: "timeout", **_ERRORS}  # + anyio's
# Seconds allowed for releasing a dropped async response (an HTTP/2 stream reset, a close).
_RELEASE_TIMEOUT: Final = 5.0


def _timeouts(connect: float | None, read: float | None) -> httpx.Timeout:
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def _build(http_client: httpx.Client | httpx.AsyncClient, request: HTTPRequest,
           connect: float | None, read: float | None) -> httpx.Request:
    return http_client.build_request(
        request.method, request.url, headers=request.headers, content=request.body,
        timeout=_timeouts(connect, read),
    )


class _Response:
    """A streamed httpx response, as the loop's connection."""

    __slots__ = ("chunks", "dropped", "headers", "read", "response", "status")

    def __init__(self, response: httpx.Response, chunks: Any, read: float | None,
                 dropped: list[httpx.Response] | None = None) -> None:
        self.response = response
        self.status = response.status_code
        self.headers = response.headers
        self.chunks = chunks
        self.read = read
        self.dropped = dropped

    def abort(self) -> None:
        if self.dropped is None:
            self.response.close()  # closes an unfinished HTTP/1.1 connection, resets a h2 stream
        else:
            self.dropped.append(self.response)  # awaited in settle()


class HttpxBackend(FramedSyncBackend):
    def __init__(self, http_client: httpx.Client) -> None:
        self.http_client = http_client

    def send_request(self, request: HTTPRequest, connect: float | None,
                     read: float | None) -> _Response:
        with sending(_CONNECT_ERRORS, _ERRORS, _where(request)):
            response = self.http_client.send(
                _build(self.http_client, request, connect, read), stream=True
            )
        return _Response(response, response.iter_bytes(), read)

    def receive_body(self, response: _Response, timeout: float | None) -> bytes | None:
        with map_exceptions(_ERRORS, "reading"):
            try:
                return next(response.chunks, b"")
            except httpx.RemoteProtocolError:  # the peer cut the body short
                return None

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(seconds)


class AsyncHttpxBackend(FramedAsyncBackend):
    def __init__(self, http_client: httpx.AsyncClient) -> None:
        self.http_client = http_client
        self.dropped: list[httpx.Response] = []

    async def send_request(self, request: HTTPRequest, connect: float | None,
                           read: float | None) -> _Response:
        with sending(_CONNECT_ERRORS, _ERRORS, _where(request)):
            response = await self.http_client.send(
                _build(self.http_client, request, connect, read), stream=True
            )
        return _Response(response, response.aiter_bytes(), read, self.dropped)

    async def receive_body(self, response: _Response, timeout: float | None) -> bytes | None:
        with map_exceptions(_READ_ERRORS, "reading"):
            try:
                if timeout is None or (response.read is not None and timeout >= response.read):
                    return await anext(response.chunks, b"")  # httpx's own read timeout
                import anyio

                with anyio.fail_after(timeout):  # the stall or total deadline is nearer
                    return await anext(response.chunks, b"")
            except httpx.RemoteProtocolError:  # the peer cut the body short
                return None

    async def sleep(self, seconds: float) -> None:
        import anyio

        await anyio.sleep(seconds)

    async def settle(self) -> None:
        dropped = self.dropped
        if not dropped:
            return
        import anyio

        while dropped:
            response = dropped.pop()
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(_RELEASE_TIMEOUT),
                contextlib.suppress(httpx.HTTPError, OSError),  # broken: nothing to release
            ):
                await response.aclose()


def _where(request: HTTPRequest) -> str:
    return httpx.URL(request.url).netloc.decode("ascii", "replace")


class Client(_BlockingClient):
    """A chat client over an ``httpx.Client``; see the module docstring."""

    def __init__(self, provider: str | None = None, *, http_client: httpx.Client | None = None,
                 **options: Unpack[ClientOptions]) -> None:
        self._own = http_client is None
        self.http_client = http_client or httpx.Client(verify=_verify(options), timeout=None)
        super().__init__(provider, **options)

    def make_backend(self, ssl_context: ssl.SSLContext | None) -> HttpxBackend:
        return HttpxBackend(self.http_client)

    def exchange(self, messages: Messages, model: str, stream: bool,
                 options: Mapping[str, Any]) -> Exchange:
        return _framed(super().exchange(messages, model, stream, options))

    def close(self) -> None:
        """Close the ``httpx.Client`` if this client made it."""
        if self._own:
            self.http_client.close()


class AsyncClient(AsyncClientBase):
    """A chat client over an ``httpx.AsyncClient``; see the module docstring."""

    def __init__(self, provider: str | None = None, *,
                 http_client: httpx.AsyncClient | None = None,
                 **options: Unpack[ClientOptions]) -> None:
        self._own = http_client is None
        self.http_client = http_client or httpx.AsyncClient(verify=_verify(options), timeout=None)
        super().__init__(provider, **options)

    def make_backend(self, ssl_context: ssl.SSLContext | None) -> AsyncHttpxBackend:
        return AsyncHttpxBackend(self.http_client)

    def exchange(self, messages: Messages, model: str, stream: bool,
                 options: Mapping[str, Any]) -> Exchange:
        return _framed(super().exchange(messages, model, stream, options))

    async def aclose(self) -> None:
        """Close the ``httpx.AsyncClient`` if this client made it."""
        if self._own:
            await self.http_client.aclose()


def _verify(options: Mapping[str, Any]) -> ssl.SSLContext | bool:
    context: ssl.SSLContext | None = options.get("ssl_context")
    return True if context is None else context


def _framed(exchange: Exchange) -> FramedExchange:
    """The client shell's exchange, as a :class:`FramedExchange`: the same state (the
    subclass adds none), only its attempt differs. Swapping the class keeps everything
    the shell put in it, whatever that grows to."""
    exchange.__class__ = FramedExchange
    return exchange  # type: ignore[return-value]
