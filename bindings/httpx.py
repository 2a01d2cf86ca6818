"""libchatty over httpx: ``Client`` over an ``httpx.Client``, ``AsyncClient`` over an
``httpx.AsyncClient`` (asyncio or trio) -- with HTTP/2 when that client has it.

::

    import httpx
    from libchatty.bindings.httpx import AsyncClient

    async with AsyncClient("openai", http_client=httpx.AsyncClient(http2=True)) as client:
        answer = await client.chat("Say hi", "gpt-4o-mini")

The API is the other bindings' (see :mod:`libchatty.bindings.blocking`), plus
``http_client=``: yours, with its proxies, mTLS, hooks and tracing, used as it is and
never closed by libchatty (one made here, when none is given, is closed by
``close()``/``aclose()``). Connections are pooled by httpx.

httpx fixes a response's read timeout when it is sent: the idle timeout (cut to the
stall and the total) goes with the request. ``AsyncClient`` also cuts each read to the
stall and total deadlines; ``Client`` checks them between reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import httpx

from libchatty.callhead import HTTPRequest

from ._api import STOP, Completion, MissingAPIKeyError, Timeout
from ._async_client import AsyncClientBase
from ._framed import FramedAsyncBackend, FramedExchange, FramedSyncBackend, Memo, Response, sending
from ._transport import ExceptionTable
from .blocking import Client as _BlockingClient

if TYPE_CHECKING:
    import ssl

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


def _verify(options: ClientOptions) -> ssl.SSLContext | bool:
    """``verify=`` for an httpx client made here: ``ssl_context``, else verified, system CAs."""
    return options.get("ssl_context") or True  # an SSLContext is always true


class _Requests:
    """Builds the httpx requests of one client: the URL and headers, which httpx parses
    and checks anew for each request, are made once while they stay the same, and the
    timeouts are the dict ``httpx.Timeout(...).as_dict()`` would be (built twice by httpx)."""

    def __init__(self, http_client: httpx.Client | httpx.AsyncClient) -> None:
        self.http_client = http_client
        self._url, self._headers = Memo(httpx.URL), Memo(httpx.Headers)

    def _build(self, request: HTTPRequest, connect: float | None,
               read: float | None) -> httpx.Request:
        timeout = {"connect": connect, "read": read, "write": read, "pool": connect}
        return self.http_client.build_request(
            request.method, self._url(request.url), headers=self._headers(request.headers),
            content=request.body, extensions={"timeout": timeout},
        )


class _Response(Response):
    """A streamed httpx response (``next_piece``: the next of its ``iter_bytes()``, or
    ``aiter_bytes()``)."""

    __slots__ = ("dropped", "response")

    def __init__(self, response: httpx.Response, next_piece: Callable[[], Any],
                 read: float | None, dropped: list[httpx.Response] | None = None) -> None:
        # The head as received, bytes pairs: what Call.receive_head reads without decoding.
        super().__init__(response.status_code, response.headers.raw, next_piece, read)
        self.response, self.dropped = response, dropped

    def abort(self) -> None:
        if self.dropped is None:
            self.response.close()  # closes an unfinished HTTP/1.1 connection, resets a h2 stream
        elif not self.response.is_closed:  # read to its end, httpx closed it: nothing to await
            self.dropped.append(self.response)  # awaited in settle()


class HttpxBackend(_Requests, FramedSyncBackend):
    cut_short = httpx.RemoteProtocolError  # the peer cut the body short
    read_errors = _READ_ERRORS
    http_client: httpx.Client

    def send_request(self, request: HTTPRequest, connect: float | None,
                     read: float | None) -> _Response:
        with sending(_CONNECT_ERRORS, _ERRORS, request):
            response = self.http_client.send(self._build(request, connect, read), stream=True)
        return _Response(response, response.iter_bytes().__next__, read)

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(seconds)


class AsyncHttpxBackend(_Requests, FramedAsyncBackend):
    cut_short = httpx.RemoteProtocolError
    read_errors = _READ_ERRORS
    anyio = True  # asyncio or trio, whichever runs httpx
    http_client: httpx.AsyncClient

    def __init__(self, http_client: httpx.AsyncClient) -> None:
        super().__init__(http_client)
        self.dropped: list[httpx.Response] = []

    async def send_request(self, request: HTTPRequest, connect: float | None,
                           read: float | None) -> _Response:
        with sending(_CONNECT_ERRORS, _ERRORS, request):
            response = await self.http_client.send(self._build(request, connect, read), stream=True)
        return _Response(response, response.aiter_bytes().__anext__, read, self.dropped)

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


class Client(_BlockingClient):
    """A chat client over an ``httpx.Client``; see the module docstring."""

    exchange_type = FramedExchange

    def __init__(self, provider: str | None = None, *, http_client: httpx.Client | None = None,
                 **options: Unpack[ClientOptions]) -> None:
        self._own = http_client is None
        self.http_client = http_client or httpx.Client(verify=_verify(options), timeout=None)
        super().__init__(provider, **options)

    def make_backend(self, ssl_context: ssl.SSLContext | None) -> HttpxBackend:
        return HttpxBackend(self.http_client)

    def close(self) -> None:
        """Close the ``httpx.Client`` if this client made it."""
        if self._own:
            self.http_client.close()


class AsyncClient(AsyncClientBase):
    """A chat client over an ``httpx.AsyncClient``; see the module docstring."""

    exchange_type = FramedExchange

    def __init__(self, provider: str | None = None, *,
                 http_client: httpx.AsyncClient | None = None,
                 **options: Unpack[ClientOptions]) -> None:
        self._own = http_client is None
        self.http_client = http_client or httpx.AsyncClient(verify=_verify(options), timeout=None)
        super().__init__(provider, **options)

    def make_backend(self, ssl_context: ssl.SSLContext | None) -> AsyncHttpxBackend:
        return AsyncHttpxBackend(self.http_client)

    async def aclose(self) -> None:
        """Close the ``httpx.AsyncClient`` if this client made it."""
        if self._own:
            await self.http_client.aclose()
