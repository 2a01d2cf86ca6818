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

The reads are written here once: a stack's backend names its exceptions
(``cut_short``, ``read_errors``), sends the request and, when async, cuts a read to a
deadline (``within``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from libchatty.call import Call
from libchatty.callhead import HTTPRequest
from libchatty.events import Event

from . import _log
from ._exchange import Exchange
from ._ops import ConnectFailure, Op, Receive, SendRequest
from ._runners import AsyncBackend, SyncBackend
from ._transport import ExceptionTable, io_failure, map_exceptions

if TYPE_CHECKING:
    from ._ops import Conn

__all__ = [
    "FramedAsyncBackend",
    "FramedExchange",
    "FramedSyncBackend",
    "Response",
    "sending",
]


class Response(ABC):
    """A response whose head has arrived, as the loop's connection: ``status``,
    ``headers`` (anything :meth:`Call.receive_head` takes), ``next_piece`` (the stack's
    read of the next piece of the decoded body: ``b""`` or ``StopIteration`` /
    ``StopAsyncIteration`` at its end; awaitable for an async stack) and ``read`` (the
    seconds the stack allows each read by itself, fixed when the request was sent; None:
    no limit)."""

    __slots__ = ("headers", "next_piece", "read", "status")

    def __init__(
        self, status: int, headers: Any, next_piece: Callable[[], Any], read: float | None
    ) -> None:
        self.status = status
        self.headers = headers
        self.next_piece = next_piece
        self.read = read

    @abstractmethod
    def abort(self) -> None:
        """Release it now, synchronously, from any state (the stack keeps the
        connection only when the body was read to its end)."""


@contextmanager
def sending(
    connect_errors: ExceptionTable, errors: ExceptionTable, request: HTTPRequest
) -> Iterator[None]:
    """Map the exceptions of sending ``request``: ``connect_errors`` (the stack's "could
    not connect") to :class:`ConnectFailure`, the rest of ``errors`` to
    :class:`IOFailure`."""
    with map_exceptions(errors, "sending the request"):
        try:
            yield
        except tuple(connect_errors) as exc:
            failure = io_failure(connect_errors, exc, f"connecting to {_where(request)}")
            raise ConnectFailure.of(failure) from None


def _where(request: HTTPRequest) -> str:
    """``host[:port]`` of ``request``, for messages (never a URL's credentials)."""
    from urllib.parse import urlsplit

    return urlsplit(request.url).netloc.rpartition("@")[2]


# --- the backends: the two framed operations and a sleep ---------------------------------


def _not_raw(*_: Any) -> Any:
    raise TypeError("a framed backend has no raw connections")


class _FramedReads:
    """What a framed backend's reads have in common: the stack's exceptions."""

    #: The stack's exception for a body the peer ended before its framing said (closed
    #: mid-chunk, reset the HTTP/2 stream): the read answers None.
    cut_short: ClassVar[type[Exception]]
    #: The stack's read failures, as :class:`IOFailure` kinds.
    read_errors: ClassVar[ExceptionTable]

    def _raise_read_failure(self, exc: BaseException) -> None:
        """Raise ``exc`` as an :class:`IOFailure`, unless it says that the peer cut the
        body short (the read then answers None)."""
        if not isinstance(exc, self.cut_short):
            raise io_failure(self.read_errors, exc, "reading") from None


class FramedSyncBackend(_FramedReads, SyncBackend):
    """Blocking framed I/O: :meth:`send_request`, :meth:`receive` (of a
    :class:`Response`'s body), :meth:`sleep`. The raw operations are refused."""

    connect = start_tls = send = probe = _not_raw  # type: ignore[assignment]

    @abstractmethod
    def send_request(
        self, request: HTTPRequest, connect: float | None, read: float | None
    ) -> Response: ...

    def receive(self, conn: Response, timeout: float | None) -> bytes | None:
        # The stack's own read timeout; the loop checks its deadlines between reads.
        try:
            return conn.next_piece()  # type: ignore[no-any-return]
        except StopIteration:
            return b""
        except tuple(self.read_errors) as exc:  # try/except: cheaper than a context manager
            self._raise_read_failure(exc)
            return None


class FramedAsyncBackend(_FramedReads, AsyncBackend):
    """:class:`FramedSyncBackend` with ``await``, :meth:`settle`, and :meth:`within`."""

    connect = start_tls = send = probe = _not_raw  # type: ignore[assignment]

    @abstractmethod
    async def send_request(
        self, request: HTTPRequest, connect: float | None, read: float | None
    ) -> Response: ...

    def perform(self, op: Op) -> Coroutine[Any, Any, Any]:
        # A read is its own coroutine, not one inside perform's: every wake-up of a
        # waiting read passes through each frame of the await chain.
        if type(op) is Receive:
            return self.receive(op.conn, op.timeout)  # type: ignore[arg-type]  # a Response
        return super().perform(op)

    @abstractmethod
    async def within(self, piece: Awaitable[bytes], timeout: float) -> bytes:
        """``await piece``, in at most ``timeout`` seconds (else the stack's or the event
        loop's ``TimeoutError``, one of :attr:`read_errors`)."""

    async def receive(self, conn: Response, timeout: float | None) -> bytes | None:
        try:
            if timeout is None or (conn.read is not None and timeout >= conn.read):
                return await conn.next_piece()  # type: ignore[no-any-return]
            # The stall or total deadline is nearer than the stack's own read timeout.
            return await self.within(conn.next_piece(), timeout)
        except StopAsyncIteration:
            return b""
        except tuple(self.read_errors) as exc:
            self._raise_read_failure(exc)
            return None

    # A framed stack never rests between reads: the read after a delivery is the same
    # read, called by the relay itself (one frame less per piece than the default's).
    receive_next = receive


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
