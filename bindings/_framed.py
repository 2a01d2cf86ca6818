"""The request loop over an HTTP stack that frames HTTP itself (httpx, aiohttp): the
framed door of :class:`~libchatty.call.Call` driven by the one policy of
:class:`~libchatty.bindings._exchange.Exchange`.

:class:`FramedExchange` is the :class:`Exchange` (retries, the streaming fallback,
connect/idle/stall/total timeouts, the body loop, typed errors: inherited unchanged)
with another way to send and feed: instead of a connection it asks for the stack's
response (:class:`~libchatty.bindings._ops.SendRequest` -> a :class:`Response`), feeds
``call.receive_head``, reads the decoded body piece by piece
(:class:`~libchatty.bindings._ops.Receive` on the response, ``b""`` at its end, None
when cut short) into ``call.receive_body`` and ends with ``call.receive_end``.
Connection pooling, HTTP/2, proxies and TLS are the stack's: libchatty's
:class:`~libchatty.bindings._pool.Pool` is not used.

A :class:`Response` is the loop's connection (:class:`~libchatty.bindings._ops.Conn`):
``abort()`` releases it synchronously from any state. A stack whose release must be
awaited (httpx's ``AsyncClient``) starts it there and finishes it in its backend's
``settle()``, which :func:`~libchatty.bindings._runners.adrive` awaits when the loop
is over.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from libchatty.call import Call
from libchatty.callhead import HTTPRequest
from libchatty.events import Event

from . import _log
from ._exchange import Exchange
from ._ops import ConnectFailure, IOFailure, Op, SendRequest
from ._runners import AsyncBackend, SyncBackend
from ._transport import ExceptionTable, map_exceptions

if TYPE_CHECKING:
    import ssl

    from ._ops import Conn

__all__ = [
    "FramedAsyncBackend",
    "FramedExchange",
    "FramedSyncBackend",
    "Response",
    "sending",
    "verify",
    "where",
]


class Response(Protocol):
    """A response whose head has arrived: ``status``, ``headers`` (anything
    :meth:`Call.receive_head` takes), and ``abort()``: release it now (the stack keeps
    the connection only when the body was read to its end)."""

    status: int
    headers: Any

    def abort(self) -> None: ...


@contextmanager
def sending(connect_errors: ExceptionTable, errors: ExceptionTable, where: str) -> Iterator[None]:
    """Map the exceptions of sending a request: ``connect_errors`` (the stack's "could
    not connect") to :class:`ConnectFailure`, the rest of ``errors`` to
    :class:`IOFailure`."""
    with map_exceptions(errors, "sending the request"):
        try:
            with map_exceptions(connect_errors, f"connecting to {where}"):
                yield
        except IOFailure as exc:
            if type(exc) is IOFailure:
                raise ConnectFailure.of(exc) from None
            raise


def where(request: HTTPRequest) -> str:
    """``host[:port]`` of ``request``, for messages (never a URL's credentials)."""
    from urllib.parse import urlsplit

    return urlsplit(request.url).netloc.rpartition("@")[2]


def verify(options: Mapping[str, Any]) -> ssl.SSLContext | bool:
    """The TLS verification a stack's client made here is given: the ``ssl_context``
    option, else its own default (verified, system CAs)."""
    context: ssl.SSLContext | None = options.get("ssl_context")
    return True if context is None else context


# --- the backends: the two framed operations and a sleep ---------------------------------


def _not_raw(*_: Any) -> Any:
    raise TypeError("a framed backend has no raw connections")


class FramedSyncBackend(SyncBackend):
    """Blocking framed I/O: :meth:`send_request`, :meth:`receive` (of a
    :class:`Response`'s body), :meth:`sleep`. The raw operations are refused."""

    connect = start_tls = send = probe = _not_raw  # type: ignore[assignment]

    @abstractmethod
    def send_request(
        self, request: HTTPRequest, connect: float | None, read: float | None
    ) -> Response: ...

    @abstractmethod
    def receive(self, conn: Any, timeout: float | None) -> bytes | None: ...


class FramedAsyncBackend(AsyncBackend):
    """:class:`FramedSyncBackend` with ``await``, and :meth:`settle`."""

    connect = start_tls = send = probe = _not_raw  # type: ignore[assignment]

    @abstractmethod
    async def send_request(
        self, request: HTTPRequest, connect: float | None, read: float | None
    ) -> Response: ...

    @abstractmethod
    async def receive(self, conn: Any, timeout: float | None) -> bytes | None: ...


# --- the loop ------------------------------------------------------------------------------


class FramedExchange(Exchange):
    """:class:`Exchange` over a framing stack; see the module docstring. ``pool`` is
    not used (the stack pools its connections)."""

    def _send(
        self, call: Call, reuse: bool
    ) -> Generator[Op, Any, tuple[list[Event] | None, bool]]:
        timeout = self.config.timeout
        stall = timeout.stall if call.request.stream else None
        http_request = call.http_request()
        _log.debug("request %s (provider %s)", http_request.method,
                   self.config.provider or self.config.endpoint.dialect)
        # The head's read waits no longer than the stall timer, which starts with it.
        read = self._timeout(_least(timeout.idle, stall))
        response: Response = yield SendRequest(http_request, self._timeout(timeout.connect), read)
        self._conn = response
        self.requests += 1
        return call.receive_head(response.status, response.headers), False

    def _receiver(self, call: Call) -> Callable[[bytes], list[Event]]:
        return call.receive_body

    def _end(self, call: Call, data: bytes | None) -> list[Event]:
        return call.receive_end(data is not None)

    def _release(self, call: Call, conn: Conn) -> None:
        self._drop()  # the stack keeps the connection when the body was read to its end


def _least(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None or a < b else b
